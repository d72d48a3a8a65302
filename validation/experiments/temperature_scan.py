"""SC.fig5 / RND.fig1 and TF.4.1 on a real network: does SGD's outcome depend on the learning rate λ
and the batch size B only through T = λ/B, does test loss improve as T rises while the train loss
stays near 0, and does the sharpness of the minimum found fall as T rises?

- **measure** (PyTorch): a 3-layer MLP on a small training subset of the scikit-learn ``digits``
  images (offline, so it can be fitted to near-zero loss) is trained with plain minibatch SGD
  (sampling without replacement, reshuffled every epoch) for every (λ, B) on a grid, and several
  seeds. Every run lasts the same SDE time ``t' = λ·steps`` (SC.eq10's time; RND's
  ``t' = Bt`` form differs only by the constant B), so runs differ only in T and in the discretisation.
  A run whose loss becomes non-finite is recorded as diverged (a data point: the stable range of λ)
  and left out of the fits. At the end: train/test loss and accuracy, and the sharpness — the top eigenvalue of the Hessian of
  the full training loss (power iteration on Hessian-vector products).
- **predict** (theory): the diffusion limit depends on (λ, B) only through T (SC.eq10, RND eq. 2), so
  in ``y = a + b log λ + c log B`` the theory says ``c = −b`` for any outcome y; SC/RND's Figs. 5/1
  say test loss falls with T at near-zero train loss; TF §4.1 says the sharpness falls with η/S.
- **compare** (pure function of the raw runs): least-squares ``b, c`` with standard errors, the
  ratio ``−c/b``, R² of a fit on log T alone against the fit on (log λ, log B), Spearman
  correlations with T, the test-loss optimum over T (monotone fall or an interior T*), the largest
  final train loss, and an F-test of TF's "equal η/S gives similar minima": the spread of log
  sharpness between (λ, B) cells of equal T against the seed-to-seed spread within cells.

``python -m validation run temperature_scan`` runs the full version into
``runs/temperature_scan_cpu.json`` (``--preset gpu --device cuda`` the GPU one, ``--force`` to replace
the committed ``validation/data/temperature_scan_cpu.json``, ``--resume`` after an interruption);
the ledger checks judge the committed record and run :data:`SMALL` live beside it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from validation.experiments._protocol import Experiment, source_file
from validation.ledger import PaperRange

__all__ = ["TemperatureScanConfig", "SMALL", "FULL", "GPU", "EXPERIMENT", "TF_RANGE", "SC_RND_RANGE", "P_VALUE",
           "measure", "predict", "compare", "run", "run_temperature", "spearman"]


@dataclass(frozen=True)
class TemperatureScanConfig:
    learning_rates: tuple[float, ...] = (0.025, 0.05, 0.1, 0.2, 0.4)
    batch_sizes: tuple[int, ...] = (4, 8, 16, 32, 64)
    seeds: tuple[int, ...] = (0, 1, 2)
    n_train: int = 256
    hidden: int = 32
    sde_time: float = 200.0  # t' = λ · steps, the same for every run
    power_iterations: int = 60
    train_loss_tolerance: float = 0.05  # "train loss near 0"
    seed: int = 0  # data split and initialisation offset

    def __post_init__(self):
        if not self.learning_rates or any(not (lr > 0) for lr in self.learning_rates):
            raise ValueError(f"learning_rates must be > 0; got {self.learning_rates}")
        if not self.batch_sizes or any(int(b) != b or b < 1 for b in self.batch_sizes):
            raise ValueError(f"batch_sizes must be integers ≥ 1; got {self.batch_sizes}")
        if any(b > self.n_train for b in self.batch_sizes):
            raise ValueError(f"batch_sizes must not exceed n_train = {self.n_train}")
        if not (self.sde_time > 0):
            raise ValueError(f"sde_time must be > 0; got {self.sde_time}")
        if len(self.learning_rates) * len(self.batch_sizes) < 4:
            raise ValueError("need at least 4 (λ, B) pairs to separate λ from B")


#: the small version the ledger checks run live on CPU
SMALL = TemperatureScanConfig(learning_rates=(0.05, 0.1, 0.2), batch_sizes=(8, 16, 32), seeds=(0, 1),
                              n_train=192, hidden=24, sde_time=120.0, power_iterations=40)
#: the full version: the committed CPU record ``validation/data/temperature_scan_cpu.json``
FULL = TemperatureScanConfig()
#: the GPU version (about 1–3 min on one H100/H200): the full grid with 5 seeds, a larger training
#: subset and a wider net
GPU = TemperatureScanConfig(seeds=(0, 1, 2, 3, 4), n_train=512, hidden=64)

#: SGD temperature ranges the papers measured on (``validation/checks/README.md``): TF §4.1 ran
#: η ∈ [5e-3, 0.1] with S ∈ [25, 1000], i.e. T ≤ 4e-3; SC Fig. 5 / RND Fig. 1 (VGG9 on CIFAR10)
#: spanned T ∈ [2.44e-8, 2.44e-5], below every run of this scan on a small MLP.
TF_RANGE = PaperRange("T = η/S", 5e-3 / 1000, 0.1 / 25, "TF §4.1: η ∈ [5e-3, 1e-1], S ∈ [25, 1000] (Fig. 1)")
SC_RND_RANGE = PaperRange("T = λ/B", 2.44e-8, 2.44e-5, "SC App. G.1 Fig. 5 = RND Fig. 1: T from 2.44e-8 to "
                                                       "2.44e-5 (VGG9, CIFAR10)")
#: significance level of the Spearman trends the verdicts use
P_VALUE = 0.01


def _start(config, seed, n_in, dev):
    """The initial network and the minibatch generator of the run with this seed."""
    import torch

    from numerics.training import mlp

    torch.manual_seed(1000 * config.seed + seed)
    gen = torch.Generator(device=dev).manual_seed(1000 * config.seed + seed)
    return mlp(config.hidden, n_in, 10).to(dev), gen


def _steps(config, lr) -> int:
    return int(round(config.sde_time / lr))


def _finish(config, lr, B, seed, model, gen, bad, data, loss_fn, sharp=None):
    """The raw summary of one trained run (``bad``: the step its loss became non-finite, or None;
    ``sharp``: its sharpness when already computed, else computed here)."""
    import torch

    from numerics.training import sharpness

    Xtr, ytr, Xte, yte = data
    steps = _steps(config, lr)
    if bad is not None:  # a data point of the scan (TF's breaking point), not a crash
        return {"lr": lr, "batch_size": B, "seed": seed, "T": lr / B, "steps": steps,
                "diverged": True, "diverged_at_step": bad}
    with torch.no_grad():
        out_tr, out_te = model(Xtr), model(Xte)
        res = {
            "lr": lr, "batch_size": B, "seed": seed, "T": lr / B, "steps": steps, "diverged": False,
            "train_loss": float(loss_fn(out_tr, ytr)), "test_loss": float(loss_fn(out_te, yte)),
            "train_accuracy": float((out_tr.argmax(1) == ytr).double().mean()),
            "test_accuracy": float((out_te.argmax(1) == yte).double().mean()),
        }
    res["sharpness"] = sharp if sharp is not None else sharpness(
        model, loss_fn, Xtr, ytr, iterations=config.power_iterations, generator=gen)
    return res


def _train_one(config, lr, B, seed, data, dev, loss_fn, trained=None):
    """One run: trained alone (:func:`numerics.training.train_sgd`; the route of a sweep executor),
    or — ``trained = (model, generator, diverged step or None, sharpness or None)`` — finished from
    its network trained in an ensemble (:func:`_train_batch`)."""
    from numerics.training import train_sgd

    if trained is not None:
        model, gen, bad, sharp = trained
    else:
        Xtr, ytr = data[0], data[1]
        model, gen = _start(config, seed, Xtr.shape[1], dev)
        bad = train_sgd(model, loss_fn, Xtr, ytr, lr=lr, batch_size=B, steps=_steps(config, lr), generator=gen)
        sharp = None
    return _finish(config, lr, B, seed, model, gen, bad, data, loss_fn, sharp)


def _train_batch(config, items, data, dev, loss_fn):
    """Every run of ``items`` trained together as one ensemble
    (:func:`numerics.training.train_sgd_ensemble`), the sharpness of the converged ones computed
    together (:func:`numerics.training.sharpness_ensemble`), then finished run by run (results
    yielded in item order); each run's minibatches, initialisation and power-iteration start are the
    ones it gets alone, so a run's result is the same up to rounding."""
    from numerics.training import sharpness_ensemble, train_sgd_ensemble

    Xtr, ytr = data[0], data[1]
    started = [_start(config, seed, Xtr.shape[1], dev) for _, _, seed in items]
    models, gens = [m for m, _ in started], [g for _, g in started]
    bad = train_sgd_ensemble(models, loss_fn, Xtr, ytr, lrs=[lr for lr, _, _ in items],
                             batch_sizes=[B for _, B, _ in items], steps=[_steps(config, lr) for lr, _, _ in items],
                             generators=gens, per_sample_loss=_per_sample_cross_entropy)
    ok = [i for i, b in enumerate(bad) if b is None]
    sharp = [None] * len(items)
    for i, value in zip(ok, sharpness_ensemble([models[i] for i in ok], loss_fn, Xtr, ytr,
                                               iterations=config.power_iterations, generators=[gens[i] for i in ok])):
        sharp[i] = value
    for (lr, B, seed), model, gen, b, sh in zip(items, models, gens, bad, sharp):
        yield _train_one(config, lr, B, seed, data, dev, loss_fn, trained=(model, gen, b, sh))


