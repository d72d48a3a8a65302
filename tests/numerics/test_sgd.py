"""numerics.sgd: the many-chain SGD simulator — step moments with/without replacement, stationary
laws vs closed forms, occupancy, first passage vs simulate_escape, seeding, chunking, divergence,
the Euler–Maruyama reference vs the exact OU law, diagnostics, device fallback, the fused path."""
import math
import warnings

import numpy as np
import pytest
import sympy as sp

torch = pytest.importorskip("torch")

from numerics.sgd import (FiniteData, FirstPassage, Histogram1D, Histogram2D, Moments, Occupancy,  # noqa: E402
                          SGDConfigError, SGDDivergedError, SGDNotConvergedError, compile_diffusion,
                          diffusion_from_data,
                          compile_per_sample_gradient, gaussian_stream, simulate_diffusion, simulate_sgd)
from numerics.sgd_escape import separable_gradient, simulate_escape  # noqa: E402

x, th = sp.symbols("x theta", real=True)
x1, x2, t1, t2 = sp.symbols("x1 x2 t1 t2", real=True)


def _grad(loss, xs=x, ts=th):
    return compile_per_sample_gradient(loss, xs, ts, device="cpu")


# --------------------------------------------------------------------------------------------------
# one step at fixed θ: mean −λ ∂U^tr, variance λ² Var_j[∂U(x_j)]/B × (N−B)/(N−1) without replacement
# --------------------------------------------------------------------------------------------------
def test_step_mean_and_variance_with_and_without_replacement():
    """U = (θ − x)⁴/4 (a non-linear per-sample gradient), N = 20 samples, B = 10, one step from
    θ₀ = 0.3: the step's mean is −λ·mean_j g_j either way; its variance is λ² s²/B with
    replacement and λ² s²/B · (N − B)/(N − 1) = ·10/19 without (s² the population variance of
    g_j = (θ₀ − x_j)³)."""
    data = np.random.default_rng(5).standard_normal(20)
    g = _grad((th - x) ** 4 / 4)
    lr, B, t0, R = 0.1, 10, 0.3, 40_000
    gj = (t0 - data) ** 3
    mean_exact = t0 - lr * gj.mean()
    var_repl = lr ** 2 * gj.var() / B
    out = {}
    for replace in (True, False):
        res = simulate_sgd(g, data=FiniteData(data, replace=replace), lr=lr, batch_size=B, n_chains=R,
                           n_steps=1, start=[t0], observers=[Moments()], seed=2, device="cpu")
        m = res.moments[0]
        assert m["n_samples"] == pytest.approx(R)
        out[replace] = (float(m["mean"][0]), float(m["var"][0]))
    factor = (20 - B) / (20 - 1)
    for replace, var_exact in ((True, var_repl), (False, var_repl * factor)):
        mean, var = out[replace]
        assert abs(mean - mean_exact) < 4 * math.sqrt(var_exact / R), (replace, mean, mean_exact)
        # var of a sample variance: ≈ var²·(2 + excess kurtosis)/R; 5 SE with kurtosis ≤ 3
        assert abs(var - var_exact) < 5 * var_exact * math.sqrt(5 / R), (replace, var, var_exact)
    ratio = out[False][1] / out[True][1]
    assert abs(ratio - factor) < 0.05 and abs(ratio - 1) > 0.3  # it matters: ×0.53


def test_stream_step_with_weight_decay_and_isotropic_noise():
    """U = θ·x, x ∼ N(0, σ²) (a stream): one step from θ₀ = 1 with ℓ2 α and noise β (SC.eq13):
    mean θ₀(1 − λα), variance λ²(σ² + β²)/B."""
    g = _grad(th * x)
    lr, B, alpha, beta, sigma, R = 0.2, 4, 0.5, 1.5, 2.0, 40_000
    res = simulate_sgd(g, data=gaussian_stream(1, sigma), lr=lr, batch_size=B, n_chains=R, n_steps=1,
                       start=[1.0], observers=[Moments()], weight_decay=alpha, noise=beta, seed=0,
                       device="cpu")
    var_exact = lr ** 2 * (sigma ** 2 + beta ** 2) / B
    m = res.moments[0]
    assert abs(m["mean"][0] - (1 - lr * alpha)) < 4 * math.sqrt(var_exact / R)
    assert abs(m["var"][0] - var_exact) < 4 * var_exact * math.sqrt(2 / R)
    assert abs(m["var"][0] - lr ** 2 * sigma ** 2 / B) > 10 * var_exact * math.sqrt(2 / R)


