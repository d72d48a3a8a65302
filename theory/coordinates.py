"""Coordinates and matrix fields: the conventions every theory module shares.

θ is a SymPy column ``Matrix`` (p×1). Functions accept θ as a Matrix column, a list/tuple of
symbols, or one Symbol (p = 1). A diffusion matrix ``D`` may be a p×p Matrix or, for p = 1, a
scalar expression. Nothing here caches or mutates global state.

No argument is ever turned into code: ``sympy.Matrix(list)`` and ``sympify`` run ``eval`` on any
string they meet, so every entry of every matrix, vector and θ passes :func:`as_expr` (which
refuses ``str``/``bytes`` and containers) *before* a SymPy constructor sees it. User text goes
through :func:`theory.parsing.parse_expression` instead.
"""
from __future__ import annotations

from collections.abc import Iterable

import sympy as sp

__all__ = [
    "as_expr",
    "as_matrix",
    "as_theta",
    "as_square_matrix",
    "as_column",
    "gradient",
    "hessian",
    "jacobian",
    "ASSUMPTION_SENSITIVE",
    "assumption_sensitive",
    "strip_assumptions",
    "restore_assumptions",
]


def as_theta(theta) -> sp.Matrix:
    """Return θ as a p×1 column of distinct SymPy symbols.

    Strings are refused (``TypeError``): build the coordinates with ``sympy.symbols('x y')``.

    >>> as_theta(sp.Symbol('x'))
    Matrix([[x]])
    """
    if _is_ndarray(theta) and theta.ndim == 0:
        theta = theta.item()
    if isinstance(theta, sp.Symbol):
        col = sp.Matrix([theta])
    elif isinstance(theta, sp.MatrixBase):
        if theta.shape[1] != 1 and theta.shape[0] == 1:
            theta = theta.T
        if theta.shape[1] != 1:
            raise ValueError(f"theta must be a column (p×1); got shape {theta.shape}")
        col = sp.Matrix(theta)
    elif isinstance(theta, (str, bytes, bytearray)):
        raise TypeError(f"theta is a string ({_short_repr(theta)}); strings are never evaluated — "
                        f"pass SymPy Symbols, e.g. sympy.symbols('x y')")
    elif isinstance(theta, Iterable) or _is_ndarray(theta):
        col = sp.Matrix(_strict_tree(list(theta), "theta", symbols_hint=True))
    else:
        raise TypeError(
            f"theta must be a Symbol, a list of Symbols or a column Matrix; got {type(theta).__name__}"
        )
    if col.shape[0] == 0:
        raise ValueError("theta must have at least one coordinate")
    if col.shape[1] != 1:
        raise ValueError(f"theta must be a column (p×1); got shape {col.shape}")
    for s in col:
        if not isinstance(s, sp.Symbol):
            raise TypeError(f"every coordinate of theta must be a Symbol; got {s!r}")
    if len(set(col)) != col.shape[0]:
        raise ValueError(f"coordinates of theta must be distinct; got {list(col)}")
    return col


def as_matrix(M, *, name: str = "matrix") -> sp.Matrix:
    """Return ``M`` as a SymPy Matrix, converting every entry with :func:`as_expr` first.

    Accepts a Matrix, nested lists/tuples or a NumPy array (same shapes as ``sympy.Matrix``: a flat
    list is a column), or a scalar (→ 1×1). A ``str``/``bytes`` entry anywhere raises ``TypeError``
    naming the entry (e.g. ``D[0][1]``) — unlike ``sympy.Matrix``, nothing is ever ``eval``-ed.

    >>> as_matrix([[1, 0], [0, 2]], name="D")
    Matrix([
    [1, 0],
    [0, 2]])
    """
    if isinstance(M, sp.MatrixBase):
        return sp.Matrix(M)
    if _is_container(M):
        return sp.Matrix(_strict_tree(M, name))
    return sp.Matrix([[as_expr(M, name=name)]])


def as_square_matrix(D, p: int, *, name: str = "D") -> sp.Matrix:
    """Return ``D`` as a p×p Matrix; a scalar is accepted only for p = 1.

    Every entry passes :func:`as_expr` (strings are refused with ``TypeError``).
    """
    if isinstance(D, sp.MatrixBase) or _is_container(D):
        M = as_matrix(D, name=name)
    else:
        D = as_expr(D, name=name)
        if p != 1:
            raise ValueError(
                f"{name} is a scalar but theta has p = {p} coordinates; pass a {p}×{p} Matrix "
                f"(e.g. {name}*eye({p}) for isotropic noise)"
            )
        M = sp.Matrix([[D]])
    if M.shape != (p, p):
        raise ValueError(f"{name} must be {p}×{p} to match theta; got shape {M.shape}")
    return M


