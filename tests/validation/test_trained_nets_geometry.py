"""trained_nets_geometry (DT.eq7, SC.A1 on trained nets): SMALL end to end (live), the committed record
re-derived, the pure per-point metrics on constructed inputs, exact ℓ2 SGD on the ensemble route, the
ℓ2 objective's Hessian, config validation, the checks and the report section."""
import json

import numpy as np
import pytest
import torch

from tests._compare import assert_tree_close
from tests._experiments import small_record_checked
from validation.experiments.trained_nets_geometry import (EXPERIMENT, FULL, SMALL, L2Objective,
                                                          TrainedNetsGeometryConfig, compare, curl_estimates,
                                                          objective, point_metrics, predict)
from validation.records import DATA_DIR, read_record

RECORD = DATA_DIR / "trained_nets_geometry_cpu.json"


@pytest.fixture(scope="module")
def small_record():
    return small_record_checked("trained_nets_geometry")  # SMALL, metrics re-derived from raw + prediction


def test_small_end_to_end(small_record):
    rec = small_record
    m = rec["metrics"]
    assert m["phases"] == ["init", "trained", "model_labels"]
    n_nets = len(SMALL.datasets) * len(SMALL.weight_decays) * len(SMALL.seeds) * len(SMALL.lrs)
    assert m["n_nets"] == n_nets and m["n_diverged"] == 0
    for ph in ("init", "trained"):
        assert m["summary"][ph]["n_points"] == n_nets
    assert m["summary"]["model_labels"]["n_points"] == len(SMALL.datasets)  # one control net per data set
    # SGD reached low training loss, far below the initial one
    assert m["summary"]["trained"]["train_loss_range"][1] < 0.1 < m["summary"]["init"]["train_loss_range"][0]
    for run in rec["raw"]["runs"]:
        for pt in run["points"]:
            lam = np.asarray(pt["eigenvalues"])
            assert np.all(np.diff(lam) <= 1e-12 * max(1.0, abs(lam[0])))  # descending
            assert pt["eigen_residual_max"] < 1e-4 * max(1.0, abs(lam[0]))
            assert np.asarray(pt["cov_top"]).shape == (SMALL.k_top, SMALL.k_top)
    for p in m["points"]:
        assert p["eq7"]["c_fit"] > 0 and np.isfinite(p["eq7"]["c_fit"])


def test_full_record_rederived():
    rec = read_record(RECORD)
    cfg = EXPERIMENT.config_from_dict(rec["config"])
    assert cfg == FULL
    assert_tree_close(json.loads(json.dumps(compare(cfg, predict(cfg, rec["raw"]), rec["raw"]))), rec["metrics"])


def _point(lam, C, Cr, Hr, curl=None):
    return {"eigenvalues": list(lam), "cov_top": np.asarray(C).tolist(), "cov_random": np.asarray(Cr).tolist(),
            "hess_random": np.asarray(Hr).tolist(), "trace_C": float(np.trace(C)), "trace_H": float(np.sum(lam)),
            "train_loss": 0.01, "gradient_norm_ratio": 0.01, "n_samples": 100,
            "curl": curl or {"top": {"value": 0.01, "stderr": 0.002, "noise_floor": 0.02},
                             "random": {"values": [0.03, 0.05], "noise_floors": [0.04, 0.04], "bootstrap_se": 0.003}}}


def test_point_metrics_on_exact_proportional_covariance():
    """C = 2H exactly: c = 2, Pearson 1, no off-diagonal part, random directions give 2 too."""
    lam = np.array([5.0, 2.0, 1.0, 0.3, 0.05])
    rng = np.random.default_rng(0)
    Hr = rng.standard_normal((3, 3))
    Hr = Hr @ Hr.T
    m = point_metrics(SMALL, _point(lam, np.diag(2 * lam), 2 * Hr, Hr))
    e = m["eq7"]
    assert e["c_fit"] == pytest.approx(2.0, rel=1e-12)
    assert e["pearson_log"] == pytest.approx(1.0, abs=1e-12)
    assert e["offdiag_share"] == pytest.approx(0.0, abs=1e-12)
    assert e["random_median_ratio"] == pytest.approx(2.0, rel=1e-12)
    assert e["random_c_frob"] == pytest.approx(2.0, rel=1e-12)
    assert e["random_rel_residual"] == pytest.approx(0.0, abs=1e-12)
    assert e["trace_ratio"] == pytest.approx(2.0, rel=1e-12)
    assert e["within_tolerance"]  # 2 is the upper end of [0.5, 2]
    worse = point_metrics(SMALL, _point(lam, np.diag(0.01 * lam), Hr, Hr))["eq7"]
    assert worse["pearson_log"] == pytest.approx(1.0, abs=1e-12) and not worse["within_tolerance"]


def test_well_specified_model_gives_c_near_one():
    """The positive control of DT.eq7's premise: labels drawn from the net's own softmax, measured at that
    net (the true parameter) — the Fisher identity holds and the measured C is H (c ≈ 1, same shape),
    while nothing but the labels differs from the trained-net measurement."""
    from validation.experiments.trained_nets_geometry import _point

    torch.manual_seed(0)
    from numerics.training import mlp

    net = mlp(8, 5, 3)
    with torch.no_grad():
        net[4].weight.mul_(3.0)
        net[4].bias.mul_(3.0)
    g = torch.Generator().manual_seed(1)
    X = 2 * torch.randn(4000, 5, dtype=torch.float64, generator=g)
    with torch.no_grad():
        y = torch.multinomial(torch.softmax(net(X), 1), 1, generator=g).squeeze(1)
    e = point_metrics(SMALL, _point(SMALL, net, 0.0, X, y, X[:10], y[:10], 0))["eq7"]
    assert 0.85 < e["c_fit"] < 1.15 and 0.85 < e["trace_ratio"] < 1.15
    assert e["pearson_log"] > 0.99 and e["within_tolerance"]