def _per_sample_cross_entropy(out, target):
    import torch

    return torch.nn.functional.cross_entropy(out, target, reduction="none")


def measure(config: TemperatureScanConfig, device="auto", *, progress: bool = False, checkpoint=None,
            executor=None) -> dict:
    """Train every (λ, B, seed) of the grid — together, as one ensemble of small networks, or with
    ``executor`` (a :class:`concurrent.futures.Executor`) one run per task; returns the raw per-run
    summary."""
    import itertools

    import torch

    from numerics.devices import device_fields, resolve_device
    from numerics.training import digits_split
    from validation.experiments import map_runs

    dev = resolve_device(device)
    data = tuple(t.to(dev) for t in digits_split(config.n_train, config.seed))
    loss_fn = torch.nn.functional.cross_entropy
    grid = itertools.product(config.learning_rates, config.batch_sizes, config.seeds)
    runs = map_runs(lambda lr, B, s: _train_one(config, lr, B, s, data, dev, loss_fn), grid, dev=dev,
                    desc="(λ, B, seed)", progress=progress, checkpoint=checkpoint, executor=executor,
                    batch=lambda items: _train_batch(config, items, data, dev, loss_fn))
    return {**device_fields(device, dev), "n_train": config.n_train,
            "n_test": int(data[2].shape[0]), "runs": runs}


