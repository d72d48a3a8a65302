"""Stationary SGD densities of 2-D losses on a grid: effective potential, log-space density,
basins of attraction, exact basin masses, and the SC.eq6 Laplace masses beside them.

Conventions are those of :mod:`numerics.stationary` (SC.eq5, SC.eq10): with ``J = 0`` the steady
state is ``ρ ∝ exp(−2 v(θ, T)/T)``, ``v = ∫ V·dθ``, ``V = D⁻¹(∂U + (T/2) ∂·D)`` (SC.A1, RND eq. 19).

Scheme (:class:`StationaryProblem2D`):

* **Zero curl first.** V is a gradient only when ``∂_y V_x = ∂_x V_y`` (SC.A1). The curl is
  compiled from the symbolic Jacobian of V and evaluated on the grid at every T; where it is not
  zero (relative to the size of ∂V) :class:`theory.effective_potential.NonConservativeError` is
  raised with the node where it is largest — no ``exp(−2v/T)`` exists then, use the finite-volume
  solver of :mod:`numerics.fokker_planck` for the non-equilibrium steady state.
* **Effective potential.** v is the line integral of the compiled V along grid lines (cumulative
  Simpson, :func:`numerics.stationary.line_integral_2d`), or a closed form given by the caller
  (``v=``), which is first checked against V on the grid (``∂v = V``). Constant D uses ``v = U/D``.
* **Density in log space.** ``log ρ = −2v/T − log Z`` with ``Z`` by the tensor trapezoid rule
  in log space (:func:`numerics.stationary.normalise_log_density`, the one normalisation), so T from
  1e-5 to 1 neither under- nor overflows.
* **Minima.** The grid's local minima of ``v(·, T)`` (:func:`steepest_descent_labels`, a discrete
  8-neighbour watershed) refined by Newton steps on ``V(θ) = 0`` with the compiled Hessian ``∂V``;
  grid minima that refine to the same point are merged. A minimum on the edge of the grid means
  the domain cuts a basin: that is an error (:class:`numerics.stationary.DomainError`) unless its
  mass is negligible (``edge_tolerance``).
* **Basins** are the basins of attraction of the gradient flow ``θ̇ = −∂v = −V`` (the basins of
  SC.eq6's mixture), found by flow-map doubling (:func:`flow_map_endpoints`): one RK4 step gives
  the map ``Φ_τ`` at every node, then ``Φ_{2τ} = Φ_τ ∘ Φ_τ`` (bilinear interpolation) until no
  node moves; each node belongs to the minimum its trajectory ends at. The discrete watershed
  alone is not used for the masses: its paths are snapped to 8 directions, which bends the basin
  boundaries by O(1) (not O(h)) where the flow runs along them — on the rotated four-basin test
  landscape that biased the weights by 1.4e-4 at T = 0.4 on every grid, against 2e-6 (401²) for
  the flow map.
* **Masses.** Exact basin masses are trapezoid sums of ``exp(−2v/T)`` over each basin's nodes
  (error: the grid spacing times the density on the basin boundary, exponentially small as T → 0).
  Laplace masses beside them are ``theory.laplace.laplace_log_mass`` compiled for p = 2
  (SC.eq6 with the ``(πT)^{p/2}`` factor kept): ``exp(−2v(μ_k)/T) πT det(∂²v(μ_k))^{−1/2}``.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import sympy as sp

from numerics.compile import compile_expr
from numerics.stationary import (
    T_SYMBOL,
    BasinMergeError,
    FLOAT_RESOLUTION_FACTOR,
    MIN_EFFECTIVE_NODES,
    DiffusionNotPositiveError,
    DomainError,
    FloatResolutionError,
    GridResolutionError,
    NonFiniteError,
    StationaryError,
    check_grid_size,
    _gibbs_log_density,
    _increasing_grid,
    _laplace_covariance_1d,
    _require_finite,
    check_temperature,
    effective_potential_integrand,
    line_integral_2d,
    normalise_log_density,
)
from theory.coordinates import (as_expr, as_square_matrix, as_theta, assumption_sensitive, gradient, jacobian,
                                restore_assumptions, strip_assumptions)
from theory.effective_potential import NonConservativeError
from theory.laplace import laplace_log_mass

__all__ = [
    "Basin2D",
    "StationaryState2D",
    "StationarySweep2D",
    "StationaryProblem2D",
    "steepest_descent_labels",
    "flow_map_endpoints",
    "trapezoid_log_weights_2d",
]

#: largest number of grid nodes (nx·ny) of :class:`StationaryProblem2D`
MAX_GRID_NODES = 4_000_000
#: bytes per node: coordinates, V, ∂V, curl, v, log ρ, labels, flow-map endpoints (float64)
_BYTES_PER_NODE = 320
#: tolerance on max|curl V| / max|∂V| over the grid (round-off of a compiled exact curl is ~1e-15)
CURL_TOLERANCE = 1e-8
#: tolerance on max|∂v − V| / max|V| when a closed-form v is supplied
CLOSED_FORM_TOLERANCE = 1e-8

_NEIGHBOURS = tuple((di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1) if (di, dj) != (0, 0))


# --------------------------------------------------------------------------------------------------
# grid tools
# --------------------------------------------------------------------------------------------------
def _check_float_resolution(T, v, log_p) -> None:
    """Refuse T below FLOAT_RESOLUTION_FACTOR·ε·|v| on the nodes carrying the mass (see
    :class:`numerics.stationary.FloatResolutionError`)."""
    carries = log_p > float(np.max(log_p)) + np.log(1e-16)
    scale = float(np.max(np.abs(v[carries])))
    T_min = FLOAT_RESOLUTION_FACTOR * np.finfo(float).eps * scale
    if T < T_min:
        raise FloatResolutionError(
            f"T = {T:g} is below the float64 resolution of this loss: |v| ≈ {scale:.3g} is only known to "
            f"~ε|v| = {np.finfo(float).eps * scale:.2g}, so exp(−2v/T) would be rounding noise. Use T ≥ "
            f"{T_min:.2g}, or shift the loss by a constant so that |U| is small near its minima",
            T=T, T_min=T_min)


def trapezoid_log_weights_2d(x, y) -> np.ndarray:
    """log of the tensor-product trapezoid weights on the grid ``x ⊗ y`` (shape (len(x), len(y)))."""
    def w1(a):
        w = np.zeros_like(a)
        d = np.diff(a)
        w[:-1] += d / 2
        w[1:] += d / 2
        return w
    return np.log(w1(np.asarray(x, float)))[:, None] + np.log(w1(np.asarray(y, float)))[None, :]


def steepest_descent_labels(values, x, y) -> tuple[np.ndarray, np.ndarray]:
    """Discrete watershed of ``values`` on the grid ``x ⊗ y``.

    Each node points to the neighbour (8-neighbourhood) of steepest descent, slope
    ``(values_nb − values)/distance`` (so diagonal neighbours and unequal spacings are weighed
    correctly), or to itself when no neighbour is strictly lower. Following the pointers ends at a
    grid local minimum. Returns ``(labels, minima)``: ``labels[i, j]`` is the basin index of node
    ``(i, j)``, ``minima[k] = (i, j)`` the node of basin k's minimum (basins ordered by node index,
    i.e. lexicographically by (x, y)).
    """
    v = np.asarray(values, dtype=float)
    xs, ys = _increasing_grid(x), _increasing_grid(y)
    if v.shape != (len(xs), len(ys)):
        raise ValueError(f"values has shape {v.shape} but the grid is {(len(xs), len(ys))}")
    _require_finite(v, np.stack(np.meshgrid(xs, ys, indexing="ij"), axis=-1), "the values to segment")
    nx, ny = v.shape
    index = np.arange(nx * ny).reshape(nx, ny)
    best_slope = np.zeros_like(v)
    target = index.copy()
    for di, dj in _NEIGHBOURS:
        # neighbour (i+di, j+dj) of every node that has one
        si = slice(max(-di, 0), nx - max(di, 0))
        sj = slice(max(-dj, 0), ny - max(dj, 0))
        ti = slice(max(di, 0), nx - max(-di, 0))
        tj = slice(max(dj, 0), ny - max(-dj, 0))
        dx = (xs[ti] - xs[si])[:, None]
        dy = (ys[tj] - ys[sj])[None, :]
        slope = (v[ti, tj] - v[si, sj]) / np.hypot(dx, dy)
        better = slope < best_slope[si, sj]
        best_slope[si, sj] = np.where(better, slope, best_slope[si, sj])
        target[si, sj] = np.where(better, index[ti, tj], target[si, sj])
    ptr = target.ravel()
    while True:  # pointer doubling: every path strictly descends, so it terminates
        nxt = ptr[ptr]
        if np.array_equal(nxt, ptr):
            break
        ptr = nxt
    roots, labels = np.unique(ptr, return_inverse=True)
    minima = np.stack(np.unravel_index(roots, (nx, ny)), axis=-1)
    return labels.reshape(nx, ny), minima


def flow_map_endpoints(velocity, x, y, tau: float, *, min_doublings: int = 12,
                       max_doublings: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Where the flow ``θ̇ = velocity(θ)`` takes every node of the grid ``x ⊗ y`` after a long time.

    ``velocity(X, Y)`` returns the pair ``(θ̇_x, θ̇_y)`` on arrays. One classical RK4 step of length
    ``tau`` gives the map ``Φ_τ`` at every node (choose ``tau`` below the stability limit, e.g.
    ``1/max|∂velocity|``); then ``Φ_{2τ} = Φ_τ ∘ Φ_τ`` with ``Φ_τ`` between nodes by bilinear
    interpolation, repeated (at least ``min_doublings`` times) until no endpoint moves by more than
    1e-6 of the grid spacing, i.e. up to time ``2^max_doublings τ``. Positions are clamped to the
    grid's box. Returns the endpoint coordinates ``(EX, EY)``, each of the grid's shape.
    """
    from scipy.ndimage import map_coordinates

    xs, ys = _increasing_grid(x), _increasing_grid(y)
    if not (np.isfinite(tau) and tau > 0):
        raise ValueError(f"tau must be finite and > 0; got {tau!r}")
    X, Y = np.meshgrid(xs, ys, indexing="ij")

    k1 = velocity(X, Y)
    k2 = velocity(X + tau / 2 * k1[0], Y + tau / 2 * k1[1])
    k3 = velocity(X + tau / 2 * k2[0], Y + tau / 2 * k2[1])
    k4 = velocity(X + tau * k3[0], Y + tau * k3[1])
    EX = np.clip(X + tau / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0]), xs[0], xs[-1])
    EY = np.clip(Y + tau / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1]), ys[0], ys[-1])
    _require_finite(EX + EY, np.stack([X, Y], axis=-1), "the flow map (velocity field)")
    hx, hy = xs[1] - xs[0], ys[1] - ys[0]
    uniform = np.allclose(np.diff(xs), hx) and np.allclose(np.diff(ys), hy)
    for k in range(max_doublings):
        if uniform:
            coords = [(EX - xs[0]) / hx, (EY - ys[0]) / hy]
        else:
            coords = [np.interp(EX, xs, np.arange(len(xs))), np.interp(EY, ys, np.arange(len(ys)))]
        NX = map_coordinates(EX, coords, order=1, mode="nearest")
        NY = map_coordinates(EY, coords, order=1, mode="nearest")
        moved = max(np.max(np.abs(NX - EX)) / hx, np.max(np.abs(NY - EY)) / hy)
        EX, EY = NX, NY
        if k + 1 >= min_doublings and moved < 1e-6:
            break
    return EX, EY


