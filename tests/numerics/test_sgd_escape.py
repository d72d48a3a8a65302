"""Minibatch-SGD escape simulator: diffusion limit, censoring, divergence, seeding, bad input."""
import math

import numpy as np
import pytest
import sympy as sp

from numerics.landscapes import styblinski_tang_per_sample
from numerics.sgd_escape import (SGDDivergedError, per_sample_gradient, separable_gradient,
                                 simulate_escape)
from theory.escape import mean_first_passage_time_1d

x, th = sp.symbols("x theta", real=True)
SIGMA = 4.0


@pytest.fixture(scope="module")
def linear_noise_grad():
    # L(x, θ) = θ²/2 + σ x θ: Gaussian gradient noise of constant variance D = σ² (diffusion regime)
    return separable_gradient(th ** 2 / 2 + SIGMA * x * th, x, th)


def test_escape_time_matches_exact_mfpt_in_diffusion_regime(linear_noise_grad):
    lr, B, b = 0.01, 1, 0.6
    res = simulate_escape(linear_noise_grad, [0.0], lr=lr, batch_size=B, n_runs=1000,
                          max_steps=100_000, upper=b, seed=3)
    mean, se = res.mean_escape_steps()
    # discrete monitoring detects a crossing late: the boundary is effectively shifted by
    # β·(step s.d.), β = −ζ(1/2)/sqrt(2π) ≈ 0.5826 (Siegmund's correction for Gaussian steps)
    shift = 0.5826 * lr * SIGMA / math.sqrt(B)
    tau = mean_first_passage_time_1d(th ** 2 / 2, SIGMA ** 2, th, 0.0, b + shift, lr / B)
    tau_plain = mean_first_passage_time_1d(th ** 2 / 2, SIGMA ** 2, th, 0.0, b, lr / B)
    predicted = tau / lr
    assert res.n_censored == 0
    assert 50 < predicted < 2000
    assert abs(mean - predicted) < 4 * se + 0.03 * predicted, (mean, se, predicted)
    assert mean > tau_plain / lr + 2 * se  # the uncorrected boundary is measurably too early


def test_escape_is_first_of_p_exits(linear_noise_grad):
    one = simulate_escape(linear_noise_grad, [0.0], lr=0.01, batch_size=1, n_runs=300,
                          max_steps=100_000, upper=0.6, seed=1).mean_escape_steps()[0]
    four = simulate_escape(linear_noise_grad, [0.0] * 4, lr=0.01, batch_size=1, n_runs=300,
                           max_steps=100_000, upper=0.6, seed=2).mean_escape_steps()[0]
    assert four < 0.5 * one


def test_censored_runs_are_reported_not_dropped(linear_noise_grad):
    res = simulate_escape(linear_noise_grad, [0.0], lr=0.01, batch_size=1, n_runs=200,
                          max_steps=800, upper=0.6, seed=0)
    assert res.n_runs == 200
    assert 0 < res.n_censored < 200
    assert np.all(res.steps[~res.escaped] == 800)
    assert np.all(res.steps[res.escaped] <= 800)
    mean, se = res.mean_escape_steps()
    assert mean == pytest.approx(res.steps.sum() / np.count_nonzero(res.escaped))
    assert mean > 800 * 0.5 and se > 0
    assert res.summary()["n_censored"] == res.n_censored


def test_no_escape_gives_infinite_mean(linear_noise_grad):
    res = simulate_escape(linear_noise_grad, [0.0], lr=0.001, batch_size=1, n_runs=10,
                          max_steps=5, upper=5.0, seed=0)
    assert res.n_censored == 10
    assert res.mean_escape_steps() == (math.inf, math.inf)


def test_divergence_raises_typed_error_naming_lr():
    g = separable_gradient(styblinski_tang_per_sample(x, th, k=1), x, th)
    with pytest.raises(SGDDivergedError, match=r"η = 0\.5"):
        simulate_escape(g, [-2.9], lr=0.5, batch_size=1, n_runs=50, max_steps=200,
                        upper=1e300, seed=0)
    assert issubclass(SGDDivergedError, FloatingPointError)


def test_seeding_is_reproducible(linear_noise_grad):
    kw = dict(lr=0.02, batch_size=1, n_runs=50, max_steps=10_000, upper=0.6)
    a = simulate_escape(linear_noise_grad, [0.0], seed=7, **kw)
    b = simulate_escape(linear_noise_grad, [0.0], seed=7, **kw)
    c = simulate_escape(linear_noise_grad, [0.0], seed=8, **kw)
    assert np.array_equal(a.steps, b.steps)
    assert not np.array_equal(a.steps, c.steps)


@pytest.mark.parametrize("kw, msg", [
    (dict(lr=0.0), "lr"), (dict(lr=-0.1), "lr"), (dict(lr=float("nan")), "lr"),
    (dict(batch_size=0), "batch_size"), (dict(batch_size=1.5), "batch_size"),
    (dict(n_runs=0), "n_runs"), (dict(max_steps=0), "max_steps"),
    (dict(upper=-1.0), "not strictly inside"), (dict(backend="jax"), "backend"),
])
def test_bad_input_raises_value_error(linear_noise_grad, kw, msg):
    args = dict(lr=0.01, batch_size=1, n_runs=5, max_steps=10, upper=1.0)
    args.update(kw)
    with pytest.raises(ValueError, match=msg):
        simulate_escape(linear_noise_grad, [0.0], **args)


def test_general_gradient_and_torch_backend_agree_with_separable():
    pytest.importorskip("torch")
    xs, ts = sp.symbols("x1 x2", real=True), sp.symbols("t1 t2", real=True)
    loss = styblinski_tang_per_sample(list(xs), list(ts), k=2)
    g_full = per_sample_gradient(loss, list(xs), list(ts))
    g_sep = separable_gradient(styblinski_tang_per_sample(x, th, k=2), x, th)
    X = np.random.default_rng(0).standard_normal((4, 3, 2))
    T = np.random.default_rng(1).standard_normal((4, 1, 2))
    assert np.allclose(g_full(X, T), g_sep(X, T))
    g_t = separable_gradient(th ** 2 / 2 + SIGMA * x * th, x, th, backend="torch", device="cpu")
    res = simulate_escape(g_t, [0.0], lr=0.02, batch_size=1, n_runs=300, max_steps=50_000,
                          upper=0.6, seed=0, backend="torch", device="cpu")
    tau = mean_first_passage_time_1d(th ** 2 / 2, SIGMA ** 2, th, 0.0, 0.6, 0.02) / 0.02
    mean, se = res.mean_escape_steps()
    assert abs(mean - tau) < 4 * se + 0.15 * tau
