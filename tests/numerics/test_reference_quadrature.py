"""numerics.reference_quadrature: mpmath references for 1-D integrals — critical points and exact
basin masses (SC.eq6's exact counterpart), log Z, the free energy F(p) and KL (RND.eq28, App. E)."""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

from numerics.reference_quadrature import (
    FreeEnergyInputError,
    LaplaceError,
    exact_basin_log_masses_1d,
    find_critical_points_1d,
    free_energy_1d,
    kl_divergence_1d,
    log_partition_1d,
)
from theory.free_energy import gaussian_free_energy, gibbs_log_density
from theory.laplace import gaussian_mixture, leading_order_log_weights

x = sp.Symbol("x", real=True)
T = sp.Symbol("T", positive=True)


# ---------------------------------------------------------------------------- critical points, basin masses
def _weights_error_sweep(v, lower, upper, Ts):
    mins, maxs = find_critical_points_1d(v, x, lower, upper, grid=600)
    errs = []
    for t in Ts:
        tf = sp.Float(t, 30)
        lw = [mpmath.mpf(str(sp.N(a, 25))) for a in gaussian_mixture(v, x, mins, tf).log_weights]
        ex = exact_basin_log_masses_1d(v, x, tf, mins, lower=lower, upper=upper, maxima=maxs)
        lse = mpmath.log(mpmath.fsum(mpmath.exp(e) for e in ex))
        errs.append(float(max(abs(mpmath.exp(a - (b - lse)) - 1) for a, b in zip(lw, ex))))
    return mins, errs


def test_laplace_weights_error_shrinks_linearly_in_T():
    """Tilted asymmetric triple well: SC.eq6 weights vs quadrature, error ∝ T (slope ≈ 1)."""
    v = 2 * x ** 2 * (x ** 2 - 1) ** 2 + x / 20 + x ** 3 / 40
    Ts = np.geomspace(0.005, 0.05, 5)
    mins, errs = _weights_error_sweep(v, -3, 3, Ts)
    assert len(mins) == 3
    slope = np.polyfit(np.log(Ts), np.log(errs), 1)[0]
    print(f"triple well: Laplace weight error slope = {slope:.3f}; errors = {errs}")
    assert 0.8 < slope < 1.2
    assert errs[0] < 0.05 and errs[-1] > errs[0]


def test_leading_order_is_limit_of_sc6_with_state_dependent_D():
    """1-D: v = ṽ + (T/2) log D; log-weight gap between SC.eq6 (exact μ(T)) and RND.eq20 is O(T)."""
    U = (x ** 2 - 1) ** 2 + x / 8
    D = 1 + x / 4 + x ** 2 / 4
    vt = sp.integrate(sp.diff(U, x) / D, x)
    at = sp.log(D)
    tr, _ = find_critical_points_1d(U, x, -3, 3)
    gaps = []
    for t in (0.004, 0.002):
        tf = sp.Float(t, 30)
        mins, _ = find_critical_points_1d(vt + tf / 2 * at, x, -3, 3)
        sc6 = gaussian_mixture(vt + tf / 2 * at, x, mins, tf).log_weights
        lo = leading_order_log_weights([vt.subs(x, m) for m in tr], [at.subs(x, m) for m in tr],
                                       [D.subs(x, m) for m in tr],
                                       [sp.diff(U, x, 2).subs(x, m) for m in tr], tf)
        gaps.append(max(abs(float(sp.N(a - b))) for a, b in zip(sc6, lo)))
    assert gaps[1] < 0.6 * gaps[0] and gaps[0] < 0.02


def test_find_critical_points_and_errors():
    mins, maxs = find_critical_points_1d((x ** 2 - 1) ** 2, x, -2, 2.1)
    assert [float(m) for m in mins] == pytest.approx([-1, 1]) and float(maxs[0]) == pytest.approx(0, abs=1e-20)
    with pytest.raises(LaplaceError):
        find_critical_points_1d(x ** 2, x, 1, 0)
    with pytest.raises(LaplaceError, match="free symbols"):
        find_critical_points_1d(x ** 2 + T * x, x, -1, 1)


def test_exact_masses_of_a_quadratic_and_errors():
    lam, tv = 4, 0.01
    lm = exact_basin_log_masses_1d(lam * x ** 2 / 2, x, tv, [0], lower=-5, upper=5)
    assert float(lm[0]) == pytest.approx(0.5 * math.log(math.pi * tv / lam), abs=1e-10)
    with pytest.raises(LaplaceError):
        exact_basin_log_masses_1d(x ** 2, x, tv, [], lower=-1, upper=1)
    with pytest.raises(LaplaceError):
        exact_basin_log_masses_1d((x ** 2 - 1) ** 2, x, tv, [1, -1], lower=-2, upper=2)
    with pytest.raises(ValueError):
        exact_basin_log_masses_1d(x ** 2, x, 0, [0], lower=-1, upper=1)


