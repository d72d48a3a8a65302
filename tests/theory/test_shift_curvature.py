"""theory.shift_curvature: SC.eq3/4/7/12 and RND eqs. 8–13."""
import pytest
import sympy as sp

from theory.identity import check_identity
from theory.shift_curvature import (
    SampleSizeError,
    TestLossShapeError,
    data_expectation,
    effective_sample_size,
    expected_shift_curvature,
    expected_shift_curvature_loglik_printed,
    gaussian_expectation,
    gaussian_quadratic_expectation,
    loglik_hessian_split,
    mixture_test_loss,
    projected_shift,
    quadratic_test_loss,
    range_projector,
    second_order_taylor,
    sgd_leading_test_loss,
    shift_covariance,
    shift_mean,
    shift_sensitivity,
    test_loss_terms,
)

x, y, a, c, m, v = sp.symbols("x y a c m v", real=True)


def test_quadratic_test_loss_scalar_and_matrix():
    assert quadratic_test_loss(1, 4, sp.Rational(1, 2)) == sp.Rational(3, 2)
    C = sp.Matrix([[2, 0], [0, 0]])
    assert quadratic_test_loss(0, C, [1, 5], [1, 0]) == 4  # null direction ignored


def test_quadratic_test_loss_shape_errors():
    with pytest.raises(TestLossShapeError):
        quadratic_test_loss(0, sp.eye(2), [1, 2, 3])
    with pytest.raises(TestLossShapeError):
        quadratic_test_loss(0, sp.Matrix([[1, 2, 3]]), [1])


def test_second_order_taylor_is_exact_for_quadratics_and_not_for_cubics():
    q = (x - 1) ** 2 + 3 * (x - 1) * (y + 2) + y**2
    assert sp.expand(second_order_taylor(q, [x, y], [0, 0], [x, y]) - q) == 0
    assert second_order_taylor(x**3, [x], [0], [1]) == 0


def test_terms_sum_to_gaussian_average_and_split_as_documented():
    t = test_loss_terms(2, 3, 1, sp.Rational(1, 10), sp.Rational(1, 5))
    assert t.shift_curvature == sp.Rational(3, 2)
    assert t.covariance_curvature == sp.Rational(3, 10)
    assert t.bias_curvature == sp.Rational(3, 2) * (sp.Rational(11, 10) ** 2 - 1)
    g = gaussian_quadratic_expectation(3, 0, -(1 + sp.Rational(1, 10)), sp.Rational(1, 5))
    assert t.total == 2 + g / 2


def test_gaussian_expectation_matches_closed_form_1d():
    L = sp.Symbol("L", positive=True)
    e = gaussian_expectation(c * (x - a) ** 2, [x], [m], [[L]])
    assert sp.simplify(e - gaussian_quadratic_expectation(c, a, m, L**2)) == 0
    assert sp.simplify(gaussian_expectation(x**4, [x], [0], [[L]]) - 3 * L**4) == 0


def test_mixture_and_sgd_leading_orders():
    basins = [(0, 2, 1, 0, 0), (1, 1, 1, 0, 0)]
    assert mixture_test_loss([sp.Rational(1, 2)] * 2, basins) == sp.Rational(1, 2) * (1 + sp.Rational(3, 2))
    assert sgd_leading_test_loss([1, 0], [(0, 2, 1), (5, 1, 1)]) == 1
    with pytest.raises(TestLossShapeError):
        mixture_test_loss([1], basins)
    with pytest.raises(TestLossShapeError):
        sgd_leading_test_loss([1, 0], [(0, 2, 1)])


def test_projected_shift_and_projector():
    C = sp.Matrix([[1, 1], [1, 1]])
    assert projected_shift(C, [1, 0]) == sp.Matrix([sp.Rational(1, 2), sp.Rational(1, 2)])
    assert range_projector(sp.zeros(2, 2)) == sp.zeros(2, 2)
    P = range_projector(sp.Matrix([[2, 0, 0], [0, 0, 0], [0, 0, 3]]))
    assert P == sp.diag(1, 0, 1)
    with pytest.raises(TestLossShapeError):
        projected_shift(sp.Matrix([[1, 2], [0, 1]]), [1, 0])


def test_effective_sample_size_and_errors():
    assert effective_sample_size(100, 100) == 100
    assert effective_sample_size(100, 50) == sp.Rational(200, 3)
    for bad in (0, -5):
        with pytest.raises(SampleSizeError):
            effective_sample_size(bad, 10)
    with pytest.raises(SampleSizeError):
        effective_sample_size(10, sp.Symbol("n", negative=True))
    with pytest.raises(SampleSizeError):
        shift_covariance(1, 1, 0)


def test_shift_statistics_and_eq13():
    C, D, F = sp.diag(2, 4), sp.diag(1, 1), sp.Matrix([[2, 0], [0, 4]])
    assert shift_mean(C, F, [1, 1]) == sp.Matrix([1, 1])
    assert shift_covariance(C, D, 10) == sp.diag(sp.Rational(1, 20), sp.Rational(1, 80))
    E = C - D
    N = sp.Symbol("N", positive=True)
    assert check_identity(expected_shift_curvature(C, D, F, [1, 1], N),
                          expected_shift_curvature_loglik_printed(C, E, F, [1, 1], N)).exact
    with pytest.raises(TestLossShapeError):
        shift_mean(sp.zeros(2, 2), F, [1, 1])
    with pytest.raises(TestLossShapeError):
        shift_mean(C, sp.Matrix([[1, 2, 3]]), [1, 1, 1])


def test_loglik_split_pointwise():
    s = sp.Symbol("s", positive=True)
    p = sp.exp(-(x - m) ** 2 / (2 * s**2)) / (sp.sqrt(2 * sp.pi) * s)
    H, A, G = loglik_hessian_split(p, [m, s])
    assert check_identity(H, A + G).holds


def test_location_family_F_equals_C_and_center_rule():
    th, eta = sp.symbols("theta eta", real=True)
    U = (x - th) ** 2 / 2
    r = sp.exp(-(x - eta) ** 2 / 2) / sp.sqrt(2 * sp.pi)
    F = shift_sensitivity(U, r, x, th, eta, center=eta)
    assert sp.simplify(F[0] - 1) == 0
    assert sp.simplify(data_expectation(x**2, r, x, center=eta) - eta**2 - 1) == 0
    with pytest.raises(ValueError):
        data_expectation(x, r, x, center=eta, limits=(0, 1))
