"""numerics.stationary: exact basin weights vs an independent quadrature, log-space densities,
numerical effective potential vs closed forms, optimal temperature, typed errors."""
import numpy as np
import pytest
import sympy as sp

from numerics.landscapes import WellMixture, preset
from numerics.stationary import (
    BasinMergeError,
    DiffusionNotPositiveError,
    DomainError,
    NonFiniteError,
    StationaryProblem1D,
    TemperatureError,
    basin_log_masses_adaptive,
    chebyshev_panels,
    effective_potential_1d,
    effective_potential_2d,
    effective_potential_integrand,
    anchored_cumulative_integral,
    log_density_on_grid,
    normalise_log_density,
    optimal_temperature,
    stationary_on_uniform_grid_1d,
)
from theory.effective_potential import drift_field

th = sp.Symbol("theta", real=True)


@pytest.fixture(scope="module")
def three_basin():
    m = preset("SC.fig6.right").model
    return StationaryProblem1D(m.train_loss(th), th, test_loss=m.test_loss(th), domain=(-3, 3),
                               expected_basins=3)


@pytest.fixture(scope="module")
def two_basin():
    m = preset("SC.fig4.left").model
    return StationaryProblem1D(m.train_loss(th), th, test_loss=m.test_loss(th), domain=(-3, 3),
                               expected_basins=2)


@pytest.mark.parametrize("T", [1e-5, 1e-3, 0.03, 1.0])
def test_basin_weights_match_independent_quadrature(three_basin, T):
    s = three_basin.state(T)
    ref = np.exp(basin_log_masses_adaptive(three_basin, T))
    np.testing.assert_allclose(s.basin_weights, ref, rtol=0, atol=1e-6)
    assert s.basin_weights.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("T", [1e-5, 1e-4, 1e-2, 1.0])
def test_density_normalised_and_finite(two_basin, T):
    import mpmath as mp

    s = two_basin.state(T)
    assert np.all(np.isfinite(s.log_density))
    assert np.sum(s.grid.weights * np.exp(s.log_density)) == pytest.approx(1.0, abs=1e-10)
    # E_ρ[U_train], E_ρ[U_test] against mpmath quadrature of exp(−2(U − U_min)/T) (D = 1), split
    # at the minima and the top so tanh–sinh resolves wells of width sqrt(T)
    Uf = sp.lambdify(th, two_basin.train_loss_expr, "mpmath")
    Utf = sp.lambdify(th, two_basin.test_loss_expr, "mpmath")
    bks = two_basin.basins
    pts = [bks[0].left, bks[0].minimum, bks[0].right, bks[1].minimum, bks[1].right]
    with mp.workdps(25):
        umin = min(Uf(b.minimum) for b in bks)
        rho = lambda t: mp.exp(-2 * (Uf(t) - umin) / T)  # noqa: E731
        Z = mp.quad(rho, pts)
        train = mp.quad(lambda t: rho(t) * Uf(t), pts) / Z
        test = mp.quad(lambda t: rho(t) * Utf(t), pts) / Z
    assert s.train_loss == pytest.approx(float(train), rel=1e-9)
    assert s.test_loss == pytest.approx(float(test), rel=1e-9)
    assert s.log_partition == pytest.approx(float(mp.log(Z)) - 2 * float(umin) / T, rel=1e-10)


def test_laplace_weights_converge_as_T_to_zero(two_basin):
    errs = [np.abs(two_basin.state(T).laplace_weights - two_basin.state(T).basin_weights).max()
            for T in (3e-3, 1e-3)]
    assert errs[1] < errs[0] < 1e-3


def test_numerical_effective_potential_matches_closed_form_D_equals_U():
    # SC.B1.ex1 with f = log U: D = U ⇒ v = (1 + T/2) log U (here U > 0 on the domain)
    U = 1 + (th ** 2 - 1) ** 2 + th / 5
    T = 0.3
    x = np.linspace(-2, 2, 4001)
    v = effective_potential_1d(U, U, th, T, x)
    closed = (1 + T / 2) * np.log(np.array([float(U.subs(th, t)) for t in x[::400]]))
    np.testing.assert_allclose(v[::400] - v[0], closed - closed[0], atol=1e-9)
    # the panel scheme (non-constant D path) agrees with the closed form too
    prob = StationaryProblem1D(U, th, diffusion=U, domain=(-2, 2))
    st = prob.state(T)
    Uf = sp.lambdify(th, U)
    cf = (1 + T / 2) * np.log(Uf(st.grid.nodes))
    np.testing.assert_allclose(st.effective_potential - st.effective_potential[0, 0], cf - cf[0, 0], atol=1e-10)
    ref = np.exp(basin_log_masses_adaptive(prob, T))
    np.testing.assert_allclose(st.basin_weights, ref, atol=1e-6)


