"""Minibatch-SGD escape simulator: diffusion limit, censoring, divergence, seeding, bad input."""
import math

import numpy as np
import pytest
import sympy as sp

from numerics.landscapes import styblinski_tang_per_sample
from numerics.sgd_escape import (SGDDivergedError, per_sample_gradient, separable_gradient,
                                 simulate_escape)
from numerics.first_passage import mean_first_passage_time_1d

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
    with pytest.raises(SGDDivergedError, match=r"η = 0\.5") as err:
        simulate_escape(g, [-2.9], lr=0.5, batch_size=1, n_runs=50, max_steps=200,
                        upper=1e300, seed=0)
    assert issubclass(SGDDivergedError, FloatingPointError)
    e = err.value  # a non-finite iterate: step_ratio inf
    assert (e.lr, e.batch_size, e.step_ratio) == (0.5, 1, math.inf) and 1 <= e.iteration <= 200


def test_seeding_is_reproducible(linear_noise_grad):
    kw = dict(lr=0.02, batch_size=1, n_runs=50, max_steps=10_000, upper=0.6)
    a = simulate_escape(linear_noise_grad, [0.0], seed=7, **kw)
    b = simulate_escape(linear_noise_grad, [0.0], seed=7, **kw)
    c = simulate_escape(linear_noise_grad, [0.0], seed=8, **kw)
    assert np.array_equal(a.steps, b.steps)
    assert not np.array_equal(a.steps, c.steps)
    assert a.seed == 7 and a.lr == 0.02 and a.batch_size == 1 and a.max_steps == 10_000


def test_torch_seeding_is_reproducible():
    pytest.importorskip("torch")
    g = separable_gradient(th ** 2 / 2 + SIGMA * x * th, x, th, backend="torch", device="cpu")
    kw = dict(lr=0.02, batch_size=3, n_runs=50, max_steps=10_000, upper=0.6, backend="torch",
              device="cpu")
    a, b, c = (simulate_escape(g, [0.0], seed=s, **kw) for s in (7, 7, 8))
    assert np.array_equal(a.steps, b.steps)
    assert not np.array_equal(a.steps, c.steps)


def test_numpy_backend_never_needs_torch(monkeypatch, linear_noise_grad):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    res = simulate_escape(linear_noise_grad, [0.0], lr=0.01, batch_size=2, n_runs=5,
                          max_steps=10, upper=0.6, seed=0)
    assert res.n_runs == 5


def test_no_progress_output_by_default(capsys, linear_noise_grad):
    simulate_escape(linear_noise_grad, [0.0], lr=0.01, batch_size=2, n_runs=5, max_steps=50,
                    upper=5.0, seed=0)
    out = capsys.readouterr()
    assert out.err == "" and out.out == ""


@pytest.mark.parametrize("kw, msg", [
    (dict(lr=0.0), "^lr must"), (dict(lr=-0.1), "^lr must"), (dict(lr=float("nan")), "^lr must"),
    (dict(batch_size=0), "^batch_size must"), (dict(batch_size=1.5), "^batch_size must"),
    (dict(n_runs=0), "^n_runs must"), (dict(max_steps=0), "^max_steps must"),
    (dict(noise_scale=-1.0), "^noise_scale must"),
    (dict(upper=-1.0), "not strictly inside"), (dict(backend="jax"), "^backend must"),
    (dict(upper=float("nan")), "^upper must not contain NaN"),
    (dict(lower=[float("nan")]), "^lower must not contain NaN"),
    (dict(lower=0.0), "not strictly inside"),  # the box is open: a start on a bound is outside
    (dict(start=[float("nan")]), "^start must be a finite 1-D point"),
    (dict(start=[[0.0]]), "^start must be a finite 1-D point"),
    (dict(max_step_ratio=0.0), "^max_step_ratio must"),
])
def test_bad_input_raises_value_error(linear_noise_grad, kw, msg):
    args = dict(lr=0.01, batch_size=1, n_runs=5, max_steps=10, upper=1.0)
    args.update(kw)
    start = args.pop("start", [0.0])
    with pytest.raises(ValueError, match=msg):
        simulate_escape(linear_noise_grad, start, **args)


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


# --------------------------------------------------------------------------------------------------
# minibatch B > 1: the update averages the B per-sample gradients (SC.eq9); deterministic steps
# --------------------------------------------------------------------------------------------------
BACKENDS = ["numpy", pytest.param("torch", marks=pytest.mark.filterwarnings("ignore"))]


