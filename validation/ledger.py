"""The executable claims ledger.

Each claim id of THEORY.md (:data:`validation.claims_index.CLAIM_IDS`) maps to zero or more
*checks*: functions registered with :func:`check` that compute and return a :class:`Verdict`.
A claim's verdict is never written by hand; it is the combination of its checks' verdicts
(:func:`combine`), and a claim with no check is ``open``.

Checks live in ``validation/checks/*.py`` and are discovered automatically
(:func:`load_checks`). Results are cached in-process, so the test suite and the report can ask
for the same check repeatedly without recomputing it.

What a verdict is about (DESIGN.md, "The claims ledger"; ``validation/checks/README.md``)
-----------------------------------------------------------------------------------------
A verdict judges the claim **as printed** — the statement the paper makes, read with the
definitions and standing assumptions the paper itself states (e.g. the zero-curl Assumption 1 of
SC App. B.1 for everything built on the steady state SC.eq5):

* ``holds``: the printed statement is right. A slip on the way to it — a wrong intermediate
  step, a sign that cancels against another, a typo in an appendix line, a definition contradicted
  by the paper's own derivation, a condition implied by an assumption the paper states but the
  paper's argument for it is wrong — does not change that: it is recorded as a :class:`Finding`
  (``kind="derivation-slip"`` or ``"stated-assumption"``) on the ``holds`` verdict.
* ``corrected``: the printed statement itself is wrong; the check shows the printed form, the
  corrected one and a counterexample to the printed one.
* ``holds-if``: the printed statement needs a condition the paper does not state (and which none
  of its stated assumptions implies); the check names it and gives a counterexample without it.
* ``fails`` / ``measured``: a counterexample, or a numeric / trained-network comparison.
* Measurements: when the paper's own experiments covered a known range (of T = λ/B, of B, …)
  and a check measures beyond it, the verdict is computed from the runs inside the paper's range
  (:class:`PaperRange`, reported in ``Verdict.paper_range``) and what happens beyond it is a
  ``Finding(kind="beyond-paper-range")``. Where the measured and the paper's range do not overlap
  at all the verdict is computed on the measured range and a finding says so.

Every verdict, and every finding, comes out of the check's computation; the expected verdict of
every check is pinned in ``tests/validation/expected_verdicts.json`` (regenerate it deliberately
with ``python scripts/update_expected_verdicts.py`` and say why in the commit).
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import os
import pickle
import pkgutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from .claims_index import CLAIM_IDS, SECTION_OF

__all__ = [
    "VERDICTS",
    "FINDING_KINDS",
    "Finding",
    "PaperRange",
    "Verdict",
    "Check",
    "CheckResult",
    "ClaimStatus",
    "check",
    "checks_for",
    "all_checks",
    "load_checks",
    "run_check",
    "run_checks",
    "check_groups",
    "default_jobs",
    "one_thread_per_process",
    "claim_status",
    "ledger",
    "combine",
    "combine_verdicts",
    "LedgerError",
    "ledger_table",
    "format_table",
    "claims_markdown",
    "claim_finding",
    "one_line",
    "verdict_counts",
]

#: Allowed verdicts (DESIGN.md): exact identity, holds under a named extra condition, the paper's
#: expression is off (corrected form given), counterexample, numeric/trained comparison, unchecked.
VERDICTS = ("holds", "holds-if", "corrected", "fails", "measured", "open")

# Precedence when a claim has several checks: the most cautionary finding wins.
_PRECEDENCE = {"fails": 0, "corrected": 1, "holds-if": 2, "holds": 3, "measured": 4, "open": 5}


class LedgerError(RuntimeError):
    """Raised for a malformed verdict or a registration problem."""


class UnknownClaimError(LedgerError, KeyError, ValueError):
    """Claim ids that are not in the ledger (``claims_index``); the message suggests the closest
    valid ids.  Also a ``KeyError`` (what :func:`claim_status` raised before) and a ``ValueError``
    (a user error: the command line exits 2)."""

    def __init__(self, unknown, suggestions: dict):
        self.unknown, self.suggestions = list(unknown), dict(suggestions)
        parts = []
        for u in self.unknown:
            close = self.suggestions.get(u) or []
            parts.append(f"{u!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
        super().__init__(
            f"unknown claim id{'s' if len(parts) > 1 else ''} {'; '.join(parts)}: valid ids are those of "
            f"shared/THEORY.md, e.g. {', '.join(CLAIM_IDS[:3])} … {CLAIM_IDS[-1]} "
            "(`python -m validation claims` lists them all)")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def check_claim_ids(ids) -> list[str]:
    """Return ``ids`` as a list after checking every one is a claim id, all before any check runs;
    :class:`UnknownClaimError` names the unknown ones with their closest valid ids."""
    import difflib

    ids = list(ids)
    unknown = [i for i in ids if i not in SECTION_OF]
    if unknown:
        upper = {c.upper(): c for c in CLAIM_IDS}
        sugg = {}
        for u in unknown:
            close = difflib.get_close_matches(str(u).upper(), list(upper), n=3, cutoff=0.6)
            sugg[u] = [upper[c] for c in close]
        raise UnknownClaimError(unknown, sugg)
    return ids


def _jsonable(x):
    if x is None or isinstance(x, (bool, int, str)):
        return x
    if isinstance(x, float):
        return x
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    try:
        return float(x)
    except (TypeError, ValueError):
        return str(x)


#: Kinds of :class:`Finding`: a slip in the paper's derivation, definitions or appendix restatement
#: that leaves the printed claim right; a condition the claim needs that a standing assumption of
#: the paper implies (so the claim holds as printed, but the paper's own argument skips it); what a
#: measurement shows beyond the range the paper's experiments covered; anything else worth a line.
FINDING_KINDS = ("derivation-slip", "stated-assumption", "beyond-paper-range", "note")


@dataclass(frozen=True)
class Finding:
    """Something a check found that does not decide its verdict (see the module docstring).

    ``summary`` says what and where (paper, equation); ``printed`` / ``corrected`` give the printed
    and the right form of a slipped step; ``evidence`` the numbers or counterexample (JSON-able).
    """

    kind: str
    summary: str
    printed: str | None = None
    corrected: str | None = None
    evidence: object = None

    def __post_init__(self):
        if self.kind not in FINDING_KINDS:
            raise LedgerError(f"unknown finding kind {self.kind!r}; use one of {FINDING_KINDS}")
        if not self.summary:
            raise LedgerError("a finding needs a summary saying what was found")

    def to_dict(self) -> dict:
        d = {"kind": self.kind, "summary": self.summary, "printed": self.printed,
             "corrected": self.corrected, "evidence": _jsonable(self.evidence)}
        return {k: v for k, v in d.items() if v is not None}


@dataclass(frozen=True)
class PaperRange:
    """The range of a quantity (T = λ/B, batch size, …) that a paper's own experiments covered, with
    where the paper states it. ``low``/``high`` may be ``None`` (unbounded on that side)."""

    quantity: str
    low: float | None
    high: float | None
    source: str

    def contains(self, x: float) -> bool:
        tol = 1e-9 * max(abs(x), 1e-300)  # grid values such as 0.1/50 compare equal to 2e-3
        return (self.low is None or x >= self.low - tol) and (self.high is None or x <= self.high + tol)

    def split(self, values):
        """``(inside, beyond)``: the indices of ``values`` inside and outside the paper's range."""
        inside = [i for i, x in enumerate(values) if self.contains(float(x))]
        beyond = [i for i, x in enumerate(values) if not self.contains(float(x))]
        return inside, beyond

    def report(self, values) -> dict:
        """The ``paper_range`` entry of a :class:`Verdict`: the paper's range, the measured range and
        how many measured values fall inside / beyond the paper's."""
        vals = [float(x) for x in values]
        inside, beyond = self.split(vals)
        return {"quantity": self.quantity, "paper": [self.low, self.high], "source": self.source,
                "measured": [min(vals), max(vals)] if vals else None,
                "n_inside": len(inside), "n_beyond": len(beyond)}


