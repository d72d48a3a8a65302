"""Finite-volume solver for the SGD Fokker–Planck equation with full anisotropic, state-dependent D.

Equation (SC.eq10 in the rescaled time ``t' = λ t``; RND eq. 16 is the same equation)::

    ∂_t ρ = ∂·J,        J = ∂U ρ + (T/2) ∂·(D ρ)
                          = b ρ + (T/2) D ∂ρ,       b = ∂U + (T/2) ∂·D,

with ``(∂·D)_i = Σ_j ∂_j D_ij``. Sign convention (SC): J is *minus* the usual probability flux,
so a steady state has ``∂·J = 0`` and detailed balance is ``J = 0``; when the field
``D⁻¹ b`` is curl-free (SC.A1) the steady state is ``ρ ∝ exp(−2 v/T)`` with ``∂v = D⁻¹ b``
(SC.eq5), otherwise it carries a non-zero current (SC.B1.counter).

Discretisation (documented choice)
----------------------------------
* Uniform, cell-centred grid on a box; ``ρ`` holds cell averages (densities, ``Σ ρ · vol = 1``).
* Fluxes live on cell faces. On a face normal to axis i the component ``J_i`` is split into
  the *diagonal* part ``b_i ρ + (T/2) D_ii ∂_i ρ`` and the *cross* part
  ``(T/2) Σ_{j≠i} D_ij ∂_j ρ``.
* Diagonal part: Scharfetter–Gummel (exponential fitting): with ``c = (T/2) D_ii`` at the face
  centre, ``Pe = ∫_L^R b_i / c dθ_i`` (Simpson's rule over the two cell centres and the face;
  midpoint optional) and ``B(x) = x / (eˣ − 1)``::

      J_{k+½} = (c / h_i) [ B(−Pe) ρ_{k+1} − B(Pe) ρ_k ].

  It is exact for constant coefficients, upwinds automatically for large Péclet numbers, gives
  an M-matrix generator (so positivity of ρ is preserved) when D is diagonal, and its discrete
  equilibrium is ``ρ_{k+1}/ρ_k = exp(−Pe)`` exactly — for diagonal zero-curl problems the
  steady state is as accurate as the Simpson integral (fourth order); with cross terms the
  scheme is second order.
* Cross part: central differences, ``∂_j ρ`` at the face being the mean of the two adjacent
  cells' centred differences (one-sided at a reflecting wall). This is second-order but not
  monotone: with ``D_ij ≠ 0`` some off-diagonal generator entries are negative, so positivity is
  not guaranteed a priori (it is checked, :attr:`FokkerPlanckSolver.is_m_matrix`).
* Boundaries: reflecting (zero flux through the walls: those faces are omitted) or periodic per
  axis.
* Generator: ``dρ/dt = A ρ`` with ``A = Σ_i Div_i Flux_i`` (a sparse CSR matrix); every face flux
  leaves one cell and enters its neighbour, so column sums of A vanish exactly (mass
  conservation to round-off).

Compared with ``fplanck`` (v0.2.2) this handles off-diagonal and state-dependent D, takes its
coefficients from SymPy expressions, solves the steady state with one sparse direct solve of the
generator with a cell pinned (fplanck: ARPACK shift-invert around the singular generator; in 1-D
with reflecting walls no solve at all, J = 0 face by face; on large grids of two or more axes the
grid cut in two, the halves factorised in two threads and joined through the dense Schur
complement on the cut, :mod:`numerics._split_lu`), evolves stiff problems with
shift-and-invert Krylov, and measures the current J itself (detailed balance ``J = 0``, not only
``∂·J = 0``). Timings: ``benchmarks/bench_fokker_planck.py``.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sps
import scipy.sparse.linalg as spla
import sympy as sp

from numerics._split_lu import split_solve
from numerics.compile import compile_expr
from theory.coordinates import as_square_matrix, as_theta, divergence, gradient
from theory.coordinates import as_expr
from theory.effective_potential import SingularDiffusionError

__all__ = [
    "FokkerPlanckError",
    "FokkerPlanckTypeError",
    "NonFiniteCoefficientError",
    "DiffusionNotPositiveDefiniteError",
    "GridTooLargeError",
    "SINGULAR_RTOL",
    "MAX_CELLS",
    "STEADY_STATE_RTOL",
    "EXPM_MULTIPLY_MAX_NORM",
    "Grid",
    "DetailedBalanceDistance",
    "FokkerPlanckSolver",
    "bernoulli",
    "l1_distance",
]


class FokkerPlanckError(ValueError):
    """Invalid input to the Fokker–Planck solver (bad grid, T, D or shapes)."""


class FokkerPlanckTypeError(FokkerPlanckError, TypeError):
    """An argument has the wrong type (e.g. T given as a string): pass a number."""


class NonFiniteCoefficientError(FokkerPlanckError):
    """∂U, ∂·D or D is NaN/inf somewhere on the grid; the message gives the first such point."""


class DiffusionNotPositiveDefiniteError(FokkerPlanckError, SingularDiffusionError):
    """D is not positive definite somewhere on the grid: indefinite, or singular/semidefinite
    (smallest eigenvalue ≤ :data:`SINGULAR_RTOL` × the largest).  Also a
    :class:`theory.effective_potential.SingularDiffusionError`."""


class GridTooLargeError(FokkerPlanckError):
    """The grid has more cells than :data:`MAX_CELLS` (the message states the memory it needs)."""


#: D counts as singular where its smallest eigenvalue is ≤ SINGULAR_RTOL × the largest eigenvalue
#: of D over the grid (rounding makes an exactly singular PSD matrix come out at ~1e-16 × that)
SINGULAR_RTOL = 1e-12
#: largest number of cells (product over axes); the sparse generator, its face-flux matrices and
#: the LU factors of the steady-state solve need of the order of _BYTES_PER_CELL per cell
MAX_CELLS = 4_000_000
_BYTES_PER_CELL = 1024
#: largest relative residual Σ|Aρ|/Σ(|A||ρ|) :meth:`FokkerPlanckSolver.steady_state` accepts
STEADY_STATE_RTOL = 1e-10
#: ``propagate(method="expm")`` uses expm_multiply up to this ‖tA‖₁, shift-and-invert Krylov above
EXPM_MULTIPLY_MAX_NORM = 64.0
#: SuperLU supernode settings for every factorisation here: panels of 6 columns and relaxed
#: supernodes of 8 (SuperLU's built-in defaults suit larger fronts): 1.12–1.24× faster on
#: 64²–256² five-point generators, same ordering and pivots (``benchmarks/bench_fokker_planck.py``)
SUPERLU_OPTIONS = {"panel_size": 6, "relax": 8}
#: ``steady_state(method="auto")`` on a grid of two or more axes with at least this many cells uses
#: the two-half Schur-complement solve (:mod:`numerics._split_lu`, halves in two threads); smaller
#: grids factorise the whole pinned generator (thread start-up and the dense separator would cost
#: more than they save)
SPLIT_MIN_CELLS = 16_384


def _first_non_finite(values, points, what: str) -> None:
    """Raise :class:`NonFiniteCoefficientError` naming the first point where ``values`` (shape
    ``lead + points[0].shape``) is not finite."""
    vals = np.asarray(values, dtype=float)
    pshape = np.shape(points[0])
    bad = ~np.isfinite(vals.reshape((-1,) + pshape)).all(axis=0) if vals.ndim > len(pshape) \
        else ~np.isfinite(vals)
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        where = tuple(round(float(np.asarray(c)[idx]), 10) for c in points)
        raise NonFiniteCoefficientError(
            f"{what} is not finite (NaN or ±inf) at θ = {where} (first such point of {int(bad.sum())}); "
            "a steady state computed from it would be meaningless. Fix the coefficient there or shrink "
            "the grid to where it is finite")


# --------------------------------------------------------------------------------------------
# grid
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Grid:
    """A uniform cell-centred grid on the box ``Π_i [lower_i, upper_i]``.

    ``cells[i]`` cells along axis i (at least 3); ``periodic[i]`` True makes axis i periodic
    (period ``upper_i − lower_i``), otherwise its walls are reflecting (zero flux).
    """

    lower: tuple[float, ...]
    upper: tuple[float, ...]
    cells: tuple[int, ...]
    periodic: tuple[bool, ...]

    @classmethod
    def box(cls, bounds: Sequence[Sequence[float]], cells, *, periodic=False) -> "Grid":
        """``Grid.box([(a, b), (c, d)], cells=(nx, ny))``; ``cells`` or ``periodic`` may be scalars."""
        try:
            bounds = [tuple(float(v) for v in b) for b in bounds]
        except TypeError as exc:
            raise FokkerPlanckError(
                "bounds must be a sequence of (lower, upper) pairs, one per axis, e.g. [(-3, 3)]"
            ) from exc
        p = len(bounds)
        if p == 0 or any(len(b) != 2 for b in bounds):
            raise FokkerPlanckError("bounds must be a non-empty sequence of (lower, upper) pairs")
        cells_t = tuple([int(cells)] * p) if np.isscalar(cells) else tuple(int(c) for c in cells)
        per_t = tuple([bool(periodic)] * p) if np.isscalar(periodic) else tuple(bool(x) for x in periodic)
        return cls(tuple(b[0] for b in bounds), tuple(b[1] for b in bounds), cells_t, per_t)

    def __post_init__(self):
        p = len(self.lower)
        if not (len(self.upper) == len(self.cells) == len(self.periodic) == p) or p == 0:
            raise FokkerPlanckError(
                f"grid needs one lower/upper/cells/periodic entry per axis; got lengths "
                f"{len(self.lower)}, {len(self.upper)}, {len(self.cells)}, {len(self.periodic)}"
            )
        for i in range(p):
            if not (np.isfinite(self.lower[i]) and np.isfinite(self.upper[i])
                    and self.upper[i] > self.lower[i]):
                raise FokkerPlanckError(
                    f"axis {i}: need finite lower < upper; got [{self.lower[i]}, {self.upper[i]}]"
                )
            if self.cells[i] < 3:
                raise FokkerPlanckError(f"axis {i}: need at least 3 cells; got {self.cells[i]}")
        n = int(np.prod([int(c) for c in self.cells], dtype=object))
        if n > MAX_CELLS:
            need = n * _BYTES_PER_CELL
            units = [("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)]
            amount = next(f"{need / b:.3g} {u}" for u, b in units if need >= b)
            raise GridTooLargeError(
                f"grid of {' × '.join(str(c) for c in self.cells)} = {n:.3g} cells exceeds the limit "
                f"{MAX_CELLS:.0e}: the generator and its sparse LU would need about {amount} of memory; "
                "use fewer cells (refine only where ρ varies) or a smaller box")

    @property
    def ndim(self) -> int:
        return len(self.cells)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.cells)

    @property
    def size(self) -> int:
        return int(np.prod(self.cells))

    @property
    def spacing(self) -> np.ndarray:
        return (np.asarray(self.upper) - np.asarray(self.lower)) / np.asarray(self.cells)

    @property
    def cell_volume(self) -> float:
        return float(np.prod(self.spacing))

    @property
    def axes(self) -> list[np.ndarray]:
        """Cell-centre coordinates along each axis."""
        h = self.spacing
        return [self.lower[i] + h[i] * (np.arange(self.cells[i]) + 0.5) for i in range(self.ndim)]

    def mesh(self) -> list[np.ndarray]:
        """Cell centres as ``ndim`` arrays of shape :attr:`shape` (``indexing='ij'``)."""
        return list(np.meshgrid(*self.axes, indexing="ij"))

    def integrate(self, values) -> float:
        """Midpoint-rule integral of cell values over the box."""
        return float(np.sum(values) * self.cell_volume)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def bernoulli(x):
    """Bernoulli function ``B(x) = x / (exp(x) − 1)`` (B(0) = 1), evaluated stably."""
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < 1e-8
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out = np.where(small, 1.0 - 0.5 * x, x / np.expm1(np.where(small, 1.0, x)))
    # x → +∞: B → 0; x → −∞: B ≈ −x (expm1 → −1), both already right; guard inf/inf
    return np.where(np.isnan(out), 0.0, out)


def _one_blas_thread():
    """Context: BLAS on one thread. The Arnoldi loop's matrix–vector products are memory-bound, and
    on a busy machine a multi-threaded BLAS spends most of its time waiting for its own threads."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:                     # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _si_arnoldi(lu, v, s: float, rtol: float, m_max: int, every: int):
    """One shift-and-invert Arnoldi approximation of ``exp(τA) v`` with ``Z = (I − γA)⁻¹`` given by
    its LU ``lu`` and ``s = τ/γ``: ``exp(τA) = exp(s (I − Z⁻¹))``, so
    ``exp(τA) v ≈ ‖v‖ V_m exp(s (I − H_m⁻¹)) e₁``. Returns ``(u, converged)``; converged when two
    approximations ``every`` vectors apart differ by ≤ rtol (relative), or on breakdown (exact)."""
    from scipy.linalg import expm as dense_expm

    beta = float(np.linalg.norm(v))
    if beta == 0:
        return v.copy(), True
    V = np.empty((m_max + 1, v.size))
    H = np.zeros((m_max + 1, m_max))
    V[0] = v / beta
    prev = None
    for j in range(m_max):
        w = lu.solve(V[j])
        for _ in range(2):                  # classical Gram–Schmidt, twice (enough for orthogonality)
            h = V[:j + 1] @ w
            w -= V[:j + 1].T @ h
            H[:j + 1, j] += h
        hn = float(np.linalg.norm(w))
        H[j + 1, j] = hn
        m = j + 1
        breakdown = hn <= 1e-14 * float(np.linalg.norm(H[:m + 1, j]))
        if breakdown or m % every == 0 or m == m_max:
            try:
                F = dense_expm(s * (np.eye(m) - np.linalg.inv(H[:m, :m])))
            except np.linalg.LinAlgError:
                F = None
            if F is not None and np.all(np.isfinite(F[:, 0])):
                u = beta * (V[:m].T @ F[:, 0])
                if breakdown:
                    return u, True
                if prev is not None and np.linalg.norm(u - prev) <= rtol * np.linalg.norm(u):
                    return u, True
                prev = u
        if breakdown:
            break
        V[j + 1] = w / hn
    return prev, False


