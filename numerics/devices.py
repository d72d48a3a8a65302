"""Torch device selection: ``device="auto"`` means CUDA when present, else CPU (and say so).

Valid device names: ``"auto"``, ``"cpu"``, ``"cuda"`` and ``"cuda:N"`` (N the GPU index), or a
``torch.device``.  Anything else (``"tpu"``, ``"gpu"``, ``"cuda:x"``) is a :class:`DeviceError`
listing them.  ``"cuda"``/``"cuda:N"`` on a machine without CUDA falls back to the CPU with a
:class:`DeviceFallbackWarning`; :func:`device_fields` gives what a record should store — the
device actually used, and a note when it is not the one asked for.
"""
from __future__ import annotations

import contextlib
import re
import warnings

__all__ = ["resolve_device", "DeviceError", "DeviceTypeError", "DeviceFallbackWarning", "device_description", "device_fields",
           "check_device_name", "VALID_DEVICES", "cpu_threads"]

#: the device names the command lines and ``device=`` arguments accept
VALID_DEVICES = ("auto", "cpu", "cuda", "cuda:N")
_CUDA_N = re.compile(r"^cuda:(\d+)$")


class DeviceError(ValueError):
    """A device name that is not one of :data:`VALID_DEVICES` (or a GPU index that does not exist)."""


class DeviceTypeError(DeviceError, TypeError):
    """``device`` is neither a string nor a ``torch.device``."""


class DeviceFallbackWarning(UserWarning):
    """A CUDA device was requested but none is available; the CPU is used instead."""


def _valid_choices() -> str:
    return "auto, cpu, cuda, cuda:N (N = the GPU index, e.g. cuda:0)"


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
        name = device.strip()
        if name not in ("cpu", "cuda") and not _CUDA_N.match(name):
            raise DeviceError(f"unknown device {device!r}; valid choices: {_valid_choices()}")
        dev = torch.device(name)
    else:
        raise DeviceTypeError(f"device must be a string ({_valid_choices()}) or a torch.device; got "
                              f"{device!r} ({type(device).__name__})")
    if dev.type == "cuda" and not torch.cuda.is_available():
        warnings.warn(f"device {device!r} requested but CUDA is not available: falling back to CPU",
                      DeviceFallbackWarning, stacklevel=2)
        return torch.device("cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise DeviceError(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                          f"cuda:0 … cuda:{torch.cuda.device_count() - 1}; valid choices: {_valid_choices()}")
    return dev


def check_device_name(device) -> None:
    """Raise :class:`DeviceError` unless ``device`` is a valid name (:data:`VALID_DEVICES`) or a
    ``torch.device``; no CUDA lookup, no fallback warning (for command lines, before any work)."""
    if device is None or (isinstance(device, str) and (device.strip() in ("auto", "cpu", "cuda")
                                                       or _CUDA_N.match(device.strip()))):
        return
    resolve_device(device)  # raises DeviceError / DeviceTypeError (a torch.device passes)


def device_fields(requested, dev=None, *, backend: str = "torch") -> dict:
    """What a record stores about its device: ``{"device": <the device actually used>}`` plus
    ``"device_note"`` when that is not the one requested (CUDA asked for but absent, or a device
    ignored by the NumPy backend).  ``dev`` is the resolved device (resolved here if None)."""
    if backend == "numpy":
        out = {"device": "cpu (numpy)"}
        if requested not in (None, "auto", "cpu"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeviceFallbackWarning)
                resolve_device(requested)  # still refuse an unknown name
            out["device_note"] = f"device {str(requested)!r} requested, but the numpy backend runs on the CPU"
        return out
    if dev is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeviceFallbackWarning)
            dev = resolve_device(requested)
    out = {"device": device_description(dev)}
    asked = str(requested) if requested is not None else "auto"
    if asked.startswith("cuda") and dev.type != "cuda":
        out["device_note"] = f"device {asked!r} requested but CUDA is not available: ran on the CPU"
    return out


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