def predict(config: TemperatureScanConfig, raw: dict | None = None) -> dict:
    """The diffusion limit's statements, as numbers the comparison tests."""
    return {
        "depends_only_on_T": "c = −b in y = a + b log λ + c log B (SC.eq10: only T = λ/B enters)",
        "ratio_minus_c_over_b": 1.0,
        "test_loss_vs_T": "decreasing (SC Fig. 5, RND Fig. 1) with train loss ≈ 0",
        "sharpness_vs_T": "decreasing (TF §4.1)",
    }


def _fit(ys, lam, bs):
    """Least squares y = a + b log λ + c log B: b, c, their standard errors, R² (full) and R² of a
    fit on log T alone."""

    y = np.asarray(ys, dtype=float)
    L, Bl = np.log(lam), np.log(bs)
    A = np.column_stack([np.ones_like(L), L, Bl])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    dof = max(len(y) - 3, 1)
    s2 = float(resid @ resid) / dof
    cov = s2 * np.linalg.inv(A.T @ A)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    At = np.column_stack([np.ones_like(L), L - Bl])
    coef_t, *_ = np.linalg.lstsq(At, y, rcond=None)
    rt = y - At @ coef_t
    r2 = 1 - float(resid @ resid) / ss_tot if ss_tot > 0 else float("nan")
    r2_t = 1 - float(rt @ rt) / ss_tot if ss_tot > 0 else float("nan")
    b, c = float(coef[1]), float(coef[2])
    se_b, se_c = float(math.sqrt(cov[1, 1])), float(math.sqrt(cov[2, 2]))
    se_sum = float(math.sqrt(max(cov[1, 1] + cov[2, 2] + 2 * cov[1, 2], 0.0)))
    return {"b_log_lr": b, "c_log_batch": c, "se_b": se_b, "se_c": se_c,
            "b_plus_c": b + c, "se_b_plus_c": se_sum,
            "ratio_minus_c_over_b": (-c / b) if b != 0 else float("nan"),
            "r2_full": r2, "r2_log_T_only": r2_t, "slope_log_T": float(coef_t[1])}


