"""DT.sec4 experiment: record re-derivation, config validation, the pure comparison, the check."""
import json
import math

import pytest

from tests._compare import assert_tree_close

from validation.experiments.escape_rates import (EXPERIMENT, FULL, SMALL, EscapeRatesConfig, compare,
                                                 population_loss_and_diffusion, predict)
from validation.records import DATA_DIR, read_record

RECORD = DATA_DIR / "dt_sec4_cpu.json"


def test_full_record_metrics_rederived_from_raw():
    rec = read_record(RECORD)
    cfg = EXPERIMENT.config_from_dict(rec["config"])
    assert cfg == FULL
    metrics = compare(cfg, rec["prediction"], rec["raw"])
    assert_tree_close(json.loads(json.dumps(metrics)), rec["metrics"])
    assert rec["raw"]["dim"] == 10


def test_full_record_prediction_reproduced():
    rec = read_record(RECORD)
    pred = predict(EXPERIMENT.config_from_dict(rec["config"]))
    for sweep, vals in pred["neg_log_gamma"].items():
        assert vals == pytest.approx(rec["prediction"]["neg_log_gamma"][sweep], rel=1e-9)


def test_population_loss_and_diffusion_closed_form():
    import sympy as sp

    U, D, th = population_loss_and_diffusion(1.0)
    assert sp.expand(U - (th**4 / 2 - 5 * th**2 + sp.Rational(5, 2) * th - sp.Rational(13, 2))) == 0
    assert sp.expand(D - (36 * th**4 - 48 * th**2 + 124)) == 0
    U4, D4, th4 = population_loss_and_diffusion(4.0)
    # sharpness k rescales θ → √k θ: U_k(θ) = U_1(2θ), D_k(θ) = k D_1(2θ)
    assert float(U4.subs(th4, 0.3) - U.subs(th, 0.6)) == pytest.approx(0, abs=1e-9)
    assert float(D4.subs(th4, 0.3) - 4 * D.subs(th, 0.6)) == pytest.approx(0, abs=1e-9)


def test_compare_is_pure_and_detects_nonlinearity():
    cfg = SMALL
    pts = {s: cfg.points(s) for s in ("sharpness", "batch_size", "learning_rate")}

    def raw_from(f):
        return {"dim": 1, "device": "none", "sweeps": {
            s: [{**p, "mean_steps": math.exp(f(p["x"])), "se_steps": 1.0, "n_censored": 0}
                for p in ps] for s, ps in pts.items()}}

    pred = {"neg_log_gamma": {s: [2.0 * p["x"] for p in ps] for s, ps in pts.items()}}
    lin = compare(cfg, pred, raw_from(lambda v: 1.0 + 0.5 * v))
    assert lin["all_linear"]
    for m in lin["sweeps"].values():
        assert m["measured"]["pearson_r"] == pytest.approx(1.0)
        assert m["slope_ratio_measured_over_predicted"] == pytest.approx(0.25)
    bent = compare(cfg, pred, raw_from(lambda v: 5.0 + 3.0 * math.sin(3.0 * v)))
    assert not bent["all_linear"]


@pytest.mark.parametrize("kw", [dict(inv_k_values=(1.0, 2.0)), dict(batch_values=(1, 2.5, 3)),
                                dict(sharpness_lr=0.0), dict(n_runs=1), dict(inv_lr_values=(0, 1, 2))])
def test_config_rejects_bad_values(kw):
    with pytest.raises(ValueError):
        EscapeRatesConfig(**kw)


def test_points_rejects_unknown_sweep():
    with pytest.raises(ValueError, match="unknown sweep"):
        SMALL.points("momentum")


def test_ledger_checks_run_and_report_metrics():
    from validation.checks.escape_rates import (sgd_escape_log_rate_is_linear,
                                                sgd_escape_time_vs_diffusion_theory)

    v = sgd_escape_log_rate_is_linear()
    assert v.verdict in ("measured", "fails")
    assert set(v.metrics["pearson_r"]) == {"sharpness", "batch_size", "learning_rate"}
    assert v.metrics["tolerance"] == 0.99
    t = sgd_escape_time_vs_diffusion_theory()
    # the diffusion limit underestimates real SGD's escape rate by many orders of magnitude here
    assert t.verdict == "holds-if"
    assert t.metrics["control_gaussian_noise"]["agrees"]
    worst = max(abs(x) for xs in t.counterexample["log10_measured_over_predicted_steps"].values()
                for x in xs)
    assert worst > 3


def test_section_builds(tmp_path):
    from validation.sections import escape_rates

    (tmp_path / "figures").mkdir()
    md = escape_rates.build(tmp_path)
    assert "Pearson" in md and "figures/" in md
    assert (tmp_path / "figures" / "dt_sec4_cpu.png").exists()
