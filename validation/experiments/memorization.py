"""TF.4.3 on a real network: with part of the training labels replaced by random ones, does SGD with
a higher η/S (= T = λ/B) generalise better at the same level of memorisation?

- **measure** (PyTorch), TF §4.3 on a small scale: for every setup ``"dataset/model"`` (as in
  :mod:`validation.experiments.temperature_scan`: ``digits``/``mnist1d``, ``mlp``/``cnn1d``, optional
  ℓ2) a net on a training subset in which a
  fraction ``label_noise`` of the labels is replaced by uniformly random classes, trained by plain
  SGD for every (λ, B) of a grid and several seeds for the same number of epochs; every
  ``eval_every`` epochs the accuracy on the noisy training set (TF's memorisation axis), the share of
  random-label samples fitted, and the accuracy on held-out clean data are recorded.
- **predict** (TF §4.3, TF Thm 1–2: higher η/S prefers wider minima): at equal training accuracy,
  validation accuracy rises with T.
- **compare** (pure): for each memorisation level m, every run's validation accuracy when its
  training accuracy first reaches m (linear interpolation between checkpoints; runs that never
  reach m are left out and counted), and the Spearman correlation of that accuracy with T — per
  setup: the first setup's metrics at the top level, the others under ``other_setups``.

``python -m validation run memorization`` runs the full version into ``runs/memorization_cpu.json``
(``--force`` to replace the committed ``validation/data/memorization_cpu.json``, ``--resume`` after
an interruption); the ledger check re-derives that record's metrics and runs :data:`SMALL` live.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from validation.experiments._protocol import Experiment, source_file
from validation.ledger import PaperRange

__all__ = ["MemorizationConfig", "SMALL", "FULL", "GPU", "EXPERIMENT", "PAPER_RANGE", "P_VALUE", "measure",
           "predict", "compare", "run", "accuracy_at_level"]


@dataclass(frozen=True)
class MemorizationConfig:
    learning_rates: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2)
    batch_sizes: tuple[int, ...] = (8, 16, 32, 64)
    seeds: tuple[int, ...] = (0, 1)
    n_train: int = 512
    label_noise: float = 0.25
    hidden: int = 64
    epochs: int = 100
    eval_every: int = 2  # epochs between checkpoints
    levels: tuple[float, ...] = (0.8, 0.85, 0.9)  # training accuracy on the noisy set
    min_runs: int = 8  # fewest runs reaching a level for its correlation to count
    seed: int = 0
    setups: tuple[str, ...] = ("digits/mlp",)  # "dataset/model" pairs, each run on the whole grid
    channels: int = 8  # width of cnn1d
    weight_decay: float = 0.0  # ℓ2 coefficient μ

    def __post_init__(self):
        from numerics.datasets import dataset_size
        from validation.experiments.temperature_scan import parse_setup

        if not self.setups or len(set(self.setups)) != len(self.setups):
            raise ValueError(f"setups must be distinct 'dataset/model' names, at least one; got {self.setups}")
        for su in self.setups:
            dataset, _ = parse_setup(su)
            if not 2 <= self.n_train <= dataset_size(dataset) - 1:
                raise ValueError(f"n_train = {self.n_train} does not fit data set {dataset!r}")
        if self.channels < 1 or self.hidden < 1:
            raise ValueError(f"hidden and channels must be ≥ 1; got {self.hidden}, {self.channels}")
        if not (0 <= self.weight_decay < float("inf")):
            raise ValueError(f"weight_decay must be a finite number ≥ 0; got {self.weight_decay}")
        if not (0 < self.label_noise < 1):
            raise ValueError(f"label_noise must be in (0, 1); got {self.label_noise}")
        if any(not (lr > 0) for lr in self.learning_rates) or not self.learning_rates:
            raise ValueError(f"learning_rates must be > 0; got {self.learning_rates}")
        if any(int(b) != b or b < 1 or self.n_train % b for b in self.batch_sizes) or not self.batch_sizes:
            raise ValueError(f"batch_sizes must be integers dividing n_train = {self.n_train}; got {self.batch_sizes}")
        if any(not (0 < m <= 1) for m in self.levels) or not self.levels:
            raise ValueError(f"levels must be training accuracies in (0, 1]; got {self.levels}")
        if self.epochs < 1 or self.eval_every < 1:
            raise ValueError("epochs and eval_every must be ≥ 1")


#: the small version the ledger check runs live on CPU
SMALL = MemorizationConfig(learning_rates=(0.05, 0.2), batch_sizes=(8, 32), seeds=(0,), n_train=256,
                           hidden=48, epochs=60, eval_every=3, levels=(0.85,), min_runs=4)
#: the full version: the committed CPU record ``validation/data/memorization_cpu.json`` — 30 of its 60
#: runs inside TF's range T ≤ 2e-3 (T from 1.6e-4), 200 epochs so that runs there reach the levels
FULL = MemorizationConfig(learning_rates=(0.02, 0.05, 0.1, 0.2, 0.4), batch_sizes=(16, 32, 64, 128),
                          seeds=(0, 1, 2), epochs=200, eval_every=4)
#: the GPU version (a guess, untested: no GPU was lent when it was sized; about 2–3 min on one
#: H100/H200): MNIST-1D with the MLP and the 1-D CNN beside digits, 5 seeds
GPU = MemorizationConfig(learning_rates=(0.01, 0.02, 0.05, 0.1, 0.2, 0.4), batch_sizes=(16, 32, 64, 128),
                         seeds=(0, 1, 2, 3, 4), epochs=300, eval_every=4, channels=32,
                         setups=("digits/mlp", "mnist1d/mlp", "mnist1d/cnn1d"))

#: TF's own runs (§4.3, MNIST MLP) used η ∈ {0.005, …, 0.1} and S ∈ {50, …, 1000}, i.e.
#: T ≤ 0.1/50 = 2e-3: the verdict is computed from the runs inside that range, the trend over all
#: runs is a finding (``validation/checks/README.md``).
PAPER_RANGE = PaperRange("T = η/S", 0.005 / 1000, 0.1 / 50,
                         "TF §4.3: η ∈ {0.005, …, 0.1}, S ∈ {50, …, 1000}, MNIST MLP")
#: significance level of the Spearman correlations the verdict uses
P_VALUE = 0.01


def _noisy_data(config: MemorizationConfig, setup: str = "digits/mlp"):
    """(X_train, noisy labels, which labels are random, X_val, y_val, n_classes) of a setup's data set
    (:func:`numerics.datasets.load_dataset`; ``digits`` is :func:`numerics.training.digits_split`)."""
    import torch

    from numerics.datasets import load_dataset
    from validation.experiments.temperature_scan import parse_setup

    d = load_dataset(parse_setup(setup)[0], config.n_train, config.seed)
    Xtr, ytr, Xva, yva = d.tensors()
    g = torch.Generator().manual_seed(10_000 + config.seed)
    n = Xtr.shape[0]
    k = int(round(config.label_noise * n))
    noisy = torch.randperm(n, generator=g)[:k]
    y_noisy = ytr.clone()
    y_noisy[noisy] = torch.randint(0, d.n_classes, (k,), generator=g)
    is_random = torch.zeros(n, dtype=torch.bool)
    is_random[noisy] = True
    return Xtr, y_noisy, is_random, Xva, yva, d.n_classes


def _start(config, seed, n_in, dev, model="mlp", n_out=10):
    """The initial network and the minibatch generator of the run with this seed."""
    import torch

    from validation.experiments.temperature_scan import make_net

    torch.manual_seed(1000 * config.seed + seed)
    gen = torch.Generator(device=dev).manual_seed(1000 * config.seed + seed)
    return make_net(model, n_in, n_out, hidden=config.hidden, channels=config.channels).to(dev), gen


def _evaluate(model, curve, epoch, data):
    import torch

    Xtr, ytr, is_random, Xva, yva = data[:5]
    with torch.no_grad():
        hit = model(Xtr).argmax(1) == ytr
        curve["epoch"].append(epoch)
        curve["train_accuracy"].append(float(hit.double().mean()))
        curve["random_fitted"].append(float(hit[is_random].double().mean()))
        curve["val_accuracy"].append(float((model(Xva).argmax(1) == yva).double().mean()))


def _new_curve() -> dict:
    return {"epoch": [], "train_accuracy": [], "random_fitted": [], "val_accuracy": []}


def _model_name(setup):
    from validation.experiments.temperature_scan import parse_setup

    return parse_setup(setup)[1]


def _one(config, lr, B, seed, data, dev, loss_fn, setup="digits/mlp"):
    """One run alone (:func:`numerics.training.train_sgd`): the route of a sweep executor."""
    from numerics.training import train_sgd

    Xtr, ytr = data[0], data[1]
    model, gen = _start(config, seed, Xtr.shape[1], dev, _model_name(setup), data[5])
    steps_per_eval = config.eval_every * Xtr.shape[0] // B
    curve = _new_curve()
    for e in range(0, config.epochs + 1, config.eval_every):
        if e:
            bad = train_sgd(model, loss_fn, Xtr, ytr, lr=lr, batch_size=B, steps=steps_per_eval, generator=gen,
                            weight_decay=config.weight_decay)
            if bad is not None:
                return {"setup": setup, "lr": lr, "batch_size": B, "seed": seed, "T": lr / B, "diverged": True,
                        "curve": curve}
        _evaluate(model, curve, e, data)
    return {"setup": setup, "lr": lr, "batch_size": B, "seed": seed, "T": lr / B, "diverged": False, "curve": curve}


def _batch(config, items, datas, dev, loss_fn):
    """The runs of ``items`` (``(setup, λ, B, seed)``), each stretch of one setup trained together as
    one ensemble (:func:`numerics.training.train_sgd_ensemble`), ``eval_every`` epochs at a time;
    each run's minibatches and initialisation are the ones :func:`_one` would use (a fresh
    permutation at the start of each stretch, as there), so a run's result is the same up to
    rounding."""
    import itertools

    for setup, group in itertools.groupby(items, key=lambda it: it[0]):
        yield from _batch_setup(config, setup, [it[1:] for it in group], datas[setup], dev, loss_fn)


def _batch_setup(config, setup, items, data, dev, loss_fn):
    import torch

    from numerics.training import train_sgd_ensemble

    Xtr, ytr = data[0], data[1]
    mlp_like = _model_name(setup) == "mlp"
    started = [_start(config, seed, Xtr.shape[1], dev, _model_name(setup), data[5]) for _, _, seed in items]
    curves = [_new_curve() for _ in items]
    diverged = [False] * len(items)
    for e in range(0, config.epochs + 1, config.eval_every):
        live = [i for i in range(len(items)) if not diverged[i]]
        if e and live:
            bad = train_sgd_ensemble(
                [started[i][0] for i in live], loss_fn, Xtr, ytr, lrs=[items[i][0] for i in live],
                batch_sizes=[items[i][1] for i in live],
                steps=[config.eval_every * Xtr.shape[0] // items[i][1] for i in live],
                generators=[started[i][1] for i in live], weight_decay=config.weight_decay,
                per_sample_loss=(lambda o, t: torch.nn.functional.cross_entropy(o, t, reduction="none"))
                if mlp_like else None)
            for i, b in zip(live, bad):
                diverged[i] = b is not None
        for i in live:
            if not diverged[i]:
                _evaluate(started[i][0], curves[i], e, data)
    return [{"setup": setup, "lr": lr, "batch_size": B, "seed": seed, "T": lr / B, "diverged": diverged[i],
             "curve": curves[i]} for i, (lr, B, seed) in enumerate(items)]


def measure(config: MemorizationConfig, device="auto", *, progress: bool = False, checkpoint=None,
            executor=None) -> dict:
    """Learning curves of every (setup, λ, B, seed) on the partly random-labelled training set — each
    setup's runs trained together as one ensemble of small networks, or with ``executor`` (a
    :class:`concurrent.futures.Executor`) one run per task."""
    import itertools

    import torch

    from numerics.devices import device_fields, resolve_device
    from validation.experiments import map_runs

    dev = resolve_device(device)
    datas = {}
    for su in config.setups:
        d = _noisy_data(config, su)
        datas[su] = tuple(t.to(dev) for t in d[:5]) + (d[5],)
    loss_fn = torch.nn.functional.cross_entropy
    grid = itertools.product(config.setups, config.learning_rates, config.batch_sizes, config.seeds)
    runs = map_runs(lambda su, lr, B, s: _one(config, lr, B, s, datas[su], dev, loss_fn, setup=su), grid, dev=dev,
                    desc="(setup, λ, B, seed)", progress=progress, checkpoint=checkpoint, executor=executor,
                    batch=lambda items: _batch(config, items, datas, dev, loss_fn))
    return {**device_fields(device, dev), "n_train": config.n_train,
            "n_random_labels": {su: int(d[2].sum()) for su, d in datas.items()},
            "n_val": {su: int(d[3].shape[0]) for su, d in datas.items()}, "runs": runs}


def predict(config: MemorizationConfig, raw: dict | None = None) -> dict:
    return {"at_equal_memorisation": "validation accuracy increases with T = η/S (TF §4.3)"}


def accuracy_at_level(train_acc, val_acc, level: float) -> float | None:
    """Validation accuracy when the training accuracy first reaches ``level`` (linear interpolation
    between the two checkpoints around the crossing); ``None`` if it never does."""
    tr = np.asarray(train_acc, dtype=float)
    va = np.asarray(val_acc, dtype=float)
    above = np.nonzero(tr >= level)[0]
    if above.size == 0:
        return None
    i = int(above[0])
    if i == 0 or tr[i] == tr[i - 1]:
        return float(va[i])
    w = (level - tr[i - 1]) / (tr[i] - tr[i - 1])
    return float(va[i - 1] + w * (va[i] - va[i - 1]))


def compare(config: MemorizationConfig, prediction: dict, raw: dict) -> dict:
    """Per level: validation accuracy at equal memorisation against T (pure function of raw), per
    setup: the first setup of the config's order that has runs at the top level (``"setup"`` names
    it), every other under ``other_setups``."""
    by = {}
    for r in raw["runs"]:
        by.setdefault(r.get("setup", config.setups[0]), []).append(r)
    names = [su for su in config.setups if su in by] + sorted(su for su in by if su not in config.setups)
    if not names:
        raise ValueError("no runs: nothing to compare")
    out = dict(_compare_setup(config, by[names[0]]), setup=names[0])
    out["other_setups"] = {su: _compare_setup(config, by[su]) for su in names[1:]}
    return out


def _compare_setup(config: MemorizationConfig, runs_all: list) -> dict:
    from validation.experiments.temperature_scan import spearman

    runs = [r for r in runs_all if not r["diverged"]]
    per_level = {}
    for m in config.levels:
        pts = [(r["T"], accuracy_at_level(r["curve"]["train_accuracy"], r["curve"]["val_accuracy"], m))
               for r in runs]
        reached = [(T, v) for T, v in pts if v is not None]
        entry = {"n_reached": len(reached), "n_runs": len(runs)}
        if reached:
            T, v = map(np.asarray, zip(*reached))
            entry.update(spearman(T, v))
            entry["val_accuracy_by_T"] = {f"{t:.6g}": float(np.median(v[T == t])) for t in np.unique(T)}
            entry["T_reached"] = [float(T.min()), float(T.max())]
        per_level[f"{m:g}"] = entry
    final = {
        "train_accuracy": [r["curve"]["train_accuracy"][-1] for r in runs],
        "val_accuracy": [r["curve"]["val_accuracy"][-1] for r in runs],
        "random_fitted": [r["curve"]["random_fitted"][-1] for r in runs],
        "T": [r["T"] for r in runs],
    }
    return {"per_level": per_level, "min_runs": config.min_runs, "final": final,
            "final_val_spearman_T": spearman(final["T"], final["val_accuracy"]),
            "final_random_fitted_spearman_T": spearman(final["T"], final["random_fitted"]),
            "diverged_runs": [{"lr": r["lr"], "batch_size": r["batch_size"], "seed": r["seed"]}
                              for r in runs_all if r["diverged"]]}


def run(config: MemorizationConfig = None, device="auto", out=None, *,
        progress: bool = False, force: bool = False, resume: bool = False) -> dict:
    """measure → predict → compare (default config: :data:`FULL`); write a record to ``out`` when
    given (``force``: replace an existing file; ``resume``: reuse the finished runs of an
    interrupted run — see :func:`validation.experiments.run_experiment`)."""
    return EXPERIMENT.run(config, device, out, progress=progress, force=force, resume=resume)


def _summary(rec):
    from validation.experiments.temperature_scan import setup_metrics

    for su, m in setup_metrics(rec["metrics"]).items():
        for level, e in m["per_level"].items():
            yield f"{su} level {level}: " + str({k: v for k, v in e.items() if k != "val_accuracy_by_T"})
        yield (f"{su} final: val vs T {m['final_val_spearman_T']}, random fitted vs T "
               f"{m['final_random_fitted_spearman_T']}")


EXPERIMENT = Experiment(
    name="memorization", claims=("TF.4.3",), config_type=MemorizationConfig, SMALL=SMALL, FULL=FULL, GPU=GPU,
    measure=measure, predict=predict, compare=compare, record_stem="memorization",
    estimates={"small": {"cpu": 5, "gpu": 20}, "full": {"cpu": 340, "gpu": 100}, "gpu": {"cpu": 3600, "gpu": 180}},
    description="SGD with a quarter of the training labels random (digits; MNIST-1D and a 1-D CNN in the GPU "
                "preset): at equal memorisation, does a higher T = λ/B generalise better?",
    summary=_summary, inputs=source_file(__file__))


def main(argv=None) -> int:
    """``python -m validation.experiments.memorization ARGS`` = ``python -m validation run
    memorization ARGS``."""
    from validation.__main__ import run_main

    return run_main(EXPERIMENT.name, argv)


if __name__ == "__main__":
    raise SystemExit(main())
