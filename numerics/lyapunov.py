"""Stationary covariance and mean offset of SGD around a strict minimum (SC.B2.cov, SC.B2.bias), and
the on-the-fly moments of many independent SGD chains that measure them.

Conventions (``shared/THEORY.md``): ``U(θ) = (1/N) Σ_n U_n(θ)``; SGD ``θ ← θ − λ ĝ`` with ``ĝ`` the mean
gradient of a minibatch of ``B`` samples; ``T = λ/B``; ``D(θ) = Cov_n[∂U_n(θ)]`` (the per-sample gradient
covariance, 1/N normalisation); ``C = ∂²U(θ^tr)`` at the minimum ``θ^tr``. Linearised at ``θ^tr`` the
Langevin SDE of SC.eq11, ``dθ = −Cδ dt + sqrt(T D) dW``, is an Ornstein–Uhlenbeck process; its
stationary covariance solves the continuous Lyapunov equation ``CΣ + ΣC = T D``
(:func:`continuous_lyapunov_covariance`). It equals the printed leading-order form
``(T/2) C⁻¹ D`` of RND eq. 22 / SC App. B.2 (:func:`laplace_covariance`) iff ``CD = DC`` — which the
zero-curl Assumption SC.A1 implies at a minimum (``theory.laplace.leading_order_covariance``).

The discrete SGD map linearised at the minimum, ``δ ← (I − λC)δ − λξ`` with ``Cov ξ = f·D/B`` (``f = 1``
for minibatches drawn with replacement, ``(N − B)/(N − 1)`` without), has the exact stationary
covariance of the discrete Lyapunov equation ``Σ = (I − λC) Σ (I − λC) + f λ² D / B``
(:func:`discrete_lyapunov_covariance`): ``CΣ + ΣC − λCΣC = f T D``, the continuous solution plus an
``O(λ)`` discretisation correction. The two separate the time-step error from the claim's error.

Mean offset. At stationarity ``E[θ]`` does not move, and the minibatch gradient is unbiased, so
``E[∂U(θ)] = 0`` exactly (for the discrete chain and for the SDE alike). Expanding
``∂U(θ^tr + δ) = Cδ + ½ ∂³U[δ, δ] + O(δ³)`` gives the leading-order offset of the *mean*::

    θ^tr − E[θ] = ½ C⁻¹ (∂³U : Σ) + O(T²),    (∂³U : Σ)_i = Σ_jk ∂_i∂_j∂_k U · Σ_jk

(:func:`mean_offset`). The printed SC.B2.bias ``b = θ^tr − μ ≈ (T/2) C⁻¹ (∂·D)`` (RND eq. 21 with the
opposite sign, :func:`printed_bias`) is the offset of the *mode* μ of the zero-curl density
``exp(−2g/T)`` (RND App. B defines μ_k as the minimum of g̃ = ṽ + (T/2)ã); the mean and the mode of a
skewed density differ at the same order O(T). For a weakly non-Gaussian density the mode follows from
the first three cumulants: ``mode_i = mean_i − ½ Σ_jk κ3_ijk (Σ⁻¹)_jk + …`` (:func:`mode_from_moments`;
leading order in the cubic part of −log ρ).

The divergence of the gradient-covariance field (:func:`divergence_of_covariance`): with per-sample
gradients ``g_n`` and per-sample Hessians ``H_n``, ``∂_j D_ij = (1/N) Σ_n [(H_n − H̄)(g_n − ḡ)
+ (Tr H_n − Tr H̄)(g_n − ḡ)]_i`` — exact (by differentiating ``D = mean(g gᵀ) − ḡḡᵀ``), checked against
central finite differences of D(θ) in the tests.

:func:`sgd_chain_moments` runs many independent SGD chains at once (parameters stacked ``(K, p)``) and
accumulates, after burn-in, the sums of ``δ``, ``δδᵀ`` and ``δ·(δᵀWδ)`` per group of chains
(:class:`ChainMoments`) — and, with ``observe``, the sum and the sum of squares of a scalar function of θ
over the same sampled iterates (e.g. a held-out loss, for the test-loss average of SC.eq4): no trajectory is stored, and the groups (independent chains) give jackknife
sampling errors that include the autocorrelation along each chain.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

__all__ = ["LyapunovError", "SGDDivergedError", "continuous_lyapunov_covariance", "discrete_lyapunov_covariance",
           "laplace_covariance", "printed_bias", "mean_offset", "divergence_of_covariance",
           "covariance_derivative", "stationary_third_cumulant", "mode_offset", "relative_frobenius",
           "ChainMoments", "mode_from_moments", "sgd_chain_moments"]


class LyapunovError(ValueError):
    """Bad input to a stationary-covariance routine (shape, non-finite, not a minimum, unstable step);
    the message says what to pass."""


class SGDDivergedError(LyapunovError, FloatingPointError):
    """The SGD chains left every neighbourhood of the minimum (non-finite parameters): the learning rate
    is beyond the stability limit of the linearised map (λ·h_max ≥ 2), where the diffusion approximation
    broke; the message names the learning rate."""


def _numeric(M, name: str) -> np.ndarray:
    """A float array; strings, bytes and other non-numbers are refused with a TypeError (never parsed)."""
    a = np.asarray(M)
    if a.dtype.kind == "O":
        if any(not isinstance(v, (Real, np.number)) or isinstance(v, bool) for v in a.ravel()):
            raise TypeError(f"{name} must hold numbers (a NumPy array of floats); got non-numeric entries")
    elif a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers (a NumPy array of floats); got dtype {a.dtype}")
    return a.astype(float)


def _square(M, name: str, p: int | None = None) -> np.ndarray:
    a = _numeric(M, name)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or (p is not None and a.shape[0] != p):
        want = f"({p}, {p})" if p is not None else "(p, p)"
        raise LyapunovError(f"{name} must be a square {want} matrix; got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise LyapunovError(f"{name} has non-finite entries; pass a finite matrix")
    return a


def _positive(x, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, Real) or not math.isfinite(float(x)) or float(x) <= 0:
        raise LyapunovError(f"{name} must be a finite number > 0; got {x!r}")
    return float(x)


def _count(x, name: str, low: int = 1) -> int:
    if isinstance(x, bool) or not isinstance(x, Integral) or int(x) < low:
        raise LyapunovError(f"{name} must be a whole number >= {low}; got {x!r}")
    return int(x)


def _positive_definite(C: np.ndarray, name: str = "C") -> None:
    ev = np.linalg.eigvalsh(0.5 * (C + C.T))
    if ev.min() <= 0:
        raise LyapunovError(f"{name} must be positive definite (the Hessian at a strict minimum); its smallest "
                            f"eigenvalue is {ev.min():.3g}. Add ℓ2 regularisation (SC.eq13) or use a subspace "
                            f"of positive curvature")


def continuous_lyapunov_covariance(C, D, T) -> np.ndarray:
    """The stationary covariance of ``dδ = −Cδ dt + sqrt(T D) dW`` (SC.eq11 linearised at a minimum):
    the solution Σ of ``CΣ + ΣCᵀ = T D`` (SC.B2.cov in general; = ``(T/2)C⁻¹D`` iff C and D commute).

    >>> import numpy as np
    >>> C, D = np.diag([1.0, 3.0]), np.diag([2.0, 1.0])
    >>> np.allclose(continuous_lyapunov_covariance(C, D, 0.1), 0.05 * np.linalg.solve(C, D))
    True
    """
    from scipy.linalg import solve_continuous_lyapunov

    C = _square(C, "C")
    D = _square(D, "D", C.shape[0])
    T = _positive(T, "T")
    _positive_definite(C)
    S = solve_continuous_lyapunov(C, T * D)
    return 0.5 * (S + S.T)


def discrete_lyapunov_covariance(C, D, lr, batch_size, *, n_data: int | None = None) -> np.ndarray:
    """The exact stationary covariance of the linearised SGD map ``δ ← (I − λC)δ − λξ``, ``Cov ξ = f D/B``:
    the solution of ``Σ = (I − λC) Σ (I − λC)ᵀ + f λ² D / B`` (SC.B2.cov with its O(λ) time-step
    correction). ``f = 1`` (minibatches drawn with replacement, ``n_data=None``) or ``(N − B)/(N − 1)``
    (without replacement from ``n_data = N`` samples). Raises :class:`LyapunovError` when
    ``λ·h_max ≥ 2`` (the map is unstable: SGD diverges at this learning rate)."""
    from scipy.linalg import solve_discrete_lyapunov

    C = _square(C, "C")
    D = _square(D, "D", C.shape[0])
    lr = _positive(lr, "lr")
    B = _count(batch_size, "batch_size")
    _positive_definite(C)
    A = np.eye(C.shape[0]) - lr * C
    rho = float(np.max(np.abs(np.linalg.eigvals(A))))
    if rho >= 1:
        hmax = float(np.linalg.eigvalsh(0.5 * (C + C.T)).max())
        raise LyapunovError(f"lr = {lr:g}: the linearised SGD map has spectral radius {rho:.4g} ≥ 1 (λ·h_max = "
                            f"{lr * hmax:.3g} ≥ 2), so SGD diverges and has no stationary covariance; use lr < "
                            f"{2 / hmax:.4g}")
    f = 1.0
    if n_data is not None:
        N = _count(n_data, "n_data", low=2)
        if B > N:
            raise LyapunovError(f"batch_size = {B} > n_data = {N}: without replacement B ≤ N")
        f = (N - B) / (N - 1)
    S = solve_discrete_lyapunov(A, f * lr ** 2 * D / B)
    return 0.5 * (S + S.T)


def laplace_covariance(C, D, T) -> np.ndarray:
    """The printed leading-order covariance ``(T/2) C⁻¹ D`` (RND eq. 22 / SC.B2.cov), as printed: not
    symmetric when ``CD ≠ DC`` (then it is no covariance; see :func:`continuous_lyapunov_covariance`)."""
    C = _square(C, "C")
    D = _square(D, "D", C.shape[0])
    return 0.5 * _positive(T, "T") * np.linalg.solve(C, D)


def printed_bias(C, div_D, T) -> np.ndarray:
    """SC.B2.bias as printed: ``b = θ^tr − μ ≈ (T/2) C⁻¹ (∂·D)`` (SC's sign; RND eq. 21's ``b = μ − θ̃`` is
    its negative): the offset of the mode μ of the zero-curl steady state (module docstring)."""
    C = _square(C, "C")
    d = _numeric(div_D, "div_D").reshape(-1)
    if d.shape[0] != C.shape[0]:
        raise LyapunovError(f"div_D must have {C.shape[0]} entries; got {d.shape[0]}")
    return 0.5 * _positive(T, "T") * np.linalg.solve(C, d)


def mean_offset(C, third_contraction) -> np.ndarray:
    """The leading-order offset of the stationary *mean*, ``θ^tr − E[θ] = ½ C⁻¹ (∂³U : Σ)`` (from
    ``E[∂U(θ)] = 0`` at stationarity; module docstring). ``third_contraction`` is the vector
    ``(∂³U : Σ)_i = Σ_jk ∂_i∂_j∂_k U Σ_jk`` for the stationary covariance Σ."""
    C = _square(C, "C")
    t = _numeric(third_contraction, "third_contraction").reshape(-1)
    if t.shape[0] != C.shape[0]:
        raise LyapunovError(f"third_contraction must have {C.shape[0]} entries; got {t.shape[0]}")
    return 0.5 * np.linalg.solve(C, t)


def _centred_samples(per_sample_gradients, per_sample_hessians):
    """``(G, H, G − ḡ, H − H̄)``: the per-sample gradients (N, p) and Hessians (N, p, p), checked."""
    G = _numeric(per_sample_gradients, "per_sample_gradients")
    H = _numeric(per_sample_hessians, "per_sample_hessians")
    if G.ndim != 2 or H.shape != (G.shape[0], G.shape[1], G.shape[1]):
        raise LyapunovError(f"per_sample_gradients must be (N, p) and per_sample_hessians (N, p, p); got "
                            f"{G.shape} and {H.shape}")
    Gc = G - G.mean(0)
    Hc = H - H.mean(0)
    return G, H, Gc, Hc


def divergence_of_covariance(per_sample_gradients, per_sample_hessians) -> np.ndarray:
    """``(∂·D)_i = Σ_j ∂_j D_ij`` of the gradient covariance ``D(θ) = Cov_n[g_n(θ)]`` from the per-sample
    gradients ``g_n`` (N, p) and Hessians ``H_n`` (N, p, p) at θ: ``mean_n[(H_n − H̄)(g_n − ḡ)
    + (Tr H_n − Tr H̄)(g_n − ḡ)]`` (exact; a sample-independent term such as ℓ2 cancels)."""
    G, H, Gc, Hc = _centred_samples(per_sample_gradients, per_sample_hessians)
    tr = np.trace(H, axis1=1, axis2=2)
    return np.einsum("nij,nj->i", Hc, Gc) / G.shape[0] + ((tr - tr.mean())[:, None] * Gc).mean(0)


def covariance_derivative(per_sample_gradients, per_sample_hessians) -> np.ndarray:
    """``dD[a, i, j] = ∂_a D_ij`` (p, p, p) of ``D(θ) = Cov_n[g_n(θ)]``:
    ``mean_n[(H_n − H̄)_ia (g_n − ḡ)_j + (g_n − ḡ)_i (H_n − H̄)_ja]``; its trace over (a, j) is
    :func:`divergence_of_covariance`."""
    G, _, Gc, Hc = _centred_samples(per_sample_gradients, per_sample_hessians)
    X = np.einsum("nia,nj->aij", Hc, Gc) / G.shape[0]
    return X + X.transpose(0, 2, 1)


def stationary_third_cumulant(C, d3U, dD, Sigma, T) -> np.ndarray:
    """Leading-order (O(T²)) third cumulant κ3 (p, p, p) of the stationary law of SC.eq11,
    ``dθ = −∂U dt + sqrt(T D(θ)) dW``, around a strict minimum, with or without zero curl.

    From ``E[L(e_i e_j e_k)] = 0`` (L the generator, ``e = θ − E θ``), with ``∂U ≈ Cδ + ½ ∂³U[δ, δ]``,
    ``D(θ) ≈ D + ∂_a D δ_a`` and Gaussian fourth moments::

        Σ_{(ijk)} (C κ3)_ijk = −Σ_{(ijk)} ∂³U_iab Σ_aj Σ_bk + T Σ_{(ijk)} ∂_a D_ij Σ_ak

    (Σ_{(ijk)}: the three placements of the free index), solved in C's eigenbasis,
    ``κ'_ijk = R'_ijk / (c_i + c_j + c_k)``. ``d3U[i, a, b] = ∂_i∂_a∂_b U``, ``dD[a, i, j] = ∂_a D_ij``
    (:func:`covariance_derivative`), ``Sigma`` the stationary covariance."""
    C = _square(C, "C")
    p = C.shape[0]
    K = _numeric(d3U, "d3U")
    dD = _numeric(dD, "dD")
    S = _square(Sigma, "Sigma", p)
    if K.shape != (p, p, p) or dD.shape != (p, p, p):
        raise LyapunovError(f"d3U and dD must be ({p}, {p}, {p}) tensors; got {K.shape} and {dD.shape}")
    T = _positive(T, "T")
    A = -np.einsum("iab,aj,bk->ijk", K, S, S, optimize=True) + T * np.einsum("aij,ak->ijk", dD, S, optimize=True)
    R = A + A.transpose(1, 0, 2) + A.transpose(1, 2, 0)  # placements i|jk, j|ik, k|ij (A sym in its last two)
    R = (R + R.transpose(0, 2, 1) + R.transpose(1, 0, 2) + R.transpose(1, 2, 0) + R.transpose(2, 0, 1)
         + R.transpose(2, 1, 0)) / 6.0
    c, V = np.linalg.eigh(0.5 * (C + C.T))
    Rp = np.einsum("ijk,ia,jb,kc->abc", R, V, V, V, optimize=True)
    kp = Rp / (c[:, None, None] + c[None, :, None] + c[None, None, :])
    return np.einsum("abc,ia,jb,kc->ijk", kp, V, V, V, optimize=True)


def mode_offset(C, d3U, dD, Sigma, T) -> np.ndarray:
    """Leading-order offset of the stationary *mode*, ``θ^tr − mode = ½ C⁻¹(∂³U : Σ) + ½ κ3 : Σ⁻¹``
    (mean offset :func:`mean_offset` plus the skewness correction, κ3 from
    :func:`stationary_third_cumulant`). Under zero curl (CD = DC, SC.A1) it reduces to the printed
    SC.B2.bias ``(T/2) C⁻¹ ∂·D`` (checked in the tests); with curl it differs."""
    C = _square(C, "C")
    S = _square(Sigma, "Sigma", C.shape[0])
    K = np.asarray(d3U, float)
    k3 = stationary_third_cumulant(C, K, dD, S, T)
    return mean_offset(C, np.einsum("iab,ab->i", K, S)) + 0.5 * np.einsum("ijk,jk->i", k3, np.linalg.inv(S))


def relative_frobenius(measured, reference) -> float:
    """``‖measured − reference‖_F / ‖reference‖_F``."""
    a, b = _numeric(measured, "measured"), _numeric(reference, "reference")
    if a.shape != b.shape:
        raise LyapunovError(f"shapes differ: {a.shape} vs {b.shape}")
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# --------------------------------------------------------------------------------------------------
# on-the-fly moments of many chains
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChainMoments:
    """Sums over the sampled iterates of ``G`` groups of independent chains, ``δ = θ − θ_ref``:
    ``s1`` (G, p) of δ, ``s2`` (G, p, p) of δδᵀ, ``s3`` (G, p) of ``δ·(δᵀWδ)``, ``sq`` (G,) of ``δᵀWδ``,
    ``count`` (G,) of samples; ``W`` (p, p) the weight of the cubic contraction (the inverse of a
    predicted covariance; None: s3 = sq = 0); optionally ``obs_sum`` and ``obs_sq`` (G,), the sums of an
    observed scalar ``f(θ)`` and of ``f(θ)²`` over the same samples (None when nothing was observed; the
    test-loss average of SC.eq4). :meth:`estimates` turns a set of groups into the mean, covariance, mode
    (and the observable's mean and variance); :meth:`jackknife` gives their sampling errors."""

    s1: np.ndarray
    s2: np.ndarray
    s3: np.ndarray
    sq: np.ndarray
    count: np.ndarray
    W: np.ndarray | None
    obs_sum: np.ndarray | None = None
    obs_sq: np.ndarray | None = None

    @classmethod
    def from_dict(cls, d: dict) -> "ChainMoments":
        """Inverse of :meth:`to_dict` (``s2`` stored as the upper triangles ``s2_upper``, row by row);
        a dict without ``obs_sum``/``obs_sq`` (records written before ``observe`` existed) loads with None."""
        W = d.get("W")
        o1, o2 = d.get("obs_sum"), d.get("obs_sq")
        if (o1 is None) != (o2 is None):
            raise LyapunovError("obs_sum and obs_sq come together: pass both or neither")
        s1 = np.asarray(d["s1"], float)
        G, k = s1.shape
        iu = np.triu_indices(k)
        s2 = np.zeros((G, k, k))
        s2[:, iu[0], iu[1]] = np.asarray(d["s2_upper"], float)
        s2 = s2 + np.triu(s2, 1).transpose(0, 2, 1)
        return cls(s1, s2, np.asarray(d["s3"], float), np.asarray(d["sq"], float), np.asarray(d["count"], float),
                   None if W is None else np.asarray(W, float), None if o1 is None else np.asarray(o1, float),
                   None if o2 is None else np.asarray(o2, float))

    def to_dict(self) -> dict:
        """JSON form (lists); the symmetric ``s2`` as its upper triangles (half the numbers); ``obs_sum``
        and ``obs_sq`` only when an observable was accumulated (the old form otherwise)."""
        k = self.s1.shape[1]
        iu = np.triu_indices(k)
        d = {"s1": self.s1.tolist(), "s2_upper": self.s2[:, iu[0], iu[1]].tolist(), "s3": self.s3.tolist(),
             "sq": self.sq.tolist(), "count": self.count.tolist(), "W": None if self.W is None else self.W.tolist()}
        if self.obs_sum is not None:
            d["obs_sum"], d["obs_sq"] = self.obs_sum.tolist(), self.obs_sq.tolist()
        return d

    def estimates(self, keep=None) -> dict:
        """``mean`` (p,), ``cov`` (p, p) and ``mode`` (p,) of δ from the groups ``keep`` (all by default);
        the mode by :func:`mode_from_moments` (None without W); ``obs_mean`` and ``obs_var`` of the
        observable (None without one)."""
        idx = slice(None) if keep is None else np.asarray(keep)
        n = float(self.count[idx].sum())
        m = self.s1[idx].sum(0) / n
        M2 = self.s2[idx].sum(0) / n
        cov = M2 - np.outer(m, m)
        cov = 0.5 * (cov + cov.T)
        mode = None
        if self.W is not None:
            mode = mode_from_moments(m, M2, self.s3[idx].sum(0) / n, self.sq[idx].sum() / n, self.W)
        obs_mean = obs_var = None
        if self.obs_sum is not None:
            obs_mean = float(self.obs_sum[idx].sum() / n)
            obs_var = float(self.obs_sq[idx].sum() / n - obs_mean ** 2)
        return {"mean": m, "cov": cov, "mode": mode, "n": n, "obs_mean": obs_mean, "obs_var": obs_var}

    def jackknife(self, stat) -> tuple[float | np.ndarray, float | np.ndarray]:
        """``(value, standard error)`` of ``stat(estimates)`` by the delete-one-group jackknife."""
        G = self.count.shape[0]
        full = np.asarray(stat(self.estimates()), float)
        if G < 2:
            return full, full * np.nan
        loo = np.array([np.asarray(stat(self.estimates([h for h in range(G) if h != g])), float) for g in range(G)])
        se = np.sqrt((G - 1) / G * ((loo - loo.mean(0)) ** 2).sum(0))
        return full, se


def mode_from_moments(mean, second_raw, third_w, q_mean, W) -> np.ndarray:
    """The mode of a weakly non-Gaussian density from raw moments of δ: ``mode = m − ½ κ3 : Σ⁻¹`` with the
    contraction ``(κ3 : W)_i = E[e_i eᵀWe]``, ``e = δ − m``, evaluated with ``W ≈ Σ⁻¹`` (module docstring):
    ``E[e_i eᵀWe] = E[δ_i q] − 2 (M2 W m)_i − m_i E[q] + 2 m_i mᵀWm``, ``q = δᵀWδ``, ``M2 = E[δδᵀ]``.
    ``third_w = E[δ q]``, ``q_mean = E[q]``. Leading order in the cubic part of −log ρ; using a predicted
    ``W`` for Σ⁻¹ changes the result at the next order."""
    m = _numeric(mean, "mean")
    M2 = _numeric(second_raw, "second_raw")
    W = _numeric(W, "W")
    k3w = _numeric(third_w, "third_w") - 2 * M2 @ W @ m - m * float(q_mean) + 2 * m * float(m @ W @ m)
    return m - 0.5 * k3w


def sgd_chain_moments(minibatch_gradient, theta_ref, *, lr: float, batch_size: int, n_data: int, n_chains: int,
                      n_steps: int, burn_in: int, seed: int, groups: int = 16, thin: int = 1, W=None,
                      project=None, replacement: bool = True, device="cpu", dtype=None, observe=None) -> ChainMoments:
    """Run ``n_chains`` independent SGD chains at once from ``theta_ref`` and accumulate the moments of
    ``δ = θ − θ_ref`` (projected: ``δ = (θ − θ_ref) @ project`` for a (p, k) basis) over steps
    ``burn_in < t ≤ n_steps`` (every ``thin``-th), per group of ``n_chains / groups`` chains.

    ``minibatch_gradient(theta, idx)``: theta (K, p) tensor, idx (K, B) int64 sample indices → the (K, p)
    minibatch mean gradients. Minibatches: ``torch.randint`` with replacement (``replacement=True``: the
    noise covariance is exactly D/B) or a random subset without replacement per chain and step. Seeded by
    ``seed`` (one ``torch.Generator``). Raises :class:`SGDDivergedError` when the chains blow up.

    ``observe(theta)``: optional, theta (K, p) tensor (the full parameters, not projected) → (K,) values of a
    scalar ``f(θ)``, summed with their squares per group over the same sampled iterates as the moments
    (``ChainMoments.obs_sum`` / ``obs_sq``; SC.eq4's ``E_ρ[U^test]`` with f a held-out loss). It does not
    touch the random stream: the chains are the same with and without it."""
    import torch

    from numerics.devices import cpu_threads

    lr = _positive(lr, "lr")
    B = _count(batch_size, "batch_size")
    N = _count(n_data, "n_data")
    K = _count(n_chains, "n_chains")
    G = _count(groups, "groups")
    if K % G:
        raise LyapunovError(f"n_chains = {K} must be a multiple of groups = {G}")
    n_steps, burn_in, thin = _count(n_steps, "n_steps"), _count(burn_in, "burn_in", low=0), _count(thin, "thin")
    if burn_in >= n_steps:
        raise LyapunovError(f"burn_in = {burn_in} must be < n_steps = {n_steps}")
    if not replacement and B > N:
        raise LyapunovError(f"batch_size = {B} > n_data = {N}: without replacement B ≤ N")
    dev = torch.device(device)
    dtype = dtype or torch.float64
    ref = torch.as_tensor(np.asarray(theta_ref, float), dtype=dtype, device=dev).reshape(-1)
    p = ref.shape[0]
    P = None if project is None else torch.as_tensor(np.asarray(project, float), dtype=dtype, device=dev)
    k = p if P is None else P.shape[1]
    Wt = None if W is None else torch.as_tensor(_square(W, "W", k), dtype=dtype, device=dev)
    gen = torch.Generator(device=dev)
    gen.manual_seed(int(seed))
    if observe is not None and not callable(observe):
        raise LyapunovError(f"observe must be a callable theta (K, p) -> (K,) values (or None); got {type(observe).__name__}")
    with cpu_threads(dev):
        return _run_chains(minibatch_gradient, ref, P, Wt, W, lr=lr, B=B, N=N, K=K, G=G, k=k, n_steps=n_steps,
                           burn_in=burn_in, thin=thin, gen=gen, replacement=replacement, dev=dev, dtype=dtype,
                           observe=observe)


def _run_chains(minibatch_gradient, ref, P, Wt, W, *, lr, B, N, K, G, k, n_steps, burn_in, thin, gen, replacement,
                dev, dtype, observe=None) -> ChainMoments:
    import torch

    p = ref.shape[0]
    theta = ref.expand(K, p).clone()
    s1 = torch.zeros((G, k), dtype=dtype, device=dev)
    s2 = torch.zeros((G, k, k), dtype=dtype, device=dev)
    s3 = torch.zeros((G, k), dtype=dtype, device=dev)
    sq = torch.zeros((G,), dtype=dtype, device=dev)
    count = torch.zeros((G,), dtype=dtype, device=dev)
    o1 = torch.zeros((G,), dtype=dtype, device=dev) if observe is not None else None
    o2 = torch.zeros((G,), dtype=dtype, device=dev) if observe is not None else None
    for t in range(1, n_steps + 1):
        if replacement:
            idx = torch.randint(N, (K, B), generator=gen, device=dev)
        else:
            idx = torch.rand((K, N), generator=gen, device=dev, dtype=dtype).argsort(dim=1)[:, :B]
        theta = theta - lr * minibatch_gradient(theta, idx)
        if t > burn_in and (t - burn_in) % thin == 0:
            d = theta - ref
            if P is not None:
                d = d @ P
            dg = d.reshape(G, K // G, k)
            s1 += dg.sum(1)
            s2 += torch.bmm(dg.transpose(1, 2), dg)
            if Wt is not None:
                q = ((dg @ Wt) * dg).sum(-1)
                s3 += (dg * q.unsqueeze(-1)).sum(1)
                sq += q.sum(1)
            if observe is not None:
                with torch.no_grad():
                    v = torch.as_tensor(observe(theta), device=dev)
                if tuple(v.shape) != (K,):
                    raise LyapunovError(f"observe must return one value per chain, shape ({K},); got {tuple(v.shape)}")
                vg = v.to(dtype).reshape(G, K // G)
                o1 += vg.sum(1)
                o2 += (vg * vg).sum(1)
            count += K // G
        if t % 200 == 0 or t == n_steps:
            if not bool(torch.isfinite(theta).all()):
                raise SGDDivergedError(f"SGD chains diverged (non-finite parameters by step {t}) at lr = {lr:g}, "
                                       f"B = {B}: the learning rate is beyond the stability limit of the minimum; "
                                       "the diffusion approximation broke — lower lr")
    cpu = lambda x: x.detach().to("cpu", torch.float64).numpy()  # noqa: E731
    s1, s2, s3, sq, count = (cpu(x) for x in (s1, s2, s3, sq, count))
    if observe is not None:
        o1, o2 = cpu(o1), cpu(o2)
    return ChainMoments(s1, s2, s3, sq, count, None if W is None else _square(W, "W", k), o1, o2)
