"""Predict-vs-measure experiments: each module has ``predict``, ``measure(config, device)``,
``compare`` and ``run(config, device, out=None)`` writing a record to ``validation/data``."""
from __future__ import annotations

import dataclasses
import functools
import time


def run_experiment(name: str, claims, config, *, measure, predict, compare, device="auto", out=None,
                   progress: bool = False) -> dict:
    """measure → predict → compare, assembled into a record (written atomically to ``out`` if given).

    ``measure(config, device, progress=...)`` returns the raw summary, ``predict(config, raw)`` the
    theory prediction and ``compare(config, prediction, raw)`` the metrics (a pure function, so
    tests can re-derive the metrics of a committed record from its raw summary).
    """
    from validation.records import provenance, write_record

    t0 = time.perf_counter()
    raw = measure(config, device, progress=progress)
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
    if out is not None:
        write_record(record, out)
    return record


def committed_or_live(module, record_name: str):
    """Evidence for a ledger check or report section of an experiment ``module`` (which has
    ``SMALL``, ``run``, ``predict``, ``compare`` and ``config_from_dict``).

    Returns ``(record, config, metrics, source)``: the committed record ``validation/data/<record_name>``
    with its metrics re-derived from the raw runs by ``module.compare``, or, when there is no such
    record, the small version run live on CPU.
    """
    from validation.records import DATA_DIR, read_record

    path = DATA_DIR / record_name
    if not path.exists():
        rec = module.run(module.SMALL, device="cpu")
        return rec, module.SMALL, rec["metrics"], "live small run (no committed record)"
    rec = read_record(path)
    cfg = module.config_from_dict(rec["config"])
    prov = rec["provenance"]
    n = len(rec["raw"].get("runs", []))
    source = (f"record {record_name} ({n} runs, {prov['device']}, commit {prov['git_commit'][:10]}, "
              f"{prov['wall_time_s']:.0f} s)")
    return rec, cfg, module.compare(cfg, module.predict(cfg), rec["raw"]), source


def experiment_main(argv, *, description: str, run, small, full, summary) -> int:
    """The command line of an experiment module: ``--out PATH [--device D] [--small]``; runs
    ``full`` (or ``small``), writes the record and prints ``summary(record)``."""
    import argparse

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--out", required=True, help="where to write the JSON record")
    ap.add_argument("--device", default="auto", help="torch device (auto: CUDA if present, else CPU)")
    ap.add_argument("--small", action="store_true", help="the small live version")
    a = ap.parse_args(argv)
    rec = run(small if a.small else full, a.device, a.out, progress=True)
    for line in summary(rec):
        print(line)
    return 0


def map_runs(one, items, *, dev, desc: str, progress: bool = False) -> list:
    """``[one(*item) for item in items]`` with a progress bar when asked, CPU work single-threaded
    (:func:`numerics.devices.cpu_threads`) — the loop over a grid of training runs."""
    from numerics.devices import cpu_threads

    items = list(items)
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc=desc, unit="run")
    with cpu_threads(dev):
        return [one(*item) for item in items]


@functools.lru_cache(maxsize=None)
def ledger_evidence(module_name: str, record_name: str):
    """``(config, metrics, source, live_metrics)`` for the ledger checks of an experiment: the verdict's
    metrics from :func:`committed_or_live`, and the small version's metrics from a live CPU run (the
    same run when no record is committed). Cached per (module, record) so that several checks of one
    experiment share one live run."""
    import importlib

    module = importlib.import_module(module_name)
    rec, cfg, metrics, source = committed_or_live(module, record_name)
    live = rec if cfg is module.SMALL and "live" in source else module.run(module.SMALL, device="cpu")
    return cfg, metrics, source, live["metrics"]