# --------------------------------------------------------------------------------------------------
# stationary laws
# --------------------------------------------------------------------------------------------------
def test_stationary_law_of_quadratic_model_is_the_discrete_gaussian():
    """U = (θ − x)²/2 on N = 1000 samples: θ' = (1 − λ)θ + λ x̄_B, so the stationary law is (by the
    CLT over ~1/λ steps) Gaussian with mean x̄ and variance λ s²/(B (2 − λ)) — the Lyapunov
    equation of the AR(1) step; the diffusion limit (T D / 2 = λ s²/(2B), SC.eq5) is 5 % narrower
    at λ = 0.1 and measurably off."""
    data = np.random.default_rng(1).standard_normal(1000)
    lr, B = 0.1, 10
    mu, s2 = data.mean(), data.var()
    var_exact = lr * s2 / (B * (2 - lr))
    var_fp = lr * s2 / (2 * B)
    sd = math.sqrt(var_exact)
    hist = Histogram1D(mu - 4 * sd, mu + 4 * sd, 32)
    res = simulate_sgd(_grad((th - x) ** 2 / 2), data=FiniteData(data), lr=lr, batch_size=B,
                       n_chains=4000, n_steps=1200, burn_in=200, start=[mu],
                       observers=[hist, Moments()], seed=3, device="cpu")
    assert res.converged, res.diagnostics.reasons
    ess = res.diagnostics.ess["theta[0]"]
    assert 10_000 < ess < res.chain_steps
    var = res.moments[0]["var"][0]
    se_var = var * math.sqrt(2 / ess)
    assert abs(var - var_exact) < 4 * se_var, (var, var_exact, se_var)
    assert abs(var - var_fp) > 4 * se_var
    h = res.histograms[0]
    from scipy.stats import norm

    p_exact = np.diff(norm.cdf(h["edges"], mu, sd))
    tol = 5 * np.sqrt(p_exact / ess) + 2e-4
    assert np.all(np.abs(h["probabilities"] - p_exact) <= tol)
    tv = 0.5 * np.abs(h["probabilities"] - p_exact).sum()
    assert tv < 0.02, tv
    assert h["n_samples"] == pytest.approx(4000 * 1000)


def test_2d_covariance_matches_the_discrete_lyapunov_equation():
    """p = 2, U = ½(θ − x)ᵀA(θ − x), x ∼ N(0, I) (a stream): θ' = Mθ + λA x̄, M = I − λA, so the
    stationary covariance solves Σ = MΣMᵀ + (λ²/B) A Aᵀ.  Quadrant occupancy by a labelling
    function and the 2-D histogram are checked on the same run."""
    from scipy.linalg import solve_discrete_lyapunov

    A = np.array([[1.0, 0.4], [0.4, 2.0]])
    d1, d2 = t1 - x1, t2 - x2
    loss = (A[0, 0] * d1 ** 2 + 2 * A[0, 1] * d1 * d2 + A[1, 1] * d2 ** 2) / 2
    g = compile_per_sample_gradient(loss, [x1, x2], [t1, t2], device="cpu")
    lr, B = 0.1, 2
    M = np.eye(2) - lr * A
    sigma = solve_discrete_lyapunov(M, lr ** 2 / B * A @ A.T)
    lab = Occupancy(label=lambda t: (t[:, 0] > 0).long() * 2 + (t[:, 1] > 0).long(), n_basins=4)
    h2 = Histogram2D((-0.6, 0.6), (-0.6, 0.6), 12)
    res = simulate_sgd(g, data=gaussian_stream(2), lr=lr, batch_size=B, n_chains=2000, n_steps=600,
                       burn_in=100, start=[0.0, 0.0], observers=[Moments(), lab, h2], seed=4, device="cpu")
    assert res.converged, res.diagnostics.reasons
    cov = res.moments[0]["cov"]
    ess = min(res.diagnostics.ess["theta[0]"], res.diagnostics.ess["theta[1]"])
    assert np.all(np.abs(cov - sigma) < 5 * np.sqrt(2 / ess) * np.sqrt(np.outer(np.diag(sigma), np.diag(sigma))))
    assert abs(cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1]) - sigma[0, 1] / math.sqrt(sigma[0, 0] * sigma[1, 1])) < 0.05
    from scipy.stats import multivariate_normal

    p_pos = multivariate_normal(np.zeros(2), sigma).cdf(np.zeros(2))  # P(both < 0) = P(both > 0)
    fr = res.occupancy[0]["fractions"]
    assert fr.sum() == pytest.approx(1.0)
    assert abs(fr[0] - p_pos) < 0.02 and abs(fr[3] - p_pos) < 0.02 and abs(fr[1] - (0.5 - p_pos)) < 0.02
    hh = res.histograms[0]
    assert hh["counts"].shape == (12, 12)
    assert hh["counts"].sum() + hh["outside"] == pytest.approx(res.n_chains * 500)