def test_integrand_matches_theory_drift_field():
    U, D = th ** 4 - th ** 2, 1 + th ** 2 / 3
    T = sp.Symbol("T", positive=True)
    mine = effective_potential_integrand(U, D, th, T)[0]
    assert sp.simplify(mine - drift_field(U, D, th, T)[0]) == 0


def test_log_density_on_grid_extreme_temperatures():
    from scipy.special import erf

    x = np.linspace(-3, 3, 6001)
    v = x ** 2 - 5.0  # deep negative potential: exp(+1e6) without log space
    for T in (1e-5, 1.0):
        lr = log_density_on_grid(v, T, x)
        assert np.all(np.isfinite(lr))
        assert np.trapezoid(np.exp(lr), x) == pytest.approx(1.0, abs=1e-9)
        # log ρ(0) = −log ∫_{−3}^{3} exp(−2θ²/T) = −½ log(πT/2) − log erf(3 sqrt(2/T)) (the −5
        # cancels); the trapezoid rule on a Gaussian is accurate far below 1e-9 here
        exact = -0.5 * np.log(np.pi * T / 2) - np.log(erf(3 * np.sqrt(2 / T)))
        assert lr[3000] == pytest.approx(exact, abs=1e-9)


def test_effective_potential_2d_quadratic():
    a, b = sp.symbols("a b", real=True)
    U = a ** 2 + 2 * b ** 2 + a * b
    v = effective_potential_2d(U, sp.eye(2) * 2, [a, b], 0.1, np.linspace(-1, 1, 41), np.linspace(-1, 1, 61))
    X, Y = np.meshgrid(np.linspace(-1, 1, 41), np.linspace(-1, 1, 61), indexing="ij")
    exact = (X ** 2 + 2 * Y ** 2 + X * Y) / 2
    np.testing.assert_allclose(v - v[0, 0], exact - exact[0, 0], atol=1e-10)


def test_chebyshev_panels_integrate_polynomials_exactly():
    g = chebyshev_panels([0.0, 0.3, 1.0, 2.0], degree=8)
    f = g.nodes ** 5
    assert np.sum(g.weights * f) == pytest.approx(2.0 ** 6 / 6, rel=1e-13)
    cum = g.cumulative_integral(f)
    np.testing.assert_allclose(cum, g.nodes ** 6 / 6, atol=1e-12)


def test_optimal_temperature_exists_for_sc_fig4_left(two_basin):
    grid = np.geomspace(1e-3, 1.0, 13)
    opt = optimal_temperature(two_basin, grid)
    assert opt.T is not None and 5e-3 < opt.T < 0.1
    assert opt.uncertainty < 0.05 * opt.T
    Ls = [two_basin.state(t).test_loss for t in (opt.T * 0.8, opt.T, opt.T * 1.25)]
    assert Ls[1] <= min(Ls[0], Ls[2])
    assert opt.test_loss == pytest.approx(Ls[1], rel=1e-12)
    # the bracket is the sweep's argmin's two neighbours
    i = int(np.argmin([two_basin.state(t).test_loss for t in grid]))
    assert opt.bracket == (pytest.approx(grid[i - 1], rel=1e-12), pytest.approx(grid[i + 1], rel=1e-12))
    # components as documented: Brent tolerance T*·xatol, flatness T*·sqrt(2ε|L|/L_ss) with L_ss
    # the curvature in s = log T (checked against a finite difference with a smaller step)
    c = opt.components
    assert c["brent_tolerance"] == pytest.approx(opt.T * 1e-6, rel=1e-12)
    h = 5e-3
    Lss = (two_basin.state(opt.T * np.exp(h)).test_loss - 2 * opt.test_loss
           + two_basin.state(opt.T * np.exp(-h)).test_loss) / h ** 2
    assert c["log_T_curvature"] == pytest.approx(Lss, rel=0.02)
    assert c["flatness"] == pytest.approx(opt.T * np.sqrt(2e-10 * abs(opt.test_loss) / c["log_T_curvature"]),
                                          rel=1e-12)
    assert 0 <= c["grid_refinement"] < 0.05 * opt.T
    assert opt.uncertainty == max(c["brent_tolerance"], c["flatness"], c["grid_refinement"])