@dataclass(frozen=True)
class Verdict:
    """What one check found.

    Use the constructors: :meth:`holds`, :meth:`holds_if`, :meth:`corrected`, :meth:`fails`,
    :meth:`measured`. They enforce the ledger's rules: a ``holds-if`` names its condition and a
    counterexample without it; a ``corrected`` carries the printed form, the corrected form and a
    counterexample to the printed one; a ``measured`` carries its metrics and tolerance.

    The verdict is about the *printed* claim (module docstring): ``findings`` carries what the
    check found besides it — derivation slips behind a claim that holds as printed, conditions
    implied by the paper's stated assumptions, the trend of a measurement beyond the paper's range
    — and ``paper_range`` (from :meth:`PaperRange.report`) the range the paper's experiments
    covered beside the measured one, when the verdict was computed on the paper's range.
    Every constructor takes ``findings=`` and ``paper_range=`` keywords, and ``summary=``: the
    finding in one sentence with its computed numbers (e.g. "slopes 5–8× smaller than predicted"),
    which the tables (:func:`claim_finding`: README, report, command line) show instead of the first
    sentence of ``detail``.
    """

    verdict: str
    detail: str
    printed: str | None = None
    corrected_form: str | None = None
    condition: str | None = None
    counterexample: object = None
    metrics: dict | None = None
    findings: tuple = ()
    paper_range: dict | None = None
    summary: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "findings", tuple(self.findings or ()))
        if not all(isinstance(f, Finding) for f in self.findings):
            raise LedgerError("findings must be Finding instances")
        if self.verdict not in VERDICTS:
            raise LedgerError(f"unknown verdict {self.verdict!r}; use one of {VERDICTS}")
        if not self.detail:
            raise LedgerError("a verdict needs a detail saying what was checked")
        if self.verdict == "holds-if" and (not self.condition or self.counterexample is None):
            raise LedgerError("holds-if needs the missing condition and a counterexample without it")
        if self.verdict == "corrected" and (
            not self.printed or not self.corrected_form or self.counterexample is None
        ):
            raise LedgerError("corrected needs printed form, corrected form and a counterexample")
        if self.verdict == "fails" and self.counterexample is None:
            raise LedgerError("fails needs a counterexample (or the measured numbers)")
        if self.verdict == "measured" and not self.metrics:
            raise LedgerError("measured needs metrics (values and tolerances)")

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def holds(cls, detail: str, *, findings=(), paper_range=None, summary=None, **metrics) -> "Verdict":
        return cls("holds", detail, metrics=metrics or None, findings=findings, paper_range=paper_range,
                   summary=summary)

    @classmethod
    def holds_if(cls, detail: str, *, condition: str, counterexample, findings=(), paper_range=None,
                 summary=None, **metrics) -> "Verdict":
        return cls("holds-if", detail, condition=condition, counterexample=counterexample,
                   metrics=metrics or None, findings=findings, paper_range=paper_range, summary=summary)

    @classmethod
    def corrected(cls, detail: str, *, printed: str, corrected: str, counterexample, findings=(),
                  paper_range=None, summary=None, **metrics) -> "Verdict":
        return cls("corrected", detail, printed=printed, corrected_form=corrected,
                   counterexample=counterexample, metrics=metrics or None, findings=findings,
                   paper_range=paper_range, summary=summary)

    @classmethod
    def fails(cls, detail: str, *, counterexample, findings=(), paper_range=None, summary=None,
              **metrics) -> "Verdict":
        return cls("fails", detail, counterexample=counterexample, metrics=metrics or None,
                   findings=findings, paper_range=paper_range, summary=summary)

    @classmethod
    def measured(cls, detail: str, *, metrics: dict, agrees: bool = True, findings=(),
                 paper_range=None, summary=None) -> "Verdict":
        """A numeric comparison. ``agrees=False`` (outside tolerance) is recorded as ``fails``."""
        if agrees:
            return cls("measured", detail, metrics=metrics, findings=findings, paper_range=paper_range,
                       summary=summary)
        return cls("fails", detail, counterexample={"measured": metrics}, metrics=metrics,
                   findings=findings, paper_range=paper_range, summary=summary)

    def to_dict(self) -> dict:
        d = {
            "verdict": self.verdict,
            "detail": self.detail,
            "printed": self.printed,
            "corrected": self.corrected_form,
            "condition": self.condition,
            "counterexample": _jsonable(self.counterexample),
            "metrics": _jsonable(self.metrics),
            "findings": [f.to_dict() for f in self.findings] or None,
            "paper_range": _jsonable(self.paper_range),
            "summary": self.summary,
        }
        return {k: v for k, v in d.items() if v is not None}