def test_curl_estimates_follow_minimum_curl_rules():
    raw = {"top": {"value": 0.01, "stderr": 0.002, "noise_floor": 0.02},
           "random": {"values": [0.03, 0.05], "noise_floors": [0.03, 0.04], "bootstrap_se": 0.003}}
    est = curl_estimates(raw)
    assert est["top"]["consistent_with_zero"] and est["top"]["margin_se"] == pytest.approx(-5.0)
    r = est["random"]
    assert r["value"] == pytest.approx(0.04)
    assert r["noise_floor"] == pytest.approx(np.sqrt((0.03**2 + 0.04**2) / 2))
    assert r["stderr"] == pytest.approx(np.hypot(0.003, np.std([0.03, 0.05], ddof=1) / np.sqrt(2)))
    raw["top"]["value"] = 0.03  # 0.03 > 0.02 + 2·0.002: resolved above the floor
    assert not curl_estimates(raw)["top"]["consistent_with_zero"]


def test_weight_decay_equals_the_l2_objective_route():
    """The ensemble's weight_decay (the route the experiment trains with ℓ2) is exact ℓ2 SGD: the same
    parameters as the ensemble's vmap route on the L2Objective the measurements use, to rounding."""
    from numerics.training import mlp, sgd_index_stream, train_sgd_ensemble

    X = torch.randn(40, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 3, (40,), generator=torch.Generator().manual_seed(1))
    wd, lrs = 0.05, [0.2, 0.1]
    nets_a, nets_b = [], []
    for s in range(2):
        torch.manual_seed(s)
        nets_a.append(mlp(6, 5, 3))
        torch.manual_seed(s)
        nets_b.append(mlp(6, 5, 3))
    streams = [sgd_index_stream(40, 8, 30, torch.Generator().manual_seed(10 + s)) for s in range(2)]
    import torch.nn.functional as F

    assert train_sgd_ensemble(nets_a, F.cross_entropy, X, y, lrs=lrs, batch_sizes=[8, 8], steps=[30, 30],
                              index_streams=streams, weight_decay=wd) == [None, None]
    train_sgd_ensemble([L2Objective(n) for n in nets_b], objective(wd), X, y, lrs=lrs, batch_sizes=[8, 8],
                       steps=[30, 30], index_streams=streams, method="vmap")
    for a, b in zip(nets_a, nets_b):
        for pa, pb in zip(a.parameters(), b.parameters()):
            assert torch.allclose(pa, pb, rtol=0, atol=1e-12)


def test_l2_objective_hessian_is_data_hessian_plus_wd():
    from numerics.gradstats import exact_hessian
    from numerics.training import mlp

    torch.manual_seed(0)
    net = mlp(3, 4, 3)
    X = torch.randn(20, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    y = torch.randint(0, 3, (20,), generator=torch.Generator().manual_seed(3))
    H0 = exact_hessian(net, torch.nn.functional.cross_entropy, X, y)
    H1 = exact_hessian(L2Objective(net), objective(0.3), X, y)
    assert torch.allclose(H1 - H0, 0.3 * torch.eye(H0.shape[0], dtype=H0.dtype), atol=1e-12)


def test_predict_is_c_equals_h():
    p = predict(SMALL, {"runs": []})
    assert p["dt_eq7"]["constant"] == pytest.approx(1.0)
    assert p["sc_a1"]["commutator"] == 0.0


@pytest.mark.parametrize("kw", [dict(datasets=("digits",), n_train=(10, 20)), dict(datasets=("nope",), n_train=(10,)),
                                dict(checkpoints=(100, 50)), dict(checkpoints=(0,)), dict(weight_decays=(-1.0,)),
                                dict(curl_k=30), dict(eq7_ratio_low=1.5), dict(lrs=(2.0,), weight_decays=(0.6,)),
                                dict(seeds=(0, 0))])
def test_config_rejects_bad_values(kw):
    with pytest.raises(ValueError):
        TrainedNetsGeometryConfig(**kw)


def test_checks_and_section(tmp_path, small_record):
    from validation.checks.trained_nets_geometry import (trained_nets_commutator_consistent_with_zero,
                                                         trained_nets_noise_covariance_vs_hessian)
    from validation.sections import trained_nets_geometry as section

    v = trained_nets_noise_covariance_vs_hessian()
    assert v.verdict in ("measured", "fails")
    assert v.metrics["n_trained_nets"] > 0 and "c_fit_range" in v.metrics
    w = trained_nets_commutator_consistent_with_zero()
    assert w.verdict in ("measured", "fails")
    assert w.findings and "resolution" in w.findings[0].summary
    md = section.build(tmp_path)
    assert "DT.eq7" in md and "figures/" in md
    assert list((tmp_path / "figures").glob("trained_nets_geometry*.png"))
