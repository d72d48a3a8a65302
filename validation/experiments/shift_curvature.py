"""SC.fig1-3 on a real network: the test loss at the train minimum is the test loss at the test
minimum plus the shift-curvature term (SC.eq3 with the bias dropped), and the curvatures along the
train→test line fall as the SGD temperature rises.

- **measure** (PyTorch), following SC §3 / App. F on a small scale: for every temperature T = λ/B and
  seed, (1) SGD at T on a training subset of ``digits`` (equal SDE time λ·steps for every T);
  (2) from that point, full-batch gradient descent with a small step on the *train* set → θ^tr;
  (3) from the same point, the same on the *test* set → θ^test; (4) train and test losses on the
  line ``θ(α) = θ^tr + α (θ^test − θ^tr)``, α ∈ [−1, 2].
- **predict** (theory, SC.eq3/SC.eq4 with b = 0): ``U^test(θ^tr) ≈ U^test(θ^test) + ½ sᵀC^test s``,
  and the curvatures and the shift-curvature fall as T rises (SC's steady-state preference for
  flat minima, SC.eq6).
- **compare** (pure): symmetrised quadratic fits (SC App. F): the test loss is reflected about its
  minimum α = 1 in the direction of the train minimum (points α ∈ [0, 1] and their mirror images),
  the train loss about α = 0 in the direction away from the test minimum (α ∈ [−1, 0]); each fit
  ``y = y₀ + ½ κ (α − α₀)²`` gives the curvature along the line in α units, so ``½ κ_test`` is the
  shift-curvature ``½ sᵀC^test s``. Reported: the relative error of SC.eq3 per run (also with the
  curvature fitted on the half-segment next to the test minimum only, so that the point being
  predicted is not among the fitted ones), Spearman
  correlations of κ_train, κ_test, ½κ_test and |s| with T.

``python -m validation run shift_curvature`` runs the full version into
``runs/shift_curvature_cpu.json`` (``--force`` to replace the committed ``validation/data/shift_curvature_cpu.json``,
``--resume`` after an interruption); the ledger check re-derives the metrics of that record and runs
:data:`SMALL` live.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from validation.experiments._protocol import Experiment, source_file

__all__ = ["ShiftCurvatureConfig", "SMALL", "FULL", "GPU", "EXPERIMENT", "P_VALUE", "TRENDS", "measure",
           "predict", "compare", "run", "symmetrised_quadratic_fit"]


@dataclass(frozen=True)
class ShiftCurvatureConfig:
    temperatures: tuple[float, ...] = (0.0015625, 0.003125, 0.00625, 0.0125, 0.025, 0.05)
    learning_rate: float = 0.2  # B = λ/T
    seeds: tuple[int, ...] = (0, 1, 2)
    n_train: int = 256
    hidden: int = 32
    sde_time: float = 200.0
    polish_lr: float = 0.05  # full-batch GD step for the "extremely low temperature" phases
    polish_steps: int = 1500
    line_points: int = 61  # points on α ∈ [−1, 2]
    eq3_tolerance: float = 0.1  # relative error allowed in SC.eq3 (median over runs)
    seed: int = 0

    def __post_init__(self):
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


#: the small version the ledger check runs live on CPU
SMALL = ShiftCurvatureConfig(temperatures=(0.003125, 0.0125, 0.05), seeds=(0,), n_train=192, hidden=24,
                             sde_time=120.0, polish_steps=600, line_points=31)
#: the full version: the committed CPU record ``validation/data/shift_curvature_cpu.json``
FULL = ShiftCurvatureConfig()
#: the GPU version (about 1–3 min on one H100/H200): 5 seeds, a larger training subset, a wider net
GPU = ShiftCurvatureConfig(seeds=(0, 1, 2, 3, 4), n_train=512, hidden=64)

#: significance level of the Spearman trends the verdict uses
P_VALUE = 0.01
#: the curvatures SC says fall as T rises
TRENDS = ("kappa_train", "kappa_test", "shift_curvature")


def _line_losses(model, loss_fn, theta_a, theta_b, alphas, data):
    import torch
    from torch.nn.utils import vector_to_parameters

    Xtr, ytr, Xte, yte = data
    tr, te = [], []
    with torch.no_grad():
        for a in alphas:
            vector_to_parameters(theta_a + float(a) * (theta_b - theta_a), model.parameters())
            tr.append(float(loss_fn(model(Xtr), ytr)))
            te.append(float(loss_fn(model(Xte), yte)))
    return tr, te


def _start(config, seed, n_in, dev):
    """The initial network and the minibatch generator of the run with this seed."""
    import torch

    from numerics.training import mlp

    torch.manual_seed(1000 * config.seed + seed)
    gen = torch.Generator(device=dev).manual_seed(1000 * config.seed + seed)
    return mlp(config.hidden, n_in, 10).to(dev), gen


def _sgd_diverged(config, T, bad):
    lr, B = config.learning_rate, config.batch_size(T)
    return FloatingPointError(f"SGD diverged at T = {T:g} (λ = {lr}, B = {B}, step {bad}); lower learning_rate")


def _polish_diverged(name):
    return FloatingPointError(f"gradient descent on the {name} set diverged; lower polish_lr")


def _line(config, T, seed, model, ends, data, loss_fn):
    """The raw summary of one run from its SGD end point and its two polished minima."""
    import copy

    alphas = np.linspace(-1.0, 2.0, config.line_points)
    tr, te = _line_losses(copy.deepcopy(model), loss_fn, ends["train"], ends["test"], alphas, data)
    return {"T": T, "lr": config.learning_rate, "batch_size": config.batch_size(T), "seed": seed,
            "shift_norm": float((ends["test"] - ends["train"]).norm()),
            "alphas": alphas.tolist(), "train_loss_line": tr, "test_loss_line": te}


def _one(config, T, seed, data, dev, loss_fn, trained=None):
    """One run: trained alone (:func:`numerics.training.train_sgd`; the route of a sweep executor),
    or — ``trained = (model, ends)``: its SGD end point and polished minima from the ensembles of
    :func:`_batch` — finished (the losses on the line)."""
    import copy

    from torch.nn.utils import parameters_to_vector

    from numerics.training import train_sgd

    if trained is not None:
        return _line(config, T, seed, *trained, data, loss_fn)
    Xtr, ytr, Xte, yte = data
    model, gen = _start(config, seed, Xtr.shape[1], dev)
    lr, B = config.learning_rate, config.batch_size(T)
    bad = train_sgd(model, loss_fn, Xtr, ytr, lr=lr, batch_size=B, steps=int(round(config.sde_time / lr)),
                    generator=gen)
    if bad is not None:
        raise _sgd_diverged(config, T, bad)
    ends = {}
    for name, (X, y) in (("train", (Xtr, ytr)), ("test", (Xte, yte))):
        m = copy.deepcopy(model)
        bad = train_sgd(m, loss_fn, X, y, lr=config.polish_lr, batch_size=X.shape[0],
                        steps=config.polish_steps, generator=gen)
        if bad is not None:
            raise _polish_diverged(name)
        ends[name] = parameters_to_vector(m.parameters()).detach().clone()
    return _line(config, T, seed, model, ends, data, loss_fn)


def _batch(config, items, data, dev, loss_fn):
    """Every run of ``items`` together: the SGD phase of all runs as one ensemble
    (:func:`numerics.training.train_sgd_ensemble`), then the train-set polishes of all runs as one,
    then the test-set polishes, and finishes run by run (results yielded in item order); each run's initialisation and minibatches (its generator's draws, in
    the same order) are the ones :func:`_one` would use, so a run's result is the same up to rounding."""
    import copy

    import torch
    from torch.nn.utils import parameters_to_vector

    from numerics.training import train_sgd_ensemble

    Xtr, ytr, Xte, yte = data
    started = [_start(config, seed, Xtr.shape[1], dev) for _, seed in items]
    models, gens = [m for m, _ in started], [g for _, g in started]
    lr = config.learning_rate
    per_sample = lambda o, t: torch.nn.functional.cross_entropy(o, t, reduction="none")  # noqa: E731
    bad = train_sgd_ensemble(models, loss_fn, Xtr, ytr, lrs=[lr] * len(items),
                             batch_sizes=[config.batch_size(T) for T, _ in items],
                             steps=[int(round(config.sde_time / lr))] * len(items), generators=gens,
                             per_sample_loss=per_sample)
    for (T, _), b in zip(items, bad):
        if b is not None:
            raise _sgd_diverged(config, T, b)
    ends = [{} for _ in items]
    for name, (X, y) in (("train", (Xtr, ytr)), ("test", (Xte, yte))):
        polished = [copy.deepcopy(m) for m in models]
        bad = train_sgd_ensemble(polished, loss_fn, X, y, lrs=[config.polish_lr] * len(items),
                                 batch_sizes=[X.shape[0]] * len(items), steps=[config.polish_steps] * len(items),
                                 generators=gens, per_sample_loss=per_sample)
        if any(b is not None for b in bad):
            raise _polish_diverged(name)
        for end, m in zip(ends, polished):
            end[name] = parameters_to_vector(m.parameters()).detach().clone()
    for (T, seed), model, end in zip(items, models, ends):
        yield _one(config, T, seed, data, dev, loss_fn, trained=(model, end))