def _expm_shift_invert_krylov(A, v, t: float, *, rtol: float = 1e-12, m_max: int = 60,
                              every: int = 5, shift_ratio: float = 0.1) -> np.ndarray:
    """``exp(tA) v`` for a stiff sparse generator A (van den Eshof & Hochbruck, SIAM J. Sci. Comput.
    27 (2006) 1438): Arnoldi on ``(I − γA)⁻¹`` with ``γ = shift_ratio · τ``, one sparse LU per
    substep length τ: τ = t, quartered while ``m_max`` vectors do not reach ``rtol``. (The shift
    has to follow τ: with γ fixed, a shorter step makes ``exp(−(τ/γ)/z)`` steeper near z = 0 and
    the Krylov space converges more slowly, not faster.)"""
    N = A.shape[0]
    I = sps.identity(N, format="csc")
    nsub = 1
    with _one_blas_thread():
        while nsub <= 4096:
            tau = t / nsub
            lu = spla.splu((I - shift_ratio * tau * A).tocsc(), permc_spec="MMD_AT_PLUS_A", **SUPERLU_OPTIONS)
            w, ok = v, True
            for _ in range(nsub):
                w, ok = _si_arnoldi(lu, w, 1.0 / shift_ratio, rtol, m_max, every)
                if not ok:
                    break
            if ok:
                return w
            nsub *= 4
    raise FokkerPlanckError(f"exp(tA)ρ₀ did not converge to rtol = {rtol:g} (even with 4096 substeps); "
                            "loosen rtol or use method='crank-nicolson'")