def test_no_optimal_temperature_when_both_losses_rise():
    m = preset("SC.fig6.left").model  # one basin: test loss only rises with T
    prob = StationaryProblem1D(m.train_loss(th), th, test_loss=m.test_loss(th), domain=(-3, 3))
    opt = optimal_temperature(prob, np.geomspace(1e-3, 0.1, 5))
    assert opt.T is None and opt.uncertainty is None and opt.bracket is None
    assert opt.components == {"argmin_at_end": pytest.approx(1e-3, rel=1e-12)}  # the lowest T


def test_errors_are_typed_and_named(two_basin):
    with pytest.raises(TemperatureError):
        two_basin.state(0.0)
    with pytest.raises(TemperatureError):
        two_basin.state(-1e-3)
    with pytest.raises(TemperatureError):
        two_basin.state(float("nan"))
    m = preset("SC.fig4.left").model
    with pytest.raises(DomainError, match="domain"):
        StationaryProblem1D(m.train_loss(th), th, domain=(-3, 0.5))  # cuts the right basin
    with pytest.raises(DomainError, match="domain"):
        StationaryProblem1D(m.train_loss(th), th, domain=(1, -1))
    merged = WellMixture([-0.05, 0.05], [0.1, 0.1], [0.5, 0.5], c=0.001)
    with pytest.raises(BasinMergeError, match="basins"):
        StationaryProblem1D(merged.train_loss(th), th, domain=(-3, 3), expected_basins=2)
    with pytest.raises(NonFiniteError, match="D"):
        StationaryProblem1D(th ** 2, th, diffusion=th, domain=(-1, 1))
    with pytest.raises(NonFiniteError):
        effective_potential_1d(th ** 2, th, th, 0.1, np.linspace(-1, 1, 11))


def test_critical_point_exactly_on_a_scan_node_is_found():
    """Regression: a derivative that is exactly 0 on a scan node (no strict sign change between
    neighbours) must still give a critical point (seen with the one-basin RND.H2.left preset)."""
    import numpy as np
    import sympy as sp

    from numerics.stationary import StationaryProblem1D

    th = sp.Symbol("theta")
    prob = StationaryProblem1D(th**2 / 2, th, domain=(-3, 3))
    x = np.array([-0.2, -0.1, 0.0, 0.1, 0.2])
    mins, maxs = prob._critical_points(lambda t: t, x, x)
    assert mins == [0.0] and maxs == []
    mins, maxs = prob._critical_points(lambda t: -t, -x, x)
    assert mins == [] and maxs == [0.0]


# --------------------------------------------------------------------------------------------------
# Laplace predictions and expectations against closed forms / independent quadrature
# --------------------------------------------------------------------------------------------------
# U' = θ(θ − 1)(θ + 2): minima −2 (U = −8/3, U'' = 6) and 1 (U = −5/12, U'' = 3), maximum 0.
POLY = th ** 4 / 4 + th ** 3 / 3 - th ** 2
POLY_MIN = np.array([-2.0, 1.0])
POLY_DEPTH = np.array([-8 / 3, -5 / 12])
POLY_CURV = np.array([6.0, 3.0])


@pytest.mark.parametrize("T", [0.05, 1.0])
def test_laplace_quantities_match_closed_forms_constant_D(T):
    """Constant D: v = U/D, μ_k = θ_k^tr, v'' = U''/D, Σ_k = T/(2v'') = TD/(2U''), SC.eq6 weights
    w_k ∝ exp(−2U_k/(DT)) (U''_k/D)^{−1/2}, and SC.eq4 losses with b_k = 0:
    train Σ w_k (U_k + ½U''_kΣ_k), test Σ w_k (U^te_k + ½C^te_k Σ_k + ½C^te_k s_k²)."""
    D, s, scale, lift = 2.0, 0.1, 1.5, 0.2
    test = scale * POLY.subs(th, th - s) + lift  # minima shifted by s, curvature ×1.5
    prob = StationaryProblem1D(POLY, th, diffusion=D, test_loss=test, domain=(-3.5, 2.5),
                               expected_basins=2)
    np.testing.assert_allclose([b.minimum for b in prob.basins], POLY_MIN, atol=1e-12)
    np.testing.assert_allclose([b.depth for b in prob.basins], POLY_DEPTH, atol=1e-12)
    np.testing.assert_allclose([b.curvature for b in prob.basins], POLY_CURV, rtol=1e-10)
    np.testing.assert_allclose([b.test_minimum for b in prob.basins], POLY_MIN + s, atol=1e-12)
    st = prob.state(T)
    np.testing.assert_allclose(st.laplace_means, POLY_MIN, atol=1e-12)
    np.testing.assert_allclose(st.laplace_curvatures, POLY_CURV / D, rtol=1e-10)
    cov = T * D / (2 * POLY_CURV)
    np.testing.assert_allclose(st.laplace_covariances, cov, rtol=1e-10)
    logw = -2 * POLY_DEPTH / (D * T) - 0.5 * np.log(POLY_CURV / D)
    w = np.exp(logw - np.logaddexp.reduce(logw))
    np.testing.assert_allclose(st.laplace_weights, w, rtol=1e-10)
    np.testing.assert_allclose(st.laplace_log_weights, np.log(w), atol=1e-10)
    train = np.sum(w * (POLY_DEPTH + 0.5 * POLY_CURV * cov))
    assert st.train_loss_laplace == pytest.approx(train, rel=1e-10)
    C_te = scale * POLY_CURV
    test_l = np.sum(w * (scale * POLY_DEPTH + lift + 0.5 * C_te * cov + 0.5 * C_te * s ** 2))
    assert st.test_loss_laplace == pytest.approx(test_l, rel=1e-10)


