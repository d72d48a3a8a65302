"""SGD's stationary law, basin occupancy and temperature invariance, measured (SC.eq5, RND.eq19,
SC.eq6, RND.eq20, SC.eq10).  SC.fig5 and TF.4.1 (test loss and sharpness of trained networks vs T)
are not claims of this 1-D model: ``temperature_scan`` judges them.

Model (1-D, per-sample, finite training set of N samples, minibatches drawn with replacement)::

    f(θ, x) = θ⁴/4 − θ²/2 + c·θ + s·x·(θ + a·log cosh θ)

so the per-sample gradient is ``U'(θ) + s·x·(1 + a·tanh θ)`` with the data centred (Σx = 0) and
standardised (Var x = 1): the train loss is the tilted double well ``U = θ⁴/4 − θ²/2 + cθ`` (the
left minimum deeper for c > 0) and the per-sample gradient variance is
``D(θ) = s²(1 + a tanh θ)²`` — not constant: for a < 0 it is about ``((1 − a)/(1 + a))² ≈ 9``
times larger in the left basin than in the right one, so the law of SC.eq5 (v = ∫(U' + (T/2)D')/D)
and the constant-D Boltzmann law ``exp(−2U/(T D₀))`` put their mass in opposite basins.  Two data
sets: *symmetric* (samples ±z: per-sample gradients without third cumulant) and *skewed* (a centred
exponential sample: skewness ≈ 2), to separate the two known regimes of the chain
(:mod:`numerics.markov` docstring: with skewed per-sample gradients the chain's basin log-odds
differ from the diffusion law's by an amount ∝ κ₃/T).

- **measure**: :func:`numerics.sgd.simulate_sgd` chains (started evenly spread on [−1.5, 1.5]),
  each run for ``burn_in_time/λ`` steps of burn-in and ``window_time/λ`` steps of sampling window
  (equal times λ·steps at every λ: the time rescaling of SC.eq10), with a histogram, the basin
  occupancy (edge: the local maximum of U) and the convergence diagnostics; a diverged run is
  recorded as diverged (the breaking point), never dropped.  Runs: the *law* runs at
  ``law_lr`` with B ∈ ``law_batches`` (≥ 5 temperatures T = λ/B) on both data sets, and the
  *invariance* runs on the symmetric data at each T ∈ ``invariance_temperatures`` for every
  B ∈ ``invariance_batches`` (λ = T·B).
- **predict**: on a fine grid of cells aligned with the histogram bins, (1) the exact discrete-time
  chain (:func:`numerics.markov.transition_operator` → :func:`~numerics.markov.stationary_law`,
  its relaxation time too), (2) the diffusion law SC.eq5 / RND.eq19 with the per-sample D(θ)
  (:func:`numerics.markov.diffusion_law`), (3) the first-order modified-equation law
  (:func:`numerics.markov.modified_equation_law`), (4) the constant-D Boltzmann law with D₀ = D at
  the global minimum of U; basin occupancy of each, and the Laplace weights SC.eq6 (at the minima
  of v, curvature of v) and RND.eq20 (at the minima of U: e^{−2ṽ/T} e^{−ã} sqrt(D/U'')).
- **compare** (pure): total-variation distance of every prediction to every measured histogram,
  with its sampling floor and standard error from the run's effective sample size (the smallest
  ESS of the simulator's group diagnostics: ``floor = ½Σ_k sqrt(2 p_k(1−p_k)/(π·ESS))``, the TV a
  perfect prediction would show, ``se = ½ sqrt((1 − 2/π) Σ_k p_k(1−p_k)/ESS)``); occupancy vs
  exact / Laplace weights; invariance (each pair's law vs the pair with the smallest λ at the same
  T); the breaking-point λ (first λ at which the measured TV to the smallest-λ law exceeds
  ``tv_tolerance`` beyond the floor, linearly interpolated) vs the same λ for the modified-equation
  and discrete-chain predictions; the invariance test below.  Runs whose diagnostics say "not converged" are flagged and kept
  out of every agreement count.

**The invariance test (SC.eq10), pre-registered.**  At fixed T the step cumulants per unit time,
T^{k−1}κ_k, are functions of T only, so (λ, B) pairs at equal T differ only through the O(λ) terms
of the modified equation (λU″ …); with B ≥ 1 an integer, λ = T·B ≥ T, so on this model the O(λ)
difference between B = 1, 2, 3 is TV ≈ 0.5·T (exact chain at T = 0.025: 0.0069 / 0.0141 / 0.0072
for the pairs 1–2 / 1–3 / 2–3; modified equation 0.0063 / 0.0124 / 0.0061; at T = 0.02: 0.0053 /
0.0109 / 0.0056 and 0.0052 / 0.0102 / 0.0050), while below T ≈ 0.02 the chains relax too slowly
(relaxation time 18 at T = 0.02, 63 at T = 0.0125, in units of λ·steps) for a CPU record.  At 10⁵
chains per pair the sampling resolution (≈ 0.004 TV) resolves that difference — the strict reading
fails there by design of the measurement, not of the claim.  So the test is placed where theory says
the O(λ) difference is *below* the resolution: these predictions were computed before measuring.
Sizing: a first plan scaled the 10⁵-chain record's ESS-based floors (TV ≈ 0.0035·sqrt(10⁵/n)) and
chose 1600 chains; a noise-only pilot (8 replicates × 200 chains at T = 0.025, B = 1, its own seed,
no pair compared) gave a resolution of 0.0103 — the smallest-ESS floor overstates the per-bin noise
about 3× (it is the slow between-basin mode's ESS; bins inside a basin mix in ~1 time unit) — so at
1600 chains the predicted O(λ) difference 0.0141 would be resolved.  The record's test therefore runs
``invariance_test_chains`` = 512 chains per pair with a window ``invariance_test_window_time`` = 20:
predicted resolution 0.0103·sqrt(1600·60/(512·20)) ≈ 0.032, above twice the predicted difference.
Each pair runs as ``replicates`` independent sub-runs (burn-in
``invariance_test_burn_in_time`` ≥ 6 relaxation times of the exact chain, the run's usability
criterion); the k-sample permutation test (:func:`permutation_test`: largest TV between the pairs'
mean histograms; replicate labels permuted, fixed seed) at α = ``alpha``.  The premise is checked
on the sample: the predicted statistic (max of chain and modified equation) ≤ ½ the null's median.
Power: the same test on the smallest-λ pair vs the control B = ``invariance_test_control_batch``
must reject wherever the chain predicts the control's O(λ) difference to be ≥ 2× the resolution
(at T = 0.025: 0.078 against ≈ 0.032), and at least one control must be so predicted — the test can
fail.  A B-dependence
beyond the O(λ) terms (anything that makes the law depend on λ, B other than through T at small λ)
larger than the resolution makes it fail.

``python -m validation run sgd_stationary --out validation/data/sgd_stationary_cpu.json``.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from validation.experiments._protocol import Experiment, source_file

__all__ = ["SGDStationaryConfig", "SMALL", "FULL", "GPU", "EXPERIMENT", "measure", "predict", "compare",
           "run", "run_specs", "model", "invariance_test_specs", "permutation_test"]

DATA_KINDS = ("symmetric", "skewed")


@dataclass(frozen=True)
class SGDStationaryConfig:
    """Model, runs and tolerances (module docstring)."""

    n_chains: int = 100_000
    burn_in_time: float = 60.0
    window_time: float = 60.0
    seed: int = 0
    tilt: float = 0.1
    noise_shape: float = -0.5
    noise_scale: float = 3.5
    n_samples: int = 20
    data_seed: int = 1
    law_lr: float = 0.1
    law_batches: tuple[int, ...] = (1, 2, 3, 4, 5)
    invariance_temperatures: tuple[float, ...] = (0.05, 0.025)
    invariance_batches: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 10)
    hist_range: tuple[float, float] = (-4.0, 4.0)
    bins: int = 64
    cells_per_bin: int = 8
    tv_tolerance: float = 0.02
    transient_chains: int = 100_000
    transient_batches: tuple[int, ...] = (1, 2, 3, 4)
    transient_max_time: float = 150.0
    invariance_test_temperatures: tuple[float, ...] = (0.025, 0.02)
    invariance_test_batches: tuple[int, ...] = (1, 2, 3)
    invariance_test_control_batch: int = 10
    invariance_test_chains: int = 512
    invariance_test_burn_in_time: float = 120.0
    invariance_test_window_time: float = 20.0
    replicates: int = 8
    alpha: float = 0.01
    n_permutations: int = 4000

    def __post_init__(self):
        if self.n_chains < 64:
            raise ValueError(f"n_chains must be >= 64 (the diagnostics deal the chains into 16 groups); "
                             f"got {self.n_chains}")
        for name in ("burn_in_time", "window_time", "law_lr", "noise_scale", "tv_tolerance"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0; got {getattr(self, name)}")
        if not -1 < self.noise_shape < 1:
            raise ValueError(f"noise_shape a must lie in (−1, 1) so that D = s²(1 + a tanh θ)² > 0; "
                             f"got {self.noise_shape}")
        if self.n_samples < 4 or self.n_samples % 2:
            raise ValueError(f"n_samples must be an even integer >= 4 (the symmetric data are ±z); "
                             f"got {self.n_samples}")
        if len(set(self.law_batches)) < 5 or any(b < 1 for b in self.law_batches):
            raise ValueError(f"law_batches needs >= 5 distinct batch sizes >= 1 (>= 5 temperatures); "
                             f"got {self.law_batches}")
        if len(self.invariance_temperatures) < 2 or any(t <= 0 for t in self.invariance_temperatures):
            raise ValueError("invariance_temperatures needs >= 2 temperatures > 0 (a breaking point at >= 2 T)")
        if len(set(self.invariance_batches)) < 3 or any(b < 1 for b in self.invariance_batches):
            raise ValueError(f"invariance_batches needs >= 3 distinct batch sizes >= 1 (>= 3 (λ = T·B, B) pairs "
                             f"per T); got {self.invariance_batches}")
        lo, hi = self.hist_range
        if not hi > lo:
            raise ValueError(f"hist_range must be (lo, hi) with hi > lo; got {self.hist_range}")
        if self.bins < 10 or self.cells_per_bin < 1:
            raise ValueError("bins must be >= 10 and cells_per_bin >= 1")
        if self.transient_chains < 2 or not self.transient_max_time > 0:
            raise ValueError("transient_chains must be >= 2 and transient_max_time > 0")
        if len(self.invariance_test_temperatures) < 2 or any(t <= 0 for t in self.invariance_test_temperatures):
            raise ValueError("invariance_test_temperatures needs >= 2 temperatures > 0 (the invariance test at >= 2 T)")
        if len(set(self.invariance_test_batches)) < 3 or any(b < 1 for b in self.invariance_test_batches):
            raise ValueError(f"invariance_test_batches needs >= 3 distinct batch sizes >= 1 (>= 3 (λ, B) pairs per T); "
                             f"got {self.invariance_test_batches}")
        if self.invariance_test_control_batch <= max(self.invariance_test_batches):
            raise ValueError(f"invariance_test_control_batch must exceed every invariance_test_batches entry (the power "
                             f"control is a pair whose O(λ) change is predicted to be resolved); got "
                             f"{self.invariance_test_control_batch}")
        if self.replicates < 4 or self.invariance_test_chains < 64 * self.replicates:
            raise ValueError(f"replicates must be >= 4 and invariance_test_chains >= 64·replicates (each replicate runs "
                             f">= 64 chains for its diagnostics); got {self.replicates}, {self.invariance_test_chains}")
        if 2 / math.comb(2 * self.replicates, self.replicates) >= self.alpha:
            raise ValueError(f"with {self.replicates} replicates per pair the two-pair permutation test cannot reach "
                             f"p < alpha = {self.alpha} (its smallest p is 2/C(2R, R) = "
                             f"{2 / math.comb(2 * self.replicates, self.replicates):.3g}): raise replicates")
        if not 0 < self.alpha < 0.5 or self.n_permutations < 100:
            raise ValueError(f"alpha must lie in (0, 0.5) and n_permutations be >= 100; got {self.alpha}, "
                             f"{self.n_permutations}")
        if not self.invariance_test_burn_in_time > 0 or not self.invariance_test_window_time > 0:
            raise ValueError("invariance_test_burn_in_time and invariance_test_window_time must be > 0")
        if len(set(self.transient_batches)) < 3 or any(b < 1 for b in self.transient_batches):
            raise ValueError(f"transient_batches needs >= 3 distinct batch sizes >= 1 (>= 3 (λ = T·B, B) pairs per T "
                             f"for the time rescaling λ₁n₁ = λ₂n₂); got {self.transient_batches}")


#: the committed CPU record: 10⁵ chains per run, 24 stationary runs + 8 transients (≈ 8 min on one loaded CPU core)
FULL = SGDStationaryConfig(cells_per_bin=16)
#: live in the tests and the ledger: 4000 chains, short windows, 5 temperatures, 3 pairs per T
SMALL = SGDStationaryConfig(n_chains=2000, burn_in_time=30.0, window_time=20.0, law_lr=0.1,
                            invariance_temperatures=(0.05, 0.025), invariance_batches=(1, 2, 3), bins=32,
                            transient_chains=1000, transient_batches=(1, 2, 3), transient_max_time=80.0,
                            invariance_test_temperatures=(0.05, 0.04), replicates=6, invariance_test_chains=384, invariance_test_control_batch=4,
                            invariance_test_burn_in_time=40.0, invariance_test_window_time=10.0,
                            n_permutations=500)
#: one H100/H200, about 2–3 min (untested: no GPU in this session): 10⁶ chains, longer windows, a finer B ladder;
#: the invariance test keeps FULL's size — its regime is set by the resolution (more chains would resolve the O(λ) terms)
GPU = SGDStationaryConfig(n_chains=1_000_000, burn_in_time=80.0, window_time=100.0, cells_per_bin=16,
                          invariance_batches=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12))


# --------------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def model(tilt: float, noise_shape: float, noise_scale: float):
    """``(f, x, θ)``: the per-sample loss (SymPy) and its symbols (module docstring)."""
    import sympy as sp

    th, x = sp.symbols("theta x", real=True)
    f = (th ** 4 / 4 - th ** 2 / 2 + sp.nsimplify(tilt) * th
         + sp.Float(noise_scale) * x * (th + sp.Float(noise_shape) * sp.log(sp.cosh(th))))
    return f, x, th


def _data(config: SGDStationaryConfig, kind: str) -> np.ndarray:
    """The N training samples, centred and standardised (population variance 1)."""
    rng = np.random.default_rng(config.data_seed)
    if kind == "symmetric":
        z = rng.standard_normal(config.n_samples // 2)
        z = np.concatenate([z, -z])
    elif kind == "skewed":
        z = rng.exponential(1.0, config.n_samples)
        z = z - z.mean()
    else:
        raise ValueError(f"unknown data kind {kind!r}; use one of {DATA_KINDS}")
    return z / z.std()


def _edge(config: SGDStationaryConfig) -> float:
    """The local maximum of U = θ⁴/4 − θ²/2 + cθ (the basin boundary): the middle root of U'."""
    r = np.sort(np.roots([1.0, 0.0, -1.0, config.tilt]).real)
    return float(r[1])