def l1_distance(grid: Grid, rho_a, rho_b) -> float:
    """``∫ |ρ_a − ρ_b|`` by the midpoint rule (both densities on ``grid``)."""
    return grid.integrate(np.abs(np.asarray(rho_a) - np.asarray(rho_b)))


def _broadcast_field(values, shape_prefix: tuple[int, ...], points_shape, what: str) -> np.ndarray:
    """Broadcast an evaluated field to ``shape_prefix + points_shape`` or raise a clear error.

    Accepts an array of that shape, a constant of shape ``shape_prefix``, or nested lists whose
    leaves are scalars or arrays of the points' shape (e.g. ``[x, 0]`` for ∂U = (x, 0)).
    """
    target = tuple(shape_prefix) + tuple(points_shape)
    try:
        if isinstance(values, (list, tuple)) and shape_prefix:
            if len(values) != shape_prefix[0]:
                raise ValueError("wrong length")
            return np.stack([_broadcast_field(v, shape_prefix[1:], points_shape, what)
                             for v in values])
        arr = np.asarray(values, dtype=float)
        if arr.shape == tuple(shape_prefix):
            arr = arr.reshape(arr.shape + (1,) * len(tuple(points_shape)))
        return np.broadcast_to(arr, target).copy()
    except (ValueError, TypeError) as exc:
        got = np.shape(values) if not isinstance(values, (list, tuple)) else f"a list of {len(values)}"
        raise FokkerPlanckError(
            f"{what} must evaluate to shape {tuple(shape_prefix)} (constant) or {target}; got {got}"
        ) from exc


def _as_field(spec, shape_prefix: tuple[int, ...], what: str) -> Callable:
    """Turn a constant array or a callable ``f(*coords)`` into ``f(points) -> array``."""
    if callable(spec):
        def f(points):
            return _broadcast_field(spec(*points), shape_prefix, points[0].shape, what)
    else:
        const = np.asarray(spec, dtype=float)
        if const.shape != shape_prefix:
            raise FokkerPlanckError(f"{what} must have shape {shape_prefix}; got {const.shape}")

        def f(points):
            return _broadcast_field(const, shape_prefix, points[0].shape, what)
    return f


def _check_diffusion(Dv: np.ndarray, where: str, pts=None) -> None:
    """Raise unless every D sample (shape (p, p, ...)) is finite, symmetric and positive-definite
    (smallest eigenvalue > SINGULAR_RTOL × the largest over the grid; ``pts``: the sample points,
    for the message)."""
    p = Dv.shape[0]
    mats = np.moveaxis(Dv.reshape(p, p, -1), -1, 0)
    points = None if pts is None else np.stack([np.broadcast_to(c, Dv.shape[2:]).ravel() for c in pts], -1)
    if not np.all(np.isfinite(mats)):
        if pts is not None:
            _first_non_finite(Dv, [np.broadcast_to(c, Dv.shape[2:]) for c in pts], f"D (at the {where})")
        raise NonFiniteCoefficientError(f"D has non-finite values at the {where}")
    asym = np.max(np.abs(mats - np.swapaxes(mats, 1, 2)))
    if asym > 1e-10 * max(1.0, float(np.max(np.abs(mats)))):
        raise FokkerPlanckError(f"D must be symmetric; max |D − Dᵀ| = {asym:.3g} at the {where}")
    eigs = np.linalg.eigvalsh(mats)
    k = int(np.argmin(eigs[:, 0]))
    eig_min, scale = float(eigs[k, 0]), float(np.max(np.abs(eigs)))
    if eig_min <= SINGULAR_RTOL * scale:
        kind = ("indefinite (a negative eigenvalue)" if eig_min < -SINGULAR_RTOL * scale
                else "singular (positive semidefinite: an eigenvalue ≈ 0)")
        at = f" at θ = {tuple(round(float(c), 10) for c in points[k])}" if points is not None else ""
        raise DiffusionNotPositiveDefiniteError(
            f"D must be positive-definite on the whole grid, but it is {kind}{at} of the {where}: "
            f"smallest eigenvalue {eig_min:.3g} against {scale:.3g} (tolerance {SINGULAR_RTOL:g} × that). "
            "With a singular D the SC.eq5/SC.eq10 steady state has no density in the flat directions "
            "(overparametrized case). Remedy (SC.eq13): add ℓ2 regularisation α|θ|²/2 to U and isotropic "
            "noise β² I to D, i.e. D + β² I; or shrink the domain to where D ≻ 0."
        )


# --------------------------------------------------------------------------------------------
# detailed-balance diagnostic
# --------------------------------------------------------------------------------------------
#: relative weight floor of :meth:`FokkerPlanckSolver.detailed_balance_distance`'s fit where ρ ≈ 0
DETAILED_BALANCE_WEIGHT_FLOOR = 1e-6


@dataclass(frozen=True)
class DetailedBalanceDistance:
    """How far a density is from detailed balance (``J = 0``, i.e. from any ``exp(−2v/T)``).

    ``current_l1``: ``∫ |J|`` (Euclidean norm of the face-averaged J at cell centres).
    ``current_relative``: ``∫|J| / ∫|(T/2) D ∂ρ|`` — J against the diffusive flux scale.
    ``log_density_residual``: relative ρ-weighted L2 size of the non-gradient part of
    ``g = −(2/T) D⁻¹ b`` (the field ∂ log ρ must equal when J = 0); 0 iff some ``exp(φ)`` has J = 0.
    ``best_fit_l1``: ``∫ |ρ − ρ_fit|`` with ``ρ_fit = exp(φ)/Z`` the best J = 0 candidate.
    ``best_fit_density``: that ``ρ_fit`` on the grid.
    """

    current_l1: float
    current_relative: float
    log_density_residual: float
    best_fit_l1: float
    best_fit_density: np.ndarray


