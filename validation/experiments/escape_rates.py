"""DT.sec4: escape rates of real minibatch SGD from the Styblinski–Tang valley.

Setting (DT §4 and App. E.1 "setting 1"): per-sample loss ``L(x, θ) = f(√k θ − x)``,
``f(θ) = ½ Σ_i (θ_i⁴ − 16 θ_i² + 5 θ_i)``, fresh samples ``x ∼ N(0, I)`` every step, start at the
minimum of f (``−2.903534/√k`` per coordinate), valley ``θ_i < 0.156731/√k`` (the barrier of f),
escape iteration = first step at which some coordinate leaves.

- **measure** (:func:`measure`): three sweeps — sharpness k (fixed B, η), batch size B (fixed k, η)
  and learning rate η (fixed k, B) — each point ``n_runs`` runs of :func:`numerics.sgd_escape.
  simulate_escape`; γ = 1 / mean escape iterations (censoring-aware), SE of ``log(mean)``.
- **predict** (:func:`predict`): the diffusion limit (SC.eq10–11) of the same SGD in 1-D:
  ``dθ = −U'(θ) dt + sqrt(T D(θ)) dW``, ``t = η·iterations``, ``T = η/B``, with the exact population
  mean loss ``U = E_x L`` and per-sample gradient variance ``D = Var_x[∂_θ L]`` (Gaussian moments,
  exact polynomials), and its EXACT mean first-passage time to the valley boundary
  (:func:`numerics.first_passage.mean_first_passage_time_1d`, reflecting far at ``−10/√k``). In p
  independent coordinates the valley is left at the first of p independent 1-D exits: rate × p.
- **compare** (:func:`compare`, pure): Pearson r and slope of −log γ against 1/k, B and 1/η
  (DT's claim: linear, r > 0.99); the same for the theory's −log γ; measured/predicted escape-time
  ratios; and, as a diagnostic, Pearson r against the 2/3-powers (1/k)^{2/3}, B^{2/3}, (1/η)^{2/3}
  — the law of escape by one large heavy-tailed gradient kick (a sample x far in the tail gives
  ∂L ∝ x³, so a kick of size Δ needs x ≳ (BΔ/(ηk^{…}))^{1/3} and costs ∝ x²).

``python -m validation run escape_rates`` runs the full 10-D version into ``runs/dt_sec4_cpu.json``
(``--force`` to replace the committed ``validation/data/dt_sec4_cpu.json``); the ledger check runs
:data:`SMALL` (1-D) live.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from validation.experiments._protocol import Experiment, source_file

__all__ = ["EscapeRatesConfig", "SMALL", "FULL", "GPU", "EXPERIMENT", "SWEEPS", "measure", "predict", "compare",
           "run", "population_loss_and_diffusion"]

#: sweep name → (config field holding the values, the regressor's name)
SWEEPS = {"sharpness": ("inv_k_values", "1/k"), "batch_size": ("batch_values", "B"),
          "learning_rate": ("inv_lr_values", "1/η")}


@dataclass(frozen=True)
class EscapeRatesConfig:
    """Sweep parameters. Each sweep varies one of (1/k, B, 1/η) and holds the other two at the
    sweep's own fixed values (``*_fixed``)."""

    dim: int = 10
    n_runs: int = 200
    max_steps: int = 200_000
    seed: int = 0
    # sharpness sweep: 1/k values at lr = sharpness_lr, B = sharpness_batch
    inv_k_values: tuple[float, ...] = (0.8, 0.9, 1.0, 1.1, 1.2)
    sharpness_lr: float = 0.0075
    sharpness_batch: int = 1
    # batch sweep at k = batch_k, lr = batch_lr
    batch_values: tuple[int, ...] = (3, 4, 5, 6, 7)
    batch_k: float = 1.0
    batch_lr: float = 0.025
    # learning-rate sweep: 1/η values at k = lr_k, B = lr_batch
    inv_lr_values: tuple[float, ...] = (100.0, 120.0, 140.0, 160.0, 180.0)
    lr_k: float = 1.0
    lr_batch: int = 1
    pearson_tolerance: float = 0.99
    backend: str = "numpy"

    def __post_init__(self):
        if self.dim < 1 or self.n_runs < 2 or self.max_steps < 1:
            raise ValueError("dim >= 1, n_runs >= 2 and max_steps >= 1 are required")
        if any(v <= 0 for v in self.inv_k_values + self.inv_lr_values):
            raise ValueError("inv_k_values and inv_lr_values must be > 0")
        if any(int(b) != b or b < 1 for b in self.batch_values):
            raise ValueError(f"batch_values must be integers >= 1; got {self.batch_values}")
        for name in ("sharpness_lr", "batch_lr", "batch_k", "lr_k"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0; got {getattr(self, name)}")
        for name in ("sharpness_batch", "lr_batch"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1")
        for name, (field_, _) in SWEEPS.items():
            if len(getattr(self, field_)) < 3:
                raise ValueError(f"the {name} sweep needs >= 3 points for a Pearson correlation")

    def points(self, sweep: str) -> list[dict]:
        """The (k, lr, batch, regressor value) of every point of one sweep."""
        if sweep == "sharpness":
            return [dict(k=1.0 / v, lr=self.sharpness_lr, batch=int(self.sharpness_batch), x=float(v))
                    for v in self.inv_k_values]
        if sweep == "batch_size":
            return [dict(k=self.batch_k, lr=self.batch_lr, batch=int(b), x=float(b))
                    for b in self.batch_values]
        if sweep == "learning_rate":
            return [dict(k=self.lr_k, lr=1.0 / v, batch=int(self.lr_batch), x=float(v))
                    for v in self.inv_lr_values]
        raise ValueError(f"unknown sweep {sweep!r}; use one of {list(SWEEPS)}")


#: Full version: 10-D like DT (mean escape times ~10²–10⁴ iterations, ~1–2 min on one CPU core).
FULL = EscapeRatesConfig()
#: Live version for the ledger check: 1-D, 100 runs per point (a few seconds on CPU).
SMALL = EscapeRatesConfig(dim=1, n_runs=100, max_steps=50_000, inv_k_values=(0.8, 0.9, 1.0, 1.1, 1.2),
                          sharpness_lr=0.015, batch_values=(2, 3, 4, 5), batch_lr=0.03,
                          inv_lr_values=(50.0, 60.0, 70.0, 80.0, 90.0))
#: GPU version (about 1–3 min on one H100/H200, torch backend): DT's 10-D setting with 2000 runs per
#: point (ten times FULL: standard errors of −log γ three times smaller).
GPU = EscapeRatesConfig(n_runs=2000, backend="torch")

#: DT App. E.1 landmarks of the 1-D f (used unscaled at k = 1): start and valley boundary.
START_1D = -2.903534
BOUNDARY_1D = 0.156731


# --------------------------------------------------------------------------------------------
# measurement
# --------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=32)
def _gradient(k: float, backend: str):
    import sympy as sp

    from numerics.landscapes import styblinski_tang_per_sample
    from numerics.sgd_escape import separable_gradient

    x, th = sp.symbols("x theta", real=True)
    return separable_gradient(styblinski_tang_per_sample(x, th, k=k), x, th, backend=backend)


def measure(config: EscapeRatesConfig, device="auto", *, progress: bool = False, checkpoint=None) -> dict:
    """Simulate every sweep point; the raw summary (one entry per point). Point ``i`` of the run
    order is seeded with ``config.seed + i``, so each point is checkpointed (key
    ``["escape", sweep, index]``) and a resumed run gives the same numbers."""
    from numerics.sgd_escape import simulate_escape
    from validation.checkpoint import cached

    from numerics.devices import device_fields

    backend = config.backend
    # the device actually used (the numpy backend is CPU-only; CUDA asked for but absent → CPU),
    # with a note when it differs from the one asked for
    raw = {"dim": config.dim, **device_fields(device, backend=backend), "sweeps": {}}
    seed = config.seed
    for sweep in SWEEPS:
        pts = []
        for i, pt in enumerate(config.points(sweep)):
            def one(pt=pt, seed=seed):
                r = math.sqrt(pt["k"])
                res = simulate_escape(_gradient(pt["k"], backend), [START_1D / r] * config.dim,
                                      lr=pt["lr"], batch_size=pt["batch"], n_runs=config.n_runs,
                                      max_steps=config.max_steps, upper=BOUNDARY_1D / r, seed=seed,
                                      backend=backend, device=device, progress=progress)
                return {**pt, **res.summary()}

            pts.append(cached(checkpoint, ["escape", sweep, i], one))
            seed += 1
        raw["sweeps"][sweep] = pts
    return raw


# --------------------------------------------------------------------------------------------
# theory
# --------------------------------------------------------------------------------------------
def _gaussian_mean(expr, x):
    """E over x ∼ N(0, 1) of a polynomial in x: x^n → (n−1)!! for even n, 0 for odd n (exact)."""
    import sympy as sp

    poly = sp.Poly(sp.expand(expr), x)
    out = sp.Integer(0)
    for (n,), c in poly.terms():
        out += c * (sp.factorial2(n - 1) if n % 2 == 0 and n > 0 else (1 if n == 0 else 0))
    return sp.expand(out)


@functools.lru_cache(maxsize=32)
def population_loss_and_diffusion(k: float):
    """``(U, D, θ)`` for one coordinate at sharpness k: ``U = E_x f(√kθ − x)`` and
    ``D = Var_x[∂_θ f(√kθ − x)]`` with x ∼ N(0, 1), exact polynomials in θ.

    At k = 1: ``U = θ⁴/2 − 5θ² + 5θ/2 − 13/2`` (minimum −2.3519, barrier top 0.2532 — the sample
    noise shifts the landmarks of f) and ``D = 36θ⁴ − 48θ² + 124``."""
    import sympy as sp

    from numerics.landscapes import styblinski_tang_per_sample

    x, th = sp.symbols("x theta", real=True)
    L = styblinski_tang_per_sample(x, th, k=sp.nsimplify(k))
    g = sp.diff(L, th)
    U = _gaussian_mean(L, x)
    D = sp.expand(_gaussian_mean(g ** 2, x) - _gaussian_mean(g, x) ** 2)
    return U, D, th


def predict_log_steps(k: float, lr: float, batch: int, dim: int) -> float:
    """log of the diffusion-limit mean escape iterations: ``log(τ/η) − log p`` (τ the exact MFPT
    of ``dθ = −U' dt + sqrt((η/B) D) dW`` from the start to the valley boundary)."""
    from numerics.first_passage import mean_first_passage_time_1d

    U, D, th = population_loss_and_diffusion(float(k))
    r = math.sqrt(k)
    log_tau = mean_first_passage_time_1d(U, D, th, START_1D / r, BOUNDARY_1D / r, lr / batch,
                                         reflect_at=-10.0 / r, log=True)
    return log_tau - math.log(lr) - math.log(dim)


def predict(config: EscapeRatesConfig) -> dict:
    """Theory −log γ = log(predicted mean escape iterations) at every sweep point."""
    out = {}
    for sweep in SWEEPS:
        out[sweep] = [predict_log_steps(pt["k"], pt["lr"], pt["batch"], config.dim)
                      for pt in config.points(sweep)]
    return {"neg_log_gamma": out,
            "model": "exact 1-D MFPT of dθ = −U'dt + sqrt((η/B)D)dW, U = E_x L, D = Var_x ∂L; rate × p"}


# --------------------------------------------------------------------------------------------
# comparison (pure)
# --------------------------------------------------------------------------------------------
def _fit(xs, ys) -> dict:
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    r = float(np.corrcoef(xs, ys)[0, 1])
    slope, intercept = np.polyfit(xs, ys, 1)
    return {"pearson_r": r, "slope": float(slope), "intercept": float(intercept)}


def compare(config: EscapeRatesConfig, prediction: dict, raw: dict) -> dict:
    """Pearson r / slopes (measured and predicted), escape-time ratios, 2/3-power diagnostic."""
    sweeps, all_ok = {}, True
    for sweep, (_, name) in SWEEPS.items():
        pts = raw["sweeps"][sweep]
        xs = [p["x"] for p in pts]
        y = [math.log(p["mean_steps"]) for p in pts]
        y_se = [p["se_steps"] / p["mean_steps"] for p in pts]
        y_pred = prediction["neg_log_gamma"][sweep]
        meas, pred = _fit(xs, y), _fit(xs, y_pred)
        two_thirds = _fit(np.asarray(xs) ** (2.0 / 3.0), y)
        ok = meas["pearson_r"] > config.pearson_tolerance
        all_ok &= ok
        sweeps[sweep] = {
            "regressor": name,
            "x": xs,
            "neg_log_gamma": y,
            "neg_log_gamma_se": y_se,
            "neg_log_gamma_predicted": y_pred,
            "measured": meas,
            "predicted": pred,
            "pearson_r_two_thirds_power": two_thirds["pearson_r"],
            "log10_ratio_measured_over_predicted": [(a - b) / math.log(10) for a, b in zip(y, y_pred)],
            "slope_ratio_measured_over_predicted": meas["slope"] / pred["slope"],
            "linear": ok,
            "n_censored": sum(p["n_censored"] for p in pts),
        }
    return {"pearson_tolerance": config.pearson_tolerance, "all_linear": bool(all_ok),
            "sweeps": sweeps}


# --------------------------------------------------------------------------------------------
def run(config: EscapeRatesConfig = None, device="auto", out=None, *, progress: bool = False,
        force: bool = False, resume: bool = False) -> dict:
    """measure → predict → compare (default config: :data:`FULL`); write a record to ``out`` when
    given (``force``: replace an existing file; ``resume``: reuse the finished sweep points of an
    interrupted run — see :func:`validation.experiments.run_experiment`)."""
    return EXPERIMENT.run(config, device, out, progress=progress, force=force, resume=resume)


def _summary(rec):
    for name, m in rec["metrics"]["sweeps"].items():
        yield f"{name} " + str({"r": round(m["measured"]["pearson_r"], 4), "slope": round(m["measured"]["slope"], 4),
                               "r_2/3": round(m["pearson_r_two_thirds_power"], 4),
                               "pred_slope": round(m["predicted"]["slope"], 4),
                               "log10 ratio": [round(v, 2) for v in m["log10_ratio_measured_over_predicted"]]})


def _work(config, raw) -> tuple:
    """Chain-steps simulated: Σ over every sweep point of runs × mean steps to escape (censored runs
    count their max_steps)."""
    return sum(p["n_runs"] * p["mean_steps"] for sweep in raw["sweeps"].values() for p in sweep), "chain-steps"


EXPERIMENT = Experiment(
    name="escape_rates", claims=("DT.sec4", "DT.thm3.2"), config_type=EscapeRatesConfig, SMALL=SMALL, FULL=FULL,
    GPU=GPU, measure=measure, predict=lambda cfg, raw: predict(cfg), compare=compare, record_stem="dt_sec4",
    estimates={"small": {"cpu": 5, "gpu": 10}, "full": {"cpu": 30, "gpu": 40}, "gpu": {"cpu": 600, "gpu": 120}},
    description="Escape of real minibatch SGD from the Styblinski–Tang valley (DT §4): is −log γ linear in 1/k, B "
                "and 1/η, and how do the escape times compare with the diffusion limit's?",
    summary=_summary, inputs=source_file(__file__), work=_work)


def main(argv=None) -> int:
    """``python -m validation.experiments.escape_rates ARGS`` = ``python -m validation run escape_rates
    ARGS``."""
    from validation.__main__ import run_main

    return run_main(EXPERIMENT.name, argv)


if __name__ == "__main__":
    raise SystemExit(main())