def _double_well(n=500, var=6.0):
    z = np.random.default_rng(0).standard_normal(n)
    data = np.concatenate([z, -z])  # symmetric data: U(x, θ) = U(−x, −θ), an exactly symmetric law
    return data * math.sqrt(var / data.var())


DW_LOSS = (th ** 2 - 1) ** 2 / 4 + x * th


def test_symmetric_double_well_occupancy_is_one_half_and_converged():
    """All chains start in the left well; after burn-in the occupancy of each basin is 1/2 within
    sampling error (ESS from the chain groups), and the diagnostics say converged."""
    res = simulate_sgd(_grad(DW_LOSS), data=FiniteData(_double_well()), lr=0.05, batch_size=1,
                       n_chains=1000, n_steps=6000, burn_in=3000, start=[-1.0],
                       observers=[Occupancy([0.0])], seed=0, device="cpu")
    assert res.converged is True and res.diagnostics.reasons == ()
    res.require_converged()
    frac = res.occupancy[0]["fractions"][1]
    ess = res.diagnostics.ess["occupancy[0][basin 1]"]
    assert 1000 < ess < res.chain_steps / 50  # crossings are rare: ESS ≪ chain-steps
    assert abs(frac - 0.5) < 4 * math.sqrt(0.25 / ess), (frac, ess)
    assert max(res.diagnostics.rhat.values()) < 1.01


def test_diagnostics_flag_an_unconverged_run():
    """Same double well, no burn-in, 200 steps: the right basin is still filling up — the drift
    between the halves and R̂ say so, with the numbers; require_converged raises."""
    res = simulate_sgd(_grad(DW_LOSS), data=FiniteData(_double_well()), lr=0.05, batch_size=1,
                       n_chains=1000, n_steps=200, start=[-1.0], observers=[Occupancy([0.0])], seed=0,
                       device="cpu")
    d = res.diagnostics
    assert res.converged is False
    drift, se = d.drift["occupancy[0][basin 1]"]
    assert drift > 8 * se > 0
    assert d.rhat["theta[0]"] > 1.01
    assert any("drift(occupancy[0][basin 1])" in r for r in d.reasons)
    assert res.summary()["converged"] is False and res.summary()["diagnostics"]["reasons"]
    with pytest.raises(SGDNotConvergedError, match="drift"):
        res.require_converged()
    # too short a window for the blocks: not converged, and why
    short = simulate_sgd(_grad(DW_LOSS), data=FiniteData(_double_well()), lr=0.05, batch_size=1,
                         n_chains=100, n_steps=5, start=[-1.0], observers=[Moments()], device="cpu")
    assert short.converged is False and "blocks" in short.diagnostics.reasons[0]


