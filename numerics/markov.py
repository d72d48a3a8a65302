"""The exact discrete-time prediction of SGD on a 1-D per-sample model.

SGD on a finite training set ``{x_1, …, x_N}`` with a fresh minibatch every step,

    θ_{t+1} = θ_t − λ · ĝ(θ_t),      ĝ(θ) = (1/B) Σ_{b ∈ batch} g(θ, x_b),   g = ∂_θ f(θ, x),

is a Markov chain on the real line.  Its one-step law at θ is the law of ``θ − λ ĝ(θ)``, and the law
of the minibatch mean ĝ is *discrete and known exactly*:

* with replacement, ĝ is the mean of B i.i.d. draws from the empirical distribution
  ``(1/N) Σ_k δ_{g(θ, x_k)}``: its law is the B-fold convolution of that distribution; the support
  is the multisets of B samples, multiset ``c`` (multiplicities ``c_k``, ``Σ c_k = B``) having
  probability ``B! / (Π_k c_k!) / N^B`` (multinomial);
* without replacement, ĝ is the mean of a uniformly random B-subset: each of the ``C(N, B)`` subsets
  has probability ``1 / C(N, B)``.

Moments (exact, used by the tests): ``E ĝ = U'(θ)``, ``U = (1/N) Σ_k f(·, x_k)``; ``Var ĝ = D(θ)/B``
with replacement and ``D(θ)/B · (N − B)/(N − 1)`` without (the finite-population factor), where
``D(θ) = (1/N) Σ_k (g(θ, x_k) − U'(θ))²`` is the per-sample gradient variance (population form, as
in :class:`numerics.landscapes.SampledWellModel.diffusion`).

Discretisation (:func:`transition_operator`).  θ lives on a uniform grid of cell centres
``c_0 < … < c_{n−1}`` (spacing h).  Row i of the operator is the one-step law started at ``c_i``:
every support point ``θ' = c_i − λ ĝ`` is split linearly between its two neighbouring centres
(``u = (θ' − c_0)/h``, ``j = ⌊u⌋``, mass ``1 − (u − j)`` to ``j`` and ``u − j`` to ``j + 1``).  The
split conserves mass and the mean exactly and adds a variance ``(u − j)(1 − u + j) h² ≤ h²/4``;
:attr:`TransitionOperator.discretisation_variance` states the bound, and the grid check refuses a
grid whose cells are wider than the typical step spread (:class:`StepResolutionError`).

Three ways to get the law of ĝ, chosen by ``method``:

* ``"exact"`` — enumerate the support (multisets or subsets) with its probabilities; feasible while
  the support has at most ``max_support`` points (C(N+B−1, B) resp. C(N, B); e.g. N = 20, B = 4:
  8 855 resp. 4 845).  No approximation beyond the cell split.
* ``"binned"`` — each per-sample step ``−λ g(c_i, x_k)/B`` is split linearly onto a value lattice of
  spacing ``δ = h / subcells`` (mean exact, variance + ≤ δ²/4 per sample, so ≤ B δ²/4 per step), and
  the law of the sum is computed exactly on that lattice in Fourier space: with replacement the
  characteristic function is ``φ(f)^B`` (φ: mean of the per-sample transforms); without replacement
  the elementary-symmetric recursion ``E_j ← E_j + z_k E_{j−1}`` over the N samples (the dynamic
  programme "choose B of N", exact for subsets) gives ``E_B / C(N, B)``.  Because δ divides h, the
  lattice points land on the cell sub-lattice and the cell split is exact arithmetic.
* ``"gaussian"`` — an approximation, never chosen silently: ĝ replaced by a normal law with the
  exact mean and variance (finite-population factor included), discretised on the same lattice.
  ``"auto"`` uses exact, then binned, and only then gaussian, with a
  :class:`MarkovApproximationWarning` that says so.

What the chain gives (:func:`stationary_law`, :func:`basin_occupancy`, :func:`mean_escape_time`,
:func:`relaxation_time`) is compared with the diffusion limit (:func:`diffusion_law`: SC.eq5 /
RND.eq19 ``ρ ∝ exp(−2v/T)``, ``T = λ/B``, ``D`` = per-sample gradient variance times the
finite-population factor without replacement) and with its first-order modified-equation
correction (:func:`modified_equation_law`).

Temperature convention (THEORY.md, SC): ``T = λ/B``.  Note the consequence for "λ → 0 at fixed T":
with an integer B ≥ 1 the smallest learning rate at temperature T is λ = T (B = 1).  In units of
time ``λ·steps``, the k-th cumulant of one step per unit time is ``λ^{k−1} κ_k(g) / B^{k−1} =
T^{k−1} κ_k(g)`` — independent of (λ, B) at fixed T — so the non-Gaussian (Kramers–Moyal k ≥ 3)
part of the chain does not vanish along λ = T·B; only the drift-discretisation error (∝ λ) does.
The diffusion law is the small-T limit; at fixed T the chain's distance to it has a floor set by the
higher cumulants of the per-sample gradients.

At fixed B with λ → 0 (so T → 0) the diffusion law is reached only when the per-sample gradient has
no third cumulant.  The step's third cumulant per unit time, T²κ₃, is of relative order T next to
the diffusion term, but a correction of relative order T to the drift/diffusion balance enters the
exponent −2v/T divided by T: the basin log-odds of the chain and of the diffusion law differ by an
amount ∝ κ₃/T that grows as T → 0 (measured in tests/numerics/test_markov.py: −0.07, −0.16, −0.33
at λ = 0.1, 0.05, 0.025 with B = 4 for data of skewness −0.42; < 0.01 for symmetric data, whose
total-variation distance to the diffusion law falls ∝ λ).  This is the mechanism by which
non-Gaussian minibatch noise changes escape rates exponentially (DT.sec4).
"""
from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Callable

import numpy as np
import scipy.sparse as sps
import scipy.sparse.linalg as spla
import sympy as sp
from scipy import fft as sfft
from scipy.special import gammaln, ndtr

__all__ = [
    "MarkovError",
    "MarkovTypeError",
    "NonFiniteDataError",
    "GridRangeError",
    "StepResolutionError",
    "ZeroNoiseError",
    "SupportSizeError",
    "ChainError",
    "MarkovApproximationWarning",
    "TransitionOperator",
    "GridLaw",
    "EscapeTime",
    "RelaxationTime",
    "step_distribution",
    "transition_operator",
    "stationary_law",
    "basin_occupancy",
    "mean_escape_time",
    "relaxation_time",
    "diffusion_law",
    "modified_equation_law",
    "total_variation",
]


# --------------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------------
class MarkovError(ValueError):
    """Base class: the discrete-time chain cannot be built or analysed as asked (the message says
    what to change)."""


class MarkovTypeError(MarkovError, TypeError):
    """An argument has the wrong type (e.g. a string where a callable or a SymPy expression is
    expected: strings are never parsed)."""


class NonFiniteDataError(MarkovError):
    """The data, or a per-sample gradient on the grid, is NaN or infinite."""


