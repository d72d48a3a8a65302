"""Escape times of SGD in discrete time (DT.thm3.1, DT.thm3.2, DT.sec4, DT.prop1): the simulator vs
the exact mean first-passage time of the diffusion limit vs the exact discrete-time chain.

The ledger found (DT.sec4, ``escape_rates``) that real SGD on DT's Styblinski–Tang setting escapes
10⁵–10²⁵ times faster than the diffusion limit predicts. This experiment asks whether SGD *as a
discrete-time Markov chain* (:mod:`numerics.markov`: the exact law of the minibatch-mean gradient,
B-fold convolution of the per-sample gradient distribution) reproduces the measured escape times,
and what controls the gap, by holding four escape-time estimates side by side at every point:

1. **simulator** — :func:`numerics.sgd.simulate_sgd` with a :class:`numerics.sgd.FirstPassage`
   observer (absorbing; censored chains counted by the exponential MLE);
2. **diffusion** — the exact MFPT of ``dθ = −U′dt + sqrt(T D) dW``, ``T = λ/B`` (SC.eq10–11,
   :func:`numerics.first_passage.mean_first_passage_time_1d`), in steps ``τ/λ``;
3. **chain** — the exact discrete-time chain's mean escape time (:func:`numerics.markov.
   mean_escape_time`, the absorbing sub-chain's fundamental matrix), same data as the simulator;
4. **Gaussian chain** — the same chain with the minibatch mean replaced by a normal law of the
   same mean and variance (``method="gaussian"``): discrete time kept, non-Gaussian noise removed.
   chain vs Gaussian chain isolates the per-sample gradient tail/skewness (κ₃); Gaussian chain vs
   diffusion isolates the step size (λ·U″).

Models
------
* **Finite-data double well** ``L(x, θ) = (kθ²)²/4 − kθ²/2 + √k·x·θ`` on N standardised samples
  (mean 0, variance 1 exactly) drawn from four laws: ``gauss``, ``skew_neg`` (centred exponential,
  long tail towards the escape direction: the step is ``−λ(U′ + √k x)``, so large negative x push
  right), ``skew_pos`` (its mirror image), ``heavy`` (Student t, 3 degrees of freedom). Then
  ``U = (kθ²)²/4 − kθ²/2`` (minima ±1/√k, barrier 0, ΔU = 1/4, U″ = 2k at the minima and −k at
  the barrier) and ``D = k`` for every data set: the diffusion limit is *the same* for all four;
  only the higher cumulants differ. Escape: start at −1/√k, first step with θ ≥ 0.
  Sweeps: −log γ against B (fixed λ, k), 1/λ (fixed B, k) and 1/k (fixed λ, B).
* **Styblinski–Tang** (``escape_rates``' DT §4 setting, in 1-D, B = 1): the stream x ∼ N(0, 1)
  (simulator only) and its N-point quantile discretisation ``x_j = Φ⁻¹((j + ½)/N)`` (simulator and
  chain; exact support, B = 1). Sweeps 1/k and 1/λ as in ``escape_rates.SMALL``. The diffusion
  prediction is ``escape_rates.predict_log_steps`` (exact MFPT, population U and D).

Chain discretisation: cell centres with spacing ``cell`` on ``[−5, 2.5]/√k`` (double well) and
``[−6, 3]/√k`` (Styblinski–Tang); mass that one step takes off the grid (``boundary="absorb"``) is
put back at the end of the grid on the side of that cell's mean step — to the right end (a target
cell) for the large rightward jumps of the far-left cells. The leak from the cells between the
minimum and the barrier is recorded (``leak_basin``) so the approximation is visible.

DT.thm3.2's interval: with ΔL the barrier height and H_a, H_b the curvatures at the minimum and the
barrier, ``−log γ = (2BΔL/η)(s/H_a + (1 − s)/|H_b|) + const`` for some s ∈ (0, 1): the slope against
B lies in ``(2ΔL/η)·[min, max](1/H_a, 1/|H_b|)``, against 1/η in ``2BΔL·[…]`` and against 1/k (H ∝ k,
ΔL fixed) in ``(2BΔL/η)·[min, max](1/H_a¹, 1/|H_b¹|)`` (curvatures at k = 1). DT's formula assumes
the noise covariance equals the Hessian (C = H), which holds at the double well's barrier (D = k =
|U″(0)|) but not in Styblinski–Tang; the interval is reported as printed.

DT.prop1 (valley occupancy ∝ mean escape time) is tested on the exact chain of the double well at the
batch sweep's points (:func:`chain_prop1`, in ``predict``): stationary odds of the two valleys vs the
ratio of the escape times from each minimum.

``compare`` (pure) gives, per model and sweep: −log γ of the four estimates, Pearson r and slopes,
the DT interval and whether each slope lies in it, chain/simulator escape-time ratios (acceptance:
within 10 %) with z-scores, and the log10 gaps simulator/diffusion, chain/Gaussian chain and
Gaussian chain/diffusion.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from validation.experiments._protocol import Experiment, source_file

__all__ = ["SgdEscapeDiscreteConfig", "SMALL", "FULL", "GPU", "EXPERIMENT", "DATASETS", "DW_SWEEPS", "ST_SWEEPS",
           "measure", "predict", "compare", "dataset", "dt_slope_interval"]

#: the per-sample data laws of the double well (standardised to mean 0, variance 1)
DATASETS = ("gauss", "skew_neg", "skew_pos", "heavy")
#: double-well sweep → regressor name
DW_SWEEPS = {"batch_size": "B", "learning_rate": "1/λ", "sharpness": "1/k"}
#: Styblinski–Tang sweep → regressor name (B = 1: the chain's support is the N samples)
ST_SWEEPS = {"sharpness": "1/k", "learning_rate": "1/λ"}
#: DT App. E.1 landmarks of the 1-D Styblinski–Tang f at k = 1
ST_START, ST_BOUNDARY = -2.903534, 0.156731


@dataclass(frozen=True)
class SgdEscapeDiscreteConfig:
    """Sweep parameters (see the module docstring)."""

    n_chains: int = 2000
    max_steps: int = 60_000
    seed: int = 0
    n_data: int = 1000
    cell: float = 0.01
    datasets: tuple[str, ...] = DATASETS
    dw_batch_values: tuple[int, ...] = (1, 2, 3, 4)
    dw_batch_lr: float = 0.35
    dw_batch_k: float = 1.0
    dw_inv_lr_values: tuple[float, ...] = (3.0, 4.0, 5.0, 6.0)
    dw_lr_batch: int = 2
    dw_lr_k: float = 1.0
    dw_inv_k_values: tuple[float, ...] = (0.75, 1.0, 1.25, 1.5)
    dw_k_lr: float = 0.25
    dw_k_batch: int = 2
    st_inv_k_values: tuple[float, ...] = (0.8, 0.9, 1.0, 1.1, 1.2)
    st_k_lr: float = 0.015
    st_inv_lr_values: tuple[float, ...] = (50.0, 60.0, 70.0, 80.0, 90.0)
    st_lr_k: float = 1.0
    escape_rel_tol: float = 0.10
    pearson_tolerance: float = 0.99

    def __post_init__(self):
        if self.n_chains < 10 or self.max_steps < 10 or self.n_data < 10:
            raise ValueError("n_chains >= 10, max_steps >= 10 and n_data >= 10 are required")
        if not self.cell > 0:
            raise ValueError(f"cell must be > 0; got {self.cell}")
        bad = [d for d in self.datasets if d not in DATASETS]
        if bad or not self.datasets:
            raise ValueError(f"datasets must be a non-empty subset of {DATASETS}; got {self.datasets}")
        for name in ("dw_batch_values", "dw_inv_lr_values", "dw_inv_k_values", "st_inv_k_values",
                     "st_inv_lr_values"):
            vals = getattr(self, name)
            if len(vals) < 3 or any(v <= 0 for v in vals):
                raise ValueError(f"{name} needs >= 3 positive values (a Pearson correlation); got {vals}")
        if any(int(b) != b for b in self.dw_batch_values):
            raise ValueError(f"dw_batch_values must be integers; got {self.dw_batch_values}")
        for name in ("dw_batch_lr", "dw_batch_k", "dw_lr_k", "dw_k_lr", "st_k_lr", "st_lr_k", "escape_rel_tol"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0; got {getattr(self, name)}")
        for name in ("dw_lr_batch", "dw_k_batch"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1")

    def dw_points(self, sweep: str) -> list[dict]:
        """(k, lr, batch, regressor value) of every point of one double-well sweep."""
        if sweep == "batch_size":
            return [dict(k=self.dw_batch_k, lr=self.dw_batch_lr, batch=int(b), x=float(b)) for b in self.dw_batch_values]
        if sweep == "learning_rate":
            return [dict(k=self.dw_lr_k, lr=1.0 / v, batch=int(self.dw_lr_batch), x=float(v)) for v in self.dw_inv_lr_values]
        if sweep == "sharpness":
            return [dict(k=1.0 / v, lr=self.dw_k_lr, batch=int(self.dw_k_batch), x=float(v)) for v in self.dw_inv_k_values]
        raise ValueError(f"unknown double-well sweep {sweep!r}; use one of {list(DW_SWEEPS)}")

    def st_points(self, sweep: str) -> list[dict]:
        """(k, lr, batch = 1, regressor value) of every point of one Styblinski–Tang sweep."""
        if sweep == "sharpness":
            return [dict(k=1.0 / v, lr=self.st_k_lr, batch=1, x=float(v)) for v in self.st_inv_k_values]
        if sweep == "learning_rate":
            return [dict(k=self.st_lr_k, lr=1.0 / v, batch=1, x=float(v)) for v in self.st_inv_lr_values]
        raise ValueError(f"unknown Styblinski–Tang sweep {sweep!r}; use one of {list(ST_SWEEPS)}")


#: committed CPU record (384 s measured on a loaded 2-core machine; slow escapes — the skew_pos data, whose tail points
#: away from the exit — are censored at max_steps and estimated by the exponential MLE, with n_censored recorded)
FULL = SgdEscapeDiscreteConfig()
#: live version for the tests and the ledger (about 20 s): one data set, three points per sweep, coarser cells
SMALL = SgdEscapeDiscreteConfig(n_chains=400, max_steps=50_000, n_data=200, cell=0.02, datasets=("skew_neg",),
                                dw_batch_values=(1, 2, 3), dw_inv_lr_values=(3.0, 4.0, 5.0),
                                dw_inv_k_values=(0.75, 1.0, 1.25), st_inv_k_values=(0.8, 1.0, 1.2),
                                st_inv_lr_values=(50.0, 70.0, 90.0))
#: GPU version (sized for 1–3 min on one H100/H200; untested on a GPU): 20× the chains (escape-time
#: standard errors ≈ 0.4 %, so the chain's 10 % acceptance is judged far beyond sampling error) and
#: longer sweeps
GPU = SgdEscapeDiscreteConfig(n_chains=60_000, n_data=2000, cell=0.005, dw_batch_values=(1, 2, 3, 4, 5),
                              dw_inv_lr_values=(3.0, 4.0, 5.0, 6.0, 7.0), dw_inv_k_values=(0.75, 1.0, 1.25, 1.5, 1.75))


# --------------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------------
def dataset(name: str, n: int, seed: int) -> np.ndarray:
    """N standardised samples (mean 0, population variance 1 exactly) of law ``name``."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; use one of {DATASETS}")
    rs = np.random.RandomState(int(seed) * 7919 + DATASETS.index(name))
    if name == "gauss":
        x = rs.normal(size=n)
    elif name == "skew_neg":
        x = -(rs.exponential(size=n) - 1.0)
    elif name == "skew_pos":
        x = rs.exponential(size=n) - 1.0
    elif name == "heavy":
        x = rs.standard_t(3, size=n)
    else:
        raise ValueError(f"unknown data set {name!r}; use one of {DATASETS}")
    x = x - x.mean()
    return x / x.std()


