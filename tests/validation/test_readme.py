"""The README's findings block is generated from the ledger (``scripts/update_readme.py``). The
staleness test itself lives at the end of tests/validation/test_ledger.py, so that it runs in the
worker that has just run every check (``--dist loadfile``) and reuses their cached results."""
from __future__ import annotations

from pathlib import Path

import pytest

from validation import ledger as L
from validation import report as R

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def _block(text: str) -> str:
    i, j = text.find(R.README_BEGIN), text.find(R.README_END)
    assert i >= 0 and j > i, "README lost its generated findings block markers"
    return text[i:j + len(R.README_END)]


def _status(cid, verdict, detail, **kw):
    chk = L.Check((cid,), "demo", lambda: None, "tests")
    v = L.Verdict(verdict, detail, **kw)
    return L.ClaimStatus(cid, "s", verdict, v.detail, (L.CheckResult(chk, v, 0.0),))


def test_block_lists_what_is_not_plainly_holds_with_generated_numbers(tmp_path):
    statuses = [
        _status("SC.eq5", "holds", "exact."),
        _status("TF.eq4", "corrected", "threshold off by 4.", printed="n > a/(2b)", corrected_form="n > 2a/b",
                counterexample={"n": 1.0}),
        _status("DT.sec4", "measured", "slopes 0.2 of the predicted ones. Rest.", metrics={"ratio": 0.2}),
    ]
    block = R.readme_block(statuses)
    assert "Ledger now (3 claims" in block and "corrected 1" in block and "holds 1" in block
    assert "| TF.eq4 | **corrected** | printed `n > a/(2b)`, corrected `n > 2a/b` |" in block
    assert "slopes 0.2 of the predicted ones." in block and "Rest" not in block
    assert "SC.eq5 |" not in block  # plainly holds: counted, not listed
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{R.README_BEGIN}\nstale text\n{R.README_END}\ntail\n", encoding="utf-8")
    assert R.update_readme(readme, statuses, check=True) and "stale text" in readme.read_text(encoding="utf-8")
    assert R.update_readme(readme, statuses)
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("intro\n") and text.endswith("tail\n") and "stale text" not in text
    assert not R.update_readme(readme, statuses)  # regenerating is idempotent
    readme.write_text("no markers\n", encoding="utf-8")
    with pytest.raises(ValueError, match="findings block"):
        R.update_readme(readme, statuses)