@dataclass(frozen=True)
class Check:
    claim_ids: tuple[str, ...]
    name: str
    func: Callable[[], Verdict] = field(compare=False)
    module: str = ""

    @property
    def key(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(frozen=True)
class CheckResult:
    check: Check
    verdict: Verdict
    seconds: float
    error: str | None = None

    def to_dict(self) -> dict:
        d = {"check": self.check.key, "seconds": round(self.seconds, 3), **self.verdict.to_dict()}
        if self.error:
            d["error"] = self.error
        return d


@dataclass(frozen=True)
class ClaimStatus:
    id: str
    section: str
    verdict: str
    detail: str
    results: tuple[CheckResult, ...]

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "section": self.section,
            "verdict": self.verdict,
            "detail": self.detail,
            "checks": [r.to_dict() for r in self.results],
        }


_REGISTRY: dict[str, Check] = {}
_RESULTS: dict[str, CheckResult] = {}
_LOADED = False


def check(*claim_ids: str, name: str | None = None):
    """Register a function as a check of one or more claim ids.

    The function takes no arguments and returns a :class:`Verdict` computed by running theory /
    numerics code. Example::

        @check("SC.eq9")
        def sgd_step_mean_and_covariance():
            ...
            return Verdict.holds("κ_1 = −λ∂U and κ_2 = λTD exactly")
    """
    unknown = [c for c in claim_ids if c not in SECTION_OF]
    if not claim_ids or unknown:
        raise LedgerError(f"unknown claim id(s) {unknown or '(none given)'}; see claims_index")

    def deco(func):
        chk = Check(tuple(claim_ids), name or func.__name__, func, func.__module__)
        if chk.key in _REGISTRY and _REGISTRY[chk.key].func is not func:
            raise LedgerError(f"two checks named {chk.key}")
        _REGISTRY[chk.key] = chk
        func.ledger_check = chk
        return func

    return deco