def as_column(v, p: int, *, name: str = "vector") -> sp.Matrix:
    """Return ``v`` (Matrix, list, or scalar for p = 1) as a p×1 column.

    Every entry passes :func:`as_expr` (strings are refused with ``TypeError``).
    """
    if isinstance(v, sp.MatrixBase):
        M = sp.Matrix(v)
        if M.shape == (1, p) and p != 1:
            M = M.T
    elif _is_container(v):
        M = as_matrix(list(v), name=name)
    else:
        M = sp.Matrix([as_expr(v, name=name)])
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


#: Functions whose derivative (or value) depends on the assumptions of their argument: for real x,
#: ``diff(Abs(x), x)`` is ``sign(x)``; for an assumption-free x it is an expression in ``re``/``im``
#: and their unevaluated derivatives, which has no numeric value.
ASSUMPTION_SENSITIVE = (sp.Abs, sp.sign, sp.re, sp.im, sp.conjugate, sp.arg)


def assumption_sensitive(expr) -> bool:
    """True when ``expr`` (expression, Matrix, or list/tuple of them) contains a function of
    :data:`ASSUMPTION_SENSITIVE`, whose derivative changes when its symbols lose their assumptions:
    do not differentiate such an expression on the symbols of :func:`strip_assumptions`.

    >>> x = sp.Symbol('x', real=True)
    >>> assumption_sensitive(x**2), assumption_sensitive(sp.Abs(x))
    (False, True)
    """
    return any(e.has(*ASSUMPTION_SENSITIVE) for e in _leaves(expr))


def _leaves(expr):
    if isinstance(expr, sp.MatrixBase):
        return list(expr)
    if isinstance(expr, (list, tuple)):
        return [leaf for e in expr for leaf in _leaves(e)]
    return [as_expr(expr)]


def _map_leaves(expr, f):
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(f)
    if isinstance(expr, (list, tuple)):
        return type(expr)(_map_leaves(e, f) for e in expr)
    return f(as_expr(expr))


def strip_assumptions(expr):
    """``(plain, restore)``: ``expr`` with every symbol that carries assumptions (``real=True``,
    ``positive=True``, …) replaced by an assumption-free symbol of the same name, and the map
    ``restore`` (plain symbol → original) that :func:`restore_assumptions` applies to put them back.

    Why: SymPy asks assumption queries (``is_positive``, ``is_zero``, …) while it builds every
    ``Mul``/``Add``/``Pow``; on a plain symbol they answer ``None`` at once, on a ``real=True`` one
    they recurse through the whole expression.  Differentiating a sum of Gaussian wells in a real θ
    is ~10× slower than in a plain one (``benchmarks/bench_ledger.py``).

    Use it where the operation does not depend on assumptions — ``diff`` (unless
    :func:`assumption_sensitive`), ``lambdify``/``compile_expr``, ``cse``, substituting numbers —
    and restore afterwards if the symbols are needed.  Do not ``simplify`` on the plain symbols:
    simplifications such as ``sqrt(x**2) → x`` (positive x) or ``log(x*y) → log(x) + log(y)`` need
    the assumptions.  ``expr`` may be an expression, a Matrix or a list/tuple of them (one map for
    all, so shared symbols stay shared); the result has the same shape.  A plain symbol keeps the
    name of the original (a ``Dummy`` of that name where two symbols share a name, or for a Dummy);
    non-commutative symbols are kept.

    >>> x = sp.Symbol('x', real=True)
    >>> plain, restore = strip_assumptions(x**2 + 1)
    >>> plain.free_symbols.pop().is_real is None, restore_assumptions(sp.diff(plain, *restore), restore)
    (True, 2*x)
    """
    leaves = _leaves(expr)
    atoms = set().union(*(e.atoms(sp.Symbol) for e in leaves)) if leaves else set()
    names: dict = {}
    for s in atoms:
        names[s.name] = names.get(s.name, 0) + 1
    forward: dict = {}
    for s in sorted(atoms, key=sp.default_sort_key):
        if type(s) not in (sp.Symbol, sp.Dummy) or s.is_commutative is not True:
            continue
        if s.assumptions0 == {"commutative": True}:
            continue  # already plain
        unique = type(s) is sp.Symbol and names[s.name] == 1
        forward[s] = sp.Symbol(s.name) if unique else sp.Dummy(s.name)
    restore = {v: k for k, v in forward.items()}
    if not forward:
        return expr, restore
    return _map_leaves(expr, lambda e: e.xreplace(forward)), restore


