"""Regenerate the README's findings block from the claims ledger.

    python scripts/update_readme.py            # run the ledger, rewrite the block between the markers
    python scripts/update_readme.py --check    # exit 1 (and write nothing) when the block is stale

The block (``validation.report.readme_block``) holds the verdict counts and one row per claim that is
not plainly ``holds`` (corrected, holds-if, fails, measured, or a ``holds`` with findings), each with
its one-line finding — every number in it comes from the ledger's checks, none is typed by hand.
``tests/validation/test_readme.py`` fails when the committed block differs from a fresh one.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    from validation import ledger as L
    from validation.report import update_readme

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--readme", default=str(ROOT / "README.md"), help="The README to update (default: the repository's).")
    p.add_argument("--check", action="store_true", help="Write nothing; exit 1 when the block is stale.")
    p.add_argument("--jobs", type=int, default=None,
                   help="Worker processes for the ledger (default: one per CPU; 1: run in this process).")
    args = p.parse_args(argv)
    statuses = L.ledger(jobs=args.jobs)
    changed = update_readme(args.readme, statuses, check=args.check)
    if args.check:
        print(f"{args.readme}: findings block {'is stale' if changed else 'is current'}")
        return 1 if changed else 0
    print(f"{args.readme}: findings block {'rewritten' if changed else 'already current'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
