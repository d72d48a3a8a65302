"""Validation: the claims ledger, predict-vs-measure experiments, records, report, CLI.

``python -m validation claims`` prints the ledger; ``python -m validation report`` writes
``reports/latest``.
"""
