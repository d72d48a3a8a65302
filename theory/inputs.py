"""Checks of the temperature T and the diffusion matrix D at the public entry points of ``theory``.

The steady state ``ρ ∝ exp(−2v/T)`` (SC.eq5) is a density only for ``T = λ/B > 0`` and a
positive-definite D; with T ≤ 0 or an indefinite D the formulas still return expressions, but not
normalisable ones — a silent wrong answer.  So:

* :func:`check_temperature` — a number must be real, finite and > 0; NaN, ±∞, ``zoo``, complex
  numbers and values ≤ 0 raise :class:`TemperatureError`.  A symbolic T must not be *known* to be
  ≤ 0 (``Symbol('T', negative=True)``, ``-T`` with T positive); a symbol whose sign SymPy does not
  know (``Symbol('T')``) is accepted — declare it ``positive=True`` to let SymPy use T > 0.
  Strings, bytes and bools raise :class:`TemperatureTypeError` (a ``TypeError``): pass a number or
  a positive Symbol (user text goes through :func:`theory.parsing.parse_expression`).
* :func:`check_diffusion` — D must be symmetric positive definite.  Constant D: Sylvester's criterion
  on the exact leading principal minors (a singular D is left to the callers'
  ``SingularDiffusionError``, which names the overparametrized remedy).  θ-dependent D: a leading
  minor SymPy knows to be ≤ 0 everywhere is refused, and, when D depends on θ alone (no other
  parameters), the minors are evaluated at a few fixed sample points (θ_i ∈ {−1.37, 0.61, 1.93},
  sign-restricted by the symbols' assumptions): a negative minor there is refused with the point.
  With other parameters in D only the assumptions are used (parameter values are unknown).  D that is
  positive definite only on part of the space (e.g. ``1 − x²``) is therefore refused unless the
  coordinates' assumptions restrict them to where D ≻ 0; otherwise definiteness is not proven (it
  cannot be in general) and is the caller's responsibility.
"""
from __future__ import annotations

import contextvars
import functools
import inspect
import itertools

import sympy as sp
from sympy.core.function import AppliedUndef

from .coordinates import as_square_matrix, as_theta

__all__ = [
    "TemperatureError",
    "TemperatureTypeError",
    "DiffusionNotPositiveDefiniteError",
    "check_temperature",
    "check_diffusion",
    "checked_inputs",
]


class TemperatureError(ValueError):
    """T is not a positive finite temperature (T = λ/B > 0)."""


class TemperatureTypeError(TemperatureError, TypeError):
    """T is not a number or a SymPy expression (a string, bytes, a bool)."""


class DiffusionNotPositiveDefiniteError(ValueError):
    """D is not positive definite: a leading principal minor is negative (or known ≤ 0)."""


_SAMPLES = (-1.37, 0.61, 1.93)
#: True inside a checked entry point, so that nested entry points (effective_potential →
#: drift_field) do not repeat the checks
_CHECKING: contextvars.ContextVar[bool] = contextvars.ContextVar("theory_inputs_checking", default=False)


def check_temperature(T, *, name: str = "T") -> sp.Expr:
    """Return T as a SymPy expression, refusing what cannot be a temperature (module docstring)."""
    if isinstance(T, (str, bytes, bytearray)):
        raise TemperatureTypeError(
            f"{name} is a string ({T!r}); pass a number (e.g. 0.01) or a positive Symbol "
            f"(sympy.Symbol('{name}', positive=True)) — strings are never evaluated")
    if isinstance(T, bool):
        raise TemperatureTypeError(f"{name} = {T!r} is a bool; pass a positive number or a positive Symbol")
    try:
        t = sp.sympify(T, strict=True)
    except (sp.SympifyError, TypeError, ValueError):
        raise TemperatureTypeError(f"{name} must be a positive number or a positive SymPy Symbol; got "
                                   f"{T!r} ({type(T).__name__})") from None
    if not isinstance(t, sp.Expr):
        raise TemperatureTypeError(f"{name} must be a scalar (a number or a positive Symbol); got "
                                   f"{type(t).__name__}")
    if t.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        raise TemperatureError(f"{name} = {t} is not finite; the temperature T = λ/B must be a finite number > 0")
    if t.is_number:
        if t.is_real is False or not t.is_extended_real:
            raise TemperatureError(f"{name} = {t} is not real; the temperature T = λ/B must be a real number > 0")
        if not bool(t > 0):
            raise TemperatureError(
                f"{name} = {t} must be > 0 (T = λ/B): for T ≤ 0 exp(−2v/T) is not a normalisable density")
        return t
    if t.is_positive is False:
        raise TemperatureError(
            f"{name} = {t} is known to be ≤ 0 from its symbols' assumptions; T = λ/B must be > 0 "
            f"(use sympy.Symbol('{name}', positive=True))")
    return t


