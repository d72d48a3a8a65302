"""Gradient noise against curvature in a k-dimensional subspace: DT.eq7 and SC.B2.cov, numerically.

Inputs are small dense matrices measured on a network (e.g. by :mod:`numerics.gradstats` in the
top-k Hessian eigenbasis): the Hessian block ``H_k = Bᵀ H B`` (``C`` in SC's notation) and the
per-sample gradient covariance block ``D_k = Bᵀ D B``.

* **DT.eq7** (:func:`noise_hessian_alignment`): near a minimum the minibatch noise covariance is
  ``C_B ≈ H/B`` (per-sample Fisher ≈ Hessian). For minibatches of B samples drawn with replacement
  ``C_B = D/B``, so the statement is ``D ≈ c H`` with c = 1, *for every B*: the batch size cancels and
  is not an input. Reported: the least-squares constant ``c = ⟨D_k, H_k⟩_F / ⟨H_k, H_k⟩_F`` (the
  minimiser of ‖D_k − c H_k‖_F), the relative residual ‖D_k − c H_k‖_F / ‖D_k‖_F, and — in the
  eigenbasis of H_k — the Pearson correlation of the diagonal ``uᵢᵀ D uᵢ`` with the eigenvalues λᵢ and
  the off-diagonal share of D_k.
* **SC.B2.cov** (:func:`stationary_covariance`): the stationary covariance of SGD about a strict
  minimum at temperature T in SC.eq10's normalisation (``dθ = −C θ dt + sqrt(T D) dW``): the
  leading-order Laplace form ``Σ = (T/2) C⁻¹ D`` (``theory.laplace.leading_order_covariance``; a
  covariance only when C and D commute, SC.A1) and the exact Ornstein–Uhlenbeck covariance, the
  solution of the Lyapunov equation ``C Σ + Σ C = T D`` (``theory.fokker_planck.ou_stationary_covariance``),
  both evaluated by :mod:`numerics.lyapunov` (``laplace_covariance``, ``continuous_lyapunov_covariance``:
  ``scipy.linalg.solve_continuous_lyapunov``). The two agree iff ``[C, D] = 0``; their relative
  distance is reported. The tests check both against the theory functions named on exact 2×2 cases
  (dense linear algebra, as a symbolic k×k inverse is not compiled at k ≈ 10).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["NoiseCurvatureError", "NotAStrictMinimumError", "NoiseHessianAlignment", "noise_hessian_alignment",
           "StationaryCovariance", "stationary_covariance"]


class NoiseCurvatureError(ValueError):
    """Bad input (shapes, non-finite or non-symmetric matrices, T ≤ 0); the message says what to change."""


class NotAStrictMinimumError(NoiseCurvatureError):
    """C has an eigenvalue ≤ 0: no stationary state about this point (the OU process is not confined)."""


def _square(M, name: str) -> np.ndarray:
    if isinstance(M, (str, bytes)):
        raise NoiseCurvatureError(f"{name} must be a numeric matrix, not text")
    if hasattr(M, "detach"):  # a torch tensor
        M = M.detach().cpu().numpy()
    try:
        A = np.asarray(M)
    except (TypeError, ValueError) as exc:
        raise NoiseCurvatureError(f"{name} must be a numeric (k, k) matrix: {exc}") from exc
    if A.dtype.kind not in "biuf":  # text or objects are refused, never converted
        raise NoiseCurvatureError(f"{name} must be a numeric (k, k) matrix, not text or objects (dtype {A.dtype})")
    A = A.astype(np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] < 1:
        raise NoiseCurvatureError(f"{name} must be a square (k, k) matrix with k ≥ 1; got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise NoiseCurvatureError(f"{name} holds NaN/inf")
    scale = max(float(np.abs(A).max()), 1e-300)
    if float(np.abs(A - A.T).max()) > 1e-8 * scale:
        raise NoiseCurvatureError(f"{name} must be symmetric (max |A − Aᵀ| = {float(np.abs(A - A.T).max()):.3g})")
    return 0.5 * (A + A.T)


def _temperature(T) -> float:
    """T as a float (:func:`numerics.stationary.check_temperature`), its error re-raised as NoiseCurvatureError."""
    from numerics.stationary import TemperatureError, check_temperature

    try:
        return check_temperature(T)
    except TemperatureError as exc:
        raise NoiseCurvatureError(str(exc)) from None


@dataclass(frozen=True)
class NoiseHessianAlignment:
    """DT.eq7 in a k-subspace: ``D_k ≈ c H_k`` (c = 1 is DT.eq7; B cancels, module docstring).

    ``constant``: the least-squares c; ``relative_residual``: ‖D_k − cH_k‖_F/‖D_k‖_F; ``pearson``:
    correlation of ``diag(Uᵀ D_k U)`` with the eigenvalues of H_k (NaN for k < 3 or a constant
    column); ``hessian_eigenvalues`` (descending), ``noise_diagonal`` (``uᵢᵀ D_k uᵢ`` in that order),
    ``off_diagonal_share``: ‖offdiag(Uᵀ D_k U)‖_F/‖D_k‖_F; ``k``.
    """

    constant: float
    relative_residual: float
    pearson: float
    hessian_eigenvalues: np.ndarray
    noise_diagonal: np.ndarray
    off_diagonal_share: float
    k: int


def noise_hessian_alignment(D, H) -> NoiseHessianAlignment:
    """Compare the per-sample gradient covariance block ``D`` with the Hessian block ``H`` (DT.eq7).

    Both (k, k) symmetric; H need not be diagonal (its eigenbasis is used for the Pearson
    correlation). Raises :class:`NoiseCurvatureError` for bad shapes or a zero H or D.
    """
    D, H = _square(D, "D"), _square(H, "H")
    if D.shape != H.shape:
        raise NoiseCurvatureError(f"D and H must have the same shape; got {D.shape} and {H.shape}")
    nH, nD = float(np.linalg.norm(H)), float(np.linalg.norm(D))
    if nH == 0 or nD == 0:
        raise NoiseCurvatureError("H or D is zero in this subspace: the constant of D ≈ cH is undefined")
    c = float(np.sum(D * H) / nH**2)
    lam, U = np.linalg.eigh(H)
    order = np.argsort(lam)[::-1]
    lam, U = lam[order], U[:, order]
    Dr = U.T @ D @ U
    diag = np.diag(Dr).copy()
    off = Dr - np.diag(diag)
    if len(lam) >= 3 and np.std(lam) > 0 and np.std(diag) > 0:
        r = float(np.corrcoef(lam, diag)[0, 1])
    else:
        r = float("nan")
    return NoiseHessianAlignment(constant=c, relative_residual=float(np.linalg.norm(D - c * H)) / nD, pearson=r,
                                 hessian_eigenvalues=lam, noise_diagonal=diag,
                                 off_diagonal_share=float(np.linalg.norm(off)) / nD, k=int(D.shape[0]))


@dataclass(frozen=True)
class StationaryCovariance:
    """SC.B2.cov at temperature T in a k-subspace.

    ``laplace``: ``(T/2) C⁻¹ D`` as computed (not symmetric unless [C, D] = 0); ``laplace_symmetric``:
    its symmetric part; ``lyapunov``: the solution Σ of ``CΣ + ΣC = T D``; ``relative_difference``:
    ‖laplace_symmetric − lyapunov‖_F / ‖lyapunov‖_F; ``asymmetry``: ‖L − Lᵀ‖_F / ‖L + Lᵀ‖_F of
    L = C⁻¹D; ``lyapunov_residual``: ‖CΣ + ΣC − T D‖_F / ‖T D‖_F; ``T``, ``k``.
    """

    laplace: np.ndarray
    laplace_symmetric: np.ndarray
    lyapunov: np.ndarray
    relative_difference: float
    asymmetry: float
    lyapunov_residual: float
    T: float
    k: int


def stationary_covariance(C, D, T) -> StationaryCovariance:
    """The SC.B2.cov prediction ``(T/2) C⁻¹ D`` and the Lyapunov solution of ``CΣ + ΣC = T D``.

    ``C``: the Hessian block (must be positive definite: a strict minimum, else
    :class:`NotAStrictMinimumError`), ``D``: the gradient covariance block, ``T`` = λ/B > 0.
    """
    from numerics.lyapunov import continuous_lyapunov_covariance, laplace_covariance

    C, D = _square(C, "C"), _square(D, "D")
    T = _temperature(T)
    if C.shape != D.shape:
        raise NoiseCurvatureError(f"C and D must have the same shape; got {C.shape} and {D.shape}")
    ev = np.linalg.eigvalsh(C)
    if float(ev.min()) <= 0:
        raise NotAStrictMinimumError(
            f"C has eigenvalue {float(ev.min()):.3g} ≤ 0 in this subspace: the point is not a strict minimum "
            f"there, so SGD has no stationary covariance about it; polish to a minimum first, or use a "
            f"subspace of positive curvature (e.g. the top-k Hessian eigenvectors with λ > 0)")
    lap = laplace_covariance(C, D, T)
    L = lap / (0.5 * T)
    lap_sym = 0.5 * (lap + lap.T)
    S = continuous_lyapunov_covariance(C, D, T)
    nS = float(np.linalg.norm(S))
    nTD = float(np.linalg.norm(T * D))
    sym = float(np.linalg.norm(L + L.T))
    return StationaryCovariance(
        laplace=lap, laplace_symmetric=lap_sym, lyapunov=S,
        relative_difference=float(np.linalg.norm(lap_sym - S)) / nS if nS > 0 else float("nan"),
        asymmetry=float(np.linalg.norm(L - L.T)) / sym if sym > 0 else float("nan"),
        lyapunov_residual=float(np.linalg.norm(C @ S + S @ C - T * D)) / nTD if nTD > 0 else 0.0,
        T=T, k=int(C.shape[0]))