def _moments(x: np.ndarray) -> dict:
    return {"skewness": float(np.mean(x ** 3)), "excess_kurtosis": float(np.mean(x ** 4) - 3.0),
            "min": float(x.min()), "max": float(x.max())}


def st_quantiles(n: int) -> np.ndarray:
    """The N-point quantile discretisation of N(0, 1): ``Φ⁻¹((j + ½)/N)``."""
    from scipy.special import ndtri

    return ndtri((np.arange(n) + 0.5) / n)


@functools.lru_cache(maxsize=64)
def _sgd_gradient(model: str, k: float, device: str = "cpu"):
    import sympy as sp

    from numerics.sgd import compile_per_sample_gradient

    x, th = sp.symbols("x theta", real=True)
    if model == "dw":
        loss = (k * th ** 2) ** 2 / 4 - k * th ** 2 / 2 + sp.sqrt(sp.nsimplify(k)) * x * th
    else:
        from numerics.landscapes import styblinski_tang_per_sample

        loss = styblinski_tang_per_sample(x, th, k=k)
    return compile_per_sample_gradient(loss, x, th, device=device)


def _numpy_gradient(model: str, k: float):
    r = math.sqrt(k)
    if model == "dw":
        return lambda t, x: k * k * t ** 3 - k * t + r * x
    # ∂_θ f(√kθ − x), f(u) = ½(u⁴ − 16u² + 5u)
    return lambda t, x: r * 0.5 * (4 * (r * t - x) ** 3 - 32 * (r * t - x) + 5)