# --------------------------------------------------------------------------------------------------
# first passage
# --------------------------------------------------------------------------------------------------
def test_first_passage_matches_simulate_escape():
    """DT's stream setting, L = θ²/2 + σxθ, B = 1, λ = 0.01, first passage above 0.6: the general
    simulator's per-chain passage times agree with simulate_escape (NumPy path) statistically."""
    loss = th ** 2 / 2 + 4 * x * th
    ref = simulate_escape(separable_gradient(loss, x, th), [0.0], lr=0.02, batch_size=1, n_runs=400,
                          max_steps=50_000, upper=0.6, seed=3)
    m_ref, se_ref = ref.mean_escape_steps()
    res = simulate_sgd(_grad(loss), data=gaussian_stream(1), lr=0.02, batch_size=1, n_chains=400,
                       n_steps=50_000, start=[0.0], observers=[FirstPassage(upper=0.6)], seed=3,
                       device="cpu")
    fp = res.passage[0]
    assert fp["n_censored"] == 0 and res.diagnostics is None and res.converged is None
    assert res.steps_run < 50_000  # stopped once every chain had passed
    assert abs(fp["mean_steps"] - m_ref) < 4 * math.hypot(fp["se_steps"], se_ref), (fp["mean_steps"], m_ref)
    # censoring is reported, not dropped
    cut = simulate_sgd(_grad(loss), data=gaussian_stream(1), lr=0.02, batch_size=1, n_chains=400,
                       n_steps=200, start=[0.0], observers=[FirstPassage(upper=0.6)], seed=3, device="cpu")
    c = cut.passage[0]
    assert 0 < c["n_censored"] < 400 and np.all(c["steps"][~c["hit"]] == 200)


# --------------------------------------------------------------------------------------------------
# seeding, chunking
# --------------------------------------------------------------------------------------------------
def _small_run(**kw):
    data = np.random.default_rng(2).standard_normal(50)
    obs = [Histogram1D(-1.5, 1.5, 20), Moments(), Occupancy([0.0]), FirstPassage(upper=0.4)]
    args = dict(data=FiniteData(data, replace=False), lr=0.1, batch_size=5, n_chains=300, n_steps=120,
                burn_in=20, start=[0.0], observers=obs, seed=11, device="cpu", noise=0.3)
    args.update(kw)
    return simulate_sgd(_grad((th - x) ** 2 / 2), **args)


def test_progress_is_called_with_the_steps_of_each_call():
    seen = []
    res = _small_run(progress=seen.append, steps_per_call=16)
    assert sum(seen) == res.steps_run == 120 and max(seen) == 16
    assert seen[:2] == [16, 4]  # a call never straddles the end of burn-in (20)


def test_same_seed_same_result_other_seed_differs():
    a, b, c = _small_run(), _small_run(), _small_run(seed=12)
    assert np.array_equal(a.histograms[0]["counts"].astype(np.int64), b.histograms[0]["counts"].astype(np.int64))
    assert np.array_equal(a.passage[0]["steps"], b.passage[0]["steps"])
    np.testing.assert_allclose(a.moments[0]["cov"], b.moments[0]["cov"], rtol=1e-15, atol=0)
    assert not np.array_equal(a.histograms[0]["counts"], c.histograms[0]["counts"])
    assert a.seed == 11 and a.path == "cpu-eager" and a.chain_steps == 300 * 120 and a.chain_steps_per_s > 0
    assert 0 < a.first_call_seconds <= a.seconds and a.summary()["path"] == "cpu-eager"


def test_chunks_give_the_same_statistics_as_one_batch():
    """RNG blocks of 64 chains; chunks of 64 (five chunks) or one batch: the same random numbers per
    chain, so the same histograms, passage times and (to rounding) moments and diagnostics."""
    one = _small_run(rng_block=64)
    many = _small_run(rng_block=64, max_chunk_chains=64)
    mem = _small_run(rng_block=64, memory_bytes=64 * 2000)  # a memory budget → chunks too
    for r in (many, mem):
        assert np.array_equal(one.histograms[0]["counts"], r.histograms[0]["counts"])
        assert np.array_equal(one.passage[0]["steps"], r.passage[0]["steps"])
        np.testing.assert_allclose(one.moments[0]["cov"], r.moments[0]["cov"], rtol=1e-10)
        np.testing.assert_allclose(one.occupancy[0]["fractions"], r.occupancy[0]["fractions"], rtol=1e-12)
        for k, v in one.diagnostics.rhat.items():
            assert r.diagnostics.rhat[k] == pytest.approx(v, rel=1e-9)