@pytest.mark.parametrize("D, T", [(1.0, 1e-3), (2.0, 0.05), (0.5, 0.7)])
def test_gaussian_well_expectations_and_partition_are_exact(D, T):
    """U = cθ²/2, constant D: ρ = N(0, TD/(2c)) exactly, so log Z = ½ log(πDT/c),
    E[U] = TD/4 and E[U_test] = u0 + ½c'(TD/(2c) + s²) for U_test = c'(θ − s)²/2 + u0 —
    and the Laplace (SC.eq4) values coincide with these."""
    c, c_te, s, u0 = 3.0, 2.0, 0.4, 0.25
    prob = StationaryProblem1D(c * th ** 2 / 2, th, diffusion=D, domain=(-6, 6),
                               test_loss=c_te * (th - s) ** 2 / 2 + u0)
    st = prob.state(T)
    var = T * D / (2 * c)
    assert st.log_partition == pytest.approx(0.5 * np.log(np.pi * D * T / c), abs=1e-10)
    assert st.train_loss == pytest.approx(T * D / 4, rel=1e-9)
    assert st.test_loss == pytest.approx(u0 + 0.5 * c_te * (var + s ** 2), rel=1e-9)
    assert st.laplace_covariances[0] == pytest.approx(var, rel=1e-12)
    assert st.train_loss_laplace == pytest.approx(T * D / 4, rel=1e-12)
    assert st.test_loss_laplace == pytest.approx(u0 + 0.5 * c_te * (var + s ** 2), rel=1e-12)
    assert st.expectation(st.grid.nodes) == pytest.approx(0.0, abs=1e-10 * np.sqrt(var))
    assert st.expectation(st.grid.nodes ** 2) == pytest.approx(var, rel=1e-9)


def test_state_dependent_D_bias_closed_form():
    """U = θ²/2, D = 1 + θ (Itô): ρ ∝ (1+θ)^{2/T − 1} e^{−2θ/T} is a Gamma law in y = 1 + θ with
    mean 1 and variance T/2, so E[θ] = 0 and E[θ²] = T/2 exactly. The mode (minimum of v) is
    μ = −T/2, v''(μ) = 1/(1 − T/2), Σ = T(1 − T/2)/2 and the SC bias b = θ^tr − μ = +T/2 enters
    SC.eq4 as ½C(s + b)²: the Laplace test loss is u0 + ½c'(Σ + (s + b)²)."""
    T, c_te, s, u0 = 0.1, 2.0, 0.3, 0.1
    prob = StationaryProblem1D(th ** 2 / 2, th, diffusion=1 + th, domain=(-0.9, 3.0),
                               test_loss=c_te * (th - s) ** 2 / 2 + u0)
    assert not prob.constant_diffusion
    st = prob.state(T)
    mu, sig, b = -T / 2, T * (1 - T / 2) / 2, T / 2
    assert st.laplace_means[0] == pytest.approx(mu, abs=1e-12)
    assert st.laplace_curvatures[0] == pytest.approx(1 / (1 - T / 2), rel=1e-9)
    assert st.laplace_covariances[0] == pytest.approx(sig, rel=1e-9)
    assert st.train_loss_laplace == pytest.approx(0.5 * (sig + b ** 2), rel=1e-9)
    laplace_test = u0 + 0.5 * c_te * (sig + (s + b) ** 2)
    assert st.test_loss_laplace == pytest.approx(laplace_test, rel=1e-9)
    # the bias term matters here: dropping it or flipping its sign moves the value by ≥ 0.015
    assert abs(laplace_test - (u0 + 0.5 * c_te * (sig + s ** 2))) > 0.015
    assert abs(laplace_test - (u0 + 0.5 * c_te * (sig + (s - b) ** 2))) > 0.03
    # the exact expectations (non-constant-D path: v by spectral line integration)
    assert st.train_loss == pytest.approx(T / 4, rel=1e-8)
    assert st.test_loss == pytest.approx(u0 + 0.5 * c_te * (T / 2 + s ** 2), rel=1e-8)
    assert st.expectation(st.grid.nodes) == pytest.approx(0.0, abs=1e-9)