def _grad(loss, backend):
    if backend == "torch":
        pytest.importorskip("torch")
        return separable_gradient(loss, x, th, backend="torch", device="cpu")
    return separable_gradient(loss, x, th)


def _run(grad, start, backend, **kw):
    extra = dict(backend="torch", device="cpu") if backend == "torch" else {}
    return simulate_escape(grad, start, **kw, **extra)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("B", [1, 5])
def test_deterministic_exit_step_without_noise(backend, B):
    """noise_scale = 0 on L = −θ²/2 + σxθ: θ_t = θ_0 (1 + η)^t for every B (the mean of B equal
    gradients), so the exit step is ceil(log(b/θ_0)/log(1 + η)) — 48 from 0.1 to 1 at η = 0.05
    (a summed minibatch would give θ_0 (1 + Bη)^t and exit at step 10 for B = 5)."""
    g = _grad(-th ** 2 / 2 + SIGMA * x * th, backend)
    kw = dict(lr=0.05, batch_size=B, n_runs=7, max_steps=1000, noise_scale=0.0, seed=0)
    up = _run(g, [0.1], backend, upper=1.0, **kw)
    assert up.steps.tolist() == [48] * 7 and up.escaped.all()
    down = _run(g, [-0.1], backend, lower=-1.0, **kw)
    assert down.steps.tolist() == [48] * 7 and down.escaped.all()
    # p = 2: the run ends when the first coordinate leaves (0.2·1.05^t ≥ 1 at t = 33)
    two = _run(g, [0.1, 0.2], backend, upper=1.0, lower=-1.0, **kw)
    assert two.steps.tolist() == [33] * 7 and two.dim == 2
    capped = _run(g, [0.1], backend, upper=1.0, **{**kw, "max_steps": 47})
    assert capped.n_censored == 7 and capped.steps.tolist() == [47] * 7


@pytest.mark.parametrize("backend", BACKENDS)
def test_landing_exactly_on_the_boundary_is_an_exit(backend):
    """Constant gradient ∓1, η = 0.5, B = 3, no noise: θ = ±0.5, ±1.0 — the box is open, so
    θ = ±1 (exactly representable) leaves it at step 2."""
    kw = dict(lr=0.5, batch_size=3, n_runs=2, max_steps=10, noise_scale=0.0)
    up = _run(_grad(-th + x * th, backend), [0.0], backend, upper=1.0, **kw)
    down = _run(_grad(th + x * th, backend), [0.0], backend, lower=-1.0, **kw)
    assert up.steps.tolist() == [2, 2] and down.steps.tolist() == [2, 2]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("B, scale", [(1, 1.0), (4, 1.0), (16, 1.0), (4, 2.0), (4, 0.3)])
def test_minibatch_mean_noise_variance_scales_as_one_over_B(backend, B, scale):
    """One step from 0 on L = σxθ (x ~ N(0, s²)): θ_1 = −η σ x̄ with Var = (ησs)²/B. With the box
    ±b, b = ησs/√B, the exit probability after one step is P(|Z| ≥ 1) = 0.3173 for every B — a
    summed minibatch (2P(Z ≥ 1/B)) or a single sample (2P(Z ≥ 1/√B)) gives 0.80 / 0.62 at B = 4."""
    lr, R = 0.1, 20_000
    b = lr * SIGMA * scale / math.sqrt(B)
    res = _run(_grad(SIGMA * x * th, backend), [0.0], backend, lr=lr, batch_size=B, n_runs=R,
               max_steps=1, upper=b, lower=-b, noise_scale=scale, seed=11)
    p = math.erfc(1 / math.sqrt(2))  # P(|Z| ≥ 1)
    frac = float(np.mean(res.escaped))
    assert abs(frac - p) < 4 * math.sqrt(p * (1 - p) / R), (frac, p)
    assert np.all(res.steps == 1)


