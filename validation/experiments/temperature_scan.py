"""SC.fig5 / RND.fig1 and TF.4.1 on a real network: does SGD's outcome depend on the learning rate λ
and the batch size B only through T = λ/B, does test loss improve as T rises while the train loss
stays near 0, and does the sharpness of the minimum found fall as T rises?

- **measure** (PyTorch): for every *setup* ``"dataset/model"`` of the config — a data set of
  :mod:`numerics.datasets` (``digits``, ``mnist1d``, …; shipped or generated offline, a small training
  subset so it can be fitted to near-zero loss) and a net (``mlp``: the 3-layer tanh MLP;
  ``cnn1d``: the small 1-D CNN, for MNIST-1D's 40-sample signals), optionally with ℓ2 — a net is trained with plain minibatch SGD
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
  sharpness between (λ, B) cells of equal T against the seed-to-seed spread within cells; the test
  loss again on the T levels where every run's train loss is near 0 (SC's premise); and TF Fig. 6's
  breaking point: per λ, the change of test accuracy and log sharpness against the smallest λ of
  equal T (paired by seed), and the smallest λ where accuracy drops by > 3 standard errors or a run
  diverges. Every setup gets its own metrics (the first setup's at the top level, the others under
  ``other_setups``; :func:`setup_metrics` lists them all): T = λ/B is not comparable across data sets
  and nets, so the collapse onto T is tested within each.

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
           "MODELS", "measure", "predict", "compare", "run", "run_temperature", "spearman", "parse_setup",
           "make_net", "setup_data", "setup_metrics", "BREAK_SE"]

#: the nets a setup ``"dataset/model"`` can name
MODELS = ("mlp", "cnn1d")
#: TF Fig. 6's breaking point: test accuracy below the smallest λ of equal T by more than this many
#: standard errors (paired by seed)
BREAK_SE = 3.0


def parse_setup(text: str) -> tuple[str, str]:
    """``"dataset/model"`` → ``(dataset, model)``: a data set of :data:`numerics.datasets.DATASETS`
    and a net of :data:`MODELS`. Raises ``ValueError`` naming the accepted names otherwise."""
    from numerics.datasets import DATASETS

    if not isinstance(text, str) or text.count("/") != 1:
        raise ValueError(f"a setup is 'dataset/model' (e.g. 'digits/mlp', 'mnist1d/cnn1d'); got {text!r}")
    dataset, model = text.split("/")
    if dataset not in DATASETS:
        raise ValueError(f"setup {text!r}: the data set must be one of {', '.join(DATASETS)}")
    if model not in MODELS:
        raise ValueError(f"setup {text!r}: the model must be one of {', '.join(MODELS)}")
    return dataset, model


def make_net(model: str, n_in: int, n_out: int, *, hidden: int, channels: int):
    """The net of a setup: :func:`numerics.training.mlp` (``hidden`` units) or
    :func:`numerics.training.cnn1d` (``channels`` channels), from the global torch seed."""
    from numerics.training import cnn1d, mlp

    if model == "mlp":
        return mlp(hidden, n_in, n_out)
    if model == "cnn1d":
        return cnn1d(channels, n_in, n_out)
    raise ValueError(f"model must be one of {', '.join(MODELS)}; got {model!r}")


def setup_metrics(metrics: dict) -> dict:
    """``{setup: its metrics}`` of a :func:`compare` result (the first setup's metrics are the top
    level, the others under ``other_setups``), in the config's order."""
    top = {k: v for k, v in metrics.items() if k != "other_setups"}
    return {metrics.get("setup", "digits/mlp"): top, **metrics.get("other_setups", {})}


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
    setups: tuple[str, ...] = ("digits/mlp",)  # "dataset/model" pairs, each scanned on the whole grid
    channels: int = 8  # width of cnn1d
    weight_decay: float = 0.0  # ℓ2 coefficient μ (SGD on L + μ/2 |θ|²)

    def __post_init__(self):
        from numerics.datasets import dataset_size

        if not self.setups or len(set(self.setups)) != len(self.setups):
            raise ValueError(f"setups must be distinct 'dataset/model' names, at least one; got {self.setups}")
        for su in self.setups:
            dataset, _ = parse_setup(su)
            if not 2 <= self.n_train <= dataset_size(dataset) - 1:
                raise ValueError(f"n_train = {self.n_train} does not fit data set {dataset!r} "
                                 f"({dataset_size(dataset)} samples)")
        if self.channels < 1 or self.hidden < 1:
            raise ValueError(f"hidden and channels must be ≥ 1; got {self.hidden}, {self.channels}")
        if not (self.weight_decay >= 0) or not math.isfinite(self.weight_decay):
            raise ValueError(f"weight_decay must be a finite number ≥ 0; got {self.weight_decay}")
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
#: the full version: the committed CPU record ``validation/data/temperature_scan_cpu.json`` — two data
#: sets (digits images, MNIST-1D signals), the MLP on both and the 1-D CNN on MNIST-1D, six batch
#: sizes, λ up to 1.6 (TF Fig. 6's breaking point), T from 3.9e-4 to 0.4, 30 runs per setup inside
#: TF's T ≤ 4e-3. The CNN has 32 channels: with 8 it does not fit the 256 signals within the SDE time
#: (final train loss ≥ 0.19 on every run of a first record), which the scan needs (train loss near 0)
FULL = TemperatureScanConfig(learning_rates=(0.05, 0.1, 0.2, 0.4, 0.8, 1.6), batch_sizes=(4, 8, 16, 32, 64, 128),
                             setups=("digits/mlp", "mnist1d/mlp", "mnist1d/cnn1d"), channels=32)
