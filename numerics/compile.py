"""Compile theory expressions into vectorised NumPy / PyTorch callables.

The rule of the project is that ``numerics`` never re-derives a formula that ``theory`` has: it
*compiles* it.  :func:`compile_expr` is the one entry point.  It wraps ``sympy.lambdify`` with
common-subexpression elimination (``cse=True``), checks that every free symbol is an argument,
broadcasts constant entries to the shape of the inputs, and stacks Matrix / list outputs into one
array with trailing dimensions:

* scalar expression            → array of the broadcast input shape ``S``;
* ``Matrix`` of shape (m, n)   → array of shape ``S + (m, n)`` (a p×1 column gives ``S + (p, 1)``);
* list / tuple of k expressions → array of shape ``S + (k,)``.

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
    "resolve_device",
]

from numerics.devices import DeviceFallbackWarning, resolve_device  # noqa: E402  (one device policy)
from numerics.quadrature import integrate_batch  # noqa: E402
from theory.coordinates import as_expr

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


@dataclass(frozen=True)
class CompiledFunction:
    """A compiled expression: call it with one array per argument (broadcast together).

    Attributes: ``expr`` (the source expression), ``args`` (the argument symbols, in call order),
    ``backend``, ``shape`` (trailing output shape: ``()`` scalar, ``(m, n)`` Matrix, ``(k,)``
    list), ``device`` (torch only), ``dtype``, ``cse``.
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
            bshape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
            raw = self._fn(*arrays)
            return self._assemble_numpy(raw, bshape)
        import torch

        tensors = [torch.as_tensor(v, dtype=self.dtype, device=self.device) for v in values]
        bshape = torch.broadcast_shapes(*(t.shape for t in tensors)) if tensors else torch.Size([])
        raw = self._fn(*tensors)
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


def compile_expr(expr, args, *, backend: str = "numpy", cse: bool = True, device: Any = "auto",
                 dtype: Any = None, quad_rtol: float = 1e-12,
                 quad_atol: float = 1e-13) -> CompiledFunction:
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
    cse : common-subexpression elimination in the generated code (default True).
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
    target = code_entries if shape else code_entries[0]
    fn = sp.lambdify(list(syms) + list(integrals.values()), target, modules=modules, cse=cse)
    if integrals:
        fn = _with_integrals(fn, [_IntegralEvaluator(node, syms, quad_rtol, quad_atol)
                                  for node in integrals], backend, dt, dev)
    return CompiledFunction(expr=expr, args=syms, backend=backend, shape=shape, dtype=dt, cse=cse,
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
