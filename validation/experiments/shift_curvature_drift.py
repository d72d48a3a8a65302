"""Does the SC.fig1-3 measurement see a stationary state? The shift-curvature protocol of
:mod:`validation.experiments.shift_curvature` run at several SGD times on the same (T, seed) grid.

SC.fig1-3's claim is about SGD's *stationary* preference (flat minima at high T, SC.eq6); the
``shift_curvature`` record runs every T for one SDE time λ·steps (200). If the curvatures along the
train→test line still move when SGD runs longer, that record measures a transient, and its trend
with T says little about the claim either way.

- **measure**: :func:`validation.experiments.shift_curvature.measure` once per SDE time in
  ``sde_times`` (same data, temperatures, seeds, initialisations and minibatch streams: the longer
  arm continues the same kind of run for longer, it is not a continuation of the same run).
- **predict**: the claim's trend (curvatures fall with T) — nothing about time.
- **compare** (pure): each arm by :func:`validation.experiments.shift_curvature.compare` (its per-T
  medians and Spearman trends per data set, combined over data sets); between the shortest and the
  longest arm, per (data set, T, seed) the relative change of κ_train, κ_test, ½κ_test and |s|, its
  per-T medians, and a sign test (how many runs moved down; two-sided binomial p).

Decision rules, written before the FULL record was run (the longest arm's digits part had been run
once as a pilot, with these seeds): the SC.fig1-3 trend rule of ``shift_curvature`` (every one of
κ_train, κ_test, ½κ_test falls with T: combined Spearman ρ < 0 at one-sided p < 0.01) applied to the
*longest* arm decides the check (``measured`` when it holds, ``fails`` otherwise); the record
is called *stationary at the shortest time* when no per-T median of κ_train or κ_test moves by more
than ``drift_tolerance`` (relative) between the arms — otherwise the check carries a finding that
the protocol's SGD time does not reach the state the claim is about.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from validation.experiments._protocol import Experiment, source_file
from validation.experiments.shift_curvature import ShiftCurvatureConfig
from validation.experiments.shift_curvature import compare as _compare_arm
from validation.experiments.shift_curvature import measure as _measure_arm

__all__ = ["ShiftCurvatureDriftConfig", "SMALL", "FULL", "GPU", "EXPERIMENT", "QUANTITIES", "measure", "predict",
           "compare", "run"]

#: the quantities compared between the arms
QUANTITIES = ("kappa_train", "kappa_test", "shift_curvature", "shift_norm")


@dataclass(frozen=True)
class ShiftCurvatureDriftConfig:
    """The (data set × T × seed) grid, the SGD times of the arms (λ·steps, shortest first) and the
    protocol's step sizes (as :class:`~validation.experiments.shift_curvature.ShiftCurvatureConfig`)."""

    temperatures: tuple[float, ...] = (0.0015625, 0.00625, 0.025, 0.1)
    sde_times: tuple[float, ...] = (200.0, 800.0, 3200.0)
    learning_rate: float = 0.2
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    n_train: int = 256
    hidden: int = 32
    datasets: tuple[str, ...] = ("digits",)
    l2: float = 0.0
    polish_lr: float = 0.05
    polish_steps: int = 1500
    line_points: int = 61
    drift_tolerance: float = 0.1
    seed: int = 0

    def __post_init__(self):
        times = tuple(self.sde_times)
        if len(times) < 2 or any(t <= 0 for t in times) or list(times) != sorted(set(times)):
            raise ValueError(f"sde_times must be ≥ 2 distinct positive SGD times, shortest first; got {times}")
        if not self.drift_tolerance > 0:
            raise ValueError(f"drift_tolerance must be > 0; got {self.drift_tolerance}")
        self.arm(times[0])  # the shift_curvature config validates the rest

    def arm(self, sde_time: float) -> ShiftCurvatureConfig:
        """The ``shift_curvature`` config of one arm."""
        return ShiftCurvatureConfig(temperatures=tuple(self.temperatures), learning_rate=self.learning_rate,
                                    seeds=tuple(self.seeds), n_train=self.n_train, hidden=self.hidden,
                                    datasets=tuple(self.datasets), l2=self.l2, sde_time=float(sde_time),
                                    polish_lr=self.polish_lr, polish_steps=self.polish_steps,
                                    line_points=self.line_points, seed=self.seed)