# --------------------------------------------------------------------------------------------------
# divergence, bad input
# --------------------------------------------------------------------------------------------------
def test_divergence_raises_typed_error_naming_lr():
    """U = 5 θ² (U'' = 10) at λ = 0.5: θ_t = (−4)^t — |θ| > max_abs = 1000 first at t = 5; without a
    bound the iterates overflow and the non-finite test fires."""
    g = _grad(5 * th ** 2 + 0 * x)
    kw = dict(data=gaussian_stream(1), lr=0.5, batch_size=2, n_chains=8, n_steps=2000, start=[1.0],
              device="cpu")
    with pytest.raises(SGDDivergedError, match=r"λ = 0\.5.*lower λ") as err:
        simulate_sgd(g, max_abs=1000.0, observers=[Moments()], **kw)
    assert (err.value.lr, err.value.batch_size, err.value.iteration) == (0.5, 2, 5)
    # inf and NaN iterates never index a histogram out of range before the error is raised
    obs = [Histogram1D(-1, 1, 10), Occupancy([0.0]), FirstPassage(upper=5.0), Moments()]
    with pytest.raises(SGDDivergedError, match="non-finite") as err:
        simulate_sgd(g, max_abs=None, observers=obs, **kw)
    assert err.value.step_ratio == math.inf and 500 < err.value.iteration < 2000


@pytest.mark.parametrize("kw, err, msg", [
    (dict(lr=0.0), SGDConfigError, "lr must be > 0"),
    (dict(batch_size=0), SGDConfigError, "batch_size must be an integer"),
    (dict(burn_in=10), SGDConfigError, "burn_in = 10 must be < n_steps"),
    (dict(batch_size=60), SGDConfigError, "without replacement"),
    (dict(start=[0.0, 1.0]), SGDConfigError, "start has 2 coordinates"),
    (dict(observers=["hist"]), SGDConfigError, "observers must be"),
    (dict(blocks=5), SGDConfigError, "blocks must be even"),
    (dict(data=[1.0, 2.0]), SGDConfigError, "data must be a FiniteData"),
    (dict(fuse="yes"), SGDConfigError, "fuse must be"),
    (dict(seed=-1), SGDConfigError, "seed must be an integer >= 0"),
    (dict(max_abs=float("nan")), SGDConfigError, "max_abs must be a finite number"),
])
def test_bad_input_says_what_to_change(kw, err, msg):
    args = dict(data=FiniteData(np.arange(50.0), replace=False), lr=0.1, batch_size=5, n_chains=4,
                n_steps=10, start=[0.0], device="cpu")
    args.update(kw)
    with pytest.raises(err, match=msg):
        simulate_sgd(_grad((th - x) ** 2 / 2), **args)


def test_strings_are_refused_never_parsed():
    with pytest.raises(TypeError, match="never evaluated"):
        compile_per_sample_gradient((th - x) ** 2, "x", th)
    with pytest.raises(TypeError, match="never evaluated"):
        FiniteData(np.array(["__import__('os')"]))
    with pytest.raises(SGDConfigError, match="different Symbols"):
        compile_per_sample_gradient((th - x) ** 2, th, th)


# --------------------------------------------------------------------------------------------------
# Euler–Maruyama reference of the diffusion approximation
# --------------------------------------------------------------------------------------------------
def test_euler_maruyama_matches_the_exact_ou_law():
    """U^tr = aθ²/2, D = σ² (constant): dθ = −aθ dt' + sqrt(T σ²) dW, T = λ/B — the OU process with
    stationary variance Tσ²/(2a) and mean θ₀ e^{−a t'} (t' = λ n).  EM with dt' = λ/5 (bias
    a dt'/2 = 0.5 %) reproduces both within sampling error."""
    a, s2, lr, B, m = 1.0, 2.0, 0.05, 2, 5
    model = compile_diffusion(a * th ** 2 / 2, s2, th, device="cpu")
    T = lr / B
    res = simulate_diffusion(model, lr=lr, batch_size=B, substeps=m, n_chains=2000, n_steps=900,
                             burn_in=150, start=[0.0], observers=[Moments()], seed=1, device="cpu")
    assert res.kind == "euler-maruyama" and res.converged, res.diagnostics.reasons
    var_ou = T * s2 / (2 * a)
    ess = res.diagnostics.ess["theta[0]"]
    var = res.moments[0]["var"][0]
    assert abs(var / var_ou - 1) < 4 * math.sqrt(2 / ess) + 0.005, (var, var_ou, ess)
    n = 20  # the transient: the mean at t' = λ n from θ₀ = 1
    tr = simulate_diffusion(model, lr=lr, batch_size=B, substeps=m, n_chains=4000, n_steps=n, burn_in=n - 1,
                            start=[1.0], observers=[Moments()], seed=2, device="cpu", blocks=4, groups=4)
    mean_ou = math.exp(-a * lr * n)
    var_t = var_ou * (1 - math.exp(-2 * a * lr * n))
    assert abs(tr.moments[0]["mean"][0] - mean_ou) < 4 * math.sqrt(var_t / 4000) + 1e-3


