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

import concurrent.futures as cf
import contextlib
import contextvars
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
           "all_experiments", "run_experiment", "map_runs", "sweep_executor", "use_executor",
           "SweepExecutorError"]

def _experiment_modules() -> tuple:
    """Every public module of this package (each defines one ``EXPERIMENT``), by name: a new
    experiment joins the registry by being a module here — no list to edit."""
    import pkgutil

    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")))


#: The registry's modules (under ``validation.experiments``), found by :func:`_experiment_modules`.
EXPERIMENT_MODULES = _experiment_modules()


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
                   progress: bool = False, force: bool = False, resume: bool = False, inputs=(),
                   work=None) -> dict:
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

    ``work(config, raw) -> (amount, unit)`` (optional) states how much the measurement computed
    (chain-steps, per-sample gradient evaluations, …): the record's ``provenance.throughput`` then
    gives ``amount / seconds of measure`` — the device's speed on this workload. Without it, runs/s
    when the raw summary lists its runs.
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
    measure_s = time.perf_counter() - t0
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
    throughput = _throughput(work, config, raw, measure_s)
    if throughput is not None:
        record["provenance"]["throughput"] = throughput
    if checkpoint is not None and checkpoint.reused:
        record["provenance"]["resumed_runs"] = checkpoint.reused  # wall time covers this invocation only
        if throughput is not None:
            throughput["note"] = "resumed: runs taken from the checkpoint count as work but not as time"
    if out is not None:
        write_record(record, out, force=force, inputs=inputs)
        checkpoint.remove()
    return record


def _throughput(work, config, raw, measure_s: float) -> dict | None:
    """``{"unit", "amount", "per_s", "measure_s"}`` from ``work`` (or the number of runs), or None."""
    if work is not None:
        amount, unit = work(config, raw)
    elif isinstance(raw.get("runs"), list):
        amount, unit = len(raw["runs"]), "runs"
    else:
        return None
    amount = float(amount)
    return {"unit": unit, "amount": amount, "measure_s": round(measure_s, 3),
            "per_s": amount / measure_s if measure_s > 0 else None}


def map_runs(one, items, *, dev, desc: str, progress: bool = False, checkpoint=None, batch=None,
             executor=None) -> list:
    """``[one(*item) for item in items]``: a sweep of independent runs (one training run of a grid per
    item), in item order — the loop every grid experiment runs through.

    How the runs are computed (the result is the same, run by run, up to floating-point rounding):

    - ``executor`` (a :class:`concurrent.futures.Executor`, e.g. from :func:`sweep_executor`: a
      thread or process pool, or a Dask distributed cluster), or the one installed by
      :func:`use_executor` around the experiment's run: every run is submitted as
      ``executor.submit(one, *item)`` (``one`` is usually a closure: fine for a thread pool and for
      Dask, which pickles closures with cloudpickle; a process pool needs a picklable ``one``);
    - else ``batch`` (a callable ``batch(items)`` returning or yielding one result per item, in
      order): all runs are computed by one call — an experiment passes one that trains its small
      networks together as an ensemble (:func:`numerics.training.train_sgd_ensemble`) and then
      finishes run after run, yielding each result (saved to the checkpoint as it comes);
    - else one after another, CPU work single-threaded (:func:`numerics.devices.cpu_threads`), with a
      progress bar when asked.

    With a :class:`~validation.checkpoint.Checkpoint`, every finished run is saved under the key
    ``[desc, item]`` and a run already in the checkpoint is not recomputed (so a run must be
    deterministic given its item: each run seeded by its own item) — on every route: only the
    missing items are submitted or batched."""
    from numerics.devices import cpu_threads
    from validation.checkpoint import cached

    items = [tuple(item) for item in items]
    if executor is None:
        executor = _EXECUTOR.get()
    if executor is not None or batch is not None:
        out = {}
        missing = []
        for i, item in enumerate(items):
            key = [desc, list(item)]
            if checkpoint is not None and key in checkpoint:
                out[i] = checkpoint[key]
            else:
                missing.append(i)
        if executor is not None:  # (single-threaded torch here too: a local thread pool shares it)
            import concurrent.futures as cf

            with cpu_threads(dev):  # ... and inside each run, for workers in other processes (Dask)
                futures = {executor.submit(_single_threaded_run, one, dev, *items[i]): i for i in missing}
                for fut in cf.as_completed(futures):  # each run saved as soon as it finishes
                    i = futures[fut]
                    out[i] = _save(checkpoint, [desc, list(items[i])], fut.result())
        elif missing:
            with cpu_threads(dev):
                got = 0
                for res in batch([items[i] for i in missing]):  # each saved as soon as it is yielded
                    if got == len(missing):
                        raise RuntimeError(f"the batch function returned more than {len(missing)} results "
                                           f"for {len(missing)} runs")
                    out[missing[got]] = _save(checkpoint, [desc, list(items[missing[got]])], res)
                    got += 1
            if got != len(missing):
                raise RuntimeError(f"the batch function returned {got} results for {len(missing)} runs")
        return [out[i] for i in range(len(items))]
    if progress:
        from numerics._progress import progress_bar

        items = progress_bar(items, desc=desc, unit="run")
    with cpu_threads(dev):
        return [cached(checkpoint, [desc, list(item)], lambda item=item: one(*item)) for item in items]


