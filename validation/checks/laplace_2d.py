"""SC.eq6 in two dimensions: Laplace basin weights (with ``det ∂²v``) against exact masses of a
four-basin landscape with full, state-dependent, anisotropic D.

The landscape (:func:`rotated_separable_landscape`) is separable in coordinates ``(u, w)``,
``U = U₁(u) + U₂(w)``, ``D = diag(d₁(u), d₂(w))`` — then V has zero curl and ``v = v₁(u) + v₂(w)``
with ``v_i`` from :func:`theory.effective_potential.effective_potential` (SC.fn3's 1-D form) — seen
in coordinates ``z = Rθ`` rotated by 30°, where D has state-dependent off-diagonal entries. The
exact basin weights are then products of 1-D basin masses, computed with mpmath
(:func:`separable_reference_weights`), independently of the 2-D grid pipeline
(:class:`numerics.stationary_2d.StationaryProblem2D`) that is being checked.

Shared by the ledger check, the tests and the report section.
"""
from __future__ import annotations

import functools

import mpmath
import numpy as np
import sympy as sp

from numerics.stationary_2d import StationaryProblem2D
from theory.effective_potential import effective_potential
from theory.laplace import exact_basin_log_masses_1d, find_critical_points_1d
from validation.ledger import Verdict, check

__all__ = [
    "rotated_separable_landscape",
    "separable_reference_weights",
    "laplace_2d_sweep",
    "T_SWEEP_2D",
]

#: temperatures of the 2-D sweep (Laplace relative error must fall ∝ T over them)
T_SWEEP_2D = tuple(float(t) for t in np.geomspace(0.02, 0.2, 5))
SLOPE_BAND = (0.8, 1.2)
#: grid-vs-reference agreement required of the exact 2-D weights over T_SWEEP_2D (401² nodes)
GRID_TOLERANCE = 1e-5

_u, _w, _x, _y = sp.symbols("u w x y", real=True)
_T = sp.Symbol("T", positive=True)


@functools.lru_cache(maxsize=None)
def rotated_separable_landscape(angle=sp.pi / 6):
    """``(U, D, theta, parts)`` of the rotated separable four-basin landscape.

    ``U₁ = (u² − 1)² + u/10``, ``U₂ = (w² − 1)² − w/10``, ``d₁ = 1 + u²/2``, ``d₂ = 1 + w²/4``;
    ``U(z) = U₁ + U₂`` and ``D(z) = R diag(d₁, d₂) Rᵀ`` at ``(u, w) = Rᵀz``. ``parts`` holds the
    1-D effective potentials ``v₁(u, T)``, ``v₂(w, T)`` (derived and verified by
    ``theory.effective_potential``), their symbols and the rotation matrix.
    """
    R = sp.Matrix([[sp.cos(angle), -sp.sin(angle)], [sp.sin(angle), sp.cos(angle)]])
    U1, U2 = (_u**2 - 1) ** 2 + _u / 10, (_w**2 - 1) ** 2 - _w / 10
    d1, d2 = 1 + _u**2 / 2, 1 + _w**2 / 4
    back = R.T * sp.Matrix([_x, _y])
    sub = {_u: back[0], _w: back[1]}
    U = (U1 + U2).subs(sub)
    D = (R * sp.diag(d1, d2) * R.T).subs(sub)
    parts = {"v1": effective_potential(U1, d1, _u, _T), "v2": effective_potential(U2, d2, _w, _T),
             "u": _u, "w": _w, "T": _T, "R": np.array(R, dtype=float)}
    return U, D, (_x, _y), parts


