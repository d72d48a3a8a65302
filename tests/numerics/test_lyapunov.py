"""numerics.lyapunov: stationary covariance (continuous / discrete Lyapunov, the printed (T/2)C⁻¹D),
mean and mode offsets (SC.B2.cov, SC.B2.bias), the divergence of D by finite differences, the moment
estimator of the mode, and the vectorised chains on a quadratic model."""
import numpy as np
import pytest

from numerics.lyapunov import (ChainMoments, LyapunovError, SGDDivergedError, continuous_lyapunov_covariance,
                               covariance_derivative, discrete_lyapunov_covariance, divergence_of_covariance,
                               laplace_covariance, mean_offset, mode_from_moments, mode_offset, printed_bias,
                               relative_frobenius, sgd_chain_moments, stationary_third_cumulant)


def _rot(p, seed=0):
    return np.linalg.qr(np.random.default_rng(seed).normal(size=(p, p)))[0]


def test_continuous_equals_printed_iff_commuting():
    Q = _rot(3)
    C, D = Q @ np.diag([1.0, 2.0, 5.0]) @ Q.T, Q @ np.diag([0.5, 3.0, 1.0]) @ Q.T
    assert continuous_lyapunov_covariance(C, D, 0.02) == pytest.approx(laplace_covariance(C, D, 0.02), abs=1e-14)
    Dn = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 1.0]])
    S = continuous_lyapunov_covariance(C, Dn, 0.02)
    assert C @ S + S @ C == pytest.approx(0.02 * Dn, abs=1e-13)
    P = laplace_covariance(C, Dn, 0.02)
    assert np.abs(P - P.T).max() > 1e-4          # not a covariance
    assert relative_frobenius(S, P) > 0.05


def test_discrete_lyapunov_equation_and_limit():
    C = np.array([[2.0, 0.3], [0.3, 0.5]])
    D = np.array([[1.0, 0.4], [0.4, 2.0]])
    T = 0.01
    errs = []
    for B in (1, 2, 4):
        lr = T * B
        S = discrete_lyapunov_covariance(C, D, lr, B)
        A = np.eye(2) - lr * C
        assert S == pytest.approx(A @ S @ A + lr ** 2 * D / B, abs=1e-15)
        errs.append(relative_frobenius(S, continuous_lyapunov_covariance(C, D, T)))
    # the time-step correction is O(λ) at fixed T
    assert errs[1] / errs[0] == pytest.approx(2.0, rel=0.05) and errs[2] / errs[1] == pytest.approx(2.0, rel=0.05)
    Sw = discrete_lyapunov_covariance(C, D, 0.04, 4, n_data=10)
    assert Sw == pytest.approx(discrete_lyapunov_covariance(C, D, 0.04, 4) * 6 / 9, rel=1e-12)


@pytest.mark.parametrize("kw, match", [(dict(lr=1.5), "diverges"), (dict(lr=-1.0), "lr"),
                                       (dict(batch_size=0), "batch_size")])
def test_discrete_lyapunov_rejects(kw, match):
    args = dict(lr=0.1, batch_size=2)
    args.update(kw)
    with pytest.raises(LyapunovError, match=match):
        discrete_lyapunov_covariance(np.diag([1.0, 2.0]), np.eye(2), **args)


def test_not_a_minimum_and_shapes():
    with pytest.raises(LyapunovError, match="positive definite"):
        continuous_lyapunov_covariance(np.diag([1.0, -1.0]), np.eye(2), 0.1)
    with pytest.raises(LyapunovError, match="square"):
        continuous_lyapunov_covariance(np.ones((2, 3)), np.eye(2), 0.1)
    with pytest.raises(LyapunovError, match="entries"):
        printed_bias(np.eye(2), [1.0, 2.0, 3.0], 0.1)


@pytest.mark.parametrize("bad", ["[[1, 0], [0, 1]]", [["1", 0], [0, 1]], [[b"1", 0], [0, 1]],
                                 np.array([["__import__('os')", 0], [0, 1]], dtype=object)])
def test_strings_are_refused_never_parsed(bad):
    with pytest.raises(TypeError, match="numbers"):
        continuous_lyapunov_covariance(bad, np.eye(2), 0.1)
    with pytest.raises(TypeError, match="numbers"):
        printed_bias(np.eye(2), bad, 0.1)


def _logistic(theta, X, y):
    s = 1 / (1 + np.exp(y * (X @ theta)))           # σ(−m)
    G = -(X * (y * s)[:, None])
    w = s * (1 - s)
    H = np.einsum("n,ni,nj->nij", w, X, X)
    return G, H


