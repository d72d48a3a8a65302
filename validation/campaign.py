"""The experiment campaign: every registered experiment's preset in one command, within a time
budget — what ``make gpu`` runs on a lent GPU (``python -m validation run --all --preset gpu
--device cuda --budget-s 480``).

The plan orders the experiments by *value per minute* — claims measured per estimated minute
(:meth:`~validation.experiments.Experiment.estimate_s`) — and admits them greedily while the
estimates fit the budget; an experiment that would overrun is skipped and named. While running,
the budget is enforced on the clock: before each experiment the time left is compared with its
estimate again. Each record is written atomically the moment its experiment finishes (into
``out_dir/<record_stem>_<kind>.json``, ``kind`` the device the run really used), so a second call
finds the records already written — with the same config — and resumes with the rest; an
experiment interrupted mid-way resumes from its checkpoint (``OUT.partial.jsonl``).

Example (a dry run: the plan only, in a second, on any machine):

>>> from validation.campaign import plan_campaign
>>> plan = plan_campaign(preset="small", device="cpu", budget_s=600, out_dir="/tmp/campaign-doc")
>>> {p.status for p in plan} <= {"done", "run", "skip", "blocked"}
True
"""
from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PlannedRun", "CampaignResult", "plan_campaign", "run_campaign", "format_plan", "format_summary",
           "record_kind", "record_file_name"]


@dataclass(frozen=True)
class PlannedRun:
    """One experiment in a campaign plan: ``status`` is ``"run"`` (admitted), ``"done"`` (its record
    with this config is already in ``out``), ``"skip"`` (does not fit the budget) or ``"blocked"``
    (``out`` may not be replaced without ``--force``); ``reason`` says why."""
    name: str
    claims: tuple
    preset: str
    estimate_s: float
    out: Path
    status: str
    reason: str = ""

    @property
    def value_per_minute(self) -> float:
        """Claims measured per estimated minute (the planner's order)."""
        return len(self.claims) / max(self.estimate_s / 60.0, 1e-3)


@dataclass(frozen=True)
class CampaignResult:
    """What :func:`run_campaign` did: per experiment ``(name, status, seconds, detail)`` with status
    ``ran``, ``done`` (found), ``skipped`` or ``failed``, the budget and the wall time used."""
    rows: tuple
    budget_s: float
    wall_s: float
    device: str

    @property
    def ok(self) -> bool:
        """No experiment failed."""
        return all(r[1] != "failed" for r in self.rows)


def record_kind(device) -> str:
    """``"gpu"`` when ``device`` resolves to a CUDA device on this machine, else ``"cpu"`` — the
    record's name follows the device really used (``--device cuda`` without a GPU runs on the CPU
    and writes a ``_cpu`` record, never a ``_gpu`` one)."""
    import warnings

    from numerics.devices import resolve_device

    try:
        with warnings.catch_warnings():   # the run itself warns about the fallback
            warnings.simplefilter("ignore")
            dev = resolve_device(device)
    except Exception:  # DeviceError (a GPU asked for, none present): the CPU fallback, as the runs do
        return "cpu"
    return "gpu" if getattr(dev, "type", "cpu") == "cuda" else "cpu"


def record_file_name(experiment, preset: str, kind: str) -> str:
    """``<record_stem>_<kind>.json``; the small preset gets ``_small`` before ``.json`` so that it
    never replaces a full run's record."""
    name = experiment.record_name_for(kind)
    return name[:-len(".json")] + "_small.json" if str(preset).lower() == "small" else name


def _check_budget(budget_s) -> float:
    """``budget_s`` as a float (None: no limit); refuses what is not a positive number."""
    if budget_s is None:
        return float("inf")
    if isinstance(budget_s, bool) or not isinstance(budget_s, (int, float)) or not budget_s > 0 \
            or budget_s != budget_s or budget_s == float("inf"):
        raise ValueError(f"budget_s must be a positive number of seconds (or None for no limit); got {budget_s!r}")
    return float(budget_s)


def _refusal(out: Path, experiment) -> str | None:
    """Why ``out`` may not be written without ``--force`` (a file that is not an earlier record of
    ours, a committed record, a link, …: :func:`validation.records.check_record_path`), or None."""
    from validation.records import check_record_path

    try:
        check_record_path(out, force=False, inputs=getattr(experiment, "inputs", ()))
    except ValueError as exc:  # OutputPathError
        return str(exc)
    return None


def _same_config(path: Path, config) -> bool:
    """True when ``path`` is a record of ours whose config equals ``config`` (JSON-normalised)."""
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    want = json.loads(json.dumps(dataclasses.asdict(config)))
    return isinstance(rec, dict) and rec.get("config") == want and "metrics" in rec