def test_find_critical_points_degenerate_and_inflection():
    x = sp.Symbol("x")
    mins, maxs = find_critical_points_1d(x**4, x, -1, 1, grid=200)        # minimum on a node, v'' = 0
    assert [float(m) for m in mins] == [0.0] and maxs == []
    mins, maxs = find_critical_points_1d(-(x - sp.Rational(1, 7))**4, x, -1, 1, grid=200)
    assert mins == [] and abs(float(maxs[0]) - 1 / 7) < 1e-6
    assert find_critical_points_1d(x**3, x, -1, 1, grid=200) == ([], [])  # stationary inflection


def test_close_roots_in_neighbouring_grid_cells_are_bracketed_separately():
    """v' = (x − r1)(x − r2) with r1, r2 in consecutive cells of the 0.001 scan: each root is
    refined inside its own cell (a two-cell bracket would hold both roots and no sign change)."""
    r1, r2 = sp.Rational(3003, 10000), sp.Rational(3013, 10000)
    v = x ** 3 / 3 - (r1 + r2) * x ** 2 / 2 + r1 * r2 * x
    mins, maxs = find_critical_points_1d(v, x, -1, 1)
    assert len(mins) == 1 and len(maxs) == 1
    assert abs(maxs[0] - r1) < 1e-25 and abs(mins[0] - r2) < 1e-25


def test_odd_multiplicity_root_is_refined_by_bisection():
    """v = (x − 1/3)⁴: v' has a triple root the anderson solver cannot polish; the bisection
    fallback returns the midpoint of its final bracket, |μ − 1/3| ≲ 2^−112."""
    mins, maxs = find_critical_points_1d((x - sp.Rational(1, 3)) ** 4, x, -1, 1)
    assert maxs == [] and len(mins) == 1
    assert abs(mins[0] - sp.Rational(1, 3)) < 1e-25


def test_exact_basin_masses_find_the_maxima_themselves():
    v = (x ** 2 - 1) ** 2 + x / 4
    mins, maxs = find_critical_points_1d(v, x, -3, 3)
    tv = sp.Rational(1, 5)
    given = exact_basin_log_masses_1d(v, x, tv, mins, lower=-3, upper=3, maxima=maxs)
    found = exact_basin_log_masses_1d(v, x, tv, mins, lower=-3, upper=3)
    assert [float(a) for a in found] == pytest.approx([float(b) for b in given], rel=1e-12)
    with pytest.raises(LaplaceError, match="sorted"):
        exact_basin_log_masses_1d(v, x, tv, list(reversed(mins)), lower=-3, upper=3)


def test_critical_points_on_scan_nodes_and_at_the_ends():
    mins, maxs = find_critical_points_1d(x ** 2, x, -1, 1)  # v'(0) = 0 exactly on the middle node
    assert [float(m) for m in mins] == [0.0] and maxs == []
    mins, maxs = find_critical_points_1d(-(x ** 2), x, -1, 1)
    assert mins == [] and [float(m) for m in maxs] == [0.0]
    # v = x²/2 − x⁴/4 on [0, 1.5]: v'(0) = 0 at the first node is an end point, not an extremum
    # (v' < 0 at the last node must not be read as its left neighbour)
    mins, maxs = find_critical_points_1d(x ** 2 / 2 - x ** 4 / 4, x, 0, sp.Rational(3, 2))
    assert mins == [] and len(maxs) == 1 and abs(maxs[0] - 1) < 1e-25
    with pytest.raises(LaplaceError, match="distinct"):
        exact_basin_log_masses_1d((x ** 2 - 1) ** 2, x, sp.Rational(1, 5), [-1, -1], lower=-3, upper=3,
                                  maxima=[])


# ---------------------------------------------------------------------------- log Z, F(p), KL (App. E)
def test_quadrature_free_energy_matches_gaussian_closed_form():
    T = sp.Rational(1, 2)
    v = x**2  # k = 2 → p* = N(0, T/4)
    F_q = free_energy_1d(gibbs_log_density(v, 0, T), v, 0, T, x, (-6, 6))
    F_g = gaussian_free_energy(0, T / 4, v, 0, T, x)
    assert float(F_q) == pytest.approx(float(F_g), abs=1e-12)
    lZ = log_partition_1d(v, 0, T, x, (-6, 6))
    assert float(lZ) == pytest.approx(float(sp.log(sp.sqrt(sp.pi * T / 2))), abs=1e-12)


