"""The experiment protocol: one registry, one typed config loader, one command line."""
from __future__ import annotations

import dataclasses
import json
import os

import pytest

from validation.__main__ import main as cli
from validation.claims_index import CLAIM_IDS
from validation.experiments import (
    EXPERIMENT_MODULES,
    PRESETS,
    Experiment,
    ExperimentConfigError,
    UnknownExperimentError,
    UnknownPresetError,
    all_experiments,
    config_from_dict,
    get_experiment,
)
from validation.records import DATA_DIR

EXPERIMENTS = all_experiments()
NAMES = [e.name for e in EXPERIMENTS]


def test_registry_holds_every_experiment_once():
    assert {"escape_rates", "gradient_noise", "temperature_scan", "shift_curvature", "memorization",
            "synthetic"} <= set(NAMES)
    assert len(EXPERIMENT_MODULES) == len(NAMES) == len(set(NAMES))   # one experiment per module, names unique
    import pkgutil

    import validation.experiments as pkg_

    on_disk = {m.name for m in pkgutil.iter_modules(pkg_.__path__) if not m.name.startswith("_")}
    assert set(EXPERIMENT_MODULES) == on_disk   # a module in the package is registered, no list to edit
    import validation.experiments as pkg

    assert set(pkg.REGISTRY) == set(NAMES)
    assert all(isinstance(e, Experiment) for e in EXPERIMENTS)


def test_unknown_experiment_lists_the_known_names():
    with pytest.raises(UnknownExperimentError) as info:
        get_experiment("nope")
    for name in NAMES:
        assert name in str(info.value)


@pytest.mark.parametrize("exp", EXPERIMENTS, ids=NAMES)
def test_experiment_declares_claims_presets_estimates_and_record(exp):
    assert exp.claims and all(c in CLAIM_IDS for c in exp.claims)
    for preset in PRESETS:
        assert isinstance(exp.preset(preset), exp.config_type)
        assert exp.estimate_s(preset, "cpu") > 0 and exp.estimate_s(preset, "cuda") > 0
    assert exp.estimate_s("gpu", "cuda") <= 180  # the GPU preset is sized for 1–3 min on one H100/H200
    assert exp.estimate_s("small", "cpu") <= 60  # the ledger runs it live
    with pytest.raises(UnknownPresetError, match="small, full, gpu"):
        exp.preset("huge")
    assert exp.record_name == exp.record_name_for("cpu") and exp.record_name.endswith("_cpu.json")
    assert exp.record_names()[0].endswith("_gpu.json")  # the largest device first
    text = exp.help_text()
    assert "on one CPU core" in text and "H100/H200" in text and text.endswith(".")


@pytest.mark.parametrize("exp", EXPERIMENTS, ids=NAMES)
def test_every_preset_round_trips_through_json(exp):
    for preset in PRESETS:
        cfg = exp.preset(preset)
        back = exp.config_from_dict(json.loads(json.dumps(dataclasses.asdict(cfg))))
        assert back == cfg


def _small_dict(name="temperature_scan"):
    return json.loads(json.dumps(dataclasses.asdict(get_experiment(name).SMALL)))


def test_config_from_dict_names_unknown_and_missing_fields():
    exp = get_experiment("temperature_scan")
    d = _small_dict()
    d["learning_rate"] = 0.1  # a typo of learning_rates
    del d["learning_rates"]
    with pytest.raises(ExperimentConfigError) as info:
        exp.config_from_dict(d)
    assert "unknown field(s) learning_rate" in str(info.value) and "missing field(s) learning_rates" in str(info.value)


@pytest.mark.parametrize("field, value, words", [
    ("sde_time", "120.0", "must be a number"),
    ("hidden", 24.0, "whole number"),
    ("hidden", True, "whole number"),
    ("learning_rates", [0.05, "0.1"], "learning_rates[1]"),
    ("learning_rates", "0.05", "must be a list"),
    ("sde_time", float("nan"), "finite"),
    ("sde_time", -1.0, "sde_time must be > 0"),  # the config's own __post_init__
])
def test_config_from_dict_checks_numbers_strictly(field, value, words):
    d = _small_dict()
    d[field] = value
    with pytest.raises(ExperimentConfigError) as info:
        get_experiment("temperature_scan").config_from_dict(d)
    assert words in str(info.value)


def test_config_from_dict_never_evaluates_a_string(tmp_path):
    marker = tmp_path / "pwned"
    d = _small_dict()
    d["sde_time"] = f"__import__('pathlib').Path(r'{marker}').touch() or 1.0"
    with pytest.raises(ExperimentConfigError):
        get_experiment("temperature_scan").config_from_dict(d)
    assert not marker.exists()


def test_config_from_dict_restores_tuples_and_refuses_non_dataclasses():
    cfg = get_experiment("memorization").config_from_dict(_small_dict("memorization"))
    assert isinstance(cfg.levels, tuple) and isinstance(cfg.batch_sizes, tuple)
    with pytest.raises(ExperimentConfigError, match="dataclass"):
        config_from_dict(dict, {})
    with pytest.raises(ExperimentConfigError, match="JSON object"):
        get_experiment("memorization").config_from_dict([1, 2])


