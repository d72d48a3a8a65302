"""Predict-vs-measure experiments on one protocol (:class:`~validation.experiments._protocol.Experiment`)
and one registry.

Every experiment module defines ``EXPERIMENT`` (name, claim ids, typed config with ``SMALL``/``FULL``/
``GPU`` presets, ``measure``/``predict``/``compare``, run-time estimates, record name); they are
registered here, in :data:`EXPERIMENT_MODULES`, and nowhere else. ``REGISTRY`` maps name →
experiment, :func:`get_experiment` looks one up (:class:`UnknownExperimentError` lists the known
names) and :func:`all_experiments` lists them. ``python -m validation run NAME`` runs one,
``python -m validation run --all`` all of them. :func:`run_experiment` is the machinery behind
:meth:`Experiment.run` (guarded output path, checkpointed runs)."""
from __future__ import annotations

import dataclasses
import functools
import time

from validation.experiments._protocol import (
    PRESETS,
    RECORD_KINDS,
    Experiment,
    ExperimentConfigError,
    UnknownExperimentError,
    UnknownPresetError,
    config_from_dict,
    device_kind,
)

__all__ = ["Experiment", "ExperimentConfigError", "UnknownExperimentError", "UnknownPresetError", "PRESETS",
           "RECORD_KINDS", "EXPERIMENT_MODULES", "REGISTRY", "config_from_dict", "device_kind", "get_experiment",
           "all_experiments", "run_experiment", "map_runs", "experiment_main"]

#: The registry, in one place: the module (under ``validation.experiments``) defining each
#: experiment's ``EXPERIMENT``, in the order ``run --all`` runs them.
EXPERIMENT_MODULES = ("escape_rates", "gradient_noise", "temperature_scan", "shift_curvature", "memorization",
                      "synthetic")


@functools.lru_cache(maxsize=1)
def _registry() -> dict:
    import importlib

    out = {}
    for mod_name in EXPERIMENT_MODULES:
        exp = importlib.import_module(f"validation.experiments.{mod_name}").EXPERIMENT
        if exp.name in out:
            raise RuntimeError(f"two experiments are named {exp.name!r}")
        out[exp.name] = exp
    return out


def __getattr__(name):  # REGISTRY is built on first use (the modules import this package)
    if name == "REGISTRY":
        return dict(_registry())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def all_experiments() -> tuple:
    """Every registered :class:`Experiment`, in :data:`EXPERIMENT_MODULES` order."""
    return tuple(_registry().values())


def get_experiment(name: str) -> Experiment:
    """The registered experiment called ``name``; :class:`UnknownExperimentError` (a ``ValueError``)
    listing the known names otherwise."""
    reg = _registry()
    if not isinstance(name, str) or name not in reg:
        raise UnknownExperimentError(f"unknown experiment {name!r}; the registered experiments are: "
                                     f"{', '.join(reg)}")
    return reg[name]


def run_experiment(name: str, claims, config, *, measure, predict, compare, device="auto", out=None,
                   progress: bool = False, force: bool = False, resume: bool = False, inputs=()) -> dict:
    """measure → predict → compare, assembled into a record (written atomically to ``out`` if given).

    ``measure(config, device, progress=..., checkpoint=...)`` returns the raw summary,
    ``predict(config, raw)`` the theory prediction and ``compare(config, prediction, raw)`` the
    metrics (a pure function, so tests can re-derive the metrics of a committed record from its raw
    summary).

    With ``out``, the path is checked before any work (:func:`validation.records.check_record_path`:
    never an input in ``inputs``, a link, a folder or a device; an existing file only when it is an
    earlier record of ours outside ``validation/data/``, or with ``force``), and finished runs are
    checkpointed to ``out.partial.jsonl`` (:mod:`validation.checkpoint`; ``measure`` gets the
    :class:`~validation.checkpoint.Checkpoint` as ``checkpoint=``): ``resume=True`` reuses them,
    and the sidecar is deleted once the record is written.
    """
    from validation.checkpoint import open_checkpoint
    from validation.records import check_record_path, provenance, write_record

    checkpoint = None
    if out is not None:
        check_record_path(out, force=force, inputs=inputs)
        checkpoint = open_checkpoint(out, config, resume=resume, force=force)
    t0 = time.perf_counter()
    extra = {} if checkpoint is None else {"checkpoint": checkpoint}
    raw = measure(config, device, progress=progress, **extra)
    pred = predict(config, raw)
    metrics = compare(config, pred, raw)
    record = {
        "experiment": name,
        "claims": list(claims),
        "config": dataclasses.asdict(config),
        "raw": raw,
        "prediction": pred,
        "metrics": metrics,
        "provenance": provenance(device=raw["device"], seed=config.seed,
                                 wall_time_s=time.perf_counter() - t0),
    }
    if checkpoint is not None and checkpoint.reused:
        record["provenance"]["resumed_runs"] = checkpoint.reused  # wall time covers this invocation only
    if out is not None:
        write_record(record, out, force=force, inputs=inputs)
        checkpoint.remove()
    return record