#: tests (live): one data set, two temperatures, one seed, short times
SMALL = ShiftCurvatureDriftConfig(temperatures=(0.003125, 0.0125, 0.05), sde_times=(60.0, 180.0), seeds=(0,), n_train=192,
                                  hidden=24, polish_steps=400, line_points=31)
#: the CPU record: digits, four temperatures spanning the shift_curvature grid, five seeds, SDE times 200 (the
#: shift_curvature record's), 800 and 3200
FULL = ShiftCurvatureDriftConfig()
#: GPU version (sized for ≤ 3 min on one H100/H200; an untested guess: no GPU record yet)
GPU = ShiftCurvatureDriftConfig(temperatures=(0.0015625, 0.003125, 0.00625, 0.0125, 0.025, 0.05, 0.1),
                                sde_times=(200.0, 800.0, 3200.0, 12800.0), seeds=tuple(range(8)),
                                datasets=("digits", "breast_cancer"))


def measure(config: ShiftCurvatureDriftConfig, device="auto", *, progress: bool = False, checkpoint=None) -> dict:
    """Every arm's raw runs (:func:`validation.experiments.shift_curvature.measure`), shortest first."""
    arms = []
    for t in config.sde_times:
        raw = _measure_arm(config.arm(t), device, progress=progress)
        arms.append({"sde_time": float(t), "runs": raw["runs"], **{k: v for k, v in raw.items() if k != "runs"}})
    # the device fields of the record (numerics.devices.device_fields), as every arm's raw carries them
    return {**{k: v for k, v in arms[0].items() if k in ("device", "device_note")}, "arms": arms}


def predict(config: ShiftCurvatureDriftConfig, raw: dict | None = None) -> dict:
    return {"trend": "κ_train, κ_test and ½κ_test fall as T rises (SC.fig1-3, at stationarity)",
            "time": "none: the claim is about the stationary state, so the curvatures should not depend on the "
                    "SGD time once it is reached"}


def _sign_test(changes) -> dict:
    from scipy.stats import binomtest

    ch = np.asarray(changes, float)
    down, up = int(np.sum(ch < 0)), int(np.sum(ch > 0))
    p = float(binomtest(down, down + up, 0.5).pvalue) if down + up else float("nan")
    return {"down": down, "up": up, "p": p}


