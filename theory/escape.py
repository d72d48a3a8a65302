"""Escape times from loss valleys and minima selection (DT paper, Sec. 3 and App. A).

Conventions
-----------
Two ways of writing the same Langevin dynamics appear in the project:

* **DT** (DT eq. 2): ``dθ = −∂L dt + sqrt(2 D_DT(θ)) dW`` with time ``t = η × iterations``.
  SGLD has a constant isotropic ``D_DT``; for SGD, DT.eq7 gives ``D_DT = η C / 2 ≈ η H / (2B)``.
  DT's stationary density near a minimum is ``exp(−(L − L(a)) / D_DT)`` (temperature = D_DT).
* **SC** (SC.eq10–11): ``dθ = −∂U dt' + sqrt(T D_SC) dW`` with ``t' = λ × iterations``,
  ``T = λ/B`` and ``D_SC`` the per-sample gradient covariance; stationary density
  ``exp(−2U / (T D_SC))`` for constant ``D_SC``.

Matching the noise terms gives the mapping (:func:`dt_diffusion_from_sc`)::

    2 D_DT = T D_SC      i.e.   D_DT = T D_SC / 2        (same time unit, t = t').

With ``D_SC = H`` (Fisher = Hessian) this is ``D_DT = λ H / (2B)``, which is DT.eq7.

Escape times here are *mean* times in the continuous-time unit (η × iterations). The Kramers
time counts a full crossing of the saddle (flux over population); the exact mean first-passage
time (:func:`numerics.first_passage.mean_first_passage_time_1d`) to a point well beyond the
saddle tends to it as the noise goes to zero, while the mean first-passage time *to the saddle
itself* is about half of it (a particle at the saddle top recrosses back with probability 1/2).

Every function here is symbolic: it takes numbers or SymPy expressions and returns an expression.
The float-in/float-out quadratures (exact mean first-passage and exit times, the Laplace escape
time with state-dependent D, the path exponent and DT's path parameter ``s``) are in
:mod:`numerics.first_passage`. The functions with a symbolic eigen-decomposition
(:func:`positive_part`, :func:`hessian_noise_covariance`, :func:`kramers_escape_time`) take
``budget_s`` (:mod:`theory.budget`).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import sympy as sp

from .budget import DEFAULT_BUDGET_S, Deadline
from .coordinates import as_expr

__all__ = [
    "EscapeInputError",
    "dt_diffusion_from_sc",
    "hessian_noise_covariance",
    "HessianNoise",
    "positive_part",
    "kramers_escape_time",
    "sgd_escape_time_printed",
    "escape_rate_parallel",
    "valley_probabilities",
]


class EscapeInputError(ValueError):
    """An argument of an escape-time function is out of its domain (the message says the fix)."""


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------
def _sym(x, name: str) -> sp.Expr:
    return as_expr(x, name=name)  # refuses strings (never evaluated) with a TypeError naming x


def _numeric_sign_check(x: sp.Expr, name: str, *, positive=True, allow_zero=False):
    """Raise EscapeInputError when ``x`` is a number of the wrong sign (symbolic: no check)."""
    if x.is_number:
        v = complex(sp.N(x))
        if abs(v.imag) > 1e-12 * max(1.0, abs(v.real)):
            raise EscapeInputError(f"{name} must be real; got {x}")
        bad = (v.real < 0 or (v.real == 0 and not allow_zero)) if positive else \
              (v.real > 0 or (v.real == 0 and not allow_zero))
        if bad:
            want = ("positive" if positive else "negative") + (" or zero" if allow_zero else "")
            raise EscapeInputError(f"{name} must be {want}; got {x}")


def dt_diffusion_from_sc(D_sc, T) -> sp.Expr:
    """DT's diffusion coefficient from SC's: ``D_DT = T · D_SC / 2``.

    DT eq. 2 writes the noise as ``sqrt(2 D_DT) dW``, SC.eq11 as ``sqrt(T D_SC) dW``; equating
    ``2 D_DT = T D_SC``. Works for scalars and matrices. ``T`` must be positive.
    """
    T = _sym(T, "T")
    _numeric_sign_check(T, "T")
    if isinstance(D_sc, sp.MatrixBase):
        return sp.Matrix(D_sc) * T / 2
    return _sym(D_sc, "D_sc") * T / 2


# --------------------------------------------------------------------------------------------
# DT.eq7: Hessian-shaped SGD noise
# --------------------------------------------------------------------------------------------
class HessianNoise(NamedTuple):
    """Result of :func:`hessian_noise_covariance`: ``covariance = C``, ``diffusion = D_DT``."""

    covariance: object
    diffusion: object


def positive_part(H, *, budget_s=DEFAULT_BUDGET_S):
    """DT's ``[H]_+``: the symmetric matrix with the eigenvalues of ``H`` replaced by their
    absolute values (``U diag(|h_i|) Uᵀ``). Scalars: ``|H|``. Matrices must be numeric.

    ``budget_s`` (seconds, default 20, None = no limit; :mod:`theory.budget`) bounds the exact
    eigen-decomposition, which has no fallback (:class:`theory.budget.SymbolicTimeoutError`: pass
    a Float matrix for a numeric one), and the final simplify, which falls back to the equal
    unsimplified product ``U diag(|h_i|) Uᵀ``.
    """
    if isinstance(H, sp.MatrixBase):
        M = sp.Matrix(H)
        if M.shape[0] != M.shape[1]:
            raise EscapeInputError(f"H must be square; got shape {M.shape}")
        if not all(e.is_number for e in M):
            raise EscapeInputError("positive_part needs a numeric matrix (eigenvectors of a "
                                   "symbolic matrix are not tractable); substitute numbers first")
        if (M - M.T).norm() != 0:
            raise EscapeInputError("positive_part needs a symmetric matrix")
        deadline = Deadline(budget_s)
        P, Dg = deadline.run(M.diagonalize, normalize=True,
                             step="the exact eigen-decomposition of H (substitute Floats for a "
                                  "numeric one)")
        prod = P * sp.diag(*[sp.Abs(Dg[i, i]) for i in range(M.shape[0])]) * P.T
        return deadline.attempt(sp.simplify, prod, step="simplify", fallback=prod)[0]
    h = _sym(H, "H")
    return sp.Abs(h) if h.is_number else h


def hessian_noise_covariance(H, B, lr, *, use_positive_part: bool = False,
                             budget_s=DEFAULT_BUDGET_S) -> HessianNoise:
    """DT.eq7: near a minimum the SGD gradient-noise covariance is ``C ≈ H / B`` and DT's
    diffusion coefficient is ``D_DT = η C / 2 ≈ η H / (2B)``.

    The "≈" rests on two facts (DT eq. 5–6): near a critical point the mean gradient is small
    compared with its per-sample spread, so ``Cov[∂ℓ] ≈ E[∂ℓ ∂ℓᵀ]``; and for a log-likelihood
    loss of a well-specified model at the true parameter the per-sample gradient second moment
    (Fisher information) equals the expected Hessian. Away from the true parameter, or for a
    misspecified model, ``C ≠ H/B`` (see the ledger check of DT.eq7).

    In SC's notation ``D_SC = Cov[∂ℓ] ≈ H`` and ``D_DT = T D_SC / 2`` with ``T = η/B``.

    Parameters
    ----------
    H : Hessian (scalar or square Matrix, numbers or symbols)
    B : batch size (positive)
    lr : learning rate η (positive)
    use_positive_part : replace ``H`` by ``[H]_+`` (DT's rule near saddles, where H has negative
        eigenvalues; numeric matrices only).
    budget_s : seconds for :func:`positive_part` (default 20, None = no limit).

    Returns
    -------
    HessianNoise(covariance=H/B, diffusion=η H/(2B))
    """
    B = _sym(B, "B")
    lr = _sym(lr, "lr")
    _numeric_sign_check(B, "batch size B")
    _numeric_sign_check(lr, "learning rate lr")
    if use_positive_part:
        Hm = positive_part(H, budget_s=budget_s)
    else:
        Hm = sp.Matrix(H) if isinstance(H, sp.MatrixBase) else _sym(H, "H")
    return HessianNoise(Hm / B, lr * Hm / (2 * B))


# --------------------------------------------------------------------------------------------
# DT.thm3.1 and DT.thm3.2: the escape-time formulas
# --------------------------------------------------------------------------------------------
def _det_and_escape_eigenvalue(H_b, escape_eigenvalue, budget_s=DEFAULT_BUDGET_S):
    if isinstance(H_b, sp.MatrixBase):
        M = sp.Matrix(H_b)
        if M.shape[0] != M.shape[1]:
            raise EscapeInputError(f"saddle Hessian must be square; got shape {M.shape}")
        det_b = M.det()
        if escape_eigenvalue is not None:
            return det_b, _sym(escape_eigenvalue, "escape_eigenvalue")
        if M.shape == (1, 1):
            return det_b, M[0, 0]
        if all(e.is_number for e in M):
            eigs = Deadline(budget_s).run(
                lambda: [sp.re(sp.N(e)) for e in M.eigenvals(multiple=True)],
                step="the eigenvalues of the saddle Hessian (pass escape_eigenvalue= to skip them)")
            neg = [e for e in eigs if e < 0]
            if len(neg) != 1:
                raise EscapeInputError(
                    f"the saddle Hessian must have exactly one negative eigenvalue (a first-order "
                    f"saddle); its eigenvalues are {eigs}")
            return det_b, neg[0]
        raise EscapeInputError("cannot find the escape eigenvalue of a symbolic saddle Hessian; "
                               "pass escape_eigenvalue=")
    h = _sym(H_b, "H_b")
    if escape_eigenvalue is not None:
        return h, _sym(escape_eigenvalue, "escape_eigenvalue")
    return h, h


def kramers_escape_time(hessian_minimum, hessian_saddle, barrier_height, diffusion, *,
                        escape_eigenvalue=None, budget_s=DEFAULT_BUDGET_S) -> sp.Expr:
    """DT.thm3.1 (SGLD, constant isotropic noise): Kramers' mean escape time

        τ = 2π sqrt(−det H_b / det H_a) · |H_be|^{-1} · exp(ΔL / D_DT).

    Parameters
    ----------
    hessian_minimum : H_a, Hessian of L at the minimum a (scalar for 1-D, or square Matrix).
    hessian_saddle : H_b, Hessian at the saddle b (one negative eigenvalue).
    barrier_height : ΔL = L(b) − L(a) > 0.
    diffusion : DT's D_DT in ``dθ = −∂L dt + sqrt(2 D_DT) dW`` (constant, isotropic); for SC's
        ``sqrt(T D_SC) dW`` pass ``dt_diffusion_from_sc(D_SC, T) = T D_SC / 2``.
    escape_eigenvalue : H_be, the negative eigenvalue of H_b (found automatically for scalars and
        numeric matrices).
    budget_s : seconds (default 20, None = no limit; :mod:`theory.budget`) for finding H_be of a
        numeric matrix exactly; no fallback (:class:`theory.budget.SymbolicTimeoutError`: pass
        ``escape_eigenvalue=``).

    In 1-D this is ``2π / sqrt(H_a |H_b|) · exp(ΔL / D_DT)``. The time is in units of
    η × iterations; it is the mean time to cross the saddle (flux over population), which the
    exact mean first-passage time to a point *beyond* the saddle approaches as D_DT/ΔL → 0.
    """
    dL = _sym(barrier_height, "barrier_height")
    D = _sym(diffusion, "diffusion")
    _numeric_sign_check(D, "diffusion")
    _numeric_sign_check(dL, "barrier_height ΔL = L(b) − L(a)")
    if isinstance(hessian_minimum, sp.MatrixBase):
        Ha = sp.Matrix(hessian_minimum)
        if Ha.shape[0] != Ha.shape[1]:
            raise EscapeInputError(f"H_a must be square; got shape {Ha.shape}")
        det_a = Ha.det()
        p = Ha.shape[0]
    else:
        det_a = _sym(hessian_minimum, "hessian_minimum")
        p = 1
    if isinstance(hessian_saddle, sp.MatrixBase) and sp.Matrix(hessian_saddle).shape[0] != p:
        raise EscapeInputError("H_a and H_b must have the same dimension")
    det_b, h_be = _det_and_escape_eigenvalue(hessian_saddle, escape_eigenvalue, budget_s)
    _numeric_sign_check(det_a, "det H_a (the minimum must be non-degenerate)")
    _numeric_sign_check(h_be, "the escape eigenvalue H_be of the saddle", positive=False)
    return 2 * sp.pi * sp.sqrt(-det_b / det_a) / (-h_be) * sp.exp(dL / D)


def sgd_escape_time_printed(hessian_minimum_escape, hessian_saddle_escape, barrier_height, batch_size,
                    lr, path_parameter) -> sp.Expr:
    """DT.thm3.2 as printed (DT eq. 73/82): SGD escape time with D_DT = η H / (2B)

        τ = 2π |H_be|^{-1} exp[(2BΔL/η) (s / H_ae + (1 − s) / |H_be|)],   s ∈ [0, 1].

    Parameters
    ----------
    hessian_minimum_escape : H_ae > 0, eigenvalue of H_a along the escape direction.
    hessian_saddle_escape : H_be < 0, the negative eigenvalue of H_b.
    barrier_height : ΔL = L(b) − L(a).
    batch_size, lr : B and η (DT.eq7 noise ``D_DT = η H/(2B)``; 2B/η = 1/κ).
    path_parameter : s, defined in DT's proof by L(s) = (1−s) L(a) + s L(b): the loss level on
        the path where the 'minimum temperature' ``κ H_ae`` hands over to the 'saddle
        temperature' ``κ |H_be|``.

    Note (ledger, DT.thm3.2): in 1-D the exact asymptotics of DT's own Itô dynamics give the
    prefactor ``2π / H_ae``, not ``2π / |H_be|`` (see
    :func:`numerics.first_passage.laplace_escape_time_1d`); the exponent matches with ``s`` from
    :func:`numerics.first_passage.sgd_path_parameter` when that lies in (0, 1).
    ``−log(1/τ)`` is linear in B and in 1/η at fixed s, and in 1/k when the landscape is
    rescaled L(θ) → L(√k θ) (the log k of the prefactor aside).
    """
    Ha = _sym(hessian_minimum_escape, "H_ae")
    Hb = _sym(hessian_saddle_escape, "H_be")
    dL = _sym(barrier_height, "barrier_height")
    B = _sym(batch_size, "batch_size")
    lr = _sym(lr, "lr")
    s = _sym(path_parameter, "path_parameter")
    _numeric_sign_check(Ha, "H_ae (minimum eigenvalue along the escape direction)")
    _numeric_sign_check(Hb, "H_be (saddle eigenvalue along the escape direction)", positive=False)
    _numeric_sign_check(B, "batch_size")
    _numeric_sign_check(lr, "lr")
    _numeric_sign_check(dL, "barrier_height")
    if s.is_number and not (0 <= float(s) <= 1):
        raise EscapeInputError(f"path_parameter s must lie in [0, 1]; got {s}")
    return 2 * sp.pi / (-Hb) * sp.exp(2 * B * dL / lr * (s / Ha + (1 - s) / (-Hb)))


# --------------------------------------------------------------------------------------------
# DT.rule1 and DT.prop1
# --------------------------------------------------------------------------------------------
def escape_rate_parallel(rates: Sequence):
    """DT.rule1: escape rates of parallel most-probable paths add, ``γ_total = Σ_p γ_p``; the
    mean escape time is ``τ = 1 / γ_total``. Rates must be positive (numbers or expressions)."""
    rates = [_sym(r, "rate") for r in rates]
    if not rates:
        raise EscapeInputError("give at least one escape rate")
    for r in rates:
        _numeric_sign_check(r, "escape rate")
    return sp.Add(*rates)


def valley_probabilities(escape_times: Sequence) -> list:
    """DT.prop1: stationary probability of valley v ∝ its mean escape time,
    ``P(V_v) = τ_v / Σ_u τ_u`` (flux balance ``P_1 γ_12 = P_2 γ_21`` for two valleys).
    Times must be positive."""
    taus = [_sym(t, "escape time") for t in escape_times]
    if not taus:
        raise EscapeInputError("give at least one escape time")
    for t in taus:
        _numeric_sign_check(t, "escape time")
    Z = sp.Add(*taus)
    return [t / Z for t in taus]
