"""Outputs never destroy inputs: every command that writes checks its output path
before any work, replaces files atomically and only on purpose, and long experiments resume."""
import dataclasses
import json
import os
import stat

import pytest

from validation import _io
from validation.__main__ import main as validation_main
from validation._io import OutputPathError, check_output_dir, check_output_file, write_json_atomic
from validation.checkpoint import CheckpointError, checkpoint_path, open_checkpoint
from validation.experiments import map_runs, run_experiment
from validation.records import DATA_DIR, provenance, read_record, write_record

GOOD = {"basins": [{"mean": -1, "weight": 0.021, "sigma": 0.1}, {"mean": 1, "weight": 0.1, "sigma": 0.5}],
        "c": 0.001, "shift": 0.1764, "temperatures": [0.01, 0.05], "domain": [-3, 3], "grid": 401}


def _no_temp_files(folder):
    return not [p for p in os.listdir(folder) if p.endswith(".tmp")]


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(GOOD))
    return path


@pytest.fixture
def no_synthetic_work(monkeypatch):
    """Fail the test if the synthetic pipeline starts: refusals must come before any work."""
    import validation.synthetic_cli as sc

    def boom(*a, **k):
        raise AssertionError("the work started before the output path was refused")

    monkeypatch.setattr(sc, "run_config", boom)


# ------------------------------------------------------------------------------------------------
# python -m validation synthetic
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("force", [[], ["--force"]])
def test_synthetic_out_equal_to_config_is_refused(config_file, capsys, no_synthetic_work, force):
    before = config_file.read_bytes()
    rc = validation_main(["synthetic", "--config", str(config_file), "--out", str(config_file), *force])
    assert rc == 2
    err = capsys.readouterr().err
    assert "input file" in err and "different path" in err
    assert config_file.read_bytes() == before


def test_synthetic_out_spelled_differently_or_hard_linked_is_refused(config_file, tmp_path, capsys,
                                                                     no_synthetic_work):
    before = config_file.read_bytes()
    other_spelling = tmp_path / "sub" / ".." / "c.json"
    (tmp_path / "sub").mkdir()
    assert validation_main(["synthetic", "--config", str(config_file), "--out", str(other_spelling),
                            "--force"]) == 2
    link = tmp_path / "hard.json"
    os.link(config_file, link)
    assert validation_main(["synthetic", "--config", str(config_file), "--out", str(link), "--force"]) == 2
    assert "input file" in capsys.readouterr().err
    assert config_file.read_bytes() == before


def test_synthetic_symlink_out_is_refused(config_file, tmp_path, capsys, no_synthetic_work):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    link = tmp_path / "r.json"
    link.symlink_to(target)
    assert validation_main(["synthetic", "--config", str(config_file), "--out", str(link), "--force"]) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert link.is_symlink() and target.read_text() == "keep me"


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_synthetic_dev_null_and_fifo_are_refused(config_file, tmp_path, capsys, no_synthetic_work, force):
    assert validation_main(["synthetic", "--config", str(config_file), "--out", os.devnull, *force]) == 2
    assert "not a regular file" in capsys.readouterr().err
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert validation_main(["synthetic", "--config", str(config_file), "--out", str(fifo), *force]) == 2
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_synthetic_directory_out_is_refused(config_file, tmp_path, capsys, no_synthetic_work):
    d = tmp_path / "results"
    d.mkdir()
    assert validation_main(["synthetic", "--config", str(config_file), "--out", str(d), "--force"]) == 2
    assert "existing folder" in capsys.readouterr().err
    assert validation_main(["synthetic", "--config", str(config_file), "--out", str(tmp_path / "new") + "/"]) == 2
    assert not (tmp_path / "new").exists()