# --------------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Basin2D:
    """One basin of ``v(·, T)``: refined minimum μ_k, ``v(μ_k)`` (same additive constant as the
    grid's v), Hessian ``∂²v(μ_k)``, exact and Laplace log masses of ``exp(−2v/T)``; ``on_edge``
    when the grid minimum lies on the domain boundary (then no Laplace mass: ``nan``)."""

    minimum: np.ndarray
    effective_potential: float
    hessian: np.ndarray
    log_mass: float
    laplace_log_mass: float
    on_edge: bool = False


@dataclass(frozen=True)
class StationaryState2D:
    """The stationary density at one temperature on the grid ``x ⊗ y`` and what is computed from it."""

    T: float
    x: np.ndarray
    y: np.ndarray
    effective_potential: np.ndarray  # v on the grid, shape (len(x), len(y))
    log_density: np.ndarray  # normalised log ρ
    log_partition: float  # log ∫ exp(−2v/T) (trapezoid)
    labels: np.ndarray  # basin index of every node
    basins: tuple[Basin2D, ...]
    _log_weights: np.ndarray  # trapezoid log weights (private: for expectation)

    @property
    def basin_weights(self) -> np.ndarray:
        """Exact basin probabilities (sum to 1)."""
        return np.exp(np.array([b.log_mass for b in self.basins]) - self.log_partition)

    @property
    def laplace_weights(self) -> np.ndarray:
        """SC.eq6 weights, normalised over the basins that have a Laplace mass."""
        lm = np.array([b.laplace_log_mass for b in self.basins])
        ok = np.isfinite(lm)
        out = np.full(lm.shape, np.nan)
        out[ok] = np.exp(normalise_log_density(lm[ok], np.zeros(int(ok.sum())))[0])
        return out

    @property
    def minima(self) -> np.ndarray:
        """(K, 2) array of the refined minima μ_k."""
        return np.array([b.minimum for b in self.basins])

    def expectation(self, values) -> float:
        """``E_ρ[f]`` for node values ``values`` (shape of the grid)."""
        vals = np.asarray(values, dtype=float)
        if vals.shape != self.log_density.shape:
            raise ValueError(f"values has shape {vals.shape}; the grid is {self.log_density.shape}")
        return float(np.sum(np.exp(self.log_density + self._log_weights) * vals))