#: the GPU version (a guess, untested: no GPU was lent when it was sized; about 2–3 min on one
#: H100/H200): the 1-D CNN on MNIST-1D as a third setup, λ from 0.025, 5 seeds, a larger training
#: subset and wider nets
GPU = TemperatureScanConfig(learning_rates=(0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6),
                            batch_sizes=(4, 8, 16, 32, 64, 128), seeds=(0, 1, 2, 3, 4), n_train=512, hidden=64,
                            channels=32, setups=("digits/mlp", "mnist1d/mlp", "mnist1d/cnn1d"))

#: SGD temperature ranges the papers measured on (``validation/checks/README.md``): TF §4.1 ran
#: η ∈ [5e-3, 0.1] with S ∈ [25, 1000], i.e. T ≤ 4e-3; SC Fig. 5 / RND Fig. 1 (VGG9 on CIFAR10)
#: spanned T ∈ [2.44e-8, 2.44e-5], below every run of this scan on a small MLP.
TF_RANGE = PaperRange("T = η/S", 5e-3 / 1000, 0.1 / 25, "TF §4.1: η ∈ [5e-3, 1e-1], S ∈ [25, 1000] (Fig. 1)")
SC_RND_RANGE = PaperRange("T = λ/B", 2.44e-8, 2.44e-5, "SC App. G.1 Fig. 5 = RND Fig. 1: T from 2.44e-8 to "
                                                       "2.44e-5 (VGG9, CIFAR10)")
#: significance level of the Spearman trends the verdicts use
P_VALUE = 0.01


def _start(config, seed, n_in, dev, model="mlp", n_out=10):
    """The initial network and the minibatch generator of the run with this seed."""
    import torch

    torch.manual_seed(1000 * config.seed + seed)
    gen = torch.Generator(device=dev).manual_seed(1000 * config.seed + seed)
    return make_net(model, n_in, n_out, hidden=config.hidden, channels=config.channels).to(dev), gen


def _steps(config, lr) -> int:
    return int(round(config.sde_time / lr))


