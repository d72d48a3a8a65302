"""One evidence route: the checks judge, and the report sections render, the same evidence object
(same record, same metrics); the record of the largest device is chosen; no record → live run."""
from __future__ import annotations

import copy
import dataclasses
import json
import shutil

import pytest

import validation.evidence.experiments as E
from validation.experiments import all_experiments, get_experiment
from validation.records import DATA_DIR, read_record


def _walk_numbers(tree):
    if isinstance(tree, dict):
        for v in tree.values():
            yield from _walk_numbers(v)
    elif isinstance(tree, (list, tuple)):
        for v in tree:
            yield from _walk_numbers(v)
    elif isinstance(tree, float):
        yield tree


def _set(tree, path, value):
    for k in path[:-1]:
        tree = tree[k]
    tree[path[-1]] = value


#: experiment → (checks that judge it, [(a metric path, a sentinel value, how the section prints it,
#: how the check prints it)]). The synthetic reproductions are judged by validation.reproductions
#: directly (validation/checks/synthetic.py, sections/synthetic.py), not through a committed record.
CASES = {
    "sgd_stationary": (("sgd_histogram_matches_nonconstant_d_law", "sgd_basin_occupancy_vs_exact_and_laplace_weights",
                        "sgd_temperature_invariance_and_breaking_point"),
                       [(("diffusion_regime", 0, "tv_diffusion"), 0.0987654, "0.099", "0.099"),
                        (("law", "symmetric", "occupancy_right"), [0.612345] * 5, None, "0.6123"),
                        (("invariance", "0.025", "breaking_lr_measured"), 0.123456, "0.123", "0.123")]),
    "sgd_h4_reach": (("h4_models_stationary_law_unreachable_by_sgd",),
                     [(("models", "RND.H4.right", "log10_T_gap"), 7.654321, "7.7", "7.65")]),
    "sgd_escape_discrete": (("sgd_escape_discrete_chain_matches_simulator", "sgd_escape_discrete_slopes_vs_dt_interval",
                             "sgd_escape_discrete_occupancy_vs_escape_times"),
                            [(("summary", "max_abs_chain_z"), 2.71828, "2.7", "2.72"),
                             (("summary", "min_simulator_pearson_r"), 0.912345, None, "0.9123"),
                             (("prop1", "gauss", 3, "difference"), 0.0314159, "+0.031", "0.0314")]),
    "sgd_curl": (("sgd_curl_stationary_law_vs_fp_and_zero_curl", "sgd_curl_current_measured"),
                 [(("tv", "sgd_vs_fp"), 0.0123456, "0.0123", "0.0123"),
                  (("current", "correlation"), 0.876543, "0.877", "0.8765")]),
    "temperature_scan": (("test_loss_depends_on_temperature", "sharpness_falls_with_lr_over_batch"),
                         [(("test_loss", "b_log_lr"), 0.271828, "0.2718", "0.2718"),
                          (("log_sharpness", "slope_log_T"), -0.314159, "-0.3142", "-0.314")]),
    "shift_curvature": (("shift_curvature_on_trained_networks",),
                        [(("eq3_median_relative_error",), 0.0271828, "2.72", "2.72")]),
    "shift_curvature_drift": (("shift_curvature_drift_with_sgd_time",),
                              [(("drift", "digits", "kappa_train", "median_relative_change"), -0.4321, "-0.432",
                                "-0.432")]),
    "memorization": (("equal_memorisation_generalises_better_at_high_T",),
                     [(("final_val_spearman_T", "rho"), -0.123456, "-0.12", "-0.12")]),
    "escape_rates": (("sgd_escape_log_rate_is_linear", "sgd_escape_time_vs_diffusion_theory"),
                     [(("sweeps", "sharpness", "measured", "pearson_r"), 0.912345, "0.9123", "0.9123"),
                      (("sweeps", "sharpness", "log10_ratio_measured_over_predicted"), [-3.33, -4.44, -5.55, -6.66, -7.77],
                       "-7.8", "-7.8")]),
    "trained_nets_geometry": (("trained_nets_noise_covariance_vs_hessian", "trained_nets_commutator_consistent_with_zero"),
                              [(("summary", "trained", "eq7", "c_fit_median"), 0.0123456, "0.0123", "0.0123"),
                               (("summary", "trained", "curl", "top", "max_noise_floor"), 0.0987654, "0.0988",
                                "0.0988")]),
    "sgd_covariance": (("sgd_covariance_stationary_covariance", "sgd_covariance_offsets",
                        "sgd_covariance_test_loss_decomposition"),
                       [(("runs", 0, "cov_relative_error", "printed"), 0.0987654, "0.099", "0.099"),
                        (("runs", 0, "offset_relative_error", "mean_vs_printed"), 0.876543, "0.88", "0.88"),
                        (("runs", 0, "test_loss", "variants", "measured_moments", "T_part_relative_error"), [0.654321, 0.0123],
                         "+0.654 ± 0.012", "0.654")]),
    "gradient_noise": (("minibatch_noise_is_gaussian_for_large_batches", "minibatch_cumulant_law_measured"),
                       [(("initial", "ks_norm_distance", "16"), 0.0424242, "0.042", "0.042"),
                        (("trained", "kurtosis_median_abs_z", "64"), 2.71828, None, "2.72")]),
}


