"""numerics.markov: the exact discrete-time SGD chain on a 1-D per-sample model.

The model: a per-sample double well ``f(θ, x) = (θ² − 1)²/4 + x(θ + a θ²/2)`` on N = 20 centred
samples (std 3.5), so ``g = θ³ − θ + x(1 + aθ)``, ``U' = θ³ − θ`` and ``D(θ) = Var x · (1 + aθ)²``
(θ-dependent).  The chain is checked against a brute-force NumPy simulation of many SGD chains;
the measured numbers are printed (``pytest -s``) and asserted with tolerances.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from numerics import markov as mk

A = 0.15
N = 20
SD = 3.5


def _data(symmetric: bool = False) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, N)
    x -= x.mean()
    if symmetric:  # ±pairs: third cumulant exactly 0
        x = np.concatenate([x[: N // 2], -x[: N // 2]])
    return x * (SD / x.std())


def grad(t, s):
    return t**3 - t + s * (1 + A * t)


GRID = np.linspace(-3.0, 3.0, 301)  # h = 0.02


def _simulate(x, *, lr, B, n_chains, steps, start, seed, snapshots=()):
    """Brute-force SGD (with replacement): returns the final states and the states at ``snapshots``."""
    rng = np.random.default_rng(seed)
    th = np.array(start, dtype=float)
    th = np.broadcast_to(th, (n_chains,)).copy()
    out = []
    for t in range(1, steps + 1):
        xb = x[rng.integers(0, x.size, (n_chains, B))].mean(axis=1)
        th -= lr * (th * th * th - th + xb * (1 + A * th))
        if t in snapshots:
            out.append(th.copy())
    return th, out


# --------------------------------------------------------------------------------------------------
# the one-step law and the operator
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("replacement", [True, False])
def test_step_law_and_operator_moments(replacement):
    x = _data()
    lr, B = 0.1, 3
    grid = np.linspace(-3.2, 3.2, 129)  # h = 0.05, step spread ≈ 0.2
    h = grid[1] - grid[0]
    op = mk.transition_operator(grad, x, lr=lr, batch_size=B, grid=grid, replacement=replacement, method="exact")
    assert op.method == "exact"
    P = op.matrix
    rows = np.asarray(P.sum(axis=1)).ravel()
    assert np.max(np.abs(rows - 1)) < 1e-12
    fpc = 1.0 if replacement else (N - B) / (N - 1)
    for i in (10, 40, 64, 90, 120):
        th = grid[i]
        G = grad(th, x)
        U1, D = G.mean(), G.var()
        v, p = mk.step_distribution(grad, x, th, lr=lr, batch_size=B, replacement=replacement)
        assert abs(p.sum() - 1) < 1e-12
        mean = p @ v
        var = p @ (v - mean) ** 2
        assert abs(mean - (th - lr * U1)) < 1e-12 * max(1, abs(th))
        assert abs(var - lr**2 * D / B * fpc) < 1e-10 * lr**2 * D
        # the operator row: mean conserved by the linear split; variance + the split's exact r(1−r)h²
        row = P[i].toarray().ravel()
        m_row = row @ grid
        v_row = row @ (grid - m_row) ** 2
        u = (v - grid[0]) / h
        r = u - np.floor(u)
        split = p @ (r * (1 - r)) * h * h
        assert abs(m_row - mean) < 1e-11
        assert abs(v_row - (var + split)) < 1e-11
        assert split <= op.discretisation_variance + 1e-15


@pytest.mark.parametrize("replacement", [True, False])
def test_binned_law_matches_exact(replacement):
    """The lattice (Fourier) law: mean exact, variance within the stated discretisation bound, and the
    stationary law within TV 1e-3 of the exact enumeration."""
    x = _data()
    lr, B = 0.1, 3
    grid = np.linspace(-3.2, 3.2, 129)
    ex = mk.transition_operator(grad, x, lr=lr, batch_size=B, grid=grid, replacement=replacement, method="exact")
    bn = mk.transition_operator(grad, x, lr=lr, batch_size=B, grid=grid, replacement=replacement, method="binned")
    assert np.max(np.abs(np.asarray(bn.matrix.sum(axis=1)).ravel() - 1)) < 1e-12
    fpc = 1.0 if replacement else (N - B) / (N - 1)
    for i in (20, 64, 100):
        G = grad(grid[i], x)
        row = bn.matrix[i].toarray().ravel()
        m = row @ grid
        var = row @ (grid - m) ** 2
        assert abs(m - (grid[i] - lr * G.mean())) < 1e-10
        true_var = lr**2 * G.var() / B * fpc
        assert true_var - 1e-12 <= var <= true_var + bn.discretisation_variance + 1e-12
    tv = mk.total_variation(mk.stationary_law(ex), mk.stationary_law(bn))
    print(f"\n[markov] binned vs exact stationary law (replacement={replacement}): TV = {tv:.2e}")
    assert tv < 1e-3


def test_sympy_gradient_is_the_callable():
    th, s = sp.symbols("theta x", real=True)
    f = (th**2 - 1) ** 2 / 4 + s * (th + A * th**2 / 2)
    x = _data()
    grid = np.linspace(-3.2, 3.2, 129)
    a = mk.transition_operator(sp.diff(f, th), x, lr=0.1, batch_size=2, grid=grid, symbols=(th, s),
                               method="binned")
    b = mk.transition_operator(grad, x, lr=0.1, batch_size=2, grid=grid, method="binned")
    assert abs(a.matrix - b.matrix).max() < 1e-12


# --------------------------------------------------------------------------------------------------
# against brute-force SGD
# --------------------------------------------------------------------------------------------------
def _group_tv_noise(hists):
    """Sampling error of the pooled histogram's TV, from independent chain groups:
    TV(group g, rest) scales like √(1/m + 1/(n−m)) = √(G²/(G−1)) × the pooled one."""
    G = len(hists)
    tot = np.sum(hists, axis=0)
    tvs = []
    for hg in hists:
        rest = tot - hg
        tvs.append(0.5 * np.abs(hg / hg.sum() - rest / rest.sum()).sum())
    return float(np.mean(tvs)) / math.sqrt(G * G / (G - 1))


def test_stationary_law_matches_simulation():
    x = _data()
    lr, B = 0.1, 4
    op = mk.transition_operator(grad, x, lr=lr, batch_size=B, grid=GRID, method="binned")
    law = mk.stationary_law(op)
    assert law.residual < 1e-9
    tau = mk.relaxation_time(op)
    fp = mk.diffusion_law(grad, x, lr=lr, batch_size=B, grid=GRID)
    occ = mk.basin_occupancy(law, edges=[0.0])
    # start near equilibrium (each well by the predicted occupancy), run > 4.5 relaxation times
    n_chains, steps = 100_000, 500
    assert steps > 4.5 * tau.steps, tau
    rng = np.random.default_rng(1)
    start = np.where(rng.random(n_chains) < occ[0], -1.0, 1.0)
    snaps = (300, 350, 400, 450, 500)
    _, states = _simulate(x, lr=lr, B=B, n_chains=n_chains, steps=steps, start=start, seed=2, snapshots=snaps)
    # histogram on bins of 5 cells whose edges are cell edges
    h = GRID[1] - GRID[0]
    edges = np.concatenate([GRID[::5] - h / 2, [GRID[-1] + h / 2]])
    n_groups = 10
    groups = np.array_split(np.arange(n_chains), n_groups)
    hists = [sum(np.histogram(s[gi], bins=edges)[0] for s in states).astype(float) for gi in groups]
    pooled = np.sum(hists, axis=0)
    pooled /= pooled.sum()

    def coarse(p):
        return np.add.reduceat(p, np.arange(0, GRID.size, 5))

    tv_chain = mk.total_variation(pooled, coarse(law.probabilities))
    tv_fp = mk.total_variation(pooled, coarse(fp.probabilities))
    noise = _group_tv_noise(hists)
    print(f"\n[markov] stationary law vs {n_chains} SGD chains (λ={lr}, B={B}, τ={tau.steps:.0f} steps): "
          f"TV(chain) = {tv_chain:.4f}, TV(FP) = {tv_fp:.4f}, sampling error ≈ {noise:.4f}")
    assert tv_chain < 3 * noise
    assert tv_fp > 3 * noise  # the diffusion limit is measurably off here; the chain is not


def test_mean_escape_time_matches_simulation():
    x = _data()
    lr, B = 0.1, 4
    op = mk.transition_operator(grad, x, lr=lr, batch_size=B, grid=GRID, method="binned")
    et = mk.mean_escape_time(op, basin=(-3.0, 0.0), target=(0.0, 3.0))
    predicted = et.at(-1.0)
    assert np.allclose(et.time, lr * et.steps)
    # simulation: chains from θ = −1 until θ ≥ 0
    rng = np.random.default_rng(3)
    n = 20_000
    th = np.full(n, -1.0)
    alive = np.arange(n)
    hit = np.zeros(n)
    t = 0
    while alive.size and t < 5000:
        t += 1
        xb = x[rng.integers(0, N, (alive.size, B))].mean(axis=1)
        v = th[alive]
        v -= lr * (v * v * v - v + xb * (1 + A * v))
        th[alive] = v
        done = v >= 0.0
        hit[alive[done]] = t
        alive = alive[~done]
    assert alive.size == 0
    measured, se = hit.mean(), hit.std() / math.sqrt(n)
    ratio = predicted / measured
    print(f"\n[markov] mean escape time from θ=−1 to θ≥0 (λ={lr}, B={B}): chain {predicted:.1f} steps, "
          f"simulation {measured:.1f} ± {se:.1f} steps, ratio {ratio:.3f}")
    assert abs(ratio - 1) < 0.10
    # the remaining bias is the grid's, O(h): halving h twice and extrapolating (Richardson, 2t(h/2) − t(h))
    # lands on the simulation within its sampling error
    t_half, t_quarter = (mk.mean_escape_time(mk.transition_operator(grad, x, lr=lr, batch_size=B,
                                                                    grid=np.linspace(-3, 3, n), method="binned"),
                                             basin=(-3.0, 0.0), target=(0.0, 3.0)).at(-1.0) for n in (601, 1201))
    extrapolated = 2 * t_quarter - t_half
    print(f"[markov] chain escape time at h = 0.02, 0.01, 0.005: {predicted:.1f}, {t_half:.1f}, {t_quarter:.1f} steps; "
          f"extrapolated to h → 0: {extrapolated:.1f} (simulation {measured:.1f} ± {se:.1f})")
    assert abs(extrapolated - measured) < 3 * se + 0.005 * measured
    # the diffusion limit's exact MFPT (numerics.first_passage, time λ·steps) is measurably shorter
    from numerics.first_passage import mean_first_passage_time_1d

    th_ = sp.Symbol("theta", real=True)
    U = (th_**2 - 1) ** 2 / 4
    D = float(x.var()) * (1 + sp.Rational(15, 100) * th_) ** 2
    fp_steps = mean_first_passage_time_1d(U, D, th_, -1.0, 0.0, lr / B) / lr
    print(f"[markov] diffusion-limit MFPT {fp_steps:.1f} steps: FP/simulation = {fp_steps / measured:.3f}")
    assert abs(fp_steps / measured - 1) > 3 * se / measured
    assert abs(ratio - 1) < abs(fp_steps / measured - 1)


def test_relaxation_time_two_state_and_dense():
    r = mk.relaxation_time(np.array([[0.7, 0.3], [0.1, 0.9]]))  # λ₂ = 0.6
    assert abs(r.steps + 1 / math.log(0.6)) < 1e-10
    x = _data()
    op = mk.transition_operator(grad, x, lr=0.1, batch_size=4, grid=np.linspace(-3, 3, 601), method="binned")
    r_sparse = mk.relaxation_time(op)
    ev = np.linalg.eigvals(op.matrix.toarray())
    lam2 = np.sort(np.abs(ev))[-2]
    assert abs(r_sparse.steps - (-1 / math.log(lam2))) < 1e-6 * r_sparse.steps
    assert abs(r_sparse.time - 0.1 * r_sparse.steps) < 1e-12


# --------------------------------------------------------------------------------------------------
# the diffusion limit and the modified equation
# --------------------------------------------------------------------------------------------------
def _tv_to(law_fn, x, lr, B, **kw):
    op = mk.transition_operator(grad, x, lr=lr, batch_size=B, grid=GRID, method="binned", boundary="reflect")
    chain = mk.stationary_law(op)
    return mk.total_variation(chain, law_fn(grad, x, lr=lr, batch_size=B, grid=GRID, **kw))


def test_lambda_to_zero_at_fixed_temperature():
    """T = λ/B (SC) fixed at 0.025; B = 8, 4, 2, 1 (λ = 0.2 → 0.025, the smallest λ at this T).

    Finding (asserted): TV(chain, FP) falls with λ at rate ≈ 1 at large λ (drift discretisation), then
    levels off at a floor ≈ 0.02: at fixed T the per-unit-time cumulants of the step, T^{k−1}κ_k(g), do
    not depend on λ, so the non-Gaussian part of the minibatch noise stays.  With symmetric data
    (κ₃ = 0) the floor is lower."""
    T = 0.025
    Bs = (8, 4, 2, 1)
    for symmetric in (False, True):
        x = _data(symmetric)
        tv = np.array([_tv_to(mk.diffusion_law, x, T * B, B) for B in Bs])
        tv_me = np.array([_tv_to(mk.modified_equation_law, x, T * B, B) for B in Bs])
        lrs = T * np.array(Bs)
        slopes = np.diff(np.log(tv)) / np.diff(np.log(lrs))
        print(f"\n[markov] fixed T={T} ({'symmetric' if symmetric else 'skewed'} data): λ = {lrs.tolist()}, "
              f"TV(chain, FP) = {np.round(tv, 4).tolist()}, local rates d log TV/d log λ = {np.round(slopes, 2).tolist()}; "
              f"TV(chain, modified equation) = {np.round(tv_me, 4).tolist()}")
        assert np.all(np.diff(tv) < 0)  # decreasing with λ
        assert np.all(tv_me < tv)
        assert 0.6 < slopes[0] < 1.6  # ≈ first order between λ = 0.2 and 0.1
        if symmetric:
            floor_sym = tv[-1]
        else:
            floor_skew = tv[-1]
            assert slopes[-1] < 0.5  # levels off: no convergence to FP at fixed T
            assert floor_skew > 0.01
    assert floor_sym < 0.75 * floor_skew


def test_lambda_to_zero_at_fixed_batch():
    """B = 4, λ = 0.1 → 0.025 (T → 0 with it).

    Finding (asserted): with symmetric per-sample data (κ₃ = 0) the chain converges to the FP law,
    TV ∝ λ^≈1; with skewed data (sample skewness −0.42) it does not: the basin log-odds of the chain
    and of FP differ by an amount that doubles each time T halves (∝ 1/T), the signature of a
    non-Gaussian correction to the exponent −2v/T (the step's third cumulant per unit time is
    T²κ₃, i.e. of relative order T, and it enters the exponent divided by T)."""
    B = 4
    grid = np.linspace(-2.6, 2.6, 1041)  # h = 0.005: the cell split adds < 0.3 % to the step variance
    lrs = np.array([0.1, 0.05, 0.025])
    for symmetric in (True, False):
        x = _data(symmetric)
        tv, dlogodds = [], []
        for lr in lrs:
            op = mk.transition_operator(grad, x, lr=lr, batch_size=B, grid=grid, method="binned", boundary="reflect")
            chain = mk.stationary_law(op)
            fp = mk.diffusion_law(grad, x, lr=lr, batch_size=B, grid=grid)
            tv.append(mk.total_variation(chain, fp))
            oc, of = mk.basin_occupancy(chain, edges=[0.0]), mk.basin_occupancy(fp, edges=[0.0])
            dlogodds.append(math.log(oc[0] / oc[1]) - math.log(of[0] / of[1]))
        tv, dlogodds = np.array(tv), np.array(dlogodds)
        rates = np.diff(np.log(tv)) / np.diff(np.log(lrs))
        print(f"\n[markov] fixed B={B} ({'symmetric' if symmetric else 'skewed'} data): λ = {lrs.tolist()}, "
              f"TV(chain, FP) = {np.round(tv, 4).tolist()} (rates {np.round(rates, 2).tolist()}), "
              f"log-odds(chain) − log-odds(FP) = {np.round(dlogodds, 3).tolist()}")
        if symmetric:
            assert np.all(np.diff(tv) < 0) and np.all((rates > 0.6) & (rates < 1.6))
            assert np.all(np.abs(dlogodds) < 0.05)
        else:
            assert tv[-1] > 0.02  # no convergence
            ratios = dlogodds[1:] / dlogodds[:-1]
            assert np.all((ratios > 1.5) & (ratios < 2.5)), ratios  # ∝ 1/T


def test_modified_equation_is_closer_than_fokker_planck():
    x = _data()
    rows = []
    for lr, B in ((0.1, 4), (0.2, 8), (0.2, 4)):
        fp = _tv_to(mk.diffusion_law, x, lr, B)
        me = _tv_to(mk.modified_equation_law, x, lr, B)
        drift_only = _tv_to(mk.modified_equation_law, x, lr, B, diffusion_correction=False)
        smith = _tv_to(mk.modified_equation_law, x, lr, B, per_batch_term="smith2021")
        rows.append((lr, B, fp, me, drift_only, smith))
        print(f"\n[markov] λ={lr}, B={B}: TV to the chain: FP {fp:.4f}, modified equation {me:.4f}, "
              f"drift correction only {drift_only:.4f}, + Smith et al. 2021 per-batch term {smith:.4f}")
        assert me < 0.85 * fp
        # findings: the O(λ) diffusion correction is needed (drift alone is worse), and the epoch
        # per-batch term (i.i.d. minibatches have none) moves the law away from the chain
        assert drift_only > me
        assert smith > me


def test_modified_equation_on_a_linear_model_is_second_order():
    """U = θ²/2, g = θ − x: the chain's stationary variance is exactly λ²Var(x)/B / (1 − (1 − λ)²)
    = T·Var x/(2 − λ); FP gives T·Var x/2 (relative error λ/2), the modified equation O(λ²)."""
    x = np.array([-1.0, 1.0])
    grid = np.linspace(-1.5, 1.5, 1201)
    for lr in (0.05, 0.1):
        exact = lr / (2 - lr)
        fp = mk.diffusion_law(lambda t, s: t - s, x, lr=lr, batch_size=1, grid=grid).expectation(grid**2)
        me = mk.modified_equation_law(lambda t, s: t - s, x, lr=lr, batch_size=1, grid=grid).expectation(grid**2)
        assert abs(fp / exact - 1) > 0.4 * lr
        assert abs(me / exact - 1) < 0.5 * lr**2 + 1e-4


# --------------------------------------------------------------------------------------------------
# hostile input
# --------------------------------------------------------------------------------------------------
def _op(**kw):
    args = dict(lr=0.1, batch_size=4, grid=GRID, method="binned")
    args.update(kw)
    data = args.pop("data", _data())
    g = args.pop("grad", grad)
    return mk.transition_operator(g, data, **args)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_data_is_refused(bad):
    x = _data()
    x[3] = bad
    with pytest.raises(mk.NonFiniteDataError, match=r"data\[3\]"):
        _op(data=x)


def test_non_finite_gradient_is_refused():
    with pytest.raises(mk.NonFiniteDataError, match="not finite"):
        _op(grad=lambda t, s: np.sqrt(t) + s)


@pytest.mark.parametrize("lr", [0.0, -0.1, np.nan, np.inf])
def test_bad_lr(lr):
    with pytest.raises(mk.MarkovError, match="lr must be"):
        _op(lr=lr)


@pytest.mark.parametrize("lr", ["0.1", True, None])
def test_lr_type(lr):
    with pytest.raises(mk.MarkovTypeError):
        _op(lr=lr)


def test_batch_size_bounds():
    with pytest.raises(mk.MarkovError, match="batch_size must be >= 1"):
        _op(batch_size=0)
    with pytest.raises(mk.MarkovError, match="exceeds the training set"):
        _op(batch_size=N + 1, replacement=False)
    with pytest.raises(mk.MarkovTypeError):
        _op(batch_size=2.5)
    # with replacement B > N is a valid minibatch (samples repeat): accepted, variance D/B
    op = _op(batch_size=N + 5, lr=0.2, replacement=True, boundary="reflect")
    assert op.batch_size == N + 5


def test_without_replacement_full_batch_is_deterministic():
    with pytest.raises(mk.ZeroNoiseError, match="deterministic gradient descent"):
        _op(batch_size=N, replacement=False)
    with pytest.raises(mk.ZeroNoiseError):
        _op(data=np.full(N, 0.7))


def test_grid_too_coarse_and_too_small():
    with pytest.raises(mk.StepResolutionError, match="too coarse to resolve an SGD step") as info:
        _op(grid=np.linspace(-3, 3, 21))
    assert "cells" in str(info.value)
    with pytest.raises(mk.GridRangeError, match=r"extend the grid to at least \[") as info:
        _op(grid=np.linspace(-1.2, 1.2, 121))
    # reflecting / absorbing edges on request
    op = _op(grid=np.linspace(-1.2, 1.2, 121), boundary="reflect")
    assert np.max(np.abs(np.asarray(op.matrix.sum(axis=1)).ravel() - 1)) < 1e-12
    op = _op(grid=np.linspace(-1.2, 1.2, 121), boundary="absorb")
    rows = np.asarray(op.matrix.sum(axis=1)).ravel()
    assert np.allclose(rows + op.leak, 1.0) and op.leak.max() > 1e-3
    with pytest.raises(mk.ChainError, match="not stochastic"):
        mk.stationary_law(op)
    with pytest.raises(mk.ChainError, match="not stochastic"):
        mk.mean_escape_time(op, basin=(-1.2, 0.0), target=(0.0, 1.2))


def test_non_uniform_grid_and_strings():
    with pytest.raises(mk.MarkovError, match="uniform"):
        _op(grid=np.array([-3.0, -1.0, 0.0, 3.0]))
    with pytest.raises(mk.MarkovTypeError, match="string"):
        _op(grad="theta**3 - theta + x")
    with pytest.raises(mk.MarkovTypeError, match="string"):
        _op(data="1, 2, 3")
    th, s = sp.symbols("theta x")
    with pytest.raises(mk.MarkovTypeError, match="symbols"):
        _op(grad=th + s)
    with pytest.raises(mk.MarkovError, match="method"):
        _op(method="fast")


def test_exact_support_limit_and_auto_fallback():
    with pytest.raises(mk.SupportSizeError, match="support points"):
        _op(method="exact", batch_size=8)
    with pytest.warns(mk.MarkovApproximationWarning, match="Gaussian approximation"):
        op = _op(method="auto", batch_size=8, max_support=10, max_work=10)
    assert op.method == "gaussian"
    # the Gaussian law keeps the exact mean
    G = grad(GRID[150], _data())
    row = op.matrix[150].toarray().ravel()
    assert abs(row @ GRID - (GRID[150] - 0.1 * G.mean())) < 1e-10


def test_escape_target_unreachable_and_bad_intervals():
    P = np.array([[1.0, 0.0, 0.0], [0.5, 0.0, 0.5], [0.0, 0.0, 1.0]])
    with pytest.raises(mk.ChainError, match="cannot be reached"):
        mk.mean_escape_time(P, np.arange(3.0), basin=(0, 0), target=(2, 2))
    with pytest.raises(mk.MarkovError, match="lo <= hi"):
        mk.mean_escape_time(P, np.arange(3.0), basin=(1, 0), target=(2, 2))
    with pytest.raises(mk.MarkovTypeError, match="string"):
        mk.mean_escape_time(P, np.arange(3.0), basin="0, 1", target=(2, 2))


def test_basin_occupancy_and_tv():
    law = mk.GridLaw(grid=np.arange(5.0), probabilities=np.full(5, 0.2))
    assert np.allclose(mk.basin_occupancy(law, edges=[1.5, 3.5]), [0.4, 0.4, 0.2])
    with pytest.raises(mk.MarkovError):
        mk.total_variation([0.5, 0.5], [1.0, 0.0, 0.0])


def test_relaxation_time_beyond_resolution_is_inf_not_a_random_number():
    """Two nearly decoupled states: 1 − |λ₂| = 2e-13 is below what eigs resolves — the result says so
    (steps = inf, resolved False) instead of returning −1/log|λ₂| ≈ 5e12 ± noise."""
    import math

    import numpy as np

    from numerics.markov import relaxation_time

    eps = 1e-13
    r = relaxation_time(np.array([[1 - eps, eps], [eps, 1 - eps]]))
    assert not r.resolved and math.isinf(r.steps)
    ok = relaxation_time(np.array([[0.9, 0.1], [0.1, 0.9]]))
    assert ok.resolved and abs(ok.steps - (-1 / math.log(0.8))) < 1e-9


def test_gaussian_lattice_window_equals_the_full_range_law():
    """The Gaussian lattice law is evaluated on each row's μ ± 9σ window only; on a grid where σ varies
    20-fold it equals the law evaluated on the common padded range (the previous computation) point by
    point: same kept points, values to round-off."""
    from scipy.special import ndtr

    rng = np.random.default_rng(3)
    n, N, B, L = 40, 30, 2, 400
    scale = np.linspace(0.5, 10.0, n)[:, None]
    U = 50.0 + scale * rng.standard_normal((n, N))
    U -= np.floor(U.min(axis=1))[:, None]
    ri, vv, pv = mk._gaussian_lattice_pmf(U, B, N, True, L)
    mean, sd = U.mean(axis=1) * B, np.sqrt(U.var(axis=1) * B)
    pad = int(math.ceil(9 * sd.max())) + 1
    q = np.arange(-pad, L + pad + 1) - 0.5
    pmf = np.diff(ndtr((q[None, :] - mean[:, None]) / sd[:, None]), axis=1)
    pmf = np.where(pmf > 1e-15, pmf, 0.0)
    pmf /= pmf.sum(axis=1, keepdims=True)
    r_ref, c_ref = np.nonzero(pmf)
    assert np.array_equal(ri, r_ref) and np.array_equal(vv, c_ref - pad)
    np.testing.assert_allclose(pv, pmf[r_ref, c_ref], rtol=1e-12, atol=0)
    assert np.bincount(ri, weights=pv, minlength=n) == pytest.approx(np.ones(n), abs=1e-12)
