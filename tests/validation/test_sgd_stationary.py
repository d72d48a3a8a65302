"""validation.experiments.sgd_stationary: the SMALL preset end to end, the committed record's metrics
re-derived by the pure compare(), and hostile configs refused with typed errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

from validation.experiments import ExperimentConfigError, get_experiment
from validation.experiments import sgd_stationary as ss
from validation.records import DATA_DIR


def _close(a, b, path="metrics"):
    """Recursive comparison of JSON-like data, floats to 1e-9 relative."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{path}: keys differ"
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{path}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, bool) or a is None or isinstance(a, str):
        assert a == b, f"{path}: {a!r} != {b!r}"
    else:
        assert math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12), f"{path}: {a} != {b}"


@pytest.fixture(scope="module")
def small_record():
    return get_experiment("sgd_stationary").run("small", device="cpu")


def test_small_end_to_end(small_record):
    met = small_record["metrics"]
    cfg = ss.SMALL
    for kind in ("symmetric", "skewed"):
        d = met["law"][kind]
        assert len(d["T"]) == len(set(cfg.law_batches)) >= 5
    sym = [r for r in met["runs"] if r["data"] == "symmetric" and not r["diverged"] and r["usable"]]
    assert sym, "no converged symmetric run in the small preset"
    for r in sym:
        # every predicted law is a probability vector on the histogram's bins
        for k, p in r["predicted"].items():
            if p is not None:
                assert len(p) == cfg.bins and abs(sum(p) - 1) < 1e-6
        # the non-constant-D law puts the mass where SGD does; constant-D Boltzmann does not
        assert r["tv"]["diffusion"] < 0.1 < r["tv"]["boltzmann"]
        # the exact chain is the closest prediction (up to the sampling floor)
        assert r["tv"]["chain"] <= r["tv"]["diffusion"] + r["tv_floor"]
    assert len(met["invariance"]) == len(cfg.invariance_temperatures)
    # the invariance test: one entry per test temperature, the predicted O(λ) statistic and (when ≥ 2 pairs
    # were usable) a permutation p-value in (0, 1] with a positive resolution
    assert set(met["invariance_test"]) == {str(t) for t in cfg.invariance_test_temperatures}
    for d in met["invariance_test"].values():
        assert d["batches"] == list(cfg.invariance_test_batches)
        assert d["predicted_statistic"]["chain"] is not None and d["predicted_statistic"]["chain"] > 0
        if "test" in d:
            assert 0 < d["test"]["p_value"] <= 1 and d["test"]["resolution"] > 0
            assert d["passes"] == bool(d["premise_holds"] and d["n_usable_pairs"] >= 3 and not d["unusable"]
                                       and not d["rejected"])
    # transients: the first-passage time in λ·steps is the exact chain's to sampling error (5 SE + 5 %:
    # the chain is discretised on the histogram's cells) and each time is within 25 % of the diffusion limit
    for d in met["transients"].values():
        assert len(d["points"]) == len(set(cfg.transient_batches))
        for p in d["points"]:
            assert not p["diverged"] and p["time"] > 0
            assert abs(p["time"] - p["chain_time"]) < 5 * p["se"] + 0.05 * p["chain_time"]
            assert 0.75 < p["ratio_to_diffusion"] < 1.25


def test_compare_rederives_committed_record():
    path = DATA_DIR / "sgd_stationary_cpu.json"
    if not path.exists():
        pytest.skip("no committed sgd_stationary record")
    from validation.records import read_record

    rec = read_record(path)
    exp = get_experiment("sgd_stationary")
    cfg = exp.config_from_dict(rec["config"])
    metrics = exp.compare(cfg, rec["prediction"], rec["raw"])
    _close(rec["metrics"], metrics)


def test_permutation_test_keeps_its_level_and_rejects_a_real_difference():
    """Replicates of one law: p is not small; a shift of 0.05 of the mass between two bins: rejected at
    the smallest p the permutations allow; the resolution (null median) falls like 1/sqrt(samples)."""
    rng = np.random.default_rng(3)
    law = np.full(16, 1 / 16)
    moved = law.copy()
    moved[3] += 0.05
    moved[9] -= 0.05

    def reps(p, n, R=8):
        return rng.multinomial(n, p, size=R) / n

    same = ss.permutation_test([reps(law, 4000) for _ in range(3)], n_permutations=999, seed=0)
    assert same["p_value"] > 0.01
    diff = ss.permutation_test([reps(law, 4000), reps(moved, 4000)], n_permutations=999, seed=0)
    assert diff["p_value"] == pytest.approx(1 / 1000) and diff["statistic"] > diff["null_q99"]
    coarse = ss.permutation_test([reps(law, 1000) for _ in range(2)], n_permutations=999, seed=0)["resolution"]
    fine = ss.permutation_test([reps(law, 16000) for _ in range(2)], n_permutations=999, seed=0)["resolution"]
    assert 2.5 < coarse / fine < 6.5  # ≈ 4 = sqrt(16)
    # re-derivable: the same seed gives the same p-value
    g = [reps(law, 4000) for _ in range(2)]
    assert ss.permutation_test(g, n_permutations=200, seed=5) == ss.permutation_test(g, n_permutations=200, seed=5)
    with pytest.raises(ValueError, match=">= 2 groups"):
        ss.permutation_test([reps(law, 100)], n_permutations=100, seed=0)


