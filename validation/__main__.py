"""Command line: ``python -m validation {claims,report,synthetic} ...``."""
from __future__ import annotations

import argparse
import sys


def _claims(args) -> int:
    from . import ledger as L

    statuses = L.ledger(args.ids or None, progress=args.progress, jobs=args.jobs)
    if args.json:
        print(L.ledger_json(statuses))
    else:
        print(L.format_table(statuses, width=args.width))
    broken = [r.check.key for s in statuses for r in s.results if r.error]
    if broken:
        print(f"\n{len(broken)} check(s) raised: {', '.join(broken)}", file=sys.stderr)
        return 1
    return 0


def _jobs(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--jobs takes a whole number >= 1; got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"--jobs takes a whole number >= 1 (1: no worker processes); got {n}")
    return n


def _report(args) -> int:
    from .report import build_report

    path = build_report(args.out, execute_notebooks=not args.no_notebooks, force=args.force)
    print(f"report written to {path}")
    return 0


def _synthetic(args) -> int:
    from .synthetic_cli import run_config_file

    run_config_file(args.config, args.out, force=args.force)
    print(f"wrote {args.out}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m validation", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    c = sub.add_parser("claims", help="run every check and print the claims ledger")
    c.add_argument("ids", nargs="*", help="only these claim ids (default: all)")
    c.add_argument("--json", action="store_true", help="machine-readable output")
    c.add_argument("--width", type=int, default=100, help="detail column width in the table")
    c.add_argument("--progress", action="store_true", help="show a progress bar")
    c.add_argument("--jobs", type=_jobs, default=None, metavar="N",
                   help="Worker processes for the checks (default: one per CPU); the checks of one module "
                        "run in one process, sharing its caches. --jobs 1 runs them in this process. The "
                        "output is the same for any N.")
    c.set_defaults(func=_claims)

    r = sub.add_parser("report", help="write the report (ledger, notebooks, figures)")
    r.add_argument("--out", default="reports/latest",
                   help="The report folder (default: reports/latest). It must be new, empty or an earlier "
                        "report of this tool, unless --force is given.")
    r.add_argument("--no-notebooks", action="store_true", help="skip executing notebooks")
    r.add_argument("--force", action="store_true",
                   help="Write into an existing --out folder even when it is not an earlier report; files "
                        "there with the report's names (index.html, report.md, ledger.json, figures/, "
                        "notebooks/) are replaced.")
    r.set_defaults(func=_report)

    s = sub.add_parser("synthetic", help="run a synthetic well-mixture config (JSON)")
    s.add_argument("--config", required=True, help="The synthetic config (a JSON file); it is only read.")
    s.add_argument("--out", required=True,
                   help="Where to write the result JSON; never the --config file, a link, a folder or a "
                        "device. An existing file is replaced only when it is an earlier result of this "
                        "command, or with --force.")
    s.add_argument("--force", action="store_true",
                   help="Replace an existing --out file even when it is not an earlier result of this "
                        "command.")
    s.set_defaults(func=_synthetic)

    args = p.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError) as exc:  # user errors (typed, explaining): one line, exit 2
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _one_line(exc: BaseException) -> str:
    """The error message on one line (an OSError as 'reason: path')."""
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


if __name__ == "__main__":
    raise SystemExit(main())
