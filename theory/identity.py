"""Identity checks: is ``a − b`` identically zero?

The project's rule (DESIGN.md, Conventions): an identity is established by ``simplify(a − b) == 0``;
when simplify cannot settle it, a randomized high-precision (mpmath) spot-check at several points
supplements it, and the result says which of the two established it. A spot-check that finds a
non-zero value is a counterexample and is returned as such.

Simplifications are cached in-process (``functools.lru_cache`` keyed by the expression), never on
disk, so repeated checks of the same expression in one test run are cheap.

Every entry point takes ``budget_s`` (seconds, default :data:`theory.budget.DEFAULT_BUDGET_S` =
20 s, None = no limit; :mod:`theory.budget`). A simplification that does not finish within it falls
back to the unsimplified expression (equal to it), which the numeric spot-check then decides; a
spot-check that does not finish raises :class:`theory.budget.SymbolicTimeoutError`.
"""
from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field

import mpmath
import sympy as sp
from sympy.core.function import AppliedUndef

from .budget import DEFAULT_BUDGET_S, Deadline
from .coordinates import as_expr, as_matrix, strip_assumptions

__all__ = ["IdentityResult", "check_identity", "check_zero", "cached_simplify", "is_zero"]

#: Share of a check_zero budget the simplifications may use; the rest is left for the spot-check.
SIMPLIFY_SHARE = 0.75


def cached_simplify(expr, *, budget_s=DEFAULT_BUDGET_S):
    """``sympy.simplify`` with an in-process cache (expressions are hashable).

    ``budget_s`` (seconds, default 20, None = no limit): when simplify does not finish within it,
    ``expr`` is returned unsimplified (the same expression, so the result is still exact).
    """
    e = _scalar(expr)
    return Deadline(budget_s).attempt(_cached_simplify, e, step="simplify", fallback=e)[0]


def _scalar(expr):
    if isinstance(expr, sp.MatrixBase):
        raise TypeError("cached_simplify takes a scalar expression; map it over matrix entries")
    return as_expr(expr)


def _simplify(expr):
    """Cached simplify without a budget of its own: for theory's steps that already run inside a
    :class:`theory.budget.Deadline` (so that their ``budget_s=None`` means no limit)."""
    return _cached_simplify(_scalar(expr))


@functools.lru_cache(maxsize=4096)
def _cached_simplify(expr):
    if _zero_over_common_denominator(expr):
        return sp.Integer(0)
    return sp.simplify(expr)


def _zero_over_common_denominator(expr) -> bool:
    """True when ``expr`` is proven identically zero by a cheap canonical form: over one common
    denominator (``together``), the expanded numerator is 0 — taken on assumption-free copies of its
    symbols (:func:`theory.coordinates.strip_assumptions`: no assumption queries while the terms are
    rebuilt). ``exp(…)``, ``log(…)``, undefined functions and their derivatives are kept as atoms.

    An identity of the plain symbols holds for every value, so it holds under any assumptions:
    a True is a proof (where ``expr`` is defined), and ``simplify`` returns 0 on such input as well.
    False proves nothing: then ``simplify`` runs on the original expression, with its assumptions,
    as before. Identities are the common case of the ledger's ``check_zero`` calls; there this
    skips ``simplify`` (issue 9 point 4: 103 of the 227 simplifications of the effective-potential,
    test-loss, free-energy, Laplace and synthetic checks; ~3 s CPU, for ~1.2 s spent on the test)."""
    if expr.is_Number:
        return bool(expr == 0)
    if expr.has(sp.Integral, sp.Piecewise) or not expr.is_commutative:
        return False
    plain, _ = strip_assumptions(expr)
    try:
        numerator, _ = sp.fraction(sp.together(plain))
        return sp.expand(numerator) == 0
    except (sp.PolynomialError, NotImplementedError, TypeError, ValueError):  # pragma: no cover - defensive
        return False


@dataclass(frozen=True)
class IdentityResult:
    """Outcome of :func:`check_zero`.

    Attributes
    ----------
    exact : bool
        ``simplify`` reduced every entry to 0 (a proof).
    numeric : bool | None
        every spot-check point gave |a − b| below ``tol`` (None: not attempted, e.g. undefined
        functions in the expression).
    max_abs : float | None
        largest |a − b| seen over the spot-check points.
    counterexample : dict | None
        a point (symbol name → value) where |a − b| ≥ tol, with the residual, if one was found.
    residual : sympy expression
        the simplified difference (first non-zero entry for matrices).
    """

    exact: bool
    numeric: bool | None
    max_abs: float | None
    counterexample: dict | None = None
    residual: object = None
    points: int = 0
    notes: tuple = field(default_factory=tuple)

    @property
    def holds(self) -> bool:
        """True when proven exactly, or (only if no exact proof was found) all spot checks pass."""
        if self.counterexample is not None:
            return False
        return self.exact or bool(self.numeric)

    @property
    def method(self) -> str:
        if self.exact:
            return "exact (simplify)"
        if self.counterexample is not None:
            return "refuted (numeric counterexample)"
        if self.numeric:
            return f"numeric spot-check ({self.points} points, max |diff| = {self.max_abs:.1e})"
        return "undecided"

    def __bool__(self) -> bool:  # pragma: no cover - convenience
        return self.holds


def _entries(x):
    if isinstance(x, sp.MatrixBase):
        return list(x)
    return [as_expr(x)]


