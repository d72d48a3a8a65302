"""validation.experiments.shift_curvature (SC.fig1-3): config checks, the symmetrised fit, the pooled
trend statistics, the pure comparison, the ensemble/executor/ℓ2 routes, SMALL live end to end, the
committed record re-derived, the check and the report section."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests._compare import assert_tree_close
from validation.experiments.shift_curvature import (
    EXPERIMENT,
    FULL,
    SMALL,
    ShiftCurvatureConfig,
    combined_trend,
    compare,
    predict,
    symmetrised_quadratic_fit,
)
from validation.records import DATA_DIR, read_record

RECORD = DATA_DIR / "shift_curvature_cpu.json"


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="integer batch size"):
        ShiftCurvatureConfig(temperatures=(0.03,), learning_rate=0.2)
    with pytest.raises(ValueError, match="temperatures"):
        ShiftCurvatureConfig(temperatures=(-0.1,))
    with pytest.raises(ValueError, match="line_points"):
        ShiftCurvatureConfig(line_points=60)
    with pytest.raises(ValueError, match="datasets"):
        ShiftCurvatureConfig(datasets=("cifar10",))
    with pytest.raises(ValueError, match="datasets"):
        ShiftCurvatureConfig(datasets=("digits", "digits"))
    with pytest.raises(ValueError, match="no test set"):
        ShiftCurvatureConfig(datasets=("wine",), n_train=256)
    with pytest.raises(ValueError, match="l2"):
        ShiftCurvatureConfig(l2=-1e-3)
    assert SMALL.batch_size(0.05) == 4
    assert len(FULL.datasets) >= 2 and len(FULL.temperatures) >= 6 and len(FULL.seeds) >= 5


def test_symmetrised_fit_recovers_a_quadratic_and_uses_one_side_only():
    a = np.linspace(-1, 2, 31)
    y = 0.3 + 0.5 * 2.0 * (a - 1) ** 2
    y_asym = np.where(a > 1, 0.3, y)  # flat on the far side of the minimum: ignored by side="left"
    for vals in (y, y_asym):
        y0, k = symmetrised_quadratic_fit(a, vals, 1.0, "left")
        assert y0 == pytest.approx(0.3, abs=1e-12) and k == pytest.approx(2.0, rel=1e-12)
    y0, k = symmetrised_quadratic_fit(a, y, 1.0, "right", width=0.5)
    assert k == pytest.approx(2.0, rel=1e-12)
    with pytest.raises(ValueError, match="side"):
        symmetrised_quadratic_fit(a, y, 1.0, "up")


def test_combined_trend_pools_groups_of_different_scales():
    from scipy.stats import norm

    T = np.repeat([1.0, 2.0, 4.0, 8.0, 16.0], 4)
    rng = np.random.default_rng(0)
    groups = {"a": (T, 100.0 / T + rng.normal(0, 1.0, T.size)), "b": (T, 0.01 / T + rng.normal(0, 1e-4, T.size))}
    t = combined_trend(groups)
    assert t["rho"] < -0.8 and t["p_falls"] < 1e-6 and t["n"] == 40
    assert set(t["per_group"]) == {"a", "b"}
    # the stated power: the |ρ| a one-sided test at α detects with 80 % probability, Fisher z
    se = np.sqrt(1.06 / (2 * (T.size - 3)))
    assert t["se"] == pytest.approx(se, rel=1e-12)
    assert t["detectable_rho"] == pytest.approx(np.tanh((norm.ppf(0.99) + norm.ppf(0.8)) * se), rel=1e-12)
    # a rising trend: p for "falls" near 1, two-sided p small
    up = combined_trend({"a": (T, T + rng.normal(0, 0.5, T.size))})
    assert up["rho"] > 0.8 and up["p_falls"] > 0.99 and up["p"] < 1e-3
    # no usable group: nan, no warning
    empty = combined_trend({"a": ([1.0, 2.0], [1.0, 2.0])})
    assert np.isnan(empty["rho"]) and empty["n"] == 2


def _raw(kappa_of_T, quartic=0.0, datasets=("digits", "mnist1d")):
    a = np.linspace(-1, 2, 31)
    runs = []
    for d, scale in zip(datasets, (1.0, 0.1)):
        for T in (0.00625, 0.0125, 0.025, 0.05):
            for seed in (0, 1):
                k = scale * kappa_of_T(T)
                test = 0.1 + 0.5 * k * (a - 1) ** 2 + quartic * (a - 1) ** 4
                train = 0.01 + 0.5 * (k / 3) * a**2
                runs.append({"dataset": d, "T": T, "lr": 0.2, "batch_size": int(round(0.2 / T)), "seed": seed,
                             "shift_norm": 1.0, "alphas": a.tolist(), "train_loss_line": train.tolist(),
                             "test_loss_line": test.tolist()})
    return {"device": "test", "runs": runs}


CFG = ShiftCurvatureConfig(temperatures=(0.00625, 0.0125, 0.025, 0.05), seeds=(0, 1), datasets=("digits", "mnist1d"))


def test_exact_quadratic_losses_satisfy_eq3_and_show_the_trend():
    m = compare(CFG, predict(CFG), _raw(lambda T: 1.0 - 5 * T))
    assert m["eq3_max_relative_error"] < 1e-12
    assert m["eq3_local_max_relative_error"] < 1e-12
    assert m["datasets"] == ["digits", "mnist1d"]
    for key in ("kappa_train", "kappa_test", "shift_curvature"):
        assert m["trends"][key]["rho"] < -0.8 and m["trends"][key]["p_falls"] < 1e-3
        for d in ("digits", "mnist1d"):
            assert m["per_dataset"][d]["trends"][key]["rho"] < -0.8
    assert m["per_dataset"]["mnist1d"]["per_T_median"]["kappa_test"] == pytest.approx(
        [0.1 * (1.0 - 5 * T) for T in (0.00625, 0.0125, 0.025, 0.05)], rel=1e-9)
    assert m["median_shift_curvature_share"] == pytest.approx(1.0)


def test_non_quadratic_line_separates_the_fit_from_the_local_curvature():
    m = compare(CFG, predict(CFG), _raw(lambda T: 1.0, quartic=0.5))
    assert m["eq3_local_median_relative_error"] > 5 * m["eq3_median_relative_error"]


TINY = ShiftCurvatureConfig(temperatures=(0.0125, 0.05), seeds=(0, 1), n_train=48, hidden=6, sde_time=4.0,
                            polish_steps=20, line_points=7, datasets=("digits", "breast_cancer"))


def test_ensemble_and_executor_routes_give_the_same_lines():
    from concurrent.futures import ThreadPoolExecutor

    from validation.experiments import shift_curvature as sc

    ens = sc.measure(TINY, "cpu")
    with ThreadPoolExecutor(max_workers=1) as ex:
        one_by_one = sc.measure(TINY, "cpu", executor=ex)
    assert [(r["dataset"], r["T"], r["seed"]) for r in ens["runs"]] == [
        (d, T, s) for d in ("digits", "breast_cancer") for T in (0.0125, 0.05) for s in (0, 1)]
    assert ens["n_test"] == {"digits": 1797 - 48, "breast_cancer": 569 - 48}
    for a, b in zip(ens["runs"], one_by_one["runs"]):
        assert a["batch_size"] == b["batch_size"] and a["dataset"] == b["dataset"]
        assert a["shift_norm"] == pytest.approx(b["shift_norm"], rel=1e-10)
        for k in ("train_loss_line", "test_loss_line"):
            assert a[k] == pytest.approx(b[k], rel=1e-10)


def test_l2_is_in_every_phase_and_on_the_line():
    import dataclasses

    import torch

    from numerics.training import mlp
    from validation.experiments import shift_curvature as sc

    torch.manual_seed(0)
    model = mlp(3, 4, 2)
    X, y = torch.randn(10, 4, dtype=torch.float64), torch.randint(0, 2, (10,))
    ta = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
    tb = ta + 0.3
    alphas = np.linspace(-1, 2, 4)
    ce = torch.nn.functional.cross_entropy
    plain = sc._line_losses(model, ce, ta, tb, alphas, (X, y, X, y))
    reg = sc._line_losses(model, ce, ta, tb, alphas, (X, y, X, y), l2=0.01)
    pen = [0.005 * float((ta + a * (tb - ta)).pow(2).sum()) for a in alphas]
    for k in (0, 1):
        assert np.asarray(reg[k]) - np.asarray(plain[k]) == pytest.approx(pen, rel=1e-12)
    # ℓ2 as weight decay in every phase: the ensemble and the one-by-one routes agree, and differ from no ℓ2
    from concurrent.futures import ThreadPoolExecutor

    cfg = dataclasses.replace(TINY, l2=0.05, datasets=("breast_cancer",), seeds=(0,))
    ens = sc.measure(cfg, "cpu")["runs"]
    with ThreadPoolExecutor(max_workers=1) as ex:
        one_by_one = sc.measure(cfg, "cpu", executor=ex)["runs"]
    without = sc.measure(dataclasses.replace(cfg, l2=0.0), "cpu")["runs"]
    for a, b, c in zip(ens, one_by_one, without):
        assert a["test_loss_line"] == pytest.approx(b["test_loss_line"], rel=1e-10)
        assert a["shift_norm"] == pytest.approx(b["shift_norm"], rel=1e-10)
        assert abs(a["shift_norm"] - c["shift_norm"]) > 1e-6


@pytest.fixture(scope="module")
def small_record():
    from validation.evidence.experiments import live_small_record

    return live_small_record("shift_curvature")


def test_small_end_to_end(small_record):
    rec = small_record
    cfg = EXPERIMENT.config_from_dict(rec["config"])
    assert cfg == SMALL
    assert_tree_close(json.loads(json.dumps(compare(cfg, rec["prediction"], rec["raw"]))), rec["metrics"])
    m = rec["metrics"]
    assert m["datasets"] == list(SMALL.datasets)
    assert len(m["runs"]) == len(SMALL.datasets) * len(SMALL.temperatures) * len(SMALL.seeds)
    for x in m["runs"]:  # a minimum of the train set with a positive curvature along the line
        assert x["kappa_train"] > 0 and x["test_loss_at_train_min"] > x["test_loss_at_test_min"]


def test_full_record_rederived():
    rec = read_record(RECORD)
    cfg = EXPERIMENT.config_from_dict(rec["config"])
    assert cfg == FULL
    assert_tree_close(json.loads(json.dumps(compare(cfg, rec["prediction"], rec["raw"]))), rec["metrics"])


def test_check_and_section(tmp_path):
    from validation.checks.shift_curvature import shift_curvature_on_trained_networks
    from validation.sections import shift_curvature as section

    v = shift_curvature_on_trained_networks()
    assert v.verdict in ("measured", "holds-if", "fails")
    assert set(v.metrics["per_dataset"]) == set(FULL.datasets)
    assert 0 < v.metrics["detectable_rho"] < 1
    text = section.build(tmp_path)
    assert "figures/shift_curvature.png" in text and (tmp_path / "figures" / "shift_curvature.png").exists()
    for d in FULL.datasets:
        assert d in text
