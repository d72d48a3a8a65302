"""Regenerate ``tests/validation/expected_verdicts.json``, the pinned verdict of every ledger check
and every claim, which ``tests/validation/test_ledger.py`` compares against.

A verdict change is a decision, not noise: run this deliberately, read the printed diff, and commit
the file with a message that gives the reason for every change.

    python scripts/update_expected_verdicts.py                  # run the ledger (~1-2 min), write
    python -m validation claims --json > /tmp/ledger.json
    python scripts/update_expected_verdicts.py --from /tmp/ledger.json   # from a ledger JSON
    python scripts/update_expected_verdicts.py --check          # only compare; exit 1 on a difference
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = ROOT / "tests" / "validation" / "expected_verdicts.json"
ABOUT = ("Pinned ledger verdicts: 'checks' maps every check key (module.name) to its verdict, 'claims' every "
         "THEORY.md id to its combined verdict. tests/validation/test_ledger.py fails on any change. To change "
         "a verdict deliberately: python scripts/update_expected_verdicts.py, then commit this file with the "
         "reason for each change (validation/checks/README.md).")


def pinned_from_ledger_json(entries: list[dict]) -> dict:
    """``{"checks": {key: verdict}, "claims": {id: verdict}}`` from ``python -m validation claims --json``."""
    checks, claims = {}, {}
    for e in entries:
        claims[e["id"]] = e["verdict"]
        for c in e.get("checks", []):
            if "error" in c:
                raise SystemExit(f"check {c['check']} raised ({c['error']}): fix it before pinning verdicts")
            checks[c["check"]] = c["verdict"]
    return {"about": ABOUT, "checks": dict(sorted(checks.items())), "claims": claims}


def run_ledger() -> list[dict]:
    sys.path.insert(0, str(ROOT))
    from validation import ledger as L

    return [s.to_dict() for s in L.ledger(progress=True)]


def diff(old: dict, new: dict) -> list[str]:
    lines = []
    for part in ("checks", "claims"):
        a, b = old.get(part, {}), new.get(part, {})
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                lines.append(f"{part[:-1]} {k}: {a.get(k, '(absent)')} → {b.get(k, '(absent)')}")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from", dest="source", help="a ledger JSON (python -m validation claims --json) "
                                                  "instead of running the ledger")
    ap.add_argument("--check", action="store_true", help="only compare with the pinned file; exit 1 on a difference")
    a = ap.parse_args(argv)
    entries = json.loads(Path(a.source).read_text(encoding="utf-8")) if a.source else run_ledger()
    new = pinned_from_ledger_json(entries)
    old = json.loads(EXPECTED.read_text(encoding="utf-8")) if EXPECTED.exists() else {}
    changes = diff(old, new)
    for line in changes:
        print(line)
    if a.check:
        print("pinned verdicts match" if not changes else f"{len(changes)} difference(s)")
        return 1 if changes else 0
    EXPECTED.write_text(json.dumps(new, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {EXPECTED.relative_to(ROOT)} ({len(new['checks'])} checks, {len(new['claims'])} claims; "
          f"{len(changes)} change(s)) — commit it with the reason for each change")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