def load_checks() -> None:
    """Import every module in ``validation.checks`` (registers their checks)."""
    global _LOADED
    if _LOADED:
        return
    from . import checks as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{info.name}")
    _LOADED = True


def all_checks() -> list[Check]:
    load_checks()
    return sorted(_REGISTRY.values(), key=lambda c: c.key)


def checks_for(claim_id: str) -> list[Check]:
    return [c for c in all_checks() if claim_id in c.claim_ids]


def run_check(chk: Check, *, use_cache: bool = True) -> CheckResult:
    """Run one check (cached in-process). An exception becomes an ``open`` verdict with the error."""
    if use_cache and chk.key in _RESULTS:
        return _RESULTS[chk.key]
    t0 = time.perf_counter()
    try:
        v = chk.func()
        if not isinstance(v, Verdict):
            raise LedgerError(f"check {chk.key} returned {type(v).__name__}, not a Verdict")
        err = None
    except Exception as exc:  # a broken check must show up, not hide
        v = Verdict("open", f"check raised {type(exc).__name__}: {exc}")
        err = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    res = CheckResult(chk, v, time.perf_counter() - t0, err)
    if use_cache:
        _RESULTS[chk.key] = res
    return res


def clear_cache() -> None:
    _RESULTS.clear()


def combine(results: list[CheckResult]) -> tuple[str, str]:
    """Claim verdict from its checks: the most cautionary verdict wins (fails > corrected >
    holds-if > holds > measured > open); the detail lists each check's finding."""
    if not results:
        return "open", "no check registered yet"
    detail = " | ".join(f"[{r.verdict.verdict}] {r.verdict.detail}{_findings_tag(r.verdict)}" for r in results)
    return combine_verdicts([r.verdict.verdict for r in results]), detail


def combine_verdicts(verdicts) -> str:
    """The claim verdict from its checks' verdict strings (the rule of :func:`combine`)."""
    verdicts = list(verdicts)
    for v in verdicts:
        if v not in _PRECEDENCE:
            raise LedgerError(f"unknown verdict {v!r}; use one of {VERDICTS}")
    return min(verdicts, key=_PRECEDENCE.__getitem__) if verdicts else "open"


def _findings_tag(v: Verdict) -> str:
    if not v.findings:
        return ""
    kinds = sorted({f.kind for f in v.findings})
    return f" [+{len(v.findings)} finding{'s' if len(v.findings) > 1 else ''}: {', '.join(kinds)}]"


def claim_status(claim_id: str, *, run=True) -> ClaimStatus:
    if claim_id not in SECTION_OF:
        check_claim_ids([claim_id])
    results = [run_check(c) for c in checks_for(claim_id)] if run else []
    verdict, detail = combine(results)
    return ClaimStatus(claim_id, SECTION_OF[claim_id], verdict, detail, tuple(results))


def ledger(ids=None, *, progress: bool = False, jobs: int | None = 1) -> list[ClaimStatus]:
    """Run the checks and return the status of every claim (or of ``ids``), in THEORY.md order.

    ``jobs``: worker processes for the checks (:func:`run_checks`; ``None``: :func:`default_jobs`);
    1 runs them here, one after the other. The result is the same either way."""
    ids = list(CLAIM_IDS) if ids is None else check_claim_ids(ids)  # all ids checked before any runs
    jobs = default_jobs() if jobs is None else jobs
    if jobs != 1:
        wanted = {c.key: c for i in ids for c in checks_for(i)}
        run_checks([wanted[k] for k in sorted(wanted)], jobs=jobs, progress=progress)
        return [claim_status(i) for i in ids]  # every result is cached now
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(ids, desc="claims", unit="claim")
    else:
        it = ids
    with one_thread_per_process():
        return [claim_status(i) for i in it]


