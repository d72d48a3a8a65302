"""Non-elementary effective potentials: the exact definite integral from a stated
base point, its derivative, stationarity, compiled quadrature, and the time budget.

SC.eq5: ρ ∝ exp(−2v/T), v = ∫ V·dθ, V = D⁻¹(∂U + (T/2)∂·D). Example: U = cosh x, D = 3 + sin x,
V = (sinh x + (T/2) cos x)/(3 + sin x) — the sinh part has no elementary antiderivative.
"""
import random
import time

import mpmath
import numpy as np
import pytest
import sympy as sp

from numerics.compile import compile_expr
from theory.budget import SymbolicTimeoutError
from theory.effective_potential import IntegrationError, drift_field, effective_potential
from theory.fokker_planck import stationarity_residual

x, y = sp.symbols("x y", real=True)
T = sp.Symbol("T", positive=True)
U1, D1 = sp.cosh(x), 3 + sp.sin(x)


def V_hand(s, t):
    """V of the cosh / (3 + sin) example, written out by hand (independent of theory)."""
    return (mpmath.sinh(s) + t / 2 * mpmath.cos(s)) / (3 + mpmath.sin(s))


@pytest.fixture(scope="module")
def v1():
    return effective_potential(U1, D1, x, T)


def test_cosh_example_is_the_integral_from_the_default_base_point(v1):
    assert isinstance(v1, sp.Integral)
    (s, lo, hi), = v1.limits
    assert lo == 0 and hi == x and s != x  # a dummy variable from θ0 = 0 to θ
    assert v1.subs(x, 0).doit() == 0


def test_base_point_is_an_argument_and_stated_in_the_result():
    v = effective_potential(U1, D1, x, T, base_point=sp.Rational(1, 2))
    assert isinstance(v, sp.Integral) and v.limits[0][1:] == (sp.Rational(1, 2), x)
    assert v.subs(x, sp.Rational(1, 2)).doit() == 0


def test_derivative_equals_V_exactly_and_numerically(v1):
    V = drift_field(U1, D1, x, T)[0]
    dv = sp.diff(v1, x)
    assert sp.simplify(dv - V) == 0
    rng = random.Random(1)
    for _ in range(5):
        pt = {x: rng.uniform(-3, 3), T: rng.uniform(0.1, 2)}
        got = complex(dv.subs(pt).evalf(30))
        ref = V_hand(pt[x], pt[T])
        assert abs(got - complex(ref)) <= 1e-12 * max(1.0, abs(ref))


def test_stationarity_residual_of_the_integral_density_is_zero(v1):
    assert stationarity_residual(sp.exp(-2 * v1 / T), U1, D1, x, T) == 0


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_compiled_density_matches_independent_mpmath_quadrature(v1, backend):
    Tn = 0.7
    xs = np.linspace(-2.5, 3.0, 12)
    f = compile_expr(sp.exp(-2 * v1 / T), [x, T], backend=backend, device="cpu")
    got = np.asarray(f(xs, Tn), dtype=float)
    with mpmath.workdps(30):
        ref = np.array([float(mpmath.exp(-2 * mpmath.quad(lambda s: V_hand(s, Tn), [0, xi]) / Tn))
                        for xi in xs])
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=0)


def test_closed_form_is_unchanged_and_closed_form_only_raises():
    assert effective_potential(x**2 / 2, 1, x, T, base_point=3) == x**2 / 2
    with pytest.raises(IntegrationError, match="could not integrate"):
        effective_potential(U1, D1, x, T, closed_form_only=True)


