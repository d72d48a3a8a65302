"""Tests of theory.laplace: SC.eq6 mixture, RND.eq20 leading order, bias, SC.E, TF Thm 2 / eq. 4."""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

from theory.laplace import (
    GaussianMixture,
    LaplaceError,
    NotAMinimumError,
    bias_first_order,
    even_order_basin_mass,
    gaussian_mixture,
    laplace_log_mass,
    leading_order_covariance,
    leading_order_log_weights,
    leading_order_weights,
    log_sum_exp,
    normal_density,
    tf_minimum_ratio,
    tf_noise_threshold_corrected,
    tf_noise_threshold_printed,
)

x = sp.Symbol("x", real=True)
T = sp.Symbol("T", positive=True)
t1, t2 = sp.symbols("t1 t2", real=True)


def _minima(v):
    """Minima of a polynomial v(x): the real roots of v' (30 digits) where v'' > 0. (The mpmath scan
    for any 1-D v is numerics.reference_quadrature.find_critical_points_1d, tested there.)"""
    dv = sp.Poly(sp.diff(v, x), x)
    roots = [r for r in dv.nroots(n=30) if r.is_real]
    return sorted(r for r in roots if sp.diff(v, x, 2).subs(x, r) > 0)


# ---------------------------------------------------------------------------- SC.eq6 structure
def test_symmetric_double_well_has_equal_weights():
    gm = gaussian_mixture((x ** 2 - 1) ** 2, x, [-1, 1], sp.Rational(1, 10))
    assert isinstance(gm, GaussianMixture)
    assert gm.weights == [sp.Rational(1, 2), sp.Rational(1, 2)]
    assert gm.covariances[0] == sp.Matrix([[sp.Rational(1, 160)]])   # (T/2)/v'' = 0.05/8
    assert len(gm) == 2 and gm.p == 1


def test_weights_formula_and_covariance_2d():
    th = sp.Matrix([t1, t2])
    # two exact quadratic bowls glued by min(): use separate potentials per basin via a
    # potential whose minima have different Hessians: v = (t1²−1)² + a(t1) t2² with a = 1 + t1/2
    v = (t1 ** 2 - 1) ** 2 + (1 + t1 / 2) * t2 ** 2
    gm = gaussian_mixture(v, th, [[-1, 0], [1, 0]], T)
    H0 = sp.Matrix([[8, 0], [0, 1]])
    H1 = sp.Matrix([[8, 0], [0, 3]])
    assert gm.hessians[0] == H0 and gm.hessians[1] == H1
    assert sp.simplify(gm.covariances[1] - T / 2 * H1.inv()) == sp.zeros(2, 2)
    ratio = sp.simplify(gm.weights[0] / gm.weights[1])
    assert sp.simplify(ratio - sp.sqrt(H1.det() / H0.det())) == 0          # equal depths
    assert sp.simplify(sum(gm.weights) - 1) == 0
    # the mixture density is normalised (numeric check at T = 1/10)
    from scipy.integrate import dblquad

    dens = gm.density().subs(T, sp.Rational(1, 10))
    f = sp.lambdify((t2, t1), dens, "numpy")
    total = sum(dblquad(f, a, b, -3, 3, epsabs=1e-12)[0] for a, b in ((-3, 0), (0, 3)))
    assert abs(total - 1) < 1e-8


def test_log_mass_matches_exact_gaussian_integral():
    lam = sp.Rational(3)
    v = 2 + lam * x ** 2 / 2
    gm = gaussian_mixture(v, x, [0], T)
    assert sp.simplify(gm.log_basin_masses[0] - laplace_log_mass(2, lam, T, 1)) == 0
    exact = sp.integrate(sp.exp(-2 * v / T), (x, -sp.oo, sp.oo))
    assert sp.simplify(sp.exp(gm.log_partition) - exact) == 0