@dataclass(frozen=True)
class StationarySweep2D:
    """Arrays over a temperature sweep; basins matched across T by their minima (row k of every
    array is the same basin)."""

    temperatures: np.ndarray
    minima: np.ndarray  # (nT, K, 2)
    basin_weights: np.ndarray  # (nT, K) exact
    laplace_weights: np.ndarray  # (nT, K)
    train_loss: np.ndarray  # E_ρ[U]
    test_loss: np.ndarray | None  # E_ρ[U_test]

    def laplace_relative_error(self) -> np.ndarray:
        """max_k |w_k^Laplace / w_k − 1| at every T."""
        return np.max(np.abs(self.laplace_weights / self.basin_weights - 1.0), axis=1)


# --------------------------------------------------------------------------------------------------
# the problem
# --------------------------------------------------------------------------------------------------
_V0, _DET = sp.symbols("v_min det_H")


@functools.lru_cache(maxsize=1)
def _laplace_log_mass_2d():
    """Compiled ``theory.laplace.laplace_log_mass`` for p = 2: (v_min, det ∂²v, T) ↦ log mass."""
    return compile_expr(laplace_log_mass(_V0, _DET, T_SYMBOL, 2), [_V0, _DET, T_SYMBOL])


_GAUSS_T, _GAUSS_W = np.polynomial.legendre.leggauss(8)
_GAUSS_T, _GAUSS_W = (_GAUSS_T + 1) / 2, _GAUSS_W / 2