def _landmarks(model: str, k: float) -> tuple[float, float, float, float]:
    """(start, boundary, grid lo, grid hi)."""
    r = math.sqrt(k)
    if model == "dw":
        return -1.0 / r, 0.0, -5.0 / r, 2.5 / r
    return ST_START / r, ST_BOUNDARY / r, -6.0 / r, 3.0 / r


def _chain_escape(model, k, lr, B, data, cell, method) -> dict:
    """Mean escape steps of the exact discrete-time chain (or its Gaussian-noise version)."""
    import scipy.sparse as sps

    from numerics import markov

    start, bound, lo, hi = _landmarks(model, k)
    # centres on a lattice through the boundary (the boundary is a centre: θ ≥ boundary is the target)
    n_lo = int(math.ceil((bound - lo) / cell))
    n_hi = int(math.ceil((hi - bound) / cell))
    grid = bound + cell * np.arange(-n_lo, n_hi + 1)
    g = _numpy_gradient(model, k)
    op = markov.transition_operator(g, data, lr=lr, batch_size=B, grid=grid, boundary="absorb", method=method,
                                    subcells=4, max_work=2e10, max_support=200_000)
    n = grid.size
    # put the mass leaving the grid back at the end on the side of the cell's mean step
    right = (grid - lr * op.mean_gradient) >= grid
    cols = np.where(right, n - 1, 0)
    P = (op.matrix + sps.csr_matrix((op.leak, (np.arange(n), cols)), shape=(n, n))).tocsr()
    basin = (grid >= start) & (grid < bound)
    esc = markov.mean_escape_time(P, grid, basin=(-np.inf, bound - 0.5 * cell), target=(bound - 0.25 * cell, np.inf))
    return {"steps": float(esc.at(start)), "method": op.method, "cells": int(n),
            "leak_basin": float(op.leak[basin].max()) if basin.any() else 0.0}


