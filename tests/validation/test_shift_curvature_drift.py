"""shift_curvature_drift: SMALL end to end (live), the committed record re-derived, config validation,
the check and the report section."""
import json

import pytest

from tests._compare import assert_tree_close
from tests._experiments import small_record_checked
from validation.experiments.shift_curvature_drift import (EXPERIMENT, FULL, QUANTITIES, SMALL,
                                                          ShiftCurvatureDriftConfig, compare)
from validation.records import DATA_DIR, read_record

RECORD = DATA_DIR / "shift_curvature_drift_cpu.json"


@pytest.fixture(scope="module")
def small_record():
    return small_record_checked("shift_curvature_drift")  # SMALL, metrics re-derived from raw + prediction


def test_small_end_to_end(small_record):
    m = small_record["metrics"]
    assert m["sde_times"] == list(SMALL.sde_times)
    assert len(m["arms"]) == 2
    d = m["drift"]["digits"]
    assert d["temperatures"] == list(SMALL.temperatures)
    for q in QUANTITIES:
        assert len(d[q]["per_T_median_relative_change"]) == len(SMALL.temperatures)
        st = d[q]["sign_test"]
        assert st["down"] + st["up"] <= len(SMALL.temperatures) * len(SMALL.seeds)
    # the largest per-T change is the max over κ_train and κ_test of the per-T medians
    want = max(abs(x) for q in ("kappa_train", "kappa_test") for x in d[q]["per_T_median_relative_change"])
    assert m["largest_per_T_median_change"]["digits"] == pytest.approx(want, rel=1e-12)
    assert m["stationary_at_shortest_time"] == (want <= SMALL.drift_tolerance)


def test_full_record_rederived():
    rec = read_record(RECORD)
    cfg = EXPERIMENT.config_from_dict(rec["config"])
    assert cfg == FULL
    assert_tree_close(json.loads(json.dumps(compare(cfg, rec["prediction"], rec["raw"]))), rec["metrics"])


def test_each_arm_is_the_shift_curvature_protocol():
    arm = FULL.arm(800.0)
    assert arm.sde_time == 800.0 and arm.temperatures == FULL.temperatures and arm.seeds == FULL.seeds


@pytest.mark.parametrize("bad", [dict(sde_times=(200.0,)), dict(sde_times=(800.0, 200.0)), dict(sde_times=(0.0, 1.0)),
                                 dict(drift_tolerance=0.0), dict(learning_rate=-1.0)])
def test_config_validation(bad):
    with pytest.raises(ValueError):
        ShiftCurvatureDriftConfig(**bad)


def test_check_and_section(tmp_path):
    from validation.checks.shift_curvature_drift import shift_curvature_drift_with_sgd_time
    from validation.sections import shift_curvature_drift as section

    v = shift_curvature_drift_with_sgd_time()
    assert v.verdict in ("measured", "fails")
    assert v.metrics["source"].startswith("record shift_curvature_drift_cpu.json")
    text = section.build(tmp_path)
    assert "shift_curvature_drift_cpu.json" in text and (tmp_path / "figures").is_dir()