def test_synthetic_existing_file_needs_force(config_file, tmp_path, capsys):
    out = tmp_path / "notes.json"
    out.write_text("my notes")
    assert validation_main(["synthetic", "--config", str(config_file), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert out.read_text() == "my notes"
    assert validation_main(["synthetic", "--config", str(config_file), "--out", str(out), "--force"]) == 0
    first = json.loads(out.read_text())
    assert first["temperatures"] == pytest.approx(GOOD["temperatures"])
    # an earlier result of this command is replaced without --force
    config_file.write_text(json.dumps(dict(GOOD, temperatures=[0.02])))
    assert validation_main(["synthetic", "--config", str(config_file), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["temperatures"] == pytest.approx([0.02])
    assert _no_temp_files(tmp_path)


# ------------------------------------------------------------------------------------------------
# the experiment command line
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def no_measure(monkeypatch):
    """Every experiment's ``measure`` fails the test when called."""
    import importlib

    def boom(*a, **k):
        raise AssertionError("the experiment started before --out was refused")

    for name in ("gradient_noise", "escape_rates", "temperature_scan", "shift_curvature", "memorization"):
        monkeypatch.setattr(importlib.import_module(f"validation.experiments.{name}"), "measure", boom)


def test_experiment_out_equal_to_its_input_is_refused(no_measure, capsys):
    from validation.experiments import temperature_scan

    src = temperature_scan.__file__
    with open(src, "rb") as fh:
        before = fh.read()
    assert temperature_scan.main(["--small", "--out", src, "--force"]) == 2
    assert "input file" in capsys.readouterr().err
    with open(src, "rb") as fh:
        assert fh.read() == before


@pytest.mark.parametrize("module", ["gradient_noise", "escape_rates", "temperature_scan", "shift_curvature",
                                    "memorization"])
def test_experiment_directory_out_is_refused_before_work(module, tmp_path, no_measure, capsys):
    import importlib

    mod = importlib.import_module(f"validation.experiments.{module}")
    assert mod.main(["--small", "--out", str(tmp_path)]) == 2
    assert "existing folder" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []  # nothing written, no .tmp


def test_experiment_symlink_and_dev_null_are_refused(tmp_path, no_measure, capsys):
    from validation.experiments import escape_rates

    target = tmp_path / "target.json"
    target.write_text("{}")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert escape_rates.main(["--small", "--out", str(link), "--force"]) == 2
    assert escape_rates.main(["--small", "--out", os.devnull, "--force"]) == 2
    err = capsys.readouterr().err
    assert "symbolic link" in err and "not a regular file" in err
    assert target.read_text() == "{}"


def test_committed_record_is_replaced_only_with_force(no_measure, capsys):
    from validation.experiments import escape_rates

    committed = DATA_DIR / "dt_sec4_cpu.json"
    before = committed.read_bytes()
    assert escape_rates.main(["--small", "--out", str(committed)]) == 2
    err = capsys.readouterr().err
    assert "committed record" in err and "--force" in err
    assert committed.read_bytes() == before


def test_help_documents_force_and_resume(capsys):
    from validation.experiments import memorization

    with pytest.raises(SystemExit) as info:
        memorization.main(["--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--force Replace an existing --out file" in out
    assert "--resume Continue an interrupted run" in out
    with pytest.raises(SystemExit):
        validation_main(["synthetic", "--help"])
    assert "--force Replace an existing --out file" in " ".join(capsys.readouterr().out.split())


# a toy experiment on the real machinery (run_experiment, map_runs, write_record, checkpoint)
@dataclasses.dataclass(frozen=True)
class ToyConfig:
    n: int = 5
    scale: float = 1.0
    seed: int = 0


class Interrupt:
    """A run function that counts its calls and raises KeyboardInterrupt on call number ``at``."""

    def __init__(self, fn, at=None):
        self.fn, self.at, self.calls = fn, at, []

    def __call__(self, *args, **kwargs):
        self.calls.append(args)
        if self.at is not None and len(self.calls) == self.at:
            raise KeyboardInterrupt
        return self.fn(*args, **kwargs)


def _toy_one(cfg, i):
    import numpy as np

    rng = np.random.default_rng(1000 * cfg.seed + i)  # each run seeded by its own item
    return {"i": i, "value": float(cfg.scale * rng.normal()), "draws": rng.normal(size=3).tolist()}


def _toy_experiment(one, full):
    """A registered-looking experiment whose runs are ``one(cfg, i)``, i < cfg.n."""
    from validation.experiments import PRESETS, Experiment

    def measure(cfg, device, *, progress=False, checkpoint=None):
        runs = map_runs(lambda i: one(cfg, i), [(i,) for i in range(cfg.n)], dev="cpu", desc="toy",
                        checkpoint=checkpoint)
        return {"device": "cpu", "runs": runs}

    return Experiment(name="toy", claims=("TOY",), config_type=ToyConfig, SMALL=ToyConfig(n=3), FULL=full, GPU=full,
                      measure=measure, predict=lambda c, raw: {},
                      compare=lambda c, p, raw: {"mean": sum(r["value"] for r in raw["runs"]) / c.n},
                      record_stem="toy", estimates={p: {"cpu": 1.0, "gpu": 1.0} for p in PRESETS},
                      summary=lambda rec: [f"mean {rec['metrics']['mean']}"])


def _toy_main(argv, one=_toy_one, full=ToyConfig()):
    """``python -m validation run toy ARGV`` with the toy experiment in the registry's place."""
    from unittest import mock

    exp = _toy_experiment(one, full)
    with mock.patch("validation.experiments.get_experiment", lambda name: exp):
        return validation_main(["run", "toy", "--device", "cpu", "--no-progress", *argv])


def test_experiment_existing_file_needs_force_and_earlier_record_is_replaced(tmp_path, capsys):
    out = tmp_path / "r.json"
    out.write_text("not a record")
    assert _toy_main(["--out", str(out)]) == 2
    assert out.read_text() == "not a record"
    assert _toy_main(["--out", str(out), "--force"]) == 0
    first = read_record(out)
    assert first["experiment"] == "toy" and len(first["raw"]["runs"]) == 5
    assert _toy_main(["--out", str(out), "--small"]) == 0  # an earlier record of ours: no --force needed
    assert len(read_record(out)["raw"]["runs"]) == 3
    assert _no_temp_files(tmp_path) and not checkpoint_path(out).exists()


def test_committed_record_replaced_with_force(tmp_path, monkeypatch, capsys):
    import validation.records

    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setattr(validation.records, "DATA_DIR", data)
    committed = data / "toy_cpu.json"
    rec = {"config": {}, "raw": {}, "metrics": {}, "provenance": provenance(device="cpu", seed=0, wall_time_s=0)}
    committed.write_text(json.dumps(rec))  # ours, but committed
    before = committed.read_bytes()
    assert _toy_main(["--out", str(committed)]) == 2
    assert "committed record" in capsys.readouterr().err
    assert committed.read_bytes() == before
    assert _toy_main(["--out", str(committed), "--force"]) == 0
    assert read_record(committed)["experiment"] == "toy"


# ------------------------------------------------------------------------------------------------
# atomic writes: umask, no temp file after a failure
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_written_files_follow_the_umask(tmp_path, mask, mode):
    rec = {"config": {}, "raw": {}, "metrics": {}, "provenance": provenance(device="cpu", seed=0, wall_time_s=0)}
    old = os.umask(mask)
    try:
        p = write_record(rec, tmp_path / "r.json")
        q = write_json_atomic({"a": 1}, tmp_path / "s.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(p).st_mode) == mode
    assert stat.S_IMODE(os.stat(q).st_mode) == mode


@pytest.mark.parametrize("where, exc", [("replace", OSError), ("fsync", KeyboardInterrupt)])
def test_no_temp_file_after_a_failure_mid_write(tmp_path, monkeypatch, where, exc):
    out = tmp_path / "r.json"
    rec = {"config": {}, "raw": {}, "metrics": {}, "provenance": provenance(device="cpu", seed=0, wall_time_s=0)}
    write_record(rec, out)
    before = out.read_bytes()

    def fail(*a, **k):
        raise exc("simulated failure")

    with monkeypatch.context() as m:
        m.setattr(_io.os, where, fail)
        with pytest.raises(exc):
            write_record(dict(rec, config={"changed": True}), out)
    assert out.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["r.json"]


def test_unserialisable_record_writes_nothing(tmp_path):
    rec = {"config": {"x": object()}, "raw": {}, "metrics": {},
           "provenance": provenance(device="cpu", seed=0, wall_time_s=0)}
    with pytest.raises(TypeError):
        write_record(rec, tmp_path / "r.json")
    assert os.listdir(tmp_path) == []


def test_guard_errors_are_typed_value_errors(tmp_path):
    assert issubclass(OutputPathError, ValueError) and issubclass(CheckpointError, ValueError)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputPathError, match="not a folder"):
        check_output_file(blocker / "r.json")
    with pytest.raises(OutputPathError, match="empty"):
        check_output_file("")
    assert check_output_file(tmp_path / "new" / "r.json") == tmp_path / "new" / "r.json"


# ------------------------------------------------------------------------------------------------
# the report folder
# ------------------------------------------------------------------------------------------------
class _Reached(Exception):
    pass


@pytest.fixture
def report_stops_at_work(monkeypatch):
    """The report's first piece of work (the ledger) raises _Reached: the folder check has passed."""
    import validation.ledger

    def reached(*a, **k):
        raise _Reached

    monkeypatch.setattr(validation.ledger, "ledger", reached)


def test_report_refuses_a_user_folder(tmp_path, report_stops_at_work, capsys):
    d = tmp_path / "documents"
    d.mkdir()
    (d / "thesis.md").write_text("years of work")
    assert validation_main(["report", "--out", str(d), "--no-notebooks"]) == 2
    assert "not a report" in capsys.readouterr().err
    assert sorted(os.listdir(d)) == ["thesis.md"] and (d / "thesis.md").read_text() == "years of work"
    with pytest.raises(_Reached):  # --force: on purpose
        validation_main(["report", "--out", str(d), "--no-notebooks", "--force"])


def test_report_refuses_links_and_files(tmp_path, report_stops_at_work):
    from validation.report import build_report

    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(OutputPathError, match="symbolic link"):
        build_report(link, execute_notebooks=False, force=True)
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OutputPathError, match="not a folder"):
        build_report(f, execute_notebooks=False, force=True)
    assert os.listdir(real) == []


def test_report_accepts_new_empty_and_earlier_report_folders(tmp_path, report_stops_at_work):
    from validation.report import build_report

    for d in (tmp_path / "new", tmp_path / "empty"):
        if d.name == "empty":
            d.mkdir()
        with pytest.raises(_Reached):
            build_report(d, execute_notebooks=False)
        assert (d / _io.REPORT_MARKER).is_file()  # marked as ours for the next run
    legacy = tmp_path / "legacy"  # a report written before the marker existed
    (legacy / "figures").mkdir(parents=True)
    (legacy / "report.md").write_text("# old")
    (legacy / "index.html").write_text("<html>")
    assert check_output_dir(legacy) == legacy


# ------------------------------------------------------------------------------------------------
# checkpoint and resume
# ------------------------------------------------------------------------------------------------
def test_interrupted_toy_sweep_resumes_without_recomputing(tmp_path, capsys):
    out, ref = tmp_path / "r.json", tmp_path / "ref.json"
    assert _toy_main(["--out", str(ref)]) == 0
    first = Interrupt(_toy_one, at=3)
    assert _toy_main(["--out", str(out)], one=first) == 130
    assert "--resume" in capsys.readouterr().err
    assert not out.exists() and checkpoint_path(out).exists() and _no_temp_files(tmp_path)
    # without --resume the checkpoint is not silently thrown away
    assert _toy_main(["--out", str(out)]) == 2
    assert "--resume" in capsys.readouterr().err
    second = Interrupt(_toy_one)
    assert _toy_main(["--out", str(out), "--resume"], one=second) == 0
    assert "resuming 2 finished run(s)" in capsys.readouterr().out
    assert [c[1] for c in second.calls] == [2, 3, 4]  # runs 0 and 1 were not recomputed
    got, want = read_record(out), read_record(ref)
    for a, b in zip(got["raw"]["runs"], want["raw"]["runs"]):
        assert a["i"] == b["i"]
        assert a["value"] == pytest.approx(b["value"], rel=1e-12)
        assert a["draws"] == pytest.approx(b["draws"], rel=1e-12)
    assert got["metrics"]["mean"] == pytest.approx(want["metrics"]["mean"], rel=1e-12)
    assert got["provenance"]["resumed_runs"] == 2
    assert not checkpoint_path(out).exists()  # removed after success


def test_resume_with_another_config_is_refused(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert _toy_main(["--out", str(out)], one=Interrupt(_toy_one, at=2)) == 130
    side = checkpoint_path(out)
    before = side.read_bytes()
    assert _toy_main(["--out", str(out), "--resume", "--small"]) == 2  # another preset
    assert "another config" in capsys.readouterr().err
    assert side.read_bytes() == before
    with pytest.raises(CheckpointError, match="another config"):
        open_checkpoint(out, ToyConfig(scale=2.0), resume=True)
    # --force without --resume discards the checkpoint and starts over
    again = Interrupt(_toy_one)
    assert _toy_main(["--out", str(out), "--force"], one=again) == 0
    assert len(again.calls) == 5 and not side.exists()


def test_a_line_cut_short_by_a_kill_is_redone(tmp_path):
    out = tmp_path / "r.json"
    assert _toy_main(["--out", str(out)], one=Interrupt(_toy_one, at=4)) == 130
    side = checkpoint_path(out)
    side.write_text(side.read_text() + '{"key": ["toy", [3]], "val')  # a write cut short
    again = Interrupt(_toy_one)
    assert _toy_main(["--out", str(out), "--resume"], one=again) == 0
    assert [c[1] for c in again.calls] == [3, 4]


def test_checkpoint_sidecar_link_is_refused(tmp_path):
    out = tmp_path / "r.json"
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    checkpoint_path(out).symlink_to(target)
    assert _toy_main(["--out", str(out), "--force"]) == 2
    assert target.read_text() == "keep"


SMALL_SCAN = dict(learning_rates=(0.05, 0.1), batch_sizes=(8, 16), seeds=(0,), n_train=64, hidden=8,
                  sde_time=3.0, power_iterations=5)


def test_temperature_scan_interrupted_and_resumed_equals_uninterrupted(tmp_path, monkeypatch):
    from validation.experiments import temperature_scan as ts

    cfg = ts.TemperatureScanConfig(**SMALL_SCAN)
    ref = ts.run(cfg, device="cpu", out=tmp_path / "ref.json")
    original = ts._train_one
    first = Interrupt(original, at=3)
    monkeypatch.setattr(ts, "_train_one", first)
    out = tmp_path / "r.json"
    with pytest.raises(KeyboardInterrupt):
        ts.run(cfg, device="cpu", out=out)
    assert not out.exists() and _no_temp_files(tmp_path)
    second = Interrupt(original)
    monkeypatch.setattr(ts, "_train_one", second)
    rec = ts.run(cfg, device="cpu", out=out, resume=True)
    assert [(c[1], c[2]) for c in second.calls] == [(0.1, 8), (0.1, 16)]  # the 2 finished runs reused
    for a, b in zip(rec["raw"]["runs"], ref["raw"]["runs"]):
        assert (a["lr"], a["batch_size"], a["seed"]) == (b["lr"], b["batch_size"], b["seed"])
        for k in ("train_loss", "test_loss", "sharpness"):
            assert a[k] == pytest.approx(b[k], rel=1e-9)
    assert rec["metrics"]["test_loss"]["b_log_lr"] == pytest.approx(ref["metrics"]["test_loss"]["b_log_lr"],
                                                                    rel=1e-9, abs=1e-12)
    assert read_record(out)["provenance"]["resumed_runs"] == 2


def test_gradient_noise_resumes_with_the_same_random_numbers(tmp_path, monkeypatch):
    from validation.experiments import gradient_noise as gn

    cfg = gn.GradientNoiseConfig(batch_sizes=(1, 4, 16), n_batches=100, hidden=4, train_epochs=1,
                                 n_principal=2, n_random=1, groups=10)
    ref = gn.run(cfg, device="cpu")
    original = gn._batch_statistics
    monkeypatch.setattr(gn, "_batch_statistics", Interrupt(original, at=3))
    out = tmp_path / "g.json"
    with pytest.raises(KeyboardInterrupt):
        gn.run(cfg, device="cpu", out=out)
    again = Interrupt(original)
    monkeypatch.setattr(gn, "_batch_statistics", again)
    rec = gn.run(cfg, device="cpu", out=out, resume=True)
    assert [c[3] for c in again.calls] == [16, 1, 4, 16]  # initial B=1, 4 were reused
    for phase in ("initial", "trained"):
        a, b = rec["raw"]["checkpoints"][phase], ref["raw"]["checkpoints"][phase]
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-12)
        for B in ("1", "4", "16"):
            for k in ("skewness", "excess_kurtosis"):
                assert a["per_batch"][B][k] == pytest.approx(b["per_batch"][B][k], rel=1e-9, abs=1e-12)
            assert a["per_batch"][B]["ks_norm_distance"] == pytest.approx(b["per_batch"][B]["ks_norm_distance"])


def test_escape_rates_resumes_sweep_points(tmp_path, monkeypatch):
    import numerics.sgd_escape
    from validation.experiments import escape_rates as er

    cfg = er.EscapeRatesConfig(dim=1, n_runs=8, max_steps=5000, inv_k_values=(0.8, 1.0, 1.2),
                               sharpness_lr=0.015, batch_values=(2, 3, 4), batch_lr=0.03,
                               inv_lr_values=(50.0, 70.0, 90.0))
    ref = er.measure(cfg, "cpu")
    original = numerics.sgd_escape.simulate_escape
    monkeypatch.setattr(numerics.sgd_escape, "simulate_escape", Interrupt(original, at=5))
    out = tmp_path / "e.json"
    with pytest.raises(KeyboardInterrupt):
        er.run(cfg, device="cpu", out=out)
    again = Interrupt(original)
    monkeypatch.setattr(numerics.sgd_escape, "simulate_escape", again)
    rec = er.run(cfg, device="cpu", out=out, resume=True)
    assert len(again.calls) == 9 - 4
    for sweep in er.SWEEPS:
        for a, b in zip(rec["raw"]["sweeps"][sweep], ref["sweeps"][sweep]):
            assert a["mean_steps"] == pytest.approx(b["mean_steps"], rel=1e-12)


# ------------------------------------------------------------------------------------------------
# provenance (point 1)
# ------------------------------------------------------------------------------------------------
def test_provenance_records_every_numeric_library():
    prov = provenance(device="cpu (x86_64)", seed=3, wall_time_s=1.25)
    versions = prov["versions"]
    for lib in ("python", "numpy", "scipy", "sympy", "mpmath", "torch", "scikit-learn"):
        assert isinstance(versions[lib], str) and versions[lib]
    assert "cuda" in versions and "cudnn" in versions
    assert prov["platform"] and prov["cpu"] and prov["cpu_count"] >= 1
    assert prov["gpu"] is None  # a CPU device
    assert prov["seed"] == 3 and prov["wall_time_s"] == pytest.approx(1.25)
    json.dumps(prov)  # JSON only
