import sympy as sp
import pytest

from theory.coordinates import (as_column, as_square_matrix, as_theta, divergence, gradient,
                                hessian, jacobian)

x, y, z = sp.symbols("x y z")


def test_as_theta_accepts_symbol_list_matrix_row():
    assert as_theta(x) == sp.Matrix([x])
    assert as_theta([x, y]) == sp.Matrix([x, y])
    assert as_theta(sp.Matrix([[x, y]])) == sp.Matrix([x, y])


@pytest.mark.parametrize("bad, exc", [("x", TypeError), ([x, x], ValueError), ([x, 1], TypeError),
                                      ([], ValueError), (sp.Matrix([[x, y], [y, x]]), ValueError)])
def test_as_theta_rejects(bad, exc):
    with pytest.raises(exc):
        as_theta(bad)


def test_square_matrix_and_column():
    assert as_square_matrix(x, 1) == sp.Matrix([[x]])
    with pytest.raises(ValueError, match="scalar"):
        as_square_matrix(x, 2)
    with pytest.raises(ValueError):
        as_square_matrix(sp.eye(3), 2)
    assert as_column([1, 2], 2).shape == (2, 1)
    with pytest.raises(ValueError):
        as_column([1, 2, 3], 2)


def test_divergence_of_matrix_field_is_row_divergence():
    D = sp.Matrix([[x * y, x**2], [y**3, x * y]])
    # (∂·D)_i = Σ_j ∂_j D_ij
    assert divergence(D, [x, y]) == sp.Matrix([y + 0, 0 + x])
    assert divergence(x**2, x) == sp.Matrix([2 * x])


def test_gradient_hessian_jacobian():
    f = x**2 * y + z
    assert gradient(f, [x, y, z]) == sp.Matrix([2 * x * y, x**2, 1])
    H = hessian(f, [x, y, z])
    assert H == H.T and H[0, 1] == 2 * x
    assert jacobian(gradient(f, [x, y, z]), [x, y, z]) == H