def test_euler_maruyama_2d_matrix_diffusion_and_sgd_agree_for_small_lr():
    """p = 2 with a full constant D (Cholesky path): the EM stationary covariance solves the
    continuous Lyapunov equation AΣ + ΣA = T D (SC.eq10 for quadratic U)."""
    from scipy.linalg import solve_continuous_lyapunov

    A = np.array([[1.0, 0.3], [0.3, 1.5]])
    D = np.array([[2.0, 0.5], [0.5, 1.0]])
    U = (A[0, 0] * t1 ** 2 + 2 * A[0, 1] * t1 * t2 + A[1, 1] * t2 ** 2) / 2
    model = compile_diffusion(U, sp.Matrix(D), [t1, t2], device="cpu")
    lr, B = 0.04, 4
    T = lr / B
    sigma = solve_continuous_lyapunov(A, T * D)
    res = simulate_diffusion(model, lr=lr, batch_size=B, substeps=4, n_chains=2000, n_steps=700, burn_in=150,
                             start=[0.0, 0.0], observers=[Moments()], seed=5, device="cpu")
    cov = res.moments[0]["cov"]
    ess = min(res.diagnostics.ess.values())
    scale = np.sqrt(np.outer(np.diag(sigma), np.diag(sigma)))
    assert np.all(np.abs(cov - sigma) < 5 * np.sqrt(2 / ess) * scale + 0.01 * scale), (cov, sigma)


def test_diffusion_from_data_is_the_training_set_mean_and_covariance():
    """∂U^tr and D from the per-sample gradients of a finite training set (THEORY.md: population
    covariance) equal NumPy's mean/covariance of g_j = (θ − x_j)³ (p = 1) and, on the quadratic
    model (∂U^tr = θ − x̄, D = s²), the EM run equals the closed-form model's run draw for draw."""
    data = np.random.default_rng(7).standard_normal(30)
    model = diffusion_from_data(_grad((th - x) ** 4 / 4), FiniteData(data), device="cpu")
    pts = torch.tensor([[-0.5], [0.2], [1.3]], dtype=torch.float64)
    gj = (pts.numpy() - data[None, :]) ** 3                       # [3, N]
    np.testing.assert_allclose(model.drift(pts).numpy()[:, 0], gj.mean(1), rtol=1e-12)
    np.testing.assert_allclose(model.diffusion(pts).numpy()[:, 0, 0], gj.var(1), rtol=1e-10)
    quad = diffusion_from_data(_grad((th - x) ** 2 / 2), FiniteData(data), device="cpu")
    closed = compile_diffusion((th - float(data.mean())) ** 2 / 2, float(data.var()), th, device="cpu")
    kw = dict(lr=0.1, batch_size=3, substeps=2, n_chains=200, n_steps=60, burn_in=20, start=[1.0], seed=4,
              device="cpu")
    a = simulate_diffusion(quad, observers=[Moments()], **kw)
    b = simulate_diffusion(closed, observers=[Moments()], **kw)
    np.testing.assert_allclose(a.moments[0]["cov"], b.moments[0]["cov"], rtol=1e-8)
    np.testing.assert_allclose(a.moments[0]["mean"], b.moments[0]["mean"], rtol=1e-10)
    with pytest.raises(SGDConfigError, match="FiniteData"):
        diffusion_from_data(_grad((th - x) ** 2 / 2), gaussian_stream(1))


# --------------------------------------------------------------------------------------------------
# devices and the fused path
# --------------------------------------------------------------------------------------------------
def test_cuda_request_without_cuda_falls_back_to_cpu_and_says_so():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = compile_per_sample_gradient((th - x) ** 2 / 2, x, th, device="cuda")
    res = _small_run(device="cuda")
    assert res.device.startswith("cpu") and "CUDA is not available" in res.device_note
    assert res.path == "cpu-eager"
    ref = _small_run()
    assert np.array_equal(res.histograms[0]["counts"], ref.histograms[0]["counts"])
    assert g.device.type == "cpu"


