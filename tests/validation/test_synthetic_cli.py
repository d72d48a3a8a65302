"""validation.synthetic_cli: JSON round trip, exact result keys, config errors naming the field."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from validation.synthetic_cli import RESULT_KEYS, ConfigError, run_config, run_config_file

ROOT = Path(__file__).resolve().parents[2]

GOOD = {
    "basins": [{"mean": -1, "weight": 0.021, "sigma": 0.1}, {"mean": 1, "weight": 0.1, "sigma": 0.5}],
    "c": 0.001, "shift": 0.1764, "temperatures": [0.003, 0.01, 0.02, 0.05, 0.2], "domain": [-3, 3],
    "grid": 4001,
}


def test_round_trip_json(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(GOOD))
    out = tmp_path / "sub" / "r.json"
    run_config_file(cfg, out)
    res = json.loads(out.read_text())
    assert tuple(res) == RESULT_KEYS
    assert res["temperatures"] == GOOD["temperatures"]
    n = len(GOOD["temperatures"])
    assert all(len(res[k]) == n for k in ("train_loss", "test_loss", "basin_weights", "basin_weights_laplace",
                                          "test_loss_laplace"))
    assert all(abs(sum(w) - 1) < 1e-12 and len(w) == 2 for w in res["basin_weights"])
    assert [set(b) for b in res["basins"]] == [{"minimum", "depth", "curvature"}] * 2
    assert res["basins"][0]["minimum"] < res["basins"][1]["minimum"]  # ordered by position
    assert res["basins"][0]["curvature"] > res["basins"][1]["curvature"]  # the -1 well is narrower
    # deeper-but-narrower well at -1: an interior optimal temperature exists (SC Fig. 4 left)
    assert res["optimal_temperature"] is not None and 0.003 < res["optimal_temperature"] < 0.2
    assert not list(out.parent.glob("*.tmp"))  # atomic write leaves no temp file


def test_defaults_and_depth_shifts():
    cfg = dict(GOOD, temperatures=[0.01], depth_shifts=[0.001, -0.001], diffusion=2.0)
    res = run_config(cfg)
    assert res["optimal_temperature"] is None  # one temperature: nothing to optimise
    base = run_config(dict(GOOD, temperatures=[0.02]))
    # doubling D is the same as doubling T (ρ ∝ exp(−2U/(TD))) up to the depth shifts
    same = run_config(dict(GOOD, temperatures=[0.01], diffusion=2.0))
    assert same["basin_weights"][0] == pytest.approx(base["basin_weights"][0], abs=1e-10)
    assert res["basin_weights"][0][0] > same["basin_weights"][0][0]  # deeper left well in train


@pytest.mark.parametrize(
    "patch, field",
    [
        ({"basins": [{"mean": -1, "weight": 0.021, "sigma": -0.1}, {"mean": 1, "weight": 0.1, "sigma": 0.5}]},
         "basins[0].sigma"),
        ({"temperatures": [0.01, 0.0]}, "temperatures[1]"),
        ({"temperatures": [-1]}, "temperatures[0]"),
        ({"domain": [-0.5, 3]}, "domain"),
        ({"domain": [3, -3]}, "domain"),
        ({"basins": [{"mean": -0.05, "weight": 0.1, "sigma": 0.5}, {"mean": 0.05, "weight": 0.1, "sigma": 0.5}]},
         "basins"),
        ({"colour": "red"}, "colour"),
        ({"c": "0.001"}, "c"),
        ({"c": True}, "c"),
        ({"temperatures": 0.1}, "temperatures"),
        ({"basins": [{"mean": 0, "weight": 0.1}]}, "basins[0].sigma"),
        ({"basins": [{"mean": 0, "weight": 0.1, "sigma": 0.1, "x": 1}]}, "basins[0].x"),
        ({"depth_shifts": [0.0]}, "depth_shifts"),
        ({"diffusion": 0}, "diffusion"),
        ({"grid": 10}, "grid"),
    ],
)
def test_bad_configs_name_the_field(patch, field):
    with pytest.raises(ConfigError) as info:
        run_config(dict(GOOD, **patch))
    assert info.value.field == field
    assert str(info.value).startswith(field)
    assert isinstance(info.value, ValueError)


def test_missing_required_key():
    cfg = dict(GOOD)
    del cfg["shift"]
    with pytest.raises(ConfigError, match="shift"):
        run_config(cfg)


def test_cli_exit_code_2_on_bad_config(tmp_path):
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps(dict(GOOD, temperatures=[0.0])))
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "validation", "synthetic", "--config", str(cfg), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2
    assert "temperatures[0]" in proc.stderr
    assert not out.exists()
    bad_json = tmp_path / "broken.json"
    bad_json.write_text("{not json")
    with pytest.raises(ConfigError, match="config"):
        run_config_file(bad_json, out)
