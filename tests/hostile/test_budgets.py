"""Hostile inputs, "a time budget bounds every symbolic step a user can trigger".

For every theory module that simplifies, integrates, solves or takes limits of user expressions:
one genuinely slow input (SymPy grinds on it for well over ten seconds without a budget) with a
budget of 1–2 s. The call must come back within the budget plus a few seconds of slack, either
with the documented exact fallback (the unsimplified expression, an unevaluated ``Integral`` or
``Limit``, a numeric spot-check) or with a :class:`theory.budget.SymbolicTimeoutError` that names
the step — and nothing may keep computing afterwards (the interrupted SymPy search is stopped,
not abandoned in a thread). The mechanism itself is tested in ``tests/theory/test_budget.py``.
"""
from __future__ import annotations

import time

import mpmath
import pytest
import sympy as sp

from theory.budget import SymbolicTimeoutError

SLACK = 3.0  # seconds beyond the budget: unwinding, the cheap steps after a fallback, a loaded CI

x, y, a, b, c, d = sp.symbols("x y a b c d", real=True)
T = sp.Symbol("T", positive=True)


def slow(u, v, n: int = 4) -> sp.Expr:
    """``sympy.simplify`` of this takes far longer than a minute (n = 4; n = 3 about 7 s)."""
    return sp.Add(*[sp.sin(k * u + v) ** 2 * sp.exp(sp.cos(k * v)) / (1 + sp.cosh(k * u))
                    for k in range(1, n + 1)])


def slow_rewritten(u, v, n: int = 4) -> sp.Expr:
    """``slow`` with sin² written as (1 − cos 2·)/2: the difference is identically 0."""
    return sp.Add(*[(1 - sp.cos(2 * k * u + 2 * v)) / 2 * sp.exp(sp.cos(k * v)) / (1 + sp.cosh(k * u))
                    for k in range(1, n + 1)])


def _run(fn):
    """(result or SymbolicTimeoutError, elapsed wall seconds)."""
    start = time.monotonic()
    try:
        out = fn()
    except SymbolicTimeoutError as exc:
        out = exc
    return out, time.monotonic() - start


def _assert_nothing_keeps_computing():
    cpu = time.process_time()
    time.sleep(1.0)
    assert time.process_time() - cpu < 0.3


# --------------------------------------------------------------------------------------------
# The cases: (call, budget, check of the outcome). Each case uses its own symbols, so no case
# can profit from another's SymPy cache.
# --------------------------------------------------------------------------------------------
def _identity_check_zero():
    from theory.identity import check_zero
    return check_zero(slow(x, y) - slow_rewritten(x, y), points=2, budget_s=2.0)


def _check_identity_falls_back_to_the_spot_check(res):
    assert not isinstance(res, Exception)
    assert res.holds and not res.exact and res.numeric  # decided by the spot-check, not refuted
    assert any("time budget" in n for n in res.notes)


def _identity_cached_simplify():
    from theory.identity import cached_simplify
    return cached_simplify(slow(a, y), budget_s=1.0)


def _identity_is_zero():
    from theory.identity import is_zero
    return is_zero(slow(b, y) - slow_rewritten(b, y), budget_s=1.0)


def _paper_form_isotropic():
    from theory.effective_potential import isotropic_potential_printed
    return isotropic_potential_printed(sp.atan(x) ** 3, 2 + sp.cos(x), x, T, budget_s=1.0)


def _check_paper_form_isotropic(v):
    assert isinstance(v, sp.Expr) and v.has(sp.Integral)
    # exact: ∫_0^1 3 atan(s)²/((1 + s²)(2 + cos s)) ds by mpmath quadrature
    ref = mpmath.quad(lambda s: 3 * mpmath.atan(s) ** 2 / ((1 + s**2) * (2 + mpmath.cos(s))), [0, 1])
    got = complex(sp.N(v.subs({x: 1, T: 0}), 20))
    assert abs(got - complex(ref)) < 1e-12