def _minima(config: SGDStationaryConfig) -> tuple:
    r = np.sort(np.roots([1.0, 0.0, -1.0, config.tilt]).real)
    return float(r[0]), float(r[2])


def run_specs(config: SGDStationaryConfig) -> list[dict]:
    """Every run, deduplicated: ``{"data", "lr", "batch", "T", "roles"}`` (roles: ``law``,
    ``invariance``)."""
    specs: dict = {}

    def add(kind, lr, B, role):
        key = (kind, round(float(lr), 12), int(B))
        s = specs.setdefault(key, {"data": kind, "lr": float(lr), "batch": int(B), "T": float(lr) / int(B),
                                   "roles": []})
        if role not in s["roles"]:
            s["roles"].append(role)

    for kind in DATA_KINDS:
        for B in config.law_batches:
            add(kind, config.law_lr, B, "law")
    for T in config.invariance_temperatures:
        for B in config.invariance_batches:
            add("symmetric", round(T * B, 12), B, "invariance")
    return list(specs.values())


# --------------------------------------------------------------------------------------------------
# measurement
# --------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _compiled(tilt, noise_shape, noise_scale, device):
    from numerics.sgd import compile_per_sample_gradient

    f, x, th = model(tilt, noise_shape, noise_scale)
    return compile_per_sample_gradient(f, x, th, device=device)