def _finish(config, lr, B, seed, model, gen, bad, data, loss_fn, sharp=None, setup="digits/mlp"):
    """The raw summary of one trained run (``bad``: the step its loss became non-finite, or None;
    ``sharp``: its sharpness when already computed, else computed here)."""
    import torch

    from numerics.training import sharpness

    Xtr, ytr, Xte, yte = data[:4]
    steps = _steps(config, lr)
    if bad is not None:  # a data point of the scan (TF's breaking point), not a crash
        return {"setup": setup, "lr": lr, "batch_size": B, "seed": seed, "T": lr / B, "steps": steps,
                "diverged": True, "diverged_at_step": bad}
    with torch.no_grad():
        out_tr, out_te = model(Xtr), model(Xte)
        res = {
            "setup": setup, "lr": lr, "batch_size": B, "seed": seed, "T": lr / B, "steps": steps, "diverged": False,
            "train_loss": float(loss_fn(out_tr, ytr)), "test_loss": float(loss_fn(out_te, yte)),
            "train_accuracy": float((out_tr.argmax(1) == ytr).double().mean()),
            "test_accuracy": float((out_te.argmax(1) == yte).double().mean()),
        }
    res["sharpness"] = sharp if sharp is not None else sharpness(
        model, loss_fn, Xtr, ytr, iterations=config.power_iterations, generator=gen)
    return res


def _train_one(config, lr, B, seed, data, dev, loss_fn, trained=None, setup="digits/mlp"):
    """One run: trained alone (:func:`numerics.training.train_sgd`; the route of a sweep executor),
    or — ``trained = (model, generator, diverged step or None, sharpness or None)`` — finished from
    its network trained in an ensemble (:func:`_train_batch`). ``data`` = (X_train, y_train, X_test,
    y_test, n_classes) of the setup."""
    from numerics.training import train_sgd

    if trained is not None:
        model, gen, bad, sharp = trained
    else:
        Xtr, ytr = data[0], data[1]
        model, gen = _start(config, seed, Xtr.shape[1], dev, parse_setup(setup)[1], data[4])
        bad = train_sgd(model, loss_fn, Xtr, ytr, lr=lr, batch_size=B, steps=_steps(config, lr), generator=gen,
                        weight_decay=config.weight_decay)
        sharp = None
    return _finish(config, lr, B, seed, model, gen, bad, data, loss_fn, sharp, setup)


def _train_batch(config, items, datas, dev, loss_fn):
    """The runs of ``items`` (``(setup, λ, B, seed)``), each stretch of one setup trained together as
    one ensemble (:func:`numerics.training.train_sgd_ensemble`: MLPs as one padded stack of batched
    matrix products; the CNN by its vmap route, one stack per batch size), the sharpness of the
    converged ones computed together (:func:`numerics.training.sharpness_ensemble`), then finished
    run by run (results yielded in item order); each run's minibatches, initialisation and
    power-iteration start are the ones it gets alone, so a run's result is the same up to rounding."""
    import itertools

    for setup, group in itertools.groupby(items, key=lambda it: it[0]):
        yield from _train_setup(config, setup, [it[1:] for it in group], datas[setup], dev, loss_fn)


def _train_setup(config, setup, items, data, dev, loss_fn):
    from numerics.training import sharpness_ensemble, train_sgd_ensemble

    Xtr, ytr = data[0], data[1]
    model_name = parse_setup(setup)[1]
    started = [_start(config, seed, Xtr.shape[1], dev, model_name, data[4]) for _, _, seed in items]
    models, gens = [m for m, _ in started], [g for _, g in started]
    bad = train_sgd_ensemble(models, loss_fn, Xtr, ytr, lrs=[lr for lr, _, _ in items],
                             batch_sizes=[B for _, B, _ in items], steps=[_steps(config, lr) for lr, _, _ in items],
                             generators=gens, weight_decay=config.weight_decay,
                             per_sample_loss=_per_sample_cross_entropy if model_name == "mlp" else None)
    ok = [i for i, b in enumerate(bad) if b is None]
    sharp = [None] * len(items)
    for i, value in zip(ok, sharpness_ensemble([models[i] for i in ok], loss_fn, Xtr, ytr,
                                               iterations=config.power_iterations, generators=[gens[i] for i in ok])):
        sharp[i] = value
    for (lr, B, seed), model, gen, b, sh in zip(items, models, gens, bad, sharp):
        yield _train_one(config, lr, B, seed, data, dev, loss_fn, trained=(model, gen, b, sh), setup=setup)


