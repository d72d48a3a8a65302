"""Can real SGD reach the stationary law of RND Fig. H.4's per-sample models (SC.eq5, RND.eq19)?

RND Fig. H.4's two models (:func:`numerics.landscapes.preset` ``RND.H4.left`` / ``RND.H4.right``: 10
train samples, per-sample well weights ``w_i + x`` resp. locations ``μ_i + x``, x ∼ N(0, σ_x²) with
σ_x = 0.01 / 0.05) have a per-sample gradient variance D(θ) ~ 1e-5 … 0.6 that *vanishes* away from
the wells (there every sample has the same gradient 2cθ), so the SC.eq5 law's basin weights move
only at T ~ 1e2 … 1e7 (:data:`validation.reproductions.SAMPLED_TEMPERATURES`).  Real SGD has
T = λ/B ≤ λ < 2/max U'' (stability).  This experiment puts numbers on the gap and measures it:

- **measure**: for each model, SGD with B = 1 at ``lr_fraction`` × 2/max U'' (the largest stable
  step, scaled), ``n_chains`` chains started at the left minimum of the train loss and as many at the
  right one, ``n_steps`` steps, a :class:`numerics.sgd.FirstPassage` observer counting chains that
  cross the barrier (the local maximum of U between the minima);
- **predict** (on a fine grid between the minima, where D > 0): the SC.eq5 effective potential
  v = ∫(U' + (T/2)D')/D, the predicted log-odds of the two basins (−2Δv/T plus the Laplace prefactor,
  SC.eq6), the barrier exponents 2Δv_barrier/T from each minimum (the Arrhenius factor of the mean
  crossing time), the smallest D on the path, and the temperature at which both basins would hold
  ≥ 10 % (|2Δv/T| ≤ ln 9) against the largest stable temperature;
- **compare** (pure): crossings observed vs expected, log10 of the temperature gap.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from validation.experiments._protocol import Experiment, source_file

__all__ = ["H4ReachConfig", "SMALL", "FULL", "GPU", "EXPERIMENT", "measure", "predict", "compare", "landmarks"]

MODELS = ("RND.H4.left", "RND.H4.right")


@dataclass(frozen=True)
class H4ReachConfig:
    """Chains, steps and the step size as a fraction of the stability limit 2/max U''."""

    n_chains: int = 20_000
    n_steps: int = 5_000
    lr_fraction: float = 0.5
    seed: int = 0
    models: tuple[str, ...] = MODELS

    def __post_init__(self):
        if self.n_chains < 64 or self.n_steps < 10:
            raise ValueError(f"n_chains >= 64 and n_steps >= 10 are required; got {self.n_chains}, {self.n_steps}")
        if not 0 < self.lr_fraction < 1:
            raise ValueError(f"lr_fraction must lie in (0, 1) (a fraction of the stability limit 2/max U''); "
                             f"got {self.lr_fraction}")
        bad = [m for m in self.models if m not in MODELS]
        if bad or not self.models:
            raise ValueError(f"models must be a non-empty subset of {MODELS}; got {self.models}")


FULL = H4ReachConfig()
SMALL = H4ReachConfig(n_chains=1_000, n_steps=500)
GPU = H4ReachConfig(n_chains=2_000_000, n_steps=20_000)


@functools.lru_cache(maxsize=4)
def _model(name):
    import sympy as sp

    from numerics.compile import compile_expr
    from numerics.landscapes import preset

    th, x = sp.symbols("theta x", real=True)
    m = preset(name).model
    f = m.per_sample_loss(x, th)
    g = compile_expr(sp.diff(f, th), [th, x])
    return f, x, th, (lambda t, xv: g(t, xv)), np.asarray(m.train_samples, float)


@functools.lru_cache(maxsize=4)
def landmarks(name: str) -> dict:
    """Minima (left, right) and barrier of the train loss, max U'' on [−3, 3] and the stability
    limit λ_max = 2/max U''."""
    _, _, _, g, xs = _model(name)
    grid = np.linspace(-3, 3, 60001)
    dU = np.asarray(g(grid[:, None], xs[None, :]), float).mean(axis=1)
    d2U = np.gradient(dU, grid)
    s = np.sign(dU)
    idx = np.flatnonzero(s[:-1] != s[1:])
    roots = [float(grid[i] - dU[i] * (grid[i + 1] - grid[i]) / (dU[i + 1] - dU[i])) for i in idx]
    minima = [r for r, i in zip(roots, idx) if d2U[i] > 0]
    maxima = [r for r, i in zip(roots, idx) if d2U[i] < 0]
    left, right = minima[0], minima[-1]
    barrier = [m for m in maxima if left < m < right][0]
    return {"minima": [left, right], "barrier": barrier, "max_d2U": float(d2U.max()),
            "lr_max": 2.0 / float(d2U.max())}


def measure(config: H4ReachConfig, device="auto", *, progress: bool = False, checkpoint=None) -> dict:
    """Two SGD runs per model (start at the left / right minimum), counting barrier crossings."""
    from numerics.devices import device_fields
    from numerics.sgd import FiniteData, FirstPassage, compile_per_sample_gradient, simulate_sgd
    from validation.checkpoint import cached

    out = []
    for i, name in enumerate(config.models):
        f, x, th, _, xs = _model(name)
        lm = landmarks(name)
        lr = config.lr_fraction * lm["lr_max"]
        g = compile_per_sample_gradient(f, x, th, device=device)
        for j, side in enumerate(("left", "right")):
            def one(side=side, j=j):
                start = lm["minima"][0 if side == "left" else 1]
                obs = FirstPassage(lower=lm["barrier"]) if side == "right" else FirstPassage(upper=lm["barrier"])
                res = simulate_sgd(g, data=FiniteData(xs), lr=lr, batch_size=1, n_chains=config.n_chains,
                                   n_steps=config.n_steps, start=[start], observers=[obs],
                                   seed=config.seed + 2 * i + j, device=device, max_abs=50.0)
                p = res.passage[0]
                return {"model": name, "start": side, "lr": lr, "batch": 1, "n_chains": config.n_chains,
                        "n_steps": config.n_steps, "crossed": int(p["hit"].sum()),
                        "chain_steps": int(res.chain_steps), "seconds": float(res.seconds)}

            out.append(cached(checkpoint, ["h4", i, j], one))
    return {**device_fields(device), "runs": out}


def _predict_model(name, lr):
    from numerics.stationary import anchored_cumulative_integral

    _, _, _, g, xs = _model(name)
    lm = landmarks(name)
    T = lr  # B = 1
    left, right = lm["minima"]
    grid = np.linspace(left, right, 40001)
    G = np.asarray(g(grid[:, None], xs[None, :]), float)
    dU, D = G.mean(axis=1), G.var(axis=1)
    dD = np.gradient(D, grid)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        v = anchored_cumulative_integral((dU + 0.5 * T * dD) / D, grid, 0)
    kb = int(np.argmin(np.abs(grid - lm["barrier"])))
    dv = float(v[-1] - v[0])
    d2U = np.gradient(dU, grid)
    # SC.eq6 prefactor |v''|^{-1/2}, v'' ≈ U''/D at a minimum of U
    pref = 0.5 * (math.log(d2U[-1] / D[-1]) - math.log(d2U[0] / D[0])) if D[0] > 0 and D[-1] > 0 else float("nan")
    log_odds_right = -2 * dv / T - pref
    return {"T": T, "D_min_on_path": float(D.min()), "D_max_on_path": float(D.max()),
            "D_at_minima": [float(D[0]), float(D[-1])], "delta_v": dv,
            "log_odds_right_over_left": log_odds_right,
            "barrier_exponent_from_left": float(2 * (v[kb] - v[0]) / T),
            "barrier_exponent_from_right": float(2 * (v[kb] - v[-1]) / T),
            "T_for_10_percent": float(2 * abs(dv) / math.log(9.0)) if math.isfinite(dv) else float("inf"),
            "lr_max": lm["lr_max"], "minima": lm["minima"], "barrier": lm["barrier"]}


def predict(config: H4ReachConfig, raw=None) -> dict:
    """Per model: the SC.eq5 log-odds and barrier exponents at the run's T (module docstring)."""
    return {"models": {name: _predict_model(name, config.lr_fraction * landmarks(name)["lr_max"])
                       for name in config.models}}


