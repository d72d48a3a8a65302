"""The campaign planner and runner (``make gpu``): order, budget, resume, failures — on fake
experiments with a fake clock, and the real registry's plan as a dry run."""
from __future__ import annotations

import dataclasses
import json

import pytest

from validation.campaign import format_plan, format_summary, plan_campaign, record_kind, run_campaign


@dataclasses.dataclass(frozen=True)
class Cfg:
    n: int = 1


class FakeExperiment:
    def __init__(self, name, claims, est, *, fail=False, clock=None, takes=None):
        self.name, self.claims, self._est, self.fail = name, tuple(claims), est, fail
        self.clock, self.takes = clock, est if takes is None else takes
        self.calls = []

    def preset(self, name):
        return {"small": Cfg(1), "full": Cfg(2), "gpu": Cfg(3)}[name]

    def estimate_s(self, preset, device="cpu"):
        return self._est

    def record_name_for(self, kind):
        return f"{self.name}_{kind}.json"

    def run(self, config, device, out, *, progress=False, force=False, resume=False):
        self.calls.append((config, device, out, resume))
        if self.clock is not None:
            self.clock.t += self.takes
        if self.fail:
            raise RuntimeError("diverged at lr=3")
        rec = {"config": dataclasses.asdict(config), "metrics": {"x": 1.0}, "raw": {"device": "cpu"}}
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(rec, fh)
        return rec


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_plan_orders_by_claims_per_minute_and_names_what_does_not_fit(tmp_path):
    a = FakeExperiment("a", ["X.1"], 60)            # 1 claim/min
    b = FakeExperiment("b", ["X.2", "X.3"], 30)     # 4 claims/min
    c = FakeExperiment("c", ["X.4"], 400)           # 0.15 claims/min: does not fit after a and b
    plan = plan_campaign([a, b, c], preset="gpu", device="cpu", budget_s=200, out_dir=tmp_path)
    assert [p.name for p in plan] == ["b", "a", "c"]
    assert [p.status for p in plan] == ["run", "run", "skip"]
    assert "400 s" in plan[2].reason and "110 s" in plan[2].reason
    text = format_plan(plan, 200)
    assert "skip" in text and "about 90 s" in text


def test_runs_write_records_and_a_second_call_resumes(tmp_path):
    clock = Clock()
    a, b = FakeExperiment("a", ["X.1"], 10, clock=clock), FakeExperiment("b", ["X.2"], 20, clock=clock)
    plan = plan_campaign([a, b], preset="gpu", device="cpu", budget_s=100, out_dir=tmp_path)
    res = run_campaign(plan, device="cpu", budget_s=100, clock=clock, echo=lambda *_: None, experiments=[a, b])
    assert res.ok and [r[1] for r in res.rows] == ["ran", "ran"]
    assert (tmp_path / "a_cpu.json").exists() and (tmp_path / "b_cpu.json").exists()
    again = plan_campaign([a, b], preset="gpu", device="cpu", budget_s=100, out_dir=tmp_path)
    assert [p.status for p in again] == ["done", "done"]
    small = plan_campaign([a, b], preset="small", device="cpu", budget_s=100, out_dir=tmp_path)
    assert [p.out.name for p in small] == ["a_cpu_small.json", "b_cpu_small.json"]   # never the full records
    assert [p.status for p in small] == ["run", "run"]
    other = plan_campaign([a, b], preset="full", device="cpu", budget_s=100, out_dir=tmp_path)
    assert [p.status for p in other] == ["blocked", "blocked"] and "--force" in other[0].reason
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a_cpu_small.json").write_text("my notes", encoding="utf-8")
    blocked = plan_campaign([a], preset="small", device="cpu", budget_s=100, out_dir=tmp_path / "notes")
    assert blocked[0].status == "blocked" and "--force" in blocked[0].reason
    forced = plan_campaign([a, b], preset="full", device="cpu", budget_s=100, out_dir=tmp_path, force=True)
    assert [p.status for p in forced] == ["run", "run"]


def test_the_clock_is_enforced_and_a_failure_does_not_stop_the_rest(tmp_path):
    clock = Clock()
    slow = FakeExperiment("slow", ["X.1", "X.2", "X.3"], 10, clock=clock, takes=95)   # overruns its estimate
    bad = FakeExperiment("bad", ["X.4", "X.5"], 10, clock=clock, fail=True, takes=1)
    late = FakeExperiment("late", ["X.6"], 10, clock=clock)
    plan = plan_campaign([slow, bad, late], preset="gpu", device="cpu", budget_s=100, out_dir=tmp_path)
    assert [p.status for p in plan] == ["run", "run", "run"]
    res = run_campaign(plan, device="cpu", budget_s=100, clock=clock, echo=lambda *_: None,
                       experiments=[slow, bad, late])
    status = {r[0]: (r[1], r[3]) for r in res.rows}
    assert status["slow"][0] == "ran"
    assert status["bad"][0] == "skipped" and "left on the clock" in status["bad"][1]
    assert status["late"][0] == "skipped"
    assert late.calls == [] and bad.calls == []
    clock2 = Clock()
    bad2 = FakeExperiment("bad", ["X.4"], 1, clock=clock2, fail=True)
    ok2 = FakeExperiment("ok", ["X.1"], 1, clock=clock2)
    plan2 = plan_campaign([bad2, ok2], preset="gpu", device="cpu", budget_s=100, out_dir=tmp_path / "b")
    (tmp_path / "b").mkdir()
    res2 = run_campaign(plan2, device="cpu", budget_s=100, clock=clock2, echo=lambda *_: None,
                        experiments=[bad2, ok2])
    assert not res2.ok
    assert {r[0]: r[1] for r in res2.rows} == {"bad": "failed", "ok": "ran"}
    assert "diverged at lr=3" in format_summary(res2)


@pytest.mark.parametrize("budget", [0, -5, float("nan"), float("inf"), True, "480"])
def test_a_bad_budget_is_refused(tmp_path, budget):
    with pytest.raises(ValueError, match="budget_s"):
        plan_campaign([FakeExperiment("a", ["X.1"], 1)], budget_s=budget, out_dir=tmp_path)


def test_record_kind_follows_the_device_really_used():
    import torch

    assert record_kind("cpu") == "cpu"
    assert record_kind("cuda") == ("gpu" if torch.cuda.is_available() else "cpu")
