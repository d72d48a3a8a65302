"""Validation: the claims ledger, predict-vs-measure experiments, records, report, CLI.

``python -m validation claims`` prints the ledger; ``python -m validation report`` writes
``reports/latest``.
"""

__all__ = ["bench"]


def __getattr__(name):
    """``validation.bench`` (:func:`validation._bench.bench`), imported on first use: the ledger and the
    CLI do not pay for torch and matplotlib when they do not need them."""
    if name == "bench":
        from ._bench import bench

        return bench
    raise AttributeError(f"module 'validation' has no attribute {name!r}")