def spearman(x, y) -> dict:
    """Spearman rank correlation ``{"rho", "p", "n"}``; nan (no warning) for < 3 points or constant input."""
    from scipy.stats import spearmanr

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"rho": float("nan"), "p": float("nan"), "n": int(len(x))}
    r = spearmanr(x, y)
    return {"rho": float(r.statistic), "p": float(r.pvalue), "n": int(len(x))}


def _equal_T_f_test(ss_within_T: float, ss_within_cell: float, n_T: int, n_cells: int, n: int) -> dict:
    """F-test of "at equal T, (λ, B) does not matter": the spread between (λ, B) cells inside
    equal-T groups against the seed-to-seed spread inside cells."""
    from scipy.stats import f as f_dist

    df1, df2 = n_cells - n_T, n - n_cells
    if df1 <= 0 or df2 <= 0 or ss_within_cell <= 0:
        return {"F": float("nan"), "p": float("nan"), "df": [df1, df2]}
    F = ((ss_within_T - ss_within_cell) / df1) / (ss_within_cell / df2)
    return {"F": float(F), "p": float(f_dist.sf(F, df1, df2)), "df": [df1, df2]}


def compare(config: TemperatureScanConfig, prediction: dict, raw: dict) -> dict:
    """Metrics from the raw runs (pure): per-outcome fits, Spearman correlations with T, train-loss
    check, equal-T grouping of the sharpness."""
    diverged = [{"lr": r["lr"], "batch_size": r["batch_size"], "seed": r["seed"]}
                for r in raw["runs"] if r.get("diverged")]
    runs = [r for r in raw["runs"] if not r.get("diverged")]
    if len(runs) < 4:
        raise ValueError(f"only {len(runs)} runs converged ({len(diverged)} diverged): lower the learning rates")
    lam = np.array([r["lr"] for r in runs], dtype=float)
    bs = np.array([r["batch_size"] for r in runs], dtype=float)
    T = lam / bs
    out = {"n_runs": len(runs), "diverged_runs": diverged, "T_range": [float(T.min()), float(T.max())]}
    outcomes = {
        "test_loss": np.array([r["test_loss"] for r in runs]),
        "test_accuracy": np.array([r["test_accuracy"] for r in runs]),
        "log_sharpness": np.log(np.maximum([r["sharpness"] for r in runs], 1e-12)),
    }
    for name, y in outcomes.items():
        fit = _fit(y, lam, bs)
        rho = spearman(T, y)
        fit["spearman_T"], fit["spearman_p"] = rho["rho"], rho["p"]
        # "only through T": b + c within 2 standard errors of 0, and log T alone explains ≥ 90 % of
        # what (log λ, log B) explain together
        fit["only_through_T"] = bool(abs(fit["b_plus_c"]) <= 2 * fit["se_b_plus_c"]
                                     and fit["r2_log_T_only"] >= 0.9 * fit["r2_full"])
        out[name] = fit
    train = np.array([r["train_loss"] for r in runs])
    out["max_train_loss"] = float(train.max())
    out["train_loss_tolerance"] = config.train_loss_tolerance
    out["train_loss_near_zero"] = bool(train.max() < config.train_loss_tolerance)
    # equal T: share of the variance of log sharpness within groups of equal T (λ/B equal to 1e-12)
    key = np.round(np.log2(T), 9)
    ls = outcomes["log_sharpness"]
    groups = {k: ls[key == k] for k in np.unique(key)}
    within = sum(float(((g - g.mean()) ** 2).sum()) for g in groups.values())
    total = float(((ls - ls.mean()) ** 2).sum())
    out["log_sharpness_within_equal_T_share"] = within / total if total > 0 else float("nan")
    # per-seed noise floor: variance share within identical (λ, B)
    cell = {}
    for r, v in zip(runs, ls):
        cell.setdefault((r["lr"], r["batch_size"]), []).append(v)
    within_cell = sum(float(((np.array(g) - np.mean(g)) ** 2).sum()) for g in cell.values())
    out["log_sharpness_within_same_lr_B_share"] = within_cell / total if total > 0 else float("nan")
    out["log_sharpness_equal_T_f_test"] = _equal_T_f_test(within, within_cell, len(groups), len(cell), len(ls))
    # paired view (every cell uses the same seeds, i.e. the same initialisations): RMS spread of log
    # sharpness across cells of equal T for one seed, against the RMS spread across seeds in one cell
    by_T_seed = {}
    for r, v, k in zip(runs, ls, key):
        by_T_seed.setdefault((k, r["seed"]), []).append(v)
    paired = [float(np.std(g)) for g in by_T_seed.values() if len(g) > 1]
    seeds = [float(np.std(g)) for g in cell.values() if len(g) > 1]
    out["log_sharpness_rms_spread"] = {
        "equal_T_same_seed": float(np.sqrt(np.mean(np.square(paired)))) if paired else float("nan"),
        "same_lr_B_across_seeds": float(np.sqrt(np.mean(np.square(seeds)))) if seeds else float("nan"),
    }
    # TF's breaking point: at the largest λ, the sharpness relative to smaller-λ runs of equal T
    top = lam == lam.max()
    dev_top = []
    for k in np.unique(key[top]):
        same = key == k
        if np.any(same & ~top):
            dev_top.append(float(ls[same & top].mean() - ls[same & ~top].mean()))
    out["largest_lr_log_sharpness_offset_at_equal_T"] = dev_top
    # medians per T (for plots) and the test-loss optimum: is the fall with T monotone, or is there
    # an optimal temperature inside the grid (RND's T*) beyond which test loss rises again?
    Tu = np.unique(T)
    med = np.array([np.median(outcomes["test_loss"][T == t]) for t in Tu])
    t_star = float(Tu[int(np.argmin(med))])
    below, above = T <= t_star, T >= t_star
    out["test_loss_optimum"] = {
        "T_star_median": t_star,
        "interior": bool(Tu[0] < t_star < Tu[-1]),
        "spearman_below": spearman(T[below], outcomes["test_loss"][below]),
        "spearman_above": spearman(T[above], outcomes["test_loss"][above]),
        "relative_drop_to_T_star": float(1 - med.min() / med[0]),
        "relative_rise_after_T_star": float(med[-1] / med.min() - 1),
    }
    out["per_T"] = {
        "T": Tu.tolist(),
        "test_loss": [float(np.median(outcomes["test_loss"][T == t])) for t in Tu],
        "sharpness": [float(np.median(np.exp(ls[T == t]))) for t in Tu],
        "train_loss": [float(np.median(train[T == t])) for t in Tu],
    }
    return out