def _simulate(model, k, lr, B, data, config, seed, device="cpu") -> dict:
    from numerics.sgd import FiniteData, FirstPassage, gaussian_stream, simulate_sgd

    start, bound, _, _ = _landmarks(model, k)
    d = gaussian_stream() if data is None else FiniteData(data)
    res = simulate_sgd(_sgd_gradient(model, float(k), str(device)), data=d, lr=lr, batch_size=B, n_chains=config.n_chains,
                       n_steps=config.max_steps, start=[start], observers=[FirstPassage(upper=bound, absorbing=True)],
                       seed=seed, device=str(device), max_abs=1e4)
    p = res.passage[0]
    return {"mean_steps": float(p["mean_steps"]), "se_steps": float(p["se_steps"]), "n_censored": int(p["n_censored"]),
            "steps_run": int(res.steps_run), "chain_steps_per_s": float(res.chain_steps_per_s)}


# --------------------------------------------------------------------------------------------------
# measurement (simulator and the exact chain: both need the same training set)
# --------------------------------------------------------------------------------------------------
def measure(config: SgdEscapeDiscreteConfig, device="auto", *, progress: bool = False, checkpoint=None) -> dict:
    """Simulate every point on ``device`` and compute the exact chain's escape time (NumPy/SciPy,
    CPU) on the same data. Point ``i`` of the run order is seeded ``seed + i`` and checkpointed."""
    from numerics.devices import device_fields
    from validation.checkpoint import cached

    raw = {**device_fields(device), "device_requested": str(device), "datasets": {}, "double_well": {},
           "styblinski_tang": {}}
    seed = config.seed
    for name in config.datasets:
        data = dataset(name, config.n_data, config.seed)
        raw["datasets"][name] = _moments(data)
        raw["double_well"][name] = {}
        for sweep in DW_SWEEPS:
            pts = []
            for i, pt in enumerate(config.dw_points(sweep)):
                def one(pt=pt, seed=seed, data=data):
                    sim = _simulate("dw", pt["k"], pt["lr"], pt["batch"], data, config, seed, device)
                    ch = _chain_escape("dw", pt["k"], pt["lr"], pt["batch"], data, config.cell,
                                       "exact" if pt["batch"] == 1 else "binned")
                    chg = _chain_escape("dw", pt["k"], pt["lr"], pt["batch"], data, config.cell, "gaussian")
                    return {**pt, **sim, "chain_steps": ch["steps"], "chain_method": ch["method"],
                            "chain_leak_basin": ch["leak_basin"], "chain_gauss_steps": chg["steps"]}

                pts.append(cached(checkpoint, ["dw", name, sweep, i], one))
                seed += 1
            raw["double_well"][name][sweep] = pts
    q = st_quantiles(config.n_data)
    raw["st_quantiles"] = _moments(q)
    for sweep in ST_SWEEPS:
        pts = []
        for i, pt in enumerate(config.st_points(sweep)):
            def one(pt=pt, seed=seed):
                stream = _simulate("st", pt["k"], pt["lr"], 1, None, config, seed, device)
                fin = _simulate("st", pt["k"], pt["lr"], 1, q, config, seed + 100_000, device)
                ch = _chain_escape("st", pt["k"], pt["lr"], 1, q, config.cell, "exact")
                chg = _chain_escape("st", pt["k"], pt["lr"], 1, q, config.cell, "gaussian")
                return {**pt, **fin, "stream_mean_steps": stream["mean_steps"], "stream_se_steps": stream["se_steps"],
                        "stream_n_censored": stream["n_censored"], "stream_steps_run": stream["steps_run"],
                        "chain_steps": ch["steps"], "chain_method": ch["method"], "chain_leak_basin": ch["leak_basin"],
                        "chain_gauss_steps": chg["steps"]}

            pts.append(cached(checkpoint, ["st", sweep, i], one))
            seed += 1
        raw["styblinski_tang"][sweep] = pts
    return raw


