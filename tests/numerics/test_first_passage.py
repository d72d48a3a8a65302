"""Tests of numerics.first_passage: exact 1-D MFPT/exit times (closed forms, nested quadrature,
low-T limits), the Laplace escape time, the 2-D grid MFPT, typed errors."""
import math

import numpy as np
import pytest
import sympy as sp

from numerics.first_passage import (
    laplace_escape_time_1d,
    mean_exit_time_interval_1d,
    mean_first_passage_time_1d,
    mean_first_passage_time_grid_2d,
    path_exponent_1d,
    sgd_path_parameter,
)
from theory.escape import (
    EscapeInputError,
    dt_diffusion_from_sc,
    kramers_escape_time,
    sgd_escape_time_printed,
)

x = sp.Symbol("x", real=True)
WELL = (x**2 - 1) ** 2 / 4


def test_separable_case_matches_exact_1d_mfpt():
    """L = (x²−1)²/4 + y²/2: the exit through x = 0.5 does not depend on y, so the 2-D MFPT from
    (−1, 0) equals the 1-D one with the same D (DT: sqrt(2D) ⇔ SC: T·D_sc = 2D)."""
    D = 0.1
    xs, ys, tau = mean_first_passage_time_grid_2d(
        lambda X, Y: (X**2 - 1) ** 2 / 4 + Y**2 / 2, D, xlim=(-2.2, 0.5), ylim=(-1.5, 1.5),
        nx=541, ny=31, absorb_x=0.5 - 1e-9)
    i = min(range(len(xs)), key=lambda k: abs(xs[k] + 1))
    j = min(range(len(ys)), key=lambda k: abs(ys[k]))
    th = sp.Symbol("theta")
    exact = mean_first_passage_time_1d((th**2 - 1) ** 2 / 4, 1, th, float(xs[i]), 0.5, 2 * D,
                                       reflect_at=-2.2)
    assert tau[i, j] == pytest.approx(exact, rel=5e-3)
    assert math.isfinite(tau.max()) and tau.min() >= 0


@pytest.mark.parametrize("kwargs", [dict(D=0.0), dict(nx=2), dict(absorb_x=-5.0)])
def test_bad_input(kwargs):
    args = dict(D=0.1, xlim=(-1, 1), ylim=(-1, 1), nx=11, ny=11, absorb_x=0.5) | kwargs
    with pytest.raises(ValueError):
        mean_first_passage_time_grid_2d(lambda X, Y: X**2 + Y**2, args.pop("D"), **args)


@pytest.mark.parametrize("T,D,start,b", [(1.0, 1.0, 0.3, 1.0), (0.5, 2.0, 0.0, 2.0),
                                         (0.1, 3.0, 1.5, 1.7)])
def test_free_diffusion_reflecting_at_zero(T, D, start, b):
    # U = 0, reflecting at 0: (TD/2) τ'' = −1, τ'(0) = 0, τ(b) = 0  ⇒  τ = (b² − x²)/(T D)
    got = mean_first_passage_time_1d(sp.Integer(0), D, x, start, b, T, reflect_at=0)
    assert got == pytest.approx((b * b - start * start) / (T * D), rel=1e-10)


def test_free_diffusion_mirror_direction():
    # start above the barrier, reflecting wall above: same closed form by symmetry
    got = mean_first_passage_time_1d(sp.Integer(0), 1, x, -0.3, -1.0, 1.0, reflect_at=0)
    assert got == pytest.approx(1 - 0.09, rel=1e-10)


def test_constant_drift_closed_form():
    # U = c x (drift −c), D = 1, T = 1, reflecting at 0, target b: solve τ''/2 − c τ' = −1
    c, b = 0.7, 1.3
    k = 2 * c
    exact = (math.exp(k * b) - math.exp(0)) / (c * k) - b / c  # from x = 0
    got = mean_first_passage_time_1d(c * x, 1, x, 0.0, b, 1.0, reflect_at=0)
    assert got == pytest.approx(exact, rel=1e-9)


