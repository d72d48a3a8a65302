"""validation.experiments.temperature_scan: config checks, the pure comparison, the sharpness estimator."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from validation.experiments.temperature_scan import (
    SMALL,
    TemperatureScanConfig,
    compare,
    predict,
)

LRS, BS = (0.05, 0.1, 0.2, 0.4), (4, 8, 16, 32)


def _raw(f_test, f_sharp, *, seeds=(0, 1), noise=0.0, diverge=()):
    rng = np.random.default_rng(0)
    runs = []
    for lr, B, s in itertools.product(LRS, BS, seeds):
        if (lr, B) in diverge:
            runs.append({"lr": lr, "batch_size": B, "seed": s, "T": lr / B, "diverged": True, "diverged_at_step": 3})
            continue
        runs.append({"lr": lr, "batch_size": B, "seed": s, "T": lr / B, "diverged": False, "steps": 10,
                     "train_loss": 0.001, "test_loss": f_test(lr, B) + noise * rng.normal(),
                     "train_accuracy": 1.0, "test_accuracy": 0.9 - f_test(lr, B) / 10,
                     "sharpness": f_sharp(lr, B) * math.exp(noise * rng.normal())})
    return {"device": "test", "n_train": 10, "n_test": 10, "runs": runs}


CFG = TemperatureScanConfig(learning_rates=LRS, batch_sizes=BS, seeds=(0, 1))


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="learning_rates"):
        TemperatureScanConfig(learning_rates=(0.1, -1.0))
    with pytest.raises(ValueError, match="batch_sizes"):
        TemperatureScanConfig(batch_sizes=(0, 4))
    with pytest.raises(ValueError, match="n_train"):
        TemperatureScanConfig(batch_sizes=(4, 512), n_train=256)
    with pytest.raises(ValueError, match="4"):
        TemperatureScanConfig(learning_rates=(0.1,), batch_sizes=(4, 8))


def test_outcome_of_T_alone_is_recognised():
    raw = _raw(lambda lr, B: 1.0 - 0.1 * math.log(lr / B), lambda lr, B: (lr / B) ** -0.5, noise=1e-3)
    m = compare(CFG, predict(CFG), raw)
    tl, sh = m["test_loss"], m["log_sharpness"]
    assert tl["only_through_T"] and sh["only_through_T"]
    assert tl["ratio_minus_c_over_b"] == pytest.approx(1.0, abs=0.05)
    assert tl["slope_log_T"] == pytest.approx(-0.1, abs=0.01)
    assert sh["slope_log_T"] == pytest.approx(-0.5, abs=0.01)
    assert tl["spearman_T"] < -0.9 and sh["spearman_T"] < -0.9
    assert m["log_sharpness_within_equal_T_share"] < 0.01
    assert m["train_loss_near_zero"]


def test_outcome_of_learning_rate_alone_is_not_only_through_T():
    raw = _raw(lambda lr, B: 1.0 - 0.1 * math.log(lr), lambda lr, B: 1 / lr, noise=1e-3)
    m = compare(CFG, predict(CFG), raw)
    assert not m["test_loss"]["only_through_T"]
    assert not m["log_sharpness"]["only_through_T"]
    assert abs(m["test_loss"]["c_log_batch"]) < 0.01
    assert m["log_sharpness_within_equal_T_share"] > 0.1


def test_diverged_runs_are_reported_and_left_out():
    raw = _raw(lambda lr, B: -math.log(lr / B), lambda lr, B: lr / B, diverge=[(0.4, 4)])
    m = compare(CFG, predict(CFG), raw)
    assert m["n_runs"] == len(raw["runs"]) - 2
    assert {"lr": 0.4, "batch_size": 4, "seed": 0} in m["diverged_runs"]
    all_diverged = {"device": "t", "runs": [dict(r, diverged=True) for r in raw["runs"]]}
    with pytest.raises(ValueError, match="diverged"):
        compare(CFG, predict(CFG), all_diverged)


def test_small_config_is_a_valid_grid():
    assert len(SMALL.learning_rates) * len(SMALL.batch_sizes) >= 4
    assert max(SMALL.batch_sizes) <= SMALL.n_train


# ---------------------------------------------------------------------------------------------
# the sweep: ensemble route (default), executor route, checkpoints


TINY = TemperatureScanConfig(learning_rates=(0.1, 0.2), batch_sizes=(4, 8), seeds=(0, 1), n_train=48, hidden=6,
                             sde_time=3.0, power_iterations=5)


def _assert_same_runs(a, b, rel=1e-10):
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        assert ra.keys() == rb.keys()
        for k, v in rb.items():
            if isinstance(v, float):
                assert ra[k] == pytest.approx(v, rel=rel, abs=1e-14), k
            else:
                assert ra[k] == v, k


def test_ensemble_and_executor_routes_give_the_same_runs():
    from concurrent.futures import ThreadPoolExecutor

    from validation.experiments import temperature_scan as ts

    ens = ts.measure(TINY, "cpu")
    with ThreadPoolExecutor(max_workers=1) as ex:
        one_by_one = ts.measure(TINY, "cpu", executor=ex)
    assert [(r["lr"], r["batch_size"], r["seed"]) for r in ens["runs"]] == list(
        itertools.product(TINY.learning_rates, TINY.batch_sizes, TINY.seeds))
    _assert_same_runs(ens["runs"], one_by_one["runs"])


def test_map_runs_routes_share_the_checkpoint(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from validation.checkpoint import open_checkpoint
    from validation.experiments import SweepExecutorError, map_runs, use_executor

    calls = []

    def one(a, b):
        calls.append((a, b))
        return {"sum": a + b}

    def batch(items):
        calls.append(tuple(items))
        return [{"sum": a + b} for a, b in items]

    items = [(1, 2), (3, 4), (5, 6)]
    out = tmp_path / "rec.json"
    cp = open_checkpoint(out, CFG)
    cp.save(["d", [3, 4]], {"sum": 7})
    assert map_runs(one, items, dev="cpu", desc="d", checkpoint=cp, batch=batch) == [{"sum": s} for s in (3, 7, 11)]
    assert calls == [((1, 2), (5, 6))]  # only the missing runs are batched
    calls.clear()
    resumed = open_checkpoint(out, CFG, resume=True)
    with ThreadPoolExecutor(max_workers=2) as ex:
        got = map_runs(one, items + [(7, 8)], dev="cpu", desc="d", checkpoint=resumed, executor=ex)
    assert got == [{"sum": s} for s in (3, 7, 11, 15)] and calls == [(7, 8)]
    assert map_runs(one, items, dev="cpu", desc="d") == [{"sum": s} for s in (3, 7, 11)]
    calls.clear()
    with ThreadPoolExecutor(max_workers=1) as ex, use_executor(ex):  # installed around a run: runs go to it
        assert map_runs(one, items, dev="cpu", desc="d", batch=batch) == [{"sum": s} for s in (3, 7, 11)]
    assert calls == items
    calls.clear()
    assert map_runs(one, items, dev="cpu", desc="d", batch=batch)[2] == {"sum": 11} and calls == [tuple(items)]
    with pytest.raises(SweepExecutorError, match="Executor"), use_executor("tcp://x"):
        pass
    with pytest.raises(RuntimeError, match="2 results for 3 runs"):
        map_runs(one, items, dev="cpu", desc="d", batch=lambda it: [{}, {}])


def test_sweep_executor_local_pools_and_the_dask_route(monkeypatch):
    import concurrent.futures as cf
    import sys

    from validation.experiments import SweepExecutorError, sweep_executor

    with sweep_executor() as ex:
        assert isinstance(ex, cf.ThreadPoolExecutor) and ex.submit(pow, 2, 5).result() == 32
    with pytest.raises(SweepExecutorError, match="kind"):
        sweep_executor(kind="gpu")
    with pytest.raises(SweepExecutorError, match="workers"):
        sweep_executor(workers=0)
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if dask were not installed
    with pytest.raises(SweepExecutorError, match=r'pip install "dask\[distributed\]"'):
        sweep_executor("tcp://127.0.0.1:8786")
    with pytest.raises(SweepExecutorError, match="address"):
        sweep_executor("")


# ---------------------------------------------------------------------------------------------
# setups (data set × net), SC's premise domain, TF Fig. 6's breaking point


def test_setups_are_parsed_and_refused_with_the_names_to_use():
    from validation.experiments.temperature_scan import parse_setup

    assert parse_setup("mnist1d/cnn1d") == ("mnist1d", "cnn1d")
    with pytest.raises(ValueError, match="dataset/model"):
        parse_setup("digits")
    with pytest.raises(ValueError, match="mnist1d"):
        parse_setup("cifar/mlp")
    with pytest.raises(ValueError, match="cnn1d"):
        parse_setup("digits/resnet")
    with pytest.raises(ValueError, match="distinct"):
        TemperatureScanConfig(setups=("digits/mlp", "digits/mlp"))
    with pytest.raises(ValueError, match="wine"):
        TemperatureScanConfig(setups=("wine/mlp",), batch_sizes=(4, 8), n_train=256)
    with pytest.raises(ValueError, match="weight_decay"):
        TemperatureScanConfig(weight_decay=-0.1)


def test_each_setup_gets_its_own_metrics():
    from validation.experiments.temperature_scan import setup_metrics

    a = _raw(lambda lr, B: 1.0 - 0.1 * math.log(lr / B), lambda lr, B: (lr / B) ** -0.5, noise=1e-3)
    b = _raw(lambda lr, B: 3.0 - 0.1 * math.log(lr), lambda lr, B: 1 / lr, noise=1e-3)
    runs = [dict(r, setup="digits/mlp") for r in a["runs"]] + [dict(r, setup="mnist1d/cnn1d") for r in b["runs"]]
    cfg = TemperatureScanConfig(learning_rates=LRS, batch_sizes=BS, seeds=(0, 1),
                                setups=("digits/mlp", "mnist1d/cnn1d"))
    m = compare(cfg, predict(cfg), {"device": "test", "runs": runs})
    per = setup_metrics(m)
    assert list(per) == ["digits/mlp", "mnist1d/cnn1d"] and m["setup"] == "digits/mlp"
    assert per["digits/mlp"]["test_loss"]["only_through_T"] and not per["mnist1d/cnn1d"]["test_loss"]["only_through_T"]
    assert per["digits/mlp"]["n_runs"] == per["mnist1d/cnn1d"]["n_runs"] == len(a["runs"])
    # a setup with too few converged runs is reported, not fatal
    few = runs[:len(a["runs"])] + [dict(r, diverged=True) for r in runs[len(a["runs"]):]]
    m = compare(cfg, predict(cfg), {"device": "test", "runs": few})
    assert "not_enough_runs" in m["other_setups"]["mnist1d/cnn1d"]


def test_test_loss_trend_is_also_judged_where_the_train_loss_is_near_zero():
    raw = _raw(lambda lr, B: 1.0 - 0.1 * math.log(lr / B), lambda lr, B: 1.0, noise=1e-3)
    for r in raw["runs"]:
        if r["T"] > 0.02:  # the premise fails at the largest temperatures
            r["train_loss"] = 0.5
    m = compare(CFG, predict(CFG), raw)
    near = m["test_loss_where_train_loss_near_zero"]
    assert not m["train_loss_near_zero"]
    assert near["T_max"] == pytest.approx(0.0125) and near["n_T_levels"] == 4
    assert near["fit"]["only_through_T"] and near["fit"]["spearman_T"] < -0.9


def test_breaking_point_is_the_smallest_lr_whose_accuracy_drops_at_equal_T():
    def acc(lr, B):
        return 0.9 if lr < 0.4 else 0.7

    raw = _raw(lambda lr, B: 1.0, lambda lr, B: 1.0, seeds=(0, 1, 2))
    rng = np.random.default_rng(1)
    for r in raw["runs"]:
        r["test_accuracy"] = acc(r["lr"], r["batch_size"]) + 1e-3 * rng.normal()
    cfg = TemperatureScanConfig(learning_rates=LRS, batch_sizes=BS, seeds=(0, 1, 2))
    bp = compare(cfg, predict(cfg), raw)["breaking_point"]
    assert bp["breaking_lr"] == pytest.approx(0.4)
    by = {e["lr"]: e for e in bp["per_lr"]}
    assert by[0.4]["test_accuracy_change"]["mean"] == pytest.approx(-0.2, abs=0.01)
    assert not by[0.2]["broken"] and by[0.2]["test_accuracy_change"]["n"] >= 2
    # a diverged run marks its λ as broken (TF's "*")
    raw = _raw(lambda lr, B: 1.0, lambda lr, B: 1.0, seeds=(0, 1, 2), noise=1e-3, diverge=[(0.2, 4)])
    bp = compare(cfg, predict(cfg), raw)["breaking_point"]
    assert bp["breaking_lr"] == pytest.approx(0.2)


def test_two_setups_with_the_cnn_train_alike_on_both_routes():
    """The ensemble route (MLP: padded bmm stack; CNN: vmap stacks per batch size) and the executor
    route (train_sgd run by run) give the same runs, for an MLP on digits and a CNN on MNIST-1D."""
    from concurrent.futures import ThreadPoolExecutor

    from validation.experiments import temperature_scan as ts

    cfg = TemperatureScanConfig(learning_rates=(0.1, 0.2), batch_sizes=(4, 8), seeds=(0,), n_train=40, hidden=4,
                                channels=2, sde_time=1.0, power_iterations=3, weight_decay=1e-3,
                                setups=("digits/mlp", "mnist1d/cnn1d"))
    ens = ts.measure(cfg, "cpu")
    with ThreadPoolExecutor(max_workers=1) as ex:
        one_by_one = ts.measure(cfg, "cpu", executor=ex)
    assert [r["setup"] for r in ens["runs"]] == ["digits/mlp"] * 4 + ["mnist1d/cnn1d"] * 4
    _assert_same_runs(ens["runs"], one_by_one["runs"], rel=1e-9)


def test_non_positive_sharpness_is_left_out_of_the_log_sharpness_statistics():
    raw = _raw(lambda lr, B: 1.0, lambda lr, B: (lr / B) ** -0.5, noise=1e-3)
    clean = compare(CFG, predict(CFG), raw)
    for r in raw["runs"]:
        if r["lr"] == 0.4 and r["batch_size"] == 4:
            r["sharpness"] = -1.3  # power iteration ended on a negative eigenvalue: not a minimum
    m = compare(CFG, predict(CFG), raw)
    assert m["n_sharpness_not_positive"] == 2 and m["n_runs"] == clean["n_runs"]
    assert m["log_sharpness"]["slope_log_T"] == pytest.approx(-0.5, abs=0.01)
    assert m["test_loss"]["b_log_lr"] == pytest.approx(clean["test_loss"]["b_log_lr"], abs=1e-12)
