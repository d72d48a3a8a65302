"""validation.experiments.memorization: config checks, crossing interpolation, the pure comparison."""
from __future__ import annotations

import itertools

import pytest

from validation.experiments.memorization import MemorizationConfig, accuracy_at_level, compare, predict


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="label_noise"):
        MemorizationConfig(label_noise=1.0)
    with pytest.raises(ValueError, match="dividing n_train"):
        MemorizationConfig(batch_sizes=(7,))
    with pytest.raises(ValueError, match="levels"):
        MemorizationConfig(levels=(1.5,))


def test_accuracy_at_level_interpolates_the_first_crossing():
    train = [0.5, 0.7, 0.9, 0.8, 0.95]
    val = [0.4, 0.6, 0.8, 0.7, 0.9]
    assert accuracy_at_level(train, val, 0.8) == pytest.approx(0.7)
    assert accuracy_at_level(train, val, 0.5) == pytest.approx(0.4)
    assert accuracy_at_level(train, val, 0.99) is None


def _raw(val_gain_per_T):
    runs = []
    for lr, B, s in itertools.product((0.05, 0.1, 0.2), (8, 16, 32), (0, 1)):
        T = lr / B
        train = [0.5 + 0.05 * k for k in range(10)]
        val = [0.6 + val_gain_per_T * T - 0.001 * k + 0.0001 * s for k in range(10)]
        runs.append({"lr": lr, "batch_size": B, "seed": s, "T": T, "diverged": False,
                     "curve": {"epoch": list(range(10)), "train_accuracy": train, "val_accuracy": val,
                               "random_fitted": [0.1] * 10}})
    runs.append({"lr": 1.0, "batch_size": 8, "seed": 0, "T": 0.125, "diverged": True, "curve": {}})
    return {"device": "test", "runs": runs}


CFG = MemorizationConfig(learning_rates=(0.05, 0.1, 0.2), batch_sizes=(8, 16, 32), levels=(0.7, 0.9, 0.99))


def test_higher_T_better_at_equal_memorisation_is_detected():
    m = compare(CFG, predict(CFG), _raw(2.0))
    assert m["per_level"]["0.7"]["rho"] > 0.9 and m["per_level"]["0.7"]["p"] < 1e-3
    assert m["per_level"]["0.99"]["n_reached"] == 0
    assert m["diverged_runs"] == [{"lr": 1.0, "batch_size": 8, "seed": 0}]


def test_no_T_effect_gives_no_correlation():
    m = compare(CFG, predict(CFG), _raw(0.0))
    assert abs(m["per_level"]["0.9"]["rho"]) < 0.5


def test_ensemble_and_executor_routes_give_the_same_curves():
    from concurrent.futures import ThreadPoolExecutor

    from validation.experiments import memorization as mem

    tiny = MemorizationConfig(learning_rates=(0.05, 0.2), batch_sizes=(8, 32), seeds=(0,), n_train=64, hidden=6,
                              epochs=6, eval_every=3, levels=(0.5,), min_runs=2)
    ens = mem.measure(tiny, "cpu")
    with ThreadPoolExecutor(max_workers=1) as ex:
        one_by_one = mem.measure(tiny, "cpu", executor=ex)
    assert len(ens["runs"]) == 4
    for a, b in zip(ens["runs"], one_by_one["runs"]):
        assert (a["lr"], a["batch_size"], a["diverged"]) == (b["lr"], b["batch_size"], b["diverged"])
        assert a["curve"]["epoch"] == b["curve"]["epoch"] == [0, 3, 6]
        for k in ("train_accuracy", "random_fitted", "val_accuracy"):
            assert a["curve"][k] == pytest.approx(b["curve"][k], abs=1e-12)


def test_each_setup_gets_its_own_levels():
    from validation.experiments.temperature_scan import setup_metrics

    good, flat = _raw(2.0), _raw(0.0)
    runs = [dict(r, setup="digits/mlp") for r in good["runs"]] + [dict(r, setup="mnist1d/mlp") for r in flat["runs"]]
    cfg = MemorizationConfig(learning_rates=(0.05, 0.1, 0.2), batch_sizes=(8, 16, 32), levels=(0.7, 0.9, 0.99),
                             setups=("digits/mlp", "mnist1d/mlp"))
    m = compare(cfg, predict(cfg), {"device": "test", "runs": runs})
    per = setup_metrics(m)
    assert list(per) == ["digits/mlp", "mnist1d/mlp"]
    assert per["digits/mlp"]["per_level"]["0.7"]["rho"] > 0.9
    assert abs(per["mnist1d/mlp"]["per_level"]["0.9"]["rho"]) < 0.5
    with pytest.raises(ValueError, match="distinct"):
        MemorizationConfig(setups=())