def experiment_main(argv, *, description: str, run, small, full, summary, inputs=()) -> int:
    """The command line of an experiment module: ``--out PATH [--device D] [--small] [--force]
    [--resume]``; checks ``--out`` (and its checkpoint) before any work, runs ``full`` (or
    ``small``) as ``run(config, device, out, progress=True[, force=True][, resume=True])``, writes
    the record and prints ``summary(record)``. ``inputs``: files the experiment reads (its own
    source), which ``--out`` may never name. Returns 0; 2 for a refused ``--out``; 130 when
    interrupted (finished runs stay in the checkpoint for ``--resume``)."""
    import argparse
    import sys

    from numerics.devices import check_device_name
    from validation.checkpoint import checkpoint_path, check_checkpoint
    from validation.records import check_record_path

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--out", required=True,
                    help="Where to write the JSON record, e.g. runs/NAME.json. An existing file is "
                         "replaced only when it is an earlier record of this tool outside "
                         "validation/data/, or with --force.")
    ap.add_argument("--device", default="auto",
                    help="torch device: auto (CUDA if present, else CPU), cpu, cuda or cuda:N; cuda on a machine "
                         "without CUDA runs on the CPU, and the record says so")
    ap.add_argument("--small", action="store_true", help="the small live version")
    ap.add_argument("--force", action="store_true",
                    help="Replace an existing --out file even when it is not an earlier record of this "
                         "tool, including a committed record in validation/data/. Without --resume it "
                         "also discards the checkpoint of an interrupted run.")
    ap.add_argument("--resume", action="store_true",
                    help="Continue an interrupted run from its checkpoint OUT.partial.jsonl, reusing "
                         "the runs it finished instead of recomputing them. The checkpoint must come "
                         "from the same preset, and it is deleted once the record is written.")
    a = ap.parse_args(argv)
    config = small if a.small else full
    try:
        check_device_name(a.device)
        check_record_path(a.out, force=a.force, inputs=inputs)
        reusable = check_checkpoint(a.out, config, resume=a.resume, force=a.force)
    except ValueError as exc:  # DeviceError, OutputPathError, CheckpointError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if reusable:
        print(f"resuming: {reusable} finished run(s) from {checkpoint_path(a.out)}")
    flags = {name: True for name in ("force", "resume") if getattr(a, name)}
    try:
        rec = run(config, a.device, a.out, progress=True, **flags)
    except KeyboardInterrupt:
        print(f"interrupted: the finished runs are kept in {checkpoint_path(a.out)}; run the same "
              f"command with --resume to continue", file=sys.stderr)
        return 130
    for line in summary(rec):
        print(line)
    return 0


def map_runs(one, items, *, dev, desc: str, progress: bool = False, checkpoint=None) -> list:
    """``[one(*item) for item in items]`` with a progress bar when asked, CPU work single-threaded
    (:func:`numerics.devices.cpu_threads`) — the loop over a grid of training runs.

    With a :class:`~validation.checkpoint.Checkpoint`, every finished run is saved under the key
    ``[desc, item]`` and a run already in the checkpoint is not recomputed (so ``one`` must be
    deterministic given its item: each run seeded by its own item)."""
    from numerics.devices import cpu_threads
    from validation.checkpoint import cached

    items = [tuple(item) for item in items]
    if progress:
        from numerics._progress import progress_bar

        items = progress_bar(items, desc=desc, unit="run")
    with cpu_threads(dev):
        return [cached(checkpoint, [desc, list(item)], lambda item=item: one(*item)) for item in items]
