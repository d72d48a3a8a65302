"""numerics.noise_curvature: DT.eq7 alignment and SC.B2.cov (Laplace vs Lyapunov) against theory's exact forms."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from numerics import noise_curvature as N


def test_alignment_recovers_the_constant_and_the_ordering():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    H = Q @ np.diag([5.0, 3.0, 2.0, 1.0, 0.5]) @ Q.T
    a = N.noise_hessian_alignment(2.0 * H, H)
    assert a.constant == pytest.approx(2.0, rel=1e-12)
    assert a.relative_residual == pytest.approx(0.0, abs=1e-12)
    assert a.pearson == pytest.approx(1.0, abs=1e-12)
    assert a.off_diagonal_share == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(a.noise_diagonal, 2 * a.hessian_eigenvalues, rtol=1e-12)
    D = H + 0.3 * np.eye(5)  # not proportional: residual > 0, c the least-squares constant
    b = N.noise_hessian_alignment(D, H)
    assert b.constant == pytest.approx(np.sum(D * H) / np.sum(H * H), rel=1e-12)
    assert b.relative_residual > 0.01
    with pytest.raises(N.NoiseCurvatureError, match="same shape"):
        N.noise_hessian_alignment(np.eye(2), np.eye(3))
    with pytest.raises(N.NoiseCurvatureError, match="symmetric"):
        N.noise_hessian_alignment(np.array([[1.0, 2.0], [0.0, 1.0]]), np.eye(2))
    for text in ("[[1]]", [["1"]], np.array([["1.0"]])):
        with pytest.raises(N.NoiseCurvatureError, match="text"):
            N.noise_hessian_alignment(text, np.eye(1))


def test_commuting_blocks_laplace_is_lyapunov_and_theory():
    from theory.laplace import leading_order_covariance

    C = np.array([[2.0, 0.5], [0.5, 1.0]])
    D = 0.3 * C @ C + 0.1 * C  # a polynomial in C commutes with it
    r = N.stationary_covariance(C, D, 0.02)
    want = np.array(leading_order_covariance(sp.Matrix(C.tolist()).applyfunc(sp.nsimplify),
                                             sp.Matrix(D.tolist()).applyfunc(sp.nsimplify),
                                             sp.Rational(1, 50)).evalf(30), dtype=float)
    np.testing.assert_allclose(r.laplace, want, rtol=1e-12)
    np.testing.assert_allclose(r.lyapunov, want, rtol=1e-10)
    assert r.relative_difference < 1e-10 and r.asymmetry < 1e-12 and r.lyapunov_residual < 1e-12


def test_non_commuting_blocks_lyapunov_is_theory_and_differs_from_laplace():
    from theory.fokker_planck import ou_stationary_covariance

    C = np.array([[3.0, 0.0], [0.0, 1.0]])
    D = np.array([[1.0, 0.6], [0.6, 1.0]])
    r = N.stationary_covariance(C, D, 0.1)
    want = np.array(ou_stationary_covariance(sp.Matrix([[3, 0], [0, 1]]),
                                             sp.Matrix([[1, sp.Rational(3, 5)], [sp.Rational(3, 5), 1]]),
                                             sp.Rational(1, 10)).evalf(30), dtype=float)
    np.testing.assert_allclose(r.lyapunov, want, rtol=1e-12)
    # off-diagonal: Laplace symmetric part (T/2)(1/3 + 1)/2·0.6 = 0.02, Lyapunov T·0.6/(3 + 1) = 0.015
    assert r.laplace_symmetric[0, 1] == pytest.approx(0.02, rel=1e-12)
    assert r.lyapunov[0, 1] == pytest.approx(0.015, rel=1e-12)
    assert r.relative_difference > 0.05 and r.asymmetry > 0.1


def test_stationary_covariance_refuses_bad_input():
    with pytest.raises(N.NotAStrictMinimumError, match="not a strict minimum"):
        N.stationary_covariance(np.diag([1.0, -0.1]), np.eye(2), 0.1)
    for T in (0.0, -1.0, float("nan"), "0.1", True):
        with pytest.raises(N.NoiseCurvatureError, match="T must be"):
            N.stationary_covariance(np.eye(2), np.eye(2), T)
    with pytest.raises(N.NoiseCurvatureError, match="square"):
        N.stationary_covariance(np.ones((2, 3)), np.eye(2), 0.1)
