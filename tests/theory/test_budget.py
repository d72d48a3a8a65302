"""theory.budget: a symbolic step is stopped at its deadline, in any thread, without leftovers."""
import threading
import time

import pytest
import sympy as sp

from theory.budget import Deadline, SymbolicTimeoutError, check_budget, run_within

x = sp.Symbol("x", real=True)
SLOW = sp.atan(x) ** 2 * sp.exp(-x) / (2 + sp.cos(x))  # sympy.integrate searches for minutes
SLACK = 3.0


def _slow_integrate():
    return sp.integrate(SLOW, x)


def test_result_and_errors_pass_through():
    assert run_within(5, sum, [1, 2, 3]) == 6
    assert run_within(None, sum, [1, 2]) == 3
    with pytest.raises(ZeroDivisionError):
        run_within(5, lambda: 1 / 0)


def test_slow_integral_is_stopped_and_leaves_no_busy_computation():
    start = time.monotonic()
    with pytest.raises(SymbolicTimeoutError) as err:
        run_within(1.0, _slow_integrate, step="integrate")
    assert time.monotonic() - start < 1.0 + SLACK
    assert err.value.step == "integrate" and err.value.budget_s == 1.0
    cpu = time.process_time()
    time.sleep(1.0)
    assert time.process_time() - cpu < 0.3  # nothing keeps computing after the budget


def test_works_outside_the_main_thread():
    out = {}

    def worker():
        start = time.monotonic()
        try:
            run_within(1.0, _slow_integrate)
        except SymbolicTimeoutError:
            out["elapsed"] = time.monotonic() - start

    th = threading.Thread(target=worker)
    th.start()
    th.join(30)
    assert not th.is_alive() and out["elapsed"] < 1.0 + SLACK


def test_nested_budgets_do_not_catch_each_other():
    def inner_short():
        with pytest.raises(SymbolicTimeoutError):
            run_within(0.5, _slow_integrate, step="inner")
        return "outer finished"

    assert run_within(30, inner_short, step="outer") == "outer finished"

    start = time.monotonic()
    with pytest.raises(SymbolicTimeoutError) as err:  # the outer deadline stops the inner step
        run_within(1.0, lambda: run_within(60, _slow_integrate, step="inner"), step="outer")
    assert err.value.step == "outer" and time.monotonic() - start < 1.0 + SLACK


def test_deadline_attempt_falls_back_and_shares_the_budget():
    # the step gets half of a 6 s budget: about 3 s remain after it, less the stop's overshoot
    # (the watchdog thread may be scheduled late on a loaded machine: up to 2.5 s allowed)
    d = Deadline(6.0)
    value, ok = d.attempt(_slow_integrate, step="integrate", fallback="fallback", share=0.5)
    assert (value, ok) == ("fallback", False)
    assert 0.5 < d.remaining() < 3.5  # full budget to the step would leave ≈ 0
    value, ok = d.attempt(lambda: 42, step="cheap")
    assert (value, ok) == (42, True)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), "20", True])
def test_budget_argument_is_validated(bad):
    with pytest.raises((TypeError, ValueError)):
        check_budget(bad)
    assert check_budget(None) is None and check_budget(float("inf")) is None
