"""Vectorised adaptive Gauss–Legendre quadrature: many definite integrals ``∫_a^b f`` at once.

Used by :func:`numerics.compile.compile_expr` for the ``sympy.Integral`` nodes that theory
returns when an integral has no closed form (e.g. the SC.eq5 effective potential
``v(θ) = ∫_{θ0}^{θ} V(s) ds``, :func:`theory.effective_potential.effective_potential`) —
``lambdify`` cannot compile an Integral.

Method: every integral is mapped to u ∈ [0, 1], ``∫_a^b f(s) ds = (b − a) ∫_0^1 f(a + (b − a)u) du``,
and integrated with the composite ``nodes``-point Gauss–Legendre rule on m equal panels for
m = 1, 2, 4, …; the error estimate of the m-panel value is ``|Q_2m − Q_m|`` (conservative: the
2m value is the one returned and is far more accurate than the estimate for smooth f). A point is
done when the estimate is below ``max(atol, rtol·|Q|, 64 ε ∫|f|)`` (the last term is the
rounding floor of the sum); only the unfinished points are refined, so the cost adapts per point.
Points whose integrand is not finite get NaN/inf and are not refined. A point still unfinished at
``max_panels`` keeps its best value and a :class:`QuadratureWarning` gives the largest estimate.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["QuadratureWarning", "QuadratureResult", "integrate_batch"]

_EPS = np.finfo(np.float64).eps


class QuadratureWarning(RuntimeWarning):
    """An integral did not reach the requested tolerance (value returned with its error estimate)."""


@dataclass(frozen=True)
class QuadratureResult:
    """``value``, ``error`` (estimate) and ``converged`` per point (arrays of shape (P,))."""

    value: np.ndarray
    error: np.ndarray
    converged: np.ndarray


def _panel_rule(m: int, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(nodes)
    u = ((np.arange(m)[:, None] + (x[None, :] + 1) / 2) / m).ravel()
    return u, np.tile(w / (2 * m), m)


def integrate_batch(f: Callable, a, b, *, rtol: float = 1e-12, atol: float = 1e-13,
                    nodes: int = 20, max_panels: int = 1024, max_block: int = 2_000_000,
                    what: str = "integral") -> QuadratureResult:
    """``∫_{a[i]}^{b[i]} f(s, rows)[i] ds`` for every point i (a, b of shape (P,)).

    ``f(s, rows)`` receives nodes ``s`` of shape (len(rows), N) for the points ``rows`` (an index
    array into the P points) and returns values broadcastable to that shape. Blocks of at most
    ``max_block`` nodes bound the memory.
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"limits have different shapes {a.shape} and {b.shape}")
    P = a.size
    value = np.full(P, np.nan)
    error = np.full(P, np.inf)
    done = np.zeros(P, dtype=bool)
    finite_limits = np.isfinite(a) & np.isfinite(b)
    done[~finite_limits] = True  # NaN limits give NaN
    zero = finite_limits & (a == b)
    value[zero], error[zero], done[zero] = 0.0, 0.0, True

    def evaluate(rows: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
        u, w = _panel_rule(m, nodes)
        q = np.empty(rows.size)
        l1 = np.empty(rows.size)
        step = max(1, max_block // u.size)
        for lo in range(0, rows.size, step):
            r = rows[lo:lo + step]
            width = (b[r] - a[r])[:, None]
            s = a[r][:, None] + width * u[None, :]
            with np.errstate(all="ignore"):
                vals = np.broadcast_to(np.asarray(f(s, r), dtype=np.float64), s.shape)
                q[lo:lo + step] = width[:, 0] * (vals @ w)
                l1[lo:lo + step] = np.abs(width[:, 0]) * (np.abs(vals) @ w)
        return q, l1

    active = np.flatnonzero(~done)
    m = 1
    coarse, _ = evaluate(active, m) if active.size else (np.empty(0), None)
    while active.size and m < max_panels:
        m *= 2
        fine, l1 = evaluate(active, m)
        with np.errstate(invalid="ignore"):
            est = np.abs(fine - coarse)
            tol = np.maximum(np.maximum(atol, rtol * np.abs(fine)), 64 * _EPS * l1)
            ok = est <= tol
        bad = ~np.isfinite(fine)
        value[active], error[active] = fine, est
        finished = ok | bad
        done[active[finished]] = True
        active, coarse = active[~finished], fine[~finished]
    if active.size:
        warnings.warn(
            f"{what}: {active.size} of {P} point(s) did not reach rtol={rtol:g}/atol={atol:g} with "
            f"{max_panels} panels of {nodes} Gauss–Legendre nodes (largest error estimate "
            f"{np.max(error[active]):.2e}); the integrand may be singular or strongly oscillating "
            "on [a, b]", QuadratureWarning, stacklevel=3)
    converged = done & np.isfinite(value)
    return QuadratureResult(value=value, error=error, converged=converged)