def measure(config: ShiftCurvatureConfig, device="auto", *, progress: bool = False, checkpoint=None,
            executor=None) -> dict:
    """Every (T, seed): SGD, the two low-temperature polishes, the losses on the line — all runs
    together as ensembles of small networks, or with ``executor`` (a
    :class:`concurrent.futures.Executor`) one run per task."""
    import itertools

    import torch

    from numerics.devices import device_fields, resolve_device
    from numerics.training import digits_split
    from validation.experiments import map_runs

    dev = resolve_device(device)
    data = tuple(t.to(dev) for t in digits_split(config.n_train, config.seed))
    loss_fn = torch.nn.functional.cross_entropy
    grid = itertools.product(config.temperatures, config.seeds)
    runs = map_runs(lambda T, s: _one(config, T, s, data, dev, loss_fn), grid, dev=dev,
                    desc="(T, seed)", progress=progress, checkpoint=checkpoint, executor=executor,
                    batch=lambda items: _batch(config, items, data, dev, loss_fn))
    return {**device_fields(device, dev), "n_train": config.n_train, "n_test": int(data[2].shape[0]),
            "runs": runs}


def predict(config: ShiftCurvatureConfig, raw: dict | None = None) -> dict:
    return {"eq3": "U_test(θ_tr) ≈ U_test(θ_test) + ½ sᵀ C_test s (SC.eq3, b = 0)",
            "trend": "κ_train, κ_test and ½κ_test fall as T rises"}