def compare(config: H4ReachConfig, prediction: dict, raw: dict) -> dict:
    """Crossings observed vs the predicted Arrhenius exponents; the temperature gap."""
    out = {}
    for name, p in prediction["models"].items():
        runs = [r for r in raw["runs"] if r["model"] == name]
        crossed = {r["start"]: r["crossed"] for r in runs}
        T_need = p["T_for_10_percent"]
        out[name] = {
            "T": p["T"], "lr": runs[0]["lr"], "lr_max": p["lr_max"], "crossed": crossed,
            "chain_steps": sum(r["chain_steps"] for r in runs),
            "log_odds_right_over_left": p["log_odds_right_over_left"],
            "barrier_exponents": [p["barrier_exponent_from_left"], p["barrier_exponent_from_right"]],
            "T_for_10_percent": T_need,
            "log10_T_gap": (math.log10(T_need / p["lr_max"]) if math.isfinite(T_need) and T_need > 0
                            else float("inf")),
            "D_min_on_path": p["D_min_on_path"], "D_at_minima": p["D_at_minima"],
            "unreachable": bool(sum(crossed.values()) == 0),
        }
    return {"models": out}


def _summary(rec):
    for name, m in rec["metrics"]["models"].items():
        yield (f"{name}: λ = {m['lr']:.3g} (λ_max {m['lr_max']:.3g}), crossings {m['crossed']}, barrier exponents "
               f"{[round(v, 1) for v in m['barrier_exponents']]}, T needed {m['T_for_10_percent']:.3g} "
               f"(10^{m['log10_T_gap']:.1f} × λ_max)")


def _work(config, raw):
    return sum(r["chain_steps"] for r in raw["runs"]), "chain-steps"


EXPERIMENT = Experiment(
    name="sgd_h4_reach", claims=("SC.eq5", "RND.eq19"), config_type=H4ReachConfig, SMALL=SMALL, FULL=FULL, GPU=GPU,
    measure=measure, predict=predict, compare=compare, record_stem="sgd_h4_reach",
    estimates={"small": {"cpu": 5, "gpu": 10}, "full": {"cpu": 60, "gpu": 20}, "gpu": {"cpu": 20000, "gpu": 120}},
    description="Real SGD on RND Fig. H.4's per-sample models at the largest stable step: does it ever cross "
                "between the basins, and how far is its temperature from the one at which the SC.eq5 law moves?",
    summary=_summary, inputs=source_file(__file__), work=_work)


def main(argv=None) -> int:
    """``python -m validation.experiments.sgd_h4_reach ARGS``."""
    from validation.__main__ import run_main

    return run_main(EXPERIMENT.name, argv)


if __name__ == "__main__":
    raise SystemExit(main())