def test_state_dependent_D_two_basins_against_mpmath():
    """Tilted double well with D = 1 + θ/2 + θ²/4 at T = 0.25 (both basins weigh, biases up to
    0.08): exact basin weights, E_ρ[U], E_ρ[U_test] against mpmath quadrature of ρ ∝ exp(−2v/T)
    with v integrated symbolically, and the SC.eq6/SC.eq4 Laplace weights and test loss against
    an independent mpmath evaluation (findroot for θ_k^tr, θ_k^te, μ_k; quad for v(μ_2) − v(μ_1);
    diff for v'')."""
    import mpmath as mp

    T, s, scale = 0.25, 0.2, 1.3
    U = th ** 4 / 4 - th ** 2 / 2 + th / 10
    D = 1 + th / 2 + th ** 2 / 4
    U_te = scale * U.subs(th, th - s)
    a, b_dom = -2.5, 2.5
    prob = StationaryProblem1D(U, th, diffusion=D, test_loss=U_te, domain=(a, b_dom),
                               expected_basins=2)
    st = prob.state(T)

    Tm = sp.Rational(1, 4)
    V = (sp.diff(U, th) + Tm / 2 * sp.diff(D, th)) / D
    v = sp.lambdify(th, sp.integrate(sp.apart(sp.together(V), th), th), "mpmath")
    Vf, dV = sp.lambdify(th, V, "mpmath"), sp.lambdify(th, sp.diff(V, th), "mpmath")
    Uf, Utef = sp.lambdify(th, U, "mpmath"), sp.lambdify(th, U_te, "mpmath")
    dU, dUte = sp.lambdify(th, sp.diff(U, th), "mpmath"), sp.lambdify(th, sp.diff(U_te, th), "mpmath")
    with mp.workdps(30):
        tr = [mp.findroot(dU, g) for g in (-1, 1)]
        top = mp.findroot(dU, 0.1)
        te = [mp.findroot(dUte, g + s) for g in (-1, 1)]
        mus = [mp.findroot(Vf, g) for g in tr]
        vmin = min(v(m) for m in mus)
        rho = lambda t: mp.exp(-2 * (v(t) - vmin) / T)  # noqa: E731
        m1 = mp.quad(rho, [a, mus[0], top])
        m2 = mp.quad(rho, [top, mus[1], b_dom])
        Z = m1 + m2
        EU = (mp.quad(lambda t: rho(t) * Uf(t), [a, mus[0], top, mus[1], b_dom])) / Z
        EUte = (mp.quad(lambda t: rho(t) * Utef(t), [a, mus[0], top, mus[1], b_dom])) / Z
        curv = [dV(m) for m in mus]
        ll = [-2 * v(m) / T - mp.log(c) / 2 for m, c in zip(mus, curv)]
        w = [mp.exp(l - max(ll)) for l in ll]
        w = [x / sum(w) for x in w]
        sig = [T / (2 * c) for c in curv]
        Cte = [scale * (3 * (t - s) ** 2 - 1) for t in te]  # U_te'' at its minima
        loss = sum(wk * (Utef(tk) + Ck * sk / 2 + Ck * ((tk - trk) + (trk - mk)) ** 2 / 2)
                   for wk, tk, trk, mk, Ck, sk in zip(w, te, tr, mus, Cte, sig))
    np.testing.assert_allclose(st.basin_weights, [float(m1 / Z), float(m2 / Z)], rtol=1e-9)
    assert st.train_loss == pytest.approx(float(EU), rel=1e-9)
    assert st.test_loss == pytest.approx(float(EUte), rel=1e-9)
    np.testing.assert_allclose(st.laplace_means, [float(m) for m in mus], atol=1e-11)
    biases = np.array([float(t - m) for t, m in zip(tr, mus)])
    assert np.abs(biases).max() > 0.07  # the bias path is really exercised
    np.testing.assert_allclose(st.laplace_covariances, [float(x) for x in sig], rtol=1e-9)
    np.testing.assert_allclose(st.laplace_weights, [float(x) for x in w], rtol=1e-9)
    assert st.test_loss_laplace == pytest.approx(float(loss), rel=1e-9)


