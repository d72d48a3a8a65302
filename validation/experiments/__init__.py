"""Predict-vs-measure experiments: each module has ``predict``, ``measure(config, device)``,
``compare`` and ``run(config, device, out=None)`` writing a record to ``validation/data``."""
from __future__ import annotations

import dataclasses
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
