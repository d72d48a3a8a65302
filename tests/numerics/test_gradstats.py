"""numerics.gradstats: HVPs, Lanczos, Hutchinson and the gradient covariance against exact references."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from numerics import gradstats as gs
from numerics.gradient_noise import per_sample_gradients
from numerics.training import mlp

CE = torch.nn.functional.cross_entropy


@pytest.fixture(scope="module")
def net():
    """A 10-8-8-3 tanh MLP (p = 187) on 96 random samples, with its exact Hessian."""
    torch.manual_seed(0)
    model = mlp(8, 10, 3)
    g = torch.Generator().manual_seed(1)
    X = torch.randn(96, 10, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (96,), generator=g)
    H = gs.exact_hessian(model, CE, X, y)
    return model, X, y, H


def test_exact_hessian_matches_finite_differences_of_the_gradient(net):
    model, X, y, H = net
    op = gs.hessian_operator(model, CE, X, y)
    assert H.shape == (op.p, op.p) == (187, 187)
    assert torch.allclose(H, H.T)
    v = torch.randn(op.p, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    from torch.func import grad

    h = 1e-5
    fd = (grad(op.loss)(op.theta + h * v) - grad(op.loss)(op.theta - h * v)) / (2 * h)
    assert float((fd - H @ v).norm() / (H @ v).norm()) < 1e-7


@pytest.mark.parametrize("method", ["kept_graph", "jvp", "double_backward"])
def test_hvp_matches_exact_hessian(net, method):
    model, X, y, H = net
    op = gs.hessian_operator(model, CE, X, y, method=method)
    V = torch.randn(op.p, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    assert float((op.matvec(V) - H @ V).norm() / (H @ V).norm()) < 1e-12
    assert float((op @ V[:, 0] - H @ V[:, 0]).norm() / (H @ V[:, 0]).norm()) < 1e-12
    assert op.n_matvec == 4
    assert abs(op.value - float(CE(model(X), y).detach())) < 1e-12


def test_lanczos_top_eigenpairs_match_exact_spectrum(net):
    model, X, y, H = net
    w, U = np.linalg.eigh(H.numpy())
    eig = gs.top_hessian_eigenpairs(gs.hessian_operator(model, CE, X, y), 4)
    np.testing.assert_allclose(eig.values, w[::-1][:4], rtol=1e-8)
    assert np.all(eig.residuals < 1e-6 * w[-1])
    overlap = np.abs(np.sum(eig.vectors * U[:, ::-1][:, :4], axis=0))
    np.testing.assert_allclose(overlap, 1.0, atol=1e-6)
    assert eig.n_matvec > 0
    # the model-level call gives the same pairs; "LM" ranks by magnitude
    eig2 = gs.top_hessian_eigenpairs(model, 2, CE, X, y, which="LM")
    by_size = w[np.argsort(-np.abs(w))][:2]
    np.testing.assert_allclose(np.sort(eig2.values), np.sort(by_size), rtol=1e-8)


def test_hutchinson_trace_within_its_standard_error(net):
    model, X, y, H = net
    est = gs.hutchinson_trace(model, 300, CE, X, y, generator=torch.Generator().manual_seed(4))
    exact = float(torch.trace(H))
    assert abs(est.value - exact) < 4 * est.stderr
    # the stated SE agrees with the Rademacher variance 2 Σ_{i≠j} H_ij² / m
    Hn = H.numpy()
    se_theory = np.sqrt(2 * (np.sum(Hn**2) - np.sum(np.diag(Hn) ** 2)) / est.n_probes)
    assert 0.75 < est.stderr / se_theory < 1.3
    assert est.samples.shape == (300,)


def test_full_covariance_matches_a_per_sample_loop(net):
    model, X, y, _ = net
    cov = gs.gradient_covariance(model, CE, X, y)
    rows = []
    for i in range(X.shape[0]):
        model.zero_grad()
        CE(model(X[i:i + 1]), y[i:i + 1]).backward()
        rows.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
    model.zero_grad()
    G = torch.stack(rows)
    D = np.cov(G.numpy().T, bias=True)
    np.testing.assert_allclose(cov.matrix.numpy(), D, atol=1e-13 * np.abs(D).max())
    np.testing.assert_allclose(cov.mean_gradient.numpy(), G.mean(0).numpy(), atol=1e-14)
    assert cov.basis is None and cov.p == 187 and cov.n_samples == 96


def test_projected_covariances(net):
    model, X, y, H = net
    D = gs.gradient_covariance(model, CE, X, y).matrix
    g = torch.Generator().manual_seed(5)
    rnd = gs.gradient_covariance(model, CE, X, y, subspace="random", k=5, generator=g, sample_chunk=17)
    assert rnd.matrix.shape == (5, 5)
    B = rnd.basis
    assert torch.allclose(B.T @ B, torch.eye(5, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(rnd.matrix, B.T @ D @ B, atol=1e-14)
    top = gs.gradient_covariance(model, CE, X, y, subspace="hessian", k=3)
    U = np.linalg.eigh(H.numpy())[1][:, ::-1][:, :3]
    np.testing.assert_allclose(np.abs(np.sum(top.basis.numpy() * U, axis=0)), 1.0, atol=1e-6)
    given = gs.gradient_covariance(model, CE, X, y, basis=top.basis)
    assert torch.allclose(given.matrix, top.matrix, atol=1e-14)
    Hk = gs.projected_hessian(model, B, CE, X, y)
    assert torch.allclose(Hk, B.T @ H @ B, atol=1e-12)


def test_random_subspace_is_orthonormal_and_seeded():
    a = gs.random_subspace(50, 4, generator=torch.Generator().manual_seed(0))
    b = gs.random_subspace(50, 4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    assert torch.allclose(a.T @ a, torch.eye(4, dtype=torch.float64), atol=1e-12)
    with pytest.raises(gs.GradStatsError, match="more dimensions"):
        gs.random_subspace(3, 4)


# ------------------------------------------------------------------------------------------
# typed errors
# ------------------------------------------------------------------------------------------
def test_p_too_large_for_exact_hessian_names_the_alternative(net):
    model, X, y, _ = net
    with pytest.raises(gs.HessianTooLargeError, match="top_hessian_eigenpairs") as info:
        gs.exact_hessian(model, CE, X, y, max_p=100)
    assert "p = 187" in str(info.value)


def test_full_covariance_too_large_names_the_alternative(net, monkeypatch):
    model, X, y, _ = net
    monkeypatch.setattr(gs, "FULL_COVARIANCE_MAX_P", 100)
    with pytest.raises(gs.CovarianceTooLargeError, match="subspace='random'"):
        gs.gradient_covariance(model, CE, X, y)


def test_nan_loss_is_a_typed_error(net):
    model, X, y, _ = net
    bad = mlp(8, 10, 3)
    with torch.no_grad():
        bad[0].weight[0, 0] = float("nan")
    with pytest.raises(gs.NonFiniteLossError, match="finite point"):
        gs.hessian_operator(bad, CE, X, y)
    with pytest.raises(gs.NonFiniteLossError):
        gs.gradient_covariance(bad, CE, X, y)


def test_train_mode_with_dropout_or_batchnorm_is_refused():
    torch.manual_seed(0)
    X = torch.randn(20, 4, dtype=torch.float64)
    y = torch.randint(0, 2, (20,))
    for layer in (torch.nn.Dropout(0.5), torch.nn.BatchNorm1d(6)):
        model = torch.nn.Sequential(torch.nn.Linear(4, 6), layer, torch.nn.Tanh(), torch.nn.Linear(6, 2)).double()
        with pytest.raises(gs.TrainModeError, match=r"model\.eval\(\)") as info:
            gs.gradient_covariance(model, CE, X, y)
        assert type(layer).__name__ in str(info.value)
        with pytest.raises(gs.TrainModeError):
            gs.hessian_operator(model, CE, X, y)
        model.eval()
        n = sum(q.numel() for q in model.parameters())
        assert gs.gradient_covariance(model, CE, X, y).matrix.shape == (n, n)
    # training mode without such layers is fine
    plain = mlp(3, 4, 2)
    assert plain.training and gs.hessian_operator(plain, CE, X, y).p == 4 * 3 + 3 + 9 + 3 + 6 + 2


def test_bad_inputs_are_typed_errors(net):
    model, X, y, _ = net
    with pytest.raises(gs.GradStatsError, match="scalar"):
        gs.hessian_operator(model, lambda o, t: CE(o, t, reduction="none"), X, y)
    with pytest.raises(gs.GradStatsError, match="same number of samples"):
        gs.hessian_operator(model, CE, X, y[:-1])
    with pytest.raises(gs.GradStatsError, match="nn.Module"):
        gs.gradient_covariance(lambda x: x, CE, X, y)
    with pytest.raises(gs.GradStatsError, match="k < p"):
        gs.top_hessian_eigenpairs(model, 187, CE, X, y)
    with pytest.raises(gs.GradStatsError, match="orthonormal"):
        gs.gradient_covariance(model, CE, X, y, basis=torch.ones(187, 2, dtype=torch.float64))
    with pytest.raises(gs.GradStatsError, match="needs k"):
        gs.gradient_covariance(model, CE, X, y, subspace="random")
    with pytest.raises(gs.GradStatsError, match="subspace must be"):
        gs.gradient_covariance(model, CE, X, y, subspace="top")
    with pytest.raises(gs.GradStatsError, match="method must be"):
        gs.hessian_operator(model, CE, X, y, method="fd")
    with pytest.raises(gs.GradStatsError, match="n_probes"):
        gs.hutchinson_trace(model, 1, CE, X, y)
    with pytest.raises(gs.GradStatsError, match="which must be"):
        gs.top_hessian_eigenpairs(model, 1, CE, X, y, which="SA")
    with pytest.raises(gs.GradStatsError, match="HessianOperator"):
        gs.top_hessian_eigenpairs(model, 1)
    frozen = mlp(3, 4, 2).requires_grad_(False)
    with pytest.raises(gs.GradStatsError, match="requires_grad"):
        gs.hessian_operator(frozen, CE, X[:, :4], y)


def test_device_argument_runs_on_cpu(net):
    model, X, y, H = net
    op = gs.hessian_operator(model, CE, X, y, device="cpu")
    assert op.device.type == "cpu"
    e = gs.top_hessian_eigenpairs(op, 1)
    assert abs(e.values[0] - float(torch.linalg.eigvalsh(H)[-1])) < 1e-8 * abs(e.values[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_model_on_another_device_is_a_typed_error(net):
    model, X, y, _ = net
    with pytest.raises(gs.GradStatsError, match="move the model"):
        gs.hessian_operator(model, CE, X, y, device="cuda")


# ------------------------------------------------------------------------------------------
# optional cross-checks against BackPACK and PyHessian (not installed in CI: skipped then)
# ------------------------------------------------------------------------------------------
def test_per_sample_gradients_and_variance_match_backpack(net):
    backpack = pytest.importorskip("backpack")
    from backpack.extensions import BatchGrad, Variance

    model, X, y, _ = net
    m = backpack.extend(mlp(8, 10, 3))
    m.load_state_dict(model.state_dict())
    lf = backpack.extend(torch.nn.CrossEntropyLoss(reduction="sum"))
    with backpack.backpack(BatchGrad(), Variance()):
        lf(m(X), y).backward()
    G_bp = torch.cat([p.grad_batch.reshape(X.shape[0], -1) for p in m.parameters()], dim=1)
    G = per_sample_gradients(model, CE, X, y)
    assert float((G - G_bp).norm() / G.norm()) < 1e-5
    var_bp = torch.cat([p.variance.reshape(-1) for p in m.parameters()])
    D = gs.gradient_covariance(model, CE, X, y).matrix
    assert float((torch.diagonal(D) - var_bp).norm() / var_bp.norm()) < 1e-5


def _pyhessian(model, X, y, seed):
    """PyHessian's ``hessian`` on a copy of ``model`` (it leaves create_graph gradients on the
    parameters), with torch's global RNG seeded for its random starts and restored afterwards."""
    import copy

    pyhessian = pytest.importorskip("pyhessian")
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # backward(create_graph=True) reference-cycle warning
        return pyhessian.hessian(copy.deepcopy(model), torch.nn.CrossEntropyLoss(), data=(X, y), cuda=False)


