"""Evidence of the numerical solvers: the finite-volume Fokker–Planck solver and the 2-D
stationary-density pipeline against closed forms and independent references.

Plain functions returning numbers (and the solver objects), shared by the ledger checks
(``validation.checks.fokker_planck_solver``, ``validation.checks.laplace_2d``), the report
sections (``validation.sections.fokker_planck_solver``, ``validation.sections.stationary_2d``) and
the tests, so a verdict and the report quote the same computation. Expensive results are cached
in-process (``functools.lru_cache``).

Fokker–Planck solver (SC.eq10), three comparisons:

* :func:`zero_curl_case` — SC App. B.1 ex3 (separable ``U = U₁(u) + U₂(w)``,
  ``D = diag(U₁, U₂)``, i.e. ``f = log``) seen in coordinates rotated by a fixed angle, so that
  D has state-dependent off-diagonal entries while the curl stays zero. Closed form (SC.eq5):
  ``ρ ∝ (U₁ U₂)^{−(1 + 2/T)}``.
* :func:`nonzero_curl_case` — ``U = ½ θᵀHθ`` with constant D not commuting with H: the true
  steady state is the Gaussian with the Lyapunov covariance ``HΣ + ΣHᵀ = T D`` and carries a
  current ``J = (H − (T/2) D Σ⁻¹) θ ρ ≠ 0`` (SC.B1.counter).
* :func:`fplanck_comparisons` — problems the ``fplanck`` package (v0.2.2) can express: SC's
  ``∂_tρ = ∂·(∂U ρ) + (T/2) ∂·∂(Dρ)`` with diagonal D is fplanck's equation with
  ``k_B·temperature = 1``, ``drag_i = 2/(T D_ii)``, diffusion ``T D_ii / 2`` and force
  ``F_i = −drag_i ∂_iU`` (mobility·force = −∂U); with constant D one can instead pass the
  potential with drag 1 and ``k_B·temperature_i = T D_ii / 2``.

SC.eq6 in two dimensions (:func:`laplace_2d_sweep`): Laplace basin weights (with ``det ∂²v``)
against exact masses of a four-basin landscape with full, state-dependent, anisotropic D. The
landscape (:func:`rotated_separable_landscape`) is separable in coordinates ``(u, w)``,
``U = U₁(u) + U₂(w)``, ``D = diag(d₁(u), d₂(w))`` — then V has zero curl and ``v = v₁(u) + v₂(w)``
with ``v_i`` from :func:`theory.effective_potential.effective_potential` (SC.fn3's 1-D form) — seen
in coordinates ``z = Rθ`` rotated by 30°, where D has state-dependent off-diagonal entries. The
exact basin weights are then products of 1-D basin masses, computed with mpmath
(:func:`separable_reference_weights`), independently of the 2-D grid pipeline
(:class:`numerics.stationary_2d.StationaryProblem2D`) that is being checked.
"""
from __future__ import annotations

import contextlib
import functools
import time

import mpmath
import numpy as np
import sympy as sp

from numerics.fokker_planck import FokkerPlanckSolver, Grid, l1_distance
from numerics.reference_quadrature import exact_basin_log_masses_1d, find_critical_points_1d
from numerics.stationary_2d import StationaryProblem2D
from theory.effective_potential import effective_potential
from theory.fokker_planck import ou_stationary_covariance

__all__ = [
    "zero_curl_case",
    "nonzero_curl_case",
    "fplanck_comparisons",
    "fplanck_steady_state",
    "ZERO_CURL_TOLERANCE",
    "NONZERO_CURL_L1_TOLERANCE",
    "NONZERO_CURL_CURRENT_FLOOR",
    "ZERO_CURL_CELLS",
    "NONZERO_CURL_CELLS",
    "rotated_separable_landscape",
    "separable_reference_weights",
    "laplace_2d_sweep",
    "T_SWEEP_2D",
    "SLOPE_BAND",
    "LAPLACE_2D_TOLERANCE",
    "GRID_TOLERANCE",
]


