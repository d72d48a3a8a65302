"""Outputs never destroy inputs: one guard for every path this package writes, and one atomic writer.

Every command that writes a file (experiment records, ``python -m validation synthetic``) or a
folder (``python -m validation report``) checks its output path with :func:`check_output_file` or
:func:`check_output_dir` *before* any work starts, and writes with :func:`write_text_atomic` /
:func:`write_json_atomic`.

Rules for a file output (``--out``):

- refused, whatever ``force`` says: the same file as an input (``--config``, or any other input the
  command names; compared by resolved path and :func:`os.path.samefile`, so hard links count), a
  symbolic link, an existing folder, a device, FIFO or socket (anything that is not a regular
  file), a path ending in a path separator, a path whose parent is not a folder;
- an existing regular file is replaced only with ``force=True`` (``--force``) — or when it is one
  of ours (``is_ours(path)`` is true: e.g. a JSON record carrying this package's provenance block)
  and is not a committed record under ``validation/data/``, which a run replaces only on purpose;
- replacement is atomic: a temp file in the same folder, then :func:`os.replace`; the temp file is
  removed on any failure (``KeyboardInterrupt`` included), and the file's mode follows the umask
  (``0o666 & ~umask``, as ``open()`` would give).

A folder output (the report) is refused when it is a symlink or a non-folder, and, without
``force``, when it exists, is not empty and is not a previous report (see :func:`is_our_report_dir`).
"""
from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["OutputPathError", "check_output_file", "check_output_dir", "write_text_atomic",
           "write_json_atomic", "is_our_record", "is_our_report_dir", "committed_dir", "REPORT_MARKER"]

#: The file that marks a folder as a report written by :func:`validation.report.build_report`.
REPORT_MARKER = ".sgdsm-report"
#: What a report folder holds (a folder holding only these, with ``report.md``, is a report of ours
#: even without the marker, e.g. one written before the marker existed).
REPORT_ENTRIES = frozenset({REPORT_MARKER, "index.html", "report.md", "ledger.json", "figures", "notebooks"})
#: Largest existing file read to decide whether it is one of ours (bigger: not ours).
_MAX_SNIFF_BYTES = 64 * 2**20


class OutputPathError(ValueError):
    """An output path would destroy something (an input, a link target, a committed record, a user
    file or folder) or cannot be written; the message says what to pass instead."""


def committed_dir() -> Path:
    """``validation/data``: committed records, replaced only with ``force``."""
    from validation.records import DATA_DIR

    return DATA_DIR


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def _same_file(a: Path, b: Path) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (or cannot be stat-ed): not the same file
        return False


def _as_path(path, flag: str) -> tuple[Path, str]:
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise OutputPathError(f"{flag} must be a path (str or os.PathLike); got {type(path).__name__}")
    text = os.fspath(path)
    if not text or not text.strip():
        raise OutputPathError(f"{flag} is empty; pass a file path such as runs/result.json")
    if "\x00" in text:
        raise OutputPathError(f"{flag} contains a NUL character; pass an ordinary file path")
    return Path(os.path.abspath(text)), text


def _check_parent(ap: Path, text: str, flag: str) -> None:
    parent = ap.parent
    while not os.path.lexists(parent) and parent != parent.parent:
        parent = parent.parent
    if not os.path.isdir(parent):
        raise OutputPathError(f"{flag} {text}: {parent} is not a folder, so nothing can be written "
                              f"below it; pass a path inside an existing or new folder")


def check_output_file(path, *, inputs=(), force: bool = False, is_ours=None,
                      flag: str = "--out", example: str = "runs/result.json") -> Path:
    """Check that ``path`` may be written as a file output; returns its absolute path.

    ``inputs``: paths the command reads (``None`` entries are skipped); ``is_ours(path) -> bool``
    says whether an existing file is an earlier output of this package (replaceable without
    ``force`` unless it lies under ``validation/data/``). Raises :class:`OutputPathError` (a
    ``ValueError``) naming what to pass instead; touches nothing.
    """
    ap, text = _as_path(path, flag)
    if text.endswith(("/", os.sep)) or (os.altsep and text.endswith(os.altsep)):
        raise OutputPathError(f"{flag} {text} names a folder; pass a file path such as "
                              f"{text.rstrip('/' + os.sep)}/result.json")
    if os.path.islink(ap):
        raise OutputPathError(f"{flag} {text} is a symbolic link (to {os.readlink(ap)}); outputs are "
                              f"never written through links: pass the target path itself, or a new file")
    for inp in inputs:
        if inp is None:
            continue
        if _same_file(ap, Path(os.path.abspath(os.fspath(inp)))):
            raise OutputPathError(f"{flag} {text} is the input file {os.fspath(inp)}: writing there would "
                                  f"destroy the input; pass a different path for the result, e.g. {example}")
    _check_parent(ap, text, flag)
    try:
        st = os.stat(ap)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputPathError(f"{flag} {text} cannot be inspected ({exc.strerror}); pass a writable "
                              f"path such as {example}") from exc
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise OutputPathError(f"{flag} {text} is an existing folder; pass a file path inside it, "
                                  f"e.g. {os.path.join(text, Path(example).name)}")
        if not stat.S_ISREG(st.st_mode):
            raise OutputPathError(f"{flag} {text} is not a regular file (a device, FIFO or socket); "
                                  f"pass the path of a regular file such as {example}")
        if not force:
            real = Path(os.path.realpath(ap))
            if _inside(real, Path(os.path.realpath(committed_dir()))):
                raise OutputPathError(
                    f"{flag} {text} is a committed record (validation/data/); a run replaces it only on "
                    f"purpose: pass --force (force=True) to replace it, or write to a scratch path such "
                    f"as runs/{ap.name}")
            if not (is_ours is not None and is_ours(ap)):
                raise OutputPathError(f"{flag} {text} exists and is not an output of this tool; pass "
                                      f"--force (force=True) to replace it, or a new path such as {example}")
    return ap