def symmetrised_quadratic_fit(alphas, values, centre: float, side: str, *, width: float = 1.0
                              ) -> tuple[float, float]:
    """Fit ``y = y₀ + ½ κ (α − centre)²`` to the points on one ``side`` ("left": α ≤ centre, "right":
    α ≥ centre) of ``centre`` within distance ``width``, mirrored about ``centre`` (SC App. F).
    Returns (y₀, κ)."""
    a = np.asarray(alphas, dtype=float)
    y = np.asarray(values, dtype=float)
    d = a - centre
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right'; got {side!r}")
    keep = (d <= 1e-12) & (d >= -width - 1e-12) if side == "left" else (d >= -1e-12) & (d <= width + 1e-12)
    if keep.sum() < 3:
        raise ValueError("symmetrised_quadratic_fit: fewer than 3 points on that side")
    dd = np.concatenate([d[keep], -d[keep]])
    yy = np.concatenate([y[keep], y[keep]])
    A = np.column_stack([np.ones_like(dd), 0.5 * dd**2])
    (y0, kappa), *_ = np.linalg.lstsq(A, yy, rcond=None)
    return float(y0), float(kappa)


def compare(config: ShiftCurvatureConfig, prediction: dict, raw: dict) -> dict:
    """Per-run fits and SC.eq3 errors; Spearman correlations with T (pure function of raw)."""
    rows = []
    for r in raw["runs"]:
        a = np.asarray(r["alphas"])
        i0, i1 = int(np.argmin(np.abs(a))), int(np.argmin(np.abs(a - 1)))
        _, k_test = symmetrised_quadratic_fit(a, r["test_loss_line"], 1.0, "left")
        _, k_train = symmetrised_quadratic_fit(a, r["train_loss_line"], 0.0, "left")
        # out-of-sample form: curvature from the half of the segment next to the test minimum only,
        # extrapolated to the train minimum (a Taylor statement, not a fit of the point it predicts)
        _, k_local = symmetrised_quadratic_fit(a, r["test_loss_line"], 1.0, "left", width=0.5)
        u_test_at_tr, u_test_min = r["test_loss_line"][i0], r["test_loss_line"][i1]
        predicted = u_test_min + 0.5 * k_test
        rows.append({"T": r["T"], "seed": r["seed"], "kappa_test": k_test, "kappa_train": k_train,
                     "shift_curvature": 0.5 * k_test, "shift_norm": r["shift_norm"],
                     "test_loss_at_train_min": u_test_at_tr, "test_loss_at_test_min": u_test_min,
                     "eq3_prediction": predicted,
                     "eq3_relative_error": abs(u_test_at_tr - predicted) / abs(u_test_at_tr),
                     "kappa_test_local": k_local,
                     "eq3_relative_error_local": abs(u_test_at_tr - u_test_min - 0.5 * k_local) / abs(u_test_at_tr),
                     "shift_curvature_share": (0.5 * k_test) / (u_test_at_tr - u_test_min)
                     if u_test_at_tr != u_test_min else float("nan"),
                     "train_loss_at_train_min": r["train_loss_line"][i0]})
    from validation.experiments.temperature_scan import spearman

    T = np.array([x["T"] for x in rows])
    trends = {k: spearman(T, [x[k] for x in rows]) for k in
              ("kappa_train", "kappa_test", "shift_curvature", "shift_norm", "test_loss_at_train_min")}
    errs = [x["eq3_relative_error"] for x in rows]
    local = [x["eq3_relative_error_local"] for x in rows]
    return {"runs": rows, "trends": trends, "eq3_median_relative_error": float(np.median(errs)),
            "eq3_max_relative_error": float(np.max(errs)), "eq3_tolerance": config.eq3_tolerance,
            "eq3_local_median_relative_error": float(np.median(local)),
            "eq3_local_max_relative_error": float(np.max(local)),
            "median_shift_curvature_share": float(np.nanmedian([x["shift_curvature_share"] for x in rows]))}


