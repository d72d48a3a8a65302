"""Committed records: provenance present, metrics re-derived from the raw summaries."""
import json

import pytest

from validation.records import DATA_DIR, provenance, read_record, write_record

RECORDS = sorted(DATA_DIR.glob("*.json"))


@pytest.mark.parametrize("path", RECORDS, ids=[p.name for p in RECORDS])
def test_record_has_provenance_and_blocks(path):
    rec = read_record(path)
    for key in ("config", "raw", "metrics", "provenance"):
        assert key in rec, f"{path.name} lacks {key}"
    for key in ("git_commit", "device", "torch", "seed", "wall_time_s"):
        assert key in rec["provenance"]


GRAD_NOISE = [p for p in RECORDS if read_record(p).get("experiment") == "gradient_noise"]


@pytest.mark.parametrize("path", GRAD_NOISE, ids=[p.name for p in GRAD_NOISE])
def test_gradient_noise_metrics_rederived_from_raw(path):
    from validation.experiments.gradient_noise import compare, config_from_dict, predict

    rec = read_record(path)
    cfg = config_from_dict(rec["config"])
    pred = {n: predict(cp["per_sample_cumulants"], cfg.batch_sizes)
            for n, cp in rec["raw"]["checkpoints"].items()}
    metrics = compare(cfg, pred, rec["raw"])
    assert json.loads(json.dumps(metrics)) == rec["metrics"]


def test_write_record_is_atomic_and_validated(tmp_path):
    with pytest.raises(ValueError, match="provenance"):
        write_record({"config": {}, "raw": {}, "metrics": {}}, tmp_path / "r.json")
    rec = {"config": {"a": 1}, "raw": {}, "metrics": {},
           "provenance": provenance(device="cpu", seed=0, wall_time_s=0.1)}
    p = write_record(rec, tmp_path / "r.json")
    assert read_record(p)["config"] == {"a": 1}
    assert not list(tmp_path.glob("*.tmp"))


T_SCAN = [p for p in RECORDS if read_record(p).get("experiment") == "temperature_scan"]


@pytest.mark.parametrize("path", T_SCAN, ids=[p.name for p in T_SCAN])
def test_temperature_scan_metrics_rederived_from_raw(path):
    from validation.experiments.temperature_scan import compare, config_from_dict, predict

    rec = read_record(path)
    cfg = config_from_dict(rec["config"])
    metrics = compare(cfg, predict(cfg), rec["raw"])
    assert json.loads(json.dumps(metrics)) == rec["metrics"]


SHIFT = [p for p in RECORDS if read_record(p).get("experiment") == "shift_curvature"]


@pytest.mark.parametrize("path", SHIFT, ids=[p.name for p in SHIFT])
def test_shift_curvature_metrics_rederived_from_raw(path):
    from validation.experiments.shift_curvature import compare, config_from_dict, predict

    rec = read_record(path)
    cfg = config_from_dict(rec["config"])
    metrics = compare(cfg, predict(cfg), rec["raw"])
    assert json.loads(json.dumps(metrics)) == rec["metrics"]