def test_fused_multi_step_function_runs_on_cpu(monkeypatch):
    """fuse=True routes the multi-step function through torch.compile; here torch.compile is an
    identity (so the compiled path's code runs eagerly on the CPU): same statistics, path
    'cpu-compiled'.  A torch.compile that raises (unavailable), or whose result fails when called,
    falls back to eager and records why — with the same statistics."""
    ref = _small_run(fuse=False)
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: fn)
    fused = _small_run(fuse=True)
    assert fused.path == "cpu-compiled" and fused.path_note is None

    def unavailable(fn, **kw):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch, "compile", unavailable)
    fb1 = _small_run(fuse=True)

    def broken(fn, **kw):
        def call(*a, **k):
            raise RuntimeError("inductor failed")
        return call

    monkeypatch.setattr(torch, "compile", broken)
    fb2 = _small_run(fuse=True)
    assert fb1.path == fb2.path == "cpu-eager"
    assert "unavailable" in fb1.path_note and "no compiler" in fb1.path_note
    assert "failed" in fb2.path_note and "inductor" in fb2.path_note
    for r in (fused, fb1, fb2):
        assert np.array_equal(r.histograms[0]["counts"], ref.histograms[0]["counts"])
        assert np.array_equal(r.passage[0]["steps"], ref.passage[0]["steps"])


@pytest.mark.slow
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (the fused torch.compile path)")
def test_cuda_fused_path_matches_eager():  # pragma: no cover - runs on a GPU machine only
    """On CUDA the multi-step function is torch.compile'd (fuse='auto'); the random numbers are drawn
    outside it from the same block generators, so the compiled and the eager runs see the same
    numbers: the same passage times and histograms up to last-ulp bin flips, moments to rounding."""
    g = compile_per_sample_gradient((th - x) ** 2 / 2, x, th, device="cuda")
    data = np.random.default_rng(2).standard_normal(50)

    def run(fuse):
        obs = [Histogram1D(-1.5, 1.5, 20), Moments(), Occupancy([0.0]), FirstPassage(upper=0.4)]
        return simulate_sgd(g, data=FiniteData(data, replace=False), lr=0.1, batch_size=5, n_chains=100_000,
                            n_steps=200, burn_in=40, start=[0.0], observers=obs, seed=1, device="cuda",
                            fuse=fuse, noise=0.3)

    eager, fused = run(False), run("auto")
    assert eager.path == "cuda-eager"
    assert fused.path == "cuda-compiled" or "torch.compile" in (fused.path_note or "")
    diff = np.abs(eager.histograms[0]["counts"] - fused.histograms[0]["counts"]).sum()
    assert diff <= 1e-6 * eager.histograms[0]["n_samples"]
    np.testing.assert_allclose(eager.moments[0]["cov"], fused.moments[0]["cov"], rtol=1e-9)
    assert np.mean(eager.passage[0]["steps"] == fused.passage[0]["steps"]) > 0.999


# --------------------------------------------------------------------------------------------------
# the hot loop's bookkeeping: the random stream per RNG block, exact counts
# --------------------------------------------------------------------------------------------------
def test_a_block_drawn_into_its_slice_gets_the_numbers_of_one_draw():
    """Each RNG block draws into its own (strided) slice of the chunk's buffer — step by step for the
    minibatch indices, via a contiguous scratch for normal draws — and gets exactly the numbers of
    one fresh (k, nb, …) draw from its generator: the stream does not depend on the chunking."""
    from numerics.sgd import _SGDKernel

    for data, noise in ((FiniteData(np.arange(7.0)), 0.3), (FiniteData(np.arange(7.0), replace=False), 0.0),
                        (gaussian_stream(2), 0.5)):
        grad = _grad((th - x) ** 2 / 2) if data.q == 1 else _grad((t1 - x1) ** 2 + (t2 - x2) ** 2, [x1, x2], [t1, t2])
        kern = _SGDKernel(grad, data, lr=0.1, B=3, weight_decay=0.0, noise=noise, p=grad.p,
                          device=torch.device("cpu"), dtype=torch.float64)
        k, nb = 4, 5
        fresh = kern.draw_block(torch.Generator().manual_seed(3), k, nb)
        bufs = [b.fill_(-1) for b in kern.alloc(k, 2 * nb + 1)]
        kern.draw_block(torch.Generator().manual_seed(3), k, nb, out=[b[:, nb:2 * nb] for b in bufs])
        for f, b in zip(fresh, bufs):
            assert torch.equal(b[:, nb:2 * nb], f)
            assert bool((b[:, :nb] == -1).all()) and bool((b[:, 2 * nb:] == -1).all())


