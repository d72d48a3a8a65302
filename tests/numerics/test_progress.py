"""Progress bars work without tqdm (the lent GPU machine has none)."""
from __future__ import annotations

import io
import sys

from numerics import _progress


def test_text_fallback_when_tqdm_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    out = io.StringIO()
    bar = _progress.progress_bar(range(4), desc="runs", unit="run", file=out, min_interval=0.0)
    assert isinstance(bar, _progress._TextProgress)
    bar.set_postfix(loss=0.5)
    assert list(bar) == [0, 1, 2, 3]
    text = out.getvalue()
    assert "runs: 4/4 run" in text and "loss=0.5" in text
    with _progress.progress_bar(total=10, desc="steps", file=out, min_interval=1e9) as b:
        b.update(3)
    assert "steps: 3/10" in out.getvalue()   # the final line is always printed


def test_tqdm_is_used_when_installed():
    import pytest

    tqdm = pytest.importorskip("tqdm.auto")
    bar = _progress.progress_bar(range(2), disable=True)
    assert isinstance(bar, tqdm.tqdm)