def test_top_eigenvalue_matches_pyhessian_and_the_exact_hessian(net):
    """Issue 12 acceptance 1: Lanczos and PyHessian's power iteration give the exact top eigenvalue,
    each within its tolerance. PyHessian stops when the eigenvalue changes by < tol relative between
    iterations (not an error bound), and its ``normalization`` divides by ‖v‖ + 1e-6, so vᵀHv is
    biased low by (1 + 1e-6)⁻²: a 2e-6 relative floor whatever tol (measured: 2.0e-6 at tol=1e-10 on
    this model, 1.8e-10 with the 1e-6 removed). It is held to 100·tol = 1e-4; ARPACK's tol=1e-10 to 1e-8."""
    model, X, y, H = net
    exact = float(np.linalg.eigvalsh(H.numpy())[-1])
    with torch.random.fork_rng():
        top, vecs = _pyhessian(model, X, y, seed=7).eigenvalues(top_n=1, tol=1e-6, maxIter=1000)
    ours = gs.top_hessian_eigenpairs(model, 1, CE, X, y)
    assert abs(ours.values[0] - exact) < 1e-8 * abs(exact)
    assert abs(top[0] - exact) < 1e-4 * abs(exact)
    assert abs(top[0] - ours.values[0]) < 1e-4 * abs(exact)
    v = torch.cat([t.reshape(-1) for t in vecs[0]]).double().numpy()  # same eigenvector up to sign
    assert abs(abs(float(v @ ours.vectors[:, 0])) / np.linalg.norm(v) - 1.0) < 1e-3


def test_trace_matches_pyhessian_and_the_exact_hessian(net):
    """Issue 12 acceptance 1: PyHessian's Hutchinson trace agrees with the exact Tr H within 4
    standard errors of its own probes, as ours does (test_hutchinson_trace_within_its_standard_error) (PyHessian's running-mean tol set to 0, so it takes
    all maxIter probes instead of stopping on a chance small change)."""
    model, X, y, H = net
    exact = float(torch.trace(H))
    with torch.random.fork_rng():
        samples = np.asarray(_pyhessian(model, X, y, seed=8).trace(maxIter=100, tol=0.0), dtype=float)
    assert samples.shape == (100,)
    se_ph = samples.std(ddof=1) / np.sqrt(samples.size)
    assert abs(samples.mean() - exact) < 4 * se_ph
    # the Rademacher variance 2 Σ_{i≠j} H_ij² / m (ours: test_hutchinson_trace_within_its_standard_error)
    Hn = H.numpy()
    se_theory = np.sqrt(2 * (np.sum(Hn**2) - np.sum(np.diag(Hn) ** 2)) / samples.size)
    assert 0.7 < se_ph / se_theory < 1.4