def _one_run(config, spec, seed, device, progress):
    from numerics.sgd import FiniteData, Histogram1D, Occupancy, SGDDivergedError, simulate_sgd

    lr, B = spec["lr"], spec["batch"]
    burn = int(math.ceil(config.burn_in_time / lr))
    window = int(math.ceil(config.window_time / lr))
    lo, hi = config.hist_range
    start = np.linspace(-1.5, 1.5, config.n_chains)[:, None]
    g = _compiled(config.tilt, config.noise_shape, config.noise_scale, str(device))
    out = {**{k: spec[k] for k in ("data", "lr", "batch", "T", "roles")}, "burn_in": burn,
           "n_steps": burn + window}
    try:
        res = simulate_sgd(g, data=FiniteData(_data(config, spec["data"])), lr=lr, batch_size=B,
                           n_chains=config.n_chains, n_steps=burn + window, burn_in=burn, start=start,
                           observers=[Histogram1D(lo, hi, config.bins), Occupancy([_edge(config)])],
                           seed=seed, device=device, max_abs=50.0)
    except SGDDivergedError as exc:
        return {**out, "diverged": True, "diverged_message": str(exc)}
    h, occ = res.histograms[0], res.occupancy[0]
    d = res.diagnostics.summary()
    return {**out, "diverged": False, "counts": [float(v) for v in h["counts"]], "below": h["below"],
            "above": h["above"], "n_samples": h["n_samples"],
            "occupancy": [float(v) for v in occ["fractions"]],
            "converged": bool(res.converged), "reasons": list(d["reasons"]),
            "min_ess": float(min(d["ess"].values())), "max_rhat": float(max(d["rhat"].values())),
            "occupancy_drift": d["drift"], "chain_steps": int(res.chain_steps), "seconds": float(res.seconds),
            "device": res.device, "path": res.path}


def transient_specs(config: SGDStationaryConfig) -> list[dict]:
    """The transient runs: symmetric data, each invariance T, B ∈ ``transient_batches`` (λ = T·B)."""
    return [{"data": "symmetric", "lr": round(T * B, 12), "batch": int(B), "T": float(T)}
            for T in config.invariance_temperatures for B in config.transient_batches]


def invariance_test_specs(config: SGDStationaryConfig) -> list[dict]:
    """The invariance-test runs (symmetric data): at each T ∈ ``invariance_test_temperatures`` every
    B ∈ ``invariance_test_batches`` (role ``pair``) and the power control B = ``invariance_test_control_batch``
    (role ``control``), λ = T·B; each run is ``replicates`` independent sub-runs."""
    return [{"data": "symmetric", "lr": round(T * B, 12), "batch": int(B), "T": float(T),
             "role": "control" if B == config.invariance_test_control_batch else "pair"}
            for T in config.invariance_test_temperatures
            for B in (*config.invariance_test_batches, config.invariance_test_control_batch)]


