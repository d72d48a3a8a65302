"""SC.fig1-3 on a real network: the test loss at the train minimum is the test loss at the test
minimum plus the shift-curvature term (SC.eq3 with the bias dropped), and the curvatures along the
train→test line fall as the SGD temperature rises.

- **measure** (PyTorch), following SC §3 / App. F on a small scale: for every data set (names of
  :data:`numerics.datasets.DATASETS`: ``digits``, ``breast_cancer``, ``wine``, ``mnist1d``), temperature
  T = λ/B and seed, (1) SGD at T on a training subset of the data set (equal SDE time λ·steps for every T;
  with ``l2 > 0`` every phase minimises U + (ℓ2/2)‖θ‖² — ``weight_decay=l2`` of
  :mod:`numerics.training` — and the line losses include that term);
  (2) from that point, full-batch gradient descent with a small step on the *train* set → θ^tr;
  (3) from the same point, the same on the *test* set → θ^test; (4) train and test losses on the
  line ``θ(α) = θ^tr + α (θ^test − θ^tr)``, α ∈ [−1, 2].
- **predict** (theory, SC.eq3/SC.eq4 with b = 0): ``U^test(θ^tr) ≈ U^test(θ^test) + ½ sᵀC^test s``,
  and the curvatures and the shift-curvature fall as T rises (SC's steady-state preference for
  flat minima, SC.eq6).
- **compare** (pure): symmetrised quadratic fits (SC App. F, :func:`numerics.interpolation.line_fit`;
  line losses by :func:`numerics.interpolation.line_losses`): the test loss is reflected about its
  minimum α = 1 in the direction of the train minimum (points α ∈ [0, 1] and their mirror images),
  the train loss about α = 0 in the direction away from the test minimum (α ∈ [−1, 0]); each fit
  ``y = y₀ + ½ κ (α − α₀)²`` gives the curvature along the line in α units, so ``½ κ_test`` is the
  shift-curvature ``½ sᵀC^test s``. Reported: the relative error of SC.eq3 per run (also with the
  curvature fitted on the half-segment next to the test minimum only, so that the point being
  predicted is not among the fitted ones); per data set, Spearman correlations of κ_train, κ_test,
  ½κ_test and |s| with T and their per-T medians; pooled over data sets, the fixed-effect combination
  of the per-data-set Spearman ρ (:func:`combined_trend`: Fisher z with variance 1.06/(n−3), one-sided
  p for "falls", and the |ρ| the design detects with 80 % power at :data:`P_VALUE`).

``python -m validation run shift_curvature`` runs the full version into
``runs/shift_curvature_cpu.json`` (``--force`` to replace the committed ``validation/data/shift_curvature_cpu.json``,
``--resume`` after an interruption); the ledger check re-derives the metrics of that record (it
trains nothing); the tests run :data:`SMALL` live.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numerics.interpolation import symmetrised_quadratic_fit  # re-exported: SC App. F fit
from validation.experiments._protocol import Experiment, source_file

__all__ = ["ShiftCurvatureConfig", "SMALL", "FULL", "GPU", "EXPERIMENT", "P_VALUE", "TRENDS", "measure",
           "predict", "compare", "run", "symmetrised_quadratic_fit", "combined_trend", "POWER",
           "MAX_DETECTABLE_RHO"]


@dataclass(frozen=True)
class ShiftCurvatureConfig:
    """The grid (data sets × temperatures × seeds) and the protocol's step sizes (SC.fig1-3).

    ``datasets``: names from :data:`numerics.datasets.DATASETS` (``load_dataset(name, n_train, seed)``;
    for ``digits`` the split of :func:`numerics.training.digits_split`). ``l2``: ℓ2 strength; every
    phase then minimises U + (ℓ2/2)‖θ‖² (0: none, the default)."""

    temperatures: tuple[float, ...] = (0.0015625, 0.003125, 0.00625, 0.0125, 0.025, 0.05)
    learning_rate: float = 0.2  # B = λ/T
    seeds: tuple[int, ...] = (0, 1, 2)
    n_train: int = 256
    hidden: int = 32
    datasets: tuple[str, ...] = ("digits",)
    l2: float = 0.0
    sde_time: float = 200.0
    polish_lr: float = 0.05  # full-batch GD step for the "extremely low temperature" phases
    polish_steps: int = 1500
    line_points: int = 61  # points on α ∈ [−1, 2]
    eq3_tolerance: float = 0.1  # relative error allowed in SC.eq3 (median over runs)
    seed: int = 0

    def __post_init__(self):
        from numerics.datasets import DATASETS, dataset_size

        if not self.datasets or any(d not in DATASETS for d in self.datasets) or len(set(self.datasets)) != len(
                self.datasets):
            raise ValueError(f"datasets must be distinct names from {', '.join(DATASETS)}; got {self.datasets}")
        for d in self.datasets:
            if not (2 <= self.n_train <= dataset_size(d) - 1):
                raise ValueError(f"n_train = {self.n_train} leaves no test set for data set {d!r} "
                                 f"({dataset_size(d)} samples); lower n_train or drop {d!r}")
        if not (self.l2 >= 0):
            raise ValueError(f"l2 must be ≥ 0 (the ℓ2 strength); got {self.l2}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct and non-empty; got {self.seeds}")
        if not self.temperatures or any(not (t > 0) for t in self.temperatures):
            raise ValueError(f"temperatures must be > 0; got {self.temperatures}")
        for t in self.temperatures:
            B = self.learning_rate / t
            if abs(B - round(B)) > 1e-9 or round(B) < 1 or round(B) > self.n_train:
                raise ValueError(f"temperatures: λ/T = {B:g} for T = {t:g} must be an integer batch size in "
                                 f"[1, n_train = {self.n_train}]")
        if (self.line_points - 1) % 3:
            raise ValueError("line_points must be 3k + 1 so that α = 0 and α = 1 lie on the line grid")
        if not (self.learning_rate > 0 and self.polish_lr > 0 and self.sde_time > 0):
            raise ValueError("learning_rate, polish_lr and sde_time must be > 0")

    def batch_size(self, T: float) -> int:
        return int(round(self.learning_rate / T))


#: the small version the tests run live on CPU (two data sets, one seed)
SMALL = ShiftCurvatureConfig(temperatures=(0.003125, 0.0125, 0.05), seeds=(0,), n_train=192, hidden=24,
                             sde_time=120.0, polish_steps=600, line_points=31, datasets=("digits", "breast_cancer"))
#: every batch size B = λ/T from n_train/2 down to 1 (T from 0.0015625 to 0.2, a factor 128)
_WIDE_T = tuple(0.2 / B for B in (128, 64, 32, 16, 8, 4, 2, 1))
#: the full version: the committed CPU record ``validation/data/shift_curvature_cpu.json`` — 8 T × 5
#: seeds on digits and on breast_cancer (80 runs; about 4 min on one idle CPU core)
FULL = ShiftCurvatureConfig(temperatures=_WIDE_T, seeds=(0, 1, 2, 3, 4), datasets=("digits", "breast_cancer"))
#: the GPU version (a guess, not yet run on one: about 1–3 min on one H100/H200): three data sets
#: (mnist1d too), 10 seeds, a larger training subset, a wider net
GPU = ShiftCurvatureConfig(temperatures=_WIDE_T, seeds=tuple(range(10)), n_train=512, hidden=64,
                           datasets=("digits", "breast_cancer", "mnist1d"))

#: significance level of the (one-sided, pooled over data sets) Spearman trends the verdict uses
P_VALUE = 0.01
#: the power at which :func:`combined_trend` states the smallest detectable |ρ|
POWER = 0.8
#: a design whose detectable |ρ| (at :data:`P_VALUE`, :data:`POWER`) exceeds this is too small to
#: call a missing trend a failure: SC's Figs. 1–3 show the curvatures falling steadily over their
#: T range, a large effect (|ρ| ≥ 0.5 in Cohen's terms) — fixed before the multi-data-set record was run
MAX_DETECTABLE_RHO = 0.5
#: the curvatures SC says fall as T rises
TRENDS = ("kappa_train", "kappa_test", "shift_curvature")


def _line_losses(model, loss_fn, theta_a, theta_b, alphas, data, l2: float = 0.0):
    """Train and test losses on the line (:func:`numerics.interpolation.line_losses`), plus
    (ℓ2/2)‖θ(α)‖² when ``l2`` > 0."""
    from numerics.interpolation import line_losses

    Xtr, ytr, Xte, yte = data
    out = line_losses(model, loss_fn, theta_a, theta_b, alphas, {"train": (Xtr, ytr), "test": (Xte, yte)})
    tr, te = out["train"], out["test"]
    if l2:
        pen = [0.5 * l2 * float((theta_a + float(a) * (theta_b - theta_a)).pow(2).sum()) for a in alphas]
        tr, te = [v + q for v, q in zip(tr, pen)], [v + q for v, q in zip(te, pen)]
    return tr, te


def _start(config, seed, n_in, n_out, dev):
    """The initial network and the minibatch generator of the run with this seed (the same draws
    for every data set: the seed alone decides them)."""
    import torch

    from numerics.training import mlp

    torch.manual_seed(1000 * config.seed + seed)
    gen = torch.Generator(device=dev).manual_seed(1000 * config.seed + seed)
    return mlp(config.hidden, n_in, n_out).to(dev), gen


def _sgd_diverged(config, name, T, bad):
    lr, B = config.learning_rate, config.batch_size(T)
    return FloatingPointError(f"SGD diverged on {name} at T = {T:g} (λ = {lr}, B = {B}, step {bad}); "
                              f"lower learning_rate")


def _polish_diverged(name):
    return FloatingPointError(f"gradient descent on the {name} set diverged; lower polish_lr")


def _line(config, name, T, seed, model, ends, data, loss_fn):
    """The raw summary of one run from its SGD end point and its two polished minima."""
    alphas = np.linspace(-1.0, 2.0, config.line_points)
    tr, te = _line_losses(model, loss_fn, ends["train"], ends["test"], alphas, data, config.l2)
    return {"dataset": name, "T": T, "lr": config.learning_rate, "batch_size": config.batch_size(T), "seed": seed,
            "shift_norm": float((ends["test"] - ends["train"]).norm()),
            "alphas": alphas.tolist(), "train_loss_line": tr, "test_loss_line": te}


def _one(config, name, T, seed, data, dev, loss_fn, trained=None):
    """One run on data set ``name`` (``data[name]`` = (X_train, y_train, X_test, y_test, n_classes)):
    trained alone (:func:`numerics.training.train_sgd`; the route of a sweep executor), or — ``trained = (model, ends)``: its SGD end point and polished minima from the
    ensembles of :func:`_batch` — finished (the losses on the line)."""
    import copy

    from torch.nn.utils import parameters_to_vector

    from numerics.training import train_sgd

    *tensors, n_classes = data[name]
    if trained is not None:
        return _line(config, name, T, seed, *trained, tensors, loss_fn)
    Xtr, ytr, Xte, yte = tensors
    model, gen = _start(config, seed, Xtr.shape[1], n_classes, dev)
    lr, B = config.learning_rate, config.batch_size(T)
    bad = train_sgd(model, loss_fn, Xtr, ytr, lr=lr, batch_size=B, steps=int(round(config.sde_time / lr)),
                    generator=gen, weight_decay=config.l2)
    if bad is not None:
        raise _sgd_diverged(config, name, T, bad)
    ends = {}
    for part, (X, y) in (("train", (Xtr, ytr)), ("test", (Xte, yte))):
        m = copy.deepcopy(model)
        bad = train_sgd(m, loss_fn, X, y, lr=config.polish_lr, batch_size=X.shape[0], steps=config.polish_steps,
                        generator=gen, weight_decay=config.l2)
        if bad is not None:
            raise _polish_diverged(part)
        ends[part] = parameters_to_vector(m.parameters()).detach().clone()
    return _line(config, name, T, seed, model, ends, tensors, loss_fn)


def _ensemble(config, name, items, data, dev, loss_fn):
    """The runs ``items`` (``(T, seed)`` pairs) of one data set: the SGD phase of all runs as one
    ensemble (:func:`numerics.training.train_sgd_ensemble`), then the train-set polishes of all runs
    as one, then the test-set polishes; finished run by run (yielded in item order)."""
    import copy

    import torch
    from torch.nn.utils import parameters_to_vector

    from numerics.training import train_sgd_ensemble

    Xtr, ytr, Xte, yte, n_classes = data[name]
    started = [_start(config, seed, Xtr.shape[1], n_classes, dev) for _, seed in items]
    models, gens = [m for m, _ in started], [g for _, g in started]
    lr = config.learning_rate
    per_sample = lambda o, t: torch.nn.functional.cross_entropy(o, t, reduction="none")  # noqa: E731
    bad = train_sgd_ensemble(models, loss_fn, Xtr, ytr, lrs=[lr] * len(items),
                             batch_sizes=[config.batch_size(T) for T, _ in items],
                             steps=[int(round(config.sde_time / lr))] * len(items), generators=gens,
                             per_sample_loss=per_sample, weight_decay=config.l2)
    for (T, _), b in zip(items, bad):
        if b is not None:
            raise _sgd_diverged(config, name, T, b)
    ends = [{} for _ in items]
    for part, (X, y) in (("train", (Xtr, ytr)), ("test", (Xte, yte))):
        polished = [copy.deepcopy(m) for m in models]
        bad = train_sgd_ensemble(polished, loss_fn, X, y, lrs=[config.polish_lr] * len(items),
                                 batch_sizes=[X.shape[0]] * len(items), steps=[config.polish_steps] * len(items),
                                 generators=gens, per_sample_loss=per_sample, weight_decay=config.l2)
        if any(b is not None for b in bad):
            raise _polish_diverged(part)
        for end, m in zip(ends, polished):
            end[part] = parameters_to_vector(m.parameters()).detach().clone()
    for (T, seed), model, end in zip(items, models, ends):
        yield _one(config, name, T, seed, data, dev, loss_fn, trained=(model, end))


def _batch(config, items, data, dev, loss_fn):
    """Every run of ``items`` (``(dataset, T, seed)``), results yielded in item order: one ensemble
    per data set (:func:`_ensemble`; each run's initialisation and minibatches — its generator's
    draws, in the same order — are the ones :func:`_one` would use, so a run's result is the same
    up to rounding)."""
    done, nxt = {}, 0
    for name in dict.fromkeys(n for n, _, _ in items):  # data sets in order of first appearance
        idx = [i for i, it in enumerate(items) if it[0] == name]
        for i, res in zip(idx, _ensemble(config, name, [items[i][1:] for i in idx], data, dev, loss_fn)):
            done[i] = res
            while nxt in done:  # yield as soon as every earlier item is done
                yield done.pop(nxt)
                nxt += 1


def measure(config: ShiftCurvatureConfig, device="auto", *, progress: bool = False, checkpoint=None,
            executor=None) -> dict:
    """Every (data set, T, seed): SGD, the two low-temperature polishes, the losses on the line —
    the runs of a data set together as ensembles of small networks, or with ``executor`` (a
    :class:`concurrent.futures.Executor`) one run per task."""
    import itertools

    import torch

    from numerics.datasets import load_dataset
    from numerics.devices import device_fields, resolve_device
    from validation.experiments import map_runs

    dev = resolve_device(device)
    data = {}
    for name in config.datasets:
        d = load_dataset(name, config.n_train, config.seed)
        data[name] = tuple(t.to(dev) for t in d.tensors()) + (d.n_classes,)
    loss_fn = torch.nn.functional.cross_entropy
    grid = itertools.product(config.datasets, config.temperatures, config.seeds)
    runs = map_runs(lambda name, T, s: _one(config, name, T, s, data, dev, loss_fn), grid, dev=dev,
                    desc="(dataset, T, seed)", progress=progress, checkpoint=checkpoint, executor=executor,
                    batch=lambda items: _batch(config, items, data, dev, loss_fn))
    return {**device_fields(device, dev), "n_train": config.n_train,
            "n_test": {name: int(data[name][2].shape[0]) for name in config.datasets}, "runs": runs}


def predict(config: ShiftCurvatureConfig, raw: dict | None = None) -> dict:
    return {"eq3": "U_test(θ_tr) ≈ U_test(θ_test) + ½ sᵀ C_test s (SC.eq3, b = 0)",
            "trend": "κ_train, κ_test and ½κ_test fall as T rises"}


def _spearman(x, y) -> dict:
    """Spearman rank correlation ``{"rho", "p", "n"}`` (two-sided p; average ranks for ties); nan for
    fewer than 3 points or constant input."""
    from scipy.stats import spearmanr

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"rho": float("nan"), "p": float("nan"), "n": int(len(x))}
    r = spearmanr(x, y)
    return {"rho": float(r.statistic), "p": float(r.pvalue), "n": int(len(x))}


def combined_trend(groups, *, alpha: float = None, power: float = None) -> dict:
    """Fixed-effect combination of per-group Spearman correlations (SC.fig1-3's "falls as T rises",
    pooled over data sets without mixing their curvature scales).

    ``groups``: ``{name: (x, y)}``. Each group's ρ_g (ties: average ranks) is Fisher-transformed,
    ``z_g = atanh ρ_g`` with variance ``1.06/(n_g − 3)`` (Fieller, Hartley & Pearson 1957); the
    weighted mean ``z̄ = Σ w_g z_g / Σ w_g`` (``w_g = n_g − 3``) has standard error
    ``se = √(1.06/Σ w_g)``. Returns ``rho = tanh z̄``, ``p_falls`` (one-sided, H₁: ρ < 0) =
    Φ(z̄/se), ``p`` (two-sided), ``n``, ``per_group`` ρ and p, and ``detectable_rho`` =
    ``tanh((z_{1−α} + z_{power}) se)``: the smallest |ρ| the one-sided test at level ``alpha``
    (default :data:`P_VALUE`) detects with probability ``power`` (default :data:`POWER`). Groups with
    fewer than 4 points or a constant variable are left out (listed with nan)."""
    from scipy.stats import norm

    alpha = P_VALUE if alpha is None else alpha
    power = POWER if power is None else power
    per, zs, ws = {}, [], []
    for name, (x, y) in groups.items():
        s = _spearman(x, y)
        per[name] = s
        if s["n"] >= 4 and np.isfinite(s["rho"]):
            zs.append(np.arctanh(np.clip(s["rho"], -1 + 1e-12, 1 - 1e-12)))
            ws.append(s["n"] - 3)
    n = int(sum(s["n"] for s in per.values()))
    if not ws:
        nan = float("nan")
        return {"rho": nan, "z": nan, "se": nan, "p_falls": nan, "p": nan, "n": n, "detectable_rho": nan,
                "alpha": alpha, "power": power, "per_group": per}
    w = np.asarray(ws, dtype=float)
    zbar = float(np.dot(w, zs) / w.sum())
    se = float(np.sqrt(1.06 / w.sum()))
    p_falls = float(norm.cdf(zbar / se))
    return {"rho": float(np.tanh(zbar)), "z": zbar / se, "se": se, "p_falls": p_falls,
            "p": float(2 * min(p_falls, 1 - p_falls)), "n": n,
            "detectable_rho": float(np.tanh((norm.ppf(1 - alpha) + norm.ppf(power)) * se)),
            "alpha": alpha, "power": power, "per_group": per}


#: the quantities whose correlation with T is reported (κ's fall per SC; |s| and U_test(θ_tr): no prediction)
_REPORTED = ("kappa_train", "kappa_test", "shift_curvature", "shift_norm", "test_loss_at_train_min")


def _eq3_summary(rows) -> dict:
    errs = [x["eq3_relative_error"] for x in rows]
    local = [x["eq3_relative_error_local"] for x in rows]
    return {"eq3_median_relative_error": float(np.median(errs)), "eq3_max_relative_error": float(np.max(errs)),
            "eq3_local_median_relative_error": float(np.median(local)),
            "eq3_local_max_relative_error": float(np.max(local)),
            "median_shift_curvature_share": float(np.nanmedian([x["shift_curvature_share"] for x in rows]))}


def compare(config: ShiftCurvatureConfig, prediction: dict, raw: dict) -> dict:
    """Per-run fits and SC.eq3 errors; per data set, Spearman correlations with T and per-T medians;
    pooled over data sets, :func:`combined_trend` (pure function of raw)."""
    from numerics.interpolation import line_fit

    rows = []
    for r in raw["runs"]:
        # App. F fits of the line (numerics.interpolation.line_fit): κ_train about α = 0, κ_test about
        # α = 1 over the whole segment, κ_test_local from the half next to the test minimum only
        # (extrapolated to the train minimum: a Taylor statement, not a fit of the point it predicts)
        f = line_fit(r["alphas"], r["train_loss_line"], r["test_loss_line"])
        rows.append({"dataset": r["dataset"], "T": r["T"], "seed": r["seed"], "kappa_test": f.kappa_test,
                     "kappa_train": f.kappa_train, "shift_curvature": f.shift_curvature, "shift_norm": r["shift_norm"],
                     "test_loss_at_train_min": f.test_loss_at_train_min,
                     "test_loss_at_test_min": f.test_loss_at_test_min, "eq3_prediction": f.eq3_prediction,
                     "eq3_relative_error": f.eq3_relative_error, "kappa_test_local": f.kappa_test_local,
                     "eq3_relative_error_local": f.eq3_relative_error_local,
                     "shift_curvature_share": f.shift_curvature_share,
                     "train_loss_at_train_min": f.train_loss_at_train_min})
    names = list(dict.fromkeys(x["dataset"] for x in rows))
    by = {d: [x for x in rows if x["dataset"] == d] for d in names}
    per_dataset = {}
    for d, rs in by.items():
        T = np.array([x["T"] for x in rs])
        Ts = sorted(set(T.tolist()))
        per_dataset[d] = {"n": len(rs), "temperatures": Ts,
                          "trends": {k: _spearman(T, [x[k] for x in rs]) for k in _REPORTED},
                          "per_T_median": {k: [float(np.median([x[k] for x in rs if x["T"] == t])) for t in Ts]
                                           for k in _REPORTED},
                          **_eq3_summary(rs)}
    trends = {k: combined_trend({d: ([x["T"] for x in rs], [x[k] for x in rs]) for d, rs in by.items()})
              for k in _REPORTED}
    T_all = [x["T"] for x in rows]
    return {"runs": rows, "datasets": names, "per_dataset": per_dataset, "trends": trends,
            "pooled_spearman_ignoring_dataset": {k: _spearman(T_all, [x[k] for x in rows]) for k in _REPORTED},
            "eq3_tolerance": config.eq3_tolerance, "p_value": P_VALUE, "power": POWER,
            "max_detectable_rho": MAX_DETECTABLE_RHO, **_eq3_summary(rows)}


def run(config: ShiftCurvatureConfig = None, device="auto", out=None, *,
        progress: bool = False, force: bool = False, resume: bool = False) -> dict:
    """measure → predict → compare (default config: :data:`FULL`); write a record to ``out`` when
    given (``force``: replace an existing file; ``resume``: reuse the finished runs of an
    interrupted run — see :func:`validation.experiments.run_experiment`)."""
    return EXPERIMENT.run(config, device, out, progress=progress, force=force, resume=resume)


def _summary(rec):
    m = rec["metrics"]
    for k in (*TRENDS, "shift_norm"):
        t = m["trends"][k]
        per = ", ".join(f"{d} {p['rho']:+.2f}" for d, p in t["per_group"].items())
        yield (f"{k}: Spearman ρ with T combined {t['rho']:+.3f} (one-sided p {t['p_falls']:.2e}; per data set "
               f"{per}); detectable |ρ| {t['detectable_rho']:.2f}")
    yield f"SC.eq3 median/max relative error {m['eq3_median_relative_error']} {m['eq3_max_relative_error']}"


EXPERIMENT = Experiment(
    name="shift_curvature", claims=("SC.fig1-3",), config_type=ShiftCurvatureConfig, SMALL=SMALL, FULL=FULL,
    GPU=GPU, measure=measure, predict=predict, compare=compare, record_stem="shift_curvature",
    estimates={"small": {"cpu": 15, "gpu": 20}, "full": {"cpu": 250, "gpu": 120},
               "gpu": {"cpu": 3000, "gpu": 180}},
    description="SC's shift-curvature protocol on trained MLPs (several data sets): is the test loss at the train minimum the test "
                "loss at the test minimum plus the shift-curvature, and do the curvatures fall as T rises?",
    summary=_summary, inputs=source_file(__file__))


def main(argv=None) -> int:
    """``python -m validation.experiments.shift_curvature ARGS`` = ``python -m validation run
    shift_curvature ARGS``."""
    from validation.__main__ import run_main

    return run_main(EXPERIMENT.name, argv)


if __name__ == "__main__":
    raise SystemExit(main())
