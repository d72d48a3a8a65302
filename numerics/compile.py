"""Compile theory expressions into vectorised NumPy / PyTorch callables.

The rule of the project is that ``numerics`` never re-derives a formula that ``theory`` has: it
*compiles* it.  :func:`compile_expr` is the one entry point.  It wraps ``sympy.lambdify``, checks
that every free symbol is an argument, broadcasts constant entries to the shape of the inputs, and
stacks Matrix / list outputs into one array with trailing dimensions:

* scalar expression            → array of the broadcast input shape ``S``;
* ``Matrix`` of shape (m, n)   → array of shape ``S + (m, n)`` (a p×1 column gives ``S + (p, 1)``);
* list / tuple of k expressions → array of shape ``S + (k,)``.

Generated code (see :func:`codegen_plan`):

* **small integer powers are products.**  ``b**n`` with an integer ``|n| ≤ expand_pow``
  (default 8) is written ``b*b*…*b`` (``1/(b*…*b)`` for ``n < 0``), a compound base ``b`` first
  bound to a temporary (as SymPy's ``create_expand_pow_optimization`` does for symbol bases) —
  except the exponents the backend has a fast path for (:data:`FAST_EXPONENTS`: NumPy squares and
  inverts, PyTorch also cubes and inverts squares), which stay powers, evaluated in place on a
  temporary base.  NumPy evaluates ``a**3`` by the general ``pow``, ~60× slower than ``a*a*a``;
  ``b*b*b`` differs from ``pow(b, 3)`` by a few ulps at most.
* **CSE only where it pays** (``cse="auto"``, the default): common-subexpression elimination is
  used when it cuts the weighted operation count of the generated code (:func:`operation_cost`:
  a transcendental function or a general power 10, a square root 2, an arithmetic operation 1,
  constant subexpressions 0) by at least 10 %.  Below that, the extra live temporaries (NumPy
  cannot reuse them in place) cost more than the few operations saved.  The rule is
  deterministic — no timing at compile time — and ``CompiledFunction.cse`` records the choice;
  ``cse=True`` / ``False`` force it.  ``benchmarks/bench_compile.py`` measures the choice against
  plain ``lambdify`` on every benchmark expression.

Unevaluated definite integrals (``sympy.Integral`` with finite limits, e.g. the effective potential
theory returns when it has no closed form) are evaluated by vectorised adaptive Gauss–Legendre
quadrature (:mod:`numerics.quadrature`), since ``lambdify`` cannot compile them.

Backends: ``"numpy"`` (SciPy special functions available) and ``"torch"`` (any device;
``device="auto"`` picks CUDA when present, else CPU; a CUDA request on a machine without CUDA
falls back to CPU with a :class:`DeviceFallbackWarning`).  float64 by default.

>>> import sympy as sp
>>> x = sp.Symbol('x')
>>> f = compile_expr(sp.exp(-x**2) + 1, x)
>>> float(f(0.0))
2.0
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

__all__ = [
    "CompileError",
    "DeviceFallbackWarning",
    "CompiledFunction",
    "compile_expr",
    "compile_many",
    "codegen_plan",
    "operation_cost",
    "resolve_device",
]

from numerics.devices import DeviceFallbackWarning, resolve_device  # noqa: E402  (one device policy)
from numerics.quadrature import integrate_batch  # noqa: E402
from theory.coordinates import as_expr, strip_assumptions

_BACKENDS = ("numpy", "torch")


class CompileError(ValueError):
    """An expression cannot be compiled as asked (free symbols missing from ``args``, bad backend)."""


def _flatten_args(args) -> tuple[sp.Symbol, ...]:
    if isinstance(args, (str, bytes, bytearray)):
        raise CompileError(f"args is a string ({args[:40]!r}); strings are never evaluated — pass SymPy "
                           "Symbols, e.g. sympy.symbols('x y')")
    if isinstance(args, sp.Symbol):
        syms = [args]
    elif isinstance(args, sp.MatrixBase):
        syms = list(args)
    elif isinstance(args, Iterable) and not isinstance(args, (str, bytes)):
        syms = []
        for a in args:
            syms.extend(list(a) if isinstance(a, sp.MatrixBase) else [a])
    else:
        raise CompileError(
            f"args must be a Symbol, a sequence of Symbols or a Matrix of Symbols; got {type(args).__name__}"
        )
    for s in syms:
        if isinstance(s, (str, bytes, bytearray)):
            raise CompileError(f"argument {s[:40]!r} is a string; strings are never evaluated — pass "
                               "SymPy Symbols, e.g. sympy.symbols('x y')")
        if not isinstance(s, sp.Symbol):
            raise CompileError(f"every argument must be a SymPy Symbol; got {s!r} ({type(s).__name__})")
    if len(set(syms)) != len(syms):
        raise CompileError(f"arguments must be distinct; got {syms}")
    return tuple(syms)


def _entries(expr) -> tuple[list[sp.Expr], tuple[int, ...]]:
    """Flatten ``expr`` into a list of scalar entries and the trailing output shape."""
    if isinstance(expr, sp.MatrixBase):
        return [as_expr(e) for e in expr], tuple(expr.shape)
    if isinstance(expr, (list, tuple)):
        out = []
        for e in expr:
            if isinstance(e, (sp.MatrixBase, list, tuple)):
                raise CompileError("a list of expressions must hold scalars; stack matrices into one Matrix")
            if isinstance(e, str):
                raise CompileError("strings are not compiled; build the expression with SymPy")
            out.append(as_expr(e))
        return out, (len(out),)
    if isinstance(expr, str):
        raise CompileError("strings are not compiled; build the expression with SymPy")
    return [as_expr(expr)], ()


def _check_compilable(entries) -> None:
    """Refuse, at compile time, what would otherwise fail (or give NaN) only when called: undefined
    functions ``f(x)`` (and derivatives of them), and ``zoo`` / ``nan`` (a division by zero such as
    ``1/D`` with ``D = 0``, or ``0/0``)."""
    undefined = sorted({str(f) for e in entries for f in e.atoms(AppliedUndef)})
    if undefined:
        raise CompileError(
            f"expression contains undefined function(s) {undefined}: they have no numeric value. "
            "Replace them by explicit expressions (e.g. expr.subs(f(x), x**2).doit()) before compiling")
    for e in entries:
        if e.has(sp.zoo):
            raise CompileError(
                "expression contains zoo (complex infinity: a division by zero, e.g. 1/D with D = 0): "
                f"{e}. If D is a diffusion, a singular D has no SC.eq5 integrand; regularise it "
                "(SC.eq13: D + β² I with ℓ2 term α|θ|²/2 in U)")
        if e.has(sp.nan):
            raise CompileError(f"expression contains nan (an undefined value such as 0/0 or ∞ − ∞): {e}; "
                               "fix the expression before compiling")


def _fold_constants(e: sp.Expr) -> sp.Expr:
    """Replace exact constants (sqrt(2), pi, Rationals) by Floats so torch never sees Python ints in
    math functions (``torch.sqrt(2)`` fails)."""
    return sp.N(e, 17) if e.free_symbols else sp.Float(sp.N(e, 17)) if e.is_number else e


#: default ``expand_pow``: integer powers up to this |n| are written as products
EXPAND_POW_LIMIT = 8
#: ``cse="auto"`` uses CSE when it removes at least this fraction of the weighted operation count
CSE_MIN_SAVING = 0.10

_EXPENSIVE = 10  # a transcendental function or a general (non-expanded) power, in multiplies
_CHEAP_EXPONENTS = {sp.Integer(-1): 1, sp.Integer(2): 1, sp.Rational(1, 2): 2, sp.Rational(-1, 2): 3}
_CHEAP_FUNCTIONS = (sp.Abs, sp.sign, sp.Min, sp.Max, sp.re, sp.im, sp.floor, sp.ceiling, sp.Heaviside)


def operation_cost(exprs) -> int:
    """Weighted count of the array operations that code for ``exprs`` performs per element.

    ``exprs`` is an expression or a list (e.g. the right-hand sides of CSE replacements plus the
    reduced expressions).  Weights, in multiplies: ``+ − × /`` and comparisons 1; a square root 2;
    ``x**-1`` / ``x**2`` 1 (NumPy fast paths); ``Abs``, ``Min``, ``Max``, ``sign`` and the like 1;
    any other power or a function call (exp, log, erf, Piecewise, …) 10; a subexpression without free symbols 0 (a scalar computed once per call).  A repeated
    subtree counts each time it occurs — plain code recomputes it.

    >>> x = sp.Symbol('x')
    >>> operation_cost(sp.exp(x) + x*x), operation_cost(x**3), operation_cost(sp.sqrt(2)*x)
    (12, 10, 1)
    """
    memo: dict = {}

    def walk(e) -> tuple[int, bool]:
        hit = memo.get(e)
        if hit is not None:
            return hit
        if e.is_Atom:
            res = (0, bool(e.free_symbols))
        else:
            parts = [walk(a) for a in e.args]
            varying = any(v for _, v in parts)
            inner = sum(c for c, _ in parts)
            if not varying:
                res = (0, False)
            elif isinstance(e, (sp.Add, sp.Mul)):
                res = (inner + len(e.args) - 1, True)
            elif isinstance(e, sp.Pow):
                res = (inner + _CHEAP_EXPONENTS.get(e.exp, _EXPENSIVE), True)
            elif isinstance(e, sp.UnevaluatedExpr):
                res = (inner, True)
            elif isinstance(e, sp.Function) and not isinstance(e, _CHEAP_FUNCTIONS):
                res = (inner + _EXPENSIVE, True)
            else:
                res = (inner + 1, True)
        memo[e] = res
        return res

    return int(sum(walk(e)[0] for e in _expr_list(exprs, "exprs")))


#: integer exponents each backend evaluates by a fast path (NumPy: square, reciprocal; PyTorch's
#: ``pow_tensor_scalar`` also cube and inverse square): left as powers — on a temporary base they
#: run in place, which a named product factor would prevent
FAST_EXPONENTS = {"numpy": frozenset({-1, 0, 1, 2}), "torch": frozenset({-2, -1, 0, 1, 2, 3})}


def _expands(e, limit: int, fast: frozenset) -> bool:
    """``b**n`` written as a product: an integer ``n`` with ``|n| ≤ limit`` and no fast path."""
    if not (isinstance(e, sp.Pow) and e.exp.is_Integer):
        return False
    n = int(e.exp)
    return abs(n) <= limit and n not in fast


def _expr_list(exprs, name: str) -> list:
    """An expression or a list/tuple of scalar expressions as a list; strings refused (TypeError)."""
    if isinstance(exprs, (list, tuple)):
        return [as_expr(e, name=f"{name}[{i}]") for i, e in enumerate(exprs)]
    return [as_expr(exprs, name=name)]


def _fresh_symbols(prefix: str, taken: set):
    """``prefix0, prefix1, …`` as plain Symbols, skipping every name in ``taken`` — by name, not
    by symbol equality: a user's ``Symbol('x0', real=True)`` differs from ``Symbol('x0')`` but
    prints the same, and generated code must not shadow an argument."""
    i = 0
    while True:
        name = f"{prefix}{i}"
        i += 1
        if name not in taken:
            yield sp.Symbol(name)


def _expand_small_powers(replacements, reduced, limit: int, taken: set = frozenset(),
                         fast: frozenset = FAST_EXPONENTS["numpy"]):
    """Bind the compound base of every expanded power (:func:`_expands`) to a temporary and write
    the power as a product, as SymPy's ``create_expand_pow_optimization`` does for symbol bases:
    ``b**3 → b*b*b``, ``b**-3 → 1/(b*b*b)`` (an unevaluated ``Mul``).  Returns new
    (replacements, reduced) in dependency order."""
    if limit < 2:
        return list(replacements), list(reduced)
    names = _fresh_symbols("pb", taken)
    bases: dict = {}
    out: list = []

    def rewrite(e):
        if e.is_Atom or not e.free_symbols:
            return e
        args = [rewrite(a) for a in e.args]
        if any(a is not b for a, b in zip(args, e.args)):
            e = e.func(*args)
        if not _expands(e, limit, fast):
            return e
        base, n = e.base, int(e.exp)
        if not base.is_Symbol:
            if base not in bases:
                bases[base] = next(names)
                out.append((bases[base], base))
            base = bases[base]
        prod = sp.UnevaluatedExpr(sp.Mul(*([base] * abs(n)), evaluate=False))
        return prod if n > 0 else 1 / prod

    for sym, rhs in replacements:
        rhs = rewrite(rhs)
        out.append((sym, rhs))
    red = [rewrite(e) for e in reduced]
    return out, red


def codegen_plan(entries, *, cse="auto", expand_pow: int = EXPAND_POW_LIMIT, backend: str = "numpy"):
    """How :func:`compile_expr` writes code for the scalar ``entries``: ``(use_cse, replacements,
    reduced)``, the ``(symbol, expression)`` assignments and the output expressions handed to
    ``lambdify``, with small integer powers (``|n| ≤ expand_pow``, except the ``backend``'s
    :data:`FAST_EXPONENTS`) written as products.

    ``cse="auto"`` chooses CSE iff it lowers :func:`operation_cost` by at least
    :data:`CSE_MIN_SAVING` (10 %); ``True`` / ``False`` force the choice."""
    if cse not in ("auto", True, False):
        raise CompileError(f"cse must be 'auto', True or False; got {cse!r}")
    if isinstance(expand_pow, bool) or not isinstance(expand_pow, (int, np.integer)) or expand_pow < 0:
        raise CompileError(f"expand_pow must be an integer >= 0 (0: keep powers); got {expand_pow!r}")
    if backend not in FAST_EXPONENTS:
        raise CompileError(f"backend must be one of {tuple(FAST_EXPONENTS)}; got {backend!r}")
    fast = FAST_EXPONENTS[backend]
    entries = _expr_list(entries, "entries")
    taken = {str(s) for e in entries for s in e.free_symbols}
    plain = _expand_small_powers([], list(entries), int(expand_pow), taken, fast)
    if cse is False:
        return False, *plain
    # x0, x1, … as lambdify(cse=True) names them (the printed order of terms follows the names)
    repl, red = sp.cse(list(entries), symbols=_fresh_symbols("x", taken))
    if not repl and cse == "auto":
        return False, *plain
    with_cse = _expand_small_powers(repl, red, int(expand_pow), taken, fast)
    if cse == "auto":
        cost_plain = operation_cost([r for _, r in plain[0]] + plain[1])
        cost_cse = operation_cost([r for _, r in with_cse[0]] + with_cse[1])
        if cost_cse > (1.0 - CSE_MIN_SAVING) * cost_plain:
            return False, *plain
    return True, *with_cse


def _broadcast_shape(shapes) -> tuple:
    """The broadcast of ``shapes`` (NumPy rules); a RuntimeError, like ``torch.broadcast_shapes``,
    when they do not broadcast.  Pure Python: ``torch.broadcast_shapes`` costs ~25 µs a call."""
    nd = max((len(s) for s in shapes), default=0)
    out = [1] * nd
    for s in shapes:
        for i, d in enumerate(s, nd - len(s)):
            if d != 1 and d != out[i]:
                if out[i] != 1:
                    raise RuntimeError(f"shapes {[tuple(s) for s in shapes]} do not broadcast together")
                out[i] = d
    return tuple(out)


@dataclass(frozen=True)
class CompiledFunction:
    """A compiled expression: call it with one array per argument (broadcast together).

    Attributes: ``expr`` (the source expression), ``args`` (the argument symbols, in call order),
    ``backend``, ``shape`` (trailing output shape: ``()`` scalar, ``(m, n)`` Matrix, ``(k,)``
    list), ``device`` (torch only), ``dtype``, ``cse`` (whether CSE was used: the ``cse="auto"``
    decision).
    """

    expr: Any
    args: tuple[sp.Symbol, ...]
    backend: str
    shape: tuple[int, ...]
    dtype: Any
    cse: bool
    device: Any = None
    _fn: Callable = field(default=None, repr=False, compare=False)
    #: the ``sympy.Integral`` nodes of ``expr`` evaluated by quadrature (empty for most expressions)
    integrals: tuple = ()

    def __call__(self, *values):
        if len(values) != len(self.args):
            raise TypeError(
                f"this function takes {len(self.args)} argument(s) {[str(a) for a in self.args]}; "
                f"got {len(values)}"
            )
        if self.backend == "numpy":
            arrays = [np.asarray(v, dtype=self.dtype) for v in values]
            bshape = (np.broadcast(*arrays).shape if 0 < len(arrays) <= 32
                      else np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ())
            raw = self._fn(*arrays)
            if (not self.shape and type(raw) is np.ndarray and raw.shape == bshape
                    and raw.dtype == self.dtype and raw.flags.owndata
                    and not any(raw is a for a in arrays)):
                return raw  # a fresh array already: no copy (it shares memory with no input)
            return self._assemble_numpy(raw, bshape)
        import torch

        dt, dev = self.dtype, self.device
        tensors = [v if type(v) is torch.Tensor and v.dtype is dt and v.device == dev
                   else torch.as_tensor(v, dtype=dt, device=dev) for v in values]
        bshape = torch.Size(_broadcast_shape([t.shape for t in tensors]))
        raw = self._fn(*tensors)
        if (not self.shape and isinstance(raw, torch.Tensor) and raw.shape == bshape
                and raw.dtype == self.dtype and raw._base is None
                and not any(raw is t for t in tensors)):
            return raw  # a fresh tensor already (not a view, not an input): no copy
        return self._assemble_torch(raw, tuple(bshape))

    def at_points(self, points):
        """Evaluate at points stacked on the LAST axis: ``points[..., i]`` is argument i."""
        if self.backend == "numpy":
            pts = np.asarray(points, dtype=self.dtype)
        else:
            import torch

            pts = torch.as_tensor(points, dtype=self.dtype, device=self.device)
        if pts.shape[-1] != len(self.args):
            raise ValueError(
                f"points must have {len(self.args)} coordinates on the last axis; got shape {tuple(pts.shape)}"
            )
        return self(*[pts[..., i] for i in range(len(self.args))])

    # -- assembly -------------------------------------------------------------------------------
    def _n_entries(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    def _assemble_numpy(self, raw, bshape):
        if not self.shape:
            return np.array(np.broadcast_to(np.asarray(raw, dtype=self.dtype), bshape))
        out = np.empty(tuple(bshape) + (self._n_entries(),), dtype=self.dtype)
        for i, val in enumerate(raw):
            out[..., i] = val
        return out.reshape(tuple(bshape) + self.shape)

    def _assemble_torch(self, raw, bshape):
        import torch

        if not self.shape:
            if isinstance(raw, torch.Tensor):
                return raw.to(self.dtype).expand(bshape).clone()
            return torch.full(bshape, float(raw), dtype=self.dtype, device=self.device)
        out = torch.empty(bshape + (self._n_entries(),), dtype=self.dtype, device=self.device)
        for i, val in enumerate(raw):
            out[..., i] = val
        return out.reshape(bshape + self.shape)


def compile_expr(expr, args, *, backend: str = "numpy", cse: Any = "auto", device: Any = "auto",
                 dtype: Any = None, quad_rtol: float = 1e-12, quad_atol: float = 1e-13,
                 expand_pow: int = EXPAND_POW_LIMIT) -> CompiledFunction:
    """Compile a SymPy expression (scalar, ``Matrix`` or list of scalars) into a vectorised callable.

    Parameters
    ----------
    expr : sympy expression, ``Matrix`` or list/tuple of scalar expressions.
    args : Symbol, sequence of Symbols, or Matrix of Symbols (flattened) — the call signature.
        Every free symbol of ``expr`` must be among them (substitute parameters first with
        ``expr.subs({...})``); otherwise :class:`CompileError` names the missing symbols.
        Undefined functions (``sp.Function('f')(x)``), ``zoo`` and ``nan`` in ``expr`` are refused
        with :class:`CompileError` too, here rather than when the result is called.
    backend : ``"numpy"`` (default) or ``"torch"``.
    cse : common-subexpression elimination: ``"auto"`` (default) uses it where it cuts the
        weighted operation count by ≥ 10 % (module docstring, :func:`codegen_plan`); ``True`` /
        ``False`` force it.
    expand_pow : integer powers ``b**n`` with ``|n| ≤ expand_pow`` are written as products,
        except the backend's fast-path exponents (default 8; 0 keeps every power).
    device : torch device; ``"auto"`` → CUDA if available else CPU (ignored by numpy, which only
        accepts ``"auto"``/``"cpu"``).
    dtype : numpy / torch dtype; default float64.
    quad_rtol, quad_atol : tolerances of the quadrature of ``sympy.Integral`` nodes (definite, finite
        limits, one or more variables; the limits may depend on ``args``). Each call integrates
        every point with adaptive composite Gauss–Legendre (:func:`numerics.quadrature.integrate_batch`)
        in NumPy float64 on the CPU — also for the torch backend, whose result is then moved to the
        device (no autograd through the integral); a point that misses the tolerance keeps its best
        value with a :class:`numerics.quadrature.QuadratureWarning`. Indefinite integrals and
        infinite limits are refused with :class:`CompileError`.

    Returns a :class:`CompiledFunction`; see the module docstring for output shapes.
    """
    if backend not in _BACKENDS:
        raise CompileError(f"backend must be one of {_BACKENDS}; got {backend!r}")
    syms = _flatten_args(args)
    entries, shape = _entries(expr)
    _check_compilable(entries)
    free = set().union(*(e.free_symbols for e in entries)) if entries else set()
    missing = free - set(syms)
    if missing:
        names = sorted(str(s) for s in missing)
        raise CompileError(
            f"expression has free symbols {names} that are not in args {[str(s) for s in syms]}: "
            "add them to args or substitute numbers with expr.subs({...}) before compiling"
        )
    entries, integrals = _lift_integrals(entries)
    # code generation and lambdify on assumption-free symbols: the same code, without SymPy's
    # assumption queries on real/positive symbols (theory.coordinates.strip_assumptions)
    (entries, code_syms), _ = strip_assumptions((entries, list(syms)))
    if backend == "numpy":
        if device not in ("auto", "cpu", None):
            raise CompileError(f"the numpy backend runs on the CPU only; got device={device!r} (use backend='torch')")
        dt = np.dtype(np.float64 if dtype is None else dtype)
        modules = ["scipy", "numpy"]
        dev = None
        code_entries = entries
    else:
        import torch

        dt = torch.float64 if dtype is None else dtype
        if not isinstance(dt, torch.dtype):
            raise CompileError(f"dtype for the torch backend must be a torch.dtype; got {dtype!r}")
        dev = resolve_device(device)
        modules = "torch"
        code_entries = [_fold_constants(e) for e in entries]
    use_cse, replacements, reduced = codegen_plan(code_entries, cse=cse, expand_pow=expand_pow,
                                                  backend=backend)
    target = reduced if shape else reduced[0]
    fn = sp.lambdify(code_syms + list(integrals.values()), target, modules=modules,
                     cse=lambda _expr: (replacements, target))
    if integrals:
        fn = _with_integrals(fn, [_IntegralEvaluator(node, syms, quad_rtol, quad_atol)
                                  for node in integrals], backend, dt, dev)
    return CompiledFunction(expr=expr, args=syms, backend=backend, shape=shape, dtype=dt, cse=use_cse,
                            device=dev, _fn=fn, integrals=tuple(integrals))


# --------------------------------------------------------------------------------------------
# sympy.Integral nodes: lifted out of the expression and evaluated by quadrature
# --------------------------------------------------------------------------------------------
def _lift_integrals(entries: list) -> tuple[list, dict]:
    """Replace every outermost ``Integral`` by a placeholder Dummy; returns (entries, {node: dummy})."""
    table: dict = {}

    def lift(e):
        if isinstance(e, sp.Integral):
            if e not in table:
                table[e] = sp.Dummy(f"integral{len(table)}")
            return table[e]
        if not e.args or not e.has(sp.Integral):
            return e
        return e.func(*[lift(a) for a in e.args])

    return [lift(e) for e in entries], table


class _IntegralEvaluator:
    """One definite ``Integral`` as a function of the arguments: integrand and limits compiled
    with :func:`compile_expr` (nested integrals recursively), values by :func:`integrate_batch`."""

    def __init__(self, node: sp.Integral, syms: tuple, rtol: float, atol: float):
        *inner_limits, last = node.limits
        if len(last) != 3:
            raise CompileError(f"an indefinite integral has no value: {node}; give limits, e.g. "
                               "Integral(f, (s, a, b))")
        var, lo, hi = last
        for bound in (lo, hi):
            if bound.has(sp.oo, -sp.oo, sp.zoo):
                raise CompileError(f"integrals with infinite limits are not compiled: {node}; "
                                   "map the range to a finite one (e.g. s = tan(u)) first")
        inner = node.function if not inner_limits else sp.Integral(node.function, *inner_limits)
        s = sp.Dummy("s")
        self.node = node
        self._rtol, self._atol = rtol, atol
        opts = dict(backend="numpy", quad_rtol=rtol, quad_atol=atol)
        self._f = compile_expr(inner.xreplace({var: s}), (s, *syms), **opts)
        self._lo = compile_expr(lo, syms, **opts)
        self._hi = compile_expr(hi, syms, **opts)

    def __call__(self, *arrays) -> np.ndarray:
        arrs = [np.asarray(a.detach().cpu() if hasattr(a, "detach") else a, dtype=np.float64)
                for a in arrays]
        arrs = np.broadcast_arrays(*arrs) if arrs else []
        shape = arrs[0].shape if arrs else ()
        flat = [a.reshape(-1) for a in arrs]
        n = flat[0].size if flat else 1
        lo = np.broadcast_to(self._lo(*flat), (n,))
        hi = np.broadcast_to(self._hi(*flat), (n,))
        res = integrate_batch(lambda s, rows: self._f(s, *[a[rows][:, None] for a in flat]), lo, hi,
                              rtol=self._rtol, atol=self._atol, what=f"quadrature of {self.node}"[:120])
        return res.value.reshape(shape)


def _with_integrals(fn: Callable, evaluators: list, backend: str, dtype, device) -> Callable:
    def call(*arrays):
        values = [ev(*arrays) for ev in evaluators]
        if backend == "torch":
            import torch

            values = [torch.as_tensor(v, dtype=dtype, device=device) for v in values]
        return fn(*arrays, *values)

    return call


def compile_many(exprs: Sequence, args, **kwargs) -> list[CompiledFunction]:
    """Compile several expressions with the same arguments and options."""
    return [compile_expr(e, args, **kwargs) for e in exprs]