# ------------------------------------------------------------------------------------------------
# python -m validation run
# ------------------------------------------------------------------------------------------------
def test_run_help_states_each_preset_run_time(capsys):
    with pytest.raises(SystemExit) as info:
        cli(["run", "--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for exp in EXPERIMENTS:
        assert f"{exp.name}: " in out
    assert out.count("Estimated run times: small about") == len(EXPERIMENTS)
    assert "--resume Continue an interrupted run" in out and "--force Replace an existing --out file" in out


def test_run_refuses_unknown_name_and_missing_name(capsys):
    assert cli(["run", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown experiment 'nope'" in err and "temperature_scan" in err
    assert cli(["run"]) == 2
    assert "--all" in capsys.readouterr().err
    assert cli(["run", "synthetic", "--all"]) == 2


def test_run_small_writes_the_default_record_and_replaces_its_own(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli(["run", "synthetic", "--small", "--device", "cpu", "--no-progress"]) == 0
    out = tmp_path / "runs" / "synthetic_cpu_small.json"
    rec = json.loads(out.read_text())
    assert rec["experiment"] == "synthetic" and rec["config"]["panels"] == ["SC.fig4.left", "SC.fig4.right"]
    assert rec["metrics"]["claims"]["SC.fig4"]["holds"] is True
    assert "SC.fig4: holds" in capsys.readouterr().out
    assert cli(["run", "synthetic", "--preset", "small", "--device", "cpu", "--no-progress"]) == 0  # ours: replaced
    assert not list(tmp_path.rglob("*.tmp"))


def test_run_refuses_a_committed_record_before_any_work(monkeypatch, capsys):
    exp = get_experiment("escape_rates")

    def boom(*a, **k):
        raise AssertionError("measured before the output was checked")

    monkeypatch.setattr(type(exp), "run", boom)
    committed = DATA_DIR / "dt_sec4_cpu.json"
    before = committed.read_bytes()
    assert cli(["run", "escape_rates", "--small", "--out", str(committed)]) == 2
    err = capsys.readouterr().err
    assert "committed record" in err and "--force" in err
    assert committed.read_bytes() == before


def test_run_all_checks_every_output_before_any_work(tmp_path, monkeypatch, capsys):
    exp_type = type(EXPERIMENTS[0])

    def boom(*a, **k):
        raise AssertionError("an experiment started before every output was checked")

    monkeypatch.setattr(exp_type, "run", boom)
    folder = tmp_path / "all"
    folder.mkdir()
    (folder / "synthetic_cpu_small.json").write_text("my notes")  # the last experiment's output
    assert cli(["run", "--all", "--small", "--device", "cpu", "--out", str(folder)]) == 2
    assert "--force" in capsys.readouterr().err
    assert sorted(os.listdir(folder)) == ["synthetic_cpu_small.json"]
    assert (folder / "synthetic_cpu_small.json").read_text() == "my notes"
    (tmp_path / "file").write_text("x")
    assert cli(["run", "--all", "--small", "--out", str(tmp_path / "file")]) == 2


def test_claims_progress_flags_parse():
    import argparse

    import validation.__main__ as m

    seen = {}

    def fake(args):
        seen["progress"] = args.progress
        return 0

    monkeypatch_parser = argparse.ArgumentParser  # noqa: F841 - the real parser is used below
    orig = m._claims
    try:
        m._claims = fake
        assert m.main(["claims", "--no-progress", "SC.eq5"]) == 0
        assert seen["progress"] is False
        assert m.main(["claims", "SC.eq5"]) == 0
        assert seen["progress"] is None  # decided by whether stdout is a terminal
    finally:
        m._claims = orig


def test_records_carry_the_measurements_throughput(tmp_path):
    """provenance.throughput: the experiment's work (chain-steps, per-sample gradients) per second of
    measurement — what a GPU record is compared by; runs/s when an experiment states no work."""
    from validation.experiments import get_experiment
    from validation.records import read_record

    exp = get_experiment("escape_rates")
    rec = exp.run("small", "cpu", tmp_path / "e.json")
    tp = read_record(tmp_path / "e.json")["provenance"]["throughput"]
    assert tp == rec["provenance"]["throughput"]
    assert tp["unit"] == "chain-steps" and tp["amount"] > 0 and tp["per_s"] == pytest.approx(tp["amount"] / tp["measure_s"], rel=1e-2)
    assert tp["amount"] == pytest.approx(exp.work(exp.SMALL, rec["raw"])[0])


def test_workers_and_scheduler_reach_the_grid(tmp_path, capsys):
    """--workers N trains a grid's runs in a local pool (each run on its own, as train_sgd does) and
    writes the same record structure as the ensemble route. The numbers are not compared: a 100-epoch
    training amplifies the last-bit differences between batched (bmm) and single (mm) products into
    accuracy differences of ~0.005 on some CPUs (seen in CI). --scheduler without dask installed is a
    clear error before any work."""
    from validation.records import read_record

    a, b = tmp_path / "ens.json", tmp_path / "pool.json"
    assert cli(["run", "memorization", "--small", "--device", "cpu", "--out", str(a), "--no-progress"]) == 0
    assert cli(["run", "memorization", "--small", "--device", "cpu", "--workers", "2", "--out", str(b),
                "--no-progress"]) == 0
    ra, rb = read_record(a), read_record(b)
    assert ra["config"] == rb["config"] and set(ra["metrics"]) == set(rb["metrics"])
    assert [(r["lr"], r["batch_size"], r["seed"]) for r in rb["raw"]["runs"]] == \
        [(r["lr"], r["batch_size"], r["seed"]) for r in ra["raw"]["runs"]]
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        capsys.readouterr()
        assert cli(["run", "memorization", "--small", "--device", "cpu", "--scheduler", "tcp://127.0.0.1:1",
                    "--out", str(tmp_path / "d.json")]) == 2
        assert 'pip install "dask[distributed]"' in capsys.readouterr().err