# --------------------------------------------------------------------------------------------------
# theory: the diffusion limit's exact MFPT and DT.thm3.2's slope interval
# --------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=128)
def _dw_log_steps(k: float, lr: float, B: int) -> float:
    import sympy as sp

    from numerics.first_passage import mean_first_passage_time_1d

    th = sp.Symbol("theta", real=True)
    U = (k * th ** 2) ** 2 / 4 - k * th ** 2 / 2
    start, bound, lo, _ = _landmarks("dw", k)
    log_tau = mean_first_passage_time_1d(U, float(k), th, start, bound, lr / B, reflect_at=lo, log=True)
    return log_tau - math.log(lr)


@functools.lru_cache(maxsize=4)
def _st_landmarks() -> tuple[float, float, float]:
    """(ΔL, H_a, |H_b|) of the population Styblinski–Tang loss at k = 1."""
    import sympy as sp

    from validation.experiments.escape_rates import population_loss_and_diffusion

    U, _, th = population_loss_and_diffusion(1.0)
    roots = sorted(float(sp.re(r)) for r in sp.Poly(sp.diff(U, th), th).nroots() if abs(sp.im(r)) < 1e-9)
    a, b = roots[0], roots[1]
    f = sp.lambdify(th, U)
    h = sp.lambdify(th, sp.diff(U, th, 2))
    return float(f(b) - f(a)), float(h(a)), abs(float(h(b)))


def dt_slope_interval(model: str, sweep: str, point: dict) -> list[float]:
    """DT.thm3.2's slope interval (s ∈ (0, 1)) of −log γ against the sweep's regressor."""
    if model == "dw":
        dL, Ha1, Hb1 = 0.25, 2.0, 1.0  # curvatures at k = 1 (they scale ∝ k)
    else:
        dL, Ha1, Hb1 = _st_landmarks()
    k, lr, B = point["k"], point["lr"], point["batch"]
    inv = sorted((1.0 / Ha1, 1.0 / Hb1))
    if sweep == "batch_size":
        f = 2 * dL / lr / k
    elif sweep == "learning_rate":
        f = 2 * B * dL / k
    elif sweep == "sharpness":
        f = 2 * B * dL / lr
    else:
        raise ValueError(f"unknown sweep {sweep!r}")
    return [f * inv[0], f * inv[1]]


def dt_printed_log_steps(constants, point: dict, s: float) -> float:
    """log of DT.thm3.2's printed mean escape time in iterations at one point, for path parameter s:
    ``τ = 2π|H_b|⁻¹ exp[(2BΔL/η)(s/H_a + (1 − s)/|H_b|)]`` with the curvatures ∝ k
    (``H = k·H¹``), in iterations ``τ/η`` (the time of the SDE is η × iterations)."""
    dL, Ha1, Hb1 = constants
    k, lr, B = point["k"], point["lr"], point["batch"]
    Ha, Hb = k * Ha1, k * Hb1
    return math.log(2 * math.pi / Hb) + (2 * B * dL / lr) * (s / Ha + (1 - s) / Hb) - math.log(lr)