def test_log_domain_weights_survive_tiny_temperature():
    v = (x ** 2 - 1) ** 2 + x / 4
    mins = _minima(v)
    gm = gaussian_mixture(v, x, mins, sp.Float("1e-4", 30))
    w = gm.numeric_weights()
    assert all(math.isfinite(a) for a in w) and abs(sum(w) - 1) < 1e-12
    assert w[0] == pytest.approx(1.0) and 0.0 <= w[1] < 1e-300   # underflows only as a float
    lw1 = float(sp.N(gm.log_weights[1]))
    # log weight stays representable and exact: ℓ_k = −2v(μ_k)/T − ½ log v''(μ_k), normalised
    # (independent mpmath roots of v' = 4θ³ − 4θ + 1/4; the normaliser adds < e^{−9994})
    with mpmath.workdps(30):
        mu = [mpmath.findroot(lambda t: 4 * t ** 3 - 4 * t + mpmath.mpf(1) / 4, g) for g in (-1, 1)]
        ell = [-2 * ((m * m - 1) ** 2 + m / 4) / mpmath.mpf("1e-4") - mpmath.log(12 * m * m - 4) / 2
               for m in mu]
        exact = float(ell[1] - ell[0])
    assert lw1 == pytest.approx(exact, rel=1e-12)
    assert exact == pytest.approx(-9994.99736, abs=1e-5)


def test_symbolic_T_weights_match_numeric_construction():
    v = (x ** 2 - 1) ** 2 + x ** 3 / 10
    mins = _minima(v)
    gm_sym = gaussian_mixture(v, x, mins, T)
    gm_num = gaussian_mixture(v, x, mins, sp.Float("0.03", 30))
    for a, b in zip(gm_sym.weights, gm_num.weights):
        assert float(sp.N(a.subs(T, sp.Float("0.03", 30)))) == pytest.approx(float(sp.N(b)), rel=1e-12)


def test_normal_density_is_normalised_and_is_the_mixture_component():
    """N(θ; μ, Σ) integrates to 1 (p = 1 and p = 2), has the printed 1-D form, and is what
    GaussianMixture.component_density returns for Σ_k = (T/2) H_k⁻¹."""
    m, s = sp.Symbol("m", real=True), sp.Symbol("s", positive=True)
    n1 = normal_density([m], [[s ** 2]], x)
    assert sp.simplify(n1 - sp.exp(-(x - m) ** 2 / (2 * s ** 2)) / (s * sp.sqrt(2 * sp.pi))) == 0
    assert sp.simplify(sp.integrate(n1, (x, -sp.oo, sp.oo))) == 1
    n2 = normal_density([1, -1], sp.diag(2, 3), [t1, t2])
    assert sp.simplify(sp.integrate(n2, (t1, -sp.oo, sp.oo), (t2, -sp.oo, sp.oo)).rewrite(sp.erf)) == 1
    S = sp.Matrix([[2, 1], [1, 3]])  # det 5, S⁻¹ = [[3, −1], [−1, 2]]/5
    n2 = normal_density([1, -1], S, [t1, t2])
    d1, d2 = t1 - 1, t2 + 1
    expected = sp.exp(-(3 * d1**2 - 2 * d1 * d2 + 2 * d2**2) / 10) / (2 * sp.pi * sp.sqrt(5))
    assert sp.simplify(n2 - expected) == 0
    gm = gaussian_mixture(t1 ** 2 + t1 * t2 + 2 * t2 ** 2, [t1, t2], [[0, 0]], sp.Rational(1, 3))
    assert sp.simplify(gm.component_density(0) - normal_density([0, 0], gm.covariances[0], [t1, t2])) == 0
    assert gm.covariances[0] == sp.Rational(1, 6) * sp.Matrix([[2, 1], [1, 4]]).inv()


def test_log_sum_exp_is_stable_and_exact():
    big = sp.Integer(-10) ** 5
    assert sp.simplify(log_sum_exp([big, big]) - (big + sp.log(2))) == 0
    assert float(sp.N(log_sum_exp([-100000, 3]))) == pytest.approx(3.0)
    with pytest.raises(LaplaceError):
        log_sum_exp([])


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("bad_T", [0, -1, sp.Rational(-1, 2), sp.Symbol("t", negative=True)])
def test_nonpositive_temperature_raises(bad_T):
    with pytest.raises(ValueError, match="positive"):
        gaussian_mixture(x ** 2, x, [0], bad_T)


def test_non_critical_point_raises():
    with pytest.raises(NotAMinimumError, match="not a critical point"):
        gaussian_mixture((x ** 2 - 1) ** 2, x, [0.5], sp.Rational(1, 10))