def test_escape_result_statistics_are_exact():
    from numerics.sgd_escape import EscapeResult

    kw = dict(max_steps=10, lr=0.1, batch_size=2, dim=1, seed=0)
    done = EscapeResult(steps=np.array([1, 2, 3, 4]), escaped=np.ones(4, bool), **kw)
    mean, se = done.mean_escape_steps()
    assert mean == 2.5 and se == pytest.approx(np.std([1, 2, 3, 4], ddof=1) / 2, rel=1e-14)
    assert done.n_runs == 4 and done.n_censored == 0
    summ = done.summary()
    assert summ["quantiles_10_50_90"] == pytest.approx([1.3, 2.5, 3.7], rel=1e-12)
    assert summ["std_steps"] == pytest.approx(1.2909944487358056, rel=1e-12)
    assert summ["mean_steps"] == 2.5 and summ["n_censored"] == 0 and summ["max_steps"] == 10
    assert summ["n_runs"] == 4 and summ["se_steps"] == se
    cens = EscapeResult(steps=np.array([2, 4, 10]), escaped=np.array([True, True, False]), **kw)
    # exponential MLE under right censoring: total time / number of exits
    assert cens.mean_escape_steps() == pytest.approx((8.0, 8.0 / math.sqrt(2)), rel=1e-14)
    assert cens.n_censored == 1
    one = EscapeResult(steps=np.array([3]), escaped=np.array([True]), **kw)
    assert one.mean_escape_steps() == (3.0, math.inf) and one.summary()["std_steps"] == 0.0
    two = EscapeResult(steps=np.array([3, 5]), escaped=np.array([True, True]), **kw)
    assert two.mean_escape_steps() == pytest.approx((4.0, 1.0), rel=1e-14)  # s.d. √2 / √2
    assert two.summary()["std_steps"] == pytest.approx(math.sqrt(2), rel=1e-14)


def test_valley_size_is_the_smallest_box_extent():
    from numerics.sgd_escape import valley_size

    inf = math.inf
    assert valley_size([0.0], [1.0], [-1.0]) == 2.0
    assert valley_size([0.2], [1.0], [-inf]) == pytest.approx(0.8)     # one finite bound
    assert valley_size([0.2], [inf], [-1.0]) == pytest.approx(1.2)
    assert valley_size([0.0, 0.0], [1.0, inf], [-1.0, -0.5]) == pytest.approx(0.5)
    assert valley_size([0.0], [inf], [-inf]) == inf


def test_small_max_step_ratio_is_valid_and_default_device_is_auto(linear_noise_grad):
    res = simulate_escape(linear_noise_grad, [0.0], lr=0.01, batch_size=2, n_runs=5,
                          max_steps=3, upper=0.6, seed=0, max_step_ratio=0.5)
    assert res.n_runs == 5
    pytest.importorskip("torch")
    g = separable_gradient(th ** 2 / 2 + SIGMA * x * th, x, th, backend="torch")
    res = simulate_escape(g, [0.0], lr=0.01, batch_size=2, n_runs=5, max_steps=3, upper=0.6,
                          seed=0, backend="torch")  # device="auto": CUDA when present, else CPU
    assert res.n_runs == 5


def test_strings_are_refused_as_symbols():
    with pytest.raises(TypeError, match="strings are never evaluated"):
        per_sample_gradient(th * x, ["x"], [th])
    with pytest.raises(TypeError, match="strings are never evaluated"):
        separable_gradient(th * x, x, "theta")


def test_per_sample_gradient_checks_symbols_and_honours_backend():
    xs, ts = sp.symbols("x1 x2", real=True), sp.symbols("t1 t2", real=True)
    with pytest.raises(ValueError, match="^theta must be 2 SymPy Symbols"):
        per_sample_gradient(ts[0] * xs[0], list(xs), [ts[0], 2])
    with pytest.raises(ValueError, match="^x must be 2 SymPy Symbols"):
        per_sample_gradient(ts[0] * xs[0], [xs[0]], list(ts))
    g1 = per_sample_gradient(th ** 3 / 3 + x * th, x, th)  # a single Symbol for each
    np.testing.assert_allclose(g1(np.array([[1.0]]), np.array([[2.0]])), [[5.0]])
    torch = pytest.importorskip("torch")
    gt = per_sample_gradient(th ** 3 / 3 + x * th, [x], [th], backend="torch", device="cpu")
    out = gt(torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([[2.0]], dtype=torch.float64))
    assert isinstance(out, torch.Tensor) and float(out.reshape(-1)[0]) == 5.0


