"""Predict-vs-measure experiments: each module has ``predict``, ``measure(config, device)``,
``compare`` and ``run(config, device, out=None)`` writing a record to ``validation/data``."""