def run_temperature(run: dict) -> float:
    """T = λ/B of one raw run (the axis of the papers' ranges)."""
    return run["lr"] / run["batch_size"]


def run(config: TemperatureScanConfig = None, device="auto", out=None, *,
        progress: bool = False, force: bool = False, resume: bool = False) -> dict:
    """measure → predict → compare (default config: :data:`FULL`); write a record to ``out`` when
    given (``force``: replace an existing file; ``resume``: reuse the finished runs of an
    interrupted run — see :func:`validation.experiments.run_experiment`)."""
    return EXPERIMENT.run(config, device, out, progress=progress, force=force, resume=resume)


def _summary(rec):
    m = rec["metrics"]
    for name in ("test_loss", "log_sharpness"):
        yield name + " " + str({k: round(v, 4) if isinstance(v, float) else v for k, v in m[name].items()})
    yield f"max train loss {m['max_train_loss']}"


def _work(config, raw) -> tuple:
    """Per-sample gradient evaluations of the SGD runs: Σ steps × batch size."""
    return sum(r["steps"] * r["batch_size"] for r in raw["runs"]), "per-sample gradients"


EXPERIMENT = Experiment(
    name="temperature_scan", claims=("SC.fig5", "RND.fig1", "TF.4.1"), config_type=TemperatureScanConfig,
    SMALL=SMALL, FULL=FULL, GPU=GPU, measure=measure, predict=predict, compare=compare,
    record_stem="temperature_scan", estimates={"small": {"cpu": 15, "gpu": 30}, "full": {"cpu": 25, "gpu": 200},
                                               "gpu": {"cpu": 900, "gpu": 150}},
    description="Real SGD on a (learning rate, batch size) grid: does the outcome depend on them only through "
                "T = λ/B, does test loss fall and sharpness fall as T rises?",
    summary=_summary, inputs=source_file(__file__), work=_work)


def main(argv=None) -> int:
    """``python -m validation.experiments.temperature_scan ARGS`` = ``python -m validation run
    temperature_scan ARGS``."""
    from validation.__main__ import run_main

    return run_main(EXPERIMENT.name, argv)


if __name__ == "__main__":
    raise SystemExit(main())
