"""Evidence of the predict-vs-measure experiments: one cached function per experiment, one typed
result, used by the ledger checks (which turn it into verdicts) and by the report sections (which
render it) — so a verdict and the report quote the same record and the same numbers.

Which record (the convention): an experiment's committed records are
``validation/data/<record_stem>_<kind>.json`` with ``kind`` ``gpu`` or ``cpu``, the device the record
was measured on (:data:`validation.experiments.RECORD_KINDS`, largest device first). The evidence
rests on the first that exists — a GPU record beats a CPU one — with its metrics re-derived from its
raw runs by the experiment's pure ``compare`` (and its prediction by ``predict``), never copied from
the file. Without any committed record the evidence is the small preset run live on the CPU.

Beside the record, :attr:`ExperimentEvidence.live_metrics` is the small preset run live on the CPU
(computed on first use and cached) when live runs are on (:func:`live_runs_enabled`:
``python -m validation claims --live``); the checks quote it through :func:`live_part`, the report does
not need it.

Papers' ranges: for the experiments whose claim the paper measured on a known range of
T = λ/B (``PAPER_RANGES``), the evidence also holds the metrics of the record's runs inside each
range (:class:`RangeEvidence`), the verdict's basis (``validation/checks/README.md``).
"""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any, Mapping

__all__ = ["RecordRef", "RangeEvidence", "ExperimentEvidence", "choose_record", "experiment_evidence",
           "live_small_record", "live_runs_enabled", "live_part", "LIVE_ENV", "LIVE_OFF", "escape_rates_evidence", "gradient_noise_evidence", "temperature_scan_evidence",
           "shift_curvature_evidence", "memorization_evidence"]


@dataclasses.dataclass(frozen=True)
class RecordRef:
    """The committed record an evidence rests on."""

    path: Path  # absolute
    name: str  # file name in validation/data
    kind: str  # "gpu" | "cpu": from the file name (the convention of the module docstring)
    device: str  # provenance: the device actually used
    commit: str  # provenance: git commit of the run
    wall_time_s: float
    n_runs: int | None  # training runs / sweep points in ``raw`` (None when the raw summary has no list)

    def describe(self) -> str:
        runs = f"{self.n_runs} runs, " if self.n_runs else ""
        return f"record {self.name} ({runs}{self.device}, commit {self.commit[:10]}, {self.wall_time_s:.0f} s)"


@dataclasses.dataclass(frozen=True)
class RangeEvidence:
    """The record's runs inside one paper's range: ``report`` is :meth:`PaperRange.report` over all
    runs; ``metrics`` the experiment's ``compare`` on the runs inside (``None`` when no run lies
    inside, or too few for ``compare``)."""

    paper_range: Any  # validation.ledger.PaperRange
    report: dict
    metrics: dict | None


@dataclasses.dataclass(frozen=True)
class ExperimentEvidence:
    """What a check judges and a report section renders for one experiment."""

    experiment: str
    claims: tuple
    config: Any  # the experiment's config (from the record)
    raw: dict
    prediction: dict
    metrics: dict  # compare(config, prediction, raw): re-derived, not read from the file
    source: str  # one line: which record, or "live small run (no committed record)"
    record: RecordRef | None  # None: no committed record, the evidence is the live small run
    ranges: Mapping = dataclasses.field(default_factory=dict)  # name -> RangeEvidence

    @property
    def live_record(self) -> dict:
        """The small preset run live on the CPU (cached per process; the same run as the evidence
        itself when there is no committed record)."""
        return live_small_record(self.experiment)

    @property
    def live_metrics(self) -> dict | None:
        """The live small run's metrics — ``None`` when live runs are off (:func:`live_runs_enabled`)
        and a committed record is the evidence (without a record the evidence *is* the live run)."""
        if self.record is not None and not live_runs_enabled():
            return None
        return self.live_record["metrics"]

    def range(self, name: str) -> RangeEvidence | None:
        """The :class:`RangeEvidence` called ``name`` (``None`` without a committed record)."""
        return self.ranges.get(name)


def _paper_ranges(name: str) -> dict:
    """name → (PaperRange, value of a raw run on its axis) of the experiments judged inside papers' ranges."""
    if name == "temperature_scan":
        from validation.experiments import temperature_scan as ts

        return {"TF": (ts.TF_RANGE, ts.run_temperature), "SC_RND": (ts.SC_RND_RANGE, ts.run_temperature)}
    if name == "memorization":
        from validation.experiments import memorization as mem

        return {"TF": (mem.PAPER_RANGE, lambda r: r["T"])}
    return {}


