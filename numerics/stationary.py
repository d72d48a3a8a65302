"""Stationary SGD densities on grids: effective potential, log-space density, basins, weights.

Conventions (SC.eq5, SC.eq10): the steady state of ``∂_t ρ = λ ∂·J``, ``J = ∂U ρ + (T/2) ∂·(Dρ)``
with ``J = 0`` is ``ρ ∝ exp(−2 v(θ, T)/T)``, ``v(θ, T) = ∫^θ D⁻¹(∂U + (T/2) ∂·D) · dθ`` — note the
factor 2 in the exponent.  For constant D, ``v = U/D`` (SC.fn3, SC.eq8).  Everything is computed in
log space (logsumexp), so the density neither under- nor overflows for T from 1e-5 to 1.

Numerical scheme (1-D, :class:`StationaryProblem1D`):

* The domain [a, b] is split into panels; breakpoints are a uniform coarse set, the basin edges
  (local maxima of the train loss), and a geometric cluster around every minimum μ_k of v at the
  Laplace width ``ℓ_k = sqrt(T / (2 v''(μ_k)))`` — the grid is refined locally as T → 0.
* On each panel, Chebyshev–Lobatto nodes carry Clenshaw–Curtis weights (mass integrals) and a
  spectral integration matrix (the cumulative line integral for v when no closed form exists).
* Basin masses are exact quadratures of ρ over each basin; they are checked against an independent
  adaptive quadrature (:func:`basin_log_masses_adaptive`, ``scipy.integrate.quad`` with a log shift).
* Laplace predictions beside them use the theory formulas compiled: ``theory.laplace.laplace_log_mass``
  (SC.eq6: ``w_k ∝ exp(−2v(μ_k)/T) v''(μ_k)^{−1/2}``) and ``theory.shift_curvature.test_loss_terms``
  (SC.eq4: ``U_k + ½ C_k Σ_k + ½ C_k (s_k + b_k)²`` with ``Σ_k = T/(2 v''(μ_k))``,
  ``b_k = θ_k^tr − μ_k``, ``s_k = θ_k^test − θ_k^tr``).

Uniform-grid tools (:func:`effective_potential_1d`, :func:`log_density_on_grid`,
:func:`effective_potential_2d`) serve plots and the 2-D case.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from scipy import integrate, optimize
from scipy.special import logsumexp

from numerics.compile import compile_expr
from theory.coordinates import as_expr, as_matrix, as_square_matrix, as_theta
from theory.coordinates import assumption_sensitive, strip_assumptions
from theory.effective_potential import SingularDiffusionError, drift_field_unsimplified
from theory.free_energy import gibbs_log_density
from theory.laplace import laplace_log_mass, leading_order_covariance
from theory.shift_curvature import test_loss_terms

__all__ = [
    "StationaryError",
    "TemperatureError",
    "DomainError",
    "NonFiniteError",
    "BasinMergeError",
    "TemperatureTypeError",
    "FloatResolutionError",
    "GridResolutionError",
    "DegenerateMinimumError",
    "GridSizeError",
    "DiffusionNotPositiveError",
    "MAX_SCAN_POINTS",
    "check_grid_size",
    "check_temperature",
    "effective_potential_integrand",
    "effective_potential_1d",
    "effective_potential_2d",
    "line_integral_2d",
    "log_density_on_grid",
    "normalise_log_density",
    "anchored_cumulative_integral",
    "UniformGridStationary1D",
    "stationary_on_uniform_grid_1d",
    "PanelGrid",
    "chebyshev_panels",
    "Basin",
    "StationaryState1D",
    "StationaryProblem1D",
    "SweepResult",
    "OptimalTemperature",
    "optimal_temperature",
    "basin_log_masses_adaptive",
]

T_SYMBOL = sp.Symbol("T", positive=True)


# --------------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------------
class StationaryError(ValueError):
    """Base class: the stationary density cannot be computed as asked (the message says why)."""


class TemperatureError(StationaryError):
    """T must be a finite positive number."""


class DomainError(StationaryError):
    """The domain is malformed or does not contain the minima of the loss."""


class NonFiniteError(StationaryError):
    """A loss, diffusion or potential value is not finite (or D ≤ 0) on the grid."""


class BasinMergeError(StationaryError):
    """Wells that should form separate basins merge (fewer/more minima than expected)."""


class TemperatureTypeError(TemperatureError, TypeError):
    """T is not a number (a string, a bool, a symbol): pass a float."""


class FloatResolutionError(TemperatureError):
    """T is so small that float64 rounding of the loss dominates −2v/T: the density is noise.

    ``T`` is the temperature refused, ``T_min`` the smallest one this problem resolves."""

    def __init__(self, message: str, *, T: float, T_min: float):
        super().__init__(message)
        self.T, self.T_min = T, T_min


class GridResolutionError(StationaryError):
    """The grid is too coarse for the landscape: a scan misses wells, or the density sits on a
    handful of quadrature nodes.  Distinct from :class:`BasinMergeError` (wells that really merge)."""


class DegenerateMinimumError(StationaryError):
    """A minimum of v has v'' = 0 (e.g. θ⁴): the Laplace weights (SC.eq6) need v'' > 0."""


class GridSizeError(StationaryError):
    """A grid is larger than the memory bound (the message states the limit and the need)."""


class DiffusionNotPositiveError(NonFiniteError, SingularDiffusionError):
    """D(θ) ≤ 0 somewhere on the domain (or D ≡ 0): the SC.eq5 integrand D⁻¹(…) does not exist.

    Also a :class:`theory.effective_potential.SingularDiffusionError`."""


#: largest number of scan points of :class:`StationaryProblem1D` (the scan only locates extrema;
#: the density grid refines itself around each minimum)
MAX_SCAN_POINTS = 10_000_000
#: bytes per scan point (U, U', U'', D and the compiled expressions' temporaries, float64)
_SCAN_BYTES_PER_POINT = 64
#: T must be ≥ this many float64 epsilons times |v| on the nodes that carry the mass: below it the
#: rounding of v (a few ulps, ε|v|) perturbs log ρ = −2(v − v_min)/T by more than ~2e-3
FLOAT_RESOLUTION_FACTOR = 1000.0
#: a basin holding weight > 1e-8 must spread its mass over at least this many quadrature nodes
#: (participation ratio (Σp)²/Σp²); a resolved Gaussian core covers > 50
MIN_EFFECTIVE_NODES = 8


def _format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024.0
    return f"{n:.3g} PiB"  # pragma: no cover


def check_grid_size(n, *, name: str, limit: int, bytes_per_point: float, minimum: int = 2) -> int:
    """Return ``n`` as an int, raising :class:`GridSizeError` when ``n > limit`` (the message says
    the memory it would need) and ``StationaryError`` when it is not an integer ≥ ``minimum``."""
    if isinstance(n, bool) or isinstance(n, str):
        raise StationaryError(f"{name} must be an integer >= {minimum}; got {n!r}")
    try:
        k = int(n)
    except (TypeError, ValueError, OverflowError):
        raise StationaryError(f"{name} must be an integer >= {minimum}; got {n!r}") from None
    if k != n or k < minimum:
        raise StationaryError(f"{name} must be an integer >= {minimum}; got {n!r}")
    if k > limit:
        raise GridSizeError(
            f"{name} = {k:.3g} exceeds the limit {limit:.0e}: it would need about "
            f"{_format_bytes(k * bytes_per_point)} of memory; use at most {limit:.0e} points")
    return k


def check_temperature(T, *, name: str = "T") -> float:
    """Return T as a float, raising :class:`TemperatureError` unless 0 < T < ∞ (a
    :class:`TemperatureTypeError`, also a ``TypeError``, for strings, bools and symbols)."""
    if isinstance(T, (str, bytes, bool)) or (isinstance(T, sp.Basic) and not T.is_number):
        raise TemperatureTypeError(f"{name} must be a positive number (T = lr/B), e.g. 0.01; got "
                                   f"{T!r} ({type(T).__name__})")
    try:
        t = float(T)
    except (TypeError, ValueError):
        raise TemperatureTypeError(f"{name} must be a positive number (T = lr/B); got {T!r}") from None
    if not (math.isfinite(t) and t > 0):
        raise TemperatureError(f"{name} must be finite and > 0 (T = lr/B); got {t!r}")
    return t


# --------------------------------------------------------------------------------------------------
# effective-potential integrand and uniform-grid tools
# --------------------------------------------------------------------------------------------------
def effective_potential_integrand(U, D, theta, T=T_SYMBOL) -> sp.Matrix:
    """SC.eq5 / SC.A1 integrand ``V = D⁻¹ (∂U + (T/2) ∂·D)`` (p×1, unsimplified), ready to compile.

    The expression is :func:`theory.effective_potential.drift_field_unsimplified` (the same field
    as ``drift_field`` without its ``simplify``, which is too slow for sums of many Gaussian
    wells); this wrapper adds the typed error for a singular D.
    """
    th = as_theta(theta)
    p = len(th)
    Dm = as_square_matrix(D, p)
    if (p == 1 and Dm[0, 0].is_zero) or (p > 1 and not Dm.free_symbols and Dm.det() == 0):
        raise DiffusionNotPositiveError(
            f"the diffusion matrix D = {Dm.tolist()} is singular, so the SC.eq5 integrand "
            "D⁻¹(∂U + (T/2)∂·D) is undefined (overparametrized case). Remedy (SC.eq13): add ℓ2 "
            "regularisation α|θ|²/2 to U and isotropic noise β² I to D")
    return drift_field_unsimplified(as_expr(U, name="U"), Dm, th, as_expr(T, name="T"))


def _is_constant(D, theta) -> bool:
    th = set(as_theta(theta))
    D = as_matrix(D, name="D") if isinstance(D, (sp.MatrixBase, list, tuple)) else as_expr(D, name="D")
    return not (D.free_symbols & th)


def effective_potential_1d(U, D, theta, T, grid) -> np.ndarray:
    """``v(θ_i, T) − v(θ_0, T)`` on an increasing grid by cumulative Simpson integration of the
    compiled SC.eq5 integrand ``(U' + (T/2) D')/D`` (1-D)."""
    T = check_temperature(T)
    x = _increasing_grid(grid)
    V = effective_potential_integrand(U, D, theta, T_SYMBOL)[0]
    th = as_theta(theta)[0]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        vals = compile_expr(V, [th, T_SYMBOL])(x, T)
    _require_finite(vals, x, "the integrand D⁻¹(U' + (T/2)D')")
    if len(x) < 3:
        return integrate.cumulative_trapezoid(vals, x, initial=0.0)
    return integrate.cumulative_simpson(vals, x=x, initial=0.0)


def normalise_log_density(log_unnormalised, log_weights, *, axis=None):
    """``(log ρ, log Z)`` with ``log ρ = g − log Z``, ``log Z = logsumexp(g + log w)``: the one
    normalisation of a log density ``g`` given at quadrature nodes with weights ``w`` (so that
    ``Σ w ρ = 1``). ``axis`` = the node axes (default: all, log Z a float; ``axis=-1`` normalises
    each row of a (n_T, n) stack). Works in log space, so exp(g) may under- or overflow a float;
    shift g by a constant before calling when |g| is huge (the shift is exact: log Z absorbs it).

    >>> import numpy as np
    >>> log_rho, log_Z = normalise_log_density(np.zeros(4), np.log(np.full(4, 0.5)))
    >>> round(log_Z, 12), bool(np.isclose(np.exp(log_rho) @ np.full(4, 0.5), 1.0))
    (0.69314718056, True)
    """
    g = np.asarray(log_unnormalised, dtype=float)
    log_Z = logsumexp(g + np.asarray(log_weights, dtype=float), axis=axis, keepdims=True)
    return g - log_Z, (float(log_Z.reshape(())) if axis is None else np.squeeze(log_Z, axis=axis))


def log_density_on_grid(v_values, T, grid) -> np.ndarray:
    """Normalised ``log ρ = −2v/T − log Z`` on a grid, ``Z = ∫ exp(−2v/T)`` by the trapezoid rule
    in log space (:func:`normalise_log_density`)."""
    T = check_temperature(T)
    x = _increasing_grid(grid)
    v = np.asarray(v_values, dtype=float)
    if v.shape != x.shape:
        raise ValueError(f"v_values has shape {v.shape} but grid has {x.shape}")
    _require_finite(v, x, "the effective potential")
    w = np.zeros_like(x)
    dx = np.diff(x)
    w[:-1] += dx / 2
    w[1:] += dx / 2
    with np.errstate(divide="ignore"):
        return normalise_log_density(_gibbs_log_density()(v, 0.0, T), np.log(w))[0]


def anchored_cumulative_integral(values, grid, anchor: int) -> np.ndarray:
    """``∫_{x[anchor]}^{x} f`` at every node by the trapezoid rule, accumulated outward from the
    anchor node on each side (no cancellation between far-apart nodes)."""
    x = _increasing_grid(grid)
    f = np.asarray(values, dtype=float)
    if f.shape != x.shape:
        raise ValueError(f"values has shape {f.shape} but grid has {x.shape}")
    i0 = int(anchor)
    if not 0 <= i0 < len(x):
        raise ValueError(f"anchor must be a node index in [0, {len(x) - 1}]; got {anchor!r}")
    out = np.zeros_like(x)
    if i0 < len(x) - 1:
        out[i0:] = integrate.cumulative_trapezoid(f[i0:], x[i0:], initial=0.0)
    if i0 > 0:
        out[: i0 + 1] = integrate.cumulative_trapezoid(f[: i0 + 1][::-1], x[: i0 + 1][::-1], initial=0.0)[::-1]
    return out


@dataclass(frozen=True)
class UniformGridStationary1D:
    """Stationary densities of :func:`stationary_on_uniform_grid_1d` on one grid, for a sweep of T.

    ``v_tilde`` = ṽ = ∫_{anchor} U'/D, ``a_tilde`` = ã = log D (RND.eq19 split, v = ṽ + (T/2)ã);
    ``log_densities[i]`` is the normalised log ρ at ``temperatures[i]`` with respect to the
    quadrature ``weights`` (Σ_j weights_j ρ_j = 1).
    """

    grid: np.ndarray
    weights: np.ndarray
    v_tilde: np.ndarray
    a_tilde: np.ndarray
    temperatures: np.ndarray
    log_densities: np.ndarray  # (n_T, n_grid)

    def probabilities(self) -> np.ndarray:
        """Node masses ``ρ_j w_j`` (shape (n_T, n_grid), each row sums to 1)."""
        return np.exp(self.log_densities + np.log(self.weights))

    def expectation(self, values) -> np.ndarray:
        """``E_ρ[f]`` per temperature for node values ``values`` (shape of ``grid``)."""
        return self.probabilities() @ np.asarray(values, dtype=float)

    def mass(self, mask) -> np.ndarray:
        """Probability of the nodes selected by ``mask`` (boolean or index array), per temperature."""
        return self.probabilities()[:, mask].sum(axis=1)


def stationary_on_uniform_grid_1d(grid, grad_U, diffusion, temperatures, *, anchor: int = 0
                                  ) -> UniformGridStationary1D:
    """SC.eq5 stationary densities ``ρ ∝ exp(−2v/T)`` of a 1-D problem given by node values.

    For sampled models (RND Fig. H.4) U' and D(θ) = Var_x ∂_θU(x, θ) are arrays, not expressions;
    in 1-D the SC.eq5 integrand ``(U' + (T/2)D')/D = U'/D + (T/2)(log D)'``, so
    ``v = ṽ + (T/2)ã`` with ``ṽ = ∫_{anchor} U'/D`` (trapezoid rule outward from the node ``anchor``,
    :func:`anchored_cumulative_integral`) and ``ã = log D`` in closed form (RND.eq19,
    :func:`theory.effective_potential.rnd_split`). Then ``log ρ = −(2/T)ṽ − ã − log Z`` (compiled
    ``theory.free_energy.gibbs_log_density``; :func:`normalise_log_density` with the weights
    ``numpy.gradient(grid)``: spacing h inside and at both ends).

    Parameters
    ----------
    grid : strictly increasing nodes (uniform for the weights to be a quadrature rule).
    grad_U, diffusion : U'(θ) and D(θ) > 0 at the nodes (D = 0 makes ∫U'/D diverge: clip it to a
        positive floor first, e.g. ``np.finfo(float).tiny``).
    temperatures : T > 0, one or more.
    anchor : node index where ṽ = 0 (e.g. the train-loss maximum between two basins).

    >>> import numpy as np
    >>> x = np.linspace(-4, 4, 801)
    >>> st = stationary_on_uniform_grid_1d(x, x, np.ones_like(x), [0.5], anchor=400)
    >>> round(float(st.expectation(x**2)[0]), 4)  # U = x²/2, D = 1: Var = T/2
    0.25
    """
    x = _increasing_grid(grid)
    dU = np.asarray(grad_U, dtype=float)
    D = np.asarray(diffusion, dtype=float)
    if dU.shape != x.shape or D.shape != x.shape:
        raise ValueError(f"grad_U {dU.shape} and diffusion {D.shape} must have the grid's shape {x.shape}")
    _require_finite(dU, x, "U'")
    if not np.all(D > 0) or not np.all(np.isfinite(D)):
        i = int(np.argmax(~(D > 0) | ~np.isfinite(D)))
        raise DiffusionNotPositiveError(
            f"the diffusion must be positive and finite at every node; got D = {D[i]!r} at θ = {x[i]!r}. "
            "Where D vanishes the SC.eq5 integrand U'/D diverges: clip D to a positive floor")
    Ts = np.array([check_temperature(t) for t in np.atleast_1d(np.asarray(temperatures, dtype=object))])
    v_tilde = anchored_cumulative_integral(dU / D, x, anchor)
    a_tilde = np.log(D)
    w = np.gradient(x)
    g = _gibbs_log_density()(v_tilde[None, :], a_tilde[None, :], Ts[:, None])
    log_rho, _ = normalise_log_density(g, np.log(w), axis=-1)
    return UniformGridStationary1D(grid=x, weights=w, v_tilde=v_tilde, a_tilde=a_tilde, temperatures=Ts,
                                   log_densities=log_rho)


def effective_potential_2d(U, D, theta, T, x, y) -> np.ndarray:
    """v on the 2-D grid ``x ⊗ y`` (shape (len(x), len(y))) by line integration of the SC.eq5
    integrand along the path (x_0, y_0) → (x, y_0) → (x, y) (cumulative Simpson).

    The result is path independent only when the curl of V vanishes (SC.A1); this function does not
    check it (``theory.effective_potential.curl`` does, symbolically).
    """
    T = check_temperature(T)
    xs, ys = _increasing_grid(x), _increasing_grid(y)
    th = as_theta(theta)
    if len(th) != 2:
        raise ValueError(f"effective_potential_2d needs theta with 2 coordinates; got {len(th)}")
    V = effective_potential_integrand(U, D, th, T_SYMBOL)
    f = compile_expr(V, [th[0], th[1], T_SYMBOL])
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    vals = f(X, Y, T)[..., 0]  # (nx, ny, 2)
    _require_finite(vals, X, "the integrand D⁻¹(∂U + (T/2)∂·D)")
    return line_integral_2d(vals, xs, ys)


def line_integral_2d(field, x, y) -> np.ndarray:
    """``∫ V·dθ`` from the grid corner ``(x_0, y_0)`` to every node along (x_0, y_0) → (x, y_0) → (x, y)
    (cumulative Simpson), for node values ``field`` of shape (len(x), len(y), 2)."""
    along_x = integrate.cumulative_simpson(field[:, 0, 0], x=x, initial=0.0)
    along_y = integrate.cumulative_simpson(field[:, :, 1], x=y, axis=1, initial=0.0)
    return along_x[:, None] + along_y


def _increasing_grid(grid) -> np.ndarray:
    x = np.asarray(grid, dtype=float)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"grid must be a 1-D array of at least 2 points; got shape {x.shape}")
    if not np.all(np.isfinite(x)) or not np.all(np.diff(x) > 0):
        raise ValueError("grid must be finite and strictly increasing")
    return x


def _require_finite(values, where, what: str) -> None:
    values = np.asarray(values)
    bad = ~np.isfinite(values)
    if bad.any():
        idx = np.argwhere(bad)[0]
        loc = np.asarray(where)[tuple(idx[: np.ndim(where)])]
        raise NonFiniteError(f"{what} is not finite at θ = {loc!r}: check the loss/diffusion there "
                             "(D must be > 0) or shrink the domain")


# --------------------------------------------------------------------------------------------------
# Chebyshev panels
# --------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=16)
def _cheb_reference(m: int):
    """Chebyshev–Lobatto nodes on [−1, 1] (increasing), Clenshaw–Curtis weights, and the matrix S
    with ``(S f)_j = ∫_{−1}^{x_j} p_f`` for the degree-m interpolant p_f."""
    from numpy.polynomial import chebyshev as C

    x = -np.cos(np.pi * np.arange(m + 1) / m)
    V = C.chebvander(x, m)
    Vinv = np.linalg.inv(V)
    S = np.empty((m + 1, m + 1))
    for j in range(m + 1):
        coef = Vinv[:, j]
        icoef = C.chebint(coef, lbnd=-1.0)
        S[:, j] = C.chebval(x, icoef)
    w = S[-1].copy()
    return x, w, S


@dataclass(frozen=True)
class PanelGrid:
    """Composite Chebyshev–Lobatto grid: ``breaks`` (P+1,), ``nodes`` and ``weights`` (P, m+1)."""

    breaks: np.ndarray
    nodes: np.ndarray
    weights: np.ndarray
    degree: int

    @property
    def n_panels(self) -> int:
        return len(self.breaks) - 1

    def cumulative_integral(self, values: np.ndarray) -> np.ndarray:
        """``∫_{a}^{node} f`` at every node, for node values ``values`` of shape (P, m+1)."""
        _, _, S = _cheb_reference(self.degree)
        half = 0.5 * np.diff(self.breaks)[:, None]
        within = (values @ S.T) * half
        offsets = np.concatenate([[0.0], np.cumsum(within[:, -1])[:-1]])
        return within + offsets[:, None]

    def flat(self, values=None):
        """Nodes (and values) flattened with duplicated panel endpoints removed (for plots)."""
        keep = np.ones(self.nodes.shape, dtype=bool)
        keep[1:, 0] = False
        x = self.nodes[keep]
        return x if values is None else (x, np.asarray(values)[keep])


def chebyshev_panels(breaks, degree: int = 16) -> PanelGrid:
    """A :class:`PanelGrid` on strictly increasing ``breaks`` with ``degree+1`` nodes per panel."""
    b = _increasing_grid(breaks)
    if degree < 2:
        raise ValueError(f"degree must be >= 2; got {degree}")
    x, w, _ = _cheb_reference(int(degree))
    half = 0.5 * np.diff(b)[:, None]
    mid = 0.5 * (b[1:] + b[:-1])[:, None]
    nodes = mid + half * x[None, :]
    nodes[:, 0], nodes[:, -1] = b[:-1], b[1:]
    return PanelGrid(breaks=b, nodes=nodes, weights=half * w[None, :], degree=int(degree))


# --------------------------------------------------------------------------------------------------
# compiled theory pieces used by the Laplace predictions
# --------------------------------------------------------------------------------------------------
_V, _H, _U, _C, _S, _B, _SIG = sp.symbols("v_min H U_min C_test shift bias Sigma")
_VT, _AT = sp.symbols("v_tilde a_tilde")


@functools.lru_cache(maxsize=1)
def _laplace_log_mass_1d():
    """Compiled ``theory.laplace.laplace_log_mass`` for p = 1: (v_min, v'', T) ↦ log mass."""
    return compile_expr(laplace_log_mass(_V, _H, T_SYMBOL, 1), [_V, _H, T_SYMBOL])


@functools.lru_cache(maxsize=1)
def _gibbs_log_density():
    """Compiled ``theory.free_energy.gibbs_log_density``: (ṽ, ã, T) ↦ ``−(2/T)ṽ − ã`` (SC.eq5 with
    v = ṽ + (T/2)ã, RND.eq19), the unnormalised log density."""
    return compile_expr(gibbs_log_density(_VT, _AT, T_SYMBOL), [_VT, _AT, T_SYMBOL])


@functools.lru_cache(maxsize=1)
def _laplace_covariance_1d():
    """Compiled ``theory.laplace.leading_order_covariance`` for p = 1 with the curvature of v:
    (v''(μ), T) ↦ ``Σ = (T/2) / v''(μ)`` (SC.eq6's Gaussian, SC.B2.cov with C = ∂²v, D = 1)."""
    return compile_expr(leading_order_covariance(sp.Matrix([[_H]]), sp.Matrix([[1]]), T_SYMBOL)[0, 0],
                        [_H, T_SYMBOL])


@functools.lru_cache(maxsize=1)
def _basin_loss_1d():
    """Compiled SC.eq4 per-basin term (``theory.shift_curvature.test_loss_terms(...).total``), p = 1."""
    expr = test_loss_terms(_U, sp.Matrix([[_C]]), sp.Matrix([_S]), sp.Matrix([_B]), sp.Matrix([[_SIG]])).total
    return compile_expr(expr, [_U, _C, _S, _B, _SIG])


# --------------------------------------------------------------------------------------------------
# the 1-D problem
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Basin:
    """A basin of the train loss: ``[left, right]`` between adjacent local maxima (or domain ends);
    ``minimum`` θ_k^tr, ``depth`` U^tr(θ_k), ``curvature`` U^tr''(θ_k); test minimum/depth/curvature
    (nearest test-loss minimum) when a test loss is given."""

    left: float
    right: float
    minimum: float
    depth: float
    curvature: float
    test_minimum: float | None = None
    test_depth: float | None = None
    test_curvature: float | None = None


@dataclass(frozen=True)
class StationaryState1D:
    """The stationary density at one temperature and everything computed from it."""

    T: float
    grid: PanelGrid
    log_density: np.ndarray  # normalised log ρ at grid.nodes
    effective_potential: np.ndarray  # v at grid.nodes (v(a) = 0, or closed form)
    log_partition: float  # log ∫ exp(−2v/T)
    basin_log_masses: np.ndarray
    basin_weights: np.ndarray  # exact (quadrature), ordered by position
    laplace_means: np.ndarray  # minima μ_k of v(·, T)
    laplace_curvatures: np.ndarray  # v''(μ_k)
    laplace_covariances: np.ndarray  # Σ_k = T / (2 v''(μ_k))
    laplace_log_weights: np.ndarray
    laplace_weights: np.ndarray
    train_loss: float  # E_ρ[U_train]
    test_loss: float | None  # E_ρ[U_test]
    train_loss_laplace: float
    test_loss_laplace: float | None

    def expectation(self, values) -> float:
        """``E_ρ[f]`` for node values ``values`` (shape of ``grid.nodes``)."""
        return float(np.sum(self.grid.weights * np.exp(self.log_density) * np.asarray(values)))

    def curve(self):
        """(θ, log ρ) flattened for plotting."""
        return self.grid.flat(self.log_density)


@dataclass(frozen=True)
class SweepResult:
    """Arrays over a temperature sweep (one row per T)."""

    temperatures: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray | None
    basin_weights: np.ndarray  # (nT, K)
    basin_weights_laplace: np.ndarray
    train_loss_laplace: np.ndarray
    test_loss_laplace: np.ndarray | None


class StationaryProblem1D:
    """ρ ∝ exp(−2v(θ,T)/T) for a 1-D train loss (and optional test loss) on ``domain = (a, b)``.

    Parameters
    ----------
    train_loss, test_loss : SymPy expressions in ``theta`` (a Symbol).
    diffusion : D(θ) > 0 (SymPy expression or number; default 1). Constant D uses the closed form
        ``v = U/D`` (SC.fn3); otherwise v is the line integral of the SC.eq5 integrand.
    domain : (a, b) with a < b; it must contain the train minima (the loss must rise at both ends).
    scan_points : uniform points used to locate extrema (then refined with ``brentq``).
    degree, coarse_panels : Chebyshev degree per panel and number of uniform coarse panels.
    expected_basins : if given, the number of train basins required (else :class:`BasinMergeError`).
    """

    def __init__(self, train_loss, theta, *, diffusion=1, test_loss=None, domain, scan_points: int = 20001,
                 degree: int = 16, coarse_panels: int = 200, expected_basins: int | None = None):
        th = as_theta(theta)
        if len(th) != 1:
            raise ValueError(f"StationaryProblem1D is one-dimensional; theta has {len(th)} coordinates")
        self.theta = th[0]
        self.train_loss_expr = as_expr(train_loss)
        self.test_loss_expr = None if test_loss is None else as_expr(test_loss)
        self.diffusion_expr = as_expr(diffusion)
        self.degree, self.coarse_panels = int(degree), int(coarse_panels)
        self.scan_points = check_grid_size(scan_points, name="scan_points", limit=MAX_SCAN_POINTS,
                                           bytes_per_point=_SCAN_BYTES_PER_POINT, minimum=3)
        self.domain = self._check_domain(domain)
        x = self.theta
        U, D, Ut = self.train_loss_expr, self.diffusion_expr, self.test_loss_expr
        self.constant_diffusion = not (D.free_symbols & {x})
        T = T_SYMBOL
        # Query, differentiate and compile on assumption-free symbols (theory.coordinates.
        # strip_assumptions): with a real θ / positive T, SymPy's assumption queries (D.is_zero, and
        # those run while diff builds products) made the RND Fig. H.4 right build ~10× slower. The
        # compiled functions are the same; the *_expr attributes keep the user's symbols. Not for
        # Abs/sign/re/im, whose derivatives need the assumptions.
        if not assumption_sensitive([U, D] + ([] if Ut is None else [Ut])):
            (U, D, x, T, *rest), _ = strip_assumptions((U, D, x, T) + (() if Ut is None else (Ut,)))
            Ut = rest[0] if rest else None
        if D.is_zero or D.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
            raise DiffusionNotPositiveError(
                f"the diffusion D = {self.diffusion_expr} is singular (zero or not finite), so the SC.eq5 "
                "integrand D⁻¹(U' + (T/2)D') is undefined (overparametrized case). Remedy (SC.eq13): add "
                "ℓ2 regularisation α θ²/2 to U and isotropic noise β² to D, i.e. diffusion=D + β²")
        dU = sp.diff(U, x)
        self._U = compile_expr([U, dU, sp.diff(dU, x)], x)
        self._D = compile_expr(D, x)
        V = effective_potential_integrand(U, D, x, T)[0]
        self._V = compile_expr([V, sp.diff(V, x)], [x, T])
        self._v_closed = compile_expr(U / D, x) if self.constant_diffusion else None
        if Ut is not None:
            dUt = sp.diff(Ut, x)
            self._Ut = compile_expr([Ut, dUt, sp.diff(dUt, x)], x)
        else:
            self._Ut = None
        self._scan = np.linspace(*self.domain, self.scan_points)
        self.basins = self._find_basins(expected_basins)

    # -- setup ----------------------------------------------------------------------------------
    @staticmethod
    def _check_domain(domain):
        try:
            a, b = (float(v) for v in domain)
        except (TypeError, ValueError):
            raise DomainError(f"domain must be a pair of numbers (a, b); got {domain!r}") from None
        if not (math.isfinite(a) and math.isfinite(b) and a < b):
            raise DomainError(f"domain must satisfy -inf < a < b < inf; got ({a!r}, {b!r})")
        return a, b

    def _u(self, x):
        return self._U(x)  # (..., 3): U, U', U''

    def _find_basins(self, expected):
        a, b = self.domain
        vals = self._u(self._scan)
        _require_finite(vals[..., 0], self._scan, "the train loss")
        d = self._D(self._scan)
        _require_finite(d, self._scan, "the diffusion D")
        if np.any(d <= 0):
            where = self._scan[np.argmax(d <= 0)]
            raise DiffusionNotPositiveError(
                f"the diffusion D(θ) must be > 0 on the domain; D({where:.6g}) = "
                f"{float(self._D(where)):.3g}: where D vanishes the SC.eq5 integrand D⁻¹(U' + (T/2)D') "
                "is undefined. Shrink the domain to where D > 0, or regularise (SC.eq13): "
                "D + β² (isotropic noise) with ℓ2 term α θ²/2 in U")
        du = vals[..., 1]
        if du[0] > 0:
            raise DomainError(f"domain: the train loss still decreases beyond the left end a = {a:g} "
                              f"(U'(a) = {du[0]:.3g}); widen the domain so it contains the minima")
        if du[-1] < 0:
            raise DomainError(f"domain: the train loss still decreases beyond the right end b = {b:g} "
                              f"(U'(b) = {du[-1]:.3g}); widen the domain so it contains the minima")
        minima, maxima = self._critical_points(lambda t: self._u(t)[..., 1], du)
        if not minima:
            raise DomainError("domain: the train loss has no interior minimum on the domain")
        edges = [a] + maxima + [b]
        if len(edges) - 1 != len(minima):
            raise BasinMergeError(f"found {len(minima)} minima but {len(maxima)} maxima of the train loss; "
                                  "the landscape is degenerate (flat) — change the wells")
        if expected is not None and len(minima) != expected:
            self._check_scan_resolution(len(minima), expected)
            raise BasinMergeError(
                f"basins: expected {expected} separate basins but the train loss has {len(minima)} "
                f"minima at {[round(m, 6) for m in minima]}; wells merge (or split) — move the means "
                "apart, narrow the sigmas or lower c")
        basins = []
        for k, m in enumerate(minima):
            U0, _, C0 = (float(v) for v in self._u(m))
            tm = td = tc = None
            if self._Ut is not None:
                tm = self._nearest_test_minimum(m, edges[k], edges[k + 1])
                td, _, tc = (float(v) for v in self._Ut(tm))
            basins.append(Basin(left=edges[k], right=edges[k + 1], minimum=m, depth=U0, curvature=C0,
                                test_minimum=tm, test_depth=td, test_curvature=tc))
        return tuple(basins)

    def _check_scan_resolution(self, found: int, expected: int) -> None:
        """Wells missing (or extra) on the scan: if a 16× finer scan counts differently, the cause
        is the scan grid, not the landscape — raise :class:`GridResolutionError` saying so."""
        a, b = self.domain
        n_fine = min(16 * (self.scan_points - 1) + 1, MAX_SCAN_POINTS)
        if n_fine <= self.scan_points:
            return
        fine = np.linspace(a, b, n_fine)
        du = self._u(fine)[..., 1]
        if not np.all(np.isfinite(du)):
            return
        mins, _ = self._critical_points(lambda t: self._u(t)[..., 1], du, fine)
        if len(mins) != found:
            h = (b - a) / (self.scan_points - 1)
            raise GridResolutionError(
                f"grid: the scan of {self.scan_points} points (spacing {h:.3g}) finds {found} minima of the "
                f"train loss but a {n_fine}-point scan finds {len(mins)} (expected {expected}): the wells "
                f"are narrower than the scan spacing — this is grid resolution, not wells merging. Use a "
                f"finer grid (scan_points / `grid` ≥ {n_fine}) or a narrower domain")

    def _critical_points(self, deriv, dvals, x=None):
        x = self._scan if x is None else x
        s = np.sign(dvals)
        minima, maxima = [], []
        idx = np.nonzero(s[:-1] * s[1:] < 0)[0]
        for i in idx:
            r = optimize.brentq(lambda t: float(deriv(t)), x[i], x[i + 1], xtol=1e-14, rtol=1e-15)
            (minima if s[i] < 0 else maxima).append(float(r))
        # A critical point that falls exactly on a scan node (derivative exactly 0 there) makes no
        # strict sign change between neighbouring nodes: classify it by its neighbours' signs.
        for i in np.nonzero(s[1:-1] == 0)[0] + 1:
            if s[i - 1] < 0 < s[i + 1]:
                minima.append(float(x[i]))
            elif s[i - 1] > 0 > s[i + 1]:
                maxima.append(float(x[i]))
        return sorted(minima), sorted(maxima)

    def _nearest_test_minimum(self, m, lo, hi):
        dt = self._Ut(self._scan)[..., 1]
        mins, _ = self._critical_points(lambda t: self._Ut(t)[..., 1], dt)
        if not mins:
            raise DomainError("domain: the test loss has no minimum on the domain; widen it")
        return float(min(mins, key=lambda t: abs(t - m)))

    # -- one temperature ------------------------------------------------------------------------
    def _v_minima(self, T):
        """Minima μ_k of v(·, T) (zeros of V = D⁻¹(U' + (T/2)D')) nearest each train minimum."""
        if self.constant_diffusion:
            return np.array([bk.minimum for bk in self.basins])
        out = []
        for bk in self.basins:
            x = self._scan[(self._scan >= bk.left) & (self._scan <= bk.right)]
            Vx = self._V(x, T)[..., 0]
            mins, _ = self._critical_points(lambda t: self._V(t, T)[..., 0], Vx, x)
            if not mins:
                raise BasinMergeError(f"basins: at T = {T:g} the effective potential has no minimum in the "
                                      f"basin [{bk.left:.4g}, {bk.right:.4g}] of the train minimum {bk.minimum:.4g}")
            out.append(min(mins, key=lambda t: abs(t - bk.minimum)))
        return np.array(out)

    def _breaks(self, T, mus, curv):
        a, b = self.domain
        pts = [np.linspace(a, b, self.coarse_panels + 1)]
        pts.append(np.array([bk.left for bk in self.basins] + [b]))
        for bk, mu, c in zip(self.basins, mus, curv):
            ell = math.sqrt(_laplace_covariance_1d()(c, T)) if c > 0 else 1e-3 * (b - a)
            steps = ell * 2.0 ** np.arange(-3, 60)
            steps = steps[steps < (bk.right - bk.left)]
            cluster = np.concatenate([[mu], mu - steps, mu + steps])
            pts.append(cluster[(cluster > bk.left) & (cluster < bk.right)])
        br = np.unique(np.concatenate(pts))
        keep = np.concatenate([[True], np.diff(br) > 1e-13 * (b - a)])
        br = br[keep]
        br[0], br[-1] = a, b
        return br

    def _v_at(self, grid, v, x, T) -> float:
        """v at a point from the nearest breakpoint's value plus an adaptive integral of V."""
        j = int(np.argmin(np.abs(grid.breaks[:-1] - x)))
        start = grid.breaks[j]
        extra = 0.0 if start == x else integrate.quad(lambda t: float(self._V(t, T)[0]), start, x,
                                                      epsabs=0, epsrel=1e-13)[0]
        return float(v[j, 0] + extra)

    def state(self, T) -> StationaryState1D:
        """The stationary density and its basin/loss summaries at temperature T."""
        T = check_temperature(T)
        mus = self._v_minima(T)
        curv = self._V(mus, T)[..., 1]
        self._check_curvatures(T, mus, curv)
        grid = chebyshev_panels(self._breaks(T, mus, curv), self.degree)
        X = grid.nodes
        if self.constant_diffusion:
            v = self._v_closed(X)
            v_mu = self._v_closed(mus)
        else:
            Vn = self._V(X, T)[..., 0]
            _require_finite(Vn, X, "the integrand D⁻¹(U' + (T/2)D')")
            v = grid.cumulative_integral(Vn)
            v_mu = np.array([self._v_at(grid, v, mu, T) for mu in mus])
        _require_finite(v, X, "the effective potential")
        # shift by min v before dividing by T: unshifted, −2v/T is ~1e19 at T = 1e-20 and the log
        # quadrature weights (O(10)) added to it in logsumexp were lost to rounding — that gave
        # E[U] = −6.9e-11 instead of −0.398 (the shift is exact; log Z gets it back)
        v_low = float(np.min(v))
        logw = np.log(grid.weights)
        logrho, logZ_shifted = normalise_log_density(_gibbs_log_density()(v - v_low, 0.0, T), logw)
        logZ = logZ_shifted - 2.0 * v_low / T
        self._check_resolved(T, grid, v, logrho)
        mids = 0.5 * (grid.breaks[1:] + grid.breaks[:-1])
        lm = []
        for bk in self.basins:
            sel = (mids > bk.left) & (mids < bk.right)
            lm.append(float(logsumexp((logrho + logw)[sel])))
        lm = np.array(lm)
        weights = np.exp(normalise_log_density(lm, np.zeros_like(lm))[0])
        rho_w = np.exp(logrho) * grid.weights
        Utr = self._u(X)[..., 0]
        train = float(np.sum(rho_w * Utr))
        test = None if self._Ut is None else float(np.sum(rho_w * self._Ut(X)[..., 0]))
        # Laplace (SC.eq6), compiled from theory.laplace.laplace_log_mass (v'' > 0 checked above)
        ll = _laplace_log_mass_1d()(v_mu, curv, T)
        lw = normalise_log_density(ll, np.zeros_like(ll))[0]
        wl = np.exp(lw)
        sig = _laplace_covariance_1d()(curv, T)
        f = _basin_loss_1d()
        mtr = np.array([bk.minimum for bk in self.basins])
        ctr = np.array([bk.curvature for bk in self.basins])
        utr = np.array([bk.depth for bk in self.basins])
        bias = mtr - mus  # SC sign: b_k = θ_k^tr − μ_k
        train_l = float(np.sum(wl * f(utr, ctr, 0.0, bias, sig)))
        test_l = None
        if self._Ut is not None:
            mte = np.array([bk.test_minimum for bk in self.basins])
            cte = np.array([bk.test_curvature for bk in self.basins])
            ute = np.array([bk.test_depth for bk in self.basins])
            test_l = float(np.sum(wl * f(ute, cte, mte - mtr, bias, sig)))
        return StationaryState1D(
            T=T, grid=grid, log_density=logrho, effective_potential=v, log_partition=logZ,
            basin_log_masses=lm, basin_weights=weights, laplace_means=mus, laplace_curvatures=curv,
            laplace_covariances=sig, laplace_log_weights=lw, laplace_weights=wl, train_loss=train,
            test_loss=test, train_loss_laplace=train_l, test_loss_laplace=test_l,
        )

    def _check_curvatures(self, T, mus, curv) -> None:
        """v''(μ_k) must be clearly positive: ≈ 0 relative to v'' on the basin is a degenerate
        minimum (θ⁴), where SC.eq6's Laplace weights do not apply."""
        for bk, mu, c in zip(self.basins, mus, curv):
            x = self._scan[(self._scan >= bk.left) & (self._scan <= bk.right)]
            scale = float(np.max(np.abs(self._V(x, T)[..., 1]))) if x.size else abs(float(c))
            if not c > 1e-6 * scale:
                if c < 0 and abs(c) > 1e-6 * scale:
                    raise BasinMergeError(f"basins: v''(μ) = {c:.3g} < 0 at μ = {mu:.6g}, T = {T:g}: the "
                                          "minimum of v is not a minimum (a basin is flat or merged)")
                raise DegenerateMinimumError(
                    f"basins: the minimum of v at θ = {mu:.6g} is degenerate at T = {T:g} (v'' = {c:.3g}, "
                    f"i.e. 0 relative to max |v''| = {scale:.3g} on its basin, as for θ⁴): the Hessian is "
                    "singular there and the Laplace weights (SC.eq6) and covariances Σ = T/(2v'') do not "
                    "apply. Add a quadratic term to the loss, or use theory.laplace.even_order_basin_mass "
                    "(SC App. E) / the exact quadrature numerics.reference_quadrature.exact_basin_log_masses_1d")

    def _check_resolved(self, T, grid, v, logrho) -> None:
        """Refuse a density that float64 or the grid cannot resolve (see FLOAT_RESOLUTION_FACTOR
        and MIN_EFFECTIVE_NODES); the message says which and what to change."""
        logp = logrho + np.log(grid.weights)
        carries = logp > float(np.max(logp)) + math.log(1e-16)
        scale = float(np.max(np.abs(v[carries])))
        T_min = FLOAT_RESOLUTION_FACTOR * np.finfo(float).eps * scale
        if T < T_min:
            raise FloatResolutionError(
                f"T = {T:g} is below the float64 resolution of this loss: across a basin the "
                f"effective potential changes by ~T/4 = {T / 4:.3g}, but |v| ≈ {scale:.3g} is only known to "
                f"~ε|v| = {np.finfo(float).eps * scale:.2g}, so the density exp(−2v/T) would be rounding noise. "
                f"Use T ≥ {T_min:.2g} (the T → 0 limit is the Laplace result, basin_weights_laplace), or "
                "shift the loss by a constant so that |U| is small near its minima", T=T, T_min=T_min)
        mids = 0.5 * (grid.breaks[1:] + grid.breaks[:-1])
        p = np.exp(logp)
        for bk in self.basins:
            sel = (mids > bk.left) & (mids < bk.right)
            pb = p[sel].ravel()
            mass = float(pb.sum())
            if mass <= 1e-8:
                continue
            n_eff = mass ** 2 / float(np.sum(pb ** 2))
            if n_eff < MIN_EFFECTIVE_NODES:
                ell = math.sqrt(_laplace_covariance_1d()(bk.curvature, T)) if bk.curvature > 0 else float("nan")
                raise GridResolutionError(
                    f"grid: at T = {T:g} the basin of θ = {bk.minimum:.6g} (width sqrt(T/(2U'')) ≈ {ell:.2g}) "
                    f"puts its mass on only {n_eff:.1f} quadrature nodes: the grid does not resolve it. "
                    "Raise T, narrow the domain, or raise degree/coarse_panels")

    def sweep(self, temperatures) -> SweepResult:
        """:meth:`state` at every temperature (in the given order)."""
        Ts = [check_temperature(t, name=f"temperatures[{i}]") for i, t in enumerate(temperatures)]
        states = [self.state(t) for t in Ts]
        has_test = self._Ut is not None
        return SweepResult(
            temperatures=np.array(Ts),
            train_loss=np.array([s.train_loss for s in states]),
            test_loss=np.array([s.test_loss for s in states]) if has_test else None,
            basin_weights=np.array([s.basin_weights for s in states]),
            basin_weights_laplace=np.array([s.laplace_weights for s in states]),
            train_loss_laplace=np.array([s.train_loss_laplace for s in states]),
            test_loss_laplace=np.array([s.test_loss_laplace for s in states]) if has_test else None,
        )


# --------------------------------------------------------------------------------------------------
# optimal temperature
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OptimalTemperature:
    """Minimiser T* of the exact expected test loss, with an uncertainty estimate.

    ``uncertainty`` is the largest of: the bracketed minimiser's tolerance, the change of T* when
    the quadrature is coarsened (grid refinement), and the flatness width
    ``T*·sqrt(2 ε |L| / L_ss)`` (L_ss: curvature of L in s = log T, ε = 1e-10 the relative accuracy of
    the quadrature).  ``T`` is None when the sweep's minimum sits at an end of the range.
    """

    T: float | None
    uncertainty: float | None
    test_loss: float | None
    bracket: tuple | None
    components: dict = field(default_factory=dict)


def optimal_temperature(problem: StationaryProblem1D, temperatures, *, xatol: float = 1e-6,
                        refine_check: bool = True) -> OptimalTemperature:
    """Minimum of ``E_ρ[U_test]`` over T: argmin on the sweep, then bounded Brent minimisation in
    log T between the neighbours of the argmin."""
    if problem._Ut is None:
        raise ValueError("the problem has no test loss; pass test_loss= to StationaryProblem1D")
    Ts = np.unique([check_temperature(t, name="temperatures") for t in temperatures])
    if len(Ts) < 3:
        raise ValueError("temperatures: need at least 3 distinct temperatures to bracket a minimum")
    L = np.array([problem.state(t).test_loss for t in Ts])
    i = int(np.argmin(L))
    if i == 0 or i == len(Ts) - 1:
        return OptimalTemperature(T=None, uncertainty=None, test_loss=None, bracket=None,
                                  components={"argmin_at_end": float(Ts[i])})

    def refine(prob):
        res = optimize.minimize_scalar(lambda s: prob.state(math.exp(s)).test_loss,
                                       bounds=(math.log(Ts[i - 1]), math.log(Ts[i + 1])), method="bounded",
                                       options={"xatol": xatol})
        return float(res.x), float(res.fun)

    s_star, L_star = refine(problem)
    T_star = math.exp(s_star)
    h = 1e-2
    Lp, Lm = problem.state(T_star * math.exp(h)).test_loss, problem.state(T_star * math.exp(-h)).test_loss
    curv = (Lp - 2 * L_star + Lm) / h ** 2
    eps = 1e-10
    flat = T_star * math.sqrt(2 * eps * max(abs(L_star), 1e-300) / curv) if curv > 0 else float("inf")
    comps = {"brent_tolerance": T_star * xatol, "flatness": flat, "log_T_curvature": curv}
    if refine_check:
        coarse = StationaryProblem1D(problem.train_loss_expr, problem.theta, diffusion=problem.diffusion_expr,
                                     test_loss=problem.test_loss_expr, domain=problem.domain,
                                     scan_points=problem.scan_points, degree=max(problem.degree - 4, 4),
                                     coarse_panels=max(problem.coarse_panels // 2, 10))
        comps["grid_refinement"] = abs(math.exp(refine(coarse)[0]) - T_star)
    unc = max(v for k, v in comps.items() if k != "log_T_curvature")
    return OptimalTemperature(T=T_star, uncertainty=unc, test_loss=L_star, bracket=(float(Ts[i - 1]), float(Ts[i + 1])),
                              components=comps)


# --------------------------------------------------------------------------------------------------
# independent check
# --------------------------------------------------------------------------------------------------
def basin_log_masses_adaptive(problem: StationaryProblem1D, T, *, epsrel: float = 1e-12) -> np.ndarray:
    """Independent reference: normalised log basin masses by ``scipy.integrate.quad`` on each basin
    of ``exp(−2(v(θ) − v(μ_k))/T)`` (log shift by the basin minimum), with the Laplace width as a
    breakpoint hint.  v is the closed form for constant D, else a nested adaptive line integral of
    the compiled SC.eq5 integrand from the basin minimum."""
    T = check_temperature(T)
    mus = problem._v_minima(T)
    curv = problem._V(mus, T)[..., 1]
    V = lambda t: float(problem._V(t, T)[0])  # noqa: E731

    def v_rel(t, mu):
        if problem.constant_diffusion:
            return float(problem._v_closed(t) - problem._v_closed(mu))
        return integrate.quad(V, mu, t, epsabs=0, epsrel=1e-13, limit=200)[0]

    logs, v_mins = [], []
    a = problem.domain[0]
    for bk, mu, c in zip(problem.basins, mus, curv):
        ell = math.sqrt(_laplace_covariance_1d()(c, T))
        hints = [p for p in (mu - 8 * ell, mu - ell, mu, mu + ell, mu + 8 * ell) if bk.left < p < bk.right]
        val, _ = integrate.quad(lambda t: math.exp(-2.0 * v_rel(t, mu) / T), bk.left, bk.right,
                                points=hints, epsabs=0, epsrel=epsrel, limit=500)
        logs.append(math.log(val))
        v_mins.append(float(problem._v_closed(mu)) if problem.constant_diffusion else v_rel(mu, a))
    lm = np.array(logs) - 2.0 * np.array(v_mins) / T
    return normalise_log_density(lm, np.zeros_like(lm))[0]