def _sample_value(sym: sp.Symbol, rng: random.Random):
    if sym.is_integer:
        lo = 1 if sym.is_positive else -3
        return sp.Integer(rng.randint(lo, 5))
    if sym.is_positive or sym.is_nonnegative:
        return sp.Float(rng.uniform(0.2, 2.0), 30)
    return sp.Float(rng.uniform(-1.5, 1.5), 30)


def check_zero(expr, *, points: int = 6, seed: int = 0, tol: float = 1e-25,
               dps: int = 40, try_exact: bool = True, budget_s=DEFAULT_BUDGET_S) -> IdentityResult:
    """Decide whether ``expr`` (scalar or Matrix) is identically zero.

    First ``simplify`` each entry (cached). Entries that do not simplify to 0 are evaluated at
    ``points`` random points with ``dps`` significant digits; a value ≥ ``tol`` is a
    counterexample. Expressions with undefined functions (``Function('f')(x)``) cannot be
    spot-checked and are decided by simplify alone.

    ``budget_s`` (seconds, default 20, None = no limit; :mod:`theory.budget`) bounds the call.
    The simplifications share the first 3/4 of it (each entry a fair part of what is left); an
    entry whose simplify runs out stays unsimplified and goes to the spot-check (the result then
    says ``exact=False`` and, in ``notes``, that simplify ran out of time). A spot-check that does
    not finish within the budget raises :class:`theory.budget.SymbolicTimeoutError`.
    """
    deadline = Deadline(budget_s)
    entries = _entries(expr)
    remaining = []
    residual = sp.Integer(0)
    notes = []
    if try_exact:
        entries, timed_out = _simplify_entries(entries, deadline)
        if timed_out:
            notes.append(f"simplify ran out of the time budget ({deadline.budget_s:g} s) for "
                         f"{timed_out} of {len(entries)} entries; those were spot-checked "
                         "unsimplified")
    for s in entries:
        if s != 0:
            remaining.append(s)
            if residual == 0:
                residual = s
    if not remaining:
        return IdentityResult(exact=True, numeric=None, max_abs=0.0, residual=sp.Integer(0))
    if any(r.has(AppliedUndef) for r in remaining):
        return IdentityResult(exact=False, numeric=None, max_abs=None, residual=residual,
                              notes=tuple(notes) + ("undefined functions: no numeric spot-check",))
    return deadline.run(_spot_check, remaining, residual, points, seed, tol, dps, tuple(notes),
                        step="the numeric spot-check of check_zero (fewer points= or a smaller dps= "
                             "make it cheaper)")


def _simplify_entries(entries: list, deadline: Deadline) -> tuple[list, int]:
    """Simplify every entry within the first :data:`SIMPLIFY_SHARE` of the budget, each entry a
    fair part of what is left; an entry that runs out stays as it is. Returns (entries, how many
    ran out)."""
    if deadline.deadline is None:
        return [_cached_simplify(e) for e in entries], 0
    phase = Deadline(max(deadline.remaining() * SIMPLIFY_SHARE, 1e-6))
    out, timed_out = [], 0
    for k, e in enumerate(entries):
        s, ok = phase.attempt(_cached_simplify, e, step="simplify", fallback=e,
                              share=1.0 / (len(entries) - k))
        out.append(s)
        timed_out += not ok
    return out, timed_out


def _spot_check(remaining, residual, points, seed, tol, dps, notes) -> IdentityResult:
    rng = random.Random(seed)
    syms = sorted(set().union(*[r.free_symbols for r in remaining]), key=lambda s: s.name)
    max_abs = 0.0
    with mpmath.workdps(dps):
        for _ in range(points):
            subs = {s: _sample_value(s, rng) for s in syms}
            for r in remaining:
                val = sp.N(r.subs(subs), dps)
                try:
                    mag = float(abs(complex(val)))
                except TypeError:
                    return IdentityResult(exact=False, numeric=False, max_abs=None, residual=residual,
                                          notes=notes + (f"non-numeric value {val} at {subs}",))
                max_abs = max(max_abs, mag)
                if mag >= tol:
                    ce = {s.name: float(v) for s, v in subs.items()}
                    ce["|difference|"] = mag
                    return IdentityResult(exact=False, numeric=False, max_abs=max_abs,
                                          counterexample=ce, residual=residual, points=points,
                                          notes=notes)
    return IdentityResult(exact=False, numeric=True, max_abs=max_abs, residual=residual, points=points,
                          notes=notes)


def check_identity(a, b, **kwargs) -> IdentityResult:
    """:func:`check_zero` of ``a − b`` (scalars or equal-shape matrices); keywords as there,
    ``budget_s`` included."""
    if isinstance(a, sp.MatrixBase) or isinstance(b, sp.MatrixBase):
        A, B = as_matrix(a, name="a"), as_matrix(b, name="b")
        if A.shape != B.shape:
            raise ValueError(f"shapes differ: {A.shape} vs {B.shape}")
        return check_zero(A - B, **kwargs)
    return check_zero(as_expr(a) - as_expr(b), **kwargs)


def is_zero(expr, *, budget_s=DEFAULT_BUDGET_S) -> bool:
    """True iff ``expr`` simplifies to 0 (exact only; no spot-check).

    ``budget_s`` (seconds, default 20, None = no limit) bounds the simplifications; there is no
    fallback (an unfinished simplify proves nothing either way), so running out raises
    :class:`theory.budget.SymbolicTimeoutError` — use :func:`check_zero`, which falls back to a
    numeric spot-check, or pass a larger budget.
    """
    entries = _entries(expr)
    return Deadline(budget_s).run(lambda: all(_cached_simplify(e) == 0 for e in entries),
                                  step="is_zero's simplify")