def separable_reference_weights(T: float, *, lower: float = -4.0, upper: float = 4.0):
    """Exact basin weights of the rotated separable landscape at ``T`` as products of 1-D masses
    (mpmath quadrature of ``exp(−2v_i/T)`` split at the maxima of ``v_i(·, T)``).

    Returns ``(minima, weights)``: (K, 2) minima in the rotated coordinates z and their weights.
    """
    _, _, _, parts = rotated_separable_landscape()
    Tf = sp.Float(T, 30)
    per_axis = []
    for key, s in (("v1", parts["u"]), ("v2", parts["w"])):
        vt = parts[key].subs(parts["T"], Tf)
        mins, maxs = find_critical_points_1d(vt, s, lower, upper, grid=800)
        per_axis.append((mins, exact_basin_log_masses_1d(vt, s, Tf, mins, lower=lower, upper=upper,
                                                          maxima=maxs)))
    points, log_masses = [], []
    for mu, lu in zip(*per_axis[0]):
        for mw, lw in zip(*per_axis[1]):
            points.append(parts["R"] @ np.array([float(mu), float(mw)]))
            log_masses.append(lu + lw)
    lse = mpmath.log(mpmath.fsum(mpmath.exp(e) for e in log_masses))
    return np.array(points), np.array([float(mpmath.exp(e - lse)) for e in log_masses])


@functools.lru_cache(maxsize=None)
def laplace_2d_sweep(temperatures=T_SWEEP_2D, nodes: int = 401, half_width: float = 2.6) -> dict:
    """Grid masses, reference masses and SC.eq6 Laplace weights over ``temperatures``."""
    U, D, theta, _ = rotated_separable_landscape()
    problem = StationaryProblem2D(U, theta, diffusion=D, domain=((-half_width, half_width),) * 2,
                                  nodes=nodes)
    sweep = problem.sweep(temperatures)
    grid_err = []
    for k, T in enumerate(sweep.temperatures):
        pts, w_ref = separable_reference_weights(float(T))
        order = [int(np.argmin(np.linalg.norm(pts - m, axis=1))) for m in sweep.minima[k]]
        grid_err.append(float(np.max(np.abs(sweep.basin_weights[k] / w_ref[order] - 1))))
    lap_err = sweep.laplace_relative_error()
    slope = float(np.polyfit(np.log(sweep.temperatures), np.log(lap_err), 1)[0])
    return {"problem": problem, "sweep": sweep, "grid_vs_reference": grid_err,
            "laplace_error": lap_err.tolist(), "slope": slope, "nodes": nodes}


@check("SC.eq6", name="laplace_weights_2d_anisotropic_state_dependent_D")
def laplace_weights_2d():
    """SC.eq6 (p = 2, det of the Hessian of v) vs exact masses, rotated separable four-basin case."""
    res = laplace_2d_sweep()
    sw, errs, gerr = res["sweep"], res["laplace_error"], res["grid_vs_reference"]
    agrees = (SLOPE_BAND[0] < res["slope"] < SLOPE_BAND[1] and max(errs) < 3e-2
              and max(gerr) < GRID_TOLERANCE)
    return Verdict.measured(
        "2-D, four basins, D = R diag(1 + u²/2, 1 + w²/4) Rᵀ (state-dependent, off-diagonal, zero curl), "
        "U = (u²−1)² + u/10 + (w²−1)² − w/10 rotated by 30°: exact weights from the 2-D grid pipeline "
        f"({res['nodes']}² nodes, basins of the gradient flow of v) agree with products of 1-D mpmath masses to "
        f"{max(gerr):.1e}; SC.eq6 weights w_k ∝ exp(−2v(μ_k)/T) det(∂²v(μ_k))^(-1/2) have max relative "
        f"error {errs[0]:.2e} at T = {sw.temperatures[0]:g} and {errs[-1]:.2e} at T = {sw.temperatures[-1]:g}, "
        f"log-log slope {res['slope']:.3f} (O(T), as in 1-D).",
        metrics={"T": sw.temperatures.tolist(), "max_rel_weight_error": errs, "slope": res["slope"],
                 "slope_band": list(SLOPE_BAND), "grid_vs_reference_max_rel": gerr,
                 "grid_tolerance": GRID_TOLERANCE, "weights": sw.basin_weights.tolist()},
        agrees=agrees)