class GridRangeError(MarkovError):
    """One SGD step leaves the grid from some cell; the message names the range needed (or ask for
    ``boundary="reflect"`` / ``"absorb"``)."""


class StepResolutionError(MarkovError):
    """The cells are wider than the typical SGD step spread: the chain on the grid would be
    dominated by the cell split, not by SGD's noise."""


class ZeroNoiseError(MarkovError):
    """The minibatch gradient has no noise (B = N without replacement, or identical samples): the
    chain is deterministic gradient descent and has no stationary law to predict."""


class SupportSizeError(MarkovError):
    """The exact (or binned) law of the minibatch mean is too large to compute with the given
    limits; the message states the size and the alternatives."""


class ChainError(MarkovError):
    """A linear-algebra step on the chain failed its check (no unique stationary law, a target that
    cannot be reached, an eigen-solver that did not converge)."""


class MarkovApproximationWarning(UserWarning):
    """An approximation was used where the exact law is infeasible (``method="auto"`` fell back to
    the Gaussian law of the minibatch mean)."""


# --------------------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------------------
_NO_STRINGS = "strings are never parsed"


def _check_lr(lr) -> float:
    if isinstance(lr, (str, bytes, bool)) or not isinstance(lr, Real):
        raise MarkovTypeError(f"lr must be a positive float, e.g. 0.1; got {lr!r} ({type(lr).__name__}; "
                              f"{_NO_STRINGS})")
    v = float(lr)
    if not (math.isfinite(v) and v > 0):
        raise MarkovError(f"lr must be finite and > 0 (the SGD learning rate λ); got {v!r}")
    return v


def _check_batch(batch_size, n: int, replacement: bool) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, Integral):
        raise MarkovTypeError(f"batch_size must be an integer >= 1; got {batch_size!r} "
                              f"({type(batch_size).__name__}; {_NO_STRINGS})")
    B = int(batch_size)
    if B < 1:
        raise MarkovError(f"batch_size must be >= 1; got {B}")
    if not replacement and B > n:
        raise MarkovError(f"batch_size = {B} exceeds the training set (N = {n}): without replacement a "
                          f"minibatch holds at most N samples; use batch_size <= {n} or replacement=True")
    if not replacement and B == n:
        raise ZeroNoiseError(
            f"batch_size = N = {n} without replacement: every minibatch is the whole training set, so the "
            "step θ − λU'(θ) is deterministic gradient descent (the noise factor (N−B)/(N−1) is 0) and the "
            "chain has no stationary law to predict; use batch_size < N or replacement=True")
    return B


def _check_data(data) -> np.ndarray:
    if isinstance(data, (str, bytes)):
        raise MarkovTypeError(f"data must be a 1-D array of N samples; got a string ({_NO_STRINGS})")
    try:
        x = np.asarray(data, dtype=float)
    except (TypeError, ValueError):
        raise MarkovTypeError(f"data must be a 1-D array of N numbers ({_NO_STRINGS}); got {type(data).__name__}. "
                              "For vector samples pass data = numpy.arange(N) and index your arrays in grad"
                              ) from None
    if x.ndim != 1 or x.size < 1:
        raise MarkovError(f"data must be a 1-D array of N >= 1 samples; got shape {x.shape}. For vector "
                          "samples pass data = numpy.arange(N) and index your arrays inside grad")
    bad = ~np.isfinite(x)
    if bad.any():
        i = int(np.argmax(bad))
        raise NonFiniteDataError(f"data[{i}] = {x[i]!r} is not finite: remove or repair that sample")
    return x


