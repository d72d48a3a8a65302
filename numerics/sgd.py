"""Many independent chains of minibatch SGD (and of its diffusion limit), observed on the device.

The dynamics (THEORY.md notation, SC.eq9)::

    θ_{t+1} = θ_t − λ · [ (1/B) Σ_{b=1}^{B} ∂_θ U(x_b, θ_t) + α θ_t ] + λ (β/√B) ξ_t ,   ξ_t ∼ N(0, I_p)

for a per-sample loss ``U(x, θ)`` given as a SymPy expression (compiled per-sample gradient,
:func:`compile_per_sample_gradient`), ``α`` the ℓ2 weight decay and ``β`` the isotropic noise of
SC.eq13 (the added step noise has covariance ``λ T β² I`` with ``T = λ/B``: it acts as an extra
per-sample gradient variance β² on every coordinate, so the diffusion matrix becomes ``D + β² I`` and
the drift ``∂U + αθ``, as in SC.eq13).  The samples ``x_b`` come from

* a finite training set (:class:`FiniteData`): ``B`` indices per chain and step, drawn with
  replacement, or without replacement within a step (a uniformly random ``B``-subset, Floyd's
  algorithm).  Without replacement the covariance of the minibatch mean is the with-replacement
  ``D/B`` multiplied by ``(N − B)/(N − 1)`` (the finite-population correction);
* a stream (:class:`Stream`, e.g. :func:`gaussian_stream`): fresh samples at every step — DT's
  setting (DT eq. 1, App. E.1).

**The diffusion approximation** (SC.eq10–11): with ``t' = λ t`` the step has mean ``−λ ∂U^tr`` and
covariance ``λ T D^tr`` (SC.eq9), i.e. the Itô SDE ``dθ = −∂U^tr(θ) dt' + sqrt(T D^tr(θ)) dW`` with
``T = λ/B`` — drift ``−∂U``, diffusion matrix ``(λ/B)·D(θ)`` per unit of ``t'``; ``D(θ) =
Cov_{x∼train}[∂_θ U(x, θ)]``.  :func:`simulate_diffusion` integrates it by Euler–Maruyama with
``substeps`` steps of ``dt' = λ/substeps`` per SGD step (so SGD step n and EM step n are at the same
``t' = λ n``), from SymPy ``U^tr(θ)`` and ``D(θ)`` (:func:`compile_diffusion`) or from the
per-sample gradients over a finite training set (:func:`diffusion_from_data`).

**Observers** accumulate on the device, never storing trajectories; each has ``update(theta,
step)`` and ``result()``: :class:`Histogram1D`, :class:`Histogram2D` (fixed uniform grids),
:class:`Occupancy` (basin edges in 1-D or a labelling function), :class:`FirstPassage` (per-chain
first step in a target set, censored at ``n_steps``), :class:`Moments` (running mean and
covariance).  All but :class:`FirstPassage` observe the sampling window ``burn_in < t ≤ n_steps``;
:class:`FirstPassage` observes every step from ``t = 0`` (the start).

**Convergence diagnostics** (:class:`Diagnostics`): the chains are dealt into ``groups`` groups
(chain ``i`` → group ``i mod groups``); the sampling window is cut into ``blocks`` equal time
blocks; for each observed statistic (every coordinate of θ and every basin indicator of every
:class:`Occupancy`), the group × block means give

* split R̂ (Gelman et al.): the ``2·groups`` split chains are (group, first half of the blocks) and
  (group, second half), each with ``blocks/2`` block means as its draws;
* the effective sample size ``ESS = σ² / Var̂(mean)``: σ² the per-sample variance of the
  statistic, ``Var̂(mean)`` the variance of the window mean estimated from the independent groups;
* the occupancy drift: basin occupancy in the second half minus the first half, with its standard
  error from the groups.

A run is converged when every R̂ ≤ ``rhat_max``, every ESS ≥ ``min_ess`` and every drift is within
``drift_z`` standard errors.  A result that is not converged says so: ``result.converged`` is
False, ``result.diagnostics.reasons`` names the failing statistics with their numbers, and
:meth:`SGDResult.require_converged` raises :class:`SGDNotConvergedError`.

**Divergence** (a non-finite θ, or ``|θ_i|`` beyond ``max_abs``) raises
:class:`SGDDivergedError` naming λ, the iteration and what to change.

**Seeding and chunking**: chain ``i`` belongs to the RNG block ``i // rng_block``; each block has
its own ``torch.Generator`` on the device, seeded ``seed·1_000_003 + block``.  A chunk (when the
chains exceed ``max_chunk_chains`` or the memory budget) is a run of whole RNG blocks, so every
chain sees the same random numbers however the chains are chunked: chunked and unchunked runs give
the same statistics (exactly equal up to the summation order of the accumulators).  Same seed,
same device → same result.

**The hot loop**: a multi-step function advances ``steps_per_call`` steps (random numbers for them
drawn first, into preallocated buffers, from the block generators) and updates the observers and
the divergence monitor with no host synchronisation; the host checks the monitor once per call.
On CUDA it is fused with ``torch.compile`` (``fuse="auto"``); if compilation is unavailable or
fails, the same function runs eagerly and the result records why.  On the CPU it runs eagerly; with
minibatch indices drawn with replacement and no isotropic noise, each step draws its indices tile by
tile (a few thousand chains) just before gathering the samples, computing the gradients and their
mean, so that a tile's arrays stay in cache — the same random numbers bit for bit as the buffered
path (randint fills element by element in order), about 1.2–2× faster on a loaded 2-core machine.
The random numbers bind on the CPU: torch's mt19937 ``randint`` alone takes about half of a step
(``benchmarks/bench_sgd.py`` measures it beside the simulator).
The result records the path taken (``"cuda-compiled"``, ``"cuda-eager"``, ``"cpu-eager"``, …) and
the chain-steps per second.

``backend="numpy"`` exists only for :func:`numerics.sgd_escape.simulate_escape` (escape of a
Gaussian stream from a box, NumPy's random stream, kept bit-for-bit): :func:`escape_numpy`.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import sympy as sp

from numerics.compile import compile_expr
from theory.coordinates import as_expr

__all__ = [
    "SGDDivergedError",
    "SGDNotConvergedError",
    "SGDConfigError",
    "FiniteData",
    "Stream",
    "gaussian_stream",
    "PerSampleGradient",
    "compile_per_sample_gradient",
    "DiffusionModel",
    "compile_diffusion",
    "diffusion_from_data",
    "Histogram1D",
    "Histogram2D",
    "Occupancy",
    "FirstPassage",
    "Moments",
    "Diagnostics",
    "SGDResult",
    "simulate_sgd",
    "simulate_diffusion",
    "escape_numpy",
]


# ==================================================================================================
# errors
# ==================================================================================================
class SGDDivergedError(FloatingPointError):
    """SGD diverged (a non-finite iterate, a step ≫ the valley, or ``|θ|`` beyond the bound): the
    diffusion approximation broke down at this λ (η).  ``lr``, ``batch_size``, ``iteration`` and
    ``step_ratio`` (largest step / valley size; ``inf`` for a non-finite iterate; ``nan`` where no
    valley size applies) say where."""

    def __init__(self, message: str, *, lr: float, batch_size: int, iteration: int, step_ratio: float):
        super().__init__(message)
        self.lr, self.batch_size, self.iteration, self.step_ratio = lr, batch_size, iteration, step_ratio


class SGDNotConvergedError(RuntimeError):
    """A stationary statistic was asked of a run whose diagnostics say it has not converged."""


class SGDConfigError(ValueError):
    """A bad simulator argument; the message says what to change."""


def _nonfinite(t: int, lr: float, B: int) -> SGDDivergedError:
    return SGDDivergedError(
        f"SGD diverged (non-finite θ) at iteration {t} with learning rate η = {lr:g}, "
        f"B = {B}: the step is too large for the curvature/noise, so the diffusion "
        f"approximation broke down; lower η or raise B",
        lr=float(lr), batch_size=B, iteration=t, step_ratio=math.inf)


def _too_long(t: int, lr: float, B: int, biggest: float, L: float, max_step_ratio: float) -> SGDDivergedError:
    return SGDDivergedError(
        f"SGD diverged at iteration {t} with learning rate η = {lr:g}, B = {B}: one step moved θ "
        f"by {biggest:.3g}, {biggest / L:.3g}× the valley size {L:.3g} (limit max_step_ratio = "
        f"{max_step_ratio:g}×). That is a blow-up (η·U'' ≫ 2), not an escape over the barrier, so the "
        f"diffusion approximation (SC.eq10–11) broke down at this η; lower η (or raise B)",
        lr=float(lr), batch_size=B, iteration=t, step_ratio=biggest / L)


def _too_far(t: int, lr: float, B: int, biggest: float, max_abs: float) -> SGDDivergedError:
    return SGDDivergedError(
        f"SGD diverged at iteration {t} with learning rate λ = {lr:g}, B = {B}: |θ| reached "
        f"{biggest:.3g} > max_abs = {max_abs:g}. The iterates blow up (λ·U'' > 2 somewhere they go), "
        f"so the diffusion approximation broke down at this λ; lower λ, raise B, or raise max_abs "
        f"if the landscape really extends that far",
        lr=float(lr), batch_size=B, iteration=t, step_ratio=math.nan)


# ==================================================================================================
# argument checks
# ==================================================================================================
def _pos_int(v, name: str, minimum: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise SGDConfigError(f"{name} must be an integer >= {minimum}; got {v!r}")
    return int(v)


def _num(v, name: str, *, positive: bool = False, nonneg: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
        raise SGDConfigError(f"{name} must be a finite number; got {v!r}")
    if positive and not v > 0:
        raise SGDConfigError(f"{name} must be > 0; got {v!r}")
    if nonneg and not v >= 0:
        raise SGDConfigError(f"{name} must be >= 0; got {v!r}")
    return float(v)


def _symbols(vec, name: str) -> list[sp.Symbol]:
    syms = list(vec) if isinstance(vec, (list, tuple, sp.MatrixBase)) else [vec]
    for i, s in enumerate(syms):
        if isinstance(s, (str, bytes, bytearray)) or (isinstance(s, np.ndarray) and s.dtype.kind in "OSU"):
            raise TypeError(f"{name}[{i}] is a string ({s!r:.60}); strings are never evaluated — pass "
                            "SymPy Symbols, e.g. sympy.symbols('x0:2')")
    if not syms or not all(isinstance(s, sp.Symbol) for s in syms):
        raise SGDConfigError(f"{name} must be a SymPy Symbol or a list of Symbols; got {syms!r}")
    if len(set(syms)) != len(syms):
        raise SGDConfigError(f"{name} must hold distinct Symbols; got {syms!r}")
    return syms


def _torch():
    import torch

    return torch


# ==================================================================================================
# compiled models
# ==================================================================================================
def _stack_raw(f, args):
    """Call a compiled list-valued function's generated code directly and stack its entries on a
    new last axis, each broadcast to the inputs' shape (constants included).  The same numbers as
    ``f(*args)`` without its Python-side shape bookkeeping, so that ``torch.compile`` traces one
    graph through it (no graph break per step)."""
    torch = _torch()
    ref = torch.broadcast_tensors(*args)[0] if len(args) > 1 else args[0]
    raw = f._fn(*args)
    items = raw if isinstance(raw, (list, tuple)) else [raw]
    out = [r if isinstance(r, torch.Tensor) else torch.full_like(ref, float(r)) for r in items]
    if len(out) == 1:  # p = 1: a view, no copy (the caller reduces over the minibatch next)
        r = out[0]
        return (r if r.shape == ref.shape else torch.broadcast_tensors(r, ref)[0]).unsqueeze(-1)
    return torch.stack(torch.broadcast_tensors(*out, ref)[:-1], -1)


def _fusable(grad):
    """A torch :class:`numerics.compile.CompiledFunction` of a scalar expression (e.g.
    :func:`numerics.sgd_escape.separable_gradient`) applied element-wise: call its generated code
    directly (broadcast like ``grad(xs, ts)``), so ``torch.compile`` sees no graph break; any other
    callable is returned unchanged."""
    from numerics.compile import CompiledFunction

    if not (isinstance(grad, CompiledFunction) and grad.backend == "torch" and grad.shape == ()
            and not grad.integrals):
        return grad
    torch = _torch()

    def fn(*args):
        raw = grad._fn(*args)
        ref = torch.broadcast_tensors(*args)[0]
        if not isinstance(raw, torch.Tensor):
            return torch.full_like(ref, float(raw))
        return torch.broadcast_tensors(raw, ref)[0]

    return fn


@dataclass(frozen=True)
class PerSampleGradient:
    """``∂_θ U(x, θ)`` compiled for torch: call ``grad(xs, thetas)`` with ``xs[..., q]`` and
    ``thetas[..., p]`` (broadcast together) → ``[..., p]``.  ``q``, ``p``: sample and parameter
    dimensions; ``loss``: the SymPy source."""

    loss: Any
    q: int
    p: int
    device: Any
    _fn: Callable = field(repr=False, compare=False)

    def __call__(self, xs, thetas):
        return self._fn(xs, thetas)


def compile_per_sample_gradient(loss, x, theta, *, device="auto") -> PerSampleGradient:
    """Compile the per-sample gradient ``∂_θ U(x, θ)`` of a SymPy loss (torch backend, float64).

    ``x``: the sample's Symbols (q of them; a Symbol or a list), ``theta``: the parameter Symbols
    (p); ``loss`` may have no other free symbols (:class:`numerics.compile.CompileError` names
    them).  Strings are refused (``TypeError``), never parsed.
    """
    th = _symbols(theta, "theta")
    xs = _symbols(x, "x")
    if set(th) & set(xs):
        raise SGDConfigError(f"x and theta must be different Symbols; both hold {sorted(map(str, set(th) & set(xs)))}")
    loss = as_expr(loss, name="loss")
    grads = [sp.diff(loss, t) for t in th]
    p, q = len(th), len(xs)
    f = compile_expr(grads, xs + th, backend="torch", device=device)

    def fn(xv, tv):
        args = [xv[..., i] for i in range(q)] + [tv[..., i] for i in range(p)]
        return _stack_raw(f, args)

    return PerSampleGradient(loss=loss, q=q, p=p, device=f.device, _fn=fn)


@dataclass(frozen=True)
class DiffusionModel:
    """The diffusion limit's coefficients compiled for torch: ``drift(θ[n, p]) = ∂U^tr`` → ``[n, p]``
    and ``diffusion(θ[n, p]) = D(θ)`` → ``[n, p, p]`` (SC.eq10–11)."""

    train_loss: Any
    diffusion_expr: Any
    p: int
    device: Any
    _grad: Callable = field(repr=False, compare=False)
    _diff: Callable = field(repr=False, compare=False)
    #: bytes of temporaries per chain and call (the chunking budget), beyond θ
    bytes_per_chain: int = 0

    def drift(self, th):
        return self._grad(th)

    def diffusion(self, th):
        return self._diff(th)


def compile_diffusion(train_loss, diffusion, theta, *, device="auto") -> DiffusionModel:
    """Compile ``∂U^tr(θ)`` and ``D(θ)`` (SymPy; D a scalar for p = 1 or a p×p Matrix; a scalar d
    for p > 1 means ``d·I``) for :func:`simulate_diffusion`.  Strings are refused, never parsed."""
    th = _symbols(theta, "theta")
    p = len(th)
    U = as_expr(train_loss, name="train_loss")
    if isinstance(diffusion, sp.MatrixBase):
        if diffusion.shape != (p, p):
            raise SGDConfigError(f"diffusion must be a {p}×{p} Matrix; got shape {diffusion.shape}")
        Dm = sp.Matrix(diffusion)
        for e in Dm:
            as_expr(e, name="diffusion")
    else:
        d = as_expr(diffusion, name="diffusion")
        Dm = sp.eye(p) * d
    g = compile_expr([sp.diff(U, t) for t in th], th, backend="torch", device=device)
    dfun = compile_expr(Dm, th, backend="torch", device=device)

    def grad(tv):
        return _stack_raw(g, [tv[..., i] for i in range(p)])

    def diff(tv):
        return _stack_raw(dfun, [tv[..., i] for i in range(p)]).reshape(tv.shape[:-1] + (p, p))

    return DiffusionModel(train_loss=U, diffusion_expr=Dm, p=p, device=g.device, _grad=grad, _diff=diff)


def diffusion_from_data(grad: PerSampleGradient, data: "FiniteData", *, device="auto") -> DiffusionModel:
    """The diffusion limit of SGD on a finite training set, from the per-sample gradients
    themselves: ``∂U^tr(θ) = (1/N) Σ_j ∂U(x_j, θ)`` and ``D(θ) = (1/N) Σ_j (∂U(x_j, θ) − ∂U^tr)
    (∂U(x_j, θ) − ∂U^tr)ᵀ`` (THEORY.md: the population covariance over the training set), evaluated
    numerically at every chain's θ (O(N p²) per chain and step) — for :func:`simulate_diffusion`
    when no closed form of U^tr and D is at hand."""
    if not isinstance(grad, PerSampleGradient):
        raise SGDConfigError("grad must come from compile_per_sample_gradient(loss, x, theta)")
    if not isinstance(data, FiniteData):
        raise SGDConfigError(f"data must be a FiniteData training set; got {type(data).__name__}")
    if grad.q != data.q:
        raise SGDConfigError(f"the gradient takes samples of {grad.q} coordinate(s) but the data have {data.q}")
    torch = _torch()
    from numerics.devices import resolve_device

    dev = resolve_device(device)
    X = torch.as_tensor(data.samples, dtype=torch.float64, device=dev)
    N, p = data.n, grad.p

    def per_sample(tv):
        return grad(X[None], tv[:, None, :])                 # [n, N, p]

    def drift(tv):
        return per_sample(tv).mean(1)

    def diff(tv):
        g = per_sample(tv)
        c = g - g.mean(1, keepdim=True)
        return c.transpose(1, 2) @ c / N

    return DiffusionModel(train_loss=None, diffusion_expr=None, p=p, device=dev, _grad=drift, _diff=diff,
                          bytes_per_chain=4 * N * p * 8)


# ==================================================================================================
# data
# ==================================================================================================
@dataclass(frozen=True)
class FiniteData:
    """A finite training set: ``samples`` of shape ``(N,)`` (q = 1) or ``(N, q)``; minibatches of
    B indices per chain and step, ``replace=True`` with replacement, ``False`` without replacement
    within a step (needs ``B ≤ N``; noise covariance × ``(N − B)/(N − 1)``)."""

    samples: Any
    replace: bool = True

    def __post_init__(self):
        arr = np.asarray(self.samples)
        if arr.dtype.kind not in "fiu":
            raise TypeError(f"samples must be a numeric array; got dtype {arr.dtype} (strings are never "
                            "evaluated)")
        arr = arr.astype(np.float64)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[0] < 1 or not np.isfinite(arr).all():
            raise SGDConfigError(f"samples must be a finite array of shape (N,) or (N, q); got shape {arr.shape}")
        object.__setattr__(self, "samples", arr)

    @property
    def n(self) -> int:
        return int(self.samples.shape[0])

    @property
    def q(self) -> int:
        return int(self.samples.shape[1])


@dataclass(frozen=True)
class Stream:
    """An infinite data stream: ``draw(shape, generator, device, dtype)`` returns a tensor of shape
    ``shape + (q,)`` of fresh samples drawn with the given ``torch.Generator``; with
    ``takes_out=True`` it also accepts ``out=`` (a preallocated tensor of that shape to fill)."""

    draw: Callable
    q: int
    description: str = "stream"
    takes_out: bool = False


def gaussian_stream(q: int = 1, scale: float = 1.0) -> Stream:
    """Fresh samples ``x ∼ N(0, scale² I_q)`` at every step (DT App. E.1)."""
    q = _pos_int(q, "q")
    s = _num(scale, "scale", nonneg=True)
    torch = _torch()

    def draw(shape, generator, device, dtype, out=None):
        out = torch.randn(tuple(shape) + (q,), generator=generator, device=device, dtype=dtype, out=out)
        if s != 1.0:
            out.mul_(s)
        return out

    return Stream(draw=draw, q=q, description=f"N(0, {s:g}² I_{q})", takes_out=True)


# ==================================================================================================
# observers
# ==================================================================================================
class _Observer:
    #: True: observes every step from t = 0 (FirstPassage); False: the sampling window only
    every_step = False

    def bind(self, p: int, device, dtype, n_steps: int) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def start_chunk(self, n: int, offset: int) -> None:
        pass

    def end_chunk(self) -> None:
        pass


def _compiling() -> bool:
    """True while torch.compile traces (the observers then keep to ops with static output shapes:
    ``index_add_`` instead of ``bincount``; both count exactly, integers in float64)."""
    comp = getattr(_torch(), "compiler", None)
    return bool(comp is not None and hasattr(comp, "is_compiling") and comp.is_compiling())


def _count_into(counts, idx, ones=None):
    """``counts[idx[j]] += 1`` for every j (exact integer counts in ``counts``' float dtype):
    ``bincount`` eagerly on the CPU (about twice as fast as ``index_add_``), ``index_add_`` of ones
    under torch.compile and on other devices (where ``bincount`` would synchronise with the host)."""
    torch = _torch()
    if _compiling() or idx.device.type != "cpu":
        counts.index_add_(0, idx, torch.ones(idx.shape, dtype=counts.dtype, device=idx.device)
                          if ones is None else ones)
    else:
        counts.add_(torch.bincount(idx, minlength=counts.shape[0]))


def _as_pair(v, name):
    lo, hi = (float(v[0]), float(v[1])) if isinstance(v, (tuple, list)) else (None, None)
    if lo is None or not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise SGDConfigError(f"{name} must be a pair (lo, hi) of finite numbers with hi > lo; got {v!r}")
    return lo, hi


class Histogram1D(_Observer):
    """Counts of ``θ[coord]`` on ``bins`` equal bins of ``[lo, hi)`` over the sampling window
    (values outside are counted in ``below`` / ``above``)."""

    def __init__(self, lo: float, hi: float, bins: int, *, coord: int = 0):
        self.lo, self.hi = _as_pair((lo, hi), "(lo, hi)")
        self.bins = _pos_int(bins, "bins")
        self.coord = _pos_int(coord, "coord", 0)

    def bind(self, p, device, dtype, n_steps):
        if self.coord >= p:
            raise SGDConfigError(f"Histogram1D coord {self.coord} does not exist: θ has {p} coordinates")
        torch = _torch()
        self.counts = torch.zeros(self.bins + 2, dtype=dtype, device=device)  # [below, bins..., above]
        self._scale = self.bins / (self.hi - self.lo)

    def update(self, theta, step):
        torch = _torch()
        v = theta[:, self.coord]
        # bin 0: below (and NaN), 1..bins, bins+1: above; NaN never indexes out of range
        f = torch.sub(v, self.lo).mul_(self._scale).nan_to_num_(nan=-1.0).clamp_(-1.0, self.bins).floor_()
        _count_into(self.counts, f.add_(1.0).to(torch.int64))

    def result(self) -> dict:
        c = self.counts.detach().cpu().numpy()
        inner = c[1:-1]
        n = float(c.sum())
        edges = np.linspace(self.lo, self.hi, self.bins + 1)
        width = (self.hi - self.lo) / self.bins
        return {"edges": edges, "counts": inner, "below": float(c[0]), "above": float(c[-1]),
                "n_samples": n, "probabilities": inner / n if n else inner * np.nan,
                "density": inner / (n * width) if n else inner * np.nan}


class Histogram2D(_Observer):
    """Counts of ``(θ[i], θ[j])`` (``coords``) on a fixed ``bins[0] × bins[1]`` grid of
    ``xrange × yrange`` over the sampling window; points outside are counted in ``outside``."""

    def __init__(self, xrange, yrange, bins, *, coords=(0, 1)):
        self.xr, self.yr = _as_pair(xrange, "xrange"), _as_pair(yrange, "yrange")
        nb = (bins, bins) if isinstance(bins, (int, np.integer)) else tuple(bins)
        if len(nb) != 2:
            raise SGDConfigError(f"bins must be an integer or a pair; got {bins!r}")
        self.nx, self.ny = _pos_int(nb[0], "bins[0]"), _pos_int(nb[1], "bins[1]")
        self.coords = tuple(_pos_int(c, "coords[i]", 0) for c in coords)
        if len(self.coords) != 2 or self.coords[0] == self.coords[1]:
            raise SGDConfigError(f"coords must be two different coordinates; got {coords!r}")

    def bind(self, p, device, dtype, n_steps):
        if max(self.coords) >= p:
            raise SGDConfigError(f"Histogram2D coords {self.coords} do not exist: θ has {p} coordinates")
        torch = _torch()
        self.counts = torch.zeros(self.nx * self.ny + 1, dtype=dtype, device=device)  # last: outside
        self._sx = self.nx / (self.xr[1] - self.xr[0])
        self._sy = self.ny / (self.yr[1] - self.yr[0])

    def update(self, theta, step):
        torch = _torch()
        fx = torch.nan_to_num((theta[:, self.coords[0]] - self.xr[0]) * self._sx, nan=-1.0).floor_()
        fy = torch.nan_to_num((theta[:, self.coords[1]] - self.yr[0]) * self._sy, nan=-1.0).floor_()
        inside = (fx >= 0) & (fx < self.nx) & (fy >= 0) & (fy < self.ny)
        idx = fx.clamp(0, self.nx - 1).to(torch.int64) * self.ny + fy.clamp(0, self.ny - 1).to(torch.int64)
        idx = torch.where(inside, idx, torch.full_like(idx, self.nx * self.ny))
        self.counts.index_add_(0, idx, torch.ones_like(fx))

    def result(self) -> dict:
        c = self.counts.detach().cpu().numpy()
        inner = c[:-1].reshape(self.nx, self.ny)
        n = float(c.sum())
        area = (self.xr[1] - self.xr[0]) * (self.yr[1] - self.yr[0]) / (self.nx * self.ny)
        return {"xedges": np.linspace(*self.xr, self.nx + 1), "yedges": np.linspace(*self.yr, self.ny + 1),
                "counts": inner, "outside": float(c[-1]), "n_samples": n,
                "probabilities": inner / n if n else inner * np.nan,
                "density": inner / (n * area) if n else inner * np.nan}


class Occupancy(_Observer):
    """Fraction of chain-steps in each basin over the sampling window.

    Either ``edges`` (1-D, coordinate ``coord``): increasing basin boundaries, basin k is
    ``edges[k-1] ≤ θ < edges[k]`` (``len(edges) + 1`` basins), or ``label``: a torch function
    ``θ[n, p] → int64[n]`` with values in ``0 … n_basins − 1`` (others are counted as
    ``unlabelled``).  Its basin indicators enter the convergence diagnostics."""

    def __init__(self, edges=None, *, label: Callable | None = None, n_basins: int | None = None,
                 coord: int = 0):
        if (edges is None) == (label is None):
            raise SGDConfigError("give Occupancy either edges (1-D basin boundaries) or label (a function)")
        if edges is not None:
            e = np.atleast_1d(np.asarray(edges, dtype=float))
            if e.ndim != 1 or not np.isfinite(e).all() or np.any(np.diff(e) <= 0):
                raise SGDConfigError(f"edges must be finite and strictly increasing; got {edges!r}")
            self.edges, self.n_basins = e, e.size + 1
        else:
            if not callable(label):
                raise SGDConfigError(f"label must be a callable θ[n, p] → int64[n]; got {label!r}")
            self.edges, self.n_basins = None, _pos_int(n_basins, "n_basins")
        self.label, self.coord = label, _pos_int(coord, "coord", 0)

    def bind(self, p, device, dtype, n_steps):
        torch = _torch()
        if self.edges is not None and self.coord >= p:
            raise SGDConfigError(f"Occupancy coord {self.coord} does not exist: θ has {p} coordinates")
        self.counts = torch.zeros(self.n_basins + 1, dtype=dtype, device=device)  # last: unlabelled
        self._edges = None if self.edges is None else torch.as_tensor(self.edges, dtype=dtype, device=device)

    def labels(self, theta):
        torch = _torch()
        if self._edges is not None:
            lab = torch.bucketize(theta[:, self.coord].contiguous(), self._edges, right=True)
            return torch.where(torch.isnan(theta[:, self.coord]), torch.full_like(lab, self.n_basins), lab)
        lab = torch.as_tensor(self.label(theta), device=theta.device).to(torch.int64).reshape(-1)
        bad = (lab < 0) | (lab >= self.n_basins)
        return torch.where(bad, torch.full_like(lab, self.n_basins), lab)

    def update(self, theta, step):
        torch = _torch()
        _count_into(self.counts, self.labels(theta))

    def result(self) -> dict:
        c = self.counts.detach().cpu().numpy()
        n = float(c.sum())
        return {"counts": c[:-1], "unlabelled": float(c[-1]), "n_samples": n,
                "fractions": c[:-1] / n if n else c[:-1] * np.nan}


class FirstPassage(_Observer):
    """First step ``t ≥ 0`` at which each chain is in the target set, per chain; chains that never
    enter by ``n_steps`` are censored (reported, never dropped).

    The target: ``lower``/``upper`` (scalars or length p; the set ``{θ_i ≤ lower_i or θ_i ≥ upper_i
    for some i}`` — the outside of the open box ``lower < θ < upper``, as in
    :func:`numerics.sgd_escape.simulate_escape`), or ``target``: a torch function ``θ[n, p] →
    bool[n]``.  ``absorbing=True`` freezes a chain once it has entered (escape experiments); then
    the run stops early once every chain has entered."""

    every_step = True

    def __init__(self, *, lower=None, upper=None, target: Callable | None = None, absorbing: bool = False):
        if target is None and lower is None and upper is None:
            raise SGDConfigError("FirstPassage needs lower and/or upper bounds or a target function")
        if target is not None and not callable(target):
            raise SGDConfigError(f"target must be a callable θ[n, p] → bool[n]; got {target!r}")
        self.target, self.lower, self.upper, self.absorbing = target, lower, upper, bool(absorbing)

    def bind(self, p, device, dtype, n_steps):
        torch = _torch()
        self.n_steps, self.p = n_steps, p
        self._parts: list = []
        if self.target is None:
            lo = np.broadcast_to(np.asarray(-np.inf if self.lower is None else self.lower, float), (p,))
            up = np.broadcast_to(np.asarray(np.inf if self.upper is None else self.upper, float), (p,))
            if np.isnan(lo).any() or np.isnan(up).any():
                raise SGDConfigError("FirstPassage bounds must not contain NaN")
            self._lo = torch.as_tensor(lo.copy(), dtype=dtype, device=device)
            self._up = torch.as_tensor(up.copy(), dtype=dtype, device=device)
            self._check_lo, self._check_up = bool(np.isfinite(lo).any()), bool(np.isfinite(up).any())
        self.device = device

    def inside_target(self, theta):
        if self.target is not None:
            return self.target(theta).reshape(-1).to(bool)
        out = None
        if self._check_up:
            out = (theta >= self._up).any(1)
        if self._check_lo:
            lo = (theta <= self._lo).any(1)
            out = lo if out is None else out | lo
        if out is None:
            return _torch().zeros(theta.shape[0], dtype=bool, device=theta.device)
        return out

    def start_chunk(self, n, offset):
        torch = _torch()
        self.times = torch.full((n,), -1, dtype=torch.int64, device=self.device)

    def update(self, theta, step):
        torch = _torch()
        hit = self.inside_target(theta) & (self.times < 0)
        self.times.copy_(torch.where(hit, step, self.times))

    def end_chunk(self):
        self._parts.append(self.times.detach().cpu().numpy())

    def result(self) -> dict:
        t = np.concatenate(self._parts) if self._parts else np.zeros(0, np.int64)
        hit = t >= 0
        steps = np.where(hit, t, self.n_steps)
        n_hit = int(hit.sum())
        if n_hit == 0:
            mean, se = math.inf, math.inf
        elif n_hit == t.size:
            mean = float(steps.mean())
            se = float(steps.std(ddof=1) / math.sqrt(steps.size)) if steps.size > 1 else math.inf
        else:  # exponential MLE under right censoring
            mean = float(steps.sum() / n_hit)
            se = mean / math.sqrt(n_hit)
        return {"steps": steps, "hit": hit, "n_censored": int(t.size - n_hit), "max_steps": self.n_steps,
                "mean_steps": mean, "se_steps": se}


class Moments(_Observer):
    """Running mean and covariance of θ over the sampling window (sums shifted by the start's mean,
    in float64)."""

    def bind(self, p, device, dtype, n_steps):
        torch = _torch()
        self.p = p
        self.n = torch.zeros(1, dtype=dtype, device=device)  # not 0-d: in-place updates of 0-d state
        # tensors were lost under torch.compile (CPU inductor, torch 2.13)
        self.s1 = torch.zeros(p, dtype=dtype, device=device)
        self.s2 = torch.zeros(p, p, dtype=dtype, device=device)
        self.shift = torch.zeros(p, dtype=dtype, device=device)

    def update(self, theta, step):
        d = theta - self.shift
        self.n.add_(theta.shape[0])
        self.s1.add_(d.sum(0))
        self.s2.add_(d.T @ d)

    def result(self) -> dict:
        n = float(self.n)
        s1, s2 = self.s1.detach().cpu().numpy(), self.s2.detach().cpu().numpy()
        m = s1 / n
        cov = s2 / n - np.outer(m, m)
        return {"n_samples": n, "mean": m + self.shift.cpu().numpy(), "cov": cov,
                "var": np.diag(cov).copy()}


class _GroupStats(_Observer):
    """Internal: per (chain group, time block) sums of the diagnostic statistics."""

    def __init__(self, groups, blocks, occupancies):
        self.G, self.K, self.occ = groups, blocks, occupancies

    def bind(self, p, device, dtype, n_steps):
        torch = _torch()
        self.p = p
        self.S = p + sum(o.n_basins for o in self.occ)
        GK = self.G * self.K
        self.s1 = torch.zeros(GK, p, dtype=dtype, device=device)
        self.s2 = torch.zeros(GK, p, dtype=dtype, device=device)
        self.counts = torch.zeros(GK, dtype=dtype, device=device)
        # basin counts per (group, block); the last column: unlabelled (dropped). An indicator's
        # square is itself, so its sum of squares is its count.
        self.occ_counts = [torch.zeros(GK, o.n_basins + 1, dtype=dtype, device=device) for o in self.occ]
        self.device, self.dtype = device, dtype

    def configure(self, burn_in, window):
        self.burn_in, self.window = burn_in, window

    def start_chunk(self, n, offset):
        torch = _torch()
        g = torch.arange(offset, offset + n, device=self.device) % self.G
        self.gid = g * self.K
        self.ones = torch.ones(n, dtype=self.dtype, device=self.device)
        # chains per group in this chunk: a step adds them to its block's counts (exact integers)
        self.group_sizes = torch.bincount(g, minlength=self.G).to(self.dtype)[:, None]

    def update(self, theta, step):
        torch = _torch()
        blk = torch.div((step - self.burn_in - 1) * self.K, self.window, rounding_mode="floor")
        idx = self.gid + blk
        if self.p == 1:  # 1-D index_add_: the same sums in the same order, faster
            self.s1.view(-1).index_add_(0, idx, theta.view(-1))
            self.s2.view(-1).index_add_(0, idx, (theta * theta).view(-1))
        else:
            self.s1.index_add_(0, idx, theta)
            self.s2.index_add_(0, idx, theta * theta)
        # every chain of group g adds 1 to (g, blk): the group's size, added at once
        self.counts.view(self.G, self.K).index_add_(1, blk.reshape(1), self.group_sizes)
        for o, c in zip(self.occ, self.occ_counts):
            _count_into(c.view(-1), idx * (o.n_basins + 1) + o.labels(theta), self.ones)

    def arrays(self):
        """``(sums, sums of squares, counts)`` as NumPy arrays ``[G·K, S]``, ``[G·K, S]``, ``[G·K]``."""
        occ = [c.detach().cpu().numpy()[:, :-1] for c in self.occ_counts]
        s1 = np.concatenate([self.s1.detach().cpu().numpy()] + occ, 1)
        s2 = np.concatenate([self.s2.detach().cpu().numpy()] + occ, 1)
        return s1, s2, self.counts.detach().cpu().numpy()

    def names(self):
        out = [f"theta[{i}]" for i in range(self.p)]
        for j, o in enumerate(self.occ):
            out += [f"occupancy[{j}][basin {k}]" for k in range(o.n_basins)]
        return out


@dataclass(frozen=True)
class Diagnostics:
    """Convergence diagnostics over chain groups (module docstring).

    ``rhat``, ``ess``: per statistic (``theta[i]``, ``occupancy[j][basin k]``); ``drift``: per
    basin indicator, ``(second half − first half, its standard error)``; ``converged``: all within
    the thresholds (``rhat_max``, ``min_ess``, ``drift_z``); ``reasons``: what failed, with the
    numbers."""

    rhat: dict
    ess: dict
    drift: dict
    converged: bool
    reasons: tuple
    groups: int
    blocks: int
    rhat_max: float
    min_ess: float
    drift_z: float

    def summary(self) -> dict:
        return {"rhat": {k: float(v) for k, v in self.rhat.items()},
                "ess": {k: float(v) for k, v in self.ess.items()},
                "drift": {k: [float(a), float(b)] for k, (a, b) in self.drift.items()},
                "converged": self.converged, "reasons": list(self.reasons), "groups": self.groups,
                "blocks": self.blocks, "rhat_max": self.rhat_max, "min_ess": self.min_ess,
                "drift_z": self.drift_z}


def _split_rhat(n: np.ndarray, mean: np.ndarray, var: np.ndarray) -> float:
    """Gelman–Rubin R̂ of split chains given each one's sample count ``n``, mean and (population)
    variance of its draws: ``sqrt(((n̄−1)/n̄ W + B/n̄) / W)``, W the mean within-chain variance,
    B/n̄ the variance of the chain means."""
    nbar = float(n.mean())
    W = float(np.mean(var * n / np.maximum(n - 1, 1)))
    Bn = float(mean.var(ddof=1))
    if W <= 0:
        return 1.0 if Bn <= 0 else math.inf
    return math.sqrt(((nbar - 1) / nbar * W + Bn) / W)


def _diagnose(gs: _GroupStats, *, rhat_max, min_ess, drift_z) -> Diagnostics:
    G, K = gs.G, gs.K
    s1, s2, c = gs.arrays()
    sums, sqs, cnt = s1.reshape(G, K, gs.S), s2.reshape(G, K, gs.S), c.reshape(G, K)
    names = gs.names()
    reasons = []
    if np.any(cnt <= 0):
        reasons.append(f"some chain group × time block holds no samples (groups = {G}, blocks = {K}): "
                       f"run more chains (≥ {G}) or more steps after burn-in (≥ {K})")
        reasons.append("not converged: the diagnostics could not be computed")
        return Diagnostics(rhat={}, ess={}, drift={}, converged=False, reasons=tuple(reasons), groups=G,
                           blocks=K, rhat_max=rhat_max, min_ess=min_ess, drift_z=drift_z)
    h = K // 2
    # split chains: (group, first half of the window) and (group, second half)
    n_sp = np.concatenate([cnt[:, :h].sum(1), cnt[:, h:].sum(1)])                 # [2G]
    s_sp = np.concatenate([sums[:, :h].sum(1), sums[:, h:].sum(1)])               # [2G, S]
    q_sp = np.concatenate([sqs[:, :h].sum(1), sqs[:, h:].sum(1)])
    m_sp = s_sp / n_sp[:, None]
    v_sp = np.maximum(q_sp / n_sp[:, None] - m_sp ** 2, 0.0)
    total = float(cnt.sum())
    mu = sums.sum((0, 1)) / total
    sigma2 = np.maximum(sqs.sum((0, 1)) / total - mu ** 2, 0.0)
    gmean = sums.sum(1) / cnt.sum(1)[:, None]                                     # [G, S]
    var_mean = gmean.var(0, ddof=1) / G
    d_g = m_sp[G:] - m_sp[:G]                                                     # [G, S]
    rhat, ess, drift = {}, {}, {}
    for s, name in enumerate(names):
        r = _split_rhat(n_sp, m_sp[:, s], v_sp[:, s])
        if sigma2[s] <= 0 or var_mean[s] <= 0:
            e = total  # a constant statistic carries no uncertainty
        else:
            e = min(total, float(sigma2[s] / var_mean[s]))
        d, se = float(d_g[:, s].mean()), float(d_g[:, s].std(ddof=1) / math.sqrt(G))
        rhat[name], ess[name], drift[name] = r, e, (d, se)
        if not r <= rhat_max:
            reasons.append(f"R̂({name}) = {r:.4g} > {rhat_max:g}")
        if not e >= min_ess:
            reasons.append(f"ESS({name}) = {e:.4g} < {min_ess:g}")
        if abs(d) > drift_z * se and abs(d) > 0:
            reasons.append(f"drift({name}) = {d:+.4g} between the halves of the window, "
                           f"{abs(d) / se if se > 0 else math.inf:.3g} standard errors (limit {drift_z:g})")
    conv = not reasons
    if not conv:
        reasons.append("not converged: run more steps (burn_in and the window), or start the chains "
                       "closer to the stationary law")
    return Diagnostics(rhat=rhat, ess=ess, drift=drift, converged=conv, reasons=tuple(reasons), groups=G,
                       blocks=K, rhat_max=rhat_max, min_ess=min_ess, drift_z=drift_z)


# ==================================================================================================
# result
# ==================================================================================================
@dataclass(frozen=True)
class SGDResult:
    """What :func:`simulate_sgd` / :func:`simulate_diffusion` measured.

    ``observers``: each observer's ``result()`` in the order given; ``histograms`` /
    ``occupancy`` / ``passage`` / ``moments``: the same grouped by kind; ``diagnostics``
    (:class:`Diagnostics`, None when only first-passage times were observed); ``device`` (the
    device actually used), ``device_note`` (set when it is not the one asked for), ``path``
    (``"cuda-compiled"``, ``"cuda-eager"``, ``"cpu-eager"``, with the reason of a fallback in
    ``path_note``), ``chain_steps``, ``seconds`` (wall time of the run; on the compiled path it
    includes the compilation, mostly in ``first_call_seconds``, the first call of the multi-step
    function), ``chain_steps_per_s``; the inputs echoed."""

    observers: tuple
    histograms: tuple
    occupancy: tuple
    passage: tuple
    moments: tuple
    diagnostics: Diagnostics | None
    device: str
    device_note: str | None
    path: str
    path_note: str | None
    chain_steps: int
    seconds: float
    first_call_seconds: float
    n_chains: int
    n_steps: int
    steps_run: int
    burn_in: int
    lr: float
    batch_size: int
    seed: int
    kind: str

    @property
    def chain_steps_per_s(self) -> float:
        return self.chain_steps / self.seconds if self.seconds > 0 else math.inf

    @property
    def converged(self) -> bool | None:
        """True/False from the diagnostics; None when no stationary statistic was observed."""
        return None if self.diagnostics is None else self.diagnostics.converged

    def require_converged(self) -> "SGDResult":
        """Return self, or raise :class:`SGDNotConvergedError` with the diagnostics' numbers."""
        if self.diagnostics is not None and not self.diagnostics.converged:
            raise SGDNotConvergedError("the SGD run has not converged: " + "; ".join(self.diagnostics.reasons))
        return self

    def summary(self) -> dict:
        return {"kind": self.kind, "device": self.device, "device_note": self.device_note, "path": self.path,
                "path_note": self.path_note, "chain_steps": self.chain_steps, "seconds": self.seconds,
                "first_call_seconds": self.first_call_seconds,
                "chain_steps_per_s": self.chain_steps_per_s, "n_chains": self.n_chains,
                "n_steps": self.n_steps, "steps_run": self.steps_run, "burn_in": self.burn_in,
                "lr": self.lr, "batch_size": self.batch_size, "seed": self.seed,
                "converged": self.converged,
                "diagnostics": None if self.diagnostics is None else self.diagnostics.summary()}


# ==================================================================================================
# kernels: the random numbers of k steps, and one step
# ==================================================================================================
def _draw_into(out, shape, dtype, scratch: dict, draw):
    """``draw(o)`` fills a contiguous tensor ``o`` of ``shape`` (or returns a new one for ``o=None``).
    ``out``: None (return the new tensor), a contiguous buffer (drawn straight into it) or a strided
    view, e.g. one RNG block's slice of the chunk's buffer: drawn into a reused contiguous scratch
    tensor of ``shape`` and copied in (a normal sampler's numbers depend on the memory layout it
    fills, so it never fills a strided view itself)."""
    if out is None:
        return draw(None)
    if out.is_contiguous():
        draw(out)
        return out
    key = (tuple(shape), dtype, out.device)
    buf = scratch.get(key)
    if buf is None:
        buf = scratch[key] = _torch().empty(shape, dtype=dtype, device=out.device)
    draw(buf)
    out.copy_(buf)
    return out


class _SGDKernel:
    def __init__(self, grad, data, *, lr, B, weight_decay, noise, p, device, dtype):
        torch = _torch()
        self.grad, self.lr, self.B, self.alpha, self.beta, self.p = _fusable(grad), lr, B, weight_decay, noise, p
        self.device, self.dtype = device, dtype
        self.finite = isinstance(data, FiniteData)
        self.data = data
        if self.finite:
            self.X = torch.as_tensor(data.samples, dtype=dtype, device=device)
            self.N, self.replace = data.n, data.replace
            if not self.replace and B > self.N:
                raise SGDConfigError(f"batch_size B = {B} > N = {self.N} samples: without replacement a "
                                     "minibatch cannot be larger than the training set; lower B or use "
                                     "replace=True")
        self.noise_scale = lr * noise / math.sqrt(B)
        self._scratch: dict = {}
        # q = 1 on the CPU: gather with take() on the flat samples (~1.7× faster than index_select)
        self.Xflat = self.X.reshape(-1) if self.finite and data.q == 1 and device.type == "cpu" else None

    def bytes_per_chain(self, k):
        q = self.data.q
        per = k * self.B * (8 if self.finite else q * 8) + (k * self.p * 8 if self.beta else 0)
        return per + 6 * self.B * max(q, self.p) * 8 + 64 * self.p

    def alloc(self, k, n):
        torch = _torch()
        bufs = []
        if self.finite:
            bufs.append(torch.empty((k, n, self.B), dtype=torch.int64, device=self.device))
        else:
            bufs.append(torch.empty((k, n, self.B, self.data.q), dtype=self.dtype, device=self.device))
        if self.beta:
            bufs.append(torch.empty((k, n, self.p), dtype=self.dtype, device=self.device))
        return bufs

    def draw_block(self, gen, k, nb, out=None):
        """Random numbers of k steps for one RNG block of nb chains (the same numbers whatever the
        chunk); written into ``out`` (the buffers, or one block's slice of them) when given, else
        returned."""
        torch = _torch()
        res = []
        if self.finite:
            o = None if out is None else out[0]
            if not self.replace:
                res.append(self._floyd(gen, k, nb, o))
            elif o is None or o.is_contiguous() or o.device.type != "cpu":
                # (on another device, e.g. CUDA's counter-based generator, one (k, nb, B) draw,
                # via a scratch buffer when ``o`` is a block's strided slice)
                res.append(_draw_into(o, (k, nb, self.B), torch.int64, self._scratch,
                                      lambda oo: torch.randint(0, self.N, (k, nb, self.B), generator=gen,
                                                               device=self.device, out=oo)))
            else:
                # a block's slice of the chunk's buffer: one step at a time, each step's slab is
                # contiguous. randint fills element by element in order, so these are the numbers of
                # one (k, nb, B) draw — no temporary, no copy
                for i in range(k):
                    torch.randint(0, self.N, (nb, self.B), generator=gen, device=self.device, out=o[i])
                res.append(o)
        else:
            shape = (k, nb, self.B, self.data.q)
            if self.data.takes_out:
                res.append(_draw_into(out and out[0], shape, self.dtype, self._scratch,
                                      lambda o: self.data.draw((k, nb, self.B), gen, self.device, self.dtype, out=o)))
            else:
                x = self.data.draw((k, nb, self.B), gen, self.device, self.dtype)
                if out is not None:
                    out[0].copy_(x)
                res.append(x)
        if self.beta:
            res.append(_draw_into(out and out[1], (k, nb, self.p), self.dtype, self._scratch,
                                  lambda o: torch.randn((k, nb, self.p), generator=gen, device=self.device,
                                                        dtype=self.dtype, out=o)))
        return res

    def _floyd(self, gen, k, nb, out=None):
        """A uniformly random B-subset of range(N) per (step, chain): Floyd's algorithm."""
        torch = _torch()
        N, B = self.N, self.B
        sel = torch.empty((k, nb, B), dtype=torch.int64, device=self.device) if out is None else out
        for i in range(B):
            j = N - B + i
            t = torch.randint(0, j + 1, (k, nb), generator=gen, device=self.device)
            if i:
                dup = (sel[:, :, :i] == t[:, :, None]).any(-1)
                t = torch.where(dup, torch.full_like(t, j), t)
            sel[:, :, i] = t
        return sel

    def _update(self, theta, r0):
        """``λ (mean_b ∂U(x_b, θ) + α θ)`` of the chains ``theta`` given their minibatch indices
        (finite data) or samples (a stream) ``r0``."""
        if self.finite:
            idx = r0                                  # [n, B]; index_select: ~5× faster than X[idx]
            if self.Xflat is not None:                # q = 1: take, the same numbers, faster still
                xs = self.Xflat.take(idx).unsqueeze(-1)
            else:
                xs = self.X.index_select(0, idx.reshape(-1)).view(idx.shape[0], idx.shape[1], self.X.shape[1])
        else:
            xs = r0
        g = self.grad(xs, theta[:, None, :])
        upd = g.mean(1).mul_(self.lr)
        if self.alpha:
            upd.add_(theta, alpha=self.lr * self.alpha)
        return upd

    def step(self, theta, r):
        """One SGD step of all chains → (new θ, the step)."""
        upd = self._update(theta, r[0])
        if self.beta:
            upd.sub_(r[1], alpha=self.noise_scale)
        return theta - upd, upd

    # -- the tiled CPU step: random numbers drawn tile by tile, each tile's pass in cache ------------
    #: elements (chains × B × max(p, q)) of one tile: its index, sample and gradient arrays stay in
    #: the CPU's cache (~0.5 MB each)
    TILE_ELEMENTS = 65536

    def can_tile(self) -> bool:
        """The tiled step draws exactly the numbers of the buffered one: minibatch indices with
        replacement (randint fills element by element, in order) and no isotropic noise (a normal
        sampler's numbers depend on the shape it fills)."""
        return self.finite and self.replace and not self.beta

    def tiles(self, gens, blocks, c0):
        """The tiled step's plan for a chunk starting at chain ``c0``: its RNG blocks (generator,
        chunk-relative chain range), the tile length and a reused index buffer."""
        torch = _torch()
        T = max(64, self.TILE_ELEMENTS // (self.B * max(self.p, self.data.q)))
        buf = torch.empty((min(T, max(b1 - b0 for b0, b1 in blocks)), self.B), dtype=torch.int64, device=self.device)
        return [(g, b0 - c0, b1 - c0) for g, (b0, b1) in zip(gens, blocks)], T, buf

    def step_tiled(self, theta, plan):
        """One SGD step of all chains (as :meth:`step`, the same numbers bit for bit), its minibatch
        indices drawn tile by tile just before they are used: every tile's indices, samples,
        gradients and mean are computed while in cache, and no buffer of k steps' indices is
        written and read back."""
        torch = _torch()
        blocks, T, buf = plan
        upd = torch.empty_like(theta)
        for g, s0, s1 in blocks:
            for a0 in range(s0, s1, T):
                a1 = min(a0 + T, s1)
                idx = buf[:a1 - a0]
                torch.randint(0, self.N, (a1 - a0, self.B), generator=g, device=self.device, out=idx)
                upd[a0:a1] = self._update(theta[a0:a1], idx)
        return theta - upd, upd


class _EMKernel:
    def __init__(self, model: DiffusionModel, *, lr, B, weight_decay, noise, substeps, p, device, dtype):
        self.model, self.lr, self.B, self.alpha, self.beta = model, lr, B, weight_decay, noise
        self.m, self.p, self.device, self.dtype = substeps, p, device, dtype
        self.dt = lr / substeps
        self.T = lr / B
        self._scratch: dict = {}

    def bytes_per_chain(self, k):
        return k * self.m * self.p * 8 + 16 * self.p * self.p * 8 + 64 * self.p + self.model.bytes_per_chain

    def alloc(self, k, n):
        torch = _torch()
        return [torch.empty((k, n, self.m, self.p), dtype=self.dtype, device=self.device)]

    def draw_block(self, gen, k, nb, out=None):
        torch = _torch()
        shape = (k, nb, self.m, self.p)
        return [_draw_into(out and out[0], shape, self.dtype, self._scratch,
                           lambda o: torch.randn(shape, generator=gen, device=self.device, dtype=self.dtype, out=o))]

    def step(self, theta, r):
        torch = _torch()
        start = theta
        sd = math.sqrt(self.T * self.dt)
        for j in range(self.m):
            drift = self.model.drift(theta)
            if self.alpha:
                drift = drift + self.alpha * theta
            D = self.model.diffusion(theta)
            if self.beta:
                D = D + self.beta ** 2 * torch.eye(self.p, dtype=self.dtype, device=self.device)
            xi = r[0][:, j, :]
            if self.p == 1:
                kick = torch.sqrt(D[:, 0, 0].clamp(min=0.0))[:, None] * xi
            else:
                kick = (torch.linalg.cholesky(D) @ xi[:, :, None])[:, :, 0]
            theta = theta - self.dt * drift + sd * kick
        return theta, start - theta


# ==================================================================================================
# the driver
# ==================================================================================================
_RNG_STRIDE = 1_000_003


def _start_array(start, n, p_expected):
    arr = np.asarray(start, dtype=float)
    if arr.ndim == 0:
        arr = arr[None]
    if arr.ndim == 1:
        if p_expected is not None and arr.size != p_expected:
            raise SGDConfigError(f"start has {arr.size} coordinates but θ has {p_expected}")
        arr = np.broadcast_to(arr, (n, arr.size))
    if arr.ndim != 2 or arr.shape[0] != n or (p_expected is not None and arr.shape[1] != p_expected):
        raise SGDConfigError(f"start must be a point (length p) or an array (n_chains, p); got shape "
                             f"{np.shape(start)}")
    if not np.isfinite(arr).all():
        raise SGDConfigError("start must be finite")
    return arr


def _run(kernel, *, kind, start, n_chains, n_steps, burn_in, observers, seed, max_abs,
         max_chunk_chains, memory_bytes, fuse, steps_per_call, groups, blocks, rhat_max, min_ess,
         drift_z, rng_block, step_limit=None, valley=None, max_step_ratio=None, lr, B, p,
         dev, device_note, dtype, progress=None, cpu_threads=None) -> SGDResult:
    torch = _torch()
    if cpu_threads is not None and dev.type == "cpu":
        from numerics.devices import cpu_threads as _threads

        with _threads(dev, _pos_int(cpu_threads, "cpu_threads")):
            return _run(kernel, kind=kind, start=start, n_chains=n_chains, n_steps=n_steps, burn_in=burn_in,
                        observers=observers, seed=seed, max_abs=max_abs, max_chunk_chains=max_chunk_chains,
                        memory_bytes=memory_bytes, fuse=fuse, steps_per_call=steps_per_call, groups=groups,
                        blocks=blocks, rhat_max=rhat_max, min_ess=min_ess, drift_z=drift_z,
                        rng_block=rng_block, step_limit=step_limit, valley=valley,
                        max_step_ratio=max_step_ratio, lr=lr, B=B, p=p, dev=dev, device_note=device_note,
                        dtype=dtype, progress=progress, cpu_threads=None)
    n_chains = _pos_int(n_chains, "n_chains")
    n_steps = _pos_int(n_steps, "n_steps")
    burn_in = _pos_int(burn_in, "burn_in", 0)
    if burn_in >= n_steps:
        raise SGDConfigError(f"burn_in = {burn_in} must be < n_steps = {n_steps}")
    k = _pos_int(steps_per_call, "steps_per_call")
    rng_block = _pos_int(rng_block, "rng_block")
    groups, blocks = _pos_int(groups, "groups", 2), _pos_int(blocks, "blocks", 4)
    if blocks % 2:
        raise SGDConfigError(f"blocks must be even (split R̂ halves the window); got {blocks}")
    max_abs = _num(max_abs, "max_abs", positive=True) if max_abs is not None else math.inf
    for o in observers:
        if not isinstance(o, _Observer):
            raise SGDConfigError(f"observers must be Histogram1D/Histogram2D/Occupancy/FirstPassage/Moments "
                                 f"instances; got {o!r}")
    if len({id(o) for o in observers}) != len(observers):
        raise SGDConfigError("an observer instance may appear only once")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SGDConfigError(f"seed must be an integer >= 0; got {seed!r}")
    x0 = _start_array(start, n_chains, p)
    # chunks: whole RNG blocks, within the chain and memory budgets
    budget = n_chains
    if max_chunk_chains is not None:
        budget = min(budget, _pos_int(max_chunk_chains, "max_chunk_chains"))
    if memory_bytes is not None:
        budget = min(budget, max(1, int(_num(memory_bytes, "memory_bytes", positive=True)
                                        // kernel.bytes_per_chain(k))))
    chunk = max(rng_block, (budget // rng_block) * rng_block) if budget < n_chains else n_chains
    window = n_steps - burn_in
    stationary = [o for o in observers if not o.every_step]
    passage = [o for o in observers if isinstance(o, FirstPassage)]
    absorbing = [o for o in passage if o.absorbing]
    gs = None
    if stationary:
        gs = _GroupStats(groups, blocks, [o for o in observers if isinstance(o, Occupancy)])
    all_obs = list(observers) + ([gs] if gs is not None else [])
    for o in all_obs:
        o.bind(p, dev, dtype, n_steps)
    if gs is not None:
        gs.configure(burn_in, window)
    for o in observers:
        if isinstance(o, Moments):
            o.shift.copy_(torch.as_tensor(x0.mean(0), dtype=dtype, device=dev))
    rec_obs = [o for o in all_obs if not o.every_step]
    step_obs = [o for o in all_obs if o.every_step]
    check_len = step_limit is not None and math.isfinite(step_limit)
    check_abs = math.isfinite(max_abs)

    def block(theta, rand, t0, mon, record: bool, plan=None, n_tiled=0):
        """k' steps of every chain (k' = len of the random buffers; ``n_tiled`` on the tiled path,
        which draws its random numbers per step from ``plan``); observers and the divergence
        monitor updated on the device, no host synchronisation."""
        kk = rand[0].shape[0] if plan is None else n_tiled
        for i in range(kk):
            t = t0 + (i + 1)
            if plan is None:
                new, upd = kernel.step(theta, [r[i] for r in rand])
            else:
                new, upd = kernel.step_tiled(theta, plan)
            if absorbing:
                alive = absorbing[0].times < 0
                for o in absorbing[1:]:
                    alive = alive & (o.times < 0)
                new = torch.where(alive[:, None], new, theta)
                upd = torch.where(alive[:, None], upd, torch.zeros_like(upd))
            theta = new
            big = torch.zeros((), dtype=dtype, device=dev)
            # one pass: max |θ| is NaN or inf exactly when some θ is (amax propagates NaN); a
            # non-finite θ raises the non-finite error, so the size stored with it is never read
            amax_abs = theta.abs().amax() if theta.numel() else big
            fin = torch.isfinite(amax_abs)
            bad = ~fin
            if check_len:
                big = upd.abs().amax() if upd.numel() else big
                bad = bad | (big > step_limit)
            if check_abs:
                big_abs = amax_abs
                bad = bad | (big_abs > max_abs)
                if not check_len:
                    big = big_abs
            new_bad = bad & (mon[0] == 0)
            mon[0].copy_(torch.where(new_bad, t, mon[0]))
            mon[1].copy_(torch.where(new_bad, (~fin).to(dtype), mon[1]))
            mon[2].copy_(torch.where(new_bad, big.to(dtype), mon[2]))
            for o in step_obs:
                o.update(theta, t)
            if record:
                for o in rec_obs:
                    o.update(theta, t)
        return theta

    path, path_note = f"{dev.type}-eager", None
    fn = block
    want_compile = (fuse == "auto" and dev.type == "cuda") or fuse is True
    if fuse not in ("auto", True, False):
        raise SGDConfigError(f"fuse must be 'auto', True or False; got {fuse!r}")
    compiled = None
    if want_compile:
        try:
            _raise_recompile_limits(torch)
            compiled = torch.compile(block, dynamic=False, fullgraph=False)
            path = f"{dev.type}-compiled"
        except Exception as exc:  # torch.compile unavailable
            path, path_note = f"{dev.type}-eager", f"torch.compile unavailable: {type(exc).__name__}: {exc}"[:300]
            compiled = None

    # the CPU's eager path draws the minibatch indices tile by tile inside the step when that gives
    # the same numbers (_SGDKernel.can_tile), instead of k steps' worth into a buffer first
    tiled = compiled is None and dev.type == "cpu" and getattr(kernel, "can_tile", lambda: False)()
    t_start = time.perf_counter()
    first_call = None
    chain_steps = 0
    steps_run_max = 0
    for c0 in range(0, n_chains, chunk):
        n = min(chunk, n_chains - c0)
        blocks_ = [(b0, min(b0 + rng_block, c0 + n)) for b0 in range(c0, c0 + n, rng_block)]
        gens = [torch.Generator(device=dev).manual_seed(int(seed) * _RNG_STRIDE + b0 // rng_block)
                for b0, _ in blocks_]
        theta = torch.as_tensor(np.ascontiguousarray(x0[c0:c0 + n]), dtype=dtype, device=dev).clone()
        for o in all_obs:
            o.start_chunk(n, c0)
        t0 = torch.zeros((), dtype=torch.int64, device=dev)
        for o in step_obs:
            o.update(theta, t0)
        # the monitor: [first bad step, non-finite?, the size that tripped]; shape (1,), not 0-d (above)
        mon = [torch.zeros(1, dtype=torch.int64, device=dev), torch.zeros(1, dtype=dtype, device=dev),
               torch.zeros(1, dtype=dtype, device=dev)]
        # the random-number buffers: allocated once per chunk for the longest call, every call
        # draws into a prefix of them (each RNG block into its own slice), nothing allocated per call
        bufs = None if tiled else kernel.alloc(min(k, max(burn_in, window)), n)
        plan = kernel.tiles(gens, blocks_, c0) if tiled else None
        t = 0
        while t < n_steps:
            # a call never straddles the end of burn-in
            edge = burn_in if t < burn_in else n_steps
            kk = min(k, edge - t)
            record = t >= burn_in
            if tiled:
                rand = None
            else:
                rand = [b[:kk] for b in bufs]
                if len(blocks_) == 1:  # straight into the buffers
                    kernel.draw_block(gens[0], kk, n, out=rand)
                else:
                    for g, (b0, b1) in zip(gens, blocks_):
                        kernel.draw_block(g, kk, b1 - b0, out=[r[:, b0 - c0:b1 - c0] for r in rand])
            tt = torch.full((), t, dtype=torch.int64, device=dev)
            run = compiled if compiled is not None else fn
            try:
                theta = run(theta, rand, tt, mon, record) if not tiled else fn(theta, None, tt, mon, record,
                                                                               plan, kk)
            except SGDDivergedError:
                raise
            except Exception as exc:
                if compiled is None:
                    raise
                # compilation failed at the first call: the same function, eagerly (state untouched?
                # the compiled call may have run partially: restart this chunk's run from scratch)
                path, path_note = f"{dev.type}-eager", f"torch.compile failed: {type(exc).__name__}: {exc}"[:300]
                compiled = None
                raise _RestartEager(path, path_note) from exc
            if first_call is None:
                if dev.type == "cuda":
                    torch.cuda.synchronize(dev)
                first_call = time.perf_counter() - t_start
            t += kk
            if progress is not None:
                progress(kk)
            if int(mon[0]) > 0:
                it = int(mon[0])
                if float(mon[1]) > 0:
                    raise _nonfinite(it, lr, B)
                if check_len:
                    raise _too_long(it, lr, B, float(mon[2]), valley, max_step_ratio)
                raise _too_far(it, lr, B, float(mon[2]), max_abs)
            if passage and not stationary and all(bool((o.times >= 0).all()) for o in passage):
                break
        chain_steps += n * t
        steps_run_max = max(steps_run_max, t)
        for o in all_obs:
            o.end_chunk()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    seconds = time.perf_counter() - t_start
    diag = _diagnose(gs, rhat_max=rhat_max, min_ess=min_ess, drift_z=drift_z) if gs is not None else None
    results = tuple(o.result() for o in observers)

    def kind_of(cls):
        return tuple(r for o, r in zip(observers, results) if isinstance(o, cls))

    from numerics.devices import device_description

    return SGDResult(observers=results, histograms=kind_of((Histogram1D, Histogram2D)),
                     occupancy=kind_of(Occupancy), passage=kind_of(FirstPassage), moments=kind_of(Moments),
                     diagnostics=diag, device=device_description(dev), device_note=device_note, path=path,
                     path_note=path_note, chain_steps=int(chain_steps), seconds=seconds,
                     first_call_seconds=float(first_call or 0.0), n_chains=n_chains,
                     n_steps=n_steps, steps_run=steps_run_max, burn_in=burn_in, lr=lr, batch_size=B,
                     seed=int(seed), kind=kind)


def _raise_recompile_limits(torch) -> None:
    """Each run compiles its own multi-step function (λ, B, the observers are baked into the
    graph), and dynamo caches graphs per code object: past its recompile limit (8 by default) it
    would silently run eagerly, so a sweep of runs raises the limits (process-wide, never lowers)."""
    cfg = torch._dynamo.config
    for name, value in (("recompile_limit", 256), ("cache_size_limit", 256),
                        ("accumulated_recompile_limit", 4096), ("accumulated_cache_size_limit", 4096)):
        if isinstance(getattr(cfg, name, None), int) and getattr(cfg, name) < value:
            try:
                setattr(cfg, name, value)
            except Exception:  # an alias that cannot be set in this torch version
                pass


class _RestartEager(Exception):
    def __init__(self, path, note):
        super().__init__(note)
        self.path, self.note = path, note


def _resolve(device):
    from numerics.devices import DeviceFallbackWarning, device_fields, resolve_device

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeviceFallbackWarning)
        dev = resolve_device(device)
    note = device_fields(device, dev).get("device_note")
    return dev, note


def _with_fallback(kernel_factory, run_kw):
    """Run; if the compiled hot loop fails at run time, rerun everything eagerly (fresh observers
    state: bind() resets them) and record why."""
    try:
        return _run(kernel_factory(), **run_kw)
    except _RestartEager as exc:
        res = _run(kernel_factory(), **{**run_kw, "fuse": False})
        import dataclasses

        return dataclasses.replace(res, path=exc.path, path_note=exc.note)


def simulate_sgd(grad, *, data, lr: float, batch_size: int, n_chains: int, n_steps: int, start,
                 observers: Sequence = (), burn_in: int = 0, weight_decay: float = 0.0, noise: float = 0.0,
                 seed: int = 0, device="auto", max_abs: float | None = 1e6,
                 max_chunk_chains: int | None = None, memory_bytes: float | None = 2 ** 30,
                 fuse="auto", steps_per_call: int = 16, groups: int = 16, blocks: int = 20,
                 rhat_max: float = 1.01, min_ess: float = 400.0, drift_z: float = 4.0,
                 rng_block: int = 2 ** 15, cpu_threads: int | None = 1, progress: Callable | None = None,
                 _escape: dict | None = None) -> SGDResult:
    """Run ``n_chains`` independent minibatch-SGD chains for ``n_steps`` steps (module docstring).

    Parameters
    ----------
    grad : a :class:`PerSampleGradient` (:func:`compile_per_sample_gradient`) or any torch callable
        ``grad(xs[n, B, q], thetas[n, 1, p]) → [n, B, p]``.
    data : :class:`FiniteData` (with or without replacement) or :class:`Stream`.
    lr, batch_size : λ > 0 and B ≥ 1; ``T = λ/B``.
    n_chains, n_steps, burn_in : chains, steps, and the steps before the sampling window.
    start : a point (length p) or an array ``(n_chains, p)``.
    observers : :class:`Histogram1D`, :class:`Histogram2D`, :class:`Occupancy`,
        :class:`FirstPassage`, :class:`Moments` instances (fresh ones per call).
    weight_decay, noise : α (ℓ2) and β (isotropic noise) of SC.eq13.
    seed, device : seeding (module docstring) and the torch device (``"auto"``: CUDA if present;
        ``"cuda"`` without CUDA runs on the CPU and says so in ``device_note``).
    max_abs : divergence bound on ``|θ_i|`` (None: only non-finite values).
    max_chunk_chains, memory_bytes : chunking budgets (chains per chunk; bytes of per-step buffers).
    fuse : ``"auto"`` (torch.compile on CUDA), True (try it on any device), False (eager).
    steps_per_call : steps per call of the multi-step function (host checks once per call).
    groups, blocks, rhat_max, min_ess, drift_z : the convergence diagnostics (module docstring).
    rng_block : chains per RNG block (chunks are whole blocks; results do not depend on chunking).
    cpu_threads : torch intra-op threads on the CPU during the run (restored after; default 1:
        the per-step tensors are small, and on a shared machine more threads cost more than they
        gain; None keeps torch's setting).
    progress : called as ``progress(k)`` after each call of the multi-step function (k steps).

    Raises :class:`SGDConfigError` for bad input, :class:`SGDDivergedError` on divergence.
    """
    lr_ = _num(lr, "lr", positive=True)
    B = _pos_int(batch_size, "batch_size")
    alpha = _num(weight_decay, "weight_decay", nonneg=True)
    beta = _num(noise, "noise", nonneg=True)
    if not isinstance(data, (FiniteData, Stream)):
        raise SGDConfigError(f"data must be a FiniteData (training set) or a Stream; got {type(data).__name__}")
    if not callable(grad):
        raise SGDConfigError(f"grad must be a compiled per-sample gradient (compile_per_sample_gradient); "
                             f"got {grad!r:.80}")
    if isinstance(grad, PerSampleGradient) and grad.q != data.q:
        raise SGDConfigError(f"the gradient takes samples of {grad.q} coordinate(s) but the data have {data.q}")
    torch = _torch()
    dev, note = _resolve(device)
    dtype = torch.float64
    x0 = np.asarray(start, dtype=float)
    p = grad.p if isinstance(grad, PerSampleGradient) else (x0.shape[-1] if x0.ndim else 1)
    kw = dict(start=start, n_chains=n_chains, n_steps=n_steps, burn_in=burn_in, observers=list(observers),
              seed=seed, max_abs=max_abs, max_chunk_chains=max_chunk_chains, memory_bytes=memory_bytes,
              fuse=fuse, steps_per_call=steps_per_call, groups=groups, blocks=blocks, rhat_max=rhat_max,
              min_ess=min_ess, drift_z=drift_z, rng_block=rng_block, progress=progress,
              cpu_threads=cpu_threads)
    extra = dict(_escape or {})
    return _with_fallback(
        lambda: _SGDKernel(grad, data, lr=lr_, B=B, weight_decay=alpha, noise=beta, p=p, device=dev,
                           dtype=dtype),
        dict(kind="sgd", lr=lr_, B=B, p=p, dev=dev, device_note=note, dtype=dtype, **kw, **extra))


def simulate_diffusion(model: DiffusionModel, *, lr: float, batch_size: int, n_chains: int, n_steps: int,
                       start, observers: Sequence = (), burn_in: int = 0, substeps: int = 1,
                       weight_decay: float = 0.0, noise: float = 0.0, seed: int = 0, device="auto",
                       max_abs: float | None = 1e6, max_chunk_chains: int | None = None,
                       memory_bytes: float | None = 2 ** 30, fuse="auto", steps_per_call: int = 16,
                       groups: int = 16, blocks: int = 20, rhat_max: float = 1.01, min_ess: float = 400.0,
                       drift_z: float = 4.0, rng_block: int = 2 ** 15, cpu_threads: int | None = 1) -> SGDResult:
    """Euler–Maruyama reference of the diffusion approximation (SC.eq10–11, SC.eq13).

    ``dθ = −(∂U^tr + αθ) dt' + sqrt(T (D(θ) + β² I)) dW`` with ``T = λ/B`` and ``t' = λ t``: each
    of the ``n_steps`` "steps" advances ``t'`` by λ in ``substeps`` EM steps of ``dt' = λ/substeps``
    (one step n is then at the same ``t'`` as SGD step n).  ``D`` in THEORY.md's convention, the
    per-sample gradient covariance (so the step covariance λ T D of SC.eq9 is matched).  ``model``
    from :func:`compile_diffusion`; the other arguments as in :func:`simulate_sgd`.
    """
    if not isinstance(model, DiffusionModel):
        raise SGDConfigError("model must come from compile_diffusion(train_loss, diffusion, theta) or "
                             "diffusion_from_data(grad, data)")
    lr_ = _num(lr, "lr", positive=True)
    B = _pos_int(batch_size, "batch_size")
    m = _pos_int(substeps, "substeps")
    alpha = _num(weight_decay, "weight_decay", nonneg=True)
    beta = _num(noise, "noise", nonneg=True)
    torch = _torch()
    dev, note = _resolve(device)
    dtype = torch.float64
    kw = dict(start=start, n_chains=n_chains, n_steps=n_steps, burn_in=burn_in, observers=list(observers),
              seed=seed, max_abs=max_abs, max_chunk_chains=max_chunk_chains, memory_bytes=memory_bytes,
              fuse=fuse, steps_per_call=steps_per_call, groups=groups, blocks=blocks, rhat_max=rhat_max,
              min_ess=min_ess, drift_z=drift_z, rng_block=rng_block, cpu_threads=cpu_threads)
    return _with_fallback(
        lambda: _EMKernel(model, lr=lr_, B=B, weight_decay=alpha, noise=beta, substeps=m, p=model.p,
                          device=dev, dtype=dtype),
        dict(kind="euler-maruyama", lr=lr_, B=B, p=model.p, dev=dev, device_note=note, dtype=dtype, **kw))


# ==================================================================================================
# the NumPy escape loop (numerics.sgd_escape.simulate_escape, backend="numpy"): NumPy's stream
# ==================================================================================================
def escape_numpy(grad, x0, up, lo, steps, escaped, *, lr, B, max_steps, seed, noise_scale,
                 L, step_limit, max_step_ratio, progress=None) -> None:
    """NumPy escape loop of :func:`numerics.sgd_escape.simulate_escape` (fills ``steps`` and
    ``escaped`` in place).  Per step: the ``(n, B, p)`` samples ``x ∼ N(0, noise_scale² I)`` are
    drawn into a preallocated buffer (``Generator.standard_normal(out=…)`` — the same stream as
    drawing ``(n, B, p)`` arrays from ``default_rng(seed)``), the minibatch mean and the update are
    computed in place, and the box test touches only the finite bounds.  Runs that leave are
    compacted away, so later steps cost ∝ the runs inside.  ``progress(t, inside)`` is called each
    step when given."""
    rng = np.random.default_rng(seed)
    R, p = steps.size, x0.size
    th = np.tile(x0, (R, 1))
    xbuf = np.empty((R, B, p))
    sbuf = np.empty((R, p))            # the step η·mean_b ∂L
    mbuf = np.empty((R, p), dtype=bool)
    obuf = np.empty(R, dtype=bool)
    up_fin, lo_fin = np.isfinite(up), np.isfinite(lo)
    check_up, check_lo = bool(up_fin.any()), bool(lo_fin.any())
    # an infinite bound never trips its test (θ finite), so comparing all p coordinates is exact
    check_len = math.isfinite(step_limit)
    alive = np.arange(R)
    n = R
    for t in range(1, max_steps + 1):
        xs = xbuf[:n]
        rng.standard_normal(out=xs)
        if noise_scale != 1.0:
            np.multiply(xs, noise_scale, out=xs)
        g = grad(xs, th[:, None, :])
        step = sbuf[:n]
        if type(g) is np.ndarray and g.shape == xs.shape and g.dtype == np.float64:
            np.add.reduce(g, axis=1, out=step)           # = g.mean(1)·B, same summation
            np.divide(step, B, out=step)
        else:
            step[...] = np.asarray(g, dtype=float).mean(1)
        np.multiply(step, lr, out=step)
        np.subtract(th, step, out=th)
        if not np.isfinite(th).all():
            raise _nonfinite(t, lr, B)
        if check_len:
            biggest = max(float(step.max()), -float(step.min()))
            if biggest > step_limit:
                raise _too_long(t, lr, B, biggest, L, max_step_ratio)
        mask = mbuf[:n]
        if check_up:
            np.greater_equal(th, up, out=mask)
        else:
            mask[...] = False
        if check_lo:
            np.logical_or(mask, np.less_equal(th, lo), out=mask)
        out = mask[:, 0] if p == 1 else np.logical_or.reduce(mask, axis=1, out=obuf[:n])
        if out.any():
            idx = np.flatnonzero(out)
            steps[alive[idx]] = t
            escaped[alive[idx]] = True
            keep = ~out
            th = th[keep]
            alive = alive[keep]
            n = alive.size
        if progress is not None:
            progress(t, n)
        if n == 0:
            break
