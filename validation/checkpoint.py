"""Checkpoint and resume for long experiments: finished runs in a JSON-lines sidecar of the record.

An experiment writing its record to ``OUT`` keeps every finished unit of work (one training run of a
grid, one sweep point, one batch size's noise statistics) in ``OUT.partial.jsonl``: a header line
``{"sgdsm_checkpoint": 1, "config_hash": …, "config_type": …}`` and then one line
``{"key": …, "value": …}`` per finished run, appended and fsync-ed as soon as the run ends. An
interrupted sweep therefore loses at most the run in progress; ``resume=True`` (``--resume``)
reuses the finished runs, and the sidecar is deleted once the record is written.

Each unit must be deterministic given its key (every run is seeded by its own item; units that
share a generator store its state with the result), so a resumed record equals an uninterrupted
one. The config hash (:func:`config_hash`) makes a resume with a different config an error
(:class:`CheckpointError`), never a silent mix of two experiments.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import stat
import time
from pathlib import Path

__all__ = ["CheckpointError", "Checkpoint", "checkpoint_path", "config_hash", "check_checkpoint",
           "open_checkpoint", "cached", "SUFFIX"]

SUFFIX = ".partial.jsonl"
_FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint cannot be used (another config, not a checkpoint, one left by an interrupted run
    while neither ``--resume`` nor ``--force`` was given); the message says what to pass."""


def checkpoint_path(out) -> Path:
    """The sidecar of the record ``out``: ``out`` + ``.partial.jsonl``."""
    return Path(os.fspath(out) + SUFFIX)


def config_hash(config) -> str:
    """SHA-256 of the config's type name and its fields (canonical JSON)."""
    body = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config
    text = json.dumps({"type": type(config).__qualname__, "config": body}, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _key(key) -> str:
    return json.dumps(key, sort_keys=True, default=repr)


def _read(path: Path, config) -> tuple[dict, dict]:
    """``(header, entries)`` of an existing sidecar, validated against ``config``."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().split("\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"the checkpoint {path} cannot be read ({exc}); delete it, or pass --force "
                              f"without --resume to start over") from exc
    try:
        header = json.loads(lines[0])
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("sgdsm_checkpoint") != _FORMAT:
        raise CheckpointError(f"{path} is not a checkpoint of this tool; move it away, or pass --force "
                              f"without --resume to replace it")
    want = config_hash(config)
    if header.get("config_hash") != want:
        raise CheckpointError(
            f"the checkpoint {path} was written for another config ({header.get('config_type')}, hash "
            f"{str(header.get('config_hash'))[:12]}…; this run: {type(config).__qualname__}, hash "
            f"{want[:12]}…): resume with the preset of the interrupted run, or pass --force without "
            f"--resume to discard it and start over")
    entries = {}
    for line in lines[1:]:
        if not line.strip():
            continue
        try:  # a line cut short by a kill mid-write is dropped: that run is simply redone
            entry = json.loads(line)
            entries[_key(entry["key"])] = entry["value"]
        except (ValueError, KeyError, TypeError):
            continue
    return header, entries


def _check_sidecar_path(path: Path) -> None:
    if os.path.islink(path):
        raise CheckpointError(f"the checkpoint path {path} is a symbolic link; outputs are never written "
                              f"through links: remove the link or pass another --out")
    if os.path.lexists(path) and not stat.S_ISREG(os.stat(path).st_mode):
        raise CheckpointError(f"the checkpoint path {path} exists and is not a regular file; remove it "
                              f"or pass another --out")


def check_checkpoint(out, config, *, resume: bool = False, force: bool = False) -> int:
    """Check the sidecar of ``out`` before any work; returns how many finished runs a resume reuses.

    No sidecar: 0. A sidecar and ``resume``: it must be ours and written for ``config``. A sidecar
    without ``resume``: refused unless ``force`` (which discards it when the run starts). Touches
    nothing."""
    path = checkpoint_path(out)
    _check_sidecar_path(path)
    if not os.path.lexists(path):
        return 0
    if resume:
        return len(_read(path, config)[1])
    if not force:
        raise CheckpointError(f"{path} holds the finished runs of an interrupted run: pass --resume to "
                              f"continue it, or --force to discard it and start over")
    return 0


class Checkpoint:
    """The finished runs of one experiment run (see the module docstring). ``key in cp``,
    ``cp[key]``, ``cp.save(key, value)``; keys are JSON values (lists, strings, numbers)."""

    def __init__(self, path, config, entries: dict | None = None):
        self.path = Path(path)
        self.config_hash = config_hash(config)
        self.config_type = type(config).__qualname__
        self._entries = dict(entries or {})
        self.reused = 0  # how many lookups were answered from the checkpoint

    def __contains__(self, key) -> bool:
        return _key(key) in self._entries

    def __getitem__(self, key):
        value = self._entries[_key(key)]
        self.reused += 1
        return value

    def __len__(self) -> int:
        return len(self._entries)

    def save(self, key, value):
        """Append one finished run (flushed and fsync-ed) and return ``value`` as read back from JSON
        (so a fresh and a resumed run hold the same types)."""
        line = json.dumps({"key": key, "value": value})
        new = not os.path.exists(self.path)
        _check_sidecar_path(self.path)
        if new:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            if new:
                fh.write(json.dumps({"sgdsm_checkpoint": _FORMAT, "config_hash": self.config_hash,
                                     "config_type": self.config_type,
                                     "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}) + "\n")
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        stored = json.loads(line)["value"]
        self._entries[_key(key)] = stored
        return stored

    def remove(self) -> None:
        """Delete the sidecar (after the record is written)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def open_checkpoint(out, config, *, resume: bool = False, force: bool = False) -> Checkpoint:
    """The checkpoint of the record ``out`` (checked by :func:`check_checkpoint`): with ``resume``
    the finished runs of the sidecar, else an empty one (an old sidecar, allowed by ``force``, is
    deleted). A resumed sidecar is rewritten without a line cut short by a kill."""
    from validation._io import write_text_atomic

    check_checkpoint(out, config, resume=resume, force=force)
    path = checkpoint_path(out)
    if resume and os.path.exists(path):
        header, entries = _read(path, config)
        lines = [json.dumps(header)] + [json.dumps({"key": json.loads(k), "value": v}) for k, v in entries.items()]
        write_text_atomic(path, "\n".join(lines) + "\n")
        return Checkpoint(path, config, entries)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return Checkpoint(path, config)


def cached(checkpoint: Checkpoint | None, key, compute):
    """``checkpoint[key]`` when that run is finished, else ``compute()`` (saved to the checkpoint)."""
    if checkpoint is None:
        return compute()
    if key in checkpoint:
        return checkpoint[key]
    return checkpoint.save(key, compute())