def plan_campaign(experiments=None, *, preset: str = "gpu", device="cuda", budget_s: float = 480.0,
                  out_dir="validation/data", force: bool = False) -> list[PlannedRun]:
    """The campaign plan (nothing runs): every experiment (default: all registered) ordered by
    claims per estimated minute, largest first; admitted while the sum of estimates fits
    ``budget_s``; ``"done"`` when ``out_dir`` already holds its record for this preset and device;
    ``"blocked"`` when ``out`` holds something that may not be replaced without ``force`` (a file
    that is not an earlier record of ours, a committed record in ``validation/data``); an earlier
    record of ours of another config outside ``validation/data`` is replaced, as a single run would.

    Raises ``ValueError`` for a budget that is not a positive number."""
    from validation.experiments import all_experiments

    budget_s = _check_budget(budget_s)
    exps = list(all_experiments() if experiments is None else experiments)
    kind = record_kind(device)
    out_dir = Path(out_dir)
    entries = []
    for e in exps:
        cfg = e.preset(preset)
        est = e.estimate_s(preset, "cuda" if kind == "gpu" else "cpu")
        out = out_dir / record_file_name(e, preset, kind)
        entries.append((e, cfg, est, out))
    entries.sort(key=lambda t: (-len(t[0].claims) / max(t[2] / 60.0, 1e-3), t[0].name))
    plan, used = [], 0.0
    for e, cfg, est, out in entries:
        if out.exists() and _same_config(out, cfg):
            plan.append(PlannedRun(e.name, tuple(e.claims), preset, est, out, "done",
                                   f"record {out} already holds this preset"))
        elif (refusal := None if force else _refusal(out, e)) is not None:
            plan.append(PlannedRun(e.name, tuple(e.claims), preset, est, out, "blocked", refusal))
        elif used + est <= budget_s:
            used += est
            plan.append(PlannedRun(e.name, tuple(e.claims), preset, est, out, "run"))
        else:
            plan.append(PlannedRun(e.name, tuple(e.claims), preset, est, out, "skip",
                                   f"estimated {est:.0f} s, {budget_s - used:.0f} s of the budget left"))
    return plan


def format_plan(plan, budget_s: float) -> str:
    """The plan as a text table (printed before the campaign starts)."""
    budget = "no time budget" if budget_s is None or budget_s == float("inf") else f"budget {budget_s:.0f} s"
    lines = [f"campaign plan ({budget}):",
             f"  {'experiment':<18} {'claims':>6} {'est. s':>8} {'claims/min':>10}  status"]
    for p in plan:
        lines.append(f"  {p.name:<18} {len(p.claims):>6} {p.estimate_s:>8.0f} {p.value_per_minute:>10.2f}  "
                     f"{p.status}{' — ' + p.reason if p.reason else ''}")
    total = sum(p.estimate_s for p in plan if p.status == "run")
    lines.append(f"  admitted: {sum(p.status == 'run' for p in plan)} experiment(s), about {total:.0f} s")
    return "\n".join(lines)


def run_campaign(plan, *, device="cuda", budget_s: float = 480.0, progress: bool = False, force: bool = False,
                 clock=time.monotonic, echo=print, experiments=None) -> CampaignResult:
    """Run the admitted entries of ``plan`` in order. Before each, the time left on ``clock`` is
    compared with its estimate: one that would overrun is skipped and named. Each record is written
    atomically when its experiment finishes; an experiment that raises is reported as ``failed``
    (its message kept) and the campaign goes on; an interrupted one keeps its checkpoint, and the
    next call resumes it. ``force`` replaces a record of another config at the same path."""
    from validation.checkpoint import checkpoint_path
    from validation.experiments import get_experiment

    by_name = {e.name: e for e in experiments} if experiments is not None else None
    budget_s = _check_budget(budget_s)
    t0 = clock()
    rows = []
    for p in plan:
        if p.status == "done":
            rows.append((p.name, "done", 0.0, p.reason))
            continue
        if p.status in ("skip", "blocked"):
            rows.append((p.name, "skipped", 0.0, p.reason))
            continue
        left = budget_s - (clock() - t0)
        if p.estimate_s > left:
            rows.append((p.name, "skipped", 0.0, f"estimated {p.estimate_s:.0f} s, {left:.0f} s left on the clock"))
            echo(f"skip {p.name}: estimated {p.estimate_s:.0f} s, {left:.0f} s left")
            continue
        exp = by_name[p.name] if by_name is not None else get_experiment(p.name)
        p.out.parent.mkdir(parents=True, exist_ok=True)
        resume = checkpoint_path(p.out).exists()
        echo(f"run {p.name} ({p.preset}, estimated {p.estimate_s:.0f} s){' — resuming' if resume else ''}")
        t1 = clock()
        try:
            rec = exp.run(exp.preset(p.preset), device, str(p.out), progress=progress, force=force, resume=resume)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # one failed experiment does not cost the others their minutes
            rows.append((p.name, "failed", clock() - t1, f"{type(exc).__name__}: {exc}"))
            echo(f"failed {p.name}: {type(exc).__name__}: {exc}")
            continue
        dt = clock() - t1
        rows.append((p.name, "ran", dt, f"{p.out} on {rec['raw'].get('device', device)}"))
        echo(f"wrote {p.out} ({dt:.0f} s)")
    return CampaignResult(tuple(rows), float(budget_s), clock() - t0, str(device))


def format_summary(result: CampaignResult) -> str:
    """The campaign's summary (printed after it)."""
    of = "" if result.budget_s == float("inf") else f" of {result.budget_s:.0f} s"
    lines = [f"campaign summary ({result.device}, {result.wall_s:.0f} s{of}):"]
    for name, status, secs, detail in result.rows:
        lines.append(f"  {name:<18} {status:<8} {secs:>7.1f} s  {detail}")
    return "\n".join(lines)