def chain_prop1(data, k: float, lr: float, B: int, cell: float) -> dict:
    """DT.prop1 on the exact discrete-time chain of the double well: the stationary occupancies of the
    two valleys (θ < 0, θ ≥ 0) and the mean escape times from each minimum over the barrier.

    Grid: ``[−2.2, 2.2]/√k`` (beyond it SGD overshoots ever farther: the stationary law needs a grid
    the chain does not leave); the rare mass that a step takes off the grid stays in its cell
    (``leak_max`` records the largest such mass)."""
    import scipy.sparse as sps

    from numerics import markov

    r = math.sqrt(k)
    m = int(round(2.2 / r / cell))
    grid = cell * np.arange(-m, m + 1)
    op = markov.transition_operator(_numpy_gradient("dw", k), data, lr=lr, batch_size=B, grid=grid, boundary="absorb",
                                    method="exact" if B == 1 else "binned", subcells=4, max_work=2e10)
    P = (op.matrix + sps.diags(op.leak)).tocsr()
    occ = markov.basin_occupancy(markov.stationary_law(P, grid=grid), grid, edges=(0.0,))
    t_left = markov.mean_escape_time(P, grid, basin=(-np.inf, -0.5 * cell), target=(-0.25 * cell, np.inf)).at(-1 / r)
    t_right = markov.mean_escape_time(P, grid, basin=(0.5 * cell, np.inf), target=(-np.inf, 0.25 * cell)).at(1 / r)
    return {"occupancy_left": float(occ[0]), "occupancy_right": float(occ[1]), "escape_left": float(t_left),
            "escape_right": float(t_right), "leak_max": float(op.leak.max())}


def predict(config: SgdEscapeDiscreteConfig) -> dict:
    """log(diffusion-limit mean escape steps) at every point, DT.thm3.2's slope intervals, and DT.prop1
    on the exact chain at the batch sweep's points (:func:`chain_prop1`)."""
    from validation.experiments.escape_rates import predict_log_steps

    dw = {s: [_dw_log_steps(p["k"], p["lr"], p["batch"]) for p in config.dw_points(s)] for s in DW_SWEEPS}
    st = {s: [predict_log_steps(p["k"], p["lr"], 1, 1) for p in config.st_points(s)] for s in ST_SWEEPS}
    dt_dw = {s: dt_slope_interval("dw", s, config.dw_points(s)[0]) for s in DW_SWEEPS}
    dt_st = {s: dt_slope_interval("st", s, config.st_points(s)[0]) for s in ST_SWEEPS}
    return {"diffusion_log_steps": {"double_well": dw, "styblinski_tang": st},
            "dt_slope_interval": {"double_well": dt_dw, "styblinski_tang": dt_st},
            "dt_constants": {"double_well": [0.25, 2.0, 1.0], "styblinski_tang": list(_st_landmarks())},
            "prop1": {name: [{**p, **chain_prop1(dataset(name, config.n_data, config.seed), p["k"], p["lr"], p["batch"],
                                                 config.cell)} for p in config.dw_points("batch_size")]
                      for name in config.datasets},
            "model": "exact 1-D MFPT of dθ = −U′dt + sqrt((λ/B)D)dW (double well: U = (kθ²)²/4 − kθ²/2, D = k; "
                     "Styblinski–Tang: population U, D), in steps τ/λ"}


# --------------------------------------------------------------------------------------------------
# comparison (pure)
# --------------------------------------------------------------------------------------------------
def _fit(xs, ys) -> dict:
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    r = float(np.corrcoef(xs, ys)[0, 1])
    slope, intercept = np.polyfit(xs, ys, 1)
    return {"pearson_r": r, "slope": float(slope), "intercept": float(intercept)}


def _slope_se(xs, se) -> float:
    """Standard error of the least-squares slope from the points' standard errors."""
    xs, se = np.asarray(xs, float), np.asarray(se, float)
    d = xs - xs.mean()
    return float(math.sqrt(np.sum((d * se) ** 2)) / np.sum(d * d))