def test_base_point_is_validated():
    xp = sp.Symbol("x", positive=True)
    D = xp * (3 + sp.sin(xp))  # V ~ 1/x at 0: the default base point is outside the domain of V
    with pytest.raises(ValueError, match="base_point"):
        effective_potential(sp.cosh(xp), D, xp, T, budget_s=2)
    v = effective_potential(sp.cosh(xp), D, xp, T, base_point=1, budget_s=2)
    assert isinstance(v, sp.Integral) and v.limits[0][1:] == (1, xp)
    for bad in (sp.nan, sp.oo, sp.I, sp.Symbol("a"), [0, 1]):
        with pytest.raises(ValueError, match="base_point"):
            effective_potential(U1, D1, x, T, base_point=bad)
    with pytest.raises(TypeError):
        effective_potential(U1, D1, x, T, base_point="0")


# -- 2-D: the straight segment from θ0 ----------------------------------------------------------
U2 = sp.cosh(x) + sp.cosh(y)
D2 = sp.diag(3 + sp.sin(x), 3 + sp.sin(y))
BASE2 = (sp.Rational(1, 2), -sp.Rational(1, 4))


@pytest.fixture(scope="module")
def v2():
    return effective_potential(U2, D2, [x, y], T, base_point=list(BASE2))


def test_2d_non_elementary_is_the_integral_along_the_segment(v2):
    assert isinstance(v2, sp.Integral)
    (t, lo, hi), = v2.limits
    assert (lo, hi) == (0, 1) and t not in (x, y)
    assert v2.subs({x: BASE2[0], y: BASE2[1]}).doit() == 0


def test_2d_gradient_of_the_path_integral_equals_V_numerically(v2):
    V = drift_field(U2, D2, [x, y], T)
    t = v2.limits[0][0]
    rng = random.Random(2)
    with mpmath.workdps(30):
        for _ in range(3):
            pt = {x: rng.uniform(-2, 2), y: rng.uniform(-2, 2), T: rng.uniform(0.2, 2)}
            for i, s in enumerate((x, y)):
                dfun = sp.lambdify(t, sp.diff(v2.function, s).subs(pt), "mpmath")
                got = mpmath.quad(dfun, [0, 1])
                ref = V[i].subs(pt).evalf(30)
                assert abs(complex(got) - complex(ref)) <= 1e-12 * max(1.0, abs(complex(ref)))


def test_2d_compiled_potential_is_path_independent(v2):
    """The compiled segment integral equals the integral along the axis-parallel path."""
    Tn = 0.9
    pts = np.array([[1.3, -0.8], [-1.7, 2.1], [0.5, -0.25], [2.4, 0.3]])
    f = compile_expr(v2, [x, y, T])
    got = f(pts[:, 0], pts[:, 1], Tn)
    with mpmath.workdps(30):
        ref = [mpmath.quad(lambda s: V_hand(s, Tn), [BASE2[0], a])
               + mpmath.quad(lambda s: V_hand(s, Tn), [BASE2[1], b]) for a, b in pts]
    np.testing.assert_allclose(got, np.array(ref, dtype=float), rtol=1e-10, atol=1e-12)


# -- the time budget ----------------------------------------------------------------------------
SLOW_U, SLOW_D = sp.atan(x) ** 3, 2 + sp.cos(x)  # SymPy's heurisch searches for minutes


def test_budget_returns_the_integral_for_a_slow_integral_within_budget():
    budget, slack = 2.0, 3.0
    start = time.monotonic()
    v = effective_potential(SLOW_U, SLOW_D, x, T, budget_s=budget)
    elapsed = time.monotonic() - start
    assert isinstance(v, sp.Integral) and v.limits[0][1:] == (0, x)
    assert elapsed < budget + slack
    V = drift_field(SLOW_U, SLOW_D, x, T)[0]
    assert sp.simplify(sp.diff(v, x) - V) == 0


def test_budget_without_fallback_raises_typed_error_within_budget():
    budget, slack = 1.5, 3.0
    start = time.monotonic()
    with pytest.raises(SymbolicTimeoutError) as err:
        effective_potential(SLOW_U, SLOW_D, x, T, budget_s=budget, closed_form_only=True)
    assert time.monotonic() - start < budget + slack
    assert err.value.budget_s == budget and "closed-form" in err.value.step