def test_divergence_and_derivative_of_D_by_finite_differences():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 4))
    y = np.sign(rng.normal(size=60))
    th = rng.normal(size=4) * 0.3

    def D_of(t):
        G, _ = _logistic(t, X, y)
        return np.cov(G.T, bias=True)

    G, H = _logistic(th, X, y)
    dD = covariance_derivative(G, H)
    eps = 1e-6
    fd = np.stack([(D_of(th + eps * e) - D_of(th - eps * e)) / (2 * eps) for e in np.eye(4)])
    assert dD == pytest.approx(fd, abs=1e-8)
    assert divergence_of_covariance(G, H) == pytest.approx(np.einsum("jij->i", fd), abs=1e-8)
    # a sample-independent term (ℓ2: g_n + αθ, H_n + αI) leaves D and its derivatives unchanged
    assert divergence_of_covariance(G + 0.1 * th, H + 0.1 * np.eye(4)) == pytest.approx(
        divergence_of_covariance(G, H), abs=1e-14)


def _sym3(K):
    return (K + K.transpose(0, 2, 1) + K.transpose(1, 0, 2) + K.transpose(1, 2, 0) + K.transpose(2, 0, 1)
            + K.transpose(2, 1, 0)) / 6


def test_mode_offset_reduces_to_printed_bias_under_zero_curl():
    T = 0.01
    # 1-D: θ^tr − mode = (T/2) D'/C, the mean offset is U''' Σ / (2C)
    C, K, dD, D = np.array([[2.0]]), np.array([[[0.7]]]), np.array([[[0.3]]]), np.array([[1.5]])
    S = continuous_lyapunov_covariance(C, D, T)
    assert mode_offset(C, K, dD, S, T) == pytest.approx(printed_bias(C, [0.3], T), rel=1e-12)
    assert mean_offset(C, [0.7 * S[0, 0]]) == pytest.approx([0.7 * S[0, 0] / 4.0], rel=1e-12)
    k3 = stationary_third_cumulant(C, K, dD, S, T)
    assert k3[0, 0, 0] == pytest.approx((-0.7 * S[0, 0] ** 2 + T * 0.3 * S[0, 0]) / 2.0, rel=1e-12)
    # D = I with any cubic U: the law is exp(−2U/T), whose mode is θ^tr
    p = 3
    Q = _rot(p)
    Cq = Q @ np.diag([1.0, 2.0, 3.0]) @ Q.T
    Kr = _sym3(np.random.default_rng(2).normal(size=(p, p, p)))
    S = continuous_lyapunov_covariance(Cq, np.eye(p), T)
    assert np.abs(mode_offset(Cq, Kr, np.zeros((p, p, p)), S, T)).max() < 1e-15
    assert np.abs(mean_offset(Cq, np.einsum("iab,ab->i", Kr, S))).max() > 1e-4  # but the mean moves
    # a rotated separable model U = Σ U_i(φ_i), D = diag(d_i(φ_i)): zero curl, non-trivial tensors

    def rot3(X):
        return np.einsum("abc,ia,jb,kc->ijk", X, Q, Q, Q)

    Kp, dDp = np.zeros((p, p, p)), np.zeros((p, p, p))
    for i, (k, d) in enumerate(zip([0.5, -0.3, 0.8], [0.4, -0.2, 0.6])):
        Kp[i, i, i], dDp[i, i, i] = k, d
    Dq = Q @ np.diag([1.0, 2.0, 0.5]) @ Q.T
    S = continuous_lyapunov_covariance(Cq, Dq, T)
    printed = printed_bias(Cq, np.einsum("jij->i", rot3(dDp)), T)
    assert mode_offset(Cq, rot3(Kp), rot3(dDp), S, T) == pytest.approx(printed, rel=1e-10)


def test_mode_from_moments_is_exact_for_the_gamma_law():
    # Gamma(k, s): mean ks, variance ks², third cumulant 2ks³, mode (k − 1)s = mean − ½ κ3/σ²
    k, s = 5.0, 0.3
    m, var, k3 = k * s, k * s * s, 2 * k * s ** 3
    M2 = var + m * m
    M3 = k3 + 3 * m * var + m ** 3
    W = np.array([[1 / var]])
    mode = mode_from_moments([m], [[M2]], [M3 / var], M2 / var, W)
    assert mode[0] == pytest.approx((k - 1) * s, rel=1e-12)


def _quadratic_chain_setup():
    rng = np.random.default_rng(3)
    N = 200
    x = rng.normal(size=(N, 2)) @ np.array([[1.0, 0.0], [0.6, 0.8]])
    x -= x.mean(0)
    H = np.array([[1.0, 0.2], [0.2, 2.0]])

    import torch

    xt = torch.as_tensor(x)
    Ht = torch.as_tensor(H)

    def grad(theta, idx):                       # per-sample loss ½θᵀHθ + x_n·θ
        return theta @ Ht + xt[idx].mean(1)

    return x, H, grad