def test_maximum_and_saddle_raise():
    with pytest.raises(NotAMinimumError, match="not positive definite"):
        gaussian_mixture((x ** 2 - 1) ** 2, x, [0], sp.Rational(1, 10))
    with pytest.raises(NotAMinimumError):
        gaussian_mixture(t1 ** 2 - t2 ** 2, [t1, t2], [[0, 0]], T)


def test_symbolic_non_minimum_raises():
    # ∂v(1) = 2T·(something) ≠ 0 for T > 0: decidable by spot-check + simplify
    with pytest.raises(NotAMinimumError):
        gaussian_mixture((x - 1) ** 2 + T * x, x, [1], T)
    # exact T-dependent minimum is accepted
    gm = gaussian_mixture((x - 1) ** 2 + T * x, x, [1 - T / 2], T)
    assert sp.simplify(gm.potential_values[0] - (T - T ** 2 / 4)) == 0


@pytest.mark.parametrize("minima,exc", [([], LaplaceError), (0, LaplaceError),
                                        ([1, 1], LaplaceError), ([[0, 0]], LaplaceError)])
def test_bad_minima_arguments(minima, exc):
    with pytest.raises(exc):
        gaussian_mixture((x ** 2 - 1) ** 2 if minima != [1, 1] else (x - 1) ** 2, x, minima,
                         sp.Rational(1, 10))


def test_check_minima_can_be_disabled_for_approximate_points():
    gm = gaussian_mixture((x ** 2 - 1) ** 2, x, [1.001], sp.Rational(1, 10), check_minima=False)
    assert gm.weights[0] == 1


# ---------------------------------------------------------------------------- RND.eq20
def test_leading_order_weights_basic_and_errors():
    w = leading_order_weights([0, 0], [0, 0], [1, 1], [1, 4], T)
    assert sp.simplify(w[0] / w[1] - 2) == 0 and sp.simplify(sum(w) - 1) == 0
    with pytest.raises(LaplaceError, match="equal lengths"):
        leading_order_log_weights([0], [0, 0], [1], [1], T)
    with pytest.raises(LaplaceError, match="positive"):
        leading_order_log_weights([0], [0], [1], [-1], T)
    with pytest.raises(LaplaceError):
        leading_order_log_weights([], [], [], [], T)


# ---------------------------------------------------------------------------- bias / covariance
def test_bias_sign_matches_exact_minimum_shift():
    """U = x²/2 + x³/3, D = 1 + x/2 (∂·D = 1/2 > 0): μ moves left, b = θ^tr − μ > 0 (SC sign)."""
    U = x ** 2 / 2 + x ** 3 / 3
    D = 1 + x / 2
    tv = sp.Rational(1, 1000)
    mu = sp.nsolve(sp.diff(U, x) + tv / 2 * sp.diff(D, x), x, 0, prec=30)
    b_exact = 0 - mu
    b_first = bias_first_order(sp.diff(U, x, 2).subs(x, 0), sp.diff(D, x).subs(x, 0), tv)[0]
    assert b_first == sp.Rational(1, 4000)
    assert b_exact > 0 and b_first > 0                     # SC's convention
    assert abs(b_exact - b_first) / b_first < 5 * float(tv)
    rnd_b = mu - 0                                         # RND eq. 21: b = μ − θ̃ (opposite sign)
    assert rnd_b < 0


def test_bias_first_order_matrix_and_errors():
    C = sp.Matrix([[2, 1], [1, 3]])
    b = bias_first_order(C, [1, 0], T)
    assert sp.simplify(C * b - T / 2 * sp.Matrix([1, 0])) == sp.zeros(2, 1)
    with pytest.raises(ValueError):
        bias_first_order(C, [1, 0, 0], T)
    with pytest.raises(LaplaceError):
        bias_first_order(C, [1, 0], -1)


def test_leading_order_covariance_commuting_and_not():
    R = sp.Matrix([[3, -4], [4, 3]]) / 5
    C = R * sp.diag(1, 4) * R.T
    D = R * sp.diag(2, 3) * R.T
    S = leading_order_covariance(C, D, T)
    assert sp.simplify(S - S.T) == sp.zeros(2, 2)
    with pytest.raises(LaplaceError, match="do not commute"):
        leading_order_covariance(sp.diag(1, 3), sp.Matrix([[1, sp.Rational(1, 2)],
                                                           [sp.Rational(1, 2), 1]]), T)