def _per_sample_cross_entropy(out, target):
    import torch

    return torch.nn.functional.cross_entropy(out, target, reduction="none")


def setup_data(config, dev) -> dict:
    """``{setup: (X_train, y_train, X_test, y_test, n_classes)}`` on ``dev``: each data set split by
    :func:`numerics.datasets.load_dataset` (``n_train``, the config's seed; ``digits`` is exactly
    :func:`numerics.training.digits_split`)."""
    from numerics.datasets import load_dataset

    out = {}
    for su in config.setups:
        d = load_dataset(parse_setup(su)[0], config.n_train, config.seed)
        out[su] = tuple(t.to(dev) for t in d.tensors()) + (d.n_classes,)
    return out


def measure(config: TemperatureScanConfig, device="auto", *, progress: bool = False, checkpoint=None,
            executor=None) -> dict:
    """Train every (setup, λ, B, seed) of the grid — each setup's runs together, as one ensemble of
    small networks, or with ``executor`` (a :class:`concurrent.futures.Executor`) one run per task;
    returns the raw per-run summary."""
    import itertools

    import torch

    from numerics.devices import device_fields, resolve_device
    from validation.experiments import map_runs

    dev = resolve_device(device)
    datas = setup_data(config, dev)
    loss_fn = torch.nn.functional.cross_entropy
    grid = itertools.product(config.setups, config.learning_rates, config.batch_sizes, config.seeds)
    runs = map_runs(lambda su, lr, B, s: _train_one(config, lr, B, s, datas[su], dev, loss_fn, setup=su), grid,
                    dev=dev, desc="(setup, λ, B, seed)", progress=progress, checkpoint=checkpoint, executor=executor,
                    batch=lambda items: _train_batch(config, items, datas, dev, loss_fn))
    return {**device_fields(device, dev), "n_train": config.n_train,
            "n_test": {su: int(d[2].shape[0]) for su, d in datas.items()}, "runs": runs}


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
            # power of the "only through T" test (|b + c| ≤ 2 se): a departure |b + c| of this size is
            # detected with probability 0.8 (normal approximation: (2 + 0.84) se)
            "detectable_b_plus_c_80pct": 2.84 * se_sum,
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
    """Metrics from the raw runs (pure), per setup (T is not comparable across data sets and nets):
    per-outcome fits, Spearman correlations with T, the train-loss check, the equal-T grouping of the
    sharpness and TF's breaking point. The first setup of the config's order that has runs is the
    top level (with ``"setup"`` naming it), every other under ``other_setups`` — an entry
    ``{"n_runs", "not_enough_runs"}`` when fewer than 4 of its runs converged. Raises ``ValueError``
    when the first setup has fewer than 4 converged runs."""
    by = {}
    for r in raw["runs"]:
        by.setdefault(r.get("setup", config.setups[0]), []).append(r)
    names = [su for su in config.setups if su in by] + sorted(su for su in by if su not in config.setups)
    if not names:
        raise ValueError("no runs: nothing to compare")
    out = dict(_compare_setup(config, by[names[0]]), setup=names[0])
    others = {}
    for su in names[1:]:
        try:
            others[su] = _compare_setup(config, by[su])
        except ValueError as exc:
            others[su] = {"n_runs": sum(not r.get("diverged") for r in by[su]), "not_enough_runs": str(exc)}
    out["other_setups"] = others
    return out