# --------------------------------------------------------------------------------------------------
# finite-volume Fokker–Planck solver (SC.eq10)
# --------------------------------------------------------------------------------------------------

#: L1 tolerance of the zero-curl steady state against the closed form (SC.eq5).
ZERO_CURL_TOLERANCE = 1e-3
#: non-zero curl (SC.B1.counter): L1 tolerance to the Lyapunov Gaussian, and the least relative current
NONZERO_CURL_L1_TOLERANCE = 5e-3
NONZERO_CURL_CURRENT_FLOOR = 0.05
#: the grids (cells per axis) the ledger checks and the report use for the two cases
ZERO_CURL_CELLS = 100
NONZERO_CURL_CELLS = 80


def _rotation(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


@functools.lru_cache(maxsize=None)
def zero_curl_case(cells: int = 120, *, T: float = 1.0, angle: float = np.pi / 6,
                   half_width: float = 3.0, quadrature: str = "simpson") -> dict:
    """SC.B1.ex3 with ``U₁ = 1 + u²``, ``U₂ = 1 + 2w²``, ``f = log``, rotated by ``angle``.

    In the rotated coordinates ``z = Rθ``: ``Ũ(z) = U(Rᵀz)``, ``D̃(z) = R D(Rᵀz) Rᵀ`` (full,
    state-dependent, off-diagonal), ``ρ̃(z) = ρ(Rᵀz)``. Returns the solver, the steady state, the
    closed form on the grid and the metrics (L1, max error, relative current, runtime); cached per
    arguments, so the ledger check and the report section share one solve (do not modify it).
    """
    x, y, u, w = sp.symbols("x y u w", real=True)
    R = sp.Matrix(_rotation(angle))
    U1, U2 = 1 + u**2, 1 + 2 * w**2
    back = R.T * sp.Matrix([x, y])
    sub = {u: back[0], w: back[1]}
    U = (U1 + U2).subs(sub)
    D = (R * sp.diag(U1, U2) * R.T).subs(sub)
    grid = Grid.box([(-half_width, half_width)] * 2, cells=cells)
    t0 = time.perf_counter()
    solver = FokkerPlanckSolver.from_theory(U, D, [x, y], T, grid=grid, quadrature=quadrature)
    rho = solver.steady_state()
    runtime = time.perf_counter() - t0
    X, Y = grid.mesh()
    Rn = _rotation(angle)
    uu = Rn[0, 0] * X + Rn[1, 0] * Y          # θ = Rᵀ z
    ww = Rn[0, 1] * X + Rn[1, 1] * Y
    exact = ((1 + uu**2) * (1 + 2 * ww**2)) ** (-(1 + 2 / T))
    exact /= grid.integrate(exact)
    D_off = solver.diffusion()[0, 1]
    return {
        "solver": solver, "rho": rho, "exact": exact,
        "cells": cells, "T": T, "angle": angle,
        "l1": l1_distance(grid, rho, exact),
        "max_abs": float(np.max(np.abs(rho - exact))),
        "current_relative": solver.current_norm(rho),
        "min_rho": float(rho.min()),
        "max_abs_D_offdiagonal": float(np.max(np.abs(D_off))),
        "runtime_s": runtime,
    }


@functools.lru_cache(maxsize=None)
def nonzero_curl_case(cells: int = 80, *, T: float = 0.5, half_width: float = 2.5,
                      H=((1, 0), (0, 2)), D=((1, 0.5), (0.5, 1))) -> dict:
    """Quadratic U with constant D, ``[H, D] ≠ 0``: steady state vs the Lyapunov Gaussian.

    Returns metrics: L1 to ``N(0, Σ)``, the exact and numerical current sizes ``∫|J|``, the
    relative current, the L1 error of J, and the detailed-balance distance (best J = 0 fit); cached
    per arguments (do not modify the result).
    """
    Hs = sp.Matrix(H).applyfunc(sp.nsimplify)
    Ds = sp.Matrix(D).applyfunc(sp.nsimplify)
    x, y = sp.symbols("x y", real=True)
    z = sp.Matrix([x, y])
    U = (z.T * Hs * z)[0, 0] / 2
    Ts = sp.nsimplify(T)
    sigma = np.array(ou_stationary_covariance(Hs, Ds, Ts), dtype=float)
    grid = Grid.box([(-half_width, half_width)] * 2, cells=cells)
    t0 = time.perf_counter()
    solver = FokkerPlanckSolver.from_theory(U, Ds, [x, y], T, grid=grid)
    rho = solver.steady_state()
    runtime = time.perf_counter() - t0
    P = np.stack(grid.mesh())
    Si = np.linalg.inv(sigma)
    exact = np.exp(-0.5 * np.einsum("i...,ij,j...->...", P, Si, P))
    exact /= grid.integrate(exact)
    M = np.array(Hs, dtype=float) - 0.5 * T * np.array(Ds, dtype=float) @ Si
    J_exact = np.einsum("ij,j...->i...", M, P) * exact
    J = solver.probability_current(rho)
    db = solver.detailed_balance_distance(rho)
    commutator = np.array(Hs * Ds - Ds * Hs, dtype=float)
    return {
        "solver": solver, "rho": rho, "exact": exact, "J": J, "J_exact": J_exact,
        "sigma": sigma, "cells": cells, "T": T,
        "l1": l1_distance(grid, rho, exact),
        "current_l1": db.current_l1,
        "current_l1_exact": grid.integrate(np.sqrt(np.sum(J_exact**2, axis=0))),
        "current_error_l1": grid.integrate(np.sqrt(np.sum((J - J_exact) ** 2, axis=0))),
        "current_relative": db.current_relative,
        "log_density_residual": db.log_density_residual,
        "best_fit_l1": db.best_fit_l1,
        "commutator_norm": float(np.linalg.norm(commutator)),
        "runtime_s": runtime,
    }


@contextlib.contextmanager
def _numpy_product_alias():
    """fplanck 0.2.2 calls ``np.product`` (removed in NumPy 2); alias it to ``np.prod`` briefly."""
    added = not hasattr(np, "product")
    if added:
        np.product = np.prod
    try:
        yield
    finally:
        if added:
            del np.product


def fplanck_steady_state(*, T: float, lower, upper, cells, potential=None, grad_U=None,
                         D_diagonal=None, constant_D=None, periodic: bool = False) -> np.ndarray:
    """fplanck's steady state (as a density on our cell-centred grid) for SC's FP equation.

    Either ``constant_D`` (per-axis constants, with ``potential``) or ``D_diagonal`` (callable
    ``(*coords) -> (p, ...)`` with ``grad_U`` callable ``-> (p, ...)``). fplanck's grid of
    ``cells`` points spaced ``h`` and centred on 0 is our cell-centred grid when the box is
    symmetric about 0; fplanck's reflecting wall is the zero-flux face half a cell beyond.
    """
    import fplanck
    from scipy import constants

    lower, upper, cells = (np.atleast_1d(np.asarray(a, dtype=float)) for a in (lower, upper, cells))
    if not np.allclose(lower, -upper):
        raise ValueError("fplanck centres its grid on 0: use a box symmetric about the origin")
    extent = upper - lower
    res = extent / cells
    boundary = fplanck.boundary.periodic if periodic else fplanck.boundary.reflecting
    with _numpy_product_alias():
        if constant_D is not None:
            temps = 0.5 * T * np.atleast_1d(np.asarray(constant_D, dtype=float)) / constants.k
            temps = temps if temps.size > 1 else float(temps[0])
            fp = fplanck.fokker_planck(temperature=temps, drag=1.0, extent=list(extent),
                                       resolution=res if res.size > 1 else float(res[0]),
                                       potential=potential, boundary=boundary)
        else:
            def drag(*xs):
                return 2.0 / (T * np.asarray(D_diagonal(*xs)))

            def force(*xs):
                return -drag(*xs) * np.asarray(grad_U(*xs))

            fp = fplanck.fokker_planck(temperature=1.0 / constants.k, drag=drag,
                                       extent=list(extent),
                                       resolution=res if res.size > 1 else float(res[0]),
                                       force=force, boundary=boundary)
        if tuple(fp.Ngrid) != tuple(int(c) for c in cells):
            raise ValueError(f"fplanck made a {tuple(fp.Ngrid)} grid, expected {tuple(cells)}")
        prob = _fplanck_null_vector(fp.master_matrix)
    return prob.reshape(tuple(int(c) for c in cells)) / np.prod(res)


def _fplanck_null_vector(master) -> np.ndarray:
    """The normalised null vector of fplanck's master matrix ``R`` (``dp/dt = R p``): its steady state.

    fplanck's own ``steady_state()`` asks ARPACK for the eigenvalue nearest σ = 0 by shift-invert,
    i.e. an LU factorisation of the singular ``R``; SuperLU may stop on an exactly zero pivot
    ("Factor is exactly singular"), depending on the machine. Here the last equation of ``R p = 0``
    is replaced by the normalisation ``Σ p = 1``, which makes the system regular for an
    irreducible chain, and the result is checked against the dropped equation — still fplanck's
    discretisation, solved without factoring a singular matrix.
    """
    from scipy import sparse
    from scipy.sparse.linalg import spsolve

    R = sparse.csr_matrix(master, dtype=float)
    n = R.shape[0]
    A = sparse.vstack([R[:-1], sparse.csr_matrix(np.ones((1, n)))]).tocsc()
    rhs = np.zeros(n)
    rhs[-1] = 1.0
    p = np.asarray(spsolve(A, rhs), dtype=float)
    scale = float(abs(R).sum(axis=1).max()) * float(np.abs(p).max())
    residual = float(np.abs(R @ p).max())
    if not np.all(np.isfinite(p)) or residual > 1e-8 * scale or p.min() < -1e-10 * p.max():
        raise RuntimeError(f"fplanck's master matrix has no clean normalised null vector "
                           f"(residual {residual:.2e}, min {p.min():.2e}): is the chain irreducible?")
    return p


def fplanck_comparisons(*, cells_1d: int = 200, cells_2d: int = 60) -> list[dict]:
    """Our steady state vs fplanck's on the same grid (:func:`_fplanck_comparisons`, cached)."""
    return list(_fplanck_comparisons(cells_1d, cells_2d))


@functools.lru_cache(maxsize=None)
def _fplanck_comparisons(cells_1d: int, cells_2d: int) -> tuple:
    """Our steady state vs fplanck's on the same grid, three problems fplanck can express.

    1. 1-D double well ``U = (x² − 1)²``, constant ``D = 0.8``, ``T = 0.5``.
    2. 2-D non-separable ``U = ½x² + y² + ½xy + 0.1x⁴``, constant anisotropic ``D = diag(1, 0.4)``,
       ``T = 0.6`` (non-zero curl: a non-equilibrium steady state in both codes).
    3. 2-D separable ``U = x² + 2y²`` with state-dependent diagonal ``D = diag(1 + x², 1 + 2y²)``,
       ``T = 1`` (closed form ``((1+x²)(1+2y²))^{−(1+2/T)}``; error of each code reported).
    Each entry: name, cells, ``l1`` and ``max_abs`` differences (densities), and where a closed
    form exists the L1 error of each code.
    """
    out = []
    # 1) 1-D double well
    T, d, L = 0.5, 0.8, 2.5
    g1 = Grid.box([(-L, L)], cells=cells_1d)
    s1 = FokkerPlanckSolver(g1, T=T, grad_U=lambda x: (4 * x * (x**2 - 1))[None], D=[[d]])
    ours = s1.steady_state()
    theirs = fplanck_steady_state(T=T, lower=[-L], upper=[L], cells=[cells_1d],
                                  potential=lambda x: (x**2 - 1) ** 2, constant_D=[d])
    xs = g1.axes[0]
    exact = np.exp(-2 * (xs**2 - 1) ** 2 / (T * d))
    exact /= g1.integrate(exact)
    out.append({"name": "1-D double well, constant D", "cells": (cells_1d,),
                "l1": l1_distance(g1, ours, theirs), "max_abs": float(np.max(np.abs(ours - theirs))),
                "ours_vs_exact_l1": l1_distance(g1, ours, exact),
                "fplanck_vs_exact_l1": l1_distance(g1, theirs, exact)})
    # 2) 2-D, non-separable U, constant anisotropic diagonal D (non-zero curl)
    T, L = 0.6, 2.5
    Dc = (1.0, 0.4)
    g2 = Grid.box([(-L, L)] * 2, cells=cells_2d)

    def U2(x, y):
        return 0.5 * x**2 + y**2 + 0.5 * x * y + 0.1 * x**4

    def gU2(x, y):
        return np.stack([x + 0.5 * y + 0.4 * x**3, 2 * y + 0.5 * x])

    s2 = FokkerPlanckSolver(g2, T=T, grad_U=gU2, D=np.diag(Dc))
    ours = s2.steady_state()
    theirs = fplanck_steady_state(T=T, lower=[-L, -L], upper=[L, L], cells=[cells_2d] * 2,
                                  potential=U2, constant_D=list(Dc))
    out.append({"name": "2-D non-separable U, constant D = diag(1, 0.4) (curl ≠ 0)",
                "cells": (cells_2d, cells_2d),
                "l1": l1_distance(g2, ours, theirs), "max_abs": float(np.max(np.abs(ours - theirs))),
                "current_relative_ours": s2.current_norm(ours)})
    # 3) 2-D state-dependent diagonal D
    T, L = 1.0, 3.0
    g3 = Grid.box([(-L, L)] * 2, cells=cells_2d)

    def Ddiag(x, y):
        return np.stack([1 + x**2, 1 + 2 * y**2])

    def gU3(x, y):
        return np.stack([2 * x, 4 * y])

    def Dfull(x, y):
        dd = Ddiag(x, y)
        zero = np.zeros_like(dd[0])
        return np.stack([np.stack([dd[0], zero]), np.stack([zero, dd[1]])])

    s3 = FokkerPlanckSolver(g3, T=T, grad_U=gU3, D=Dfull,
                            div_D=lambda x, y: np.stack([2 * x, 4 * y]))
    ours = s3.steady_state()
    theirs = fplanck_steady_state(T=T, lower=[-L, -L], upper=[L, L], cells=[cells_2d] * 2,
                                  grad_U=gU3, D_diagonal=Ddiag)
    X, Y = g3.mesh()
    exact = ((1 + X**2) * (1 + 2 * Y**2)) ** (-(1 + 2 / T))
    exact /= g3.integrate(exact)
    out.append({"name": "2-D state-dependent D = diag(1+x², 1+2y²)", "cells": (cells_2d, cells_2d),
                "l1": l1_distance(g3, ours, theirs), "max_abs": float(np.max(np.abs(ours - theirs))),
                "ours_vs_exact_l1": l1_distance(g3, ours, exact),
                "fplanck_vs_exact_l1": l1_distance(g3, theirs, exact)})
    return tuple(out)


# --------------------------------------------------------------------------------------------------
# 2-D stationary density and SC.eq6 Laplace weights
# --------------------------------------------------------------------------------------------------
#: temperatures of the 2-D sweep (Laplace relative error must fall ∝ T over them)
T_SWEEP_2D = tuple(float(t) for t in np.geomspace(0.02, 0.2, 5))
#: the log-log slope of the Laplace error in T must lie in this band (O(T))
SLOPE_BAND = (0.8, 1.2)
#: the largest relative Laplace-weight error allowed over T_SWEEP_2D
LAPLACE_2D_TOLERANCE = 3e-2
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