def _minors(Dm: sp.Matrix) -> list:
    return [Dm[0, 0] if r == 1 else Dm[:r, :r].det(method="berkowitz") for r in range(1, Dm.shape[0] + 1)]


def _sample_value(sym: sp.Symbol, v: float) -> float:
    if sym.is_positive or sym.is_nonnegative:
        return abs(v)
    if sym.is_negative or sym.is_nonpositive:
        return -abs(v)
    return v


def check_diffusion(D, theta, *, name: str = "D") -> sp.Matrix:
    """Return D as a p×p Matrix after the positive-definiteness checks of the module docstring.

    Raises :class:`DiffusionNotPositiveDefiniteError` (a ``ValueError``) for a non-symmetric or
    (known or sampled) indefinite D; a constant singular D is passed on (see the docstring)."""
    th = as_theta(theta)
    p = len(th)
    Dm = as_square_matrix(D, p)
    asym = [(i, j) for i in range(p) for j in range(i + 1, p) if sp.expand(Dm[i, j] - Dm[j, i]) != 0]
    if asym:
        i, j = asym[0]
        raise DiffusionNotPositiveDefiniteError(
            f"{name} must be symmetric (a covariance); {name}[{i},{j}] = {Dm[i, j]} but {name}[{j},{i}] = {Dm[j, i]}")
    minors = _minors(Dm)
    remedy = ("; a diffusion (gradient-noise covariance) is positive definite — check the signs, or "
              "regularise (SC.eq13: D + β² I)")
    if not Dm.free_symbols:
        for r, m in enumerate(minors, start=1):
            m = sp.nsimplify(m) if isinstance(m, sp.Float) else m
            if m.is_number and m.is_extended_real and bool(m < 0):
                raise DiffusionNotPositiveDefiniteError(
                    f"{name} = {Dm.tolist()} is not positive definite: its leading principal minor of order {r} "
                    f"is {m} < 0 (Sylvester's criterion){remedy}")
        return Dm
    for r, m in enumerate(minors, start=1):
        if m.is_positive is False and m.is_zero is not True:
            raise DiffusionNotPositiveDefiniteError(
                f"{name} is not positive definite anywhere: its leading principal minor of order {r}, {m}, is "
                f"known to be ≤ 0{remedy}")
    if Dm.free_symbols - set(th):  # parameters: no sample values to trust; assumptions only
        return Dm
    # a minor with an undefined function U(θ) has no value at any point: sampling it only cost time
    # (complex() tried to split the unevaluated expression into real and imaginary parts, ~1 s)
    numeric = [(r, m) for r, m in enumerate(minors, start=1) if not m.has(AppliedUndef)]
    for point in itertools.islice(itertools.product(_SAMPLES, repeat=p), 9) if numeric else ():
        subs = {s: sp.Float(_sample_value(s, v)) for s, v in zip(th, point)}
        for r, m in numeric:
            try:
                val = complex(sp.N(m.subs(subs), 15))
            except (TypeError, ValueError):
                continue
            if val.imag == 0 and val.real < 0:
                where = {str(s): float(v) for s, v in subs.items() if s in set(th)}
                raise DiffusionNotPositiveDefiniteError(
                    f"{name} is not positive definite at θ = {where}: its leading principal minor of order {r} is "
                    f"{val.real:.4g} < 0 there{remedy}; if θ is restricted to where {name} ≻ 0, declare that on "
                    "the symbols (e.g. sympy.Symbol('x', positive=True))")
    return Dm


def checked_inputs(func):
    """Decorator for entry points with parameters ``T`` and/or ``D`` (+ ``theta``): run
    :func:`check_temperature` on T and :func:`check_diffusion` on D before the function."""
    sig = inspect.signature(func)
    has_T, has_D = "T" in sig.parameters, "D" in sig.parameters and "theta" in sig.parameters

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if _CHECKING.get():  # an outer checked entry point has checked these inputs already
            return func(*args, **kwargs)
        bound = sig.bind(*args, **kwargs)
        if has_T:
            check_temperature(bound.arguments.get("T"))
        if has_D:
            check_diffusion(bound.arguments.get("D"), bound.arguments.get("theta"))
        token = _CHECKING.set(True)
        try:
            return func(*args, **kwargs)
        finally:
            _CHECKING.reset(token)

    return wrapper