def test_chain_moments_on_a_quadratic_match_the_discrete_lyapunov_covariance():
    x, H, grad = _quadratic_chain_setup()
    D = np.cov(x.T, bias=True)
    lr, B = 0.2, 4
    S = discrete_lyapunov_covariance(H, D, lr, B)
    mom = sgd_chain_moments(grad, np.zeros(2), lr=lr, batch_size=B, n_data=len(x), n_chains=512, n_steps=400,
                            burn_in=100, seed=0, groups=8, thin=5, W=np.linalg.inv(S))
    est = mom.estimates()
    _, se = mom.jackknife(lambda e: e["cov"])
    assert np.abs(est["cov"] - S).max() < 5 * se.max() + 1e-12
    _, se_m = mom.jackknife(lambda e: e["mean"])
    assert np.abs(est["mean"]).max() < 5 * se_m.max()         # quadratic: no offset
    back = ChainMoments.from_dict(mom.to_dict())
    assert back.s2 == pytest.approx(mom.s2, rel=1e-15) and back.W == pytest.approx(mom.W)
    # projected chains: the same moments in a rotated basis
    P = _rot(2, seed=5)
    mp = sgd_chain_moments(grad, np.zeros(2), lr=lr, batch_size=B, n_data=len(x), n_chains=512, n_steps=400,
                           burn_in=100, seed=0, groups=8, thin=5, project=P)
    assert mp.estimates()["cov"] == pytest.approx(P.T @ est["cov"] @ P, abs=1e-12)


def test_chains_diverge_with_a_typed_error_and_check_arguments():
    x, H, grad = _quadratic_chain_setup()
    with pytest.raises(SGDDivergedError, match="lr = 3"):
        sgd_chain_moments(grad, np.zeros(2), lr=3.0, batch_size=2, n_data=len(x), n_chains=16, n_steps=1000,
                          burn_in=10, seed=0, groups=2)
    with pytest.raises(LyapunovError, match="multiple of groups"):
        sgd_chain_moments(grad, np.zeros(2), lr=0.1, batch_size=2, n_data=len(x), n_chains=15, n_steps=40,
                          burn_in=10, seed=0, groups=2)
    with pytest.raises(LyapunovError, match="burn_in"):
        sgd_chain_moments(grad, np.zeros(2), lr=0.1, batch_size=2, n_data=len(x), n_chains=16, n_steps=40,
                          burn_in=40, seed=0, groups=2)


def test_observe_accumulates_a_scalar_over_the_same_samples_as_the_moments():
    """SC.eq4 support: an observed f(θ) = a·θ + θᵀMθ averages to a·m + Tr(M(Σ + mmᵀ)) over the same iterates
    (exact up to rounding), the random stream is untouched, and the sums round-trip through to_dict."""
    import torch

    x, H, grad = _quadratic_chain_setup()
    a = np.array([0.3, -1.1])
    M = np.array([[2.0, 0.4], [0.4, 0.7]])
    at, Mt = torch.as_tensor(a), torch.as_tensor(M)
    kw = dict(lr=0.2, batch_size=4, n_data=len(x), n_chains=64, n_steps=120, burn_in=20, seed=3, groups=4, thin=3)
    mom = sgd_chain_moments(grad, np.zeros(2), observe=lambda th: th @ at + ((th @ Mt) * th).sum(1), **kw)
    plain = sgd_chain_moments(grad, np.zeros(2), **kw)
    assert mom.s2 == pytest.approx(plain.s2, rel=1e-14, abs=1e-300) and plain.obs_sum is None
    est = mom.estimates()
    m = est["mean"]
    want = a @ m + np.trace(M @ (est["cov"] + np.outer(m, m)))
    assert est["obs_mean"] == pytest.approx(want, rel=1e-10, abs=1e-14)
    assert est["obs_var"] >= 0 and plain.estimates()["obs_mean"] is None
    v, se = mom.jackknife(lambda e: e["obs_mean"])
    assert v == pytest.approx(est["obs_mean"], rel=1e-14) and se > 0
    back = ChainMoments.from_dict(mom.to_dict())
    assert back.obs_sum == pytest.approx(mom.obs_sum, rel=1e-15) and back.obs_sq == pytest.approx(mom.obs_sq, rel=1e-15)
    old = plain.to_dict()                       # records written before `observe` existed still load
    assert "obs_sum" not in old and ChainMoments.from_dict(old).obs_sum is None
    with pytest.raises(LyapunovError, match="both or neither"):
        ChainMoments.from_dict({**old, "obs_sum": [0.0] * 4})


def test_observe_is_checked():
    x, H, grad = _quadratic_chain_setup()
    kw = dict(lr=0.1, batch_size=2, n_data=len(x), n_chains=16, n_steps=20, burn_in=5, seed=0, groups=2)
    with pytest.raises(LyapunovError, match="one value per chain"):
        sgd_chain_moments(grad, np.zeros(2), observe=lambda th: th, **kw)
    with pytest.raises(LyapunovError, match="callable"):
        sgd_chain_moments(grad, np.zeros(2), observe="th.sum()", **kw)
