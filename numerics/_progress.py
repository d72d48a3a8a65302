"""Progress bars: ``tqdm`` when it is installed, else a plain text fallback on stderr (the lent GPU
machine has no ``tqdm``; a run there must not fail for want of a progress bar)."""
from __future__ import annotations

import sys
import time


class _TextProgress:
    """The part of tqdm's interface this project uses (iteration, ``update``, ``set_postfix``,
    ``close``, context manager), printing one line at most every ``min_interval`` seconds."""

    def __init__(self, iterable=None, *, total=None, desc: str = "", unit: str = "it", leave: bool = True,
                 min_interval: float = 5.0, file=None, **_ignored):
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.total, self.desc, self.unit = total, desc, unit
        self.n, self.postfix = 0, ""
        self.min_interval, self.file = min_interval, file if file is not None else sys.stderr
        self._t0 = self._last = time.monotonic()

    def _print(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.min_interval:
            return
        self._last = now
        of = f"/{self.total}" if self.total is not None else ""
        extra = f" {self.postfix}" if self.postfix else ""
        print(f"{self.desc}: {self.n}{of} {self.unit} ({now - self._t0:.0f} s){extra}", file=self.file, flush=True)

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update(1)
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        self._print()

    def set_postfix(self, *args, **kwargs) -> None:
        self.postfix = ", ".join([str(a) for a in args] + [f"{k}={v}" for k, v in kwargs.items()])

    def close(self) -> None:
        if self.n:
            self._print(force=True)
            self.n = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def progress_bar(iterable=None, **kwargs):
    """``tqdm.auto.tqdm(iterable, **kwargs)`` when tqdm is installed, else :class:`_TextProgress`.

    >>> sum(progress_bar(range(3), desc="demo", file=open(__import__("os").devnull, "w")))
    3
    """
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _TextProgress(iterable, **kwargs)
    return tqdm(iterable, **kwargs)
