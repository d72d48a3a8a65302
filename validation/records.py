"""Measurement records: JSON files in ``validation/data`` with provenance, written atomically.

A record holds ``config``, ``raw`` (the measured summary, enough to recompute every metric),
``metrics`` and ``provenance`` (git commit, device, library versions, platform, seed, wall time).
Records are data, never code: JSON only. Output paths are guarded by :mod:`validation._io`.
"""
from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import subprocess
import time
from pathlib import Path

from validation._io import OutputPathError, check_output_file, is_our_record, write_json_atomic

DATA_DIR = Path(__file__).resolve().parent / "data"

__all__ = ["DATA_DIR", "OutputPathError", "provenance", "git_commit", "write_record", "check_record_path",
           "read_record"]


def git_commit() -> str:
    """``git rev-parse HEAD`` (+dirty); where the tree is a copy without ``.git`` (the lent GPU
    machine), the commit the launcher names in ``SGDSM_GIT_COMMIT`` (suffixed ``(copy)``); else
    ``"unknown"``."""
    env = os.environ.get("SGDSM_GIT_COMMIT", "").strip()
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, cwd=Path(__file__).parent).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except Exception:
        return f"{env} (copy)" if re.fullmatch(r"[0-9a-f]{7,40}(\+dirty)?", env) else "unknown"


def _gpu_driver() -> str | None:
    """The NVIDIA driver version (``nvidia-smi``), or None where there is none."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except Exception:
        return None
    return out.splitlines()[0].strip() if out else None


def _version(dist: str):
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(*, device: str, seed: int, wall_time_s: float) -> dict:
    """Where and with what a record was made: git commit, device, seed, wall time, date, and the
    versions of every numeric library (``versions``: python, numpy, scipy, sympy, mpmath, torch,
    scikit-learn, CUDA/cuDNN when torch has them), the platform, the CPU and, when ``device`` is a
    CUDA device, the GPU's name. ``torch``, ``cuda``, ``numpy`` and ``python`` stay at the top level
    too (older records have only those)."""
    import numpy
    import torch

    versions = {"python": platform.python_version(), "numpy": numpy.__version__}
    for dist in ("scipy", "sympy", "mpmath", "scikit-learn"):
        versions[dist] = _version(dist)
    versions["torch"] = torch.__version__
    versions["cuda"] = torch.version.cuda
    cudnn = gpu = driver = None
    on_gpu = re.match(r"cuda(?::(\d+))?", str(device))  # "cuda", "cuda:1", "cuda:0 (NVIDIA …)"
    if on_gpu and torch.cuda.is_available():
        with contextlib.suppress(Exception):
            cudnn = torch.backends.cudnn.version()
        with contextlib.suppress(Exception):
            gpu = torch.cuda.get_device_name(int(on_gpu.group(1) or 0))
        driver = _gpu_driver()
    versions["cudnn"] = cudnn
    versions["nvidia_driver"] = driver
    return {
        "git_commit": git_commit(),
        "device": device,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "versions": versions,
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "gpu": gpu,
        "host": platform.node(),
        "seed": seed,
        "wall_time_s": round(wall_time_s, 3),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_record(record: dict, path, *, force: bool = False, inputs=()) -> Path:
    """Write ``record`` as JSON atomically (temp file in the same folder, then rename).

    ``path`` is checked by :func:`validation._io.check_output_file` first: an input, a symlink, a
    folder or a non-regular file is refused; an existing file is replaced only when it is an
    earlier record of ours outside ``validation/data/``, or with ``force=True``. Raises
    :class:`OutputPathError` (a ``ValueError``) otherwise.
    """
    for key in ("config", "raw", "metrics", "provenance"):
        if key not in record:
            raise ValueError(f"a record needs a {key!r} block")
    path = Path(path)
    check_record_path(path, force=force, inputs=inputs)
    return write_json_atomic(record, path, indent=1)


def check_record_path(path, *, force: bool = False, inputs=()) -> Path:
    """:func:`validation._io.check_output_file` with the record rules (earlier records of ours are
    replaceable; committed ones only with ``force``)."""
    stem = Path(os.fspath(path)).stem if isinstance(path, (str, os.PathLike)) else ""
    return check_output_file(path, inputs=inputs, force=force, is_ours=is_our_record,
                             example=f"runs/{stem or 'record'}.json")


def read_record(path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