def _laplace_mixture_fallback():
    from theory.laplace import gaussian_mixture
    return gaussian_mixture((x - 1) ** 2 * (1 + slow(a, c)), x, [1], T, budget_s=1.0)


def _laplace_mixture_gradient_check():
    from theory.laplace import gaussian_mixture
    return gaussian_mixture(x * slow(b, c) + x**2, x, [0], T, budget_s=1.0)


def _laplace_leading_order_covariance():
    from theory.laplace import leading_order_covariance
    off = slow(a, d)
    return leading_order_covariance(sp.Matrix([[1, off], [off, 2]]), sp.diag(1, 2), T, budget_s=1.0)


def _escape_positive_part():
    from theory.escape import positive_part
    return positive_part(sp.Matrix([[2, 1, 0, 0], [1, 3, 1, 0], [0, 1, -1, 1], [0, 0, 1, 1]]), budget_s=1.0)


def _km_limit():
    from theory.kramers_moyal import k_step_limit_cumulants
    return k_step_limit_cumulants({(1,): slow(x, b), (2,): slow(x, b) ** 2}, 3, budget_s=2.0)


def _check_km_limit(out):
    from theory.kramers_moyal import k_step_sum_cumulants
    K = sp.Symbol("K", positive=True, integer=True)
    finite = k_step_sum_cumulants({(1,): slow(x, b), (2,): slow(x, b) ** 2}, K, 3)
    assert set(out) == set(finite)
    for g, v in out.items():  # each entry: the limit, or the exact unevaluated Limit of the K-term
        if isinstance(v, sp.Limit):
            assert v.args[0] == finite[g] and v.args[1] == K and v.args[2] == sp.oo
    assert any(isinstance(v, sp.Limit) for v in out.values())


def _km_zero_entry():
    from theory.kramers_moyal import cumulants_from_moments
    return cumulants_from_moments({(0,): 1 + slow(y, c) - slow_rewritten(y, c), (1,): x}, 2, budget_s=1.0)


def _overparametrized_flat_directions():
    from theory.overparametrized import flat_directions
    return flat_directions(slow(y, d), sp.diag(1, 0), [y, x], budget_s=1.0)


def _test_loss_effective_sample_size():
    from theory.shift_curvature import effective_sample_size
    return effective_sample_size(1 + slow(c, d) ** 2, 2, budget_s=1.0)


def _check_effective_sample_size(n):
    assert n == 2 / (1 / (1 + slow(c, d) ** 2) + sp.Rational(1, 2))  # unsimplified, exact


def _test_loss_range_projector():
    from theory.shift_curvature import range_projector
    return range_projector(sp.Matrix([[slow(b, d), 1], [1, slow(d, b)]]), budget_s=1.0)


def _raises(*words):
    def check(out):
        assert isinstance(out, SymbolicTimeoutError), out
        msg = str(out)
        assert "budget_s" in msg  # says what to change
        for w in words:
            assert w in msg, msg
    return check


def _returns_input(expected_fn):
    def check(out):
        assert out == expected_fn()
    return check