def test_state_dependent_D_against_nested_quadrature():
    # D = 1 + x², tilted well, ψ known in closed form; reference by mpmath nested quad
    U = WELL + x / 10
    T = 0.3
    from scipy.integrate import quad

    def psi(u):
        return 2 / T * (u**2 / 2 - math.log(1 + u**2) + 0.1 * math.atan(u))

    def inner(y):
        return quad(lambda z: 2 / (T * (1 + z**2)) * math.exp(-psi(z)), -math.inf, y,
                    epsabs=0, epsrel=1e-12, limit=200)[0]

    ref = quad(lambda y: math.exp(psi(y)) * inner(y), -1, 0.1, epsabs=0, epsrel=1e-11)[0]
    got = mean_first_passage_time_1d(U, 1 + x**2, x, -1, 0.1, T)
    assert got == pytest.approx(float(ref), rel=1e-8)


def test_mfpt_monotone_in_start_and_log_option():
    times = [mean_first_passage_time_1d(WELL, 1, x, s, 0.5, 0.2) for s in (-1.5, -1.0, -0.5, 0.0)]
    assert all(t1 > t2 for t1, t2 in zip(times, times[1:]))
    lt = mean_first_passage_time_1d(WELL, 1, x, -1.0, 0.5, 0.2, log=True)
    assert lt == pytest.approx(math.log(times[1]), rel=1e-12)


def test_mfpt_low_temperature_needs_log():
    with pytest.raises(OverflowError):
        mean_first_passage_time_1d(WELL, 1, x, -1, 1, 0.0005)
    assert mean_first_passage_time_1d(WELL, 1, x, -1, 1, 0.0005, log=True) > 709


def test_kramers_error_shrinks_with_T():
    errs = []
    for T in (0.2, 0.1, 0.05, 0.025):
        tk = float(kramers_escape_time(2, -1, sp.Rational(1, 4), dt_diffusion_from_sc(1, T)))
        errs.append(abs(tk / mean_first_passage_time_1d(WELL, 1, x, -1, 1, T) - 1))
    assert all(e2 < e1 for e1, e2 in zip(errs, errs[1:]))
    assert errs[-1] < 0.03
    # roughly linear in T: halving T roughly halves the error
    assert 1.6 < errs[-2] / errs[-1] < 2.6


def test_mfpt_to_top_is_half_the_kramers_time():
    T = 0.02
    tk = float(kramers_escape_time(2, -1, sp.Rational(1, 4), T / 2))
    top = mean_first_passage_time_1d(WELL, 1, x, -1, 0, T)
    assert 2 * top / tk == pytest.approx(1, abs=0.03)


def test_exit_time_interval_brownian_and_rule1_limit():
    assert mean_exit_time_interval_1d(sp.Integer(0), 1, x, 0.3, 0, 1, 1) == pytest.approx(0.21)
    # symmetric two-exit well: the exit time is half the one-sided escape time (rates add)
    U = x**2 / 2 - x**4 / 4
    T = 0.02
    two = mean_exit_time_interval_1d(U, 1, x, 0, -1.6, 1.6, T)
    one = mean_first_passage_time_1d(U, 1, x, 0, 1.6, T, reflect_at=-1.0)
    # by symmetry the two-sided exit from 0 is the one-sided escape reflected at 0, and a wall
    # at the left top holds twice the mass behind 0 (exponentially accurate at low T)
    assert two == pytest.approx(one / 2, rel=1e-6)


def test_laplace_escape_time_reduces_to_kramers_for_constant_D():
    T = 0.05
    lap = laplace_escape_time_1d(WELL, 1, x, -1, 0, T)
    assert lap == pytest.approx(float(kramers_escape_time(2, -1, sp.Rational(1, 4), T / 2)),
                                rel=1e-10)