def _one_test_run(config, spec, seed, device):
    """``replicates`` independent sub-runs of ``invariance_test_chains / replicates`` chains (sub-run r
    seeded ``seed + r``), burn-in ``invariance_test_burn_in_time``, window ``invariance_test_window_time``: one histogram per
    sub-run, so that the invariance test's null comes from independent replicates, not from an ESS model."""
    from numerics.sgd import FiniteData, Histogram1D, SGDDivergedError, simulate_sgd

    lr, B = spec["lr"], spec["batch"]
    burn = int(math.ceil(config.invariance_test_burn_in_time / lr))
    window = int(math.ceil(config.invariance_test_window_time / lr))
    n = config.invariance_test_chains // config.replicates
    lo, hi = config.hist_range
    start = np.linspace(-1.5, 1.5, n)[:, None]
    g = _compiled(config.tilt, config.noise_shape, config.noise_scale, str(device))
    out = {**spec, "burn_in": burn, "n_steps": burn + window, "chains_per_replicate": n, "replicates": []}
    for r in range(config.replicates):
        try:
            res = simulate_sgd(g, data=FiniteData(_data(config, spec["data"])), lr=lr, batch_size=B, n_chains=n,
                               n_steps=burn + window, burn_in=burn, start=start,
                               observers=[Histogram1D(lo, hi, config.bins)], seed=seed + r, device=device,
                               max_abs=50.0)
        except SGDDivergedError as exc:
            return {**out, "diverged": True, "diverged_message": str(exc)}
        h = res.histograms[0]
        d = res.diagnostics.summary()
        out["replicates"].append({"counts": [float(v) for v in h["counts"]], "below": h["below"], "above": h["above"],
                                  "n_samples": h["n_samples"], "converged": bool(res.converged),
                                  "reasons": list(d["reasons"])[:3], "min_ess": float(min(d["ess"].values())),
                                  "chain_steps": int(res.chain_steps), "seconds": float(res.seconds)})
    return {**out, "diverged": False}


def _one_transient(config, spec, seed, device):
    """Chains started at the left minimum, absorbed when they first pass the barrier: the first-passage
    time in units of λ·steps (SC.eq10's time rescaling λ₁n₁ = λ₂n₂ on a transient)."""
    from numerics.sgd import FiniteData, FirstPassage, SGDDivergedError, simulate_sgd

    lr, B = spec["lr"], spec["batch"]
    n_steps = int(math.ceil(config.transient_max_time / lr))
    g = _compiled(config.tilt, config.noise_shape, config.noise_scale, str(device))
    out = {**spec, "n_steps": n_steps}
    try:
        res = simulate_sgd(g, data=FiniteData(_data(config, spec["data"])), lr=lr, batch_size=B,
                           n_chains=config.transient_chains, n_steps=n_steps, start=[_minima(config)[0]],
                           observers=[FirstPassage(upper=_edge(config), absorbing=True)], seed=seed, device=device,
                           max_abs=50.0)
    except SGDDivergedError as exc:
        return {**out, "diverged": True, "diverged_message": str(exc)}
    p = res.passage[0]
    return {**out, "diverged": False, "mean_steps": float(p["mean_steps"]), "se_steps": float(p["se_steps"]),
            "n_censored": int(p["n_censored"]), "chain_steps": int(res.chain_steps), "seconds": float(res.seconds)}


def measure(config: SGDStationaryConfig, device="auto", *, progress: bool = False, checkpoint=None) -> dict:
    """Every run of :func:`run_specs` (run i seeded ``seed + i``, checkpointed under
    ``["sgd_stationary", i]``)."""
    from numerics.devices import device_fields
    from validation.checkpoint import cached

    runs = []
    for i, spec in enumerate(run_specs(config)):
        r = cached(checkpoint, ["sgd_stationary", i],
                   lambda spec=spec, i=i: _one_run(config, spec, config.seed + i, device, progress))
        if progress:
            print(f"  run {i}: {spec['data']} λ={spec['lr']:g} B={spec['batch']} "
                  f"{'diverged' if r['diverged'] else 'converged' if r['converged'] else 'NOT converged'}",
                  flush=True)
        runs.append(r)
    transients = []
    base = config.seed + len(runs)
    for i, spec in enumerate(transient_specs(config)):
        transients.append(cached(checkpoint, ["sgd_stationary_transient", i],
                                 lambda spec=spec, i=i: _one_transient(config, spec, base + i, device)))
    tests = []
    base = base + len(transients)
    for i, spec in enumerate(invariance_test_specs(config)):
        r = cached(checkpoint, ["sgd_stationary_invariance_test", i],
                   lambda spec=spec, i=i: _one_test_run(config, spec, base + 1000 * (i + 1), device))
        if progress:
            print(f"  invariance test {i}: T={spec['T']:g} λ={spec['lr']:g} B={spec['batch']} "
                  f"{'diverged' if r['diverged'] else 'done'}", flush=True)
        tests.append(r)
    return {**device_fields(device), "runs": runs, "transients": transients, "invariance_test": tests,
            "edge": _edge(config)}


# --------------------------------------------------------------------------------------------------
# theory
# --------------------------------------------------------------------------------------------------
def _cells(config):
    lo, hi = config.hist_range
    n = config.bins * config.cells_per_bin
    h = (hi - lo) / n
    return lo + (np.arange(n) + 0.5) * h


def _to_bins(config, p):
    return np.asarray(p, float).reshape(config.bins, config.cells_per_bin).sum(axis=1)


@functools.lru_cache(maxsize=8)
def _grad_numpy(tilt, noise_shape, noise_scale):
    import sympy as sp

    from numerics.compile import compile_expr

    f, x, th = model(tilt, noise_shape, noise_scale)
    fn = compile_expr(sp.diff(f, th), [th, x])
    return lambda t, xv: fn(t, xv)


