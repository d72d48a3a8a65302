"""Time budgets for symbolic steps: a SymPy call that cannot finish is stopped, not waited for.

DESIGN.md: *a time budget bounds every symbolic step a user can trigger*. SymPy has no timeout
(``integrate`` of a non-elementary integrand can search for minutes or forever), so entry points
that call ``integrate``/``simplify``/``solve`` on user expressions take a ``budget_s`` keyword
(default :data:`DEFAULT_BUDGET_S` = 20 s; ``None`` = no limit) and run those steps through
:func:`run_within` / :class:`Deadline`. When the budget runs out the step either falls back to an
exact but unevaluated answer (``sympy.Integral``, the unsimplified expression) or raises
:class:`SymbolicTimeoutError`, which names the step.

Mechanism (and why)
-------------------
The step runs **in the calling thread**. One daemon watchdog thread per process keeps the
deadlines; when one passes it raises a private ``BaseException`` subclass *inside the calling
thread* with CPython's ``PyThreadState_SetAsyncExc`` (through ``ctypes``), and raises it again
every :data:`REFIRE_S` seconds until the step has unwound. :func:`run_within` catches it and turns
it into :class:`SymbolicTimeoutError` (or the caller's fallback). The exception class is made
fresh for every budget, so nested budgets never catch each other's expiry, and it derives from
``BaseException`` so that SymPy's own ``except Exception`` clauses cannot swallow it.

Alternatives considered:

* ``signal.alarm``/``setitimer``: POSIX only, main thread only (not a Jupyter comm thread, not a
  user's thread pool), one timer per process, and it replaces the SIGALRM handler that
  pytest-timeout or the user may have installed.
* a worker thread with ``join(timeout)``: Python cannot kill a thread, so the abandoned SymPy
  search would keep a core busy until it ends — possibly never.
* a subprocess (``multiprocessing`` with pickled expressions): ``spawn`` starts an interpreter and
  imports SymPy for every step (about a second; theory functions make hundreds of small simplify
  calls), ``fork`` is unsafe in a process that already runs threads (torch, pytest-xdist's
  execnet, this watchdog), and the in-process simplify cache is lost.

The asynchronous exception stops the computation itself, so nothing keeps burning CPU after the
budget; it needs no signal, works in any thread (pytest-xdist workers, notebooks, thread pools)
and on any OS. Limits: the exception is delivered between Python bytecodes, so one long C call
(a huge gmpy/flint polynomial operation) finishes before the step stops — SymPy's algorithms are
Python, so the slack is normally well under a second. On an interpreter without
``PyThreadState_SetAsyncExc`` (not CPython) budgets are not enforced and a
:class:`BudgetNotEnforcedWarning` says so once.
"""
from __future__ import annotations

import heapq
import itertools
import math
import os
import queue
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

__all__ = [
    "DEFAULT_BUDGET_S",
    "REFIRE_S",
    "SymbolicTimeoutError",
    "BudgetNotEnforcedWarning",
    "check_budget",
    "Deadline",
    "run_within",
]

#: Default budget (seconds) of one call of a theory entry point.
DEFAULT_BUDGET_S = 20.0
#: After a deadline the interrupt is raised again at this interval until the step has unwound.
REFIRE_S = 0.25


class SymbolicTimeoutError(TimeoutError):
    """A symbolic step did not finish within its time budget and has no exact fallback.

    Attributes: ``step`` (what was being computed), ``budget_s`` (the budget of the call).
    """

    def __init__(self, message: str, *, step: str, budget_s: float | None):
        super().__init__(message)
        self.step = step
        self.budget_s = budget_s


class BudgetNotEnforcedWarning(RuntimeWarning):
    """This interpreter cannot interrupt a running computation: budgets are not enforced."""


class _Expired(BaseException):
    """Base of the per-budget interrupt classes (BaseException: SymPy's ``except Exception``
    clauses must not swallow it)."""