def _sweep_metrics(config, pts, diffusion, interval, regressor, *, stream: bool, constants=None) -> dict:
    xs = [p["x"] for p in pts]
    sim = [math.log(p["mean_steps"]) for p in pts]
    se = [p["se_steps"] / p["mean_steps"] for p in pts]
    chain = [math.log(p["chain_steps"]) for p in pts]
    gauss = [math.log(p["chain_gauss_steps"]) for p in pts]
    ratio = [p["chain_steps"] / p["mean_steps"] for p in pts]
    z = [(p["chain_steps"] - p["mean_steps"]) / p["se_steps"] for p in pts]
    ln10 = math.log(10.0)
    fits = {"simulator": _fit(xs, sim), "chain": _fit(xs, chain), "chain_gaussian": _fit(xs, gauss),
            "diffusion": _fit(xs, diffusion)}
    out = {
        "regressor": regressor, "x": xs,
        "neg_log_gamma": {"simulator": sim, "chain": chain, "chain_gaussian": gauss, "diffusion": list(diffusion)},
        "neg_log_gamma_se": se,
        "fits": fits,
        "dt_slope_interval": list(interval),
        "slope_in_dt_interval": {key: bool(interval[0] <= f["slope"] <= interval[1]) for key, f in fits.items()},
        "simulator_slope_se": _slope_se(xs, se),
        "linear": bool(fits["simulator"]["pearson_r"] > config.pearson_tolerance),
        "chain_over_simulator": ratio,
        "chain_z": z,
        "chain_within_tol": [bool(abs(v - 1.0) <= config.escape_rel_tol) for v in ratio],
        "log10_simulator_over_diffusion": [(a - b) / ln10 for a, b in zip(sim, diffusion)],
        "log10_chain_over_chain_gaussian": [(a - b) / ln10 for a, b in zip(chain, gauss)],
        "log10_chain_gaussian_over_diffusion": [(a - b) / ln10 for a, b in zip(gauss, diffusion)],
        "n_censored": sum(p["n_censored"] for p in pts),
        "chain_leak_basin_max": max(p["chain_leak_basin"] for p in pts),
    }
    if constants is not None:
        # the printed formula itself (prefactor 2π/|H_b| and iterations τ/η included) at s = 0 and 1
        ends = [_fit(xs, [dt_printed_log_steps(constants, p, sv) for p in pts])["slope"] for sv in (0.0, 1.0)]
        lo, hi = min(ends), max(ends)
        sse = out["simulator_slope_se"]
        out["dt_printed_slope_interval"] = [lo, hi]
        out["simulator_in_printed_interval"] = bool(lo - 2 * sse <= fits["simulator"]["slope"] <= hi + 2 * sse)
        out["diffusion_in_printed_interval"] = bool(lo <= fits["diffusion"]["slope"] <= hi)
    if stream:
        out["neg_log_gamma"]["stream"] = [math.log(p["stream_mean_steps"]) for p in pts]
        out["stream_over_finite"] = [p["stream_mean_steps"] / p["mean_steps"] for p in pts]
        out["log10_stream_over_diffusion"] = [(math.log(p["stream_mean_steps"]) - b) / ln10
                                              for p, b in zip(pts, diffusion)]
    return out