def _check_grid(grid) -> tuple[np.ndarray, float]:
    if isinstance(grid, (str, bytes)):
        raise MarkovTypeError(f"grid must be an array of cell centres; got a string ({_NO_STRINGS})")
    try:
        c = np.asarray(grid, dtype=float)
    except (TypeError, ValueError):
        raise MarkovTypeError(f"grid must be a 1-D array of floats ({_NO_STRINGS}); got {type(grid).__name__}"
                              ) from None
    if c.ndim != 1 or c.size < 3:
        raise MarkovError(f"grid must be a 1-D array of at least 3 cell centres; got shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise MarkovError("grid must be finite")
    d = np.diff(c)
    h = float((c[-1] - c[0]) / (c.size - 1))
    if not (h > 0 and np.allclose(d, h, rtol=1e-9, atol=0)):
        raise MarkovError("grid must be uniform and strictly increasing (cell centres, e.g. "
                          "numpy.linspace(a, b, n))")
    return c, h


def _as_gradient(grad, symbols) -> Callable:
    """A vectorised NumPy callable ``g(theta, x)`` from a callable or a SymPy expression."""
    if isinstance(grad, sp.Basic):
        if (not isinstance(symbols, (tuple, list)) or len(symbols) != 2
                or not all(isinstance(s, sp.Symbol) for s in symbols)):
            raise MarkovTypeError(
                "a SymPy grad needs symbols=(theta, x), two SymPy Symbols (not strings: "
                f"{_NO_STRINGS}); got {symbols!r}")
        from numerics.compile import compile_expr

        f = compile_expr(grad, list(symbols))
        return lambda th, xv: f(th, xv)
    if isinstance(grad, (str, bytes)) or not callable(grad):
        raise MarkovTypeError(
            f"grad must be a vectorised callable g(theta, x) or a SymPy expression with symbols=(theta, x); "
            f"got {type(grad).__name__} ({_NO_STRINGS})")
    if symbols is not None:
        raise MarkovTypeError("symbols=(theta, x) goes with a SymPy grad only; a callable grad takes none "
                              f"({_NO_STRINGS})")
    return grad


def _gradients(g: Callable, theta: np.ndarray, data: np.ndarray) -> np.ndarray:
    """``G[i, k] = g(theta_i, x_k)`` (shape (n, N)), checked finite."""
    with np.errstate(all="ignore"):
        G = np.asarray(g(theta[:, None], data[None, :]), dtype=float)
    G = np.broadcast_to(G, (theta.size, data.size))
    bad = ~np.isfinite(G)
    if bad.any():
        i, k = np.argwhere(bad)[0]
        raise NonFiniteDataError(f"the per-sample gradient g(θ = {theta[i]!r}, x = {data[k]!r}) is not finite: "
                                 "shrink the grid to where the loss is smooth, or repair that sample")
    return np.array(G)


def _population_factor(n: int, B: int, replacement: bool) -> float:
    """Var ĝ = D/B · factor: 1 with replacement, (N − B)/(N − 1) without."""
    if replacement or n == 1:
        return 1.0
    return (n - B) / (n - 1)


# --------------------------------------------------------------------------------------------------
# the exact law of the minibatch mean
# --------------------------------------------------------------------------------------------------
def _support_size(n: int, B: int, replacement: bool) -> int:
    return math.comb(n + B - 1, B) if replacement else math.comb(n, B)


def _enumerate_support(n: int, B: int, replacement: bool) -> tuple[np.ndarray, np.ndarray]:
    """Index sets (M, B) and their probabilities (M,) for the minibatch.

    With replacement a multiset with multiplicities c_k has probability B!/(Π c_k!)/N^B; on a sorted
    row, Σ log c_k! = Σ_j log r_j with r_j the position of entry j inside its run of equal indices.
    Without replacement every subset has probability 1/C(N, B).
    """
    gen = itertools.combinations_with_replacement(range(n), B) if replacement else itertools.combinations(range(n), B)
    idx = np.fromiter(itertools.chain.from_iterable(gen), dtype=np.int64).reshape(-1, B)
    if not replacement:
        return idx, np.full(idx.shape[0], 1.0 / idx.shape[0])
    run = np.ones(idx.shape[0])
    log_fact = np.zeros(idx.shape[0])
    for j in range(1, B):
        same = idx[:, j] == idx[:, j - 1]
        run = np.where(same, run + 1, 1.0)
        log_fact += np.log(run)
    logp = gammaln(B + 1) - log_fact - B * math.log(n)
    p = np.exp(logp)
    return idx, p / p.sum()


def step_distribution(grad, data, theta, *, lr, batch_size, replacement: bool = True, symbols=None,
                      max_support: int = 200_000):
    """Exact law of one SGD step from θ: support points ``θ − λ ĝ`` and their probabilities.

    The minibatch mean ĝ ranges over the multisets (with replacement, multinomial probabilities) or
    subsets (without, uniform) of B samples — see the module docstring.  Returns ``(values,
    probabilities)`` (1-D arrays; probabilities sum to 1).  Raises :class:`SupportSizeError` when the
    support exceeds ``max_support`` points.

    Example
    -------
    >>> import numpy as np
    >>> v, p = step_distribution(lambda t, x: t - x, np.array([-1.0, 1.0]), 0.0, lr=0.5, batch_size=2)
    >>> [round(float(a), 3) for a in v], [round(float(a), 3) for a in p]
    ([-0.5, 0.0, 0.5], [0.25, 0.5, 0.25])
    """
    g = _as_gradient(grad, symbols)
    x = _check_data(data)
    lr = _check_lr(lr)
    B = _check_batch(batch_size, x.size, bool(replacement))
    th = float(theta)
    M = _support_size(x.size, B, bool(replacement))
    if M > max_support:
        raise SupportSizeError(f"the exact minibatch law has {M:.3g} support points (> max_support = "
                               f"{max_support}); raise max_support or use transition_operator(method='binned')")
    G = _gradients(g, np.array([th]), x)[0]
    idx, p = _enumerate_support(x.size, B, bool(replacement))
    return th - lr * G[idx].mean(axis=1), p


# --------------------------------------------------------------------------------------------------
# the transition operator
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TransitionOperator:
    """The SGD chain on a grid: ``matrix[i, j] = P(θ_{t+1} ∈ cell j | θ_t = grid[i])`` (CSR).

    ``leak[i]`` is the mass that leaves the grid from cell i (non-zero only with
    ``boundary="absorb"``); ``discretisation_variance`` bounds the variance the discretisation adds
    to one step (cell split h²/4, plus B δ²/4 for the binned/gaussian lattice); ``step_cells`` is the
    median over cells of the step spread ``λ √(Var ĝ)`` in units of h.
    """

    matrix: sps.csr_matrix
    grid: np.ndarray
    lr: float
    batch_size: int
    replacement: bool
    method: str
    boundary: str
    leak: np.ndarray
    discretisation_variance: float
    step_cells: float
    mean_gradient: np.ndarray = field(repr=False)
    gradient_variance: np.ndarray = field(repr=False)

    @property
    def spacing(self) -> float:
        return float(self.grid[1] - self.grid[0])

    @property
    def temperature(self) -> float:
        """T = λ/B (SC convention)."""
        return self.lr / self.batch_size


def _split_to_cells(u: np.ndarray, n: int, boundary: str):
    """Linear split of positions u (in units of h from c_0) onto centres; returns (j, w_left, keep)
    after applying the boundary rule; ``keep`` marks points that stay on the grid."""
    if boundary == "reflect":
        lo, hi = u < 0, u > n - 1
        u = np.where(lo, -u, np.where(hi, 2 * (n - 1) - u, u))
    keep = (u >= 0) & (u <= n - 1)
    uc = np.clip(u, 0, n - 1)
    j = np.minimum(np.floor(uc).astype(np.int64), n - 2)
    r = uc - j
    return j, 1.0 - r, r, keep


def transition_operator(grad, data, *, lr, batch_size, grid, replacement: bool = True, symbols=None,
                        method: str = "auto", boundary: str = "error", subcells: int = 8,
                        max_support: int = 200_000, max_work: float = 3e8,
                        min_step_cells: float = 1.0) -> TransitionOperator:
    """The SGD Markov chain's one-step operator on a uniform grid of cell centres.

    ``P[i, j] = P(θ_{t+1} ∈ cell j | θ_t = grid[i])`` for θ_{t+1} = θ_t − λ ĝ(θ_t): the exact law of
    the minibatch mean ĝ (module docstring) mapped to cells by the mean-conserving linear split.

    Parameters
    ----------
    grad : vectorised callable ``g(theta, x)`` (broadcasting NumPy arrays) — the per-sample gradient
        ∂_θ f(θ, x) — or a SymPy expression with ``symbols=(theta, x)`` (compiled with
        :func:`numerics.compile.compile_expr`).
    data : the N training samples (1-D; for vector samples pass ``numpy.arange(N)`` and index inside
        ``grad``).
    lr, batch_size : λ > 0 and B ≥ 1 (B ≤ N without replacement; B = N without replacement has no
        noise and raises :class:`ZeroNoiseError`).
    grid : uniform cell centres (e.g. ``numpy.linspace(a, b, n)``).
    replacement : minibatches with (default) or without replacement.
    method : ``"auto"`` | ``"exact"`` | ``"binned"`` | ``"gaussian"`` (module docstring).
    boundary : ``"error"`` (mass leaving the grid raises :class:`GridRangeError` naming the range
        needed), ``"reflect"`` (mirror at the end centres) or ``"absorb"`` (the leaving mass is lost:
        the operator is sub-stochastic, ``leak`` says how much).
    subcells : the lattice of the binned/gaussian methods has spacing h/subcells.
    max_support, max_work : limits for the exact enumeration (support points) and for the binned
        computation (cells × lattice × N × B); beyond them ``"auto"`` falls back and an explicit
        method raises :class:`SupportSizeError`.
    min_step_cells : refuse (:class:`StepResolutionError`) when the median step spread λ√Var ĝ is
        below this many cells.

    Example
    -------
    >>> import numpy as np
    >>> op = transition_operator(lambda t, x: t - x, np.array([-1.0, 1.0]), lr=0.2, batch_size=1,
    ...                          grid=np.linspace(-3, 3, 61))
    >>> bool(np.allclose(op.matrix.sum(axis=1), 1.0)), op.method
    (True, 'exact')
    """
    g = _as_gradient(grad, symbols)
    x = _check_data(data)
    lr = _check_lr(lr)
    replacement = bool(replacement)
    B = _check_batch(batch_size, x.size, replacement)
    c, h = _check_grid(grid)
    if method not in ("auto", "exact", "binned", "gaussian"):
        raise MarkovError(f"method must be 'auto', 'exact', 'binned' or 'gaussian'; got {method!r}")
    if boundary not in ("error", "reflect", "absorb"):
        raise MarkovError(f"boundary must be 'error', 'reflect' or 'absorb'; got {boundary!r}")
    if isinstance(subcells, bool) or not isinstance(subcells, Integral) or subcells < 1:
        raise MarkovError(f"subcells must be an integer >= 1; got {subcells!r}")
    n, N = c.size, x.size
    G = _gradients(g, c, x)
    mean_g = G.mean(axis=1)
    var_g = G.var(axis=1)
    fpc = _population_factor(N, B, replacement)
    step_sd = lr * np.sqrt(var_g * fpc / B)
    scale = float(np.abs(G).max())
    if not np.any(np.sqrt(var_g) > 1e-10 * scale):
        raise ZeroNoiseError("every per-sample gradient agrees with the mean on the whole grid (D(θ) = 0): SGD "
                             "is deterministic gradient descent here and has no stationary law; use data with "
                             "spread")
    step_cells = float(np.median(step_sd) / h)
    if step_cells < min_step_cells:
        need = int(math.ceil((c[-1] - c[0]) * min_step_cells / max(float(np.median(step_sd)), 1e-300))) + 1
        raise StepResolutionError(
            f"the grid is too coarse to resolve an SGD step: the median step spread λ√(Var ĝ) = "
            f"{np.median(step_sd):.3g} is {step_cells:.3g} cells (h = {h:.3g}), below min_step_cells = "
            f"{min_step_cells}; the cell split would dominate SGD's noise. Use at least {need} cells on "
            f"[{c[0]:.6g}, {c[-1]:.6g}]")

    M = _support_size(N, B, replacement)
    lattice = None
    if method in ("auto", "binned", "gaussian"):
        spread = float(np.max(G.max(axis=1) - G.min(axis=1)))
        lattice = int(math.ceil(lr * spread / h * subcells)) + B + 2
    chosen = method
    if method == "auto":
        if M <= max_support:
            chosen = "exact"
        elif float(n) * lattice * N * (1 if replacement else B) <= max_work:
            chosen = "binned"
        else:
            chosen = "gaussian"
            warnings.warn(
                f"the exact law of the minibatch mean is infeasible here ({M:.3g} support points, binned work "
                f"{float(n) * lattice * N * B:.3g} > max_work = {max_work:.3g}): using the Gaussian approximation "
                "(exact mean and variance, finite-population factor included) — raise max_support/max_work "
                "for the exact law", MarkovApproximationWarning, stacklevel=2)
    elif method == "exact" and M > max_support:
        raise SupportSizeError(f"the exact minibatch law has {M:.3g} support points (> max_support = {max_support}); "
                               "use method='binned' (exact on a value lattice) or raise max_support")
    elif method == "binned" and float(n) * lattice * N * (1 if replacement else B) > max_work:
        raise SupportSizeError(f"the binned law needs about {float(n) * lattice * N * B:.3g} operations "
                               f"(> max_work = {max_work:.3g}); use fewer cells, replacement=True, method='gaussian', "
                               "or raise max_work")

    if chosen == "exact":
        keys, vals, leak, u_min, u_max = _rows_exact(G, c, h, lr, B, N, replacement, boundary)
        disc_var = h * h / 4
    else:
        keys, vals, leak, u_min, u_max = _rows_lattice(G, c, h, lr, B, N, replacement, boundary,
                                                             int(subcells), chosen)
        delta = h / subcells
        disc_var = h * h / 4 + B * delta * delta / 4
    if boundary == "error" and (u_min < 0 or u_max > n - 1):
        lo = min(c[0], c[0] + u_min * h)
        hi = max(c[-1], c[0] + u_max * h)
        raise GridRangeError(
            f"one SGD step leaves the grid [{c[0]:.6g}, {c[-1]:.6g}] (it reaches [{c[0] + u_min * h:.6g}, "
            f"{c[0] + u_max * h:.6g}]): extend the grid to at least [{lo:.6g}, {hi:.6g}] (a wider grid may "
            "need more), or pass boundary='reflect' or 'absorb'")
    P = _sparse_from_keys(keys, vals, n)
    return TransitionOperator(matrix=P, grid=c, lr=lr, batch_size=B, replacement=replacement, method=chosen,
                              boundary=boundary, leak=leak, discretisation_variance=disc_var,
                              step_cells=step_cells, mean_gradient=mean_g, gradient_variance=var_g)


def _assemble(row_index, u, p, n, boundary):
    """Cell split of the support points (rows, positions u, probabilities p) → (keys, weights, lost),
    keys = row·n + column."""
    j, wl, wr, keep = _split_to_cells(u, n, boundary)
    lost = np.where(keep, 0.0, p)
    if boundary == "absorb":
        p = np.where(keep, p, 0.0)
    base = row_index * n + j
    return np.concatenate([base, base + 1]), np.concatenate([p * wl, p * wr]), lost


def _sparse_from_keys(keys, vals, n) -> sps.csr_matrix:
    if float(n) * n <= 2e7:
        dense = np.bincount(keys, weights=vals, minlength=n * n)
        nz = np.flatnonzero(dense)
        return sps.csr_matrix((dense[nz], (nz // n, nz % n)), shape=(n, n))
    P = sps.coo_matrix((vals, (keys // n, keys % n)), shape=(n, n)).tocsr()
    P.sum_duplicates()
    P.eliminate_zeros()
    return P


def _rows_exact(G, c, h, lr, B, N, replacement, boundary):
    n = c.size
    idx, p = _enumerate_support(N, B, replacement)
    M = idx.shape[0]
    chunk = max(1, int(2e7 // max(M * B, 1)))
    keys, vals = [], []
    leak = np.zeros(n)
    u_min, u_max = np.inf, -np.inf
    for s in range(0, n, chunk):
        Gi = G[s:s + chunk]
        mean_batch = Gi[:, idx].mean(axis=2)  # (rows, M)
        u = (c[s:s + chunk, None] - lr * mean_batch - c[0]) / h
        u_min, u_max = min(u_min, float(u.min())), max(u_max, float(u.max()))
        ri = np.repeat(np.arange(s, s + Gi.shape[0]), M)
        k, v, lost = _assemble(ri, u.ravel(), np.tile(p, Gi.shape[0]), n, boundary)
        keys.append(k), vals.append(v)
        leak += np.bincount(ri, weights=lost, minlength=n)
    return np.concatenate(keys), np.concatenate(vals), leak, u_min, u_max


def _rows_lattice(G, c, h, lr, B, N, replacement, boundary, m, method):
    """Binned (exact on the lattice δ = h/m) or Gaussian law of the step sum, per row, via FFT."""
    n = c.size
    delta = h / m
    S = -lr * G / B / delta  # per-sample step contributions in lattice units, (n, N)
    a = np.floor(S.min(axis=1))  # row offsets
    U = S - a[:, None]  # ≥ 0
    width = int(math.ceil(U.max())) + 1
    L = sfft.next_fast_len(B * width + 2, real=True)
    if method == "gaussian":
        ri, vv, pv = _gaussian_lattice_pmf(U, B, N, replacement, L)
        K = ri * m + (B * a).astype(np.int64)[ri] + vv  # sub-lattice index of θ' from c_0
        return _assemble_lattice(ri, K, pv, n, m, boundary)
    jk = np.floor(U).astype(np.int64)
    rk = U - jk
    rows_idx = np.repeat(np.arange(n), N)
    if replacement:
        flat = rows_idx * L + jk.ravel()
        hist = (np.bincount(flat, weights=(1 - rk).ravel() / N, minlength=n * L)
                + np.bincount(flat + 1, weights=rk.ravel() / N, minlength=n * L)).reshape(n, L)
        pmf = sfft.irfft(sfft.rfft(hist, axis=1) ** B, n=L, axis=1)
    else:
        f = np.arange(L // 2 + 1)
        E = [np.ones((n, f.size), dtype=complex)] + [np.zeros((n, f.size), dtype=complex) for _ in range(B)]
        w = np.exp(-2j * np.pi * f / L)
        for k in range(N):
            z = ((1 - rk[:, k, None]) + rk[:, k, None] * w[None, :]) * w[None, :] ** jk[:, k, None]
            for j in range(B, 0, -1):
                E[j] = E[j] + z * E[j - 1]
        pmf = sfft.irfft(E[B], n=L, axis=1) / math.comb(N, B)
    pmf = np.where(pmf > 1e-15, pmf, 0.0)
    pmf /= pmf.sum(axis=1, keepdims=True)
    ri, qi = np.nonzero(pmf)
    K = ri * m + (B * a).astype(np.int64)[ri] + qi  # sub-lattice index of θ' from c_0
    return _assemble_lattice(ri, K, pmf[ri, qi], n, m, boundary)


def _assemble_lattice(ri, K, p, n, m, boundary):
    """:func:`_assemble` for support points on the sub-lattice u = K/m (K integer), in integer
    arithmetic: the boundary rule of :func:`_split_to_cells` on K (reflection K → −K or
    2(n−1)m − K; kept iff 0 ≤ K ≤ (n−1)m; clipped), then cell j = min(K//m, n − 2) gets p·(1 − s/m)
    and j + 1 gets p·s/m with s = K − jm — the two halves summed per (row, cell) by one bincount each
    instead of concatenated per point. Returns (keys, weights, leak per row, u_min, u_max)."""
    top = (n - 1) * m
    u_min, u_max = float(K.min()) / m, float(K.max()) / m
    if boundary == "reflect":
        K = np.where(K < 0, -K, np.where(K > top, 2 * top - K, K))
    keep = (K >= 0) & (K <= top)
    leak = np.zeros(n)
    if not keep.all():
        leak = np.bincount(ri, weights=np.where(keep, 0.0, p), minlength=n)
        if boundary == "absorb":
            p = np.where(keep, p, 0.0)
        K = np.clip(K, 0, top)
    cell = np.minimum(K // m, n - 2)
    right = (K - cell * m) * (p / m)
    left_key = ri * n + cell
    if float(n) * n <= 2e7:  # summed on a dense (row, cell) table: two bincounts, no concatenation
        dense = np.bincount(left_key, weights=p - right, minlength=n * n)
        dense += np.bincount(left_key + 1, weights=right, minlength=n * n)
        nz = np.flatnonzero(dense)
        return nz, dense[nz], leak, u_min, u_max
    return np.concatenate([left_key, left_key + 1]), np.concatenate([p - right, right]), leak, u_min, u_max


#: half-width, in standard deviations, of the Gaussian law's window per row: beyond it a lattice
#: point's probability is below Φ(−9) ≈ 1e-19, far under the 1e-15 kept (the window is the same
#: for every row relative to its own σ, so wide-noise rows do not widen the others)
_GAUSS_HALF_WIDTH = 9.0


def _gaussian_lattice_pmf(U, B, N, replacement, L):
    """The Gaussian law of the step sum (exact mean and variance, finite-population factor included) on
    the integer lattice, per row: P(v) = Φ((v + ½ − μ)/σ) − Φ((v − ½ − μ)/σ), probabilities ≤ 1e-15
    dropped, each row renormalised. Returns flat (row, lattice value v, probability) of the kept points.

    Evaluated only on each row's window μ ± 9σ (ragged, one flat array) — not on the common range of
    all rows padded by 9 max σ, which costs ~5× more normal CDFs where σ varies along the grid; every
    point outside the window is < Φ(−9) and would be dropped, so the kept values are the same numbers."""
    n = U.shape[0]
    mean = U.mean(axis=1) * B
    var = U.var(axis=1) * B * _population_factor(N, B, replacement)
    sd = np.sqrt(np.maximum(var, 1e-300))
    pad = int(math.ceil(_GAUSS_HALF_WIDTH * sd.max())) + 1  # the common range: [−pad, L + pad)
    vlo = np.maximum(np.floor(mean - _GAUSS_HALF_WIDTH * sd).astype(np.int64) - 1, -pad)
    vhi = np.minimum(np.ceil(mean + _GAUSS_HALF_WIDTH * sd).astype(np.int64) + 1, L + pad - 1)
    cnt = vhi - vlo + 2  # CDF points per row: v − ½ for v = vlo … vhi + 1
    ends = np.cumsum(cnt)
    starts = ends - cnt
    total = int(ends[-1])
    rowid = np.repeat(np.arange(n), cnt)
    v = np.arange(total, dtype=np.int64) - np.repeat(starts - vlo, cnt)
    q = v - 0.5
    cdf = ndtr((q - mean[rowid]) / sd[rowid])
    pmf = cdf[1:] - cdf[:-1]
    ok = np.ones(total - 1, dtype=bool)
    ok[ends[:-1] - 1] = False  # a difference across two rows
    keep = ok & (pmf > 1e-15)
    ri, vv, pv = rowid[:-1][keep], v[:-1][keep], pmf[keep]
    pv = pv / np.bincount(ri, weights=pv, minlength=n)[ri]
    return ri, vv, pv


# --------------------------------------------------------------------------------------------------
# laws on the grid and what the chain predicts
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GridLaw:
    """A probability law on the cell centres: ``probabilities`` (sum 1); ``density`` = probabilities/h.

    ``residual`` is the check of the computation that produced it (for :func:`stationary_law`:
    ``‖πP − π‖₁``; for the diffusion laws: 0)."""

    grid: np.ndarray
    probabilities: np.ndarray
    residual: float = 0.0
    label: str = ""

    @property
    def density(self) -> np.ndarray:
        return self.probabilities / float(self.grid[1] - self.grid[0])

    def expectation(self, values) -> float:
        return float(self.probabilities @ np.asarray(values, dtype=float))


def _matrix_and_grid(P, grid=None):
    if isinstance(P, TransitionOperator):
        return P.matrix.tocsr(), P.grid, P.lr
    if isinstance(P, (str, bytes)):
        raise MarkovTypeError(f"P must be a TransitionOperator or a (sparse) square matrix; got a string ({_NO_STRINGS})")
    try:
        A = sps.csr_matrix(P, dtype=float)
    except (TypeError, ValueError):
        raise MarkovTypeError(f"P must be a TransitionOperator or a (sparse) square matrix; got {type(P).__name__} "
                              f"({_NO_STRINGS})") from None
    if A.shape[0] != A.shape[1]:
        raise MarkovError(f"P must be square; got shape {A.shape}")
    g = None if grid is None else _check_grid(grid)[0]
    if g is not None and g.size != A.shape[0]:
        raise MarkovError(f"grid has {g.size} points but P is {A.shape[0]}×{A.shape[0]}")
    return A, g, None


def stationary_law(P, *, grid=None, tol: float = 1e-9) -> GridLaw:
    """The stationary law π = πP of the chain (leading left eigenvector, normalised).

    Solved as the sparse linear system ``(Pᵀ − I) π = 0`` with one equation replaced by the pin
    ``π_k = 1`` at the cell k where a few power iterations put the most mass, then normalised; the
    residual ``‖πP − π‖₁`` must be below ``tol`` and π non-negative (up to round-off), else
    :class:`ChainError` (e.g. a reducible chain with several closed classes).

    Example
    -------
    >>> import numpy as np
    >>> law = stationary_law(np.array([[0.9, 0.1], [0.2, 0.8]]))
    >>> [round(float(v), 6) for v in law.probabilities]
    [0.666667, 0.333333]
    """
    A, g, _ = _matrix_and_grid(P, grid)
    n = A.shape[0]
    rs = np.asarray(A.sum(axis=1)).ravel()
    if not np.allclose(rs, 1.0, atol=1e-9):
        i = int(np.argmax(np.abs(rs - 1)))
        raise ChainError(f"P is not stochastic (row {i} sums to {rs[i]:.6g}): a chain with absorbing edges or "
                         "leaking mass has no stationary law; build it with boundary='error' or 'reflect'")
    v = np.full(n, 1.0 / n)
    AT = A.T.tocsr()
    for _ in range(50):
        v = AT @ v
    k = int(np.argmax(v))
    M = (AT - sps.identity(n, format="csr")).tolil()
    M[k, :] = 0.0
    M[k, k] = 1.0
    rhs = np.zeros(n)
    rhs[k] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", spla.MatrixRankWarning)
        try:
            pi = spla.spsolve(M.tocsc(), rhs)
        except (spla.MatrixRankWarning, RuntimeError) as exc:
            raise ChainError(f"the stationary system is singular ({exc}): the chain has no unique stationary law "
                             "(several closed classes?)") from None
    if not np.all(np.isfinite(pi)) or pi.min() < -1e-8 * pi.max():
        raise ChainError("the stationary solve gave a non-finite or negative vector: the chain has no unique "
                         "stationary law (reducible?)")
    pi = np.clip(pi, 0.0, None)
    pi /= pi.sum()
    res = float(np.abs(AT @ pi - pi).sum())
    if res > tol:
        raise ChainError(f"stationary law residual ‖πP − π‖₁ = {res:.3g} > tol = {tol:.3g}")
    grid_out = g if g is not None else np.arange(n, dtype=float)
    return GridLaw(grid=grid_out, probabilities=pi, residual=res, label="discrete-time chain")


def basin_occupancy(law, grid=None, edges=()) -> np.ndarray:
    """Masses of the basins ``(−∞, e_1), [e_1, e_2), …, [e_m, ∞)`` (cells assigned by their centre).

    ``law`` is a :class:`GridLaw` (then ``grid`` may be omitted) or an array of probabilities.

    Example
    -------
    >>> import numpy as np
    >>> basin_occupancy(np.array([0.1, 0.2, 0.3, 0.4]), np.arange(4.0), [1.5]).round(3).tolist()
    [0.3, 0.7]
    """
    if isinstance(law, GridLaw):
        p, x = law.probabilities, (law.grid if grid is None else np.asarray(grid, dtype=float))
    else:
        p = np.asarray(law, dtype=float)
        if grid is None:
            raise MarkovError("basin_occupancy needs the grid when law is an array")
        x = np.asarray(grid, dtype=float)
    e = np.asarray(edges, dtype=float).ravel()
    if x.shape != p.shape:
        raise MarkovError(f"law has {p.shape} values but grid has {x.shape}")
    if e.size and not np.all(np.diff(e) > 0):
        raise MarkovError("edges must be strictly increasing")
    which = np.searchsorted(e, x, side="right")
    return np.bincount(which, weights=p, minlength=e.size + 1)


def _interval_mask(x, spec, name):
    try:
        lo, hi = (float(v) for v in spec)
    except (TypeError, ValueError):
        raise MarkovTypeError(f"{name} must be an interval (lo, hi) of floats (±inf allowed; {_NO_STRINGS}); "
                              f"got {spec!r}") from None
    if not lo <= hi:
        raise MarkovError(f"{name} = ({lo}, {hi}) must have lo <= hi")
    return (x >= lo) & (x <= hi)


@dataclass(frozen=True)
class EscapeTime:
    """Mean hitting time of ``target`` from each start cell in the basin: ``steps`` and
    ``time = lr·steps`` (``lr`` None when P was given as a bare matrix)."""

    starts: np.ndarray
    steps: np.ndarray
    lr: float | None

    @property
    def time(self) -> np.ndarray | None:
        return None if self.lr is None else self.lr * self.steps

    def at(self, theta) -> float:
        """Steps from θ, by linear interpolation between the start cells."""
        return float(np.interp(float(theta), self.starts, self.steps))


def mean_escape_time(P, grid=None, *, basin, target) -> EscapeTime:
    """Expected number of steps to reach ``target`` from each start cell in ``basin``.

    With A the target cells and Q = P restricted to the others, the mean hitting times solve
    ``(I − Q) t = 1`` (t = N·1 with N = (I − Q)⁻¹ the fundamental matrix of the absorbing sub-chain);
    solved sparse.  ``basin`` and ``target`` are intervals ``(lo, hi)`` of θ (cells by centre).  Cells
    from which the target cannot be reached raise :class:`ChainError` (their time is infinite).

    Example
    -------
    >>> import numpy as np
    >>> P = np.array([[0.5, 0.5, 0.0], [0.25, 0.5, 0.25], [0.0, 0.0, 1.0]])
    >>> round(float(mean_escape_time(P, np.arange(3.0), basin=(0, 0), target=(2, 2)).steps[0]), 6)
    8.0
    """
    A, g, lr = _matrix_and_grid(P, grid)
    if g is None:
        raise MarkovError("mean_escape_time needs the grid when P is a bare matrix")
    rs = np.asarray(A.sum(axis=1)).ravel()
    if not np.allclose(rs, 1.0, atol=1e-9):
        i = int(np.argmax(np.abs(rs - 1)))
        raise ChainError(f"P is not stochastic (row {i} sums to {rs[i]:.6g}): with mass leaving the grid the "
                         "hitting time would count the leaving too; build P with boundary='error' or 'reflect'")
    tgt = _interval_mask(g, target, "target")
    start = _interval_mask(g, basin, "basin") & ~tgt
    if not tgt.any():
        raise MarkovError(f"target {target!r} contains no grid cell")
    if not start.any():
        raise MarkovError(f"basin {basin!r} contains no grid cell outside the target")
    # cells that can reach the target: reverse reachability on the graph of P
    from scipy.sparse.csgraph import breadth_first_order

    n = A.shape[0]
    Ab = (A > 0).astype(np.int8).T.tocsr()
    hub = sps.vstack([Ab, sps.csr_matrix((np.ones(int(tgt.sum()), dtype=np.int8),
                                          (np.zeros(int(tgt.sum()), dtype=int), np.flatnonzero(tgt))),
                                         shape=(1, n))]).tocsr()
    hub = sps.hstack([hub, sps.csr_matrix((n + 1, 1), dtype=np.int8)]).tocsr()
    reach = np.zeros(n + 1, dtype=bool)
    reach[breadth_first_order(hub, n, directed=True, return_predecessors=False)] = True
    free = ~tgt
    stuck = free & ~reach[:n]
    if (stuck & start).any():
        i = int(np.argmax(stuck & start))
        raise ChainError(f"the target {target!r} cannot be reached from θ = {g[i]:.6g}: its mean escape time is "
                         "infinite (extend the grid or move the target)")
    keep = free & reach[:n]
    Q = A[keep][:, keep]
    t = spla.spsolve((sps.identity(int(keep.sum()), format="csc") - Q.tocsc()), np.ones(int(keep.sum())))
    full = np.full(n, np.inf)
    full[keep] = t
    full[tgt] = 0.0
    return EscapeTime(starts=g[start], steps=full[start], lr=lr)


@dataclass(frozen=True)
class RelaxationTime:
    """``steps = −1/log|λ₂|`` (λ₂: the eigenvalue of second-largest modulus) and ``time = lr·steps``.
    ``resolved`` is False when 1 − |λ₂| is below what the eigen-solver resolves
    (:data:`RELAXATION_GAP_RESOLUTION`): then ``steps`` is ``inf`` — the chain relaxes more slowly
    than can be computed (metastable basins), not in a definite number of steps."""

    eigenvalue: complex
    steps: float
    lr: float | None
    resolved: bool = True

    @property
    def time(self) -> float | None:
        return None if self.lr is None else self.lr * self.steps


#: the smallest spectral gap 1 − |λ₂| that relaxation_time reports as a number (eigs resolves |λ| to
#: ~1e-15 at best; near that the gap is noise and −1/log|λ₂| would be a random 1e11–1e15)
RELAXATION_GAP_RESOLUTION = 1e-9


def relaxation_time(P, *, tol: float = 0.0) -> RelaxationTime:
    """The leading relaxation time ``−1/log|λ₂|`` of the chain, in steps (and λ·steps).

    λ₂ from ``scipy.sparse.linalg.eigs`` (the three eigenvalues of largest modulus of Pᵀ, to machine
    precision by default — the relative error of ``steps`` is about ``tol/(1 − |λ₂|)``; dense
    ``numpy.linalg.eigvals`` below 400 states).  The largest must be 1 (stochastic P), else
    :class:`ChainError`.

    Example
    -------
    >>> import numpy as np
    >>> round(relaxation_time(np.array([[0.9, 0.1], [0.1, 0.9]])).steps, 6)  # λ₂ = 0.8
    4.48142
    """
    A, _, lr = _matrix_and_grid(P)
    n = A.shape[0]
    if n < 400:
        ev = np.linalg.eigvals(A.toarray())
    else:
        try:
            ev = spla.eigs(A.T.tocsc(), k=3, which="LM", tol=tol, return_eigenvectors=False, maxiter=50_000)
        except spla.ArpackNoConvergence as exc:
            raise ChainError(f"eigs did not converge for λ₂ ({exc}); raise tol or coarsen the grid") from None
    ev = ev[np.argsort(-np.abs(ev))]
    if abs(abs(ev[0]) - 1) > 1e-8:
        raise ChainError(f"the leading eigenvalue has modulus {abs(ev[0]):.12g}, not 1: P is not stochastic")
    lam2 = complex(ev[1])
    m = abs(lam2)
    if 1.0 - m < RELAXATION_GAP_RESOLUTION:   # metastable beyond resolution: say so, no random number
        return RelaxationTime(eigenvalue=lam2, steps=math.inf, lr=lr, resolved=False)
    steps = 0.0 if m == 0 else -1.0 / math.log(m)
    return RelaxationTime(eigenvalue=lam2, steps=steps, lr=lr)


def total_variation(p, q) -> float:
    """``½ Σ |p − q|`` for two probability vectors on the same cells.

    >>> total_variation([0.5, 0.5], [1.0, 0.0])
    0.5
    """
    a = p.probabilities if isinstance(p, GridLaw) else np.asarray(p, dtype=float)
    b = q.probabilities if isinstance(q, GridLaw) else np.asarray(q, dtype=float)
    if a.shape != b.shape:
        raise MarkovError(f"the laws live on different cells: shapes {a.shape} and {b.shape}")
    return 0.5 * float(np.abs(a - b).sum())


# --------------------------------------------------------------------------------------------------
# the diffusion limit and its first-order modified equation
# --------------------------------------------------------------------------------------------------
def _law_from_drift(grid, drift_grad, D, T, label) -> GridLaw:
    """SC.eq5 / RND.eq19: ρ ∝ exp(−2v/T), v = ∫ (Ũ' + (T/2) D')/D, on the grid's nodes."""
    from numerics.stationary import stationary_on_uniform_grid_1d

    anchor = int(np.argmax(D))
    st = stationary_on_uniform_grid_1d(grid, drift_grad, D, [T], anchor=anchor)
    return GridLaw(grid=np.asarray(grid, dtype=float), probabilities=st.probabilities()[0], label=label)


def _moments_on_grid(grad, data, lr, batch_size, grid, replacement, symbols):
    g = _as_gradient(grad, symbols)
    x = _check_data(data)
    lr = _check_lr(lr)
    B = _check_batch(batch_size, x.size, bool(replacement))
    c, _ = _check_grid(grid)
    G = _gradients(g, c, x)
    fpc = _population_factor(x.size, B, bool(replacement))
    D = G.var(axis=1) * fpc
    if not np.all(D > 0):
        i = int(np.argmax(~(D > 0)))
        raise ZeroNoiseError(f"the minibatch-gradient variance vanishes at θ = {c[i]:.6g}: the diffusion law "
                             "∝ exp(−2v/T) with v = ∫U'/D does not exist there; shrink the grid to where D > 0")
    return c, G.mean(axis=1), D, lr, B


def diffusion_law(grad, data, *, lr, batch_size, grid, replacement: bool = True, symbols=None) -> GridLaw:
    """The diffusion-limit (Fokker–Planck) stationary law of the same SGD, on the grid's nodes.

    SC.eq5 / RND.eq19 with the SC convention ``T = λ/B``: ``ρ ∝ exp(−2v/T)``,
    ``v = ∫ (U' + (T/2) D')/D``, where ``D(θ)`` is the per-sample gradient variance (population form)
    times the finite-population factor ``(N − B)/(N − 1)`` without replacement — the FP equation
    ``∂_t ρ = ∂(U'ρ) + (T/2) ∂²(Dρ)`` in time λ·steps, whose first two Kramers–Moyal coefficients
    match the chain's (drift −U', step variance λ² D/B = λ·T·D).  Computed by
    :func:`numerics.stationary.stationary_on_uniform_grid_1d`.

    Example
    -------
    >>> import numpy as np
    >>> x = np.linspace(-3, 3, 601)
    >>> law = diffusion_law(lambda t, s: t - s, np.array([-1.0, 1.0]), lr=0.1, batch_size=1, grid=x)
    >>> round(law.expectation(x**2), 4)  # U = θ²/2, D = 1, T = 0.1: Var = T/2
    0.05
    """
    c, dU, D, lr, B = _moments_on_grid(grad, data, lr, batch_size, grid, replacement, symbols)
    return _law_from_drift(c, dU, D, lr / B, "diffusion limit (SC.eq5)")


def modified_equation_law(grad, data, *, lr, batch_size, grid, replacement: bool = True, symbols=None,
                          per_batch_term: str = "none", diffusion_correction: bool = True) -> GridLaw:
    """Stationary law of the first-order modified equation of SGD (backward-error analysis).

    Derivation (1-D, time t = λ·steps, T = λ/B, ``D`` = per-sample gradient variance × fpc, fpc =
    (N−B)/(N−1) without replacement and 1 with).  One SGD step has mean ``−λU'`` and variance
    ``λ²D/B = λ·T·D``.  An Itô SDE ``dθ = b dt + √s dW`` run for a time λ has (generator expansion,
    ``E f(θ_λ) = f + λLf + (λ²/2)L²f + …``)

        mean increment  λb + (λ²/2)(b b' + (s/2) b'')
        variance        λs + λ²(b's + b s'/2 + s s''/4)

    Matching both to the chain at O(λ²) with b = −U' + λb₁ and s = T·D_eff (s is O(1) at fixed T)
    gives ``b₁ = −½ U'U'' + (T D/4) U⁽³⁾`` and

        Ũ' = U' + (λ/2) U'U'' − (λT/4) D U⁽³⁾          (drift b = −Ũ')
        D_eff = D + λ (U''D + U'D'/2 − (T/4) D D'')    (diffusion s = T·D_eff)

    The first two terms of Ũ' are the gradient of the first-order modified loss
    ``U + (λ/4)|∂U|²`` of backward-error analysis (Li, Tai & E 2017, "stochastic modified
    equations"); the U⁽³⁾ term is the Itô drift of the noise at fixed T (it is O(λT), negligible when
    T → 0 at fixed B).  The O(λ) correction of the diffusion matters for the *stationary* law as much
    as that of the drift: for U = θ²/2 it turns the plain FP variance T/2 into
    (T/2)(1 + λ/2 + O(λ²)), the chain's being exactly λ/(B(2 − λ)); the modified drift alone gives
    (T/2)(1 − λ/2).  ``diffusion_correction=False`` keeps D (drift correction only).

    Per-batch term: Smith, Dherin, Barrett & De (2021), "On the origin of implicit regularization in
    stochastic gradient descent", derive for one epoch of m minibatches that *partition* the data
    (drawn without replacement across the epoch) the modified loss
    ``U + (λ/4m) Σ_k |∇L̂_k|² = U + (λ/4)|∇U|² + (λ/4) E_k|∇L̂_k − ∇U|²``; the last, per-batch term is
    ``(λ/4) D/B`` here.  It comes from the correlation of the minibatches inside one epoch.  The chain
    of this module draws every minibatch afresh and independently, so ``E[ĝ₂'(θ) ĝ₁] = U''U'`` and the
    two-step mean has no such term: the derivation above gives **no per-batch drift term** for
    i.i.d. minibatches (``per_batch_term="none"``, the default).  ``per_batch_term="smith2021"`` adds
    ``(λ/4) D/B`` to the modified loss, to test the epoch formula against the chain numerically
    (tests/numerics/test_markov.py reports which is closer).

    The law is SC.eq5 with Ũ' and D_eff: ``ρ ∝ exp(−2ṽ/T)``, ``ṽ = ∫(Ũ' + (T/2)D_eff')/D_eff``;
    U'', U⁽³⁾, D', D'' by second-order finite differences on the grid.  Not included: the chain's
    higher cumulants (k ≥ 3 of the per-sample gradient), whose terms per unit time are
    T^{k−1}κ_k — they do not shrink with λ at fixed T (module docstring).

    Example
    -------
    >>> import numpy as np
    >>> x = np.linspace(-3, 3, 601)
    >>> law = modified_equation_law(lambda t, s: t - s, np.array([-1.0, 1.0]), lr=0.1, batch_size=1, grid=x)
    >>> round(law.expectation(x**2), 4)  # chain: λ/(2 − λ) = 0.05263; O(λ): (λ/2)(1 + λ)/(1 + λ/2)
    0.0524
    """
    if per_batch_term not in ("none", "smith2021"):
        raise MarkovError(f"per_batch_term must be 'none' or 'smith2021'; got {per_batch_term!r}")
    c, dU, D, lr, B = _moments_on_grid(grad, data, lr, batch_size, grid, replacement, symbols)
    T = lr / B
    d2U = np.gradient(dU, c, edge_order=2)
    d3U = np.gradient(d2U, c, edge_order=2)
    dD = np.gradient(D, c, edge_order=2)
    drift = dU + 0.5 * lr * (dU * d2U - 0.5 * T * D * d3U)
    if per_batch_term == "smith2021":
        drift = drift + 0.25 * lr * dD / B
    D_eff = D
    if diffusion_correction:
        d2D = np.gradient(dD, c, edge_order=2)
        D_eff = D + lr * (d2U * D + 0.5 * dU * dD - 0.25 * T * D * d2D)
        if not np.all(D_eff > 0):
            i = int(np.argmax(~(D_eff > 0)))
            raise MarkovError(f"the corrected diffusion D + λ(U''D + U'D'/2 − TDD''/4) is not positive at "
                              f"θ = {c[i]:.6g} (λ = {lr}): the first-order modified equation does not apply at "
                              "this learning rate (λ|U''| is not small); use the chain (stationary_law) instead")
    return _law_from_drift(c, drift, D_eff, T, f"modified equation ({per_batch_term})")