def check_budget(budget_s) -> float | None:
    """Validate a ``budget_s`` argument: a positive number of seconds, or None / inf (no limit)."""
    if budget_s is None:
        return None
    if isinstance(budget_s, bool) or not isinstance(budget_s, (int, float)):
        raise TypeError(f"budget_s must be a number of seconds or None; got {type(budget_s).__name__}")
    budget = float(budget_s)
    if math.isnan(budget) or budget <= 0:
        raise ValueError(f"budget_s must be > 0 seconds (or None for no limit); got {budget_s!r}")
    return None if math.isinf(budget) else budget


# --------------------------------------------------------------------------------------------
# Raising in another thread (CPython)
# --------------------------------------------------------------------------------------------
def _make_async_raiser():
    try:
        import ctypes

        fn = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.py_object)(
            ("PyThreadState_SetAsyncExc", ctypes.pythonapi))
    except (ImportError, AttributeError, OSError):  # pragma: no cover - non-CPython
        return None

    def raise_in(tid: int, exc_type) -> int:
        # exc_type None clears a pending asynchronous exception of that thread
        return fn(tid, ctypes.py_object() if exc_type is None else exc_type)

    return raise_in


_RAISE_IN = _make_async_raiser()
_warned = False


class _Entry:
    __slots__ = ("tid", "exc", "deadline", "seq", "done", "firing", "fired")

    def __init__(self, tid: int, exc: type, deadline: float, seq: int):
        self.tid, self.exc, self.deadline, self.seq = tid, exc, deadline, seq
        self.done = False     # set by the computing thread when the step has ended
        self.firing = False   # set by the watchdog around each raise (handshake with `done`)
        self.fired = 0


class _Watchdog:
    """One daemon thread per process; the computing threads talk to it only through a
    lock-free ``SimpleQueue`` and two flags, so an interrupt can never leave a lock held."""

    def __init__(self):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = None
        self._start_lock = threading.Lock()
        self._seq = itertools.count()

    def submit(self, tid: int, exc: type, deadline: float) -> _Entry:
        if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
            with self._start_lock:
                if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                    self._queue = queue.SimpleQueue()  # a forked child starts afresh
                    self._thread = threading.Thread(target=self._loop, args=(self._queue,),
                                                    name="theory-budget-watchdog", daemon=True)
                    self._pid = os.getpid()
                    self._thread.start()
        entry = _Entry(tid, exc, deadline, next(self._seq))
        self._queue.put(entry)
        return entry

    @staticmethod
    def _loop(q: queue.SimpleQueue) -> None:
        heap: list = []
        active: dict[int, list[_Entry]] = {}
        while True:
            timeout = None
            if heap:
                timeout = max(0.0, heap[0][0] - time.monotonic())
            try:
                entry = q.get(timeout=timeout)
            except queue.Empty:
                entry = None
            if entry is not None:
                heapq.heappush(heap, (entry.deadline, entry.seq, entry))
                lst = active.setdefault(entry.tid, [])
                lst.append(entry)
                if len(lst) > 64:  # forget finished entries
                    active[entry.tid] = [e for e in lst if not e.done]
                continue
            now = time.monotonic()
            while heap and heap[0][0] <= now:
                _, seq, e = heapq.heappop(heap)
                if e.done:
                    continue
                # Dekker-style handshake: `firing` is set before `done` is read here, and the
                # computing thread sets `done` before it reads `firing` (see _finish).
                e.firing = True
                if not e.done:
                    _RAISE_IN(e.tid, e.exc)
                    e.fired += 1
                    # budgets entered later by the same thread are nested inside this one and
                    # unwind with it: never raise for them again
                    for inner in active.get(e.tid, ()):
                        if inner.seq > e.seq:
                            inner.done = True
                e.firing = False
                if not e.done:
                    heapq.heappush(heap, (now + REFIRE_S, seq, e))


_WATCHDOG = _Watchdog()


