"""Shared checks of an experiment's small preset, for the per-experiment test files."""
from __future__ import annotations

import json

from tests._compare import assert_tree_close

__all__ = ["small_record_checked"]


def small_record_checked(name: str) -> dict:
    """The small preset of experiment ``name`` run live on the CPU (cached per process, the same run
    the evidence layer would use), after asserting that its config is the experiment's ``SMALL`` and
    that its metrics re-derive from its raw runs and prediction by the pure ``compare``."""
    from validation.evidence.experiments import live_small_record
    from validation.experiments import get_experiment

    exp = get_experiment(name)
    rec = live_small_record(name)
    cfg = exp.config_from_dict(rec["config"])
    assert cfg == exp.SMALL
    assert_tree_close(json.loads(json.dumps(exp.compare(cfg, rec["prediction"], rec["raw"]))), rec["metrics"])
    return rec