def compare(config: ShiftCurvatureDriftConfig, prediction: dict, raw: dict) -> dict:
    """Per arm the shift_curvature metrics' trends and per-T medians; between the shortest and the
    longest arm the paired relative changes (pure function of raw)."""
    arms = []
    for arm in raw["arms"]:
        cfg = config.arm(arm["sde_time"])
        m = _compare_arm(cfg, {}, {k: v for k, v in arm.items() if k != "sde_time"})
        arms.append({"sde_time": arm["sde_time"], "trends": m["trends"],
                     "per_dataset": {d: {"temperatures": p["temperatures"], "trends": p["trends"],
                                         "per_T_median": p["per_T_median"], "n": p["n"]}
                                     for d, p in m["per_dataset"].items()},
                     "runs": [{k: r[k] for k in ("dataset", "T", "seed", *QUANTITIES)} for r in m["runs"]]})
    short, long_ = arms[0], arms[-1]
    key = lambda r: (r["dataset"], r["T"], r["seed"])  # noqa: E731
    by_short = {key(r): r for r in short["runs"]}
    pairs = [(by_short[key(r)], r) for r in long_["runs"] if key(r) in by_short]
    # successive arms: the median relative change of each quantity from one SGD time to the next
    successive = []
    for a, b in zip(arms[:-1], arms[1:]):
        prev = {key(r): r for r in a["runs"]}
        pp = [(prev[key(r)], r) for r in b["runs"] if key(r) in prev]
        successive.append({"from": a["sde_time"], "to": b["sde_time"],
                           "median_relative_change": {q: float(np.nanmedian([(y[q] - x[q]) / abs(x[q]) if x[q] != 0
                                                                             else float("nan") for x, y in pp]))
                                                      for q in QUANTITIES}})
    drift = {}
    for d in dict.fromkeys(r["dataset"] for r in long_["runs"]):
        ps = [(a, b) for a, b in pairs if a["dataset"] == d]
        Ts = sorted({a["T"] for a, _ in ps})
        drift[d] = {"temperatures": Ts}
        for q in QUANTITIES:
            rel = [(b[q] - a[q]) / abs(a[q]) if a[q] != 0 else float("nan") for a, b in ps]
            drift[d][q] = {"per_T_median_relative_change": [float(np.nanmedian([c for (a, _), c in zip(ps, rel)
                                                                                if a["T"] == t])) for t in Ts],
                           "median_relative_change": float(np.nanmedian(rel)),
                           "sign_test": _sign_test(rel)}
    moved = {d: max(abs(x) for q in ("kappa_train", "kappa_test") for x in v[q]["per_T_median_relative_change"])
             for d, v in drift.items()}
    return {"sde_times": [a["sde_time"] for a in arms], "arms": [{k: v for k, v in a.items() if k != "runs"}
                                                                  for a in arms],
            "drift": drift, "successive": successive, "largest_per_T_median_change": moved,
            "stationary_at_shortest_time": bool(all(v <= config.drift_tolerance for v in moved.values())),
            "drift_tolerance": config.drift_tolerance,
            "longest_arm_trends_fall": bool(all(long_["trends"][k]["rho"] < 0 and long_["trends"][k]["p_falls"] < 0.01
                                                for k in ("kappa_train", "kappa_test", "shift_curvature")))}


def run(config: ShiftCurvatureDriftConfig = None, device="auto", out=None, *,
        progress: bool = False, force: bool = False, resume: bool = False) -> dict:
    """measure → predict → compare (default config: :data:`FULL`); write a record to ``out`` when
    given (``force``: replace an existing file; ``resume``: reuse the finished runs of an
    interrupted run — see :func:`validation.experiments.run_experiment`)."""
    return EXPERIMENT.run(config, device, out, progress=progress, force=force, resume=resume)


def _summary(rec):
    m = rec["metrics"]
    for d, v in m["drift"].items():
        yield (f"{d}: per-T median relative change from SDE time {m['sde_times'][0]:g} to {m['sde_times'][-1]:g}: "
               + ", ".join(f"{q} {[round(x, 3) for x in v[q]['per_T_median_relative_change']]}"
                           for q in ("kappa_train", "kappa_test")))
    yield f"stationary at the shortest time: {m['stationary_at_shortest_time']}; longest arm trends fall: " \
          f"{m['longest_arm_trends_fall']}"


EXPERIMENT = Experiment(
    name="shift_curvature_drift", claims=("SC.fig1-3",), config_type=ShiftCurvatureDriftConfig, SMALL=SMALL,
    FULL=FULL, GPU=GPU, measure=measure, predict=predict, compare=compare, record_stem="shift_curvature_drift",
    estimates={"small": {"cpu": 20, "gpu": 10}, "full": {"cpu": 600, "gpu": 60}, "gpu": {"cpu": 3000, "gpu": 180}},
    description="SC.fig1-3's curvatures at several SGD times: does the shift_curvature record see a stationary state?",
    summary=_summary, inputs=source_file(__file__) + source_file(_measure_arm.__code__.co_filename))