def test_grids_of_two_points_are_accepted_and_repeated_points_refused():
    # two nodes: the trapezoid rule, starting at 0 — ∫_0^1 θ dθ = 1/2 for U = θ²/2, D = 1
    v = effective_potential_1d(th ** 2 / 2, 1, th, 0.1, [0.0, 1.0])
    np.testing.assert_allclose(v, [0.0, 0.5], atol=1e-15)
    lr = log_density_on_grid([0.0, 0.0], 0.5, [0.0, 2.0])
    np.testing.assert_allclose(lr, np.log([0.5, 0.5]), atol=1e-15)
    with pytest.raises(ValueError, match="strictly increasing"):
        effective_potential_1d(th ** 2, 1, th, 0.1, [0.0, 0.5, 0.5, 1.0])
    with pytest.raises(ValueError, match="at least 2 points"):
        log_density_on_grid([0.0], 0.1, [0.0])


def test_temperature_errors_name_the_argument():
    from numerics.stationary import check_temperature

    with pytest.raises(TemperatureError, match="^T must"):
        check_temperature(-1.0)
    with pytest.raises(TemperatureError, match=r"^temperatures\[1\] must"):
        StationaryProblem1D(th ** 2, th, domain=(-1, 1)).sweep([0.1, 0.0])
    with pytest.raises(TemperatureError):
        effective_potential_2d(th ** 2, sp.eye(2), [th, sp.Symbol("y")], 0.0, [0, 1], [0, 1])
    with pytest.raises(NonFiniteError, match="integrand D⁻¹"):
        effective_potential_1d(th ** 2, th, th, 0.1, np.linspace(-1, 1, 11))


def test_sweep_collects_states_in_order(two_basin):
    Ts = [0.3, 0.01, 0.05]
    sw = two_basin.sweep(Ts)
    np.testing.assert_array_equal(sw.temperatures, Ts)
    for i, T in enumerate(Ts):
        st = two_basin.state(T)
        assert sw.train_loss[i] == st.train_loss and sw.test_loss[i] == st.test_loss
        np.testing.assert_array_equal(sw.basin_weights[i], st.basin_weights)
        np.testing.assert_array_equal(sw.basin_weights_laplace[i], st.laplace_weights)
        assert sw.train_loss_laplace[i] == st.train_loss_laplace
        assert sw.test_loss_laplace[i] == st.test_loss_laplace
    no_test = StationaryProblem1D(th ** 2 / 2, th, domain=(-4, 4)).sweep([0.1, 0.2])
    assert no_test.test_loss is None and no_test.test_loss_laplace is None
    np.testing.assert_allclose(no_test.train_loss, [0.1 / 4, 0.2 / 4], rtol=1e-9)


def test_panel_grid_flat_drops_shared_endpoints():
    g = chebyshev_panels([0.0, 0.5, 2.0], degree=4)
    x = g.flat()
    assert x.shape == (2 * 4 + 1,) and np.all(np.diff(x) > 0) and x[0] == 0.0 and x[-1] == 2.0
    xv, vals = g.flat(g.nodes ** 2)
    np.testing.assert_array_equal(xv, x)
    np.testing.assert_allclose(vals, x ** 2, rtol=1e-15)
    st = StationaryProblem1D(th ** 2 / 2, th, domain=(-2, 2)).state(0.1)
    cx, lr = st.curve()
    assert cx.size == lr.size and np.all(np.diff(cx) > 0)


def test_basin_records_train_and_test_minima():
    test = 1.5 * POLY.subs(th, th - 0.1) + 0.2
    prob = StationaryProblem1D(POLY, th, test_loss=test, domain=(-3.5, 2.5), expected_basins=2)
    (b1, b2) = prob.basins
    assert (b1.left, b2.right) == (-3.5, 2.5)
    assert b1.right == pytest.approx(0.0, abs=1e-12) and b2.left == b1.right
    np.testing.assert_allclose([b1.test_depth, b2.test_depth], 1.5 * POLY_DEPTH + 0.2, rtol=1e-12)
    np.testing.assert_allclose([b1.test_curvature, b2.test_curvature], 1.5 * POLY_CURV, rtol=1e-9)