def test_every_registered_experiment_is_covered():
    assert set(CASES) | {"synthetic"} == {e.name for e in all_experiments()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_and_section_quote_the_same_evidence(name, monkeypatch, tmp_path):
    import importlib

    checks, sentinels = CASES[name]
    real = E.experiment_evidence(name)
    assert real.record is not None and real.record.name in get_experiment(name).record_names()
    metrics = copy.deepcopy(real.metrics)
    for path, value, _, _ in sentinels:
        _set(metrics, path, value)
    fake = dataclasses.replace(real, metrics=metrics)
    served = []

    def evidence(n):
        served.append(n)
        return fake

    committed = read_record(real.record.path)
    monkeypatch.setattr(E, "experiment_evidence", evidence)
    monkeypatch.setattr(E, "live_small_record", lambda n: committed)  # no live runs in this test
    check_mod = importlib.import_module(f"validation.checks.{name}")
    section = importlib.import_module(f"validation.sections.{name}")
    (tmp_path / "figures").mkdir()
    text = section.build(tmp_path)
    assert fake.record.name in text
    for path, _, printed, _ in sentinels:
        if printed is not None:
            assert printed in text, f"the section does not quote the evidence's {path}"
    for fn in checks:
        verdict = getattr(check_mod, fn)()
        assert verdict.metrics["source"] == fake.source
        blob = json.dumps({"detail": verdict.detail, "metrics": verdict.metrics, "cx": verdict.counterexample,
                           "findings": [str(f) for f in verdict.findings]}, default=str, ensure_ascii=False)
        assert any(printed in blob for _, _, _, printed in sentinels), f"{fn} does not judge the evidence"
    assert set(served) == {name}


def test_sections_never_import_checks():
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2] / "validation" / "sections"
    for name in CASES:
        src = (root / f"{name}.py").read_text(encoding="utf-8")
        assert "validation.checks" not in src, f"sections/{name}.py imports from validation.checks"


def test_gpu_record_beats_cpu_record(tmp_path, monkeypatch):
    import validation.records

    exp = get_experiment("shift_curvature")
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(DATA_DIR / "shift_curvature_cpu.json", data / "shift_curvature_cpu.json")
    monkeypatch.setattr(validation.records, "DATA_DIR", data)
    assert E.choose_record(exp) == data / "shift_curvature_cpu.json"
    rec = read_record(data / "shift_curvature_cpu.json")
    rec["provenance"]["device"] = "cuda:0 (NVIDIA H200)"
    (data / "shift_curvature_gpu.json").write_text(json.dumps(rec))
    assert E.choose_record(exp) == data / "shift_curvature_gpu.json"
    E.experiment_evidence.cache_clear()
    try:
        ev = E.experiment_evidence("shift_curvature")
        assert ev.record.kind == "gpu" and ev.record.name == "shift_curvature_gpu.json"
        assert "cuda:0" in ev.source and ev.record.device.startswith("cuda")
    finally:
        E.experiment_evidence.cache_clear()


def test_no_record_means_the_live_small_run(tmp_path, monkeypatch):
    import validation.records

    monkeypatch.setattr(validation.records, "DATA_DIR", tmp_path)
    canned = {"raw": {"runs": []}, "prediction": {}, "metrics": {"x": 1.5}}
    monkeypatch.setattr(E, "live_small_record", lambda n: canned)
    E.experiment_evidence.cache_clear()
    try:
        ev = E.experiment_evidence("memorization")
        assert ev.record is None and "live small run" in ev.source
        assert ev.metrics == {"x": 1.5} and ev.config == get_experiment("memorization").SMALL
        assert ev.live_metrics is canned["metrics"]
    finally:
        E.experiment_evidence.cache_clear()


def test_evidence_metrics_are_rederived_not_copied():
    ev = E.temperature_scan_evidence()
    rec = read_record(ev.record.path)
    assert ev.metrics is not rec["metrics"]
    assert ev.metrics["test_loss"]["b_log_lr"] == pytest.approx(rec["metrics"]["test_loss"]["b_log_lr"], rel=1e-12)
    tf = ev.range("TF")
    assert tf is not None and tf.report["n_inside"] + tf.report["n_beyond"] == len(rec["raw"]["runs"])
    assert tf.metrics is not None and tf.metrics["n_runs"] <= tf.report["n_inside"]


def test_live_small_runs_are_opt_in(monkeypatch):
    """Beside a committed record the live small run is off unless asked for (claims --live sets the
    environment switch its worker processes inherit); checks then quote LIVE_OFF, never a stale value."""
    calls = []
    monkeypatch.setattr(E, "live_small_record", lambda n: calls.append(n) or {"metrics": {"x": 1}})
    ev = E.experiment_evidence("sgd_curl")
    assert ev.record is not None
    monkeypatch.delenv(E.LIVE_ENV, raising=False)
    assert ev.live_metrics is None and E.live_part(ev, lambda live: live["x"]) == E.LIVE_OFF and not calls
    monkeypatch.setenv(E.LIVE_ENV, "1")
    assert E.live_runs_enabled() and E.live_part(ev, lambda live: live["x"]) == 1 and calls == ["sgd_curl"]
    monkeypatch.setenv(E.LIVE_ENV, "0")
    assert not E.live_runs_enabled()