# --------------------------------------------------------------------------------------------------
# the in-place NumPy loop keeps the dynamics and the random stream
# --------------------------------------------------------------------------------------------------
def _reference_numpy(grad, start, *, lr, batch_size, n_runs, max_steps, upper, lower, seed,
                     noise_scale=1.0):
    """The plain loop: a fresh (n, B, p) draw of default_rng(seed) per step, θ ← θ − η·mean_b ∂L."""
    rng = np.random.default_rng(seed)
    th = np.tile(np.asarray(start, dtype=float), (n_runs, 1))
    alive, steps, escaped = np.arange(n_runs), np.full(n_runs, max_steps), np.zeros(n_runs, bool)
    for t in range(1, max_steps + 1):
        xs = rng.standard_normal((th.shape[0], batch_size, th.shape[1]))
        if noise_scale != 1.0:
            xs = xs * noise_scale
        th = th - lr * np.asarray(grad(xs, th[:, None, :])).mean(1)
        out = ((th >= upper) | (th <= lower)).any(1)
        steps[alive[out]], escaped[alive[out]] = t, True
        th, alive = th[~out], alive[~out]
        if alive.size == 0:
            break
    return steps, escaped


@pytest.mark.parametrize("B, p, scale", [(1, 1, 1.0), (10, 1, 1.0), (3, 2, 0.5)])
def test_numpy_loop_matches_plain_reference_exactly(linear_noise_grad, B, p, scale):
    """Same seed → the same samples (Generator.standard_normal(out=…) draws the same stream as
    fresh (n, B, p) arrays) and the same arithmetic: identical escape steps, run by run."""
    kw = dict(lr=0.02, batch_size=B, n_runs=200, max_steps=2000, upper=[0.3] * p,
              lower=[-0.35] * p, seed=13, noise_scale=scale)
    res = simulate_escape(linear_noise_grad, [0.05] * p, **kw)
    ref, ref_escaped = _reference_numpy(linear_noise_grad, [0.05] * p, **kw)
    assert res.n_censored < res.n_runs // 2 and len(set(res.steps.tolist())) > 20
    np.testing.assert_array_equal(res.steps, ref)
    np.testing.assert_array_equal(res.escaped, ref_escaped)


def test_custom_gradient_of_another_shape_or_type_is_averaged():
    """A hand-written ``grad`` may return a list or a (n, 1, p) array (no sample dependence): the
    update still uses the mean over the minibatch axis, θ_t = θ_0 (1 + η)^t → exit at step 48."""
    kw = dict(lr=0.05, batch_size=4, n_runs=3, max_steps=1000, upper=1.0, seed=0)
    for grad in (lambda xs, ts: -ts,                                # shape (n, 1, p)
                 lambda xs, ts: (-ts * np.ones_like(xs)).tolist(),  # a nested list
                 lambda xs, ts: (-ts * np.ones_like(xs)).astype(np.float32)):
        res = simulate_escape(grad, [0.1], **kw)
        assert res.steps.tolist() == [48] * 3, grad


def test_only_finite_bounds_are_tested(linear_noise_grad):
    """Lower bound only, upper bound only, both, none (censored): each exit is on the bound hit."""
    g = separable_gradient(-th ** 2 / 2 + SIGMA * x * th, x, th)
    kw = dict(lr=0.05, batch_size=2, n_runs=4, max_steps=100, noise_scale=0.0, seed=0)
    assert simulate_escape(g, [-0.1], lower=-1.0, **kw).steps.tolist() == [48] * 4
    assert simulate_escape(g, [0.1], upper=1.0, **kw).steps.tolist() == [48] * 4
    assert simulate_escape(g, [0.1, -0.2], upper=[1.0, math.inf], lower=[-math.inf, -1.0],
                           **kw).steps.tolist() == [33] * 4
    free = simulate_escape(g, [0.1], **kw)
    assert free.n_censored == 4 and free.steps.tolist() == [100] * 4


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_step_far_beyond_the_valley_is_divergence_not_escape(backend):
    """Constant gradient −1 without noise, η = 500, box (−1, 1) (size 2): the first step moves θ by
    500 = 250 valley sizes > max_step_ratio = 100 — SGDDivergedError at iteration 1, not an exit."""
    g = _grad(-th + x * th, backend)
    with pytest.raises(SGDDivergedError, match="valley size") as err:
        _run(g, [0.0], backend, lr=500.0, batch_size=2, n_runs=3, max_steps=5, upper=1.0,
             lower=-1.0, noise_scale=0.0)
    e = err.value
    assert (e.lr, e.batch_size, e.iteration) == (500.0, 2, 1)
    assert e.step_ratio == pytest.approx(250.0)
    res = _run(g, [0.0], backend, lr=500.0, batch_size=2, n_runs=3, max_steps=5, upper=1.0,
               lower=-1.0, noise_scale=0.0, max_step_ratio=300.0)  # a looser limit: an exit
    assert res.steps.tolist() == [1, 1, 1]