@pytest.mark.parametrize("T", [1e-4, 1e-6])
def test_low_temperature_is_resolved_on_a_coarse_grid(T):
    """The breakpoints cluster geometrically around each minimum at the Laplace width, so even four
    coarse panels resolve a well of width ~ sqrt(T): log Z of the Gaussian well stays exact."""
    c = 3.0
    st = StationaryProblem1D(c * th ** 2 / 2, th, domain=(-6, 6), coarse_panels=4).state(T)
    assert st.log_partition == pytest.approx(0.5 * np.log(np.pi * T / c), abs=1e-9)
    assert st.train_loss == pytest.approx(T / 4, rel=1e-8)


def test_state_echoes_T_and_a_domain_may_end_at_a_maximum():
    st = StationaryProblem1D(th ** 2 / 2, th, domain=(-4, 4)).state(0.2)
    assert st.T == 0.2
    # U = (θ² − 1)² on (−1.5, 0): the right end is the top (U'(0) = 0 exactly) — one basin
    prob = StationaryProblem1D((th ** 2 - 1) ** 2, th, domain=(-1.5, 0.0))
    (bk,) = prob.basins
    assert bk.minimum == pytest.approx(-1.0, abs=1e-12) and bk.right == 0.0


def test_integrand_with_identity_D_in_2d():
    y = sp.Symbol("y", real=True)
    V = effective_potential_integrand(th ** 2 + 2 * y ** 2, sp.eye(2), [th, y], sp.Rational(1, 2))
    assert list(V) == [2 * th, 4 * y]


def test_real_theta_builds_on_plain_symbols_with_the_same_result():
    """The build differentiates and compiles on assumption-free symbols: a real θ and a
    positive-D parameter give the same compiled functions and weights as plain symbols, the *_expr
    attributes keep the user's symbols."""
    p = sp.Symbol("theta")
    U = lambda t: (t ** 2 - 1) ** 2 + t / 4  # noqa: E731
    D = lambda t: 1 + t ** 2 / 2  # noqa: E731
    real = StationaryProblem1D(U(th), th, diffusion=D(th), test_loss=U(th) / 2, domain=(-2, 2))
    plain = StationaryProblem1D(U(p), p, diffusion=D(p), test_loss=U(p) / 2, domain=(-2, 2))
    assert real.train_loss_expr.free_symbols == {th} and real.diffusion_expr.free_symbols == {th}
    x = np.linspace(-2, 2, 101)
    np.testing.assert_array_equal(real._V(x, 0.1), plain._V(x, 0.1))
    np.testing.assert_array_equal(real._Ut(x), plain._Ut(x))
    np.testing.assert_array_equal(real.state(0.1).basin_weights, plain.state(0.1).basin_weights)


def test_three_point_grid_uses_simpson_and_2d_state_dependent_D():
    # three nodes: Simpson's rule, exact for the quadratic integrand 3θ² (trapezoid would give 9)
    v = effective_potential_1d(th ** 3, 1, th, 0.1, [0.0, 1.0, 2.0])
    assert v[-1] == pytest.approx(8.0, rel=1e-14)
    # 2-D, D = diag(1 + x², 1 + y²), U = x² + y²: v = (1 + T/2)(log(1 + x²) + log(1 + y²))
    y = sp.Symbol("y", real=True)
    T, xs, ys = 0.5, np.linspace(-1, 1.5, 41), np.linspace(-2, 1, 31)
    v2 = effective_potential_2d(th ** 2 + y ** 2, sp.diag(1 + th ** 2, 1 + y ** 2), [th, y], T, xs, ys)
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    exact = (1 + T / 2) * (np.log(1 + X ** 2) + np.log(1 + Y ** 2))
    np.testing.assert_allclose(v2 - v2[0, 0], exact - exact[0, 0], atol=2e-4)  # Simpson, h = 0.06


def test_no_optimal_temperature_when_the_test_loss_still_falls(two_basin):
    grid = np.geomspace(1e-3, 4e-3, 4)  # below SC.fig4.left's optimum (~0.02): L falls throughout
    opt = optimal_temperature(two_basin, grid)
    assert opt.T is None and opt.components == {"argmin_at_end": pytest.approx(4e-3, rel=1e-12)}


def test_a_domain_may_start_at_a_maximum():
    prob = StationaryProblem1D((th ** 2 - 1) ** 2, th, domain=(0.0, 1.5))  # U'(0) = 0 exactly
    (bk,) = prob.basins
    assert bk.left == 0.0 and bk.minimum == pytest.approx(1.0, abs=1e-12)


