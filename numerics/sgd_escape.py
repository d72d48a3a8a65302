"""Escape of real minibatch SGD from a loss valley: many independent runs at once (DT §4).

The simulated dynamics is plain SGD on a per-sample loss ``L(x, θ)`` with a fresh minibatch of
``B`` samples ``x ∼ N(0, σ² I)`` at every step (an infinite data stream)::

    θ_{t+1} = θ_t − η · (1/B) Σ_{b=1}^{B} ∂_θ L(x_b, θ_t)        (SC.eq9 / DT eq. 1)

``R`` runs in ``p`` dimensions are advanced together (arrays of shape ``(R, B, p)``). A run stops at
the first iteration ``t`` at which some coordinate leaves the valley box ``lower_i < θ_i < upper_i``
(DT App. E.1 setting 1: ``θ_i < boundary_i``); ``t`` (counted from 1) is its escape iteration. Runs
still inside after ``max_steps`` are **censored**: they are reported with ``escaped = False`` and
``steps = max_steps``, never dropped, and :meth:`EscapeResult.mean_escape_steps` uses the
censoring-aware exponential estimate.

The per-sample gradient is never typed by hand: :func:`per_sample_gradient` compiles
``∂_θ L(x, θ)`` from the SymPy expression with :func:`numerics.compile.compile_expr` (NumPy or
PyTorch backend). For a separable loss (``L = Σ_i ℓ(x_i, θ_i)``, e.g. Styblinski–Tang)
:func:`separable_gradient` compiles the 1-D derivative once and applies it coordinate-wise.

Two paths, one simulator: ``backend="torch"`` runs :func:`numerics.sgd.simulate_sgd` (the
many-chain simulator: a Gaussian stream, an absorbing :class:`numerics.sgd.FirstPassage` into the
outside of the box, the step-length divergence test below; fused with ``torch.compile`` on CUDA);
``backend="numpy"`` runs :func:`numerics.sgd.escape_numpy`, the NumPy loop kept bit-for-bit so that a
seed gives the same escape steps as before (NumPy's random stream, which torch cannot reproduce).

Speed (``benchmarks/bench_sgd_escape.py``): the NumPy loop draws each step's samples into
one preallocated buffer (``Generator.standard_normal(out=…)``: the same random stream as a fresh
``(n, B, p)`` array each step, so results for a seed are those of earlier versions up to the
gradient's last ulp), averages and updates in place, tests only the finite bounds, and compacts the
runs that left; the compiled gradient writes ``(θ − x)**3`` as a product (NumPy's ``a**3`` is ~60×
slower than ``a*a*a``).  The ratios to the earlier loop, to a hand-written in-place loop for the
DT §4 loss and to the bare sampling, measured in one run, are in
``benchmarks/results/bench_sgd_escape.json`` (``make bench``).

Divergence is not escape.  :class:`SGDDivergedError` is raised (never an escape counted) when

* an iterate becomes non-finite, or
* one SGD step moves some run by more than ``max_step_ratio`` (default 100) times the valley's size
  ``L`` — the smallest, over coordinates with a finite bound, of the box width ``upper − lower``
  (or, with one bound infinite, the distance from the start to the finite bound).

Rationale: a run that leaves the valley by a barrier crossing (the DT/SC.eq10–11 picture), or even
by one heavy-tailed gradient kick, moves by O(L) per step; a step two orders of magnitude larger
than the whole valley means η is far beyond the stability limit of the curvature (η·U'' ≫ 2), so the
iterates blow up geometrically — "escape in 1.5 steps" at η = 1e6 is that blow-up, not a rate.  The
DT §4 experiments (:mod:`validation.experiments.escape_rates`, small and full) never step more than
≈ 3 L, heavy-tailed kicks included, so the bound leaves them a 30× margin.  With an unbounded box
(no finite bound) only the non-finite test applies.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp

from numerics.compile import compile_expr
from numerics.sgd import SGDDivergedError, escape_numpy  # noqa: F401  (SGDDivergedError: re-exported)
from theory.coordinates import as_expr

__all__ = [
    "SGDDivergedError",
    "EscapeResult",
    "per_sample_gradient",
    "separable_gradient",
    "simulate_escape",
    "valley_size",
]


@dataclass(frozen=True)
class EscapeResult:
    """Escape iterations of ``n_runs`` independent SGD runs.

    ``steps[r]``: iteration at which run r left the valley (1-based), or ``max_steps`` if censored;
    ``escaped[r]``: False for censored runs. ``lr``, ``batch_size``, ``max_steps``, ``dim`` and
    ``seed`` echo the inputs.
    """

    steps: np.ndarray
    escaped: np.ndarray
    max_steps: int
    lr: float
    batch_size: int
    dim: int
    seed: int

    @property
    def n_runs(self) -> int:
        return int(self.steps.size)

    @property
    def n_censored(self) -> int:
        return int(self.n_runs - np.count_nonzero(self.escaped))

    def mean_escape_steps(self) -> tuple[float, float]:
        """Mean escape iterations and its standard error.

        All escaped: sample mean and ``std/sqrt(R)``. Some censored: the maximum-likelihood mean of
        an exponential law under right censoring, ``Σ_r steps_r / #escaped`` with SE
        ``mean/sqrt(#escaped)``. None escaped: ``(inf, inf)``.
        """
        n_esc = int(np.count_nonzero(self.escaped))
        if n_esc == 0:
            return math.inf, math.inf
        s = self.steps.astype(float)
        if n_esc == self.n_runs:
            mean = float(s.mean())
            se = float(s.std(ddof=1) / math.sqrt(s.size)) if s.size > 1 else math.inf
            return mean, se
        mean = float(s.sum() / n_esc)
        return mean, mean / math.sqrt(n_esc)

    def summary(self) -> dict:
        """JSON-ready summary (mean, SE, censoring, quantiles) — the raw block of a record."""
        mean, se = self.mean_escape_steps()
        q = np.quantile(self.steps, [0.1, 0.5, 0.9]).tolist()
        return {"n_runs": self.n_runs, "n_censored": self.n_censored, "max_steps": self.max_steps,
                "mean_steps": mean, "se_steps": se, "quantiles_10_50_90": q,
                "std_steps": float(np.std(self.steps, ddof=1)) if self.n_runs > 1 else 0.0}


def _is_object_array(v) -> bool:
    return isinstance(v, np.ndarray) and v.dtype.kind in "OSU"


def _symbols(vec, p: int, name: str) -> list[sp.Symbol]:
    syms = list(vec) if isinstance(vec, (list, tuple, sp.MatrixBase)) else [vec]
    for i, s in enumerate(syms):
        if isinstance(s, (str, bytes, bytearray)) or _is_object_array(s):
            raise TypeError(f"{name}[{i}] is a string ({s!r:.60}); strings are never evaluated — pass "
                            "SymPy Symbols, e.g. sympy.symbols('x0:2')")
    if len(syms) != p or not all(isinstance(s, sp.Symbol) for s in syms):
        raise ValueError(f"{name} must be {p} SymPy Symbols; got {syms!r}")
    return syms


def per_sample_gradient(loss, x, theta, *, backend: str = "numpy", device="auto") -> Callable:
    """Compile ``∂_θ L(x, θ)`` of a SymPy per-sample loss into ``grad(xs, thetas)``.

    ``x`` and ``theta`` are equally long lists of Symbols (p of them); ``loss`` may contain no other
    free symbols. The returned function takes arrays ``xs[..., p]`` and ``thetas[..., p]``
    (broadcast together) and returns an array ``[..., p]``.
    """
    th = _symbols(theta, len(theta) if isinstance(theta, (list, tuple, sp.MatrixBase)) else 1, "theta")
    xs = _symbols(x, len(th), "x")
    loss = as_expr(loss, name="loss")
    grad = [sp.diff(loss, t) for t in th]
    f = compile_expr(grad, xs + th, backend=backend, device=device)
    p = len(th)

    def g(xv, tv):
        return f(*[xv[..., i] for i in range(p)], *[tv[..., i] for i in range(p)])

    return g


def separable_gradient(loss_1d, x, theta, *, backend: str = "numpy", device="auto") -> Callable:
    """For ``L(x, θ) = Σ_i ℓ(x_i, θ_i)``: compile ``∂_θ ℓ(x, θ)`` (two Symbols) once; the returned
    ``grad(xs, thetas)`` applies it element-wise, so any trailing dimension p works."""
    _symbols(x, 1, "x"), _symbols(theta, 1, "theta")  # strings: TypeError
    if not (isinstance(x, sp.Symbol) and isinstance(theta, sp.Symbol)):
        raise ValueError("separable_gradient needs one Symbol x and one Symbol theta")
    loss_1d = as_expr(loss_1d, name="loss_1d")
    return compile_expr(sp.diff(loss_1d, theta), [x, theta], backend=backend, device=device)


def _box(bound, p: int, name: str, default: float) -> np.ndarray:
    if bound is None:
        return np.full(p, default)
    arr = np.broadcast_to(np.asarray(bound, dtype=float), (p,)).copy()
    if np.isnan(arr).any():
        raise ValueError(f"{name} must not contain NaN")
    return arr


def valley_size(start, upper, lower) -> float:
    """The valley scale L of the divergence test: min over coordinates of ``upper − lower`` where
    both are finite, else the distance from ``start`` to the finite bound; ``inf`` if unbounded."""
    x0 = np.atleast_1d(np.asarray(start, dtype=float))
    up, lo = np.broadcast_to(upper, x0.shape), np.broadcast_to(lower, x0.shape)
    sizes = np.where(np.isfinite(up) & np.isfinite(lo), up - lo,
                     np.where(np.isfinite(up), up - x0, np.where(np.isfinite(lo), x0 - lo, np.inf)))
    return float(np.min(sizes))


def simulate_escape(grad: Callable, start, *, lr: float, batch_size: int, n_runs: int,
                    max_steps: int, upper=None, lower=None, seed: int = 0,
                    noise_scale: float = 1.0, backend: str = "numpy", device="auto",
                    progress: bool = False, max_step_ratio: float = 100.0) -> EscapeResult:
    """Run ``n_runs`` independent minibatch-SGD runs from ``start`` until each leaves the valley.

    Parameters
    ----------
    grad : per-sample gradient ``grad(xs, thetas) → [..., p]`` (from :func:`per_sample_gradient` or
        :func:`separable_gradient`, compiled for the same ``backend``).
    start : the common start point (length p).
    lr, batch_size : η > 0 and integer B ≥ 1 (keyword-only).
    n_runs, max_steps : R ≥ 1 runs; the censoring cap (≥ 1).
    upper, lower : the valley box ``lower < θ < upper`` (scalars or length p; default ±inf); the
        start must lie strictly inside.
    seed : seeds the sample stream (NumPy ``default_rng`` or a torch ``Generator``). NumPy: step
        t's samples are ``default_rng(seed).standard_normal((n_t, B, p))`` in sequence, ``n_t``
        the runs still inside (drawn into a preallocated buffer).
    noise_scale : σ of the samples ``x ∼ N(0, σ² I)``.
    backend, device : ``"numpy"`` or ``"torch"`` (device ``"auto"`` = CUDA when present; the torch
        path is :func:`numerics.sgd.simulate_sgd`, its stream seeded per block of chains as there).
    progress : show a tqdm bar over iterations.
    max_step_ratio : a step longer than this many valley sizes (:func:`valley_size`) is divergence,
        not escape (see the module docstring).

    Raises ``ValueError`` for bad inputs and :class:`SGDDivergedError` on a non-finite iterate or a
    step over ``max_step_ratio`` valley sizes.
    """
    if isinstance(lr, bool) or not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0; got {lr!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1; got {batch_size!r}")
    for name, v in (("n_runs", n_runs), ("max_steps", max_steps)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {v!r}")
    if not (noise_scale >= 0 and math.isfinite(noise_scale)):
        raise ValueError(f"noise_scale must be finite and >= 0; got {noise_scale!r}")
    if backend not in ("numpy", "torch"):
        raise ValueError(f"backend must be 'numpy' or 'torch'; got {backend!r}")
    if isinstance(max_step_ratio, bool) or not (isinstance(max_step_ratio, (int, float))
                                                and max_step_ratio > 0):
        raise ValueError(f"max_step_ratio must be a number > 0; got {max_step_ratio!r}")
    x0 = np.atleast_1d(np.asarray(start, dtype=float))
    if x0.ndim != 1 or not np.isfinite(x0).all():
        raise ValueError(f"start must be a finite 1-D point; got {start!r}")
    p = x0.size
    up, lo = _box(upper, p, "upper", math.inf), _box(lower, p, "lower", -math.inf)
    if not ((x0 < up) & (x0 > lo)).all():
        raise ValueError(f"start {x0.tolist()} is not strictly inside the valley box "
                         f"({lo.tolist()}, {up.tolist()})")
    R, B = int(n_runs), int(batch_size)
    L = valley_size(x0, up, lo)
    step_limit = float(max_step_ratio) * L  # inf for an unbounded box

    steps = np.full(R, int(max_steps), dtype=np.int64)
    escaped = np.zeros(R, dtype=bool)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=int(max_steps), desc=f"SGD escape η={lr:g} B={B}", unit="it", leave=False)
    try:
        if backend == "numpy":
            escape_numpy(grad, x0, up, lo, steps, escaped, lr=float(lr), B=B, max_steps=int(max_steps),
                         seed=seed, noise_scale=float(noise_scale), L=L, step_limit=step_limit,
                         max_step_ratio=float(max_step_ratio),
                         progress=None if bar is None else (lambda t, n: _progress(bar, t, n)))
        else:
            _escape_torch(grad, x0, up, lo, steps, escaped, lr=float(lr), B=B, max_steps=int(max_steps),
                          seed=seed, noise_scale=float(noise_scale), device=device, L=L,
                          step_limit=step_limit, max_step_ratio=float(max_step_ratio), bar=bar)
    finally:
        if bar is not None:
            bar.close()
    return EscapeResult(steps=steps, escaped=escaped, max_steps=int(max_steps), lr=float(lr),
                        batch_size=B, dim=p, seed=int(seed))


def _progress(bar, t: int, inside: int) -> None:
    bar.update(1)
    if t % 200 == 0:
        bar.set_postfix(inside=inside)


def _escape_torch(grad, x0, up, lo, steps, escaped, *, lr, B, max_steps, seed, noise_scale, device,
                  L, step_limit, max_step_ratio, bar) -> None:
    """The torch path: :func:`numerics.sgd.simulate_sgd` on the stream ``x ∼ N(0, σ² I)`` with an
    absorbing :class:`numerics.sgd.FirstPassage` into the outside of the box (escaped runs are
    frozen; the run stops once all have left) and the step-length divergence test."""
    from numerics.sgd import FirstPassage, gaussian_stream, simulate_sgd

    fp = FirstPassage(lower=lo, upper=up, absorbing=True)
    res = simulate_sgd(grad, data=gaussian_stream(x0.size, noise_scale), lr=lr, batch_size=B,
                       n_chains=steps.size, n_steps=max_steps, start=x0, observers=[fp], seed=seed,
                       device=device, max_abs=None, memory_bytes=None,
                       progress=None if bar is None else bar.update,
                       _escape=dict(step_limit=step_limit, valley=L, max_step_ratio=max_step_ratio))
    out = res.passage[0]
    steps[:] = out["steps"]
    escaped[:] = out["hit"]
