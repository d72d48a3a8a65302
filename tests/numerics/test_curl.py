"""numerics.curl: the SC.A1 zero-curl diagnostic, calibrated on cases with a known curl."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from numerics import curl
from numerics import gradstats as gs
from numerics.fokker_planck import FokkerPlanckSolver, Grid
from numerics.gradient_noise import per_sample_gradients
from numerics.training import digits_split, mlp, train_sgd

QL = curl.quadratic_loss


def _orthogonal(p, seed):
    return np.linalg.qr(np.random.default_rng(seed).standard_normal((p, p)))[0]


def quadratic_case(H, S, N=300, *, whiten=True, seed=0):
    """QuadraticModel at θ = 0 with centres of covariance S (exactly S when whitened): D = H S H."""
    rng = np.random.default_rng(seed)
    p = H.shape[0]
    C = rng.standard_normal((N, p))
    if whiten:
        C -= C.mean(0)
        C = C @ np.linalg.inv(np.linalg.cholesky(C.T @ C / N)).T
    X = torch.tensor(C @ np.linalg.cholesky(S).T)
    return curl.QuadraticModel(H), X, torch.zeros(N), H @ S @ H


P6 = 6
H6 = _orthogonal(P6, 1) @ np.diag(np.linspace(1.0, 3.0, P6)) @ _orthogonal(P6, 1).T
S_NONCOMMUTING = _orthogonal(P6, 2) @ np.diag(np.geomspace(0.05, 5.0, P6)) @ _orthogonal(P6, 2).T


def test_commutator_ratio_closed_form():
    a = 0.4
    D = np.array([[1.0, a], [a, 1.0]])
    H = np.diag([1.0, 3.0])
    expected = 2 * math.sqrt(2) * a / (math.sqrt(2 + 2 * a * a) * math.sqrt(10))
    assert abs(curl.commutator_ratio(D, H) - expected) < 1e-14
    assert curl.commutator_ratio(np.diag([1.0, 2.0]), H) == pytest.approx(0.0, abs=1e-15)
    with pytest.raises(curl.CurlError, match="same shape"):
        curl.commutator_ratio(D, np.eye(3))
    with pytest.raises(curl.CurlError, match="zero matrix"):
        curl.commutator_ratio(np.zeros((2, 2)), H)


def test_quadratic_model_has_the_stated_hessian_and_covariance():
    model, X, y, D = quadratic_case(H6, S_NONCOMMUTING)
    assert torch.allclose(gs.exact_hessian(model, QL, X, y), torch.tensor(H6), atol=1e-12)
    assert np.allclose(gs.gradient_covariance(model, QL, X, y).matrix.numpy(), D, atol=1e-12)
    with pytest.raises(curl.CurlError, match="positive definite"):
        curl.QuadraticModel(np.diag([1.0, -1.0]))


@pytest.mark.parametrize("commuting", [True, False])
def test_full_space_statistic_is_the_closed_form_commutator(commuting):
    S = np.eye(P6) if commuting else S_NONCOMMUTING
    model, X, y, D = quadratic_case(H6, S)
    G = per_sample_gradients(model, QL, X, y)
    est = curl.commutator_in_subspace(G, torch.eye(P6, dtype=torch.float64), torch.tensor(H6),
                                      generator=torch.Generator().manual_seed(0))
    closed = curl.commutator_ratio(D, H6)
    assert abs(est.value - closed) < 1e-12
    assert abs(est.value_projected - closed) < 1e-12
    if commuting:
        assert est.value < 1e-13 and est.consistent_with_zero
    else:
        assert closed > 0.03 and est.value > est.noise_floor + 3 * est.stderr
        assert not est.consistent_with_zero


def test_minimum_curl_commuting_case_is_zero_in_every_subspace():
    model, X, y, _ = quadratic_case(H6, np.eye(P6))  # D = H²
    r = curl.minimum_curl(model, QL, X, y, k=3, n_random=4, n_bootstrap=100)
    assert r.top.value < 1e-12 and r.top.consistent_with_zero
    assert r.random.value < 1e-12 and r.random.consistent_with_zero
    assert np.all(r.random.per_subspace < 1e-12)
    # the commutator of the *projections* is not zero in random subspaces (why c projects [D, H])
    assert r.top.value_projected < 1e-10 and r.random.value_projected > 1e-3
    np.testing.assert_allclose(r.eigenvalues, np.linspace(1.0, 3.0, P6)[::-1][:3], rtol=1e-10)
    assert r.gradient_norm < 1e-12 and r.p == P6 and r.n_samples == 300


def test_minimum_curl_noncommuting_case_equals_the_closed_form():
    model, X, y, D = quadratic_case(H6, S_NONCOMMUTING)
    r = curl.minimum_curl(model, QL, X, y, k=3, n_random=4, n_bootstrap=100)
    U = np.linalg.eigh(H6)[1][:, ::-1][:, :3]
    assert abs(r.top.value - curl.projected_commutator(D, H6, U)) < 1e-9
    assert r.top.value > r.top.noise_floor + 3 * r.top.stderr
    assert r.random.value > r.random.noise_floor + 3 * r.random.stderr
    assert r.random.per_subspace.shape == (4,) and np.all(r.random.per_subspace > 0)
    # a given subspace: the estimate is the closed form for that subspace
    B = gs.random_subspace(P6, 3, generator=torch.Generator().manual_seed(9))
    G = per_sample_gradients(model, QL, X, y)
    est = curl.commutator_in_subspace(G, B, torch.tensor(H6) @ B, n_bootstrap=50)
    assert abs(est.value - curl.projected_commutator(D, H6, B)) < 1e-12


def test_sampling_noise_alone_is_consistent_with_zero():
    # centres drawn without whitening: the population D = H² commutes, the sample D does not
    model, X, y, _ = quadratic_case(H6, np.eye(P6), N=400, whiten=False, seed=3)
    r = curl.minimum_curl(model, QL, X, y, k=3, n_random=4, n_bootstrap=200, seed=1)
    assert r.top.value > 0 and r.top.consistent_with_zero and r.random.consistent_with_zero
    assert r.top.debiased < r.top.value
    # the same sample size with a genuinely non-commuting D is not
    model, X, y, _ = quadratic_case(H6, S_NONCOMMUTING, N=400, whiten=False, seed=3)
    r = curl.minimum_curl(model, QL, X, y, k=3, n_random=4, n_bootstrap=200, seed=1)
    assert not r.top.consistent_with_zero and not r.random.consistent_with_zero


@pytest.mark.parametrize("commuting", [True, False])
def test_fokker_planck_current_and_the_diagnostic_agree(commuting):
    """2-D SC.eq10 with U = ½θᵀHθ and constant D: the FP steady state has J = 0 iff [D, H] = 0."""
    H = np.diag([1.0, 3.0])
    D = np.diag([0.5, 1.5]) if commuting else np.array([[1.0, 0.6], [0.6, 1.0]])
    solver = FokkerPlanckSolver(Grid.box([(-3, 3), (-3, 3)], (40, 40)), T=0.5,
                                grad_U=lambda a, b: np.stack([a, 3 * b]), D=D)
    current = solver.current_norm(solver.steady_state())
    Hi = np.linalg.inv(H)
    model, X, y, D_model = quadratic_case(H, Hi @ D @ Hi, N=200)
    assert np.allclose(D_model, D)
    G = per_sample_gradients(model, QL, X, y)
    est = curl.commutator_in_subspace(G, torch.eye(2, dtype=torch.float64), torch.tensor(H),
                                      generator=torch.Generator().manual_seed(0))
    jac = curl.drift_jacobian(model, QL, X, y, torch.eye(2, dtype=torch.float64), T=0.5)
    M = np.linalg.solve(D, H)
    assert np.allclose(jac.jacobian, M, atol=1e-10)
    anti = np.linalg.norm(M - M.T) / 2 / np.linalg.norm(M)
    assert abs(jac.antisymmetry - anti) < 1e-10
    if commuting:
        assert current < 1e-8 and est.value < 1e-12 and jac.antisymmetry < 1e-12
    else:
        assert current > 0.1 and est.value > 0.1 and jac.antisymmetry > 0.1
        assert est.value > est.noise_floor + 3 * est.stderr


def test_drift_jacobian_on_a_quadratic_is_the_projected_inverse_diffusion_hessian():
    model, X, y, D = quadratic_case(H6, S_NONCOMMUTING, N=100)
    B = gs.random_subspace(P6, 3, generator=torch.Generator().manual_seed(4))
    r = curl.drift_jacobian(model, QL, X, y, B, T=0.2)
    Bn = B.numpy()
    np.testing.assert_allclose(r.jacobian, Bn.T @ np.linalg.solve(D, H6) @ Bn, atol=1e-10)
    assert r.divergence_norm < 1e-12 and r.include_divergence and r.antisymmetry > 0.01


def _set_flat(model, theta):
    torch.nn.utils.vector_to_parameters(torch.as_tensor(theta), model.parameters())


def _field_by_finite_differences(model, loss, X, y, theta, T, include_divergence, h=1e-5):
    """V = D⁻¹(ḡ + (T/2)∂·D) with ∂·D by central differences of gradient_covariance (independent route)."""
    p = theta.size

    def cov(th):
        _set_flat(model, th)
        c = gs.gradient_covariance(model, loss, X, y)
        return c.matrix.numpy(), c.mean_gradient.numpy()

    D, g = cov(theta)
    b = g.copy()
    if include_divergence:
        div = np.zeros(p)
        for j in range(p):
            e = np.zeros(p)
            e[j] = h
            div += (cov(theta + e)[0][:, j] - cov(theta - e)[0][:, j]) / (2 * h)
        b = b + 0.5 * T * div
    return np.linalg.solve(D, b)


@pytest.mark.parametrize("include_divergence", [True, False])
def test_drift_jacobian_matches_finite_differences_on_a_small_net(include_divergence):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1)).double()  # p = 16
    g = torch.Generator().manual_seed(1)
    X = torch.randn(100, 3, generator=g, dtype=torch.float64)
    y = torch.randn(100, 1, generator=g, dtype=torch.float64)
    loss = torch.nn.functional.mse_loss
    theta0 = torch.nn.utils.parameters_to_vector(model.parameters()).detach().numpy().copy()
    B = gs.random_subspace(theta0.size, 2, generator=torch.Generator().manual_seed(2))
    T = 0.3
    r = curl.drift_jacobian(model, loss, X, y, B, T=T, include_divergence=include_divergence)
    Bn, h = B.numpy(), 1e-4
    J = np.zeros((2, 2))
    for j in range(2):
        vp = _field_by_finite_differences(model, loss, X, y, theta0 + h * Bn[:, j], T, include_divergence)
        vm = _field_by_finite_differences(model, loss, X, y, theta0 - h * Bn[:, j], T, include_divergence)
        J[:, j] = Bn.T @ (vp - vm) / (2 * h)
    _set_flat(model, theta0)
    assert np.linalg.norm(r.jacobian - J) < 1e-5 * np.linalg.norm(J)
    V = Bn.T @ _field_by_finite_differences(model, loss, X, y, theta0, T, include_divergence)
    assert np.linalg.norm(r.V - V) < 1e-6 * np.linalg.norm(V)
    assert (r.divergence_norm > 0) == include_divergence
    assert 0 < r.antisymmetry < 1


def test_drift_jacobian_errors():
    torch.manual_seed(0)
    model = mlp(4, 3, 2)  # p = 46 > N = 20: D singular
    X = torch.randn(20, 3, dtype=torch.float64)
    y = torch.randn(20, 2, dtype=torch.float64)
    B = gs.random_subspace(46, 2, generator=torch.Generator().manual_seed(0))
    with pytest.raises(curl.CurlError, match="ridge"):
        curl.drift_jacobian(model, torch.nn.functional.mse_loss, X, y, B, T=0.1, include_divergence=False)
    r = curl.drift_jacobian(model, torch.nn.functional.mse_loss, X, y, B, T=0.1, include_divergence=False, ridge=1e-3)
    assert np.all(np.isfinite(r.jacobian)) and r.ridge == 1e-3
    for bad in (0.0, -1.0, float("nan"), "0.1"):
        with pytest.raises(curl.CurlError, match="T must be"):
            curl.drift_jacobian(model, torch.nn.functional.mse_loss, X, y, B, T=bad)
    with pytest.raises(curl.CurlError, match="ridge"):
        curl.drift_jacobian(model, torch.nn.functional.mse_loss, X, y, B, T=0.1, ridge=-1.0)
    with pytest.raises(gs.GradStatsError, match="orthonormal"):
        curl.drift_jacobian(model, torch.nn.functional.mse_loss, X, y, 2 * B, T=0.1)


def test_minimum_curl_and_subspace_errors():
    model, X, y, _ = quadratic_case(H6, np.eye(P6), N=50)
    with pytest.raises(curl.CurlError, match="k = 6 must be < p"):
        curl.minimum_curl(model, QL, X, y, k=6)
    with pytest.raises(gs.GradStatsError, match="n_bootstrap"):
        curl.minimum_curl(model, QL, X, y, k=2, n_bootstrap=1)
    with pytest.raises(curl.CurlError, match=r"\(N, p\)"):
        curl.commutator_in_subspace(torch.zeros(5, 6), torch.eye(5), torch.eye(5))
    with pytest.raises(curl.CurlError, match="vanishes"):
        curl.commutator_in_subspace(torch.ones(5, 2), torch.eye(2), torch.eye(2))


def test_minimum_curl_on_a_briefly_trained_mlp():
    """Smoke run of the real-network path (the measured number is reported by the issue-12 run)."""
    Xtr, ytr, _, _ = digits_split(128, 0)
    torch.manual_seed(0)
    model = mlp(4, 64, 10)
    ce = torch.nn.functional.cross_entropy
    assert train_sgd(model, ce, Xtr, ytr, lr=0.1, batch_size=32, steps=200,
                     generator=torch.Generator().manual_seed(0)) is None
    r = curl.minimum_curl(model, ce, Xtr, ytr, k=4, n_random=2, n_bootstrap=50)
    for est in (r.top, r.random):
        assert 0 <= est.value <= 2 and math.isfinite(est.stderr) and est.stderr > 0
        assert est.noise_floor > 0 and est.bootstrap.shape == (50,)
    assert np.all(r.residuals < 1e-6 * r.eigenvalues[0]) and np.all(np.diff(r.eigenvalues) <= 0)
    assert r.gradient_norm_ratio > 0