# --------------------------------------------------------------------------------------------------
# parallel runs
# --------------------------------------------------------------------------------------------------
#: Scheduling hint for parallel runs, with no effect on any result: the check modules that take
#: longest (live network training and live small runs, large symbolic derivations — per-module sums of
#: the checks' ``seconds`` in ``python -m validation claims --json --jobs 1``), longest first: the
#: longest-processing-time-first rule, so that no long task starts last while the other workers idle;
#: modules not listed follow, most checks first. Re-measured for issue 9 point 4 (2026-12-01, CPU
#: seconds per module; ``benchmarks/bench_ledger.py`` reports them as ``serial_module_seconds``).
LONG_MODULES_FIRST = ("sgd_stationary", "sgd_escape_discrete", "effective_potential", "gradient_noise", "laplace",
                      "laplace_2d", "sgd_covariance", "synthetic", "test_loss", "free_energy", "kramers_moyal", "escape",
                      "temperature_scan", "shift_curvature", "reparametrization", "temperature", "escape_rates",
                      "memorization", "sgd_curl")


_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def one_thread_per_process():
    """Run the enclosed checks with one BLAS/OpenMP thread and one torch intra-op thread, restored
    afterwards. The ledger runs every check so, with any ``jobs``: (1) results do not depend on
    ``jobs`` (a dot product or a torch reduction split over another number of threads rounds
    differently); (2) worker processes do not oversubscribe the CPUs — two workers whose torch /
    OpenMP pools spin for the same two cores made a 3 s training check take 25 s. Parallelism comes
    from processes. Libraries loaded inside the block start with one thread (``OMP_NUM_THREADS`` and
    kin are set meanwhile); torch, if first loaded inside, is left with one thread per CPU."""
    import sys

    old_env = {k: os.environ.get(k) for k in _THREAD_ENV}
    for k in _THREAD_ENV:
        os.environ[k] = "1"
    torch = sys.modules.get("torch")
    old_torch = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        limits = contextlib.nullcontext()
    else:
        limits = threadpool_limits(1)
    try:
        with limits:
            yield
    finally:
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        torch = sys.modules.get("torch")
        if torch is not None:
            torch.set_num_threads(old_torch if old_torch is not None else default_jobs())


def default_jobs() -> int:
    """Worker processes for :func:`ledger` by default: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def check_groups(checks) -> list[list[Check]]:
    """The checks as tasks for worker processes: the checks of one module form one task, run in
    one process one after the other, because they share that module's in-process caches (its
    ``functools.lru_cache`` helpers, and the one live training run of an experiment behind
    ``validation.experiments.ledger_evidence``) — split up, each process would redo that work.
    Tasks come in module order, checks in key order."""
    groups: dict[str, list[Check]] = {}
    for c in sorted(checks, key=lambda c: c.key):
        groups.setdefault(c.module, []).append(c)
    return [groups[m] for m in sorted(groups)]


def run_checks(checks, *, jobs: int | None = None, progress: bool = False) -> list[CheckResult]:
    """Run ``checks`` (cached, as :func:`run_check`) and return their results in the given order.

    With ``jobs > 1`` the checks not cached yet run in ``jobs`` worker processes, one task per
    module (:func:`check_groups`), the long ones first (:data:`LONG_MODULES_FIRST`); workers are
    forked (or started from a fork server, see :func:`_start_method`) — a script that calls this
    needs the usual ``if __name__ == "__main__":`` guard. Every check runs with one thread per
    process (:func:`one_thread_per_process`), here and in the workers. A result comes back as the
    :class:`Verdict` itself (pickled), or — where the verdict holds something that does not
    pickle — as its JSON form (``to_dict`` values), which prints the same. A worker that dies
    leaves its checks ``open`` with the error. ``progress`` shows a bar over checks."""
    checks = list(checks)
    jobs = default_jobs() if jobs is None else int(jobs)
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1 (1: run the checks in this process); got {jobs}")
    todo = [c for c in checks if c.key not in _RESULTS]
    groups = check_groups(todo)
    if jobs == 1 or len(groups) <= 1:
        it = todo
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(todo, desc="checks", unit="check")
        with one_thread_per_process():
            for c in it:
                run_check(c)
        return [run_check(c) for c in checks]
    import concurrent.futures as cf
    import multiprocessing as mp

    groups.sort(key=_schedule_key)
    ctx = mp.get_context(_start_method())
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload([__name__] + sorted({c.module for c in all_checks()}))
    pool = cf.ProcessPoolExecutor(max_workers=min(jobs, len(groups)), mp_context=ctx, initializer=_worker_init)
    bar = None
    try:
        futures = {pool.submit(_run_group, [c.key for c in g]): g for g in groups}
        if progress:  # after the workers started: no tqdm monitor thread is forked
            from tqdm.auto import tqdm

            bar = tqdm(total=len(todo), desc="checks", unit="check")
        for fut in cf.as_completed(futures):
            group = futures[fut]
            try:
                rows = fut.result()
            except Exception as exc:  # the worker died or its results did not come back
                err = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                rows = [(c.key, Verdict("open", f"check did not run: its worker process failed ({err})"),
                         0.0, err) for c in group]
            for key, verdict, seconds, error in rows:
                _RESULTS[key] = CheckResult(_REGISTRY[key], _as_verdict(verdict), seconds, error)
            if bar is not None:
                bar.update(len(group))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        if bar is not None:
            bar.close()
    pool.shutdown()
    return [run_check(c) for c in checks]


def _start_method() -> str:
    """``fork`` (workers inherit the imported checks: cheapest) unless torch is loaded here — forking
    a process whose torch/OpenMP thread pools may be running can deadlock the child — or the
    platform is not Linux; then ``forkserver`` (a clean server process imports the checks once).
    ``spawn`` would import them again in every worker (~3 s each)."""
    import sys

    return "fork" if sys.platform == "linux" and "torch" not in sys.modules else "forkserver"


def _schedule_key(group: list[Check]):
    name = group[0].module.rsplit(".", 1)[-1]
    rank = LONG_MODULES_FIRST.index(name) if name in LONG_MODULES_FIRST else len(LONG_MODULES_FIRST)
    return rank, -len(group), group[0].module


def _worker_init() -> None:
    """Worker start: the checks are registered (inherited, or imported by the fork server)."""
    load_checks()


def _run_group(keys: list[str]) -> list[tuple]:
    """Worker task: run the checks ``keys`` in order; ``(key, verdict, seconds, error)`` rows."""
    load_checks()
    rows = []
    for key in keys:
        with one_thread_per_process():
            res = run_check(_REGISTRY[key])
        verdict = res.verdict
        try:
            pickle.dumps(verdict)
        except Exception:  # noqa: BLE001 - anything unpicklable travels as its JSON form
            verdict = verdict.to_dict()
        rows.append((key, verdict, res.seconds, res.error))
    return rows


def _as_verdict(v) -> Verdict:
    """A :class:`Verdict` from a worker's row: the object itself, or rebuilt from ``to_dict``."""
    if isinstance(v, Verdict):
        return v
    findings = tuple(Finding(**f) for f in v.get("findings") or ())
    return Verdict(v["verdict"], v["detail"], printed=v.get("printed"), corrected_form=v.get("corrected"),
                   condition=v.get("condition"), counterexample=v.get("counterexample"),
                   metrics=v.get("metrics"), findings=findings, paper_range=v.get("paper_range"),
                   summary=v.get("summary"))


