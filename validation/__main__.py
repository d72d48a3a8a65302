"""Command line: ``python -m validation {claims,report,synthetic,run,where,bench} ...``.

``python -m validation run NAME [--small|--full|--preset small|full|gpu] [--device auto|cpu|cuda]
[--out PATH] [--resume] [--force]`` runs one registered experiment (:mod:`validation.experiments`)
and writes its record; ``python -m validation run --all [--preset …] [--out DIR] [--budget-s S]
[--dry-run]`` runs every one as a campaign (:mod:`validation.campaign`), writing each record into
DIR as it finishes; ``python -m validation where ID`` lists what cites a claim id; ``python -m
validation bench --model MODULE:FACTORY --data NAME`` measures your own network (:mod:`validation._bench`)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _claims(args) -> int:
    from . import ledger as L

    progress = args.progress if args.progress is not None else sys.stdout.isatty()
    if args.live:  # the worker processes inherit it
        import os

        from validation.evidence.experiments import LIVE_ENV

        os.environ[LIVE_ENV] = "1"
    statuses = L.ledger(args.ids or None, progress=progress, jobs=args.jobs)
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


# ------------------------------------------------------------------------------------------------
# python -m validation run
# ------------------------------------------------------------------------------------------------
def _default_out(exp, preset: str, device: str) -> str:
    """``runs/<record name>`` (``runs/<stem>_<cpu|gpu>.json``, the kind of the device really used; the
    small preset gets ``_small`` before ``.json``, so that it never replaces a full run's record)."""
    from .campaign import record_file_name, record_kind

    return f"runs/{record_file_name(exp, preset, record_kind(device))}"


def _budget(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--budget-s takes a number of seconds; got {text!r}") from None
    if not (x > 0 and x != float("inf")):
        raise argparse.ArgumentTypeError(f"--budget-s takes a positive, finite number of seconds; got {text!r}")
    return x


def _run_one(exp, config, args, out) -> int:
    from .checkpoint import checkpoint_path
    from .experiments import sweep_executor, use_executor

    try:
        if args.scheduler is None and args.workers is None:
            rec = exp.run(config, args.device, out, progress=args.progress, force=args.force, resume=args.resume)
        else:  # every grid of independent runs goes to this executor (a Dask cluster, or a local pool)
            with sweep_executor(args.scheduler, workers=args.workers) as ex, use_executor(ex):
                rec = exp.run(config, args.device, out, progress=args.progress, force=args.force,
                              resume=args.resume)
    except KeyboardInterrupt:
        print(f"interrupted: the finished runs are kept in {checkpoint_path(out)}; run the same command with "
              f"--resume to continue", file=sys.stderr)
        return 130
    print(f"{exp.name}: wrote {out}")
    for line in exp.summary_lines(rec):
        print(f"  {line}")
    return 0


def _run(args) -> int:
    from numerics.devices import check_device_name

    from .checkpoint import check_checkpoint, checkpoint_path
    from .experiments import all_experiments, get_experiment
    from .records import check_record_path

    preset = "small" if args.small else "full" if args.full else (args.preset or "full")
    if args.progress is None:
        args.progress = sys.stderr.isatty()
    check_device_name(args.device)
    if args.all == bool(args.name):
        raise ValueError("name one experiment (python -m validation run NAME) or pass --all; see "
                         "python -m validation run --help for the names")
    if args.all:
        return _run_all(args, preset)
    exp = get_experiment(args.name)
    jobs = [(exp, exp.preset(preset), Path(args.out or _default_out(exp, preset, args.device)))]
    for exp, config, out in jobs:  # every output checked before any work
        check_record_path(out, force=args.force, inputs=exp.inputs)
        reusable = check_checkpoint(out, config, resume=args.resume, force=args.force)
        if reusable:
            print(f"{exp.name}: resuming {reusable} finished run(s) from {checkpoint_path(out)}")
    exp, config, out = jobs[0]
    if args.dry_run:
        print(f"{exp.name}: preset {preset}, about {exp.estimate_s(preset, args.device):.0f} s, would write {out}")
        return 0
    return _run_one(exp, config, args, out)


def _run_all(args, preset: str) -> int:
    """``run --all``: the campaign (:mod:`validation.campaign`) — plan printed first, experiments by
    claims per estimated minute within ``--budget-s``, each record written when it finishes, the ones
    already written with this preset skipped (a second call resumes), a summary at the end."""
    from ._io import check_output_dir
    from .campaign import format_plan, format_summary, plan_campaign, run_campaign
    from .checkpoint import check_checkpoint
    from .experiments import get_experiment
    from .records import check_record_path

    folder = Path(args.out or "runs")
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out {folder}: with --all, --out is a folder; pass a folder such as runs/")
    if folder.is_symlink():
        check_output_dir(folder)  # refuses a link with its message
    plan = plan_campaign(preset=preset, device=args.device, budget_s=args.budget_s, out_dir=folder,
                         force=args.force)
    blocked = [p for p in plan if p.status == "blocked"]
    if blocked:  # nothing runs while an output would be refused: fix the command first
        raise ValueError("; ".join(f"{p.name}: {p.reason}" for p in blocked))
    for p in plan:  # every output checked before any work
        if p.status == "run":
            exp = get_experiment(p.name)
            check_record_path(p.out, force=args.force, inputs=exp.inputs)
            check_checkpoint(p.out, exp.preset(preset), resume=True, force=args.force)
    print(format_plan(plan, args.budget_s), flush=True)
    if args.dry_run:
        return 0
    result = run_campaign(plan, device=args.device, budget_s=args.budget_s, progress=args.progress,
                          force=args.force, echo=lambda line: print(line, flush=True))
    print(format_summary(result))
    return 0 if result.ok else 1


def _run_description() -> str:
    from .experiments import PRESETS, all_experiments

    lines = [
        "Run a registered experiment (measure, predict, compare) and write its record, a JSON file with "
        "the config, the raw measurements, the prediction, the metrics and the provenance. Presets: small "
        "(seconds: what the ledger runs live), full (the committed CPU record) and gpu (sized for about 1-3 "
        "minutes on one H100/H200; it also runs on a CPU, only slower). The default output is "
        "runs/<stem>_<cpu|gpu>.json (runs/<stem>_<cpu|gpu>_small.json for the small preset); a committed "
        "record in validation/data/ is replaced only with --force. The run times below are rough estimates.",
        "",
    ]
    for exp in all_experiments():
        lines.append(f"{exp.name}: {exp.help_text()}")
        lines.append("")
    assert set(PRESETS) == {"small", "full", "gpu"}
    return "\n".join(lines)


def _add_run_parser(sub, *, describe: bool) -> None:
    description = "Run a registered experiment and write its record (python -m validation run --help lists them)."
    if describe:  # importing every experiment costs a second or two: only for `run`
        try:
            description = _run_description()
        except Exception as exc:  # noqa: BLE001 - a broken experiment module must not hide the other commands
            description = f"Run a registered experiment (the experiment list could not be loaded: {exc})."
    r = sub.add_parser("run", help="run an experiment (or all of them) and write its record",
                       description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("name", nargs="?", help="The experiment to run (one of the names above).")
    r.add_argument("--all", action="store_true",
                   help="Run every registered experiment as a campaign: the plan (experiment, estimated seconds) is "
                        "printed first; experiments run by claims measured per estimated minute, largest first, "
                        "within --budget-s; each record is written as soon as its experiment finishes; records "
                        "already in --out with this preset are kept, so a second call resumes where the first "
                        "stopped; a summary is printed at the end.")
    r.add_argument("--budget-s", type=_budget, default=None, metavar="SECONDS",
                   help="With --all: the time budget in seconds. An experiment whose estimate does not fit in what "
                        "is left is skipped and named. Default: no limit (make gpu passes 480).")
    r.add_argument("--dry-run", action="store_true",
                   help="Check the names, presets and output paths and print the plan, but run nothing (seconds).")
    size = r.add_mutually_exclusive_group()
    size.add_argument("--small", action="store_true", help="Run the small preset (same as --preset small).")
    size.add_argument("--full", action="store_true", help="Run the full preset (same as --preset full; the default).")
    size.add_argument("--preset", choices=("small", "full", "gpu"), default=None,
                      help="The preset to run: small, full (the default) or gpu.")
    r.add_argument("--device", default="auto",
                   help="The torch device: auto (CUDA if present, else the CPU; the default), cpu, cuda or cuda:N. "
                        "On a machine without CUDA, cuda runs on the CPU and the record says so.")
    r.add_argument("--out", default=None,
                   help="Where to write the record (default: runs/<stem>_<cpu|gpu>.json); with --all, the folder "
                        "for all records (default: runs). An existing file is replaced only when it is an earlier "
                        "record of this tool outside validation/data/, or with --force.")
    r.add_argument("--force", action="store_true",
                   help="Replace an existing --out file even when it is not an earlier record of this tool, "
                        "including a committed record in validation/data/. Without --resume it also discards the "
                        "checkpoint of an interrupted run.")
    r.add_argument("--resume", action="store_true",
                   help="Continue an interrupted run from its checkpoint OUT.partial.jsonl, reusing the runs it "
                        "finished instead of recomputing them. The checkpoint must come from the same preset, and "
                        "it is deleted once the record is written.")
    r.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="Run each grid of independent training runs on a Dask distributed cluster at this scheduler "
                        "address (e.g. tcp://host:8786; needs pip install \"dask[distributed]\"). Default: the runs "
                        "are trained together as one ensemble in this process.")
    r.add_argument("--workers", type=_jobs, default=None, metavar="N",
                   help="Run each grid's independent runs in a local pool of N threads instead of one ensemble.")
    r.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="Show progress bars (the default when stderr is a terminal).")
    r.add_argument("--no-progress", dest="progress", action="store_false", help="Show no progress bars.")
    r.set_defaults(func=_run)


def run_main(name: str, argv=None) -> int:
    """The old per-module entry point ``python -m validation.experiments.NAME ARGS``: the same as
    ``python -m validation run NAME ARGS``."""
    return main(["run", name, *(sys.argv[1:] if argv is None else argv)])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m validation", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    c = sub.add_parser("claims", help="run every check and print the claims ledger")
    c.add_argument("ids", nargs="*", help="only these claim ids (default: all)")
    c.add_argument("--json", action="store_true", help="machine-readable output")
    c.add_argument("--width", type=int, default=100, help="detail column width in the table")
    c.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="Show a progress bar (the default when stdout is a terminal).")
    c.add_argument("--no-progress", dest="progress", action="store_false",
                   help="Show no progress bar, even on a terminal.")
    c.add_argument("--jobs", type=_jobs, default=None, metavar="N",
                   help="Worker processes for the checks (default: one per CPU); the checks of one module "
                        "run in one process, sharing its caches. --jobs 1 runs them in this process. The "
                        "output is the same for any N.")
    c.add_argument("--live", action="store_true",
                   help="Also run each experiment's small preset live beside its committed record and quote it in "
                        "the checks' metrics (verdicts rest on the records either way; adds ~40 s of CPU).")
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

    _add_run_parser(sub, describe="run" in (sys.argv[1:] if argv is None else list(argv)))

    from .where import add_parser as _add_where

    _add_where(sub)

    from ._bench import add_parser as _add_bench

    _add_bench(sub)

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
