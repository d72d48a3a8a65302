"""Hostile inputs: integrals SymPy cannot finish are bounded by the time budget (DESIGN: a time
budget bounds every symbolic step a user can trigger); the exact unevaluated Integral comes back."""
import time

import mpmath
import pytest
import sympy as sp

from theory.budget import SymbolicTimeoutError
from theory.effective_potential import effective_potential, rnd_split
from theory.shift_curvature import data_expectation

x = sp.Symbol("x", real=True)
T = sp.Symbol("T", positive=True)
BUDGET, SLACK = 1.5, 3.0
# before the budget, effective_potential(atan(x)**3, 2 + cos(x), x, T) ran > 60 s in heurisch
HANG_U, HANG_D = sp.atan(x) ** 3, 2 + sp.cos(x)


def _timed(fn, *args, **kwargs):
    start = time.monotonic()
    out = fn(*args, **kwargs)
    return out, time.monotonic() - start


def test_effective_potential_of_a_hanging_integral_is_bounded():
    v, elapsed = _timed(effective_potential, HANG_U, HANG_D, x, T, budget_s=BUDGET)
    assert elapsed < BUDGET + SLACK
    assert isinstance(v, sp.Integral) and v.limits[0][1:] == (0, x)


def test_rnd_split_of_a_hanging_integral_is_bounded():
    (vt, at), elapsed = _timed(rnd_split, HANG_U, HANG_D, x, budget_s=BUDGET)
    assert elapsed < BUDGET + SLACK
    assert isinstance(vt, sp.Integral)
    assert sp.simplify(sp.diff(at, x) - sp.diff(HANG_D, x) / HANG_D) == 0


def test_data_expectation_of_a_hanging_integral_is_bounded():
    r, elapsed = _timed(data_expectation, HANG_U, 1 / HANG_D, x, limits=(0, 1), budget_s=BUDGET)
    assert elapsed < BUDGET + SLACK
    ref = mpmath.quad(lambda s: mpmath.atan(s) ** 3 / (2 + mpmath.cos(s)), [0, 1])
    assert r.has(sp.Integral) and abs(float(r.evalf(20)) - float(ref)) < 1e-12


def test_no_fallback_means_a_typed_timeout_error():
    start = time.monotonic()
    with pytest.raises(SymbolicTimeoutError, match="budget_s"):
        effective_potential(HANG_U, HANG_D, x, T, budget_s=BUDGET, closed_form_only=True)
    assert time.monotonic() - start < BUDGET + SLACK


@pytest.mark.parametrize("bad", [0, -5, float("nan"), "20"])
def test_bad_budget_is_refused(bad):
    with pytest.raises((TypeError, ValueError)):
        effective_potential(x**2 / 2, 1, x, T, budget_s=bad)