def test_perturbation_raises_free_energy_by_half_T_kl():
    T = sp.Rational(1, 2)
    v, a = (x**2 - 1) ** 2, sp.log(1 + x**2)
    lp = gibbs_log_density(v, a, T)
    F0 = free_energy_1d(lp, v, a, T, x, (-4, 4))
    F1 = free_energy_1d(lp + x / 3, v, a, T, x, (-4, 4))
    kl = kl_divergence_1d(lp + x / 3, lp, x, (-4, 4))
    assert F1 > F0
    assert float(F1 - F0) == pytest.approx(float(T / 2 * kl), rel=1e-10)


@pytest.mark.parametrize("T, c", [(sp.Rational(1, 200), 0), (sp.Rational(1, 2000), sp.Rational(3, 10))])
def test_small_temperature_log_partition_is_exact(T, c):
    """log ∫_{−3}^{3} exp(−2((θ−c)² + 5)/T) = −10/T + ½ log(πT/2) (the erf tails are < e^{−700}):
    −2002.4234 at T = 1/200. Regression: the unshifted mpmath quadrature of an e^{−2000}-sized
    integrand stopped at its first degree (absolute error control) and gave −2002.4160; the
    30-digit quadrature now agrees to 1e-12 also when the peak is off the breakpoints (c = 0.3)."""
    lZ = log_partition_1d((x - c) ** 2 + 5, 0, T, x, (-3, 3))
    exact = -10 / T + sp.log(sp.pi * T / 2) / 2
    assert float(lZ) == pytest.approx(float(exact), rel=0, abs=1e-12)
    assert float(exact) == pytest.approx(-2002.4234 if c == 0 else -20003.5747, abs=1e-4)


def test_typed_errors_of_the_free_energy_quadratures():
    assert issubclass(FreeEnergyInputError, ValueError) and issubclass(LaplaceError, ValueError)
    with pytest.raises(FreeEnergyInputError, match="interval"):
        log_partition_1d(x**2, 0, 1, x, (1, -1))
    with pytest.raises(FreeEnergyInputError, match="substitute numbers"):
        log_partition_1d(sp.Symbol("k") * x**2, 0, 1, x, (-1, 1))
    with pytest.raises(FreeEnergyInputError, match="T must be a number"):
        free_energy_1d(-x**2, x**2, 0, sp.Symbol("T"), x, (-1, 1))
    with pytest.raises(FreeEnergyInputError, match="one coordinate"):
        kl_divergence_1d(-x**2, -x**2, sp.symbols("a b"), (-1, 1))
    with pytest.raises(TypeError):
        log_partition_1d(x**2, 0, 1, x, "(-1, 1)")


def test_exact_masses_need_a_numeric_temperature():
    with pytest.raises(LaplaceError, match="must be a number"):
        exact_basin_log_masses_1d(x ** 2, x, T, [0], lower=-1, upper=1)


def test_free_energy_and_kl_use_the_theory_integrands():
    """F(p) and KL equal direct mpmath quadratures of the integrands written out (App. E eq. 56):
    p ṽ + (T/2) p ã + (T/2) p log p and p log(p/q), for a non-Gibbs p and an off-centre q."""
    Tn = sp.Rational(2, 5)
    v, a = (x**2 - 1) ** 2, x**2 / 10
    log_p, log_q = -(x - sp.Rational(1, 2)) ** 2 * 3, -x**2 - x / 3
    box = (-3, 3)
    with mpmath.workdps(30):
        fp, fq = (sp.lambdify(x, e, "mpmath") for e in (log_p, log_q))
        vf, af = (sp.lambdify(x, e, "mpmath") for e in (v, a))
        Np = mpmath.quad(lambda t: mpmath.exp(fp(t)), [-3, 0, 3])
        Nq = mpmath.quad(lambda t: mpmath.exp(fq(t)), [-3, 0, 3])
        tn = mpmath.mpf(2) / 5

        def f_int(t):
            lp = fp(t) - mpmath.log(Np)
            return mpmath.exp(lp) * (vf(t) + tn / 2 * af(t) + tn / 2 * lp)

        F_ref = mpmath.quad(f_int, [-3, 0, 0.5, 3])
        kl_ref = mpmath.quad(lambda t: mpmath.exp(fp(t)) / Np * (fp(t) - mpmath.log(Np) - fq(t) + mpmath.log(Nq)),
                             [-3, 0, 0.5, 3])
    assert abs(free_energy_1d(log_p, v, a, Tn, x, box) - F_ref) < 1e-20
    kl = kl_divergence_1d(log_p, log_q, x, box)
    assert kl > 0.1 and abs(kl - kl_ref) < 1e-20