class _DaskExecutor(cf.Executor):
    """A Dask client's executor that also closes the client when it is shut down (leaving the
    ``with`` block), so nothing keeps reconnecting to a cluster that has gone."""

    def __init__(self, client):
        self.client = client
        self._executor = client.get_executor()

    def submit(self, fn, /, *args, **kwargs):
        return self._executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait=True, *, cancel_futures=False):
        try:
            self._executor.shutdown(wait=wait)
        finally:
            self.client.close()


def _single_threaded_run(one, dev, *item):
    """``one(*item)`` with one CPU intra-op thread wherever it runs: in a local pool the caller has
    already set it; a Dask worker is another process, whose default thread count would change the
    order of floating-point reductions and so the numbers of a long training."""
    from numerics.devices import cpu_threads

    with cpu_threads(dev):
        return one(*item)


_EXECUTOR = contextvars.ContextVar("sweep_executor", default=None)


@contextlib.contextmanager
def use_executor(executor):
    """Within the block, every :func:`map_runs` without an explicit ``executor`` submits its runs to
    ``executor`` (a :class:`concurrent.futures.Executor`, e.g. :func:`sweep_executor`'s) instead of
    training them as an ensemble — how a command line's ``--scheduler ADDRESS`` reaches every grid
    experiment without a parameter through each ``measure``. ``None`` restores the default."""
    import concurrent.futures as cf

    if executor is not None and not isinstance(executor, cf.Executor):
        raise SweepExecutorError(f"use_executor needs a concurrent.futures.Executor or None; got "
                                 f"{type(executor).__name__}")
    token = _EXECUTOR.set(executor)
    try:
        yield executor
    finally:
        _EXECUTOR.reset(token)


def _save(checkpoint, key, value):
    return value if checkpoint is None else checkpoint.save(key, value)


class SweepExecutorError(ValueError):
    """:func:`sweep_executor` cannot make the executor asked for; the message says what to install or pass."""


def sweep_executor(scheduler: str | None = None, *, kind: str = "thread", workers: int | None = None):
    """A :class:`concurrent.futures.Executor` for :func:`map_runs`: a local ``"thread"`` or
    ``"process"`` pool with ``workers`` workers, or — given a Dask ``scheduler`` address
    (``"tcp://host:8786"``) — the executor of a ``dask.distributed`` client connected to it
    (``Client(scheduler).get_executor()``). Dask is imported only then; without it a
    :class:`SweepExecutorError` says to ``pip install "dask[distributed]"``. Use it as a context
    manager (``with sweep_executor(...) as ex:``) so the pool shuts down."""
    import concurrent.futures as cf

    if scheduler is not None:
        if not isinstance(scheduler, str) or not scheduler:
            raise SweepExecutorError(f"scheduler must be a Dask scheduler address such as 'tcp://host:8786'; "
                                     f"got {scheduler!r}")
        try:
            from distributed import Client
        except ImportError as exc:
            raise SweepExecutorError('a Dask scheduler was given but dask.distributed is not installed: '
                                     'pip install "dask[distributed]" (or run without a scheduler for a local '
                                     'pool)') from exc
        return _DaskExecutor(Client(scheduler))
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise SweepExecutorError(f"workers must be a whole number >= 1 or None; got {workers!r}")
    if kind == "thread":
        return cf.ThreadPoolExecutor(max_workers=workers)
    if kind == "process":
        return cf.ProcessPoolExecutor(max_workers=workers)
    raise SweepExecutorError(f"kind must be 'thread' or 'process'; got {kind!r}")