def test_histogram_counts_nan_and_out_of_range_values_exactly():
    h = Histogram1D(0.0, 1.0, 4)
    h.bind(1, torch.device("cpu"), torch.float64, 10)
    v = torch.tensor([[0.1], [0.3], [0.99], [1.0], [-0.01], [math.nan], [math.inf], [-math.inf], [0.5]],
                     dtype=torch.float64)
    h.update(v, None)
    h.update(v[:2], None)
    r = h.result()
    np.testing.assert_allclose(r["counts"], [2, 2, 1, 1], rtol=0, atol=0)
    assert r["below"] == pytest.approx(3.0, abs=0) and r["above"] == pytest.approx(2.0, abs=0)
    assert r["n_samples"] == pytest.approx(11.0, abs=0)


def test_group_counts_are_the_chains_of_each_group_per_block():
    """_GroupStats adds each group's chain count to the step's block: the same counts as one per
    chain (a chunk whose offset is not a multiple of the groups included)."""
    from numerics.sgd import _GroupStats

    gs = _GroupStats(4, 4, [])
    gs.bind(1, torch.device("cpu"), torch.float64, 9)
    gs.configure(1, 8)
    expect = np.zeros((4, 4))
    for offset, n in ((0, 6), (6, 7)):
        gs.start_chunk(n, offset)
        for step in range(2, 10):
            gs.update(torch.zeros(n, 1, dtype=torch.float64), torch.tensor(step))
            for c in range(offset, offset + n):
                expect[c % 4, ((step - 2) * 4) // 8] += 1
    np.testing.assert_allclose(gs.counts.numpy().reshape(4, 4), expect, rtol=0, atol=0)


def test_tiled_cpu_step_is_bit_identical_to_the_buffered_step(monkeypatch):
    """The CPU's tiled step (indices drawn tile by tile inside the step) and the buffered step (k
    steps' indices drawn first) give the same numbers bit for bit: several RNG blocks, tiles that do
    not divide a block, weight decay, 1-D (take) and 2-D samples (index_select)."""
    from numerics.sgd import _SGDKernel

    g1 = _grad(th ** 4 / 4 - th ** 2 / 2 + x * th)
    g2 = _grad((t1 - x1) ** 2 / 2 + t1 * t2 * x2 / 4 + t2 ** 2 / 2, [x1, x2], [t1, t2])
    d1 = FiniteData(np.random.default_rng(1).standard_normal(50))
    d2 = FiniteData(np.random.default_rng(2).standard_normal((40, 2)))

    def run(grad, data, start):
        obs = [Histogram1D(-2, 2, 40), Moments(), Occupancy([0.0])]
        return simulate_sgd(grad, data=data, lr=0.1, batch_size=3, n_chains=700, n_steps=23, burn_in=5,
                            start=start, observers=obs, seed=4, device="cpu", rng_block=300, weight_decay=0.05,
                            steps_per_call=7)

    monkeypatch.setattr(_SGDKernel, "TILE_ELEMENTS", 1)  # tiles of 64 chains: 300 = 4·64 + 44
    for grad, data, start in ((g1, d1, [-1.0]), (g2, d2, [0.2, -0.1])):
        tiled = run(grad, data, start)
        with monkeypatch.context() as m:
            m.setattr(_SGDKernel, "can_tile", lambda self: False)
            buffered = run(grad, data, start)
        # the same operations on the same numbers (equal on this CPU; a tolerance for another's
        # reduction kernels, which may group a minibatch mean differently by array shape)
        for a, b in zip(tiled.observers, buffered.observers):
            for key in a:
                np.testing.assert_allclose(np.asarray(a[key], float), np.asarray(b[key], float), rtol=1e-12, atol=0)
        for key in ("rhat", "ess"):
            for name, v in getattr(tiled.diagnostics, key).items():
                assert getattr(buffered.diagnostics, key)[name] == pytest.approx(v, rel=1e-10)
        assert tiled.path == buffered.path == "cpu-eager"
