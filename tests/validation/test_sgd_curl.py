"""sgd_curl: SMALL end to end (live), the committed record re-derived, the pure comparison, config
validation, the checks and the report section."""
import json

import numpy as np
import pytest

from tests._compare import assert_tree_close
from tests._experiments import small_record_checked
from validation.experiments.sgd_curl import (EXPERIMENT, FULL, SMALL, SgdCurlConfig, compare, predict,
                                             training_set)
from validation.records import DATA_DIR, read_record

RECORD = DATA_DIR / "sgd_curl_cpu.json"


@pytest.fixture(scope="module")
def small_record():
    return small_record_checked("sgd_curl")  # SMALL, metrics re-derived from raw + prediction


def test_small_end_to_end(small_record):
    rec = small_record
    m = rec["metrics"]
    # the non-equilibrium steady state, not the zero-curl law, describes SGD
    assert m["tv"]["sgd_vs_fp"] < 0.05 < m["tv"]["sgd_vs_zero_curl"]
    # the chains circulate in the solver's sense, many standard errors from zero
    c = m["current"]
    assert abs(c["circulation_z_vs_zero"]) > 5
    assert c["circulation_measured"] / c["circulation_predicted"] == pytest.approx(1.0, abs=0.15)


def test_full_record_rederived():
    rec = read_record(RECORD)
    cfg = EXPERIMENT.config_from_dict(rec["config"])
    assert cfg == FULL
    assert_tree_close(json.loads(json.dumps(compare(cfg, rec["prediction"], rec["raw"]))), rec["metrics"])
    pred = predict(cfg)
    assert np.asarray(pred["fp_probabilities"]) == pytest.approx(np.asarray(rec["prediction"]["fp_probabilities"]),
                                                                 abs=1e-10)


def test_training_set_has_the_stated_covariance():
    cfg = SgdCurlConfig(c=-0.4, n_data=50)
    x = training_set(cfg)
    assert np.abs(x.mean(0)).max() < 1e-12
    assert np.cov(x.T, bias=True) == pytest.approx(np.array([[1.0, -0.4], [-0.4, 1.0]]), abs=1e-12)


def test_zero_curl_model_has_no_current():
    """Control: with c = 0 (D commutes with H) the solver's current and the zero-curl gap vanish."""
    cfg = SgdCurlConfig(c=0.0, bins=12, lr=0.01)
    p = predict(cfg)
    assert p["commutator_norm"] == pytest.approx(0.0, abs=1e-12)
    assert p["fp_current_relative"] < 1e-6
    tv = 0.5 * np.abs(np.asarray(p["fp_probabilities"]) - np.asarray(p["zero_curl_probabilities"])).sum()
    assert tv < 5e-3


@pytest.mark.parametrize("kw", [dict(c=1.0), dict(h1=0.0), dict(burn_in=5000), dict(lr=0.3), dict(bins=2),
                                dict(tv_tolerance=0.0)])
def test_config_rejects_bad_values(kw):
    with pytest.raises(ValueError):
        SgdCurlConfig(**kw)


def test_checks_and_section(tmp_path, small_record):
    from validation.checks.sgd_curl import sgd_curl_current_measured, sgd_curl_stationary_law_vs_fp_and_zero_curl
    from validation.sections import sgd_curl as section

    v = sgd_curl_stationary_law_vs_fp_and_zero_curl()
    assert v.verdict in ("measured", "fails")
    assert v.metrics["tv"]["sgd_vs_fp"] < v.metrics["tv"]["sgd_vs_zero_curl"]
    w = sgd_curl_current_measured()
    assert w.verdict in ("measured", "fails")
    assert abs(w.metrics["circulation_z_vs_zero"]) > 5
    md = section.build(tmp_path)
    assert "circulation" in md and "figures/" in md
    assert list((tmp_path / "figures").glob("sgd_curl*.png"))