class StationaryProblem2D:
    """ρ ∝ exp(−2v(θ,T)/T) for a 2-D loss ``U`` and diffusion ``D`` on a rectangular grid.

    Parameters
    ----------
    train_loss : SymPy expression in the two coordinates ``theta``.
    theta : two Symbols (list, tuple or column Matrix).
    diffusion : 2×2 matrix (SymPy Matrix / nested list; entries may depend on θ), a scalar (times
        the identity), default 1. Must be symmetric positive definite on the grid.
    domain : ``((x_min, x_max), (y_min, y_max))``; it must contain the basins that carry mass.
    nodes : number of grid nodes per axis, an int or a pair (default 401).
    v : optional closed form of the effective potential (may contain the symbol ``T``); it is
        checked against V on the grid (``∂v = V`` to ``CLOSED_FORM_TOLERANCE``) before use.
    test_loss : optional test loss (SymPy expression) whose expectation the sweep reports.
    edge_tolerance : largest total weight allowed in basins whose minimum is on the grid edge.
    force_line_integral : integrate V numerically even when a closed form is available (to compare).
    """

    def __init__(self, train_loss, theta, *, diffusion=1, domain, nodes=401, v=None, test_loss=None,
                 edge_tolerance: float = 1e-9, force_line_integral: bool = False):
        th = as_theta(theta)
        if len(th) != 2:
            raise ValueError(f"StationaryProblem2D is two-dimensional; theta has {len(th)} coordinates")
        self.theta = th
        self.train_loss_expr = as_expr(train_loss)
        self.test_loss_expr = None if test_loss is None else as_expr(test_loss)
        D = as_square_matrix(diffusion, 2) if isinstance(diffusion, (sp.MatrixBase, list, tuple)) \
            else as_expr(diffusion) * sp.eye(2)
        self.diffusion_expr = D
        self.x, self.y = self._grid(domain, nodes)
        self.edge_tolerance = float(edge_tolerance)
        self._X, self._Y = np.meshgrid(self.x, self.y, indexing="ij")
        self._points = np.stack([self._X, self._Y], axis=-1)
        self._log_w = trapezoid_log_weights_2d(self.x, self.y)
        self._check_diffusion()

        # differentiate and compile on assumption-free symbols (theory.coordinates.strip_assumptions;
        # as numerics.stationary.StationaryProblem1D): the same functions without SymPy's assumption
        # queries on a real θ / positive T. Not for Abs/sign/re/im, whose derivatives need them.
        U, Ut, T = self.train_loss_expr, self.test_loss_expr, T_SYMBOL
        v = None if v is None else as_expr(v)
        extra = tuple(e for e in (Ut, v) if e is not None)
        self._restore = {}
        if not assumption_sensitive([U, D, *extra]):
            (U, D, th, T, *extra), self._restore = strip_assumptions((U, D, th, T_SYMBOL, *extra))
            extra = iter(extra)
            Ut = None if Ut is None else next(extra)
            v = None if v is None else next(extra)
        V = effective_potential_integrand(U, D, th, T)
        JV = jacobian(V, th)  # ∂_j V_i = ∂²v when the curl vanishes
        args = [th[0], th[1], T]
        self._V = compile_expr(V, args)
        self._JV = compile_expr(JV, args)
        self._curl_expr = JV[0, 1] - JV[1, 0]  # in the stripped symbols (restored in the error)
        self._curl = compile_expr(self._curl_expr, args)
        self._U = compile_expr(U, th)
        self._Ut = None if Ut is None else compile_expr(Ut, th)
        constant_D = not any(e.free_symbols & set(th) for e in D)
        if force_line_integral:
            self._v = None
            self.v_source = "line integral of V (Simpson)"
        elif v is not None:
            self._v = compile_expr(v, args)
            self.v_source = "closed form (given)"
        elif constant_D and D.is_diagonal() and D[0, 0] == D[1, 1]:
            self._v = compile_expr(U / D[0, 0], args)
            self.v_source = "closed form U/D (SC.fn3)"
        else:
            self._v = None
            self.v_source = "line integral of V (Simpson)"

    # -- setup ----------------------------------------------------------------------------------
    @staticmethod
    def _grid(domain, nodes):
        try:
            (a, b), (c, d) = ((float(p), float(q)) for p, q in domain)
        except (TypeError, ValueError):
            raise DomainError(f"domain must be ((x_min, x_max), (y_min, y_max)); got {domain!r}") from None
        for lo, hi, axis in ((a, b, "x"), (c, d, "y")):
            if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
                raise DomainError(f"domain: the {axis} interval must satisfy -inf < min < max < inf; "
                                  f"got ({lo!r}, {hi!r})")
        n = (nodes, nodes) if np.ndim(nodes) == 0 else tuple(nodes)
        if len(n) != 2 or any(isinstance(k, (str, bool)) or int(k) != k or k < 5 for k in n):
            raise ValueError(f"nodes must be an int ≥ 5 or a pair of them; got {nodes!r}")
        check_grid_size(int(n[0]) * int(n[1]), name=f"nodes ({int(n[0])} × {int(n[1])})", limit=MAX_GRID_NODES,
                        bytes_per_point=_BYTES_PER_NODE)
        return np.linspace(a, b, int(n[0])), np.linspace(c, d, int(n[1]))

    def _check_diffusion(self):
        f = compile_expr(self.diffusion_expr, self.theta)
        Dv = np.broadcast_to(f(self._X, self._Y), self._X.shape + (2, 2))
        _require_finite(Dv[..., 0, 0] + Dv[..., 0, 1] + Dv[..., 1, 1], self._points, "the diffusion D")
        if not np.allclose(Dv[..., 0, 1], Dv[..., 1, 0]):
            raise ValueError("diffusion: D must be symmetric")
        det = Dv[..., 0, 0] * Dv[..., 1, 1] - Dv[..., 0, 1] ** 2
        # relative: a det that is rounding-level against D_xx·D_yy is a singular (semidefinite) D
        bad = (Dv[..., 0, 0] <= 0) | (det <= 1e-12 * np.abs(Dv[..., 0, 0] * Dv[..., 1, 1]))
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise DiffusionNotPositiveError(
                f"diffusion: D(θ) must be positive definite on the domain; at θ = ({self.x[i]:.6g}, "
                f"{self.y[j]:.6g}) D = {Dv[i, j].tolist()} (singular D: add isotropic noise, SC.eq13: "
                "D + β² I with ℓ2 term α|θ|²/2 in U; or shrink the domain to where D ≻ 0)")

    # -- one temperature ------------------------------------------------------------------------
    def _check_curl(self, T):
        curl = np.broadcast_to(self._curl(self._X, self._Y, T), self._X.shape)
        scale = max(float(np.max(np.abs(self._JV(self._X, self._Y, T)))), 1e-300)
        rel = np.abs(curl) / scale
        if rel.max() > CURL_TOLERANCE:
            i, j = np.unravel_index(np.argmax(rel), rel.shape)
            where = (float(self.x[i]), float(self.y[j]))
            C = restore_assumptions(sp.Matrix([[0, self._curl_expr], [-self._curl_expr, 0]]),
                                    self._restore).subs(T_SYMBOL, T)
            raise NonConservativeError(
                f"the drift V = D⁻¹(∂U + (T/2)∂·D) has non-zero curl at T = {T:g}: ∂_yV_x − ∂_xV_y = "
                f"{float(curl[i, j]):.3g} at θ = {where} (relative {rel[i, j]:.2e}); no J = 0 steady state "
                "exp(−2v/T) exists (SC.A1) — use numerics.fokker_planck.FokkerPlanckSolver",
                curl=C, counterexample={"theta": where, "curl": float(curl[i, j])})

    def effective_potential(self, T) -> np.ndarray:
        """v(·, T) on the grid (closed form if available, else the line integral from the corner)."""
        T = check_temperature(T)
        self._check_curl(T)
        Vg = self._V(self._X, self._Y, T)[..., 0]  # (nx, ny, 2)
        _require_finite(Vg, self._points, "the integrand D⁻¹(∂U + (T/2)∂·D)")
        if self._v is None:
            return line_integral_2d(Vg, self.x, self.y)
        v = np.broadcast_to(self._v(self._X, self._Y, T), self._X.shape).astype(float)
        _require_finite(v, self._points, "the closed-form effective potential")
        gx, gy = np.gradient(v, self.x, self.y, edge_order=2)
        err = np.max(np.abs(np.stack([gx, gy], -1) - Vg)[2:-2, 2:-2]) / max(np.max(np.abs(Vg)), 1e-300)
        # central differences are O(h²): compare against their own truncation level
        h = max(self.x[1] - self.x[0], self.y[1] - self.y[0])
        if err > max(CLOSED_FORM_TOLERANCE, 10 * h ** 2):
            raise ValueError(f"v: the given closed form is not the effective potential of U and D at T = {T:g} "
                             f"(max |∂v − V| / max |V| = {err:.2e} on the grid)")
        return v

    def _refine(self, node, T):
        """Newton on V(θ) = 0 from a grid node; returns (μ, ∂²v(μ), converged)."""
        hx, hy = self.x[1] - self.x[0], self.y[1] - self.y[0]
        start = np.array([self.x[node[0]], self.y[node[1]]])
        p = start.copy()
        for _ in range(50):
            g = self._V(p[0], p[1], T)[:, 0]
            H = self._JV(p[0], p[1], T)
            H = 0.5 * (H + H.T)
            try:
                step = np.linalg.solve(H, g)
            except np.linalg.LinAlgError:
                break
            p = p - step
            if np.abs(p - start).max() > 3 * max(hx, hy):
                break
            if np.abs(step).max() < 1e-13 * (1 + np.abs(p).max()):
                H = self._JV(p[0], p[1], T)
                H = 0.5 * (H + H.T)
                return p, H, bool(np.all(np.linalg.eigvalsh(H) > 0))
        H = self._JV(start[0], start[1], T)
        return start, 0.5 * (H + H.T), False

    def _v_at(self, v_grid, node, point, T):
        """v at ``point`` = v(node) + ∫ V·dθ along the segment (8-point Gauss–Legendre)."""
        a = np.array([self.x[node[0]], self.y[node[1]]])
        d = np.asarray(point) - a
        pts = a[None, :] + _GAUSS_T[:, None] * d[None, :]
        Vs = self._V(pts[:, 0], pts[:, 1], T)[..., 0]  # (8, 2)
        return float(v_grid[node[0], node[1]] + np.sum(_GAUSS_W * (Vs @ d)))

    def _basin_labels(self, T, minima, grid_labels, remap):
        """Label every node by the minimum its gradient-flow trajectory ends at (nearest of
        ``minima``, within 3 grid spacings); nodes whose trajectory stalls elsewhere (on a ridge or a
        saddle) keep their discrete-watershed label."""
        JV = self._JV(self._X, self._Y, T)
        rate = float(np.max(np.abs(JV).sum(axis=-1)))  # bound on the spectral radius of ∂V
        tau = 1.0 / max(rate, 1e-12)

        def velocity(a, b):
            Vab = self._V(a, b, T)[..., 0]
            return -Vab[..., 0], -Vab[..., 1]

        EX, EY = flow_map_endpoints(velocity, self.x, self.y, tau)
        h = max(self.x[1] - self.x[0], self.y[1] - self.y[0])
        dist = np.hypot(EX[..., None] - minima[:, 0], EY[..., None] - minima[:, 1])
        labels = np.argmin(dist, axis=-1)
        stalled = np.min(dist, axis=-1) > 3 * h
        labels[stalled] = remap[grid_labels[stalled]]
        return labels

    def state(self, T) -> StationaryState2D:
        """The stationary density at temperature ``T`` (> 0) with its basins and masses."""
        T = check_temperature(T)
        v = self.effective_potential(T)
        v_low = float(np.min(v))  # shift first: the log weights added to −2v/T must not be lost to rounding
        g = _gibbs_log_density()(v - v_low, 0.0, T)  # −2(v − v_low)/T, theory.free_energy.gibbs_log_density
        log_rho, log_Z_shifted = normalise_log_density(g, self._log_w)
        _check_float_resolution(T, v, log_rho + self._log_w)
        shift = -2.0 * v_low / T  # log masses and log Z of exp(−2v/T) itself (exact)
        log_Z = log_Z_shifted + shift
        grid_labels, grid_minima = steepest_descent_labels(v, self.x, self.y)
        nx, ny = v.shape
        refined = []
        for node in grid_minima:
            on_edge = node[0] in (0, nx - 1) or node[1] in (0, ny - 1)
            mu, H, ok = (np.array([self.x[node[0]], self.y[node[1]]]), None, False) if on_edge \
                else self._refine(node, T)
            refined.append((node, mu, H, ok and not on_edge, on_edge))
        # merge grid minima that refine to the same point (plateaus, discretisation)
        h = max(self.x[1] - self.x[0], self.y[1] - self.y[0])
        keep, remap = [], np.zeros(len(refined), dtype=int)
        for k, r in enumerate(refined):
            for n, q in enumerate(keep):
                if r[3] and refined[q][3] and np.linalg.norm(r[1] - refined[q][1]) < 1e-3 * h:
                    remap[k] = n
                    break
            else:
                remap[k] = len(keep)
                keep.append(k)
        minima = np.array([refined[q][1] for q in keep])
        labels = self._basin_labels(T, minima, grid_labels, remap)
        basins, edge_mass = [], 0.0
        lm_fn = _laplace_log_mass_2d()
        for n, q in enumerate(keep):
            node, mu, H, ok, on_edge = refined[q]
            members = labels == n
            if not members.any():  # a grid minimum whose basin the flow does not reproduce
                continue
            log_mass = normalise_log_density(g[members], self._log_w[members])[1] + shift  # log ∫_basin
            if ok:
                v_mu = self._v_at(v, node, mu, T)
                lap = float(lm_fn(v_mu, float(np.linalg.det(H)), T))
            else:
                v_mu, lap = float(v[node[0], node[1]]), float("nan")
            if on_edge:
                edge_mass += float(np.exp(log_mass - log_Z))
            labels[members] = len(basins)
            basins.append(Basin2D(minimum=mu, effective_potential=v_mu,
                                  hessian=np.full((2, 2), np.nan) if H is None else H,
                                  log_mass=log_mass, laplace_log_mass=lap, on_edge=on_edge))
        if edge_mass > self.edge_tolerance:
            at = [tuple(round(float(c), 6) for c in b.minimum) for b in basins if b.on_edge]
            raise DomainError(f"domain: at T = {T:g} the effective potential still decreases at the grid edge "
                              f"(edge minima {at}) and those basins hold probability {edge_mass:.3g}; "
                              "widen the domain so it contains the minima")
        self._check_grid_resolution(T, log_rho + self._log_w, labels, basins)
        return StationaryState2D(T=T, x=self.x, y=self.y, effective_potential=v, log_density=log_rho,
                                 log_partition=log_Z, labels=labels, basins=tuple(basins),
                                 _log_weights=self._log_w)

    def _check_grid_resolution(self, T, log_p, labels, basins) -> None:
        """Each basin holding weight > 1e-8 must spread it over ≥ MIN_EFFECTIVE_NODES nodes
        (participation ratio); a Gaussian of width σ has ≈ 4πσ²/(h_x h_y) of them, so the bound is
        σ ≳ 0.8 h, where the trapezoid mass is accurate to ~exp(−2π²σ²/h²) ≈ 3e-6."""
        p = np.exp(log_p)
        hx, hy = self.x[1] - self.x[0], self.y[1] - self.y[0]
        for n, b in enumerate(basins):
            pb = p[labels == n]
            mass = float(pb.sum())
            if mass <= 1e-8:
                continue
            n_eff = mass ** 2 / float(np.sum(pb ** 2))
            if n_eff < MIN_EFFECTIVE_NODES:
                lam = np.linalg.eigvalsh(b.hessian) if np.all(np.isfinite(b.hessian)) else np.array([np.nan])
                # the narrowest Laplace width: Σ = (T/2) v''⁻¹ along the stiffest direction (λ_max)
                sigma = float(np.sqrt(_laplace_covariance_1d()(np.max(lam), T))) if np.max(lam) > 0 \
                    else float("nan")
                if np.isfinite(sigma):
                    need = [int(np.ceil((ax[-1] - ax[0]) / (0.8 * sigma))) + 1 for ax in (self.x, self.y)]
                    width = f"its width sqrt(T/(2λ_max)) ≈ {sigma:.2g}"
                    fix = (f"Use nodes ≥ {need} (limit {MAX_GRID_NODES:.0e} in all), a narrower domain, or a "
                           "larger T" if need[0] * need[1] <= MAX_GRID_NODES else
                           f"It would need {need[0]} × {need[1]} nodes, over the limit {MAX_GRID_NODES:.0e}: use "
                           "a larger T or a narrower domain")
                else:
                    width, fix = "its width", "Use more nodes, a narrower domain, or a larger T"
                raise GridResolutionError(
                    f"grid: at T = {T:g} the basin of θ = {tuple(round(float(c), 6) for c in b.minimum)} puts "
                    f"its mass on only {n_eff:.1f} grid nodes (spacing {hx:.3g} × {hy:.3g}): the grid does not "
                    f"resolve {width}, so its mass would be wrong. {fix}")

    # -- temperature sweep ----------------------------------------------------------------------
    def sweep(self, temperatures, *, progress: bool = False) -> StationarySweep2D:
        """States over ``temperatures``; interior basins matched to those of the first T by nearest
        minimum (a :class:`BasinMergeError` if their number changes along the sweep)."""
        Ts = np.array([check_temperature(t) for t in np.atleast_1d(temperatures)], dtype=float)
        if Ts.size == 0:
            raise ValueError("temperatures: give at least one temperature")
        iterator = Ts
        if progress:
            from numerics._progress import progress_bar
            iterator = progress_bar(Ts, desc="stationary 2-D sweep", unit="T")
        U = np.broadcast_to(self._U(self._X, self._Y), self._X.shape)
        Ut = None if self._Ut is None else np.broadcast_to(self._Ut(self._X, self._Y), self._X.shape)
        ref = None
        mins, w, wl, train, test = [], [], [], [], []
        for T in iterator:
            st = self.state(T)
            inner = [k for k, b in enumerate(st.basins) if not b.on_edge]
            m = st.minima[inner]
            if ref is None:
                ref = m
            if len(m) != len(ref):
                raise BasinMergeError(f"basins: {len(ref)} interior basins at T = {Ts[0]:g} but {len(m)} at "
                                      f"T = {T:g}; basins merge or split along the sweep — narrow the T range")
            order = [int(np.argmin(np.linalg.norm(m - r, axis=1))) for r in ref]
            if len(set(order)) != len(order):
                raise BasinMergeError(f"basins: cannot match the minima at T = {T:g} to those at T = {Ts[0]:g}")
            ref = m[order]
            idx = [inner[o] for o in order]
            mins.append(ref)
            w.append(st.basin_weights[idx])
            lw = np.array([st.basins[k].laplace_log_mass for k in idx])
            wl.append(np.exp(normalise_log_density(lw, np.zeros_like(lw))[0]))
            train.append(st.expectation(U))
            test.append(None if Ut is None else st.expectation(Ut))
        return StationarySweep2D(temperatures=Ts, minima=np.array(mins), basin_weights=np.array(w),
                                 laplace_weights=np.array(wl), train_loss=np.array(train),
                                 test_loss=None if Ut is None else np.array(test, dtype=float))