def _laplace(config, grid, dU, D, T):
    """Basin weights at leading order: SC.eq6 (minima of v, curvature of v) and RND.eq20 (minima
    of U: e^{−2ṽ/T} e^{−ã} sqrt(D/U''), ã = log D)."""
    from numerics.stationary import anchored_cumulative_integral

    edge = _edge(config)
    dD = np.gradient(D, grid, edge_order=2)
    v = anchored_cumulative_integral((dU + 0.5 * T * dD) / D, grid, int(np.argmin(np.abs(grid))))
    vt = anchored_cumulative_integral(dU / D, grid, int(np.argmin(np.abs(grid))))
    d2U = np.gradient(dU, grid, edge_order=2)
    logw6, logw20 = [], []
    for side in (grid < edge, grid >= edge):
        idx = np.flatnonzero(side)
        k = idx[int(np.argmin(v[idx]))]
        k = min(max(k, 1), grid.size - 2)
        h = grid[1] - grid[0]
        v2 = (v[k + 1] - 2 * v[k] + v[k - 1]) / h ** 2
        logw6.append(-2 * v[k] / T - 0.5 * math.log(abs(v2)))
        j = idx[int(np.argmin(np.abs(dU[idx]) + 1e9 * (d2U[idx] <= 0)))]
        logw20.append(-2 * vt[j] / T - math.log(D[j]) + 0.5 * math.log(D[j] / d2U[j]))

    def norm(lw):
        lw = np.asarray(lw) - max(lw)
        w = np.exp(lw)
        return (w / w.sum()).tolist()

    return norm(logw6), norm(logw20)


@functools.lru_cache(maxsize=256)
def _predict_one(config, kind, lr, B):
    import numerics.markov as mk
    from numerics.stationary import stationary_on_uniform_grid_1d

    grid = _cells(config)
    z = _data(config, kind)
    g = _grad_numpy(config.tilt, config.noise_shape, config.noise_scale)
    T = lr / B
    try:
        op = mk.transition_operator(g, z, lr=lr, batch_size=B, grid=grid, boundary="reflect", max_support=5000)
        chain, relax, method = mk.stationary_law(op).probabilities, mk.relaxation_time(op).steps, op.method
    except mk.MarkovError as exc:  # e.g. no unique stationary law on the grid at a λ where SGD diverges
        chain, relax, method = None, math.nan, f"failed: {exc}"[:200]
    diff = mk.diffusion_law(g, z, lr=lr, batch_size=B, grid=grid)
    try:
        mod = mk.modified_equation_law(g, z, lr=lr, batch_size=B, grid=grid).probabilities
    except mk.MarkovError:
        mod = None  # the corrected diffusion is not positive: the O(λ) expansion does not apply
    G = np.asarray(g(grid[:, None], z[None, :]), float)
    dU, D = G.mean(axis=1), G.var(axis=1)
    lmin = _minima(config)[0]
    D0 = float(np.interp(lmin, grid, D))
    boltz = stationary_on_uniform_grid_1d(grid, dU, np.full_like(D, D0), [T], anchor=0).probabilities()[0]
    edge = _edge(config)
    laws = {"chain": chain, "diffusion": diff.probabilities, "modified": mod, "boltzmann": boltz}
    out = {"T": T, "relaxation_steps": float(relax), "relaxation_time": float(relax * lr),
           "method": method, "D_at_minima": [float(np.interp(m, grid, D)) for m in _minima(config)],
           "laws": {}, "occupancy": {}}
    for name, p in laws.items():
        if p is None:
            out["laws"][name] = None
            out["occupancy"][name] = None
            continue
        out["laws"][name] = _to_bins(config, p).tolist()
        out["occupancy"][name] = mk.basin_occupancy(np.asarray(p), grid, [edge]).tolist()
    w6, w20 = _laplace(config, grid, dU, D, T)
    out["occupancy"]["laplace_SC.eq6"] = w6
    out["occupancy"]["laplace_RND.eq20"] = w20
    k3 = float(np.mean(z ** 3))
    out["data_skewness"] = k3
    return out


@functools.lru_cache(maxsize=64)
def _predict_transient(config, lr, B):
    """Mean first-passage time (λ·steps) from the left minimum over the barrier: the exact discrete-time
    chain's (:func:`numerics.markov.mean_escape_time`) and the diffusion limit's exact MFPT
    (:func:`numerics.first_passage.mean_first_passage_time_1d`, reflecting at the grid's left end)."""
    import sympy as sp

    import numerics.markov as mk
    from numerics.first_passage import mean_first_passage_time_1d

    grid = _cells(config)
    z = _data(config, "symmetric")
    g = _grad_numpy(config.tilt, config.noise_shape, config.noise_scale)
    start, edge = _minima(config)[0], _edge(config)
    try:
        op = mk.transition_operator(g, z, lr=lr, batch_size=B, grid=grid, boundary="reflect", max_support=5000)
        chain = float(mk.mean_escape_time(op, basin=(-np.inf, edge), target=(edge, np.inf)).at(start) * lr)
    except mk.MarkovError:
        chain = None
    th = sp.Symbol("theta", real=True)
    U = th ** 4 / 4 - th ** 2 / 2 + sp.nsimplify(config.tilt) * th
    D = sp.Float(config.noise_scale) ** 2 * (1 + sp.Float(config.noise_shape) * sp.tanh(th)) ** 2 * float(np.var(z))
    diffusion = float(mean_first_passage_time_1d(U, D, th, start, edge, lr / B, reflect_at=config.hist_range[0]))
    return {"chain_time": chain, "diffusion_time": diffusion}


def predict(config: SGDStationaryConfig, raw=None) -> dict:
    """The four predicted laws (binned like the histograms), occupancies, Laplace weights and the
    chain's relaxation time, for every run of :func:`run_specs`; the transients' mean first-passage
    times (chain and diffusion limit)."""
    return {"runs": [_predict_one(config, s["data"], s["lr"], s["batch"]) for s in run_specs(config)],
            "transients": [_predict_transient(config, s["lr"], s["batch"]) for s in transient_specs(config)],
            "invariance_test": [{**{k: _predict_one(config, s["data"], s["lr"], s["batch"])["laws"][k]
                                    for k in ("chain", "modified")},
                                 "relaxation_time": _predict_one(config, s["data"], s["lr"], s["batch"])["relaxation_time"]}
                                for s in invariance_test_specs(config)],
            "model": "f(θ,x) = θ⁴/4 − θ²/2 + cθ + s·x·(θ + a log cosh θ); D(θ) = s²(1 + a tanh θ)²",
            "boltzmann_D0": "D at the global (left) minimum of U"}


# --------------------------------------------------------------------------------------------------
# comparison (pure)
# --------------------------------------------------------------------------------------------------
def _tv(p, q):
    return 0.5 * float(np.abs(np.asarray(p, float) - np.asarray(q, float)).sum())


def _noise(p, ess):
    """(floor, se) of the TV of a histogram with effective sample size ``ess`` (module docstring)."""
    p = np.asarray(p, float)
    var = p * (1 - p) / ess
    return 0.5 * float(np.sum(np.sqrt(2 * var / math.pi))), 0.5 * float(math.sqrt((1 - 2 / math.pi) * var.sum()))


