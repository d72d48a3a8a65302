"""Tests of numerics.stationary_2d: 2-D effective potential, watershed basins, exact and Laplace masses."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from numerics.stationary import DomainError, GridResolutionError, NonFiniteError, TemperatureError
from numerics.stationary_2d import (
    StationaryProblem2D,
    flow_map_endpoints,
    steepest_descent_labels,
    trapezoid_log_weights_2d,
)
from theory.effective_potential import NonConservativeError
from validation.checks.laplace_2d import (
    laplace_2d_sweep,
    rotated_separable_landscape,
    separable_reference_weights,
)

x, y = sp.symbols("x y", real=True)
#: tilted, coupled four-well loss with closed-form v = U/D for constant isotropic D
COUPLED = (x**2 - 1) ** 2 + (y**2 - 1) ** 2 + x / 5 + x * y / 3
BOX = ((-2.5, 2.5), (-2.5, 2.5))


# -- grid tools -----------------------------------------------------------------------------------
def test_trapezoid_weights_integrate_a_polynomial_exactly():
    xs, ys = np.linspace(0, 2, 41), np.linspace(-1, 3, 21)
    w = np.exp(trapezoid_log_weights_2d(xs, ys))
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    assert np.sum(w) == pytest.approx(2 * 4, rel=1e-13)
    assert np.sum(w * (X + 2 * Y)) == pytest.approx(2 * 2 * 4 / 2 + 2 * 2 * (9 - 1) / 2, rel=1e-13)


def test_watershed_of_two_bowls_splits_at_the_ridge():
    xs = np.linspace(-2, 2, 81)
    ys = np.linspace(-1, 1, 41)
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    v = np.minimum((X + 1) ** 2, (X - 1) ** 2 + 0.1) + Y**2
    labels, minima = steepest_descent_labels(v, xs, ys)
    assert len(minima) == 2
    assert [tuple(m) for m in minima] == [(20, 20), (60, 20)]
    assert np.all(labels[X < -0.05] == 0) and np.all(labels[X > 0.05] == 1)


def test_watershed_uses_slopes_not_raw_differences_on_anisotropic_grids():
    # a tilted plane v = x + 5y on a grid with dy = 10 dx: the steepest path goes down in y first
    xs, ys = np.linspace(0, 1, 11), np.linspace(0, 10, 11)
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    labels, minima = steepest_descent_labels(X + 5 * Y, xs, ys)
    assert len(minima) == 1 and tuple(minima[0]) == (0, 0)
    assert np.all(labels == 0)


def test_watershed_rejects_bad_shapes_and_nan():
    xs = np.linspace(0, 1, 5)
    with pytest.raises(ValueError, match="shape"):
        steepest_descent_labels(np.zeros((4, 5)), xs, xs)
    v = np.zeros((5, 5))
    v[2, 3] = np.nan
    with pytest.raises(NonFiniteError, match="not finite"):
        steepest_descent_labels(v, xs, xs)


# -- effective potential ----------------------------------------------------------------------------
def test_line_integral_matches_closed_form_for_constant_diffusion():
    closed = StationaryProblem2D(COUPLED, [x, y], diffusion=sp.Rational(3, 2), domain=BOX, nodes=301)
    assert closed.v_source.startswith("closed form U/D")
    integrated = StationaryProblem2D(COUPLED, [x, y], diffusion=sp.Rational(3, 2), domain=BOX, nodes=301,
                                     force_line_integral=True)
    assert integrated.v_source.startswith("line integral")
    v1 = closed.effective_potential(0.3)
    v2 = integrated.effective_potential(0.3)
    assert np.max(np.abs((v1 - v1[0, 0]) - (v2 - v2[0, 0]))) < 1e-6


def test_given_closed_form_is_checked_against_the_drift():
    p = StationaryProblem2D(COUPLED, [x, y], domain=BOX, nodes=101, v=COUPLED / 3)
    with pytest.raises(ValueError, match="not the effective potential"):
        p.state(1.0)
    ok = StationaryProblem2D(COUPLED, [x, y], domain=BOX, nodes=101, v=COUPLED)
    assert ok.v_source == "closed form (given)"
    assert len(ok.state(0.5).basins) == 4


def test_state_dependent_diffusion_gives_temperature_dependent_potential():
    U, D, theta, parts = rotated_separable_landscape()
    p = StationaryProblem2D(U, theta, diffusion=D, domain=((-2.6, 2.6),) * 2, nodes=121)
    assert p.v_source.startswith("line integral")
    # v(z, T) − v(z₀, T) against the closed form v₁(u) + v₂(w) of theory.effective_potential
    T = 0.3
    v = p.effective_potential(T)
    Rn = parts["R"]
    X, Y = np.meshgrid(p.x, p.y, indexing="ij")
    u = Rn[0, 0] * X + Rn[1, 0] * Y
    w = Rn[0, 1] * X + Rn[1, 1] * Y
    f = sp.lambdify((parts["u"], parts["w"]), (parts["v1"] + parts["v2"]).subs(parts["T"], T))
    exact = f(u, w)
    assert np.max(np.abs((v - v[0, 0]) - (exact - exact[0, 0]))) < 1e-5


# -- masses -----------------------------------------------------------------------------------------
def test_rotated_separable_masses_match_products_of_1d_quadratures():
    res = laplace_2d_sweep()
    assert max(res["grid_vs_reference"]) < 1e-5
    sweep = res["sweep"]
    np.testing.assert_allclose(sweep.basin_weights.sum(axis=1), 1.0, rtol=1e-12)
    assert sweep.minima.shape == (len(sweep.temperatures), 4, 2)


def test_laplace_weights_converge_linearly_in_T():
    res = laplace_2d_sweep()
    errs = np.array(res["laplace_error"])
    assert np.all(np.diff(errs) > 0)
    assert 0.8 < res["slope"] < 1.2


def test_grid_refinement_reduces_the_boundary_error_at_high_T():
    # at T = 0.4 the cells cut by basin boundaries carry visible mass; halving h must shrink the error
    T = 0.4
    pts, w_ref = separable_reference_weights(T)
    errs = []
    for n in (101, 201):
        U, D, theta, _ = rotated_separable_landscape()
        st = StationaryProblem2D(U, theta, diffusion=D, domain=((-2.6, 2.6),) * 2, nodes=n).state(T)
        order = [int(np.argmin(np.linalg.norm(pts - m, axis=1))) for m in st.minima]
        errs.append(np.max(np.abs(st.basin_weights / w_ref[order] - 1)))
    assert errs[1] < 0.5 * errs[0]


def test_basins_are_the_exact_product_basins_up_to_one_cell():
    # separable v in rotated coordinates: the basins of −∂v are the quadrants u ≷ u_b, w ≷ w_b
    from numerics.reference_quadrature import find_critical_points_1d

    U, D, theta, parts = rotated_separable_landscape()
    T = 0.3
    st = StationaryProblem2D(U, theta, diffusion=D, domain=((-2.6, 2.6),) * 2, nodes=161).state(T)
    R = parts["R"]
    X, Y = np.meshgrid(st.x, st.y, indexing="ij")
    u, w = R[0, 0] * X + R[1, 0] * Y, R[0, 1] * X + R[1, 1] * Y
    ub = float(find_critical_points_1d(parts["v1"].subs(parts["T"], T), parts["u"], -4, 4)[1][0])
    wb = float(find_critical_points_1d(parts["v2"].subs(parts["T"], T), parts["w"], -4, 4)[1][0])
    quadrant = 2 * (u > ub) + (w > wb)
    # map each found basin to the quadrant of its minimum
    mu = st.minima
    mu_u, mu_w = R[0, 0] * mu[:, 0] + R[1, 0] * mu[:, 1], R[0, 1] * mu[:, 0] + R[1, 1] * mu[:, 1]
    found = (2 * (mu_u > ub) + (mu_w > wb))[st.labels]
    h = st.x[1] - st.x[0]
    far_from_boundaries = (np.abs(u - ub) > 1.5 * h) & (np.abs(w - wb) > 1.5 * h)
    assert np.array_equal(found[far_from_boundaries], quadrant[far_from_boundaries])


def test_flow_map_endpoints_of_a_linear_saddle():
    # θ̇ = (θ_x, −θ_y): everything flows to the x-walls, the sign of θ_x decides which
    xs = np.linspace(-1, 1, 41)
    ex, ey = flow_map_endpoints(lambda a, b: (a, -b), xs, xs + 0.0, tau=0.1)
    X, Y = np.meshgrid(xs, xs, indexing="ij")
    side = np.sign(X)
    assert np.allclose(ex[side != 0], side[side != 0])
    assert np.max(np.abs(ey)) < 1e-6
    with pytest.raises(ValueError, match="tau"):
        flow_map_endpoints(lambda a, b: (a, b), xs, xs, tau=0.0)


def test_log_space_density_survives_tiny_and_large_T():
    p = StationaryProblem2D(COUPLED, [x, y], domain=BOX, nodes=201)
    for T in (1e-2, 1.0):
        st = p.state(T)
        assert np.all(np.isfinite(st.log_density))
        assert st.basin_weights.sum() == pytest.approx(1.0, rel=1e-12)
        assert st.expectation(np.ones_like(st.log_density)) == pytest.approx(1.0, rel=1e-10)  # sum round-off
    # the expected loss falls to the global minimum as T → 0 (E[U] − min U ≈ T/2 for p = 2)
    U = sp.lambdify((x, y), COUPLED)(*np.meshgrid(p.x, p.y, indexing="ij"))
    assert p.state(1e-2).expectation(U) == pytest.approx(U.min(), abs=1e-2)
    # a T whose basins are narrower than the grid spacing is refused, not answered
    with pytest.raises(GridResolutionError, match="nodes"):
        p.state(1e-5)
    # tiny T on a grid that resolves it: exp(−2U/T) spans e^−4000 here, only log space survives it
    q = StationaryProblem2D(x**2 + y**2 + 3, [x, y], domain=((-0.01, 0.01),) * 2, nodes=201)
    st = q.state(1e-7)
    assert np.all(np.isfinite(st.log_density)) and st.basin_weights.sum() == pytest.approx(1.0, rel=1e-12)
    assert st.expectation(np.ones_like(st.log_density)) == pytest.approx(1.0, rel=1e-10)
    # and it is the right density: ρ ∝ exp(−2(x² + y²)/T), Var x = T/4, E[U] − 3 = T/2 = 5e-8
    Xq, Yq = np.meshgrid(q.x, q.y, indexing="ij")
    assert st.expectation(Xq ** 2 + Yq ** 2) == pytest.approx(1e-7 / 2, rel=1e-6)


def test_state_uses_the_shared_normalisation_and_laplace_width():
    """log ρ, log Z, basin log masses and the SC.eq6 weights of a state equal the plain formulas
    (logsumexp of −2v/T + log w over the grid or a basin; laplace_log_mass normalised) to rounding,
    and a refused grid quotes the Laplace width σ = sqrt(T/(2λ_max)) of the unresolved basin."""
    import re

    from scipy.special import logsumexp

    from theory.laplace import laplace_log_mass

    T = 0.3
    st = StationaryProblem2D(COUPLED, [x, y], domain=BOX, nodes=161).state(T)
    g = -2.0 * st.effective_potential / T + trapezoid_log_weights_2d(st.x, st.y)
    log_Z = logsumexp(g)
    assert st.log_partition == pytest.approx(log_Z, rel=1e-13)
    np.testing.assert_allclose(st.log_density, -2.0 * st.effective_potential / T - log_Z, rtol=0, atol=1e-11)
    assert len(st.basins) == 4
    for k, b in enumerate(st.basins):
        assert b.log_mass == pytest.approx(logsumexp(g[st.labels == k]), rel=1e-13)
    lap = np.array([float(laplace_log_mass(b.effective_potential, np.linalg.det(b.hessian), T, 2))
                    for b in st.basins])
    np.testing.assert_allclose(st.laplace_weights, np.exp(lap - logsumexp(lap)), rtol=1e-12)
    T = 1e-3
    with pytest.raises(GridResolutionError) as err:
        StationaryProblem2D(COUPLED, [x, y], domain=BOX, nodes=201).state(T)
    mu = [float(c) for c in re.search(r"θ = \(([-\d.]+), ([-\d.]+)\)", str(err.value)).groups()]
    H = np.array(sp.hessian(COUPLED, [x, y]).subs({x: mu[0], y: mu[1]}), dtype=float)
    sigma = np.sqrt(T / (2 * np.max(np.linalg.eigvalsh(H))))
    assert f"sqrt(T/(2λ_max)) ≈ {sigma:.2g}" in str(err.value)


def test_sweep_reports_losses_and_matched_basins():
    test_loss = (x - 0.1) ** 2 + COUPLED
    p = StationaryProblem2D(COUPLED, [x, y], domain=BOX, nodes=151, test_loss=test_loss)
    sw = p.sweep([0.1, 0.3, 1.0])
    assert sw.basin_weights.shape == sw.laplace_weights.shape == (3, 4)
    assert np.all(np.diff(sw.train_loss) > 0)
    assert sw.test_loss is not None and np.all(sw.test_loss > sw.train_loss)
    # matched basins keep their identity: each row's minima stay within a grid cell of the first
    assert np.max(np.abs(sw.minima - sw.minima[0])) < 0.1


# -- bad input --------------------------------------------------------------------------------------
def test_nonzero_curl_raises_with_location():
    D = sp.Matrix([[1, sp.Rational(1, 2)], [sp.Rational(1, 2), 1]])
    p = StationaryProblem2D((x**2 + 2 * y**2) / 2, [x, y], diffusion=D, domain=BOX, nodes=51)
    with pytest.raises(NonConservativeError, match="non-zero curl") as err:
        p.state(0.5)
    assert err.value.counterexample["curl"] != 0
    assert err.value.curl[0, 1] != 0


def test_commuting_constant_diffusion_is_accepted():
    D = sp.Matrix([[1, 0], [0, 3]])
    st = StationaryProblem2D((x**2 + 2 * y**2) / 2, [x, y], diffusion=D, domain=BOX, nodes=101).state(0.5)
    assert len(st.basins) == 1
    # Laplace is exact for a quadratic v: Σ = (T/2) H_v⁻¹ with H_v = D⁻¹H
    np.testing.assert_allclose(st.basins[0].hessian, np.diag([1.0, 2 / 3]), rtol=1e-10)


def test_bad_inputs_name_the_field():
    with pytest.raises(TemperatureError):
        StationaryProblem2D(COUPLED, [x, y], domain=BOX, nodes=51).state(0)
    with pytest.raises(DomainError, match="domain"):
        StationaryProblem2D(COUPLED, [x, y], domain=((-0.5, 2.5), (-2.5, 2.5)), nodes=101).state(0.5)
    with pytest.raises(DomainError, match="domain"):
        StationaryProblem2D(COUPLED, [x, y], domain=((1, -1), (-2.5, 2.5)))
    with pytest.raises(NonFiniteError, match="positive definite"):
        StationaryProblem2D(COUPLED, [x, y], diffusion=sp.Matrix([[1, 0], [0, x]]), domain=BOX, nodes=51)
    with pytest.raises(ValueError, match="two-dimensional"):
        StationaryProblem2D(x**2, [x], domain=BOX)
    with pytest.raises(ValueError, match="nodes"):
        StationaryProblem2D(COUPLED, [x, y], domain=BOX, nodes=3)
