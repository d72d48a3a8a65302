"""numerics.stationary: exact basin weights vs an independent quadrature, log-space densities,
numerical effective potential vs closed forms, optimal temperature, typed errors."""
import numpy as np
import pytest
import sympy as sp

from numerics.landscapes import WellMixture, preset
from numerics.stationary import (
    BasinMergeError,
    DomainError,
    NonFiniteError,
    StationaryProblem1D,
    TemperatureError,
    basin_log_masses_adaptive,
    chebyshev_panels,
    effective_potential_1d,
    effective_potential_2d,
    effective_potential_integrand,
    log_density_on_grid,
    optimal_temperature,
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
    s = two_basin.state(T)
    assert np.all(np.isfinite(s.log_density))
    assert np.sum(s.grid.weights * np.exp(s.log_density)) == pytest.approx(1.0, abs=1e-10)
    assert np.isfinite(s.train_loss) and np.isfinite(s.test_loss)


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
    x = np.linspace(-3, 3, 6001)
    v = x ** 2 - 5.0  # deep negative potential: exp(+1e6) without log space
    for T in (1e-5, 1.0):
        lr = log_density_on_grid(v, T, x)
        assert np.all(np.isfinite(lr))
        assert np.trapezoid(np.exp(lr), x) == pytest.approx(1.0, abs=1e-9)


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
    opt = optimal_temperature(two_basin, np.geomspace(1e-3, 1.0, 13))
    assert opt.T is not None and 5e-3 < opt.T < 0.1
    assert opt.uncertainty < 0.05 * opt.T
    Ls = [two_basin.state(t).test_loss for t in (opt.T * 0.8, opt.T, opt.T * 1.25)]
    assert Ls[1] <= min(Ls[0], Ls[2])


def test_no_optimal_temperature_when_both_losses_rise():
    m = preset("SC.fig6.left").model  # one basin: test loss only rises with T
    prob = StationaryProblem1D(m.train_loss(th), th, test_loss=m.test_loss(th), domain=(-3, 3))
    assert optimal_temperature(prob, np.geomspace(1e-3, 0.1, 5)).T is None


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
