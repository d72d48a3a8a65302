"""validation.experiments.shift_curvature: config checks, the symmetrised fit, the pure comparison."""
from __future__ import annotations

import numpy as np
import pytest

from validation.experiments.shift_curvature import (
    SMALL,
    ShiftCurvatureConfig,
    compare,
    predict,
    symmetrised_quadratic_fit,
)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="integer batch size"):
        ShiftCurvatureConfig(temperatures=(0.03,), learning_rate=0.2)
    with pytest.raises(ValueError, match="temperatures"):
        ShiftCurvatureConfig(temperatures=(-0.1,))
    with pytest.raises(ValueError, match="line_points"):
        ShiftCurvatureConfig(line_points=60)
    assert SMALL.batch_size(0.05) == 4


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


def _raw(kappa_of_T, quartic=0.0):
    a = np.linspace(-1, 2, 31)
    runs = []
    for T in (0.00625, 0.0125, 0.025, 0.05):
        for seed in (0, 1):
            k = kappa_of_T(T)
            test = 0.1 + 0.5 * k * (a - 1) ** 2 + quartic * (a - 1) ** 4
            train = 0.01 + 0.5 * (k / 3) * a**2
            runs.append({"T": T, "lr": 0.2, "batch_size": int(round(0.2 / T)), "seed": seed,
                         "shift_norm": 1.0, "alphas": a.tolist(), "train_loss_line": train.tolist(),
                         "test_loss_line": test.tolist()})
    return {"device": "test", "runs": runs}


CFG = ShiftCurvatureConfig(temperatures=(0.00625, 0.0125, 0.025, 0.05), seeds=(0, 1))


def test_exact_quadratic_losses_satisfy_eq3_and_show_the_trend():
    m = compare(CFG, predict(CFG), _raw(lambda T: 1.0 - 5 * T))
    assert m["eq3_max_relative_error"] < 1e-12
    assert m["eq3_local_max_relative_error"] < 1e-12
    for key in ("kappa_train", "kappa_test", "shift_curvature"):
        assert m["trends"][key]["rho"] < -0.8
    assert m["median_shift_curvature_share"] == pytest.approx(1.0)


def test_non_quadratic_line_separates_the_fit_from_the_local_curvature():
    m = compare(CFG, predict(CFG), _raw(lambda T: 1.0, quartic=0.5))
    assert m["eq3_local_median_relative_error"] > 5 * m["eq3_median_relative_error"]


def test_ensemble_and_executor_routes_give_the_same_lines():
    from concurrent.futures import ThreadPoolExecutor

    from validation.experiments import shift_curvature as sc

    tiny = ShiftCurvatureConfig(temperatures=(0.0125, 0.05), seeds=(0, 1), n_train=48, hidden=6, sde_time=4.0,
                                polish_steps=20, line_points=7)
    ens = sc.measure(tiny, "cpu")
    with ThreadPoolExecutor(max_workers=1) as ex:
        one_by_one = sc.measure(tiny, "cpu", executor=ex)
    assert [(r["T"], r["seed"]) for r in ens["runs"]] == [(0.0125, 0), (0.0125, 1), (0.05, 0), (0.05, 1)]
    for a, b in zip(ens["runs"], one_by_one["runs"]):
        assert a["batch_size"] == b["batch_size"]
        assert a["shift_norm"] == pytest.approx(b["shift_norm"], rel=1e-10)
        for k in ("train_loss_line", "test_loss_line"):
            assert a[k] == pytest.approx(b[k], rel=1e-10)