def run(config: ShiftCurvatureConfig = None, device="auto", out=None, *,
        progress: bool = False, force: bool = False, resume: bool = False) -> dict:
    """measure → predict → compare (default config: :data:`FULL`); write a record to ``out`` when
    given (``force``: replace an existing file; ``resume``: reuse the finished runs of an
    interrupted run — see :func:`validation.experiments.run_experiment`)."""
    return EXPERIMENT.run(config, device, out, progress=progress, force=force, resume=resume)


def _summary(rec):
    m = rec["metrics"]
    yield f"trends {m['trends']}"
    yield f"SC.eq3 median/max relative error {m['eq3_median_relative_error']} {m['eq3_max_relative_error']}"


EXPERIMENT = Experiment(
    name="shift_curvature", claims=("SC.fig1-3",), config_type=ShiftCurvatureConfig, SMALL=SMALL, FULL=FULL,
    GPU=GPU, measure=measure, predict=predict, compare=compare, record_stem="shift_curvature",
    estimates={"small": {"cpu": 10, "gpu": 20}, "full": {"cpu": 60, "gpu": 120}, "gpu": {"cpu": 900, "gpu": 150}},
    description="SC's shift-curvature protocol on a trained MLP: is the test loss at the train minimum the test "
                "loss at the test minimum plus the shift-curvature, and do the curvatures fall as T rises?",
    summary=_summary, inputs=source_file(__file__))


def main(argv=None) -> int:
    """``python -m validation.experiments.shift_curvature ARGS`` = ``python -m validation run
    shift_curvature ARGS``."""
    from validation.__main__ import run_main

    return run_main(EXPERIMENT.name, argv)


if __name__ == "__main__":
    raise SystemExit(main())