# ------------------------------------------------------------------ uniform-grid solver (RND Fig. H.4)
def test_normalise_log_density_rows_and_whole_array():
    rng = np.random.default_rng(0)
    g = rng.normal(size=(3, 50)) * 40 - 1e4   # far below exp's range: only log space works
    w = rng.uniform(0.5, 1.5, size=50)
    log_rho, log_Z = normalise_log_density(g, np.log(w), axis=-1)
    assert log_Z.shape == (3,)
    np.testing.assert_allclose(np.exp(log_rho) @ w, 1.0, rtol=1e-12)
    one, Z1 = normalise_log_density(g[0], np.log(w))
    assert isinstance(Z1, float) and Z1 == pytest.approx(log_Z[0], rel=1e-14)
    np.testing.assert_allclose(one, log_rho[0], rtol=1e-14)


def test_anchored_cumulative_integral_is_zero_at_anchor_and_exact_for_linear():
    x = np.linspace(-1, 2, 31)
    out = anchored_cumulative_integral(2 * x, x, 10)
    assert out[10] == 0.0
    np.testing.assert_allclose(out, x**2 - x[10] ** 2, atol=1e-12)   # trapezoid is exact here
    with pytest.raises(ValueError, match="anchor"):
        anchored_cumulative_integral(x, x, 31)


def test_uniform_grid_matches_closed_form_gaussian_and_state_dependent_D():
    """U = θ²/2: with D = 1 the density is N(0, T/2); with D = 1 + θ² the SC.eq5 density is
    ρ ∝ exp(−(2/T)·½log(1+θ²))/(1+θ²) = (1+θ²)^{−1/T − 1} (closed form, RND.eq19 split)."""
    x = np.linspace(-6, 6, 4001)
    Ts = [0.2, 0.5]
    st = stationary_on_uniform_grid_1d(x, x, np.ones_like(x), Ts, anchor=2000)
    np.testing.assert_allclose(st.expectation(x**2), np.array(Ts) / 2, rtol=1e-6)
    np.testing.assert_allclose(st.mass(x < 0) + st.mass(x >= 0), 1.0, rtol=1e-12)
    D = 1 + x**2
    st2 = stationary_on_uniform_grid_1d(x, x, D, Ts, anchor=0)
    for i, T in enumerate(Ts):
        exact = -(1 / T + 1) * np.log(D)
        exact -= np.log(np.sum(np.exp(exact) * np.gradient(x)))
        np.testing.assert_allclose(st2.log_densities[i], exact, atol=1e-5)
    # the anchor only shifts ṽ by a constant: the normalised density does not move
    st3 = stationary_on_uniform_grid_1d(x, x, D, Ts, anchor=1234)
    np.testing.assert_allclose(st3.log_densities, st2.log_densities, atol=1e-9)


def test_uniform_grid_agrees_with_chebyshev_solver():
    """Same problem, two solvers: the uniform grid's basin weight converges to StationaryProblem1D's."""
    m = preset("SC.fig4.left").model
    P = StationaryProblem1D(m.train_loss(th), th, diffusion=1 + th**2 / 10, domain=(-3, 3))
    T = 0.02
    ref = P.state(T).basin_weights
    f = sp.lambdify(th, sp.diff(m.train_loss(th), th), "numpy")
    x = np.linspace(-3, 3, 20001)
    st = stationary_on_uniform_grid_1d(x, f(x), 1 + x**2 / 10, [T], anchor=10000)
    split = P.basins[0].right
    assert st.mass(x < split)[0] == pytest.approx(ref[0], abs=1e-6)


def test_uniform_grid_typed_errors():
    x = np.linspace(-1, 1, 11)
    with pytest.raises(DiffusionNotPositiveError, match="positive floor"):
        stationary_on_uniform_grid_1d(x, x, x**2, [0.1])
    with pytest.raises(TemperatureError):
        stationary_on_uniform_grid_1d(x, x, np.ones_like(x), [0.0])
    with pytest.raises(ValueError, match="shape"):
        stationary_on_uniform_grid_1d(x, x[:-1], np.ones_like(x), [0.1])


def test_anchored_cumulative_integral_matches_closed_form():
    x = np.linspace(-2.0, 3.0, 20001)
    for i0 in (0, 7000, 20000):
        got = anchored_cumulative_integral(np.cos(x), x, i0)
        assert np.max(np.abs(got - (np.sin(x) - np.sin(x[i0])))) < 1e-7
        assert got[i0] == 0.0