def _test_loss_trend(T, test_loss, lam, bs) -> dict:
    """The test-loss fit, its Spearman correlation with T and the optimum over T."""
    fit = _fit(test_loss, lam, bs)
    rho = spearman(T, test_loss)
    fit["spearman_T"], fit["spearman_p"] = rho["rho"], rho["p"]
    fit["only_through_T"] = bool(abs(fit["b_plus_c"]) <= 2 * fit["se_b_plus_c"]
                                 and fit["r2_log_T_only"] >= 0.9 * fit["r2_full"])
    Tu = np.unique(T)
    med = np.array([np.median(test_loss[T == t]) for t in Tu])
    t_star = float(Tu[int(np.argmin(med))])
    below, above = T <= t_star, T >= t_star
    optimum = {
        "T_star_median": t_star,
        "interior": bool(Tu[0] < t_star < Tu[-1]),
        "spearman_below": spearman(T[below], test_loss[below]),
        "spearman_above": spearman(T[above], test_loss[above]),
        "relative_drop_to_T_star": float(1 - med.min() / med[0]),
        "relative_rise_after_T_star": float(med[-1] / med.min() - 1),
    }
    return {"fit": fit, "optimum": optimum}


def _breaking_point(config, runs_all) -> dict:
    """TF Fig. 6's breaking point: on each diagonal of equal T, every λ against the smallest λ of the
    diagonal, paired by seed (same initialisation); per λ the mean change of test accuracy and of log
    sharpness with standard errors, and the runs that diverged. The breaking λ is the smallest λ
    where the accuracy drops by more than :data:`BREAK_SE` standard errors (≥ 2 pairs) or a run
    diverged (TF's "*")."""
    key = lambda r: round(math.log2(r["lr"] / r["batch_size"]), 9)  # noqa: E731
    cells = {(key(r), r["lr"], r["seed"]): r for r in runs_all}
    diagonals = {}
    for r in runs_all:
        diagonals.setdefault(key(r), set()).add(r["lr"])
    per_lr = {}
    for k, lrs in diagonals.items():
        ref = min(lrs)
        for lr in sorted(lrs):
            e = per_lr.setdefault(lr, {"d_acc": [], "d_log_sharp": [], "n_runs": 0, "n_diverged": 0})
            for s in config.seeds:
                r = cells.get((k, lr, s))
                if r is None:
                    continue
                e["n_runs"] += 1
                e["n_diverged"] += bool(r.get("diverged"))
                r0 = cells.get((k, ref, s))
                if lr == ref or r0 is None or r.get("diverged") or r0.get("diverged"):
                    continue
                e["d_acc"].append(r["test_accuracy"] - r0["test_accuracy"])
                if r["sharpness"] > 0 and r0["sharpness"] > 0:  # (not at a minimum otherwise: see compare)
                    e["d_log_sharp"].append(math.log(r["sharpness"]) - math.log(r0["sharpness"]))

    def stat(v):
        if not v:
            return {"mean": float("nan"), "se": float("nan"), "n": 0}
        se = float(np.std(v, ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan")
        return {"mean": float(np.mean(v)), "se": se, "n": len(v)}

    table, breaking = [], None
    for lr in sorted(per_lr):
        e = per_lr[lr]
        acc, sh = stat(e["d_acc"]), stat(e["d_log_sharp"])
        drop = acc["n"] >= 2 and acc["se"] == acc["se"] and acc["mean"] < -BREAK_SE * max(acc["se"], 1e-12)
        broke = bool(drop or e["n_diverged"])
        table.append({"lr": lr, "test_accuracy_change": acc, "log_sharpness_change": sh, "n_runs": e["n_runs"],
                      "n_diverged": e["n_diverged"], "broken": broke})
        if broke and breaking is None:
            breaking = lr
    return {"per_lr": table, "breaking_lr": breaking, "criterion_se": BREAK_SE}


def _compare_setup(config: TemperatureScanConfig, runs_all: list) -> dict:
    """The metrics of one setup's runs (see :func:`compare`)."""
    diverged = [{"lr": r["lr"], "batch_size": r["batch_size"], "seed": r["seed"]}
                for r in runs_all if r.get("diverged")]
    runs = [r for r in runs_all if not r.get("diverged")]
    if len(runs) < 4:
        raise ValueError(f"only {len(runs)} runs converged ({len(diverged)} diverged): lower the learning rates")
    lam = np.array([r["lr"] for r in runs], dtype=float)
    bs = np.array([r["batch_size"] for r in runs], dtype=float)
    T = lam / bs
    out = {"n_runs": len(runs), "diverged_runs": diverged, "T_range": [float(T.min()), float(T.max())]}
    outcomes = {
        "test_loss": np.array([r["test_loss"] for r in runs]),
        "test_accuracy": np.array([r["test_accuracy"] for r in runs]),
    }
    # the sharpness is a property of a minimum: a run whose power iteration ends on a non-positive
    # dominant eigenvalue (|negative| > positive: a saddle or a still-moving run, seen at the largest
    # λ with the smallest B) has no log sharpness and is left out of its statistics (counted)
    sharp = np.array([r["sharpness"] for r in runs], dtype=float)
    pos = sharp > 0
    out["n_sharpness_not_positive"] = int((~pos).sum())
    if pos.sum() < 4:
        raise ValueError(f"only {int(pos.sum())} converged runs have a positive sharpness: nothing to fit")
    for name, y in list(outcomes.items()) + [("log_sharpness", None)]:
        if name == "log_sharpness":
            runs, lam, bs, T = [r for r, ok in zip(runs, pos) if ok], lam[pos], bs[pos], T[pos]
            y = outcomes["log_sharpness"] = np.log(sharp[pos])
        fit = _fit(y, lam, bs)
        rho = spearman(T, y)
        fit["spearman_T"], fit["spearman_p"] = rho["rho"], rho["p"]
        # "only through T": b + c within 2 standard errors of 0, and log T alone explains ≥ 90 % of
        # what (log λ, log B) explain together
        fit["only_through_T"] = bool(abs(fit["b_plus_c"]) <= 2 * fit["se_b_plus_c"]
                                     and fit["r2_log_T_only"] >= 0.9 * fit["r2_full"])
        out[name] = fit
    runs_s, lam_s, bs_s, T_s = runs, lam, bs, T  # the runs with a positive sharpness
    runs = [r for r in runs_all if not r.get("diverged")]
    lam = np.array([r["lr"] for r in runs], dtype=float)
    bs = np.array([r["batch_size"] for r in runs], dtype=float)
    T = lam / bs
    train = np.array([r["train_loss"] for r in runs])
    out["max_train_loss"] = float(train.max())
    out["train_loss_tolerance"] = config.train_loss_tolerance
    out["train_loss_near_zero"] = bool(train.max() < config.train_loss_tolerance)
    # SC's premise ("train loss near 0") may hold only up to some T: the test-loss trend again on the
    # T levels up to the largest below which every run's train loss is under the tolerance
    Tu = np.unique(T)
    ok_T = [t for t in Tu if train[T == t].max() < config.train_loss_tolerance]
    t_ok = float(Tu[0])
    for t in Tu:
        if t not in ok_T:
            break
        t_ok = float(t)
    sel = T <= t_ok
    near = {"T_max": t_ok, "n_runs": int(sel.sum()), "n_T_levels": int(len(np.unique(T[sel]))),
            "premise_holds_at_smallest_T": bool(Tu[0] in ok_T)}
    if near["premise_holds_at_smallest_T"] and near["n_T_levels"] >= 3 and sel.sum() >= 4:
        near.update(_test_loss_trend(T[sel], outcomes["test_loss"][sel], lam[sel], bs[sel]))
    out["test_loss_where_train_loss_near_zero"] = near
    # equal T: share of the variance of log sharpness within groups of equal T (λ/B equal to 1e-12)
    key = np.round(np.log2(T_s), 9)
    ls = outcomes["log_sharpness"]
    groups = {k: ls[key == k] for k in np.unique(key)}
    within = sum(float(((g - g.mean()) ** 2).sum()) for g in groups.values())
    total = float(((ls - ls.mean()) ** 2).sum())
    out["log_sharpness_within_equal_T_share"] = within / total if total > 0 else float("nan")
    # per-seed noise floor: variance share within identical (λ, B)
    cell = {}
    for r, v in zip(runs_s, ls):
        cell.setdefault((r["lr"], r["batch_size"]), []).append(v)
    within_cell = sum(float(((np.array(g) - np.mean(g)) ** 2).sum()) for g in cell.values())
    out["log_sharpness_within_same_lr_B_share"] = within_cell / total if total > 0 else float("nan")
    out["log_sharpness_equal_T_f_test"] = _equal_T_f_test(within, within_cell, len(groups), len(cell), len(ls))
    # paired view (every cell uses the same seeds, i.e. the same initialisations): RMS spread of log
    # sharpness across cells of equal T for one seed, against the RMS spread across seeds in one cell
    by_T_seed = {}
    for r, v, k in zip(runs_s, ls, key):
        by_T_seed.setdefault((k, r["seed"]), []).append(v)
    paired = [float(np.std(g)) for g in by_T_seed.values() if len(g) > 1]
    seeds = [float(np.std(g)) for g in cell.values() if len(g) > 1]
    out["log_sharpness_rms_spread"] = {
        "equal_T_same_seed": float(np.sqrt(np.mean(np.square(paired)))) if paired else float("nan"),
        "same_lr_B_across_seeds": float(np.sqrt(np.mean(np.square(seeds)))) if seeds else float("nan"),
    }
    # TF's breaking point: at the largest λ, the sharpness relative to smaller-λ runs of equal T
    top = lam_s == lam_s.max()
    dev_top = []
    for k in np.unique(key[top]):
        same = key == k
        if np.any(same & ~top):
            dev_top.append(float(ls[same & top].mean() - ls[same & ~top].mean()))
    out["largest_lr_log_sharpness_offset_at_equal_T"] = dev_top
    out["breaking_point"] = _breaking_point(config, runs_all)
    # medians per T (for plots) and the test-loss optimum: is the fall with T monotone, or is there
    # an optimal temperature inside the grid (RND's T*) beyond which test loss rises again?
    out["test_loss_optimum"] = _test_loss_trend(T, outcomes["test_loss"], lam, bs)["optimum"]
    out["per_T"] = {
        "T": Tu.tolist(),
        "test_loss": [float(np.median(outcomes["test_loss"][T == t])) for t in Tu],
        "sharpness": [float(np.median(sharp[T == t])) for t in Tu],
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
    for su, m in setup_metrics(rec["metrics"]).items():
        if "not_enough_runs" in m:
            yield f"{su}: {m['not_enough_runs']}"
            continue
        for name in ("test_loss", "log_sharpness"):
            yield f"{su} {name} " + str({k: round(v, 4) if isinstance(v, float) else v for k, v in m[name].items()})
        yield f"{su} max train loss {m['max_train_loss']}; breaking λ {m['breaking_point']['breaking_lr']}"


def _work(config, raw) -> tuple:
    """Per-sample gradient evaluations of the SGD runs: Σ steps × batch size."""
    return sum(r["steps"] * r["batch_size"] for r in raw["runs"]), "per-sample gradients"


EXPERIMENT = Experiment(
    name="temperature_scan", claims=("SC.fig5", "RND.fig1", "TF.4.1"), config_type=TemperatureScanConfig,
    SMALL=SMALL, FULL=FULL, GPU=GPU, measure=measure, predict=predict, compare=compare,
    record_stem="temperature_scan", estimates={"small": {"cpu": 15, "gpu": 30}, "full": {"cpu": 450, "gpu": 200},
                                               "gpu": {"cpu": 5400, "gpu": 180}},
    description="Real SGD on a (learning rate, batch size) grid, per data set and net: does the outcome depend on "
                "them only through T = λ/B, does test loss fall and sharpness fall as T rises, where does the "
                "equivalence break at large λ?",
    summary=_summary, inputs=source_file(__file__), work=_work)


def main(argv=None) -> int:
    """``python -m validation.experiments.temperature_scan ARGS`` = ``python -m validation run
    temperature_scan ARGS``."""
    from validation.__main__ import run_main

    return run_main(EXPERIMENT.name, argv)


if __name__ == "__main__":
    raise SystemExit(main())
