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
