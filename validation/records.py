"""Measurement records: JSON files in ``validation/data`` with provenance, written atomically.

A record holds ``config``, ``raw`` (the measured summary, enough to recompute every metric),
``metrics`` and ``provenance`` (git commit, device, torch/CUDA versions, seed, wall time). Records
are data, never code: JSON only.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"

__all__ = ["DATA_DIR", "provenance", "write_record", "read_record"]


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, cwd=Path(__file__).parent).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except Exception:
        return "unknown"


def provenance(*, device: str, seed: int, wall_time_s: float) -> dict:
    import numpy
    import torch

    return {
        "git_commit": _git_commit(),
        "device": device,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "host": platform.node(),
        "seed": seed,
        "wall_time_s": round(wall_time_s, 3),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_record(record: dict, path) -> Path:
    """Write ``record`` as JSON atomically (temp file in the same folder, then rename)."""
    for key in ("config", "raw", "metrics", "provenance"):
        if key not in record:
            raise ValueError(f"a record needs a {key!r} block")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(record, fh, indent=1, sort_keys=False)
        fh.write("\n")
    os.replace(tmp, path)
    return path


def read_record(path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
