"""The zero-curl diagnostic (SC.A1) measured on a real network.

SC.eq5 writes the SGD steady state as ``ρ ∝ exp(−2v/T)`` with ``∂v = V``,
``V = D⁻¹(∂U + (T/2)∂·D)``; this needs ``V`` to be a gradient, ``∂_j V_i = ∂_i V_j`` (SC.A1). If it
is not, no J = 0 steady state exists and the stationary law carries a probability current
(SC.B1.counter). Two measurements of how far a network is from that assumption:

* **At a minimum** (``∂U = 0``) to leading order in T the Jacobian of V is ``D⁻¹H``, and ``D⁻¹H`` is
  symmetric iff ``[D, H] = DH − HD = 0`` (D, H symmetric, D invertible: ``D⁻¹H = H D⁻¹`` ⇔
  ``HD = DH``). :func:`minimum_curl` reports the scale-free commutator
  ``c = ‖Bᵀ[D, H]B‖_F / (‖D B‖_F ‖H B‖_F)`` (B = I: ``‖[D, H]‖_F / (‖D‖_F ‖H‖_F)``) in the
  top-k Hessian subspace (there ``Bᵀ[D, H]B = [D_k, H_k]``, ``D_k = BᵀDB``) and in random
  k-subspaces (c = 0 in every subspace when D and H commute; the commutator *of the
  projections* ``[D_k, H_k]``, also reported, is not), with a bootstrap over the samples (D is re-estimated from resampled per-sample gradients; H, the full-batch
  Hessian of the training loss, is held fixed) and, for random subspaces, the spread over
  subspaces. The ``T∂·D`` term and ``∂(D⁻¹)∂U`` are omitted there (they vanish at T → 0 and at
  ``∂U = 0``); the gradient norm at θ is reported so a reader can judge ``∂U ≈ 0``.
* **Anywhere**: :func:`drift_jacobian` differentiates the tangential field ``z ↦ Bᵀ V(θ₀ + B z)``
  (V from D(θ), ∂U(θ) and ∂·D(θ) of the per-sample gradients, all by ``torch.func``; small nets)
  and reports the antisymmetric part ``A = (J − Jᵀ)/2`` of its Jacobian relative to J — the curl
  of V restricted to the slice. ``include_divergence=False`` drops the ∂·D term (stated in the
  result).

A sampled D has noise that does not commute with H even when the population D does, so a raw c is
biased upward; :class:`CurlEstimate` carries that noise floor ``c_noise`` (the bootstrap size of
``‖Bᵀ[D* − D, H]B‖``) and the flag ``consistent_with_zero`` (``c ≤ c_noise + 2 stderr``).

:class:`QuadraticModel` is the calibration model with a known answer: per-sample losses
``U_i(θ) = ½ (θ − c_i)ᵀ H (θ − c_i)`` give ``∂U = H(θ − c̄)``, the Hessian H and
``D = H Σ_c H`` (Σ_c the sample covariance of the centres) at every θ.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from numerics.gradient_noise import per_sample_gradients
from numerics.gradstats import (GradStatsError, HessianOperator, _check_basis, _check_data, _check_model,
                                _flat, _positive_int, _to_device, _trainable, _unflatten, random_subspace,
                                top_hessian_eigenpairs)

__all__ = [
    "CurlError",
    "commutator_ratio",
    "CurlEstimate",
    "commutator_in_subspace",
    "projected_commutator",
    "DRIFT_JACOBIAN_MAX_BYTES",
    "MinimumCurl",
    "minimum_curl",
    "DriftJacobian",
    "drift_jacobian",
    "QuadraticModel",
    "quadratic_loss",
]


class CurlError(GradStatsError):
    """Bad input to a curl diagnostic; the message says what to change."""


# --------------------------------------------------------------------------------------------
# the commutator statistic
# --------------------------------------------------------------------------------------------
def _as64(M) -> torch.Tensor:
    if isinstance(M, np.ndarray):
        M = np.ascontiguousarray(M)
    return torch.as_tensor(M).detach().to("cpu", torch.float64)


def commutator_ratio(D, H) -> float:
    """``‖DH − HD‖_F / (‖D‖_F ‖H‖_F)`` for two symmetric (k, k) matrices (SC.A1 at a minimum).

    0 iff D and H commute (then D⁻¹H is symmetric); at most √2. Raises :class:`CurlError` for
    non-square or mismatched shapes, or a zero matrix (the ratio is undefined).
    """
    D, H = _as64(D), _as64(H)
    if D.ndim != 2 or D.shape[0] != D.shape[1] or D.shape != H.shape:
        raise CurlError(f"D and H must be square matrices of the same shape; got {tuple(D.shape)} and {tuple(H.shape)}")
    nD, nH = torch.linalg.matrix_norm(D), torch.linalg.matrix_norm(H)
    if nD == 0 or nH == 0:
        raise CurlError("D or H is the zero matrix in this subspace: the normalised commutator is undefined; "
                        "use another subspace (or a point where the gradients vary across samples)")
    return float(torch.linalg.matrix_norm(D @ H - H @ D) / (nD * nH))


@dataclass(frozen=True)
class CurlEstimate:
    """The normalised commutator ``c = ‖Bᵀ[D, H]B‖_F/(‖D B‖_F‖H B‖_F)`` in a k-subspace (SC.A1).

    ``value``: c from all samples (the mean over subspaces for ``subspace="random"``);
    ``value_projected``: the commutator of the projections ``‖[D_k, H_k]‖_F/(‖D_k‖_F‖H_k‖_F)``
    (D_k = BᵀDB, H_k = BᵀHB; same zero as c in the top-k Hessian subspace, not in random ones);
    ``stderr``: its standard error (bootstrap over samples; for random subspaces combined in
    quadrature with the spread over subspaces / √n); ``noise_floor``: the size of c that sampling
    noise in D alone produces, ``‖Bᵀ[D* − D, H]B‖`` (rms over bootstrap replicates) / (‖D B‖‖H B‖);
    ``debiased``: ``sqrt(max(value² − noise_floor², 0))``; ``consistent_with_zero``:
    ``value ≤ noise_floor + 2 stderr``; ``bootstrap``: the replicate values; ``per_subspace``: c of
    each random subspace (None otherwise); ``k``, ``subspace`` (``"hessian"``, ``"random"``,
    ``"given"``), ``n_samples``.
    """

    value: float
    value_projected: float
    stderr: float
    noise_floor: float
    debiased: float
    consistent_with_zero: bool
    bootstrap: np.ndarray
    per_subspace: np.ndarray | None
    k: int
    subspace: str
    n_samples: int


def _estimate(values, projected, boot, floors, per_subspace, k, subspace, N) -> CurlEstimate:
    value = float(values)
    se = float(np.std(boot, ddof=1)) if len(boot) > 1 else 0.0
    if per_subspace is not None and len(per_subspace) > 1:
        se = math.hypot(se, float(np.std(per_subspace, ddof=1)) / math.sqrt(len(per_subspace)))
    floor = float(floors)
    return CurlEstimate(value=value, value_projected=float(projected), stderr=se, noise_floor=floor,
                        debiased=math.sqrt(max(value * value - floor * floor, 0.0)),
                        consistent_with_zero=bool(value <= floor + 2 * se), bootstrap=np.asarray(boot),
                        per_subspace=None if per_subspace is None else np.asarray(per_subspace), k=k,
                        subspace=subspace, n_samples=N)


def _subspace_stats(G: torch.Tensor, B: torch.Tensor, HB: torch.Tensor, weights: torch.Tensor):
    """``(c, c_proj, bootstrap c's, noise floor)`` from per-sample gradients G (N, p), a basis B and
    ``H B`` (p, k), with bootstrap multiplicities ``weights`` (n_boot, N).

    ``M = Bᵀ D H B = cov(G B, G H B)``, ``Bᵀ[D, H]B = M − Mᵀ``, ``D B = cov(G, G B)`` and
    ``c = ‖M − Mᵀ‖_F / (‖D B‖_F ‖H B‖_F)``; ``c_proj = ‖[D_k, H_k]‖_F / (‖D_k‖_F ‖H_k‖_F)``. A
    replicate with multiplicities w has ``D* = Σ_n (w_n/N)(g_n − ḡ*)(g_n − ḡ*)ᵀ``.
    """
    N = G.shape[0]
    P, Q = G @ B, G @ HB
    Hk = B.T @ HB
    Hk = 0.5 * (Hk + Hk.T)
    nHB, nHk = torch.linalg.matrix_norm(HB), torch.linalg.matrix_norm(Hk)

    def parts(w):  # w: (b, N) multiplicities; batched matmuls, never a (b, N, p) intermediate
        wn = w / N
        mP, mQ, mG = wn @ P, wn @ Q, wn @ G
        WP = wn[:, :, None] * P  # (b, N, k)
        M = WP.transpose(-1, -2) @ Q - mP[:, :, None] * mQ[:, None, :]
        Dk = WP.transpose(-1, -2) @ P - mP[:, :, None] * mP[:, None, :]
        DB = G.T @ WP - mG[:, :, None] * mP[:, None, :]  # (b, p, k)
        return M - M.transpose(-1, -2), Dk, torch.linalg.matrix_norm(DB)

    weights = weights.to(G.device, G.dtype)
    C, Dk, nDB = parts(torch.ones(1, N, dtype=G.dtype, device=G.device))
    nDk = torch.linalg.matrix_norm(Dk)
    if float(nDB[0]) == 0 or float(nHB) == 0 or float(nDk[0]) == 0 or float(nHk) == 0:
        raise CurlError("D or H vanishes in this subspace: the normalised commutator is undefined; use another "
                        "subspace (or a point where the gradients vary across samples)")
    c = torch.linalg.matrix_norm(C[0]) / (nDB[0] * nHB)
    c_proj = torch.linalg.matrix_norm(Dk[0] @ Hk - Hk @ Dk[0]) / (nDk[0] * nHk)
    cb, floor2 = [], []
    for s in range(0, weights.shape[0], 64):
        Cb, _, nDBb = parts(weights[s:s + 64])
        cb.append(torch.linalg.matrix_norm(Cb) / (nDBb * nHB))
        floor2.append(torch.linalg.matrix_norm(Cb - C) ** 2)
    floor = torch.sqrt(torch.cat(floor2).mean()) / (nDB[0] * nHB)
    return float(c), float(c_proj), torch.cat(cb).to("cpu", torch.float64).numpy(), float(floor)


def _weights(N: int, n_bootstrap: int, generator) -> torch.Tensor:
    idx = torch.randint(0, N, (n_bootstrap, N), generator=generator)
    return torch.zeros(n_bootstrap, N, dtype=torch.float64).scatter_add_(1, idx, torch.ones(n_bootstrap, N,
                                                                                             dtype=torch.float64))


def commutator_in_subspace(gradients, basis, hessian_basis, *, n_bootstrap: int = 200,
                           generator: torch.Generator | None = None, subspace: str = "given") -> CurlEstimate:
    """:class:`CurlEstimate` of ``c = ‖Bᵀ[D, H]B‖_F / (‖D B‖_F ‖H B‖_F)`` in the span of B (SC.A1).

    ``gradients``: per-sample gradients G (N, p); ``basis``: B (p, k) orthonormal; ``hessian_basis``:
    ``H B`` (p, k) (k HVPs). ``Bᵀ D H B`` is the covariance of ``G B`` with ``G H B``, so c is exactly 0
    in *every* subspace when D and H commute — unlike the commutator of the projections
    ``[D_k, H_k]`` (reported as ``value_projected``), which is not 0 unless B spans an invariant
    subspace of H (as the top-k Hessian eigenvectors do). With B = I (k = p) c is
    ``‖[D, H]‖_F / (‖D‖_F ‖H‖_F)`` (≤ √2); in general 0 ≤ c ≤ 2. D is bootstrapped over the N rows
    ``n_bootstrap`` times.
    """
    G, B, HB = _as64(gradients), _as64(basis), _as64(hessian_basis)
    if G.ndim != 2 or B.ndim != 2 or B.shape[0] != G.shape[1] or HB.shape != B.shape:
        raise CurlError(f"gradients must be (N, p), basis and hessian_basis (p, k); got {tuple(G.shape)}, "
                        f"{tuple(B.shape)} and {tuple(HB.shape)}")
    B = _check_basis(B, G.shape[1], torch.float64, "cpu")
    n_bootstrap = _positive_int(n_bootstrap, "n_bootstrap", low=2)
    w = _weights(G.shape[0], n_bootstrap, generator)
    c, cp, cb, floor = _subspace_stats(G, B, HB, w)
    return _estimate(c, cp, cb, floor, None, B.shape[1], subspace, G.shape[0])


def projected_commutator(D, H, basis) -> float:
    """Closed form of the statistic of :func:`commutator_in_subspace` for known D, H (p, p) and B."""
    D, H, B = _as64(D), _as64(H), _as64(basis)
    C = B.T @ (D @ H - H @ D) @ B
    return float(torch.linalg.matrix_norm(C) / (torch.linalg.matrix_norm(D @ B) * torch.linalg.matrix_norm(H @ B)))


@dataclass(frozen=True)
class MinimumCurl:
    """SC.A1 at a (near-)minimum: :class:`CurlEstimate` in the top-k Hessian subspace (``top``) and
    averaged over ``n_random`` random k-subspaces (``random``); ``eigenvalues`` / ``residuals``: the
    top-k Hessian eigenpairs' values and Lanczos residual norms; ``gradient_norm``: ‖∂U‖ at θ and
    ``gradient_norm_ratio``: ‖∂U‖ / rms ‖g_i − ḡ‖ (≪ 1 near a minimum, where the reduction to D⁻¹H
    holds); ``p``, ``k``, ``n_samples``."""

    top: CurlEstimate
    random: CurlEstimate
    eigenvalues: np.ndarray
    residuals: np.ndarray
    gradient_norm: float
    gradient_norm_ratio: float
    p: int
    k: int
    n_samples: int


def minimum_curl(model, loss_fn, X, y, *, k: int = 8, n_random: int = 8, n_bootstrap: int = 200,
                 seed: int = 0, device=None) -> MinimumCurl:
    """The zero-curl diagnostic of SC.A1 at the model's parameters, read as a minimum (SC.A1, SC.eq5).

    Per-sample gradients G (N, p) once (:func:`numerics.gradient_noise.per_sample_gradients`); the
    top-k Hessian eigenvectors by Lanczos (:func:`numerics.gradstats.top_hessian_eigenpairs`) and
    ``n_random`` random orthonormal k-subspaces, each with ``H B`` from k HVPs; the statistic of
    :func:`commutator_in_subspace`. Bootstrap replicates (``n_bootstrap``) resample the N samples with
    the same indices for every subspace. ``seed`` fixes subspaces, bootstrap and the Lanczos start.
    Memory: the (N, p) matrix G.
    """
    _check_model(model)
    _check_data(X, y)
    k = _positive_int(k, "k")
    n_random = _positive_int(n_random, "n_random")
    n_bootstrap = _positive_int(n_bootstrap, "n_bootstrap", low=2)
    dev, X, y = _to_device(model, X, y, device)
    op = HessianOperator(model, loss_fn, X, y)
    if k >= op.p:
        raise CurlError(f"k = {k} must be < p = {op.p} (Lanczos); for the full space use commutator_ratio "
                        f"on exact_hessian and gradient_covariance")
    gen = torch.Generator().manual_seed(seed)
    G = per_sample_gradients(model, loss_fn, X, y).to(op.dtype)
    N = G.shape[0]
    w = _weights(N, n_bootstrap, gen)
    g = G.mean(0)
    spread = float(torch.sqrt(((G - g) ** 2).sum(1).mean()))

    def stats(B):  # on the model's device, in its dtype
        return _subspace_stats(G, B, op.matvec(B), w)

    eig = top_hessian_eigenpairs(op, k, seed=seed)
    top = _estimate(*stats(torch.from_numpy(np.ascontiguousarray(eig.vectors)).to(dev, op.dtype)), None, k,
                    "hessian", N)
    cs, cps, cbs, floors = [], [], [], []
    for _ in range(n_random):
        c, cp, cb, fl = stats(random_subspace(op.p, k, generator=gen, dtype=op.dtype, device=dev))
        cs.append(c)
        cps.append(cp)
        cbs.append(cb)
        floors.append(fl)
    rnd = _estimate(float(np.mean(cs)), float(np.mean(cps)), np.mean(cbs, axis=0),
                    float(np.sqrt(np.mean(np.square(floors)))), np.asarray(cs), k, "random", N)
    gn = float(torch.linalg.vector_norm(g))
    return MinimumCurl(top=top, random=rnd, eigenvalues=eig.values, residuals=eig.residuals, gradient_norm=gn,
                       gradient_norm_ratio=gn / spread if spread > 0 else float("inf"), p=op.p, k=k, n_samples=N)


# --------------------------------------------------------------------------------------------
# the Jacobian of V away from minima
# --------------------------------------------------------------------------------------------
#: largest forward-mode tangent buffer (N · p² · k numbers, bytes) :func:`drift_jacobian` builds
#: with the ∂·D term
DRIFT_JACOBIAN_MAX_BYTES = 2**31


@dataclass(frozen=True)
class DriftJacobian:
    """``J = Bᵀ (∂V) B`` at θ₀ for ``V = (D + εI)⁻¹(∂U + (T/2)∂·D)`` (SC.eq5's field, SC.A1).

    ``jacobian`` (k, k): the Jacobian of the tangential field ``z ↦ Bᵀ V(θ₀ + B z)`` at 0 — its
    antisymmetric part is the curl of V restricted to the slice; ``V`` (k,): ``Bᵀ V(θ₀)``;
    ``antisymmetry``: ``‖(J − Jᵀ)/2‖_F / ‖J‖_F`` (0 iff curl-free in the slice); ``curl_norm``:
    ``‖(J − Jᵀ)/2‖_F``; ``divergence_norm``: ‖∂·D‖ at θ₀ (0.0 when not included); ``T``,
    ``include_divergence``, ``ridge`` (ε).
    """

    jacobian: np.ndarray
    V: np.ndarray
    antisymmetry: float
    curl_norm: float
    divergence_norm: float
    T: float
    include_divergence: bool
    ridge: float


def drift_jacobian(model, loss_fn, X, y, basis, *, T: float, include_divergence: bool = True,
                   ridge: float = 0.0, device=None) -> DriftJacobian:
    """Curl of the SC.eq5 field ``V = D⁻¹(∂U + (T/2)∂·D)`` in the span of ``basis``, by autodiff (SC.A1).

    D(θ) and ∂U(θ) are computed from per-sample gradients (``vmap(grad)``, differentiable in θ);
    ``(∂·D)_i = Σ_j ∂_j D_ij`` by ``jacfwd`` over all p directions; J by ``jacfwd`` of
    ``z ↦ Bᵀ V(θ₀ + B z)``: about k·p forward passes over N per-sample gradients, for small nets
    (:data:`DRIFT_JACOBIAN_MAX_BYTES`; ``include_divergence=False`` drops the ∂·D term — the
    T → 0 field ``D⁻¹∂U`` — and costs k passes). D must be invertible (p < N and full rank), or pass
    ``ridge`` ε > 0 to use ``D + εI`` (then say so). ``T`` > 0.

    Cross-entropy makes D singular for every θ along constant directions (adding a constant to all
    logits through the last layer's bias, or ``1 aᵀ`` to its weights, changes no loss): the
    per-sample gradients, ∂U, ∂·D and ∂D are orthogonal to that constant null space, so V and its
    Jacobian stay in the range of D, and a tiny ridge (e.g. ``1e-9 · λ_max(D)``) changes them only
    by a relative ε/λ on that range.
    """
    from torch.func import functional_call, grad, jacfwd, vmap

    _check_model(model)
    _check_data(X, y)
    if isinstance(T, (str, bytes, bool)) or isinstance(ridge, (str, bytes, bool)):
        raise CurlError(f"T must be a positive number and ridge a number ≥ 0 (not text); got {T!r}, {ridge!r}")
    try:
        T, ridge = float(T), float(ridge)
    except (TypeError, ValueError) as exc:
        raise CurlError(f"T and ridge must be numbers; got {T!r}, {ridge!r}") from exc
    if not (math.isfinite(T) and T > 0):
        raise CurlError(f"T must be a positive finite temperature; got {T}")
    if not (math.isfinite(ridge) and ridge >= 0):
        raise CurlError(f"ridge must be a finite number ≥ 0; got {ridge}")
    dev, X, y = _to_device(model, X, y, device)
    params = _trainable(model)
    theta0 = _flat(params)
    p = theta0.numel()
    B = _check_basis(basis, p, theta0.dtype, dev)
    k, N = B.shape[1], X.shape[0]
    need = N * p * p * k * theta0.element_size()
    if include_divergence and need > DRIFT_JACOBIAN_MAX_BYTES:
        raise CurlError(f"the ∂·D term needs ~{need / 2**30:.1f} GiB of forward-mode tangents (N={N}, p={p}, "
                        f"k={k}); use fewer samples, a smaller k or model, or include_divergence=False "
                        f"(the T → 0 field D⁻¹∂U)")
    eye = torch.eye(p, dtype=theta0.dtype, device=dev)

    def sample_loss(th, xi, yi):
        return loss_fn(functional_call(model, _unflatten(th, params), (xi.unsqueeze(0),)), yi.unsqueeze(0))

    def moments(th):
        G = vmap(grad(sample_loss), in_dims=(None, 0, 0))(th, X, y)  # (N, p)
        g = G.mean(0)
        Gc = G - g
        return Gc.T @ Gc / N, g

    def div(th):
        dD = jacfwd(lambda t: moments(t)[0])(th)  # dD[i, j, l] = ∂_l D_ij
        return torch.einsum("ijj->i", dD)

    def field(th):
        D, g = moments(th)
        b = g + 0.5 * T * div(th) if include_divergence else g
        return torch.linalg.solve(D + ridge * eye, b)

    D0 = moments(theta0)[0].detach() + ridge * eye
    ev = torch.linalg.eigvalsh(D0)
    if not bool(torch.isfinite(ev).all()) or float(ev.min()) <= 1e-12 * max(float(ev.max()), 1e-300):
        raise CurlError(f"D is singular or non-finite at θ (smallest/largest eigenvalue {float(ev.min()):.3g}/"
                        f"{float(ev.max()):.3g}; N = {N}, p = {p}): V = D⁻¹(…) is undefined. Use more samples "
                        f"than parameters, or pass ridge > 0 (D + ridge·I)")
    V = (B.T @ field(theta0)).detach()
    J = jacfwd(lambda z: B.T @ field(theta0 + B @ z))(torch.zeros(k, dtype=theta0.dtype, device=dev))
    J = J.detach().to("cpu", torch.float64)
    dn = float(torch.linalg.vector_norm(div(theta0).detach())) if include_divergence else 0.0
    A = 0.5 * (J - J.T)
    nJ = float(torch.linalg.matrix_norm(J))
    return DriftJacobian(jacobian=J.numpy(), V=V.to("cpu", torch.float64).numpy(),
                         antisymmetry=float(torch.linalg.matrix_norm(A)) / nJ if nJ > 0 else 0.0,
                         curl_norm=float(torch.linalg.matrix_norm(A)), divergence_norm=dn, T=T,
                         include_divergence=include_divergence, ridge=ridge)


# --------------------------------------------------------------------------------------------
# calibration model
# --------------------------------------------------------------------------------------------
class QuadraticModel(torch.nn.Module):
    """Per-sample quadratic losses with known H and D (calibration of SC.A1 diagnostics).

    ``forward(c)`` returns ``(θ − c) L`` for a batch of centres c (N, p), with ``H = L Lᵀ``;
    :func:`quadratic_loss` then gives ``U_i = ½ ‖(θ − c_i) L‖² = ½ (θ − c_i)ᵀ H (θ − c_i)``, so
    ``Hess U = H``, ``∂U = H(θ − c̄)`` and ``D = H Σ_c H`` with Σ_c the (1/N) covariance of the centres.
    """

    def __init__(self, H, theta=None):
        super().__init__()
        H = _as64(H)
        if H.ndim != 2 or H.shape[0] != H.shape[1]:
            raise CurlError(f"H must be a square matrix; got shape {tuple(H.shape)}")
        H = 0.5 * (H + H.T)
        try:
            L = torch.linalg.cholesky(H)
        except RuntimeError as exc:
            raise CurlError("H must be symmetric positive definite (a quadratic minimum)") from exc
        self.register_buffer("L", L)
        p = H.shape[0]
        self.theta = torch.nn.Parameter(torch.zeros(p, dtype=torch.float64) if theta is None else _as64(theta).clone())

    def forward(self, c):
        return (self.theta - c) @ self.L


def quadratic_loss(out, target=None):
    """Mean over the batch of ``½ ‖out_i‖²`` (the loss of :class:`QuadraticModel`; ``target`` unused)."""
    return 0.5 * (out**2).sum(-1).mean()