def _load_small_json(path: Path):
    try:
        if os.path.getsize(path) > _MAX_SNIFF_BYTES:
            return None
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def is_our_record(path) -> bool:
    """True when ``path`` is a JSON record written by :func:`validation.records.write_record`: an object
    with ``config``, ``raw``, ``metrics`` and a ``provenance`` block holding ``git_commit``,
    ``date_utc`` and ``wall_time_s``."""
    rec = _load_small_json(Path(path))
    if not isinstance(rec, dict) or not all(k in rec for k in ("config", "raw", "metrics")):
        return False
    prov = rec.get("provenance")
    return isinstance(prov, dict) and all(k in prov for k in ("git_commit", "date_utc", "wall_time_s"))


def is_our_report_dir(path) -> bool:
    """True when the folder ``path`` holds a report of ours: it has the :data:`REPORT_MARKER` file,
    or it has ``report.md`` and nothing but the entries a report writes (:data:`REPORT_ENTRIES`)."""
    p = Path(path)
    if (p / REPORT_MARKER).is_file() and not (p / REPORT_MARKER).is_symlink():
        return True
    try:
        names = set(os.listdir(p))
    except OSError:
        return False
    return "report.md" in names and names <= REPORT_ENTRIES


def check_output_dir(path, *, force: bool = False, flag: str = "--out",
                     example: str = "reports/latest") -> Path:
    """Check that the folder ``path`` may be (re)written by the report; returns its absolute path.

    Refused: a symlink, an existing non-folder; without ``force``, an existing non-empty folder that
    is not a previous report (:func:`is_our_report_dir`). Touches nothing."""
    ap, text = _as_path(path, flag)
    if os.path.islink(ap):
        raise OutputPathError(f"{flag} {text} is a symbolic link (to {os.readlink(ap)}); pass the "
                              f"folder itself, or a new one such as {example}")
    if os.path.lexists(ap):
        if not os.path.isdir(ap):
            raise OutputPathError(f"{flag} {text} exists and is not a folder; pass a new or report "
                                  f"folder such as {example}")
        if not force and os.listdir(ap) and not is_our_report_dir(ap):
            raise OutputPathError(f"{flag} {text} is a non-empty folder that is not a report of this "
                                  f"tool; its files would be overwritten: pass a new folder such as "
                                  f"{example}, or --force (force=True) to write into it anyway")
    else:
        _check_parent(ap, text, flag)
    return ap


def write_text_atomic(path, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically: a temp file in the same folder (mode ``0o666 & ~umask``,
    flushed and fsync-ed), then :func:`os.replace`. The temp file never outlives a failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode(encoding)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        try:
            os.fchmod(fd, 0o666 & ~_umask())
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename durable (best effort)
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return path


def write_json_atomic(obj, path, *, indent=1, allow_nan: bool = True, sort_keys: bool = False) -> Path:
    """Serialise ``obj`` first (a serialisation error writes nothing), then :func:`write_text_atomic`."""
    text = json.dumps(obj, indent=indent, allow_nan=allow_nan, sort_keys=sort_keys) + "\n"
    return write_text_atomic(path, text)


def is_benchmark_result(path) -> bool:
    """True when ``path`` holds a result of one of our benchmark scripts (a JSON object with
    ``benchmark`` and ``provenance``): such a file is replaced without ``--force``."""
    try:
        with open(path, encoding="utf-8") as fh:
            res = json.load(fh)
    except (OSError, ValueError):
        return False
    return isinstance(res, dict) and "benchmark" in res and "provenance" in res
