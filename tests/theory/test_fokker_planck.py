"""Tests for theory.fokker_planck (SC.eq10, SC.eq11; RND eq. 16)."""
import pytest
import sympy as sp

from theory.fokker_planck import (
    fokker_planck_operator,
    gaussian_density,
    ito_fokker_planck_operator,
    langevin_sde,
    ou_stationary_covariance,
    probability_current,
    stationarity_residual,
)

T = sp.Symbol("T", positive=True)
x, y = sp.symbols("x y")


def test_gibbs_density_is_stationary_with_zero_current_for_identity_D():
    U = sp.Function("U")(x, y)
    rho = sp.exp(-2 * U / T)
    J = probability_current(rho, U, sp.eye(2), [x, y], T)
    assert J.shape == (2, 1)
    assert J.applyfunc(sp.simplify) == sp.zeros(2, 1)
    assert stationarity_residual(rho, U, sp.eye(2), [x, y], T) == 0


def test_scalar_constant_D_for_p1_rescales_the_temperature():
    d = sp.Symbol("d", positive=True)
    U = sp.Function("U")(x)
    rho = sp.exp(-2 * U / (T * d))
    J = probability_current(rho, U, d, x, T)
    assert J.shape == (1, 1) and sp.simplify(J[0]) == 0
    assert stationarity_residual(rho, U, d, x, T) == 0
    # exp(−2U/T) itself is not stationary unless d = 1
    assert stationarity_residual(sp.exp(-2 * x**4 / T), x**4, 2, x, T) != 0


def test_anisotropic_constant_D_breaks_the_gibbs_form():
    U = x**2 + x * y + y**2
    D = sp.diag(1, 2)
    assert stationarity_residual(sp.exp(-2 * U / T), U, D, [x, y], T) != 0


def test_current_formula_and_lr_factor():
    lam = sp.Symbol("lambda", positive=True)
    U, rho = sp.Function("U")(x), sp.Function("rho")(x)
    D = sp.Function("D")(x)
    J = probability_current(rho, U, D, x, T)
    assert sp.expand(J[0] - (sp.diff(U, x) * rho + T / 2 * sp.diff(D * rho, x))) == 0
    op = fokker_planck_operator(rho, U, D, x, T, lr=lam)
    assert sp.expand(op - lam * sp.diff(J[0], x)) == 0


def test_ou_covariance_one_dimensional():
    H, D = sp.symbols("H D", positive=True)
    S = ou_stationary_covariance(sp.Matrix([[H]]), sp.Matrix([[D]]), T)
    assert sp.simplify(S[0, 0] - T * D / (2 * H)) == 0


def test_ou_covariance_solves_lyapunov_and_gives_a_stationary_gaussian():
    H = sp.Matrix([[2, 1], [1, 3]])
    D = sp.Matrix([[1, 0], [0, 2]])  # does not commute with H: the current is not zero
    S = ou_stationary_covariance(H, D, T)
    assert (H * S + S * H.T - T * D).applyfunc(sp.simplify) == sp.zeros(2, 2)
    assert S != (T / 2 * H.inv() * D)
    th = sp.Matrix([x, y])
    U = (th.T * H * th)[0, 0] / 2
    rho = gaussian_density([0, 0], S, th)
    assert stationarity_residual(rho, U, D, th, T) == 0
    J = probability_current(rho, U, D, th, T)
    assert J.applyfunc(lambda e: sp.simplify(e / rho)) != sp.zeros(2, 1)


def test_ou_covariance_commuting_case_matches_laplace_form():
    H = sp.diag(2, 5)
    D = sp.diag(3, 1)
    S = ou_stationary_covariance(H, D, T)
    assert (S - T / 2 * H.inv() * D).applyfunc(sp.simplify) == sp.zeros(2, 2)


def test_ou_covariance_shape_errors():
    with pytest.raises(ValueError):
        ou_stationary_covariance(sp.eye(2), sp.eye(3), T)


def test_ou_covariance_with_user_symbol_named_like_an_unknown():
    h = sp.Symbol("h", positive=True)
    s0 = sp.Symbol("s0")
    S = ou_stationary_covariance(sp.Matrix([[h]]), sp.Matrix([[s0]]), T)
    assert sp.simplify(S[0, 0] - T * s0 / (2 * h)) == 0


def test_mismatched_or_scalar_D_shape_raises():
    U = x**2 + y**2
    with pytest.raises(ValueError, match="2×2"):
        probability_current(sp.exp(-U), U, sp.eye(3), [x, y], T)
    with pytest.raises(ValueError, match="scalar"):
        fokker_planck_operator(sp.exp(-U), U, 1, [x, y], T)
    with pytest.raises(ValueError):
        langevin_sde(U, sp.Matrix([[1, 0]]), [x, y], T)


def test_langevin_generator_equals_fp_operator():
    U = sp.Function("U")(x, y)
    D = sp.Matrix([[sp.Function("a")(x, y), sp.Function("b")(x, y)],
                   [sp.Function("b")(x, y), sp.Function("c")(x, y)]])
    rho = sp.Function("rho")(x, y)
    drift, Q = langevin_sde(U, D, [x, y], T)
    assert drift == -sp.Matrix([sp.diff(U, x), sp.diff(U, y)]) and Q == T * D
    gen = ito_fokker_planck_operator(drift, Q, rho, [x, y])
    assert sp.expand(gen - fokker_planck_operator(rho, U, D, [x, y], T)) == 0


def test_gaussian_density_value():
    g = gaussian_density([1], sp.Matrix([[4]]), x)
    assert sp.simplify(g - sp.exp(-(x - 1) ** 2 / 8)) == 0


def test_ou_covariance_rejects_unstable_numeric_H():
    import pytest as _pytest

    with _pytest.raises(ValueError, match="no stationary state"):
        ou_stationary_covariance(sp.Matrix([[-1]]), sp.Matrix([[1]]), T)