def ledger_json(statuses: list[ClaimStatus]) -> str:
    return json.dumps([s.to_dict() for s in statuses], indent=2, ensure_ascii=False)


def notable_results(statuses) -> list[tuple[ClaimStatus, CheckResult]]:
    """(claim, check result) pairs whose verdict is corrected, holds-if or fails, or that carry
    findings or a paper range — what the table and the report spell out (printed form, corrected
    form or condition, counterexample, findings, paper's range)."""
    return [(s, r) for s in statuses for r in s.results
            if r.verdict.verdict in ("corrected", "holds-if", "fails") or r.verdict.findings
            or r.verdict.paper_range]


def paper_range_line(pr: dict) -> str:
    """One line for a ``Verdict.paper_range``: the paper's range, the measured one and the counts."""
    lo, hi = pr["paper"]
    paper = f"{'' if lo is None else f'{lo:.3g} ≤ '}{pr['quantity']}{'' if hi is None else f' ≤ {hi:.3g}'}"
    measured = pr.get("measured")
    meas = f"measured {measured[0]:.3g} … {measured[1]:.3g}" if measured else "nothing measured"
    return (f"paper: {paper} ({pr['source']}); {meas}: {pr['n_inside']} inside, "
            f"{pr['n_beyond']} beyond — the verdict is "
            f"{'from the runs inside' if pr['n_inside'] else 'on the measured range (no overlap)'}")


def finding_line(f: Finding, *, limit: int | None = None) -> str:
    """One line for a :class:`Finding` (kind, summary, printed → corrected); with ``limit`` (words)
    shortened at a word boundary (:func:`one_line`)."""
    text = f"[{f.kind}] {f.summary}"
    if f.printed or f.corrected:
        text += f" (printed: {f.printed or '—'}; right: {f.corrected or '—'})"
    return text if limit is None else one_line(text, words=limit, first_sentence=False)


# --------------------------------------------------------------------------------------------------
# the one ledger table renderer: text (CLI), Markdown (README, notebooks), HTML (report)
# --------------------------------------------------------------------------------------------------
_ABBREVIATIONS = ("Fig", "App", "eq", "Eq", "e.g", "i.e", "cf", "vs", "Thm", "Sec", "Prop", "al", "Ref", "Tab")


