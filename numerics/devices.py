"""Torch device selection: ``device="auto"`` means CUDA when present, else CPU (and say so)."""
from __future__ import annotations

import contextlib
import warnings

__all__ = ["resolve_device", "DeviceFallbackWarning", "device_description", "cpu_threads"]


class DeviceFallbackWarning(UserWarning):
    """A CUDA device was requested but none is available; the CPU is used instead."""


def resolve_device(device="auto"):
    """Return a ``torch.device``.

    ``"auto"`` → ``cuda`` if available else ``cpu``. An explicit ``"cuda"``/``"cuda:N"`` request on a
    machine without CUDA falls back to CPU with a :class:`DeviceFallbackWarning` (never a crash).
    """
    import torch

    if isinstance(device, torch.device):
        dev = device
    elif device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    elif isinstance(device, str):
        dev = torch.device(device)
    else:
        raise TypeError(f"device must be 'auto', a string like 'cpu'/'cuda:0', or torch.device; got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        warnings.warn(f"device {device!r} requested but CUDA is not available: falling back to CPU",
                      DeviceFallbackWarning, stacklevel=2)
        return torch.device("cpu")
    return dev


def device_description(dev) -> str:
    """Human-readable device name for provenance (GPU model on CUDA)."""
    import torch

    dev = resolve_device(dev)
    if dev.type == "cuda":
        return f"cuda:{dev.index or 0} ({torch.cuda.get_device_name(dev)})"
    import platform

    return f"cpu ({platform.processor() or platform.machine()})"


@contextlib.contextmanager
def cpu_threads(dev, n: int = 1):
    """Run tiny-model CPU work with ``n`` intra-op threads (restored afterwards); a no-op on GPU.

    Small MLPs gain nothing from intra-op threads, and under ``pytest -n 2`` on two cores the default
    thread pools of both workers oversubscribe the machine; one thread per process avoids that.
    """
    import torch

    if resolve_device(dev).type != "cpu":
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