def restore_assumptions(expr, restore: dict):
    """Put back the symbols that :func:`strip_assumptions` replaced (``restore``: plain → original);
    ``expr`` may be an expression, a Matrix or a list/tuple of them."""
    if not restore:
        return expr
    if not isinstance(restore, dict):
        kind = "a string (strings are never evaluated)" if isinstance(restore, (str, bytes)) else \
            type(restore).__name__
        raise TypeError(f"restore must be the dict that strip_assumptions returned; got {kind}")
    restore = {as_expr(k, name="restore key"): as_expr(v, name="restore value")
               for k, v in restore.items()}
    return _map_leaves(expr, lambda e: e.xreplace(restore))


def _short_repr(x, limit: int = 60) -> str:
    r = repr(x)
    return r if len(r) <= limit else r[: limit - 3] + "..."


def _is_ndarray(x) -> bool:
    """A NumPy array, recognised without importing NumPy (theory depends on SymPy only)."""
    return type(x).__name__ == "ndarray" and hasattr(x, "ndim") and hasattr(x, "tolist")


def _is_container(x) -> bool:
    """Lists, tuples and NumPy arrays with at least one axis (what ``sympy.Matrix`` would unpack)."""
    return isinstance(x, (list, tuple)) or (_is_ndarray(x) and x.ndim > 0)


def _find_string(obj, name: str, _budget: list | None = None):
    """``(entry name, value)`` of the first str/bytes inside nested containers, else None."""
    budget = [10_000] if _budget is None else _budget
    budget[0] -= 1
    if budget[0] < 0:
        return None
    if isinstance(obj, (str, bytes, bytearray)):
        return name, obj
    if isinstance(obj, (sp.Basic, sp.MatrixBase)):
        return None
    if _is_ndarray(obj):
        obj = obj.tolist() if obj.dtype.kind in "OSU" else []
    if isinstance(obj, dict):
        items = [(f"{name}[{k!r}]", v) for k, v in obj.items()]
    elif isinstance(obj, (list, tuple, set, frozenset)):
        items = [(f"{name}[{i}]", v) for i, v in enumerate(obj)]
    else:
        return None
    for sub, v in items:
        found = _find_string(v, sub, budget)
        if found is not None:
            return found
    return None


def _strict_tree(obj, name: str, *, symbols_hint: bool = False):
    """``obj`` with lists/tuples/arrays turned into lists and every leaf passed through
    :func:`as_expr` (entry names like ``D[0][1]`` in the errors). Matrices are kept: their entries
    are SymPy objects already. The result is safe to hand to ``sympy.Matrix``."""
    if isinstance(obj, sp.MatrixBase):
        return obj
    if _is_ndarray(obj):
        obj = obj.tolist()
    if isinstance(obj, (list, tuple)):
        return [_strict_tree(e, f"{name}[{i}]", symbols_hint=symbols_hint) for i, e in enumerate(obj)]
    if symbols_hint and isinstance(obj, (str, bytes, bytearray)):
        raise TypeError(f"{name} is a string ({_short_repr(obj)}); strings are never evaluated — "
                        f"pass SymPy Symbols, e.g. sympy.symbols('x y')")
    return as_expr(obj, name=name)


def as_expr(x, *, name: str = "expression"):
    """Convert a number or SymPy object to a SymPy expression — never a string.

    Raw strings and bytes are refused (``sympify`` of text runs ``eval``); parse user text with
    :func:`theory.parsing.parse_expression`, which accepts only whitelisted names. Containers
    (list, tuple, dict, set, arrays) are refused too — ``sympify`` would convert their items
    without the strict check; pass a matrix argument as a Matrix or nested list instead.
    """
    if isinstance(x, (str, bytes, bytearray)):
        raise TypeError(f"{name} is a string ({_short_repr(x)}); strings are never evaluated — pass "
                        f"a SymPy expression (e.g. sympy.Symbol('x')**2), or parse user text with "
                        f"theory.parsing.parse_expression(text, symbols=[...])")
    if isinstance(x, (sp.Basic, sp.MatrixBase)):
        return sp.sympify(x, strict=True)
    if _is_ndarray(x) and x.ndim == 0:
        return as_expr(x.item(), name=name)
    if _is_ndarray(x) or isinstance(x, (Iterable, dict)):
        where = _find_string(x, name)
        if where is not None:
            as_expr(where[1], name=where[0])  # raises the string message, naming the entry
        kind = f"an array of shape {x.shape}" if _is_ndarray(x) else f"a {type(x).__name__}"
        raise TypeError(f"{name} must be a scalar (a number or a SymPy expression); got {kind} — "
                        f"pass a matrix or vector as a sympy Matrix or a nested list where the "
                        f"function takes one")
    try:
        return sp.sympify(x, strict=True)
    except sp.SympifyError as exc:
        raise TypeError(f"{name} must be a number or a SymPy expression; got {type(x).__name__}") from exc