# ---------------------------------------------------------------------------- SC.E
def test_even_order_J2_reduces_to_gaussian():
    l1, l2 = sp.symbols("l1 l2", positive=True)
    v0 = sp.Symbol("v0", real=True)
    mass = even_order_basin_mass(v0, [l1, l2], 2, T)
    gauss = sp.exp(-2 * v0 / T) * sp.pi * T / sp.sqrt(l1 * l2)
    assert sp.simplify(mass - gauss) == 0
    assert sp.simplify(sp.expand_log(sp.log(mass), force=True)
                       - laplace_log_mass(v0, l1 * l2, T, 2)) == 0


def test_even_order_J4_matches_quadrature():
    lam, tv = 3.0, 0.05
    num = mpmath.quad(lambda s: mpmath.exp(-(2 / tv) * lam * s ** 4 / 24), [-mpmath.inf, 0, mpmath.inf])
    assert float(even_order_basin_mass(0, [lam], 4, sp.Float(tv))) == pytest.approx(float(num), rel=1e-10)


@pytest.mark.parametrize("J,lams", [(3, [1]), (0, [1]), (4, [0]), (4, [-2]), (4, [])])
def test_even_order_bad_arguments(J, lams):
    with pytest.raises(LaplaceError):
        even_order_basin_mass(0, lams, J, T)


# ---------------------------------------------------------------------------- TF
def test_tf_threshold_derived_vs_printed():
    n = sp.Symbol("n", positive=True)
    dL, s2 = 1, 1
    r = sp.E ** 2                       # det H_B / det H_A, log sqrt(r) = 1
    derived = tf_noise_threshold_corrected(dL, 0, 1, r, s2)
    printed = tf_noise_threshold_printed(dL, 0, 1, r, s2)
    assert derived == 2 and printed == sp.Rational(1, 2)
    ratio = tf_minimum_ratio(dL, 0, 1, r, n, s2)
    assert ratio.subs(n, sp.Rational(201, 100)) > 1 > ratio.subs(n, sp.Rational(199, 100))
    assert ratio.subs(n, 1) < 1         # above the printed threshold, yet B is favoured
    # symbolic: derived/printed = 4
    LA, LB, hA, hB, sg = sp.symbols("L_A L_B h_A h_B sigma2", positive=True)
    q = sp.simplify(tf_noise_threshold_corrected(LA, LB, hA, hB, sg) / tf_noise_threshold_printed(LA, LB, hA, hB, sg))
    assert q == 4


def test_tf_higher_and_sharper_is_never_favoured():
    assert tf_noise_threshold_corrected(1, 0, 2, 1, 1) == sp.oo
    n = sp.Symbol("n", positive=True)
    ratio = tf_minimum_ratio(1, 0, 2, 1, n, 1)
    assert all(ratio.subs(n, nv) < 1 for nv in (sp.Rational(1, 10), 1, 10, 10 ** 6))


def test_tf_ratio_equals_sc6_with_v_L_over_sigma2():
    s2 = sp.Rational(3, 2)
    L = (x ** 2 - 1) ** 2 + x / 10
    mins = _minima(L)
    nv = sp.Float("0.05", 30)
    gm = gaussian_mixture(L / s2, x, mins, nv)
    Ls = [L.subs(x, m) for m in mins]
    Hs = [sp.diff(L, x, 2).subs(x, m) for m in mins]
    lhs = float(sp.N(gm.weights[0] / gm.weights[1]))
    assert lhs == pytest.approx(float(tf_minimum_ratio(Ls[0], Ls[1], Hs[0], Hs[1], nv, s2)), rel=1e-12)


# ---------------------------------------------------------------------------- ledger verdicts
def test_cheap_checks_give_expected_verdicts():
    from validation.checks import laplace as checks

    assert checks.tf_noise_threshold_factor().verdict == "corrected"
    cov = checks.covariance_laplace_and_leading_order()  # holds under SC.A1; commuting C, D is a finding
    assert cov.verdict == "holds" and [f.kind for f in cov.findings] == ["stated-assumption"]
    assert checks.tf_minimum_probability_is_laplace_mass().verdict == "holds"