def test_sgd_formula_exponent_and_path_parameter():
    s = sgd_path_parameter(WELL, 1 + x**2, x, -1, 0)
    assert s == pytest.approx((math.log(2) - 0.5 - 0.25) / (0.25 * (0.5 - 1)), rel=1e-10)
    assert 0 < s < 1
    kappa = 0.01  # η/(2B)
    tau = sgd_escape_time_printed(2, -1, sp.Rational(1, 4), 1, 2 * kappa, s)
    assert math.log(float(tau)) == pytest.approx(math.log(2 * math.pi)
                                                 + (math.log(2) - 0.5) / kappa, rel=1e-10)
    assert path_exponent_1d(WELL, 1 + x**2, x, -1, 0) == pytest.approx(math.log(2) - 0.5)


@pytest.mark.parametrize("kwargs,match", [
    (dict(T=0), "T must be positive"),
    (dict(T=-1), "T must be positive"),
    (dict(D=0), "D must be positive"),
    (dict(D=-2), "D must be positive"),
    (dict(start=0.5, barrier=0.5), "start equals barrier"),
    (dict(reflect_at=0.0), "far side"),
])
def test_mfpt_bad_inputs(kwargs, match):
    args = dict(U=WELL, D=1, theta=x, start=-1.0, barrier=0.5, T=0.1)
    args.update(kwargs)
    with pytest.raises(EscapeInputError, match=match):
        mean_first_passage_time_1d(**args)
    assert issubclass(EscapeInputError, ValueError)


def test_mfpt_rejects_nonconfining_and_vanishing_noise_and_free_symbols():
    with pytest.raises(EscapeInputError, match="reflect_at"):
        mean_first_passage_time_1d(sp.Integer(0), 1, x, 0, 1, 1.0)
    with pytest.raises(EscapeInputError, match="positive and finite"):
        mean_first_passage_time_1d(WELL, 3 * x**2 - 1, x, -1, 0, 0.1)
    with pytest.raises(EscapeInputError, match="free symbols"):
        mean_first_passage_time_1d(WELL + sp.Symbol("c") * x, 1, x, -1, 0, 0.1)


def test_sgd_escape_time_vs_exact_mfpt_on_double_well():
    """DT.thm3.2 on U = (θ²−1)²/4 with DT noise κ(1+θ²) (= κ|U''| at the minimum
    and the top). The corrected Itô prefactor (2π/H_ae, laplace_escape_time_1d) is within 10% of
    the exact MFPT at low noise and improves as κ → 0; the printed prefactor tends to H_ae/|H_be| = 2."""
    U, h = (x**2 - 1) ** 2 / 4, 1 + x**2
    s = sgd_path_parameter(U, h, x, -1, 0)
    corrected, printed = [], []
    for kappa in (0.05, 0.025, 0.0125):
        T = 2 * kappa                       # SC noise T·h = DT's 2κh
        exact = mean_first_passage_time_1d(U, h, x, -1, 1, T)
        corrected.append(laplace_escape_time_1d(U, h, x, -1, 0, T) / exact)
        printed.append(float(sgd_escape_time_printed(2, -1, sp.Rational(1, 4), 1, 2 * kappa, s)) / exact)
    errs = [abs(c - 1) for c in corrected]
    assert errs[-1] < 0.10 and all(e2 < e1 for e1, e2 in zip(errs, errs[1:]))
    assert abs(printed[-1] - 2) < abs(printed[0] - 2) and abs(printed[-1] - 2) < 0.15


def test_sgd_path_parameter_undefined_when_curvatures_match():
    with pytest.raises(EscapeInputError, match="does not depend on s"):
        sgd_path_parameter(-sp.cos(x), 1, x, 0, math.pi)  # H_a = |H_b|: s undefined


def test_gauss_legendre_integration_matrix_integrates_polynomials_exactly():
    """S_ij = ∫_{−1}^{t_i} ℓ_j: S @ p(t) equals ∫_{−1}^{t} p for every polynomial of degree < n."""
    from numerics.first_passage import _gauss_legendre

    t, w, S = (np.array(a) for a in _gauss_legendre(12))
    assert np.all(np.diff(t) > 0) and w.sum() == pytest.approx(2.0, rel=1e-14)
    for k in range(12):
        got = S @ t**k
        assert got == pytest.approx((t ** (k + 1) - (-1.0) ** (k + 1)) / (k + 1), abs=1e-13)
