"""sgd_escape_discrete: SMALL end to end (live), the committed record re-derived, the pure comparison,
config validation, the checks and the report section."""
import json
import math

import numpy as np
import pytest

from tests._compare import assert_tree_close
from tests._experiments import small_record_checked
from validation.experiments.sgd_escape_discrete import (DATASETS, DW_SWEEPS, EXPERIMENT, FULL, SMALL, ST_SWEEPS,
                                                        SgdEscapeDiscreteConfig, compare, dataset,
                                                        dt_slope_interval, predict)
from validation.records import DATA_DIR, read_record

RECORD = DATA_DIR / "sgd_escape_discrete_cpu.json"


@pytest.fixture(scope="module")
def small_record():
    return small_record_checked("sgd_escape_discrete")  # SMALL, metrics re-derived from raw + prediction


def test_small_end_to_end(small_record):
    rec = small_record
    s = rec["metrics"]["summary"]
    assert s["n_points"] == 3 * 3 * len(SMALL.datasets) + 3 * 2
    # the exact chain reproduces the simulator's escape times (20 % at 400 chains: SE ≈ 5 %)
    lo, hi = s["chain_over_simulator_range"]
    assert 0.8 < lo <= hi < 1.2
    # and the ledger's gap on Styblinski–Tang: the stream escapes >= 10^3 times faster than diffusion
    assert s["log10_stream_over_diffusion_styblinski_tang"][1] < -3


def test_full_record_rederived():
    rec = read_record(RECORD)
    cfg = EXPERIMENT.config_from_dict(rec["config"])
    assert cfg == FULL
    assert_tree_close(json.loads(json.dumps(compare(cfg, rec["prediction"], rec["raw"]))), rec["metrics"])
    pred = predict(cfg)
    for model, sweeps in pred["diffusion_log_steps"].items():
        for sw, vals in sweeps.items():
            assert vals == pytest.approx(rec["prediction"]["diffusion_log_steps"][model][sw], rel=1e-7)
    assert rec["metrics"]["summary"]["n_settings_chain_within_tol"] >= 3
    # DT.prop1 on the chain: the skewed data make the valleys' odds far from even, and the odds follow τ
    p1 = rec["metrics"]["prop1"]
    assert abs(p1["skew_neg"][-1]["log_ratio_escape"]) > 1.0
    assert all(abs(q["difference"]) < 0.2 for qs in p1.values() for q in qs)


def test_datasets_are_standardised_and_skewed_as_named():
    for name in DATASETS:
        x = dataset(name, 500, 3)
        assert abs(x.mean()) < 1e-12 and x.std() == pytest.approx(1.0, abs=1e-12)
    assert np.mean(dataset("skew_neg", 500, 3) ** 3) < -1 < 1 < np.mean(dataset("skew_pos", 500, 3) ** 3)
    with pytest.raises(ValueError, match="unknown data set"):
        dataset("cauchy", 10, 0)


def test_dt_interval_scales_as_printed():
    pt = dict(k=1.0, lr=0.25, batch=2)
    lo, hi = dt_slope_interval("dw", "batch_size", pt)
    # (2ΔL/η)·[1/H_a, 1/|H_b|] with ΔL = 1/4, H_a = 2, H_b = −1
    assert (lo, hi) == pytest.approx((2 * 0.25 / 0.25 / 2, 2 * 0.25 / 0.25))
    lo2, hi2 = dt_slope_interval("dw", "batch_size", dict(pt, k=2.0))
    assert (lo2, hi2) == pytest.approx((lo / 2, hi / 2))


def _fake_raw(cfg, chain_factor):
    def pts(points, stream):
        out = []
        for p in points:
            m = 100.0 * math.exp(p["x"])
            d = {**p, "mean_steps": m, "se_steps": 0.02 * m, "n_censored": 0, "steps_run": 10,
                 "chain_steps": chain_factor * m, "chain_gauss_steps": m, "chain_leak_basin": 0.0}
            if stream:
                d.update(stream_mean_steps=m, stream_se_steps=0.02 * m, stream_n_censored=0, stream_steps_run=10)
            out.append(d)
        return out

    return {"datasets": {n: {} for n in cfg.datasets},
            "double_well": {n: {s: pts(cfg.dw_points(s), False) for s in DW_SWEEPS} for n in cfg.datasets},
            "styblinski_tang": {s: pts(cfg.st_points(s), True) for s in ST_SWEEPS}}


def test_compare_counts_matching_settings():
    cfg = SMALL
    pred = {"diffusion_log_steps": {"double_well": {s: [1.0 * p["x"] for p in cfg.dw_points(s)] for s in DW_SWEEPS},
                                    "styblinski_tang": {s: [20.0 + p["x"] for p in cfg.st_points(s)] for s in ST_SWEEPS}},
            "dt_slope_interval": {"double_well": {s: [0.5, 2.0] for s in DW_SWEEPS},
                                  "styblinski_tang": {s: [0.5, 2.0] for s in ST_SWEEPS}}}
    good = compare(cfg, pred, _fake_raw(cfg, 1.05))["summary"]
    assert good["n_settings_chain_within_tol"] == good["n_settings"] == 5
    bad = compare(cfg, pred, _fake_raw(cfg, 1.3))
    assert bad["summary"]["n_settings_chain_within_tol"] == 0
    sw = bad["double_well"]["skew_neg"]["batch_size"]
    assert sw["fits"]["simulator"]["slope"] == pytest.approx(1.0)
    assert sw["slope_in_dt_interval"]["simulator"]
    assert sw["chain_z"][0] == pytest.approx(0.3 / 0.02)


@pytest.mark.parametrize("kw", [dict(n_chains=2), dict(cell=0.0), dict(datasets=("lognormal",)),
                                dict(dw_batch_values=(1, 2.5, 3)), dict(dw_inv_lr_values=(1.0, 2.0)),
                                dict(st_k_lr=-0.1)])
def test_config_rejects_bad_values(kw):
    with pytest.raises(ValueError):
        SgdEscapeDiscreteConfig(**kw)


def test_checks_and_section(tmp_path, small_record):
    from validation.checks.sgd_escape_discrete import (sgd_escape_discrete_chain_matches_simulator,
                                                       sgd_escape_discrete_occupancy_vs_escape_times,
                                                       sgd_escape_discrete_slopes_vs_dt_interval)
    from validation.sections import sgd_escape_discrete as section

    v = sgd_escape_discrete_chain_matches_simulator()
    assert v.verdict == "measured"
    assert v.metrics["n_points"] > 0 and v.metrics["tolerance"] == pytest.approx(0.10)
    p = sgd_escape_discrete_occupancy_vs_escape_times()
    assert p.verdict in ("measured", "fails") and p.metrics["judged_points"] >= 0
    t = sgd_escape_discrete_slopes_vs_dt_interval()
    assert t.verdict in ("measured", "holds-if", "fails")
    assert set(t.metrics["inside"]) | set(t.metrics["outside"]) == set(t.metrics["slopes"])
    md = section.build(tmp_path)
    assert "exact chain" in md and "figures/" in md
    assert list((tmp_path / "figures").glob("sgd_escape_discrete*.png"))