def _tokens(text: str) -> list[str]:
    """Words of ``text``; a backtick code span is one token (never split)."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        j = i
        while j < n and not text[j].isspace():
            if text[j] == "`":
                k = text.find("`", j + 1)
                j = n if k < 0 else k + 1
            else:
                j += 1
        out.append(text[i:j])
        i = j
    return out


def _first_sentence(text: str) -> str:
    """``text`` up to its first full stop that ends a sentence (". " before a capital letter, not
    after an abbreviation such as "Fig." or "eq."); outside code spans."""
    words = _tokens(text)
    for k, w in enumerate(words[:-1]):
        if w.endswith(".") and not w.startswith("`") and words[k + 1][:1].isupper():
            stem = w[:-1]
            if stem.endswith(_ABBREVIATIONS):
                continue
            return " ".join(words[: k + 1])
    return " ".join(words)


def one_line(text: str, *, words: int = 40, first_sentence: bool = True) -> str:
    """A one-line summary of ``text``: its first sentence (``first_sentence``), at most ``words``
    words, shortened only at a word boundary (never inside a word or a code span) and marked "…"
    where shortened."""
    text = " ".join(str(text).split())
    short = _first_sentence(text) if first_sentence else text
    toks = _tokens(short)
    if len(toks) > words:
        short = " ".join(toks[:words]).rstrip(",;:") + " …"
    return short


def deciding_result(status: ClaimStatus) -> CheckResult | None:
    """The check result that decides a claim's verdict (the most cautionary one, :func:`combine`)."""
    if not status.results:
        return None
    return min(status.results, key=lambda r: _PRECEDENCE[r.verdict.verdict])


def claim_finding(status: ClaimStatus, *, words: int = 40) -> str:
    """The one-line finding of a claim, from the check that decides its verdict: its ``summary`` where
    the check gives one, else printed → corrected form for ``corrected``, the condition for
    ``holds-if``, else the first sentence of its detail; the number of findings (:class:`Finding`)
    of all its checks is appended. Code spans (backticks) hold expressions."""
    r = deciding_result(status)
    if r is None:
        return status.detail
    v = r.verdict
    if v.summary:
        text = one_line(v.summary, words=words, first_sentence=False)
    elif v.verdict == "corrected" and len(_tokens(f"{v.printed} {v.corrected_form}")) <= words:
        text = f"printed `{_tick(v.printed)}`, corrected `{_tick(v.corrected_form)}`"
    elif v.verdict == "holds-if":
        text = one_line(f"holds if {v.condition}", words=words, first_sentence=False)
    else:
        text = one_line(v.detail, words=words)
    n = sum(len(x.verdict.findings) for x in status.results)
    if n:
        text += f" (+{n} finding{'s' if n > 1 else ''})"
    return text


def _tick(s) -> str:
    return " ".join(str(s).split()).replace("`", "'")


def verdict_counts(statuses) -> dict[str, int]:
    """``{verdict: number of claims}`` in :data:`VERDICTS` order (verdicts with no claim left out)."""
    counts: dict[str, int] = {}
    for s in statuses:
        counts[s.verdict] = counts.get(s.verdict, 0) + 1
    return {k: counts[k] for k in VERDICTS if k in counts}


def markdown_inline(text: str) -> str:
    """``text`` safe in a Markdown table cell: code spans kept (``|`` escaped inside), Markdown
    emphasis and HTML characters escaped outside them, so SymPy's ``*`` and ``_`` stay literal."""
    out, i = [], 0
    text = " ".join(str(text).split())
    while i < len(text):
        j = text.find("`", i)
        k = text.find("`", j + 1) if j >= 0 else -1
        plain = text[i:] if k < 0 else text[i:j]
        for ch in "\\*_[]<>|":
            plain = plain.replace(ch, "\\" + ch)
        out.append(plain)
        if k < 0:
            break
        out.append(text[j:k + 1].replace("|", "\\|"))
        i = k + 1
    return "".join(out)


def html_inline(text: str) -> str:
    """``text`` as HTML: escaped, with backtick spans as ``<code>``."""
    import html

    parts = " ".join(str(text).split()).split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick: keep it literal
        parts = [" ".join(str(text).split())]
    return "".join(f"<code>{html.escape(p)}</code>" if k % 2 else html.escape(p) for k, p in enumerate(parts))


