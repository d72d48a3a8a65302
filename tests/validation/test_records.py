"""Committed records: provenance present, metrics re-derived from the raw summaries."""
import json

import pytest

from tests._compare import assert_tree_close

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
    assert_tree_close(json.loads(json.dumps(metrics)), rec["metrics"])


def test_write_record_is_atomic_and_validated(tmp_path):
    with pytest.raises(ValueError, match="provenance"):
        write_record({"config": {}, "raw": {}, "metrics": {}}, tmp_path / "r.json")
    rec = {"config": {"a": 1}, "raw": {}, "metrics": {},
           "provenance": provenance(device="cpu", seed=0, wall_time_s=0.1)}
    p = write_record(rec, tmp_path / "r.json")
    assert read_record(p)["config"] == {"a": 1}
    assert not list(tmp_path.glob("*.tmp"))


GRID_EXPERIMENTS = ("temperature_scan", "shift_curvature", "memorization")
GRID_RECORDS = [p for p in RECORDS if read_record(p).get("experiment") in GRID_EXPERIMENTS]


@pytest.mark.parametrize("path", GRID_RECORDS, ids=[p.name for p in GRID_RECORDS])
def test_grid_experiment_metrics_rederived_from_raw(path):
    import importlib

    rec = read_record(path)
    module = importlib.import_module(f"validation.experiments.{rec['experiment']}")
    cfg = module.config_from_dict(rec["config"])
    metrics = module.compare(cfg, module.predict(cfg), rec["raw"])
    assert_tree_close(json.loads(json.dumps(metrics)), rec["metrics"])


def test_committed_or_live_falls_back_to_the_small_run():
    import types

    from validation.experiments import committed_or_live

    calls = []

    def run(cfg, device):
        calls.append((cfg, device))
        return {"metrics": {"x": 1}}

    mod = types.SimpleNamespace(SMALL="small-config", run=run)
    rec, cfg, metrics, source = committed_or_live(mod, "no_such_record.json")
    assert calls == [("small-config", "cpu")]
    assert cfg == "small-config" and metrics == {"x": 1} and "live" in source


def test_experiment_command_line_runs_small_or_full(tmp_path, capsys):
    from validation.experiments import experiment_main

    seen = []

    def run(cfg, device, out, progress):
        seen.append((cfg, device, out, progress))
        return {"metrics": cfg}

    args = ["--out", str(tmp_path / "r.json"), "--small"]
    assert experiment_main(args, description="d", run=run, small="S", full="F",
                           summary=lambda rec: [f"ran {rec['metrics']}"]) == 0
    assert seen[-1] == ("S", "auto", str(tmp_path / "r.json"), True)
    assert "ran S" in capsys.readouterr().out
    experiment_main(["--out", "x.json", "--device", "cpu"], description="d", run=run, small="S", full="F",
                    summary=lambda rec: [])
    assert seen[-1][:2] == ("F", "cpu")
    with pytest.raises(SystemExit):
        experiment_main([], description="d", run=run, small="S", full="F", summary=lambda rec: [])