def _measured(r):
    c = np.asarray(r["counts"], float)
    n = float(r["n_samples"])
    return c / n


def _crossing(xs, ys, level):
    """First x at which y exceeds level (linear interpolation); None when it never does."""
    for i, (x, y) in enumerate(zip(xs, ys)):
        if y is not None and y > level:
            if i == 0:
                return float(x)
            x0, y0 = xs[i - 1], ys[i - 1]
            return float(x0 + (level - y0) * (x - x0) / (y - y0)) if y0 is not None and y != y0 else float(x)
    return None


def _max_pairwise_tv(means):
    """max over group pairs of TV(group mean g, group mean h); ``means`` (..., G, bins)."""
    G = means.shape[-2]
    return np.max(np.stack([0.5 * np.abs(means[..., i, :] - means[..., j, :]).sum(-1)
                            for i in range(G) for j in range(i + 1, G)], axis=-1), axis=-1)


def permutation_test(groups, *, n_permutations: int, seed: int) -> dict:
    """k-sample permutation test of "every group has the same law" (SC.eq10's invariance at one T).

    ``groups``: a list of G ≥ 2 arrays (R, bins), each row one independent replicate's normalised
    histogram (equal R per group). Statistic: the largest TV between two groups' mean histograms.
    Null: the R·G replicates relabelled at random (``n_permutations`` relabellings from
    ``numpy.random.default_rng(seed)``, so the p-value is re-derivable); ``p = (1 + #{null ≥ observed})
    / (1 + n_permutations)``. ``resolution``: the null's median — the statistic that sampling noise
    alone produces at this chain count. Exchangeability under the null is approximate (replicates at
    different λ may have different variances; equal R per group keeps the test close to its level)."""
    reps = np.stack([np.asarray(g, float) for g in groups])  # (G, R, bins)
    G, R, K = reps.shape
    if G < 2 or R < 2:
        raise ValueError(f"permutation_test needs >= 2 groups of >= 2 replicates; got {G} groups of {R}")
    observed = float(_max_pairwise_tv(reps.mean(axis=1)))
    flat = reps.reshape(G * R, K)
    rng = np.random.default_rng(seed)
    idx = rng.permuted(np.tile(np.arange(G * R), (n_permutations, 1)), axis=1)
    null = _max_pairwise_tv(flat[idx].reshape(n_permutations, G, R, K).mean(axis=2))
    return {"statistic": observed, "p_value": float((1 + np.sum(null >= observed - 1e-15)) / (1 + n_permutations)),
            "resolution": float(np.median(null)), "null_q99": float(np.quantile(null, 0.99)),
            "n_permutations": int(n_permutations)}


#: burn-in of an invariance-test run, in relaxation times of the exact chain (initial error ≲ e⁻⁶)
BURN_IN_RELAXATIONS = 6.0


def _invariance_test(config, prediction, raw):
    """The pre-registered invariance test (module docstring) per T ∈ ``invariance_test_temperatures``."""
    out = {}
    runs = list(zip(raw.get("invariance_test", []), prediction.get("invariance_test", [])))
    for t_i, T in enumerate(config.invariance_test_temperatures):
        here = [(r, pr) for r, pr in runs if abs(r["T"] - T) < 1e-12]
        pairs = [(r, pr) for r, pr in here if r["role"] == "pair"]
        control = [(r, pr) for r, pr in here if r["role"] == "control"]
        d = {"T": T, "lrs": [r["lr"] for r, _ in pairs], "batches": [r["batch"] for r, _ in pairs],
             "alpha": config.alpha}

        def reps_of(r):
            return np.array([np.asarray(x["counts"], float) / float(x["n_samples"]) for x in r["replicates"]])

        def predicted_stat(prs):
            vals = {}
            for k in ("chain", "modified"):
                laws = [pr[k] for pr in prs]
                vals[k] = None if any(v is None for v in laws) else float(
                    _max_pairwise_tv(np.asarray(laws, float)[None])[0])
            return vals

        # burn-in judged by theory: >= BURN_IN_RELAXATIONS relaxation times of the exact chain (the simulator's
        # R̂/ESS thresholds are sized for >= 10⁴ chains; a replicate of a few hundred chains fails R̂ ≤ 1.01 by noise
        # alone — its diagnostics stay in the record)
        def burnt_in(r, pr):
            return bool(not r["diverged"] and math.isfinite(pr["relaxation_time"])
                        and config.invariance_test_burn_in_time >= BURN_IN_RELAXATIONS * pr["relaxation_time"])

        usable = [(r, pr) for r, pr in pairs if burnt_in(r, pr)]
        d["relaxation_time"] = [pr["relaxation_time"] for _, pr in pairs]
        d["replicates_flagged_by_simulator"] = sum(1 for r, _ in pairs if not r["diverged"]
                                                   for x in r["replicates"] if not x["converged"])
        d["unusable"] = [r["lr"] for r, pr in pairs if (r, pr) not in usable]
        d["n_usable_pairs"] = len(usable)
        d["predicted_statistic"] = predicted_stat([pr for _, pr in pairs])
        if len(usable) >= 2:
            test = permutation_test([reps_of(r) for r, _ in usable], n_permutations=config.n_permutations,
                                    seed=config.seed + 17 + t_i)
            pred = [v for v in d["predicted_statistic"].values() if v is not None]
            premise = bool(pred) and max(pred) <= 0.5 * test["resolution"]
            d.update(test=test, premise_holds=premise, rejected=bool(test["p_value"] < config.alpha),
                     pairwise_tv_to_smallest_lr=[_tv(reps_of(r).mean(0), reps_of(usable[0][0]).mean(0))
                                                 for r, _ in usable],
                     min_ess=[min(x["min_ess"] for x in r["replicates"]) for r, _ in usable])
        if control and pairs and not control[0][0]["diverged"] and not pairs[0][0]["diverged"]:
            (rc, pc), (r0, p0) = control[0], pairs[0]
            ok = burnt_in(rc, pc) and burnt_in(r0, p0)
            test = permutation_test([reps_of(r0), reps_of(rc)], n_permutations=config.n_permutations,
                                    seed=config.seed + 31 + t_i)
            pred = predicted_stat([p0, pc])
            d["control"] = {"lr": rc["lr"], "batch": rc["batch"], "converged": ok, "test": test,
                            "predicted_statistic": pred,
                            "predicted_resolved": bool(pred["chain"] is not None
                                                       and pred["chain"] >= 2 * test["resolution"]),
                            "rejected": bool(test["p_value"] < config.alpha)}
        elif control:
            d["control"] = {"lr": control[0][0]["lr"], "batch": control[0][0]["batch"], "diverged": True}
        d["passes"] = bool(d.get("premise_holds") and len(usable) >= 3 and not d["unusable"]
                           and not d.get("rejected", True))
        # power, where the control's O(λ) difference is predicted to be resolved (≥ 2× the resolution): True when
        # the test rejects it, False when it does not; None where the prediction does not say it should
        c = d.get("control", {})
        d["has_power"] = bool(c.get("rejected")) if c.get("predicted_resolved") and c.get("converged") else None
        out[str(T)] = d
    return out