def compare(config: SgdEscapeDiscreteConfig, prediction: dict, raw: dict) -> dict:
    """Per model and sweep: the four −log γ, fits, DT interval, chain/simulator ratios and the
    log10 gaps; a summary (settings where the chain matches the simulator within the tolerance)."""
    diff, dt = prediction["diffusion_log_steps"], prediction["dt_slope_interval"]
    const = prediction.get("dt_constants", {})
    dw = {name: {s: _sweep_metrics(config, raw["double_well"][name][s], diff["double_well"][s],
                                   dt["double_well"][s], DW_SWEEPS[s], stream=False,
                                   constants=const.get("double_well")) for s in DW_SWEEPS}
          for name in config.datasets}
    st = {s: _sweep_metrics(config, raw["styblinski_tang"][s], diff["styblinski_tang"][s], dt["styblinski_tang"][s],
                            ST_SWEEPS[s], stream=True, constants=const.get("styblinski_tang")) for s in ST_SWEEPS}
    settings = {f"double_well/{n}/{s}": m for n, ms in dw.items() for s, m in ms.items()}
    settings.update({f"styblinski_tang/{s}": m for s, m in st.items()})
    matched = sorted(k for k, m in settings.items() if all(m["chain_within_tol"]))
    ratios = [v for m in settings.values() for v in m["chain_over_simulator"]]
    gaps = {k: [min(m["log10_simulator_over_diffusion"]), max(m["log10_simulator_over_diffusion"])]
            for k, m in settings.items()}
    st_gap = [v for m in st.values() for v in m["log10_stream_over_diffusion"]]
    tail = {k: [min(m["log10_chain_over_chain_gaussian"]), max(m["log10_chain_over_chain_gaussian"])]
            for k, m in settings.items()}
    step = {k: [min(m["log10_chain_gaussian_over_diffusion"]), max(m["log10_chain_gaussian_over_diffusion"])]
            for k, m in settings.items()}
    summary = {
        "n_settings": len(settings), "n_points": len(ratios),
        "settings_chain_within_tol": matched, "n_settings_chain_within_tol": len(matched),
        "n_points_chain_within_tol": sum(abs(v - 1) <= config.escape_rel_tol for v in ratios),
        "chain_over_simulator_range": [min(ratios), max(ratios)],
        "max_abs_chain_z": max(abs(v) for m in settings.values() for v in m["chain_z"]),
        "log10_simulator_over_diffusion_range": gaps,
        "log10_stream_over_diffusion_styblinski_tang": [min(st_gap), max(st_gap)],
        "log10_chain_over_chain_gaussian_range": tail,
        "log10_chain_gaussian_over_diffusion_range": step,
        "all_simulator_linear": all(m["linear"] for m in settings.values()),
        "min_simulator_pearson_r": min(m["fits"]["simulator"]["pearson_r"] for m in settings.values()),
    }
    prop1 = {}
    for name, pts in prediction.get("prop1", {}).items():
        prop1[name] = [{"B": p["batch"], "log_odds_occupancy": math.log(p["occupancy_left"] / p["occupancy_right"]),
                        "log_ratio_escape": math.log(p["escape_left"] / p["escape_right"]),
                        "min_escape_steps": min(p["escape_left"], p["escape_right"]), "leak_max": p["leak_max"]}
                       for p in pts]
        for q in prop1[name]:
            q["difference"] = q["log_odds_occupancy"] - q["log_ratio_escape"]
    return {"escape_rel_tol": config.escape_rel_tol, "pearson_tolerance": config.pearson_tolerance,
            "datasets": raw["datasets"], "double_well": dw, "styblinski_tang": st, "summary": summary,
            "prop1": prop1}


# --------------------------------------------------------------------------------------------------
def _summary(rec):
    s = rec["metrics"]["summary"]
    yield (f"chain within {rec['metrics']['escape_rel_tol']:.0%} of the simulator on "
           f"{s['n_settings_chain_within_tol']}/{s['n_settings']} settings ({s['n_points_chain_within_tol']}/"
           f"{s['n_points']} points; ratio range {[round(v, 3) for v in s['chain_over_simulator_range']]})")
    yield f"log10 simulator/diffusion: {{{', '.join(f'{k}: {v[0]:.1f}..{v[1]:.1f}' for k, v in s['log10_simulator_over_diffusion_range'].items())}}}"
    yield f"log10 chain/Gaussian chain: {{{', '.join(f'{k}: {v[0]:.2f}..{v[1]:.2f}' for k, v in s['log10_chain_over_chain_gaussian_range'].items())}}}"


def _work(config, raw) -> tuple:
    n = 0
    for ds in raw["double_well"].values():
        for pts in ds.values():
            n += sum(config.n_chains * p["steps_run"] for p in pts)
    for pts in raw["styblinski_tang"].values():
        n += sum(config.n_chains * (p["steps_run"] + p["stream_steps_run"]) for p in pts)
    return n, "chain-steps"


EXPERIMENT = Experiment(
    name="sgd_escape_discrete", claims=("DT.sec4", "DT.thm3.2", "DT.thm3.1", "DT.prop1"),
    config_type=SgdEscapeDiscreteConfig, SMALL=SMALL, FULL=FULL, GPU=GPU, measure=measure,
    predict=lambda cfg, raw: predict(cfg), compare=compare, record_stem="sgd_escape_discrete",
    estimates={"small": {"cpu": 20, "gpu": 15}, "full": {"cpu": 400, "gpu": 120}, "gpu": {"cpu": 6000, "gpu": 180}},
    description="Escape times of SGD in discrete time: simulator vs the diffusion limit's exact MFPT vs the exact "
                "discrete-time Markov chain (and its Gaussian-noise version), on a finite-data double well with four "
                "data laws and on DT's Styblinski–Tang setting.",
    summary=_summary, inputs=source_file(__file__), work=_work)


def main(argv=None) -> int:
    """``python -m validation.experiments.sgd_escape_discrete ARGS`` = ``python -m validation run
    sgd_escape_discrete ARGS``."""
    from validation.__main__ import run_main

    return run_main(EXPERIMENT.name, argv)


if __name__ == "__main__":
    raise SystemExit(main())