def test_predictions_are_probability_laws_and_edge_is_the_barrier():
    cfg = ss.SMALL
    pred = ss._predict_one(cfg, "symmetric", 0.1, 2)
    for k in ("chain", "diffusion", "boltzmann"):
        assert abs(sum(pred["laws"][k]) - 1) < 1e-9
        assert abs(sum(pred["occupancy"][k]) - 1) < 1e-9
    e = ss._edge(cfg)
    assert abs(e ** 3 - e + cfg.tilt) < 1e-12 and -1 < e < 1
    # D differs between the basins by ((1 − a)/(1 + a))² ≈ 9 at a = −0.5 (tanh(±1) ≈ ±0.76)
    dl, dr = pred["D_at_minima"]
    assert 4 < dl / dr < 12


@pytest.mark.parametrize("change, words", [
    ({"n_chains": "4000"}, "whole number"),
    ({"noise_shape": 1.0}, "noise_shape"),
    ({"law_batches": [1, 2, 3, 4]}, ">= 5"),
    ({"invariance_batches": [1, 2]}, ">= 3"),
    ({"invariance_batches": [1, 2.5, 3]}, "whole number"),
    ({"invariance_temperatures": [0.05]}, ">= 2"),
    ({"hist_range": [1.0, -1.0]}, "hi > lo"),
    ({"n_samples": 7}, "even"),
    ({"transient_batches": [1, 1, 2]}, ">= 3 distinct"),
    ({"invariance_test_batches": [1, 2]}, ">= 3 distinct"),
    ({"invariance_test_control_batch": 3}, "control"),
    ({"replicates": 2}, "replicates"),
    ({"replicates": 4, "invariance_test_chains": 512}, "cannot reach"),
    ({"invariance_test_chains": 100}, "64·replicates"),
    ({"alpha": 0.7}, "alpha"),
    ({"invariance_test_temperatures": [0.02]}, ">= 2"),
    ({"bogus": 1}, "unknown field"),
])
def test_hostile_config_is_refused(change, words):
    import dataclasses

    d = dataclasses.asdict(ss.SMALL)
    d.update(change)
    with pytest.raises(ExperimentConfigError, match=words):
        get_experiment("sgd_stationary").config_from_dict(d)


def test_unknown_data_kind_is_refused():
    with pytest.raises(ValueError, match="unknown data kind"):
        ss._data(ss.SMALL, "heavy")
    assert np.isclose(ss._data(ss.SMALL, "skewed").std(), 1.0)


def test_h4_reach_small_end_to_end():
    """RND Fig. H.4's models at half the stable step: no chain crosses, and the prediction says why
    (Arrhenius exponent from the narrow well ≫ 1; the SC.eq5 law moves only far above λ_max)."""
    from validation.experiments import sgd_h4_reach as h4

    rec = get_experiment("sgd_h4_reach").run("small", device="cpu")
    for name, m in rec["metrics"]["models"].items():
        assert m["lr"] < m["lr_max"]
        assert min(m["barrier_exponents"]) > 20
        assert m["log10_T_gap"] > 2
        assert m["unreachable"] == (sum(m["crossed"].values()) == 0)
    lm = h4.landmarks("RND.H4.right")
    assert lm["minima"][0] < lm["barrier"] < lm["minima"][1]


@pytest.mark.parametrize("change, words", [
    ({"lr_fraction": 1.5}, "lr_fraction"),
    ({"models": ["RND.H4.middle"]}, "subset"),
    ({"n_steps": 2.5}, "whole number"),
])
def test_h4_hostile_config_is_refused(change, words):
    import dataclasses

    from validation.experiments import sgd_h4_reach as h4

    d = dataclasses.asdict(h4.SMALL)
    d.update(change)
    with pytest.raises(ExperimentConfigError, match=words):
        get_experiment("sgd_h4_reach").config_from_dict(d)