def compare(config: SGDStationaryConfig, prediction: dict, raw: dict) -> dict:
    """TV distances with sampling floors, occupancies, invariance and breaking points (module
    docstring)."""
    tol = config.tv_tolerance
    rows = []
    for r, pr in zip(raw["runs"], prediction["runs"]):
        row = {k: r[k] for k in ("data", "lr", "batch", "T", "roles")}
        row.update(relaxation_time=pr["relaxation_time"], burn_in_time=r["burn_in"] * r["lr"],
                   data_skewness=pr["data_skewness"], diverged=bool(r["diverged"]))
        if r["diverged"]:
            row.update(converged=False, usable=False, message=r["diverged_message"][:300])
            rows.append(row)
            continue
        p = _measured(r)
        floor, se = _noise(p, r["min_ess"])
        tv = {k: (None if v is None else _tv(p, v)) for k, v in pr["laws"].items()}
        occ_se = math.sqrt(r["occupancy"][1] * (1 - r["occupancy"][1]) / r["min_ess"])
        row.update(
            converged=bool(r["converged"]), usable=bool(r["converged"]), reasons=r["reasons"][:3],
            min_ess=r["min_ess"], outside=(r["below"] + r["above"]) / r["n_samples"],
            measured=p.tolist(), tv=tv, tv_floor=floor, tv_se=se,
            tv_beyond_floor={k: (None if v is None else v - floor) for k, v in tv.items()},
            diffusion_within_tolerance=bool(tv["diffusion"] - floor <= tol),
            chain_within_sampling=bool(tv["chain"] is not None and tv["chain"] <= floor + 3 * se),
            diffusion_closer_than_boltzmann=bool(tv["diffusion"] < tv["boltzmann"]),
            occupancy_measured=r["occupancy"][1], occupancy_se=occ_se,
            occupancy_predicted={k: (None if v is None else v[1]) for k, v in pr["occupancy"].items()},
            predicted=pr["laws"])
        rows.append(row)

    def sel(role, data=None):
        return [x for x in rows if role in x["roles"] and (data is None or x["data"] == data)]

    law = {}
    for kind in DATA_KINDS:
        rs = sorted(sel("law", kind), key=lambda x: -x["T"])
        ok = [x for x in rs if x["usable"]]
        law[kind] = {
            "T": [x["T"] for x in rs],
            "n_usable": len(ok),
            "unconverged": [x["T"] for x in rs if not x["usable"]],
            "tv_diffusion": [x.get("tv", {}).get("diffusion") for x in rs],
            "tv_chain": [x.get("tv", {}).get("chain") for x in rs],
            "tv_modified": [x.get("tv", {}).get("modified") for x in rs],
            "tv_boltzmann": [x.get("tv", {}).get("boltzmann") for x in rs],
            "tv_floor": [x.get("tv_floor") for x in rs],
            "occupancy_right": [x.get("occupancy_measured") for x in rs],
            "occupancy_se": [x.get("occupancy_se") for x in rs],
            "occupancy_predicted": {k: [x.get("occupancy_predicted", {}).get(k) for x in rs]
                                    for k in ("chain", "diffusion", "modified", "boltzmann", "laplace_SC.eq6",
                                              "laplace_RND.eq20")},
            "chain_within_sampling_all": bool(ok) and all(x["chain_within_sampling"] for x in ok),
            "diffusion_closer_than_boltzmann_all": bool(ok) and all(x["diffusion_closer_than_boltzmann"] for x in ok),
            "max_tv_diffusion_beyond_floor": max((x["tv_beyond_floor"]["diffusion"] for x in ok), default=None),
            "min_tv_boltzmann": min((x["tv"]["boltzmann"] for x in ok), default=None),
        }
    # the diffusion regime: the smallest λ at each invariance temperature (symmetric data)
    regime = []
    for T in config.invariance_temperatures:
        rs = [x for x in sel("invariance") if abs(x["T"] - T) < 1e-12 and x["usable"]]
        if rs:
            x = min(rs, key=lambda y: y["lr"])
            regime.append({"T": T, "lr": x["lr"], "batch": x["batch"], "tv_diffusion": x["tv"]["diffusion"],
                           "tv_floor": x["tv_floor"], "tv_chain": x["tv"]["chain"],
                           "tv_boltzmann": x["tv"]["boltzmann"],
                           "within_tolerance": x["diffusion_within_tolerance"]})
    # invariance and breaking point
    inv = {}
    for T in config.invariance_temperatures:
        rs = sorted([x for x in sel("invariance") if abs(x["T"] - T) < 1e-12], key=lambda y: y["lr"])
        ref = rs[0]
        pts = []
        for x in rs:
            pt = {"lr": x["lr"], "batch": x["batch"], "diverged": x["diverged"], "usable": x["usable"]}
            if x["usable"] and ref["usable"]:
                f1, s1 = _noise(x["measured"], x["min_ess"])
                f0, s0 = _noise(ref["measured"], ref["min_ess"])
                floor = math.sqrt(f1 ** 2 + f0 ** 2)
                se = math.sqrt(s1 ** 2 + s0 ** 2)
                tv = _tv(x["measured"], ref["measured"])
                pt.update(tv_to_ref=tv, floor=floor, se=se, agrees=bool(x is ref or tv <= floor + 3 * se),
                          tv_beyond_floor=tv - floor)
            for k in ("modified", "chain", "diffusion"):
                a, b = x.get("predicted", {}).get(k), ref.get("predicted", {}).get(k)
                pt[f"predicted_tv_to_ref_{k}"] = None if a is None or b is None else _tv(a, b)
            pts.append(pt)
        lrs = [p["lr"] for p in pts]
        meas = [(p.get("tv_beyond_floor") if p["usable"] else (1.0 if p["diverged"] else None)) for p in pts]
        inv[str(T)] = {
            "T": T, "points": pts,
            "n_agreeing_pairs": sum(1 for p in pts if p.get("agrees")),
            "n_within_tolerance": sum(1 for p in pts if p.get("tv_beyond_floor") is not None
                                      and p["tv_beyond_floor"] <= tol),
            "breaking_lr_measured": _crossing(lrs, meas, tol),
            "breaking_lr_modified": _crossing(lrs, [p["predicted_tv_to_ref_modified"] for p in pts], tol),
            "breaking_lr_chain": _crossing(lrs, [p["predicted_tv_to_ref_chain"] for p in pts], tol),
            "diverged_lrs": [p["lr"] for p in pts if p["diverged"]],
        }
    skew = {}
    for kind in DATA_KINDS:
        rs = [x for x in sel("law", kind) if x["usable"]]
        skew[kind] = {"data_skewness": rs[0]["data_skewness"] if rs else None,
                      "log_odds_error_diffusion": [
                          math.log(x["occupancy_measured"] / (1 - x["occupancy_measured"]))
                          - math.log(x["occupancy_predicted"]["diffusion"] / (1 - x["occupancy_predicted"]["diffusion"]))
                          for x in rs],
                      "T": [x["T"] for x in rs]}
    transients = {}
    for T in config.invariance_temperatures:
        pts = []
        for r, pr in zip(raw.get("transients", []), prediction.get("transients", [])):
            if abs(r["T"] - T) > 1e-12:
                continue
            pt = {"lr": r["lr"], "batch": r["batch"], "diverged": r["diverged"],
                  "chain_time": pr["chain_time"], "diffusion_time": pr["diffusion_time"]}
            if not r["diverged"]:
                pt.update(time=r["lr"] * r["mean_steps"], se=r["lr"] * r["se_steps"], n_censored=r["n_censored"])
            pts.append(pt)
        pts.sort(key=lambda p: p["lr"])
        ref = next((p for p in pts if "time" in p), None)
        for p in pts:
            if "time" in p and ref is not None:
                se = math.sqrt(p["se"] ** 2 + ref["se"] ** 2) if p is not ref else p["se"]
                p["z_vs_smallest_lr"] = 0.0 if p is ref else (p["time"] - ref["time"]) / se
                p["agrees"] = bool(abs(p["z_vs_smallest_lr"]) <= 3)
                if p["chain_time"] is not None:
                    p["z_vs_chain"] = (p["time"] - p["chain_time"]) / p["se"]
                p["ratio_to_diffusion"] = p["time"] / p["diffusion_time"]
        transients[str(T)] = {"T": T, "points": pts, "n_agreeing_pairs": sum(1 for p in pts if p.get("agrees"))}
    return {"tv_tolerance": tol, "runs": rows, "law": law, "diffusion_regime": regime, "invariance": inv,
            "invariance_test": _invariance_test(config, prediction, raw), "transients": transients,
            "skew": skew, "n_unconverged": sum(1 for x in rows if not x["usable"] and not x["diverged"]),
            "n_diverged": sum(1 for x in rows if x["diverged"])}


