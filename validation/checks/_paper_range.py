"""Helper for the experiment checks whose claim the paper measured on a known range (T = λ/B, …):
the verdict is computed from the committed record's runs inside the paper's range
(:class:`validation.ledger.PaperRange`), what happens beyond it becomes a finding
(``validation/checks/README.md``). Not a checks module (leading underscore: not auto-loaded)."""
from __future__ import annotations

import functools
import importlib


@functools.lru_cache(maxsize=None)
def _committed_record(record_name: str):
    from validation.records import DATA_DIR, read_record

    path = DATA_DIR / record_name
    return read_record(path) if path.exists() else None


def metrics_inside_paper_range(module_name: str, record_name: str, paper_range, value_of):
    """``(metrics, report)`` for the committed record ``validation/data/<record_name>`` of the
    experiment ``module_name``: ``module.compare`` re-run on the raw runs whose ``value_of(run)`` lies
    inside ``paper_range`` (``None`` when no run does, or too few for ``compare``), and
    :meth:`PaperRange.report` over all runs. ``None`` when no record is committed (the checks then
    decide on the live small run, as before)."""
    rec = _committed_record(record_name)
    if rec is None:
        return None
    module = importlib.import_module(module_name)
    runs = rec["raw"]["runs"]
    values = [value_of(r) for r in runs]
    inside, _beyond = paper_range.split(values)
    report = paper_range.report(values)
    if not inside:
        return None, report
    cfg = module.config_from_dict(rec["config"])
    raw = dict(rec["raw"], runs=[runs[i] for i in inside])
    try:
        metrics = module.compare(cfg, module.predict(cfg), raw)
    except ValueError:  # compare refuses too few runs
        metrics = None
    return metrics, report
