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


def test_strip_assumptions_replaces_assumed_symbols_and_restores_them():
    from theory.coordinates import assumption_sensitive, restore_assumptions, strip_assumptions

    r = sp.Symbol("r", real=True)
    T = sp.Symbol("T", positive=True)
    plain = sp.Symbol("p")
    expr = sp.exp(-(r - 1) ** 2 / T) + plain * r
    (e, th, M), restore = strip_assumptions((expr, r, sp.Matrix([[T, r]])))
    assert {s.name for s in e.free_symbols} == {"r", "T", "p"}
    assert all(s.assumptions0 == {"commutative": True} for s in e.free_symbols)
    assert plain in e.free_symbols and plain not in restore  # plain symbols are kept as they are
    assert isinstance(M, sp.MatrixBase) and M.free_symbols == {th} | {s for s in e.free_symbols if s.name == "T"}
    d = restore_assumptions(sp.diff(e, th), restore)
    assert sp.simplify(d - sp.diff(expr, r)) == 0 and d.free_symbols <= {r, T, plain}
    # two symbols named alike stay apart (a Dummy for the assumed one)
    r2 = sp.Symbol("r")
    (e2,), restore2 = strip_assumptions([r + 2 * r2])
    assert len(e2.free_symbols) == 2 and restore_assumptions(e2, restore2) == r + 2 * r2
    # nothing to strip: the same object back, an empty map
    same, none = strip_assumptions(x + y)
    assert same == x + y and none == {}
    # derivatives of Abs/sign/re/im depend on the assumptions: those expressions are flagged
    assert assumption_sensitive(sp.Abs(r)) and assumption_sensitive([r, sp.sign(r)])
    assert not assumption_sensitive(sp.Matrix([r ** 2, sp.exp(r)]))
    rp = strip_assumptions(r)[0]
    assert sp.diff(sp.Abs(r), r) == sp.sign(r) and sp.diff(sp.Abs(rp), rp) != sp.sign(rp)