def ledger_table(statuses, fmt: str = "text", *, width: int = 110, words: int = 40,
                 finding=None, details=None, extra_columns=None) -> str:
    """The ledger as a table — the one renderer behind the command line (``fmt="text"``), the
    README's generated block and the notebooks (``"markdown"``) and the report (``"html"``).

    One row per claim: id, verdict, its one-line finding (``finding(status)``, default
    :func:`claim_finding` with at most ``words`` words). ``"text"`` shortens the finding to
    ``width`` characters at a word boundary; ``"html"`` folds ``details(status)`` (HTML) under the
    finding in a ``<details>`` element; ``extra_columns`` maps a header to ``f(status) -> str``.
    """
    if fmt not in ("text", "markdown", "html"):
        raise ValueError(f"fmt must be 'text', 'markdown' or 'html'; got {fmt!r}")
    finding = finding or (lambda s: claim_finding(s, words=words))
    extra = dict(extra_columns or {})
    head = ["claim", "verdict", "finding", *extra]
    rows = [[s.id, s.verdict, finding(s), *(f(s) for f in extra.values())] for s in statuses]
    if fmt == "text":
        rows = [[c if k != 2 else _shorten_chars(c.replace("`", ""), width) for k, c in enumerate(r)]
                for r in rows]
        table = [head] + rows
        widths = [max(len(r[k]) for r in table) for k in range(len(head))]
        lines = ["  ".join(f"{c:<{widths[k]}}" for k, c in enumerate(r)).rstrip() for r in table]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)
    if fmt == "markdown":
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in rows:
            cells = [r[0], f"**{r[1]}**", *r[2:]]
            lines.append("| " + " | ".join(markdown_inline(c) if k != 1 else c for k, c in enumerate(cells))
                         + " |")
        return "\n".join(lines)
    import html

    out = ["<table class='ledger'>", "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head)
           + "</tr></thead>", "<tbody>"]
    for s, r in zip(statuses, rows):
        cell = html_inline(r[2])
        more = details(s) if details else ""
        if more:
            cell = f"<details><summary>{cell}</summary>{more}</details>"
        out.append(f"<tr id='claim-{html.escape(s.id)}'><td class='cid'>{html.escape(r[0])}</td>"
                   f"<td><span class='v v-{html.escape(r[1])}'>{html.escape(r[1])}</span></td>"
                   f"<td>{cell}</td>" + "".join(f"<td>{html_inline(c)}</td>" for c in r[3:]) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _shorten_chars(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, shortened at a word boundary with "…"."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(",;:") + "…"


def format_table(statuses: list[ClaimStatus], *, width: int = 110) -> str:
    """Plain-text ledger for the command line: the table (:func:`ledger_table`, findings shortened
    to ``width`` characters at a word boundary), the verdict counts, then every correction,
    condition, failure and finding in full."""
    lines = [ledger_table(statuses, "text", width=width), ""]
    counts = verdict_counts(statuses)
    lines.append("  ".join(f"{k}: {n}" for k, n in counts.items()))
    notable = notable_results(statuses)
    if notable:
        lines += ["", "Corrections, conditions, failures and findings (printed form → corrected form / "
                      "condition; counterexample; findings that leave the verdict as it is):"]
        for s, r in notable:
            v = r.verdict
            lines.append(f"* {s.id} [{v.verdict}] {r.check.name}")
            if v.printed:
                lines.append(f"    printed:        {v.printed}")
            if v.corrected_form:
                lines.append(f"    corrected:      {v.corrected_form}")
            if v.condition:
                lines.append(f"    condition:      {v.condition}")
            if v.counterexample is not None:
                lines.append("    counterexample: "
                             + _shorten_chars(json.dumps(_jsonable(v.counterexample), ensure_ascii=False), 400))
            if v.paper_range:
                lines.append(f"    paper range:    {paper_range_line(v.paper_range)}")
            for f in v.findings:
                lines.append(f"    finding:        {finding_line(f, limit=80)}")
    return "\n".join(lines)


def _verdict_fields():  # pragma: no cover - introspection helper for docs
    return [f.name for f in dataclasses.fields(Verdict)]


def claims_markdown(ids, *, module: str | None = None, words: int = 40) -> str:
    """Markdown table of claims and verdicts (:func:`ledger_table`), for the notebooks' closing cells.

    With ``module`` (e.g. ``"validation.checks.kramers_moyal"``) only that theme's checks run (fast,
    symbolic) and decide the verdict shown; the checks of other themes on the same claims are listed
    by name, not run — the full verdict, combining all of them, is :func:`claim_status` /
    ``python -m validation claims``.
    """
    statuses = []
    for cid in check_claim_ids(ids):
        mine = [c for c in checks_for(cid) if module is None or c.module == module]
        results = tuple(run_check(c) for c in mine)
        verdict, detail = combine(list(results))
        statuses.append(ClaimStatus(cid, SECTION_OF[cid], verdict, detail, results))
    extra = None
    if module:
        def others(s):
            return ", ".join(f"{c.module.rsplit('.', 1)[-1]}.{c.name}" for c in checks_for(s.id)
                             if c.module != module) or "—"
        extra = {"other checks": others}
    return ledger_table(statuses, "markdown", words=words, extra_columns=extra)
