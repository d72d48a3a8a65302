"""Coordinates and matrix fields: the conventions every theory module shares.

θ is a SymPy column ``Matrix`` (p×1). Functions accept θ as a Matrix column, a list/tuple of
symbols, or one Symbol (p = 1). A diffusion matrix ``D`` may be a p×p Matrix or, for p = 1, a
scalar expression. Nothing here caches or mutates global state.
"""
from __future__ import annotations

from collections.abc import Iterable

import sympy as sp

__all__ = [
    "as_theta",
    "as_square_matrix",
    "as_column",
    "gradient",
    "hessian",
    "jacobian",
]


def as_theta(theta) -> sp.Matrix:
    """Return θ as a p×1 column of distinct SymPy symbols.

    >>> as_theta(sp.Symbol('x'))
    Matrix([[x]])
    """
    if isinstance(theta, sp.Symbol):
        col = sp.Matrix([theta])
    elif isinstance(theta, sp.MatrixBase):
        if theta.shape[1] != 1 and theta.shape[0] == 1:
            theta = theta.T
        if theta.shape[1] != 1:
            raise ValueError(f"theta must be a column (p×1); got shape {theta.shape}")
        col = sp.Matrix(theta)
    elif isinstance(theta, Iterable) and not isinstance(theta, (str, bytes)):
        col = sp.Matrix(list(theta))
    else:
        raise TypeError(
            f"theta must be a Symbol, a list of Symbols or a column Matrix; got {type(theta).__name__}"
        )
    if col.shape[0] == 0:
        raise ValueError("theta must have at least one coordinate")
    for s in col:
        if not isinstance(s, sp.Symbol):
            raise TypeError(f"every coordinate of theta must be a Symbol; got {s!r}")
    if len(set(col)) != col.shape[0]:
        raise ValueError(f"coordinates of theta must be distinct; got {list(col)}")
    return col


def as_square_matrix(D, p: int, *, name: str = "D") -> sp.Matrix:
    """Return ``D`` as a p×p Matrix; a scalar is accepted only for p = 1."""
    if isinstance(D, sp.MatrixBase):
        M = sp.Matrix(D)
    elif isinstance(D, (list, tuple)):
        M = sp.Matrix(D)
    else:
        if p != 1:
            raise ValueError(
                f"{name} is a scalar but theta has p = {p} coordinates; pass a {p}×{p} Matrix "
                f"(e.g. {name}*eye({p}) for isotropic noise)"
            )
        M = sp.Matrix([[as_expr(D)]])
    if M.shape != (p, p):
        raise ValueError(f"{name} must be {p}×{p} to match theta; got shape {M.shape}")
    return M


def as_column(v, p: int, *, name: str = "vector") -> sp.Matrix:
    """Return ``v`` (Matrix, list, or scalar for p = 1) as a p×1 column."""
    if isinstance(v, sp.MatrixBase):
        M = sp.Matrix(v)
        if M.shape == (1, p) and p != 1:
            M = M.T
    elif isinstance(v, (list, tuple)):
        M = sp.Matrix(list(v))
    else:
        M = sp.Matrix([as_expr(v)])
    if M.shape != (p, 1):
        raise ValueError(f"{name} must have {p} entries to match theta; got shape {M.shape}")
    return M


def gradient(f, theta) -> sp.Matrix:
    """∂f as a p×1 column."""
    th = as_theta(theta)
    f = as_expr(f, name="f")
    return sp.Matrix([sp.diff(f, s) for s in th])


def hessian(f, theta) -> sp.Matrix:
    """∂²f as a p×p Matrix (entry (i, j) = ∂_i ∂_j f)."""
    th = as_theta(theta)
    f = as_expr(f, name="f")
    return sp.Matrix(len(th), len(th), lambda i, j: sp.diff(f, th[i], th[j]))


def jacobian(V, theta) -> sp.Matrix:
    """Jacobian of a vector field: entry (i, j) = ∂V_i/∂θ_j."""
    th = as_theta(theta)
    Vc = as_column(V, len(th), name="V")
    return Vc.jacobian(th)


def divergence(D, theta) -> sp.Matrix:
    """Divergence of a matrix field, ``(∂·D)_i = Σ_j ∂_{θ_j} D_ij`` (THEORY.md notation), as p×1.

    For p = 1 a scalar D is accepted: ∂·D = dD/dθ.
    """
    th = as_theta(theta)
    M = as_square_matrix(D, len(th))
    p = len(th)
    return sp.Matrix([sum(sp.diff(M[i, j], th[j]) for j in range(p)) for i in range(p)])


def as_expr(x, *, name: str = "expression"):
    """Convert a number or SymPy object to a SymPy expression — never a string.

    Raw strings are refused (``sympify`` of text runs ``eval``); parse user text with
    :func:`theory.parsing.parse_expression`, which accepts only whitelisted names.
    """
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} is a string ({x!r}); strings are never evaluated — pass a SymPy "
                        f"expression, or parse text with theory.parsing.parse_expression")
    try:
        return sp.sympify(x, strict=True)
    except sp.SympifyError as exc:
        raise TypeError(f"{name} must be a number or a SymPy expression; got {type(x).__name__}") from exc