# ----------------------------------------------------------------------------------------------
# gaps found by mutation testing (make mutation MODULE=theory/laplace.py)
# ----------------------------------------------------------------------------------------------
def test_gaussian_mixture_records_unnormalised_log_weights_and_masses():
    v = (x ** 2 - 1) ** 2 + x / 4
    mins = _minima(v)
    Tn = sp.Rational(1, 10)
    gm = gaussian_mixture(v, x, mins, Tn)
    for mu, ell, lm in zip(mins, gm.unnormalised_log_weights, gm.log_basin_masses):
        exact = -2 * v.subs(x, mu) / Tn - sp.log(sp.diff(v, x, 2).subs(x, mu)) / 2
        assert float(ell) == pytest.approx(float(exact), rel=1e-14)
        assert float(lm) == pytest.approx(float(exact + sp.log(sp.pi * Tn) / 2), rel=1e-14)
    with pytest.raises(LaplaceError, match=r"minima\[1\]"):
        gaussian_mixture(x ** 2 + sp.Symbol("y") ** 2, [x, sp.Symbol("y")], [[0, 0], [1, 2, 3]], Tn)


def test_positive_definiteness_is_checked_on_every_leading_minor():
    y = sp.Symbol("y", real=True)
    for v in (-(x ** 2) - y ** 2,              # maximum: first minor −2 < 0, det 4 > 0
              x ** 2 - y ** 2,                 # saddle: first minor 2 > 0, det −4 < 0
              -(x ** 2) + y ** 2):             # saddle the other way round
        with pytest.raises(NotAMinimumError, match="not positive definite"):
            gaussian_mixture(v, [x, y], [[0, 0]], T)
    with pytest.raises(NotAMinimumError, match="not positive definite"):
        gaussian_mixture(-(x ** 2), x, [0], T)


def test_non_commuting_symbolic_C_and_D_are_refused():
    a, b, c = sp.symbols("a b c", positive=True)
    with pytest.raises(LaplaceError, match="do not commute"):
        leading_order_covariance(sp.diag(a, b), sp.Matrix([[1, c], [c, 1]]), T)


def test_leading_order_errors_name_the_argument():
    with pytest.raises(LaplaceError, match=r"^D_dets\[1\] = -2 must be positive"):
        leading_order_log_weights([0, 0], [0, 0], [1, -2], [1, 1], T)
    with pytest.raises(LaplaceError, match="must be a list"):
        leading_order_log_weights(0, [0], [1], [1], T)


def test_noise_threshold_at_equal_depths():
    """L_A = L_B: p_A/p_B = sqrt(det H_B/det H_A) at every n — A is favoured for all n > 0 when it
    is flatter, never when it is sharper or equally sharp (regression: 0 was returned then)."""
    assert tf_noise_threshold_corrected(1, 1, 1, 2, 1) == 0
    assert tf_noise_threshold_corrected(1, 1, 2, 1, 1) == sp.oo
    assert tf_noise_threshold_corrected(1, 1, 1, 1, 1) == sp.oo
    assert float(tf_noise_threshold_corrected(1, 0, 1, 2, 1)) == pytest.approx(4 / math.log(2), rel=1e-14)


def test_leading_order_covariance_value_and_zero_determinant():
    assert leading_order_covariance(sp.diag(2, 4), sp.diag(1, 3), T) == sp.diag(T / 4, 3 * T / 8)
    with pytest.raises(LaplaceError, match=r"D_dets\[1\]"):
        leading_order_log_weights([0, 0], [0, 0], [1, 0], [1, 1], T)


def test_numpy_arrays_are_accepted_as_lists():
    a = leading_order_log_weights(np.array([0.0, 0.5]), np.array([0.0, 0.1]), np.array([1.0, 2.0]),
                                  np.array([1.0, 3.0]), T)
    b = leading_order_log_weights([0.0, 0.5], [0.0, 0.1], [1.0, 2.0], [1.0, 3.0], T)
    assert all(sp.simplify(u - w) == 0 for u, w in zip(a, b))
    v = (x ** 2 - 1) ** 2
    gm_a = gaussian_mixture(v, x, np.array([-1.0, 1.0]), sp.Rational(1, 10))
    gm_l = gaussian_mixture(v, x, [-1.0, 1.0], sp.Rational(1, 10))
    assert gm_a.numeric_weights() == pytest.approx(gm_l.numeric_weights(), rel=1e-15)