# --------------------------------------------------------------------------------------------------
def run(config: SGDStationaryConfig = None, device="auto", out=None, *, progress: bool = False,
        force: bool = False, resume: bool = False) -> dict:
    """measure → predict → compare (default :data:`FULL`)."""
    return EXPERIMENT.run(config, device, out, progress=progress, force=force, resume=resume)


def _r(v, nd=4):
    return None if v is None else round(v, nd)


def _summary(rec):
    m = rec["metrics"]
    for kind, d in m["law"].items():
        yield (f"{kind}: T {[_r(t) for t in d['T']]}; TV diffusion {[_r(v, 3) for v in d['tv_diffusion']]}; "
               f"chain {[_r(v, 3) for v in d['tv_chain']]}; Boltzmann {[_r(v, 3) for v in d['tv_boltzmann']]}; "
               f"floor {[_r(v, 3) for v in d['tv_floor']]}; unconverged {d['unconverged']}")
    for T, d in m.get("transients", {}).items():
        yield (f"transient T={T}: first-passage time λ·n " + str([(p["lr"], _r(p.get("time"), 2), _r(p.get("se"), 2),
                                                                  _r(p["chain_time"], 2), _r(p["diffusion_time"], 2))
                                                                 for p in d["points"]]))
    for T, d in m.get("invariance_test", {}).items():
        t = d.get("test", {})
        yield (f"invariance test T={T}: λ {d['lrs']}; max TV {_r(t.get('statistic'))} vs resolution "
               f"{_r(t.get('resolution'))} (predicted O(λ) {_r(d['predicted_statistic']['chain'])}); p = "
               f"{_r(t.get('p_value'))}; passes {d['passes']}; control p = {_r(d.get('control', {}).get('test', {}).get('p_value'))}")
    for T, d in m["invariance"].items():
        yield (f"invariance T={T}: agreeing pairs {d['n_agreeing_pairs']}; breaking λ measured "
               f"{d['breaking_lr_measured']}, modified eq {d['breaking_lr_modified']}, chain {d['breaking_lr_chain']}")


def _work(config, raw):
    return (sum(r.get("chain_steps", 0) for r in raw["runs"])
            + sum(r.get("chain_steps", 0) for r in raw.get("transients", ()))
            + sum(x.get("chain_steps", 0) for r in raw.get("invariance_test", ()) for x in r.get("replicates", ())),
            "chain-steps")


EXPERIMENT = Experiment(
    name="sgd_stationary", claims=("SC.eq5", "RND.eq19", "SC.eq6", "RND.eq20", "SC.eq10"),
    config_type=SGDStationaryConfig, SMALL=SMALL, FULL=FULL, GPU=GPU, measure=measure, predict=predict,
    compare=compare, record_stem="sgd_stationary",
    estimates={"small": {"cpu": 15, "gpu": 20}, "full": {"cpu": 450, "gpu": 60}, "gpu": {"cpu": 8000, "gpu": 180}},
    description="Stationary law of real minibatch SGD on a 1-D per-sample model with non-constant D(θ): histograms "
                "vs the SC.eq5 law, constant-D Boltzmann, the exact discrete-time chain and the modified equation; "
                "basin occupancy vs exact and Laplace weights; temperature invariance and its breaking point.",
    summary=_summary, inputs=source_file(__file__), work=_work)


def main(argv=None) -> int:
    """``python -m validation.experiments.sgd_stationary ARGS`` = ``python -m validation run sgd_stationary``."""
    from validation.__main__ import run_main

    return run_main(EXPERIMENT.name, argv)


if __name__ == "__main__":
    raise SystemExit(main())