def _finish(entry: _Entry) -> None:
    """Mark the step ended and make sure no interrupt of this budget is pending or can come."""
    while True:
        try:
            entry.done = True
            while entry.firing:
                time.sleep(1e-4)
            if entry.fired and _RAISE_IN is not None:
                _RAISE_IN(entry.tid, None)  # drop an interrupt not yet delivered
            return
        except entry.exc:  # delivered inside this function: the step is over anyway
            continue


def run_within(budget_s, fn: Callable, *args, step: str = "symbolic step", **kwargs) -> Any:
    """Call ``fn(*args, **kwargs)`` in this thread; stop it after ``budget_s`` seconds.

    Raises :class:`SymbolicTimeoutError` (naming ``step``) when the budget runs out; ``budget_s``
    None runs without a limit. See the module docstring for the mechanism.

    >>> run_within(5, sum, [1, 2, 3])
    6
    """
    budget = check_budget(budget_s)
    if budget is None:
        return fn(*args, **kwargs)
    return _run_until(time.monotonic() + budget, budget, fn, args, kwargs, step)


def _run_until(deadline: float, budget: float | None, fn, args, kwargs, step: str):
    global _warned
    if _RAISE_IN is None:  # pragma: no cover - non-CPython
        if not _warned:
            warnings.warn("this interpreter has no PyThreadState_SetAsyncExc: symbolic time "
                          "budgets are not enforced", BudgetNotEnforcedWarning, stacklevel=3)
            _warned = True
        return fn(*args, **kwargs)
    if time.monotonic() >= deadline:
        raise SymbolicTimeoutError(_message(step, budget), step=step, budget_s=budget)
    exc = type("_BudgetExpired", (_Expired,), {})
    entry = _WATCHDOG.submit(threading.get_ident(), exc, deadline)
    try:
        try:
            return fn(*args, **kwargs)
        finally:
            _finish(entry)
    except exc:
        _finish(entry)
    raise SymbolicTimeoutError(_message(step, budget), step=step, budget_s=budget)


def _message(step: str, budget: float | None) -> str:
    return (f"{step} did not finish within the time budget of {budget:g} s; pass a larger "
            "budget_s= (or budget_s=None for no limit), or simplify the input expression")


class Deadline:
    """One budget shared by the steps of one entry-point call (``budget_s`` None: no limit).

    ``run(fn, ..., step=...)`` runs a step within what is left of the budget and raises
    :class:`SymbolicTimeoutError` when it runs out; ``attempt(fn, ..., fallback=...)`` returns
    ``fallback`` instead (a step with an exact fallback: the unevaluated integral, the
    unsimplified expression). ``share`` (0 < share ≤ 1) limits a step to that fraction of what
    is left, so that an optional step (a cosmetic simplification) leaves time for later ones.
    """

    def __init__(self, budget_s=DEFAULT_BUDGET_S):
        self.budget_s = check_budget(budget_s)
        self.start = time.monotonic()
        self.deadline = None if self.budget_s is None else self.start + self.budget_s

    def remaining(self) -> float:
        """Seconds left (``inf`` without a limit, ``0`` once spent)."""
        if self.deadline is None:
            return math.inf
        return max(0.0, self.deadline - time.monotonic())

    def run(self, fn: Callable, *args, step: str, share: float = 1.0, **kwargs):
        if self.deadline is None:
            return fn(*args, **kwargs)
        deadline = self.deadline
        if share < 1.0:
            now = time.monotonic()
            deadline = min(deadline, now + share * max(0.0, deadline - now))
        return _run_until(deadline, self.budget_s, fn, args, kwargs, step)

    def attempt(self, fn: Callable, *args, step: str, fallback=None, share: float = 1.0, **kwargs):
        """Like :meth:`run`; returns ``(value, True)``, or ``(fallback, False)`` on expiry."""
        try:
            return self.run(fn, *args, step=step, share=share, **kwargs), True
        except SymbolicTimeoutError:
            return fallback, False