CASES = {
    "identity.check_zero": (_identity_check_zero, 2.0, _check_identity_falls_back_to_the_spot_check),
    "identity.cached_simplify": (_identity_cached_simplify, 1.0, _returns_input(lambda: slow(a, y))),
    "identity.is_zero": (_identity_is_zero, 1.0, _raises("is_zero")),
    "effective_potential.isotropic_potential_printed": (_paper_form_isotropic, 1.0, _check_paper_form_isotropic),
    "laplace.gaussian_mixture[fallback]": (
        _laplace_mixture_fallback, 1.0, lambda gm: gm.weights == [1] and gm.means == [sp.Matrix([1])]),
    "laplace.gaussian_mixture[gradient check]": (
        _laplace_mixture_gradient_check, 1.0, _raises("critical-point check", "check_minima=False")),
    "laplace.leading_order_covariance": (_laplace_leading_order_covariance, 1.0, _raises("commutator")),
    "escape.positive_part": (_escape_positive_part, 1.0, _raises("eigen-decomposition", "Floats")),
    "kramers_moyal.k_step_limit_cumulants": (_km_limit, 2.0, _check_km_limit),
    "kramers_moyal.cumulants_from_moments": (_km_zero_entry, 1.0, _raises("cumulants_from_moments")),
    "overparametrized.flat_directions": (_overparametrized_flat_directions, 1.0, _raises("flat directions")),
    "test_loss.effective_sample_size": (_test_loss_effective_sample_size, 1.0, _check_effective_sample_size),
    "test_loss.range_projector": (_test_loss_range_projector, 1.0, _raises("column space")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_slow_input_is_bounded_by_the_budget(name):
    fn, budget, check = CASES[name]
    out, elapsed = _run(fn)
    assert elapsed < budget + SLACK, f"{name}: {elapsed:.1f} s for a budget of {budget} s"
    _assert_nothing_keeps_computing()
    result = check(out)
    assert result is None or result is True


# --------------------------------------------------------------------------------------------
# In time, the budget changes nothing; None means no limit.
# --------------------------------------------------------------------------------------------
def test_results_are_unchanged_when_the_steps_finish_in_time():
    from theory.escape import positive_part
    from theory.identity import check_identity, is_zero
    from theory.kramers_moyal import k_step_limit_cumulants, power_of_temperature
    from theory.laplace import gaussian_mixture
    from theory.overparametrized import flat_directions, modified_effective_potential
    from theory.shift_curvature import effective_sample_size, gaussian_expectation, range_projector

    for budget in (None, 30):
        r = check_identity(sp.cos(x) ** 2 + sp.sin(x) ** 2, 1, budget_s=budget)
        assert r.exact and r.notes == ()
        assert is_zero(sp.cosh(x) ** 2 - sp.sinh(x) ** 2 - 1, budget_s=budget)
        assert k_step_limit_cumulants({(1,): a, (2,): b}, 3, budget_s=budget) == {(1,): a, (2,): b, (3,): 0}
        assert power_of_temperature(3 * T**2 * x, T, budget_s=budget) == 2
        gm = gaussian_mixture((x**2 - 1) ** 2, x, [-1, 1], sp.Rational(1, 10), budget_s=budget)
        assert gm.weights == [sp.Rational(1, 2), sp.Rational(1, 2)]
        assert flat_directions(x**2, sp.diag(1, 0), [x, y], budget_s=budget) == [1]
        v = modified_effective_potential(x**2 / 2, sp.diag(1, 0), [x, y], T, alpha=1, beta=1,
                                         budget_s=budget)
        assert sp.simplify(v - (x**2 + y**2) / 2) == 0  # V = diag(2, 1)⁻¹ (2x, y)
        assert effective_sample_size(10, 30, budget_s=budget) == 15
        assert range_projector(sp.Matrix([[1, 1], [1, 1]]), budget_s=budget) == sp.ones(2, 2) / 2
        assert gaussian_expectation(x**2, x, [a], [[b]], budget_s=budget) == a**2 + b**2
        assert positive_part(sp.Matrix([[2, 0], [0, -1]]), budget_s=budget) == sp.diag(2, 1)


def test_budget_argument_is_validated_everywhere():
    from theory.identity import check_zero
    from theory.kramers_moyal import cumulants_from_moments
    from theory.laplace import gaussian_mixture

    for call in (lambda bad: check_zero(x - x, budget_s=bad),
                 lambda bad: cumulants_from_moments({(1,): a}, 2, budget_s=bad),
                 lambda bad: gaussian_mixture(x**2, x, [0], T, budget_s=bad)):
        for bad in (0, -1.0, "20"):
            with pytest.raises((TypeError, ValueError)):
                call(bad)