# --------------------------------------------------------------------------------------------
# solver
# --------------------------------------------------------------------------------------------
class FokkerPlanckSolver:
    """Finite-volume solver for ``∂_t ρ = ∂·J``, ``J = ∂U ρ + (T/2) ∂·(D ρ)`` (SC.eq10).

    Plain constructor (coefficients as constants or callables of the coordinate arrays)::

        FokkerPlanckSolver(grid, T=0.5, grad_U=lambda x, y: [x, 2*y], D=[[1, .5], [.5, 1]])

    * ``grad_U``: ∂U, shape (p,) constant or callable ``(*coords) -> (p, ...)``.
    * ``D``: diffusion matrix, shape (p, p) or callable ``-> (p, p, ...)``; symmetric PD.
    * ``div_D``: ``(∂·D)_i = Σ_j ∂_j D_ij``; zero when D is constant; when D is a callable and
      ``div_D`` is omitted it is estimated by centred differences (pass it when known).
    * ``potential``: optional U (callable), kept only for plotting / reference densities.
    * ``T``: temperature > 0 (SC: ``T = λ/B``). Time is ``t' = λ t``.
    * ``quadrature``: rule for the Péclet integral of the Scharfetter–Gummel flux,
      ``"simpson"`` (default) or ``"midpoint"``.

    Use :meth:`from_theory` to build it from SymPy expressions.
    """

    def __init__(self, grid: Grid, *, T: float, grad_U, D, div_D=None,
                 potential: Callable | None = None, quadrature: str = "simpson"):
        if quadrature not in ("simpson", "midpoint"):
            raise FokkerPlanckError(f"quadrature must be 'simpson' or 'midpoint'; got {quadrature!r}")
        self.quadrature = quadrature
        #: the method that produced the last :meth:`steady_state` result ("zero-flux", "banded",
        #: "splu" or "split"; None before the first)
        self.last_method: str | None = None
        if not isinstance(grid, Grid):
            raise FokkerPlanckError("grid must be a numerics.fokker_planck.Grid (use Grid.box)")
        if isinstance(T, (str, bytes, bool)) or (isinstance(T, sp.Basic) and not T.is_number):
            raise FokkerPlanckTypeError(f"T must be a positive number (T = λ/B), e.g. 0.5; got {T!r} "
                                        f"({type(T).__name__})")
        try:
            T = float(T)
        except (TypeError, ValueError) as exc:
            raise FokkerPlanckTypeError(f"T must be a positive number; got {T!r}") from exc
        if not (np.isfinite(T) and T > 0):
            raise FokkerPlanckError(f"T must be a positive finite temperature (T = λ/B); got {T}")
        self.grid = grid
        self.T = T
        p = grid.ndim
        self._grad_U = _as_field(grad_U, (p,), "grad_U")
        self._D = _as_field(D, (p, p), "D")
        if div_D is None:
            if callable(D):
                self._div_D = self._finite_difference_divergence
            else:
                self._div_D = _as_field(np.zeros(p), (p,), "div_D")
        else:
            self._div_D = _as_field(div_D, (p,), "div_D")
        self._potential = potential
        centres = grid.mesh()
        _check_diffusion(self._D(centres), "cell centres", centres)
        _first_non_finite(self._grad_U(centres), centres, "grad_U (∂U, at the cell centres)")
        _first_non_finite(self._div_D(centres), centres, "div_D (∂·D, at the cell centres)")
        self._build()

    # -- construction from theory ------------------------------------------------------------
    @classmethod
    def from_theory(cls, U, D, theta, T, *, grid: Grid, quadrature: str = "simpson"
                    ) -> "FokkerPlanckSolver":
        """Compile ``U``, ``∂U``, ``D`` and ``∂·D`` (SymPy, SC.eq10 conventions) with
        :func:`numerics.compile.compile_expr` (NumPy, CSE) and build the solver.

        ``theta``: coordinates (Symbol / list / column Matrix, p = grid.ndim); ``D``: p×p Matrix
        (scalar allowed for p = 1); ``T``: a positive number (free symbols other than θ are an
        error: substitute parameters first).

        Example (a non-zero-curl problem; SC.B1.counter)::

            x, y = sp.symbols("x y")
            s = FokkerPlanckSolver.from_theory(x**2/2 + y**2, sp.Matrix([[1, .5], [.5, 1]]),
                                               [x, y], 0.5, grid=Grid.box([(-2.5, 2.5)] * 2, cells=80))
            rho = s.steady_state(); J = s.probability_current(rho)
        """
        if not isinstance(grid, Grid):
            raise FokkerPlanckError("grid must be a numerics.fokker_planck.Grid (use Grid.box)")
        th = as_theta(theta)
        p = len(th)
        if p != grid.ndim:
            raise FokkerPlanckError(f"theta has {p} coordinates but the grid has {grid.ndim} axes")
        if isinstance(U, str) or isinstance(D, str):
            raise FokkerPlanckError("pass SymPy expressions for U and D, not strings (nothing is eval-ed)")
        Dm = as_square_matrix(D, p)
        U = as_expr(U)
        gU = gradient(U, th)
        dD = divergence(Dm, th)
        free = (U.free_symbols | Dm.free_symbols) - set(th)
        if free:
            raise FokkerPlanckError(
                f"U and D may depend only on theta; substitute values for {sorted(map(str, free))}"
            )
        args = list(th)
        f_gU = compile_expr(list(gU), args, backend="numpy", cse=True)      # (..., p)
        f_D = compile_expr(Dm, args, backend="numpy", cse=True)             # (..., p, p)
        f_dD = compile_expr(list(dD), args, backend="numpy", cse=True)      # (..., p)
        f_U = compile_expr(U, args, backend="numpy", cse=True)

        def leading(f):
            """compile_expr puts the output axes last; the solver wants them first."""
            def g(*xs):
                out = f(*xs)
                k = len(f.shape)
                return np.moveaxis(out, tuple(range(out.ndim - k, out.ndim)), tuple(range(k)))
            return g

        return cls(grid, T=T, grad_U=leading(f_gU), D=leading(f_D), div_D=leading(f_dD),
                   potential=f_U, quadrature=quadrature)

    # -- coefficient evaluation -------------------------------------------------------------
    def _finite_difference_divergence(self, points):
        p = self.grid.ndim
        h = 1e-5 * np.maximum(1.0, np.abs(np.asarray(self.grid.upper) - np.asarray(self.grid.lower)))
        out = np.zeros((p,) + points[0].shape)
        for j in range(p):
            plus = [x + (h[j] if k == j else 0.0) for k, x in enumerate(points)]
            minus = [x - (h[j] if k == j else 0.0) for k, x in enumerate(points)]
            dDj = (self._D(plus)[:, j] - self._D(minus)[:, j]) / (2 * h[j])
            out += dDj
        return out

    def diffusion(self) -> np.ndarray:
        """D at the cell centres, shape ``(p, p, *cells)``."""
        return self._D(self.grid.mesh())

    def potential(self) -> np.ndarray | None:
        """U at the cell centres (None when the solver was built without a potential)."""
        if self._potential is None:
            return None
        return np.asarray(self._potential(*self.grid.mesh()), dtype=float)

    # -- assembly ----------------------------------------------------------------------------
    def _drift_over_diffusion(self, pts, i, Dv=None):
        """``b_i / ((T/2) D_ii)`` at the points (b = ∂U + (T/2)∂·D)."""
        Dv = self._D(pts) if Dv is None else Dv
        b = self._grad_U(pts)[i] + 0.5 * self.T * self._div_D(pts)[i]
        return b / (0.5 * self.T * Dv[i, i])

    def _peclet(self, face_pts, i, Dface):
        """Cell Péclet number ``Pe = ∫_L^R b_i / ((T/2) D_ii) dθ_i`` across a face.

        ``quadrature="simpson"`` (default) uses the two cell centres and the face centre, so for
        diagonal D the discrete equilibrium ``ρ_R/ρ_L = exp(−Pe)`` is fourth-order accurate;
        ``"midpoint"`` uses the face centre only (second order).
        """
        h = self.grid.spacing[i]
        mid = self._drift_over_diffusion(face_pts, i, Dface)
        if self.quadrature == "midpoint":
            return mid * h
        left = list(face_pts)
        right = list(face_pts)
        left[i] = face_pts[i] - 0.5 * h
        right[i] = face_pts[i] + 0.5 * h
        return h / 6.0 * (self._drift_over_diffusion(left, i) + 4.0 * mid
                          + self._drift_over_diffusion(right, i))

    def _build(self):
        g = self.grid
        p, shape, N = g.ndim, g.shape, g.size
        h = g.spacing
        cell_idx = np.arange(N).reshape(shape)
        centres = g.mesh()
        half_T = 0.5 * self.T
        self._flux = []        # per axis: (sparse face-flux matrix, left-cell multi-index arrays)
        self._pe = []          # per axis: Scharfetter–Gummel Péclet number of each face (−Δ log ρ at J = 0)
        self._faces = []       # per axis: (left flat index, right flat index)
        blocks = []
        for i in range(p):
            if g.periodic[i]:
                left = [np.arange(n) for n in shape]
            else:
                left = [np.arange(n) for n in shape]
                left[i] = np.arange(shape[i] - 1)
            L = list(np.meshgrid(*left, indexing="ij"))
            R = list(L)
            R[i] = (L[i] + 1) % shape[i]
            Lf, Rf = cell_idx[tuple(L)].ravel(), cell_idx[tuple(R)].ravel()
            nf = Lf.size
            face_pts = [c[tuple(L)].ravel() for c in centres]
            face_pts[i] = face_pts[i] + 0.5 * h[i]
            Dface = self._D(face_pts)
            _check_diffusion(Dface, f"faces normal to axis {i}", face_pts)
            c = half_T * Dface[i, i]
            _first_non_finite(self._grad_U(face_pts), face_pts, f"grad_U (∂U, at the faces normal to axis {i})")
            _first_non_finite(self._div_D(face_pts), face_pts, f"div_D (∂·D, at the faces normal to axis {i})")
            pe = self._peclet(face_pts, i, Dface)
            _first_non_finite(pe, face_pts, f"the drift/diffusion ratio b_i/((T/2)D_ii) (the Péclet "
                                            f"number across the faces normal to axis {i})")
            self._pe.append(pe)
            rows = [np.arange(nf), np.arange(nf)]
            cols = [Rf, Lf]
            vals = [c / h[i] * bernoulli(-pe), -c / h[i] * bernoulli(pe)]
            for j in range(p):
                if j == i:
                    continue
                coef = half_T * Dface[i, j] * 0.5          # mean over the two adjacent cells
                for X in (L, R):
                    plus, minus = list(X), list(X)
                    if g.periodic[j]:
                        plus[j] = (X[j] + 1) % shape[j]
                        minus[j] = (X[j] - 1) % shape[j]
                        width = np.full(nf, 2.0)
                    else:
                        plus[j] = np.minimum(X[j] + 1, shape[j] - 1)
                        minus[j] = np.maximum(X[j] - 1, 0)
                        width = (plus[j] - minus[j]).ravel().astype(float)
                    w = coef / (width * h[j])
                    rows += [np.arange(nf), np.arange(nf)]
                    cols += [cell_idx[tuple(plus)].ravel(), cell_idx[tuple(minus)].ravel()]
                    vals += [w, -w]
            F = sps.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                               shape=(nf, N))
            # ∂_t ρ_X = (J_{X+½} − J_{X−½}) / h_i: face f is the right face of L, the left of R
            Div = sps.csr_matrix(
                (np.concatenate([np.full(nf, 1.0 / h[i]), np.full(nf, -1.0 / h[i])]),
                 (np.concatenate([Lf, Rf]), np.concatenate([np.arange(nf), np.arange(nf)]))),
                shape=(N, nf))
            self._flux.append(F)
            self._faces.append((Lf, Rf, L[0].shape))
            blocks.append(Div @ F)
        self.generator = sum(blocks[1:], blocks[0]).tocsr()
        self.generator.sum_duplicates()
        # diffusive-scale operator for current_norm: (T/2) D_ii ∂_i ρ on the same faces
        self._diffusive = []
        for i in range(p):
            Lf, Rf, _ = self._faces[i]
            face_pts = [c.ravel()[Lf] for c in centres]
            face_pts[i] = face_pts[i] + 0.5 * h[i]
            normal = half_T * self._D(face_pts)[i, i] / h[i]
            nf = Lf.size
            self._diffusive.append(
                sps.csr_matrix((np.concatenate([normal, -normal]),
                                (np.concatenate([np.arange(nf)] * 2), np.concatenate([Rf, Lf]))),
                               shape=(nf, N)))

    # -- properties --------------------------------------------------------------------------
    @property
    def is_m_matrix(self) -> bool:
        """True when every off-diagonal generator entry is ≥ 0 (then ``exp(tA)`` keeps ρ ≥ 0)."""
        A = self.generator.tocoo()
        off = A.row != A.col
        return bool(np.all(A.data[off] >= -1e-14 * np.max(np.abs(A.data))))

    def mass(self, rho) -> float:
        """``∫ ρ`` over the grid."""
        return self.grid.integrate(self._as_density(rho))

    def _as_density(self, rho) -> np.ndarray:
        arr = np.asarray(rho, dtype=float)
        if arr.shape != self.grid.shape and arr.shape != (self.grid.size,):
            raise FokkerPlanckError(
                f"rho must have the grid shape {self.grid.shape} (or be flat of length "
                f"{self.grid.size}); got {arr.shape}"
            )
        return arr.reshape(self.grid.shape)

    # -- steady state & evolution ------------------------------------------------------------
    def log_density_estimate(self) -> np.ndarray:
        """``log ρ`` (up to a constant) from the Scharfetter–Gummel zero-flux relation
        ``log ρ_R − log ρ_L = −Pe`` summed along a spanning tree of the grid (axis 0 first, then
        axis 1 from every cell of that line, …). O(N), no solve.

        Exact (the discrete steady state itself) for diagonal D with a discretely curl-free Péclet
        field, in particular in 1-D with reflecting walls; otherwise only an estimate (it ignores
        cross terms and the current). :meth:`steady_state` uses it to pin a cell of high density.
        """
        g = self.grid
        out = np.zeros(g.shape)
        for i in range(g.ndim):
            fshape = self._faces[i][2]
            step = -self._pe[i].reshape(fshape)
            # the line along axis i through index 0 of every later axis
            sl = tuple(slice(0, g.shape[i] - 1) if j == i else (slice(None) if j < i else slice(0, 1))
                       for j in range(g.ndim))
            step = step[sl]
            pad = [(0, 0)] * g.ndim
            pad[i] = (1, 0)
            out = out + np.cumsum(np.pad(step, pad), axis=i)
        return out

    def _pin_cell(self, pin) -> int:
        g = self.grid
        if pin is None:
            return int(np.argmax(self.log_density_estimate()))
        if isinstance(pin, (bool, np.bool_)) or not isinstance(pin, (int, np.integer, tuple, list)):
            raise FokkerPlanckTypeError(f"pin must be a flat cell index or one index per axis; got {pin!r}")
        if isinstance(pin, (tuple, list)):
            if len(pin) != g.ndim or not all(0 <= int(q) < n for q, n in zip(pin, g.shape)):
                raise FokkerPlanckError(f"pin {tuple(pin)} is not a cell of the {g.shape} grid")
            return int(np.ravel_multi_index(tuple(int(q) for q in pin), g.shape))
        if not 0 <= int(pin) < g.size:
            raise FokkerPlanckError(f"pin {pin} is not a cell index in [0, {g.size})")
        return int(pin)

    def _solve_pinned_banded(self, k: int) -> np.ndarray:
        """1-D: drop cell k's equation and unknown (ρ_k = 1): the remaining cells, taken in the
        cyclic order k+1, …, k−1, form a tridiagonal system (also for a periodic axis: the ring is
        opened at k), solved by LAPACK's banded LU in O(n)."""
        from scipy.linalg import solve_banded

        A = self.generator
        n = self.grid.size
        diag = A.diagonal()
        up = np.zeros(n)                    # up[i] = A[i, i+1 mod n]
        lo = np.zeros(n)                    # lo[i] = A[i, i−1 mod n]
        up[:-1] = A.diagonal(1)
        lo[1:] = A.diagonal(-1)
        if self.grid.periodic[0]:
            up[-1] = A[n - 1, 0]
            lo[0] = A[0, n - 1]
        order = (k + 1 + np.arange(n - 1)) % n
        ab = np.zeros((3, n - 1))
        ab[0, 1:] = up[order[:-1]]
        ab[1] = diag[order]
        ab[2, :-1] = lo[order[1:]]
        rhs = np.zeros(n - 1)
        rhs[0] -= lo[order[0]]              # A[k+1, k]
        rhs[-1] -= up[order[-1]]            # A[k−1, k]
        x = np.empty(n)
        x[k] = 1.0
        x[order] = solve_banded((1, 1), ab, rhs, overwrite_ab=True, overwrite_b=True,
                                check_finite=False)
        return x

    def _pinned_system(self, k: int):
        """``(M, rhs)``: the generator with row and column k replaced by the identity's, and
        ``rhs = −A[:, k]`` (``rhs_k = 1``): ``M x = rhs`` ⇔ ``A x = 0`` with ``x_k = 1``. Same
        sparsity as A minus cell k's couplings: no dense row, nothing to fill in."""
        M = self.generator.tocsc(copy=True)
        lo, hi = M.indptr[k], M.indptr[k + 1]
        rhs = np.zeros(self.grid.size)
        rhs[M.indices[lo:hi]] = -M.data[lo:hi]
        rhs[k] = 1.0
        M.data[lo:hi] = np.where(M.indices[lo:hi] == k, 1.0, 0.0)
        M.data[(M.indices == k) & (np.arange(M.nnz) < lo)] = 0.0
        M.data[(M.indices == k) & (np.arange(M.nnz) >= hi)] = 0.0
        M.eliminate_zeros()
        return M, rhs

    def _solve_pinned_splu(self, k: int) -> np.ndarray:
        """Sparse LU (SuperLU) of the pinned system with the minimum-degree ordering of ``Mᵀ + M``:
        a fill-reducing order for a grid stencil (COLAMD, SuperLU's default, fills ~1.8× more).
        Supernodes: :data:`SUPERLU_OPTIONS` (narrower panels than SuperLU's defaults: 1.12–1.24×
        faster on 5-point grids of 64²–256² cells, same ordering and pivots)."""
        M, rhs = self._pinned_system(k)
        try:
            lu = spla.splu(M, permc_spec="MMD_AT_PLUS_A", **SUPERLU_OPTIONS)
        except RuntimeError as exc:          # "Factor is exactly singular"
            raise FokkerPlanckError(
                f"steady-state solve failed ({exc}): the generator with cell {k} pinned is singular, "
                "i.e. the grid splits into parts that exchange no probability; check D and the drift"
            ) from exc
        return lu.solve(rhs)

    def _solve_pinned_split(self, k: int) -> np.ndarray | None:
        """The pinned system split in two halves by the middle plane of the longest reflecting axis
        and solved through the dense Schur complement on that plane, the halves factorised in two
        threads (:func:`numerics._split_lu.split_solve`); None where the split does not apply
        (every axis periodic, a separator over 2048 cells, a pivot leaving the separator block)."""
        M, rhs = self._pinned_system(k)
        with _one_blas_thread():            # two SuperLUs must not share one BLAS thread pool
            return split_solve(M, rhs, self.grid.shape, self.grid.periodic, options=SUPERLU_OPTIONS)

    def generator_residual(self, rho) -> float:
        """Relative residual of the steady-state equation, ``Σ|Aρ| / Σ(|A| |ρ|)``: ~1e-16 for a
        solution exact to round-off, independent of the normalisation of ρ."""
        r = self._as_density(rho).ravel()
        A = self.generator
        den = float(np.sum(abs(A) @ np.abs(r)))
        if den == 0:
            raise FokkerPlanckError("rho is zero")
        return float(np.sum(np.abs(A @ r)) / den)

    def steady_state(self, *, pin=None, method: str = "auto") -> np.ndarray:
        """Normalised steady state (``A ρ = 0``, ``Σ ρ · vol = 1``) by a sparse direct solve.

        The generator is singular (its columns sum to zero), so one cell ``k`` is pinned: its
        equation and its unknown are dropped and ``ρ_k = 1`` (equivalently row and column k of A
        are replaced by the identity's, right-hand side ``−A[:, k]``). What is left is regular for
        an irreducible chain and has A's sparsity, so a fill-reducing ordering keeps the factors
        sparse (a dense normalisation row would not); then ρ is normalised. The result does not
        depend on ``k`` beyond round-off.

        * ``pin``: the cell to pin (flat index or one index per axis; checked, unused by
          zero-flux); default the maximum of :meth:`log_density_estimate`, so that ρ_k is large
          and nothing overflows.
        * ``method``: ``"zero-flux"`` (1-D with reflecting walls: zero flux through the walls and
          ``∂·J = 0`` give ``J = 0`` on every face, so ``ρ_R/ρ_L = B(Pe)/B(−Pe) = e^{−Pe}`` and
          ``log ρ`` is a cumulative sum — O(n), no pin, no solve, no round-off growth with n);
          ``"banded"`` (1-D: the pinned tridiagonal system by LAPACK's banded LU in O(n), periodic
          axes too); ``"splu"`` (SuperLU with the minimum-degree ordering of Aᵀ + A, any
          dimension); ``"split"`` (2-D and up: the grid cut in two by the middle plane of its
          longest reflecting axis, each half with that plane appended factorised by SuperLU in its
          own thread, the plane solved through its dense Schur complement — about the CPU time of
          ``"splu"``, spread over two cores; where the cut does not apply, or its result misses
          the residual test, ``"splu"``); ``"auto"``: zero-flux, banded (periodic 1-D), split
          (2-D and up from :data:`SPLIT_MIN_CELLS` cells) or splu.

        :attr:`last_method` names the method that produced the last result.

        Checks after the solve: finite values, the relative residual :meth:`generator_residual`
        ≤ 1e-10, and — when the generator is an M-matrix (:attr:`is_m_matrix`, e.g. diagonal D),
        whose steady state is positive — ``min ρ ≥ −1e-12 max ρ``. Raises
        :class:`FokkerPlanckError` when one fails.
        """
        g = self.grid
        k = self._pin_cell(pin) if pin is not None else None
        if method == "auto":
            method = (("zero-flux" if not g.periodic[0] else "banded") if g.ndim == 1
                      else ("split" if g.size >= SPLIT_MIN_CELLS else "splu"))
        if method == "zero-flux":
            if g.ndim != 1 or g.periodic[0]:
                raise FokkerPlanckError("method='zero-flux' needs a 1-D grid with reflecting walls (there "
                                        "the steady state has J = 0 on every face); use 'banded' or 'splu'")
            psi = self.log_density_estimate().ravel()
            x = np.exp(psi - psi.max())
        elif method in ("banded", "splu", "split") and k is None:
            k = self._pin_cell(None)
        if method == "split":
            if g.ndim < 2:
                raise FokkerPlanckError(f"method='split' needs a grid of two or more axes; this one has "
                                        f"{g.ndim} (use 'auto')")
            x = self._solve_pinned_split(k)
            if x is not None:
                rho = self._normalised_checked(x, "split", k, raise_=False)
                if rho is not None:
                    self.last_method = "split"
                    return rho.reshape(g.shape)
            method = "splu"                 # the cut does not apply here, or its result was not accurate
        if method == "banded":
            if g.ndim != 1:
                raise FokkerPlanckError(f"method='banded' needs a 1-D grid; this one has {g.ndim} axes "
                                        "(use 'splu' or 'auto')")
            x = self._solve_pinned_banded(k)
        elif method == "splu":
            x = self._solve_pinned_splu(k)
        elif method != "zero-flux":
            raise FokkerPlanckError(f"unknown method {method!r}; use 'auto', 'zero-flux', 'banded', 'splu' "
                                    "or 'split'")
        rho = self._normalised_checked(x, method, k)
        self.last_method = method
        return rho.reshape(g.shape)

    def _normalised_checked(self, x, method: str, k, *, raise_: bool = True):
        """``x`` normalised to unit mass after the checks of :meth:`steady_state` (finite, positive
        mass, residual ≤ :data:`STEADY_STATE_RTOL`, no negative values for an M-matrix); a failed
        check raises :class:`FokkerPlanckError`, or returns None with ``raise_=False``."""
        g = self.grid
        mass = float(np.sum(x)) * g.cell_volume
        problem = None
        if not (np.all(np.isfinite(x)) and np.isfinite(mass) and mass > 0):
            problem = (f"steady-state solve failed (non-finite or non-positive total mass, method {method!r}, "
                       f"pinned cell {k}); check D and the grid, or pin a cell of higher density (pin=...)")
        else:
            rho = x / mass
            res = self.generator_residual(rho)
            if not res <= STEADY_STATE_RTOL:
                problem = (f"steady-state solve is inaccurate: relative residual Σ|Aρ|/Σ|A||ρ| = {res:.2e} > "
                           f"{STEADY_STATE_RTOL:g}; the pinned system is too ill-conditioned (refine the grid "
                           "where the drift is steep, or raise T)")
            elif rho.min() < -1e-12 * rho.max() and self.is_m_matrix:
                problem = (f"steady state has negative values (min {rho.min():.3g}, max {rho.max():.3g}) although "
                           "the generator is an M-matrix (its exact steady state is positive): the solve lost "
                           "accuracy")
        if problem is None:
            return rho
        if raise_:
            raise FokkerPlanckError(problem)
        return None

    def propagate(self, rho0, t: float, *, method: str = "expm", steps: int = 100,
                  rtol: float = 1e-12) -> np.ndarray:
        """Evolve ``rho0`` (cell values, or a callable of the centre coordinates) for time ``t``.

        ``method="expm"``: ``exp(tA) ρ₀`` to relative accuracy ``rtol``. When ``‖tA‖₁`` is at most
        :data:`EXPM_MULTIPLY_MAX_NORM` by ``scipy.sparse.linalg.expm_multiply`` (truncated Taylor
        series: its cost grows like ``‖tA‖₁``, which on fine grids is ``∝ t/h²``); above that by
        shift-and-invert Krylov (van den Eshof & Hochbruck 2006): Arnoldi on ``(I − γA)⁻¹`` with
        one sparse LU, whose convergence does not depend on ``‖A‖`` (time is split into substeps
        only if ~60 Krylov vectors do not reach ``rtol``). Mass is then restored to ``∫ρ₀``
        exactly (the Krylov error is ``≤ rtol`` relative).
        ``"crank-nicolson"``: ``steps`` Crank–Nicolson steps (one sparse LU);
        ``"implicit-euler"``: ``steps`` backward-Euler steps (L-stable, first order).
        All conserve ``∫ρ`` to round-off (column sums of A vanish).
        """
        if callable(rho0):
            rho0 = rho0(*self.grid.mesh())
        r = self._as_density(rho0).ravel().copy()
        t = float(t)
        if t < 0 or not np.isfinite(t):
            raise FokkerPlanckError(f"t must be a finite time ≥ 0; got {t}")
        if t == 0:
            return r.reshape(self.grid.shape)
        A = self.generator
        if method == "expm":
            if not (0 < float(rtol) < 1):
                raise FokkerPlanckError(f"rtol must be in (0, 1); got {rtol}")
            norm = float(spla.norm(A, 1)) * t
            if norm <= EXPM_MULTIPLY_MAX_NORM:
                out = spla.expm_multiply(A * t, r)
            else:
                out = _expm_shift_invert_krylov(A, r, t, rtol=float(rtol))
                m0, m1 = float(np.sum(r)), float(np.sum(out))
                if abs(m0) > 0 and np.isfinite(m1) and m1 != 0:
                    out = out * (m0 / m1)
        elif method in ("crank-nicolson", "implicit-euler"):
            if int(steps) < 1:
                raise FokkerPlanckError(f"steps must be ≥ 1; got {steps}")
            dt = t / int(steps)
            I = sps.identity(self.grid.size, format="csc")
            theta = 0.5 if method == "crank-nicolson" else 1.0
            lu = spla.splu((I - theta * dt * A).tocsc(), permc_spec="MMD_AT_PLUS_A", **SUPERLU_OPTIONS)
            B = (I + (1 - theta) * dt * A).tocsr()
            out = r
            for _ in range(int(steps)):
                out = lu.solve(B @ out)
        else:
            raise FokkerPlanckError(
                f"unknown method {method!r}; use 'expm', 'crank-nicolson' or 'implicit-euler'"
            )
        return np.asarray(out).reshape(self.grid.shape)

    # -- current -----------------------------------------------------------------------------
    def face_currents(self, rho) -> list[np.ndarray]:
        """``J_i`` on the interior faces normal to each axis i (the solver's own fluxes).

        Axis i gives an array of shape ``cells`` with ``cells[i] − 1`` along i (reflecting) or
        ``cells[i]`` (periodic; the last face wraps around).
        """
        r = self._as_density(rho).ravel()
        return [(F @ r).reshape(fshape) for F, (_, _, fshape) in zip(self._flux, self._faces)]

    def probability_current(self, rho, *, at: str = "centres"):
        """SC.eq10 current ``J = ∂U ρ + (T/2) ∂·(D ρ)`` (J = −usual flux).

        ``at="centres"``: array (p, *cells), each component the mean of the two faces around the
        cell (wall faces carry zero flux); ``at="faces"``: :meth:`face_currents`.
        """
        faces = self.face_currents(rho)
        if at == "faces":
            return faces
        if at not in ("centres", "centers"):
            raise FokkerPlanckError(f"at must be 'centres' or 'faces'; got {at!r}")
        g = self.grid
        out = np.zeros((g.ndim,) + g.shape)
        for i, Jf in enumerate(faces):
            if g.periodic[i]:
                out[i] = 0.5 * (Jf + np.roll(Jf, 1, axis=i))
            else:
                pad = [(0, 0)] * g.ndim
                pad[i] = (1, 1)
                Jp = np.pad(Jf, pad)
                lo = [slice(None)] * g.ndim
                hi = [slice(None)] * g.ndim
                lo[i], hi[i] = slice(0, -1), slice(1, None)
                out[i] = 0.5 * (Jp[tuple(lo)] + Jp[tuple(hi)])
        return out

    def current_norm(self, rho) -> float:
        """``∫|J| / ∫|(T/2) D_ii ∂_i ρ|`` summed over faces: J relative to the diffusive flux scale.

        ≈ 0 (discretisation error) in detailed balance; O(0.1–1) for a genuinely
        non-equilibrium steady state. Dimensionless and independent of the normalisation of ρ.
        """
        r = self._as_density(rho).ravel()
        num = sum(float(np.sum(np.abs(F @ r))) / h for F, h in zip(self._flux, self.grid.spacing))
        den = sum(float(np.sum(np.abs(Dd @ r))) / h for Dd, h in zip(self._diffusive, self.grid.spacing))
        if den == 0:
            raise FokkerPlanckError("rho has no diffusive flux (constant or zero density)")
        return float(num / den)

    def detailed_balance_distance(self, rho) -> DetailedBalanceDistance:
        """How far ``rho`` is from any ``exp(−2v/T)`` with ``J = 0`` (SC.eq5 vs SC.B1.counter).

        J = 0 means ``∂ log ρ = g := −(2/T) D⁻¹ (∂U + (T/2)∂·D)``. The best J = 0 candidate is
        ``exp(φ)`` with φ the weighted least-squares fit of face differences ``φ_R − φ_L ≈ g_i h_i``,
        face weight ``(ρ_face + ε·max ρ)/h_i²`` (ε = ``DETAILED_BALANCE_WEIGHT_FLOOR``; the 1/h_i² makes the
        objective ``E_ρ|∂φ − g|²`` whatever the spacings) and the gauge fixed
        by ``φ = 0`` at the most probable cell. The ρ weight makes the fit judge g where the density
        lives; the floor keeps φ determined where ρ ≈ 0 — there it integrates g (the drift's own
        log-gradient), so exp(φ) decays into the empty region instead of taking an arbitrary value
        and putting mass at the box edges. The relative residual of the ρ-weighted fit measures the
        curl part of g and ``ρ_fit = exp(φ)/Z`` is compared with ``rho`` in L1. For constant D and
        quadratic U with a Gaussian ρ, φ is the quadratic ``−½θᵀKθ`` with ``KC + CK = AC + CAᵀ``,
        ``A = (2/T)D⁻¹H``, C the covariance of ρ (the weighted projection of a linear field onto
        gradients stays linear). See :class:`DetailedBalanceDistance`.
        """
        g = self.grid
        r = self._as_density(rho)
        rf = r.ravel()
        J = self.probability_current(r)
        current_l1 = g.integrate(np.sqrt(np.sum(J**2, axis=0)))
        centres = [c.ravel() for c in g.mesh()]
        rows, cols, vals, target, weights = [], [], [], [], []
        nrow = 0
        for i in range(g.ndim):
            Lf, Rf, _ = self._faces[i]
            pts = [c[Lf] for c in centres]
            pts[i] = pts[i] + 0.5 * g.spacing[i]
            Dv = self._D(pts)
            b = self._grad_U(pts) + 0.5 * self.T * self._div_D(pts)
            Dm = np.moveaxis(Dv, (0, 1), (-2, -1))
            gv = -(2.0 / self.T) * np.linalg.solve(Dm, np.moveaxis(b, 0, -1)[..., None])[..., 0]
            nf = Lf.size
            ridx = nrow + np.arange(nf)
            rows += [ridx, ridx]
            cols += [Rf, Lf]
            vals += [np.ones(nf), -np.ones(nf)]
            target.append(gv[:, i] * g.spacing[i])
            # a face row's residual is a φ difference: /h_i makes it a derivative, so the objective is
            # Σ_faces ρ vol |∂_iφ − g_i|² ≈ E_ρ|∂φ − g|² on any spacing (unequal h_i included)
            rho_face = np.maximum(0.5 * (rf[Lf] + rf[Rf]), 0.0)
            weights.append((rho_face * g.cell_volume / g.spacing[i] ** 2,
                            np.full(nf, g.cell_volume / g.spacing[i] ** 2)))
            nrow += nf
        G = sps.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                           shape=(nrow, g.size))
        w_rho = np.sqrt(np.concatenate([wr for wr, _ in weights]))
        floor = DETAILED_BALANCE_WEIGHT_FLOOR * max(float(np.max(rf)), 0.0) * np.concatenate([wf for _, wf in weights])
        w = np.sqrt(w_rho**2 + floor)
        y = np.concatenate(target)
        # fix the gauge (φ is defined up to a constant): φ = 0 at the most probable cell
        k0 = int(np.argmax(rf))
        keep = np.flatnonzero(np.arange(g.size) != k0)
        Wk = (sps.diags(w) @ G).tocsc()[:, keep]
        phi = np.zeros(g.size)
        phi[keep] = spla.spsolve((Wk.T @ Wk).tocsc(), Wk.T @ (w * y))
        resid = w_rho * (G @ phi - y)
        rel = float(np.linalg.norm(resid) / max(np.linalg.norm(w_rho * y), 1e-300))
        phi = phi - np.max(phi)
        fit = np.exp(phi).reshape(g.shape)
        fit /= g.integrate(fit)
        mass = g.integrate(r)
        best_l1 = l1_distance(g, r / mass, fit)
        return DetailedBalanceDistance(current_l1=float(current_l1), current_relative=self.current_norm(r),
                                       log_density_residual=rel, best_fit_l1=float(best_l1),
                                       best_fit_density=fit)