def choose_record(experiment) -> Path | None:
    """The committed record of ``experiment`` (an :class:`~validation.experiments.Experiment`) the
    evidence rests on: the first of :meth:`Experiment.record_names` (largest device first) that
    exists in ``validation/data``; ``None`` when there is none."""
    from validation.records import DATA_DIR

    for name in experiment.record_names():
        path = DATA_DIR / name
        if path.is_file():
            return path
    return None


#: environment switch for the live small runs beside committed records (inherited by the ledger's
#: worker processes): ``python -m validation claims --live`` sets it
LIVE_ENV = "SGDSM_LIVE_SMALL"
#: what a check quotes instead of a live small run's numbers when live runs are off
LIVE_OFF = "not run (python -m validation claims --live runs each experiment's small preset beside its record)"


def live_runs_enabled() -> bool:
    """Whether checks run and quote each experiment's small preset live beside its committed record
    (``SGDSM_LIVE_SMALL=1``; off by default: the verdicts rest on the records, the test suite runs
    every small preset live, and the live runs were ~40 % of the ledger's CPU time)."""
    import os

    return os.environ.get(LIVE_ENV, "") not in ("", "0")


def live_part(ev: "ExperimentEvidence", quote):
    """``quote(live small metrics)`` for a check's metrics when live runs are on, else :data:`LIVE_OFF`."""
    live = ev.live_metrics
    return LIVE_OFF if live is None else quote(live)


@functools.lru_cache(maxsize=None)
def live_small_record(name: str) -> dict:
    """The small preset of experiment ``name`` run live on the CPU (one run per process)."""
    from validation.experiments import get_experiment

    exp = get_experiment(name)
    return exp.run(exp.SMALL, device="cpu")


def _inside(exp, config, raw: dict, paper_range, value_of) -> RangeEvidence:
    runs = raw["runs"]
    values = [value_of(r) for r in runs]
    inside, _ = paper_range.split(values)
    metrics = None
    if inside:
        sub = dict(raw, runs=[runs[i] for i in inside])
        try:
            metrics = exp.compare(config, exp.predict(config, sub), sub)
        except ValueError:  # compare refuses too few runs
            metrics = None
    return RangeEvidence(paper_range, paper_range.report(values), metrics)


@functools.lru_cache(maxsize=None)
def experiment_evidence(name: str) -> ExperimentEvidence:
    """The evidence of the registered experiment ``name`` (cached per process): the committed record
    of the largest device, its metrics re-derived, and its runs inside the papers' ranges; or, with
    no committed record, the live small run."""
    from validation.experiments import get_experiment
    from validation.records import read_record

    exp = get_experiment(name)
    path = choose_record(exp)
    if path is None:
        rec = live_small_record(name)
        return ExperimentEvidence(exp.name, tuple(exp.claims), exp.SMALL, rec["raw"], rec["prediction"],
                                  rec["metrics"], "live small run (no committed record)", None, {})
    rec = read_record(path)
    config = exp.config_from_dict(rec["config"])
    raw = rec["raw"]
    prediction = exp.predict(config, raw)
    metrics = exp.compare(config, prediction, raw)
    prov = rec["provenance"]
    runs = raw.get("runs")
    if runs is None and isinstance(raw.get("sweeps"), dict):
        runs = [p for pts in raw["sweeps"].values() for p in pts]
    ref = RecordRef(path=path, name=path.name, kind=path.stem.rsplit("_", 1)[-1], device=str(prov["device"]),
                    commit=str(prov["git_commit"]), wall_time_s=float(prov["wall_time_s"]),
                    n_runs=len(runs) if isinstance(runs, list) else None)
    ranges = {key: _inside(exp, config, raw, pr, value_of) for key, (pr, value_of) in _paper_ranges(name).items()}
    return ExperimentEvidence(exp.name, tuple(exp.claims), config, raw, prediction, metrics, ref.describe(), ref,
                              ranges)


def escape_rates_evidence() -> ExperimentEvidence:
    """DT.sec4 / DT.thm3.2: :func:`experiment_evidence` of ``escape_rates``."""
    return experiment_evidence("escape_rates")


def gradient_noise_evidence() -> ExperimentEvidence:
    """DT.fig1 / SC.eq23: :func:`experiment_evidence` of ``gradient_noise``."""
    return experiment_evidence("gradient_noise")


def temperature_scan_evidence() -> ExperimentEvidence:
    """SC.fig5 / RND.fig1 / TF.4.1: :func:`experiment_evidence` of ``temperature_scan``."""
    return experiment_evidence("temperature_scan")


def shift_curvature_evidence() -> ExperimentEvidence:
    """SC.fig1-3: :func:`experiment_evidence` of ``shift_curvature``."""
    return experiment_evidence("shift_curvature")


def memorization_evidence() -> ExperimentEvidence:
    """TF.4.3: :func:`experiment_evidence` of ``memorization``."""
    return experiment_evidence("memorization")
