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
time (:func:`mean_first_passage_time_1d`) to a point well beyond the saddle tends to it as the
noise goes to zero, while the mean first-passage time *to the saddle itself* is about half of it
(a particle at the saddle top recrosses back with probability 1/2).

Every function takes numbers or SymPy expressions; :func:`mean_first_passage_time_1d`,
:func:`laplace_escape_time_1d` and :func:`sgd_path_parameter` take numbers and return numbers.
The functions with a symbolic eigen-decomposition (:func:`positive_part`,
:func:`hessian_noise_covariance`, :func:`kramers_escape_time`) take ``budget_s``
(:mod:`theory.budget`).
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import NamedTuple

import mpmath
import sympy as sp

from .budget import DEFAULT_BUDGET_S, Deadline
from .coordinates import as_theta
from .coordinates import as_expr

__all__ = [
    "EscapeInputError",
    "dt_diffusion_from_sc",
    "hessian_noise_covariance",
    "HessianNoise",
    "positive_part",
    "kramers_escape_time",
    "sgd_escape_time",
    "laplace_escape_time_1d",
    "sgd_path_parameter",
    "path_exponent_1d",
    "escape_rate_parallel",
    "valley_probabilities",
    "mean_first_passage_time_1d",
    "mean_exit_time_interval_1d",
]


class EscapeInputError(ValueError):
    """An argument of an escape-time function is out of its domain (the message says the fix)."""


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------
def _sym(x, name: str) -> sp.Expr:
    return as_expr(x, name=name)  # refuses strings (never evaluated) with a TypeError naming x


def _float(x, name: str) -> float:
    """A number as a float; strings are refused (TypeError), never parsed."""
    if isinstance(x, (str, bytes, bytearray)) or type(x).__name__ == "ndarray":
        x = as_expr(x, name=name)
    return float(x)


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


def sgd_escape_time(hessian_minimum_escape, hessian_saddle_escape, barrier_height, batch_size,
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
    prefactor ``2π / H_ae``, not ``2π / |H_be|`` (see :func:`laplace_escape_time_1d`); the
    exponent matches with ``s`` from :func:`sgd_path_parameter` when that lies in (0, 1).
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
# 1-D numerics (mpmath only): critical quantities along a path
# --------------------------------------------------------------------------------------------
def _theta1(theta) -> sp.Symbol:
    th = as_theta(theta)
    if th.shape[0] != 1:
        raise EscapeInputError("this is a one-dimensional function: pass a single Symbol theta")
    return th[0]


def _check_free(expr, x, name):
    extra = expr.free_symbols - {x}
    if extra:
        raise EscapeInputError(f"{name} has free symbols {sorted(map(str, extra))} besides "
                               f"{x}; substitute numbers for them first")


def _lambdify_1d(expr, x, name):
    expr = _sym(expr, name)
    _check_free(expr, x, name)
    if expr.free_symbols:
        return sp.lambdify(x, expr, modules=["mpmath"])
    c = mpmath.mpf(sp.N(expr, 30)) if expr.is_real is not False else None
    if c is None:
        raise EscapeInputError(f"{name} must be real")
    return lambda _y, c=c: c


def path_exponent_1d(U, D, theta, start, end) -> float:
    """``∫_start^end U'(θ) / D(θ) dθ`` by mpmath quadrature (numbers in, float out).

    With DT's dynamics and ``D_DT = κ h(θ)`` the escape exponent is ``(1/κ) ∫_a^b L'/h dθ``;
    with SC's ``sqrt(T D_SC)`` noise it is ``(2/T) ∫_a^b U'/D_SC dθ``.
    """
    x = _theta1(theta)
    dU = _lambdify_1d(sp.diff(_sym(U, "U"), x), x, "U'")
    Df = _lambdify_1d(D, x, "D")
    a, b = mpmath.mpf(_float(start, "start")), mpmath.mpf(_float(end, "end"))
    return float(mpmath.quad(lambda y: dU(y) / Df(y), mpmath.linspace(a, b, 9)))


def laplace_escape_time_1d(U, D, theta, minimum, saddle, T) -> float:
    """Low-noise (Laplace) escape time of the 1-D Itô diffusion ``dθ = −U' dt + sqrt(T D(θ)) dW``
    (SC.eq11 with state-dependent D) from the minimum ``a`` over the barrier top ``b``:

        τ ≈ 2π sqrt(D(b) / (D(a) U''(a) |U''(b)|)) · exp((2/T) ∫_a^b U'(θ)/D(θ) dθ).

    Derived from the exact mean first-passage time (scale/speed integrals) by Laplace's method at
    ``a`` and ``b``. Constant D gives Kramers (DT.thm3.1 with D_DT = T D/2). With Hessian-shaped
    noise D(a) ∝ U''(a), D(b) ∝ |U''(b)| the prefactor is ``2π / U''(a)`` — the correction of the
    ``2π / |H_be|`` printed in DT.thm3.2 (that one belongs to the ``∂·(D ∂P)`` form of the
    Fokker–Planck equation, not to DT's own Itô eq. 3–4). Numbers in, float out.
    """
    x = _theta1(theta)
    T = _float(T, "T")
    if not T > 0:
        raise EscapeInputError(f"T must be positive; got {T}")
    Ue = _sym(U, "U")
    H = sp.diff(Ue, x, 2)
    a, b = _float(minimum, "minimum"), _float(saddle, "saddle")
    Ha = float(H.subs(x, a))
    Hb = float(H.subs(x, b))
    if not Ha > 0:
        raise EscapeInputError(f"U''(minimum) must be positive; got {Ha} at {a}")
    if not Hb < 0:
        raise EscapeInputError(f"U''(saddle) must be negative (a barrier top); got {Hb} at {b}")
    Df = _lambdify_1d(D, x, "D")
    Da, Db = float(Df(a)), float(Df(b))
    if not (Da > 0 and Db > 0):
        raise EscapeInputError(f"D must be positive at the minimum and the saddle; got {Da}, {Db}")
    phi = path_exponent_1d(Ue, D, x, a, b)
    return float(2 * mpmath.pi * mpmath.sqrt(Db / (Da * Ha * -Hb)) * mpmath.exp(2 * phi / T))


def sgd_path_parameter(U, noise_shape, theta, minimum, saddle) -> float:
    """The ``s`` of DT.thm3.2 that makes its exponent exact in 1-D.

    For DT noise ``D_DT(θ) = κ h(θ)`` (κ = η/(2B), h the Hessian-like shape with
    ``h(a) = H_ae``, ``h(b) = |H_be|``), the exact low-noise exponent is
    ``(1/κ) Φ``, ``Φ = ∫_a^b L'/h dθ``. DT's exponent is ``(1/κ) ΔL (s/H_ae + (1−s)/|H_be|)``;
    equating gives ``s = (Φ − ΔL/|H_be|) / (ΔL (1/H_ae − 1/|H_be|))``. DT's claim s ∈ (0, 1)
    holds iff Φ lies strictly between ΔL/H_ae and ΔL/|H_be| (a weighted harmonic mean of h along
    the path between its end values). Raises when H_ae = |H_be| (s is then undefined).
    """
    x = _theta1(theta)
    Ue = _sym(U, "U")
    H = sp.diff(Ue, x, 2)
    a, b = _float(minimum, "minimum"), _float(saddle, "saddle")
    Ha, Hb = float(H.subs(x, a)), -float(H.subs(x, b))
    if not (Ha > 0 and Hb > 0):
        raise EscapeInputError("minimum must have U'' > 0 and saddle U'' < 0")
    if math.isclose(Ha, Hb, rel_tol=1e-12):
        raise EscapeInputError("H_ae = |H_be|: DT's exponent does not depend on s")
    dL = float(Ue.subs(x, b) - Ue.subs(x, a))
    phi = path_exponent_1d(Ue, noise_shape, x, a, b)
    return (phi - dL / Hb) / (dL * (1 / Ha - 1 / Hb))


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


# --------------------------------------------------------------------------------------------
# Exact 1-D mean first-passage time (scale function / speed measure)
# --------------------------------------------------------------------------------------------
_GL_ORDER = 12


@functools.lru_cache(maxsize=4)
def _gauss_legendre(n: int):
    """Nodes t_i, weights w_i on [−1, 1] and the integration matrix S_ij = ∫_{−1}^{t_i} ℓ_j."""
    with mpmath.workdps(50):
        nodes = []
        for i in range(1, n + 1):
            t = mpmath.cos(mpmath.pi * (i - mpmath.mpf(1) / 4) / (n + mpmath.mpf(1) / 2))
            for _ in range(100):
                p0, p1 = mpmath.mpf(1), t
                for k in range(2, n + 1):
                    p0, p1 = p1, ((2 * k - 1) * t * p1 - (k - 1) * p0) / k
                dp = n * (t * p1 - p0) / (t * t - 1)
                dt = p1 / dp
                t -= dt
                if abs(dt) < mpmath.mpf(10) ** -45:
                    break
            p0, p1 = mpmath.mpf(1), t
            for k in range(2, n + 1):
                p0, p1 = p1, ((2 * k - 1) * t * p1 - (k - 1) * p0) / k
            dp = n * (t * p1 - p0) / (t * t - 1)
            nodes.append((t, 2 / ((1 - t * t) * dp * dp)))
        nodes.sort()
        ts = [t for t, _ in nodes]
        V = mpmath.matrix(n, n)
        Vint = mpmath.matrix(n, n)
        for i, t in enumerate(ts):
            for k in range(n):
                V[i, k] = t ** k
                Vint[i, k] = (t ** (k + 1) - (-1) ** (k + 1)) / (k + 1)
        S = Vint * mpmath.inverse(V)
        return (tuple(float(t) for t in ts), tuple(float(w) for _, w in nodes),
                tuple(tuple(float(S[i, j]) for j in range(n)) for i in range(n)))


def _float_fn(expr, x, name):
    expr = _sym(expr, name)
    _check_free(expr, x, name)
    if not expr.free_symbols:
        c = float(sp.N(expr))
        return lambda _y, c=c: c
    return sp.lambdify(x, expr, modules=["math"])


def _ito_panels(dpsi, sigma2, x0, x_end, *, stop_far, psi_rise, max_panels, max_span):
    """March Gauss–Legendre panels from x0 towards decreasing x (the 'far side').

    Returns a list of panels (left, right, nodes, weights_scaled, psi_nodes, psi_left) with ψ
    measured from ψ(x0) = 0, where ψ' = dpsi. Stops at x_end (if given) or, when ``stop_far``, at
    the first point where ψ exceeds its running minimum by ``psi_rise`` while still rising.
    """
    ts, ws, S = _gauss_legendre(_GL_ORDER)
    n = len(ts)
    panels = []
    right, psi_right = x0, 0.0
    h = max_span / 200.0
    psi_min = 0.0
    for _ in range(max_panels):
        if x_end is not None and right <= x_end:
            break
        while True:
            left = right - h
            if x_end is not None and left < x_end:
                left = x_end
            half = (right - left) / 2
            mid = (right + left) / 2
            nodes = [mid + half * t for t in ts]
            d = [dpsi(y) for y in nodes]
            # ψ(node_i) = ψ(left) + half Σ_j S_ij d_j ; ψ(right) = ψ(left) + half Σ w_j d_j
            total = half * sum(w * dj for w, dj in zip(ws, d))
            psi_left = psi_right - total
            psi_nodes = [psi_left + half * sum(S[i][j] * d[j] for j in range(n)) for i in range(n)]
            vals = psi_nodes + [psi_left, psi_right]
            spread = max(vals) - min(vals)
            steep = half * 2 * max(abs(v) for v in d)
            if (spread <= 0.5 and steep <= 2.0) or (right - left) < 1e-12 * max(1.0, abs(right)):
                break
            h = (right - left) / 2
        for y in nodes:
            s2 = sigma2(y)
            if not (s2 > 0) or not math.isfinite(s2):
                raise EscapeInputError(
                    f"the diffusion T·D(θ) must be positive and finite on the path; got {s2} at "
                    f"θ = {y}; clip D to a positive floor or move the reflecting boundary")
        panels.append((left, right, nodes, [half * w for w in ws], psi_nodes, psi_left, half))
        psi_min = min(psi_min, min(psi_nodes), psi_left)
        right, psi_right = left, psi_left
        h = 2 * (panels[-1][1] - panels[-1][0])
        if x_end is not None:  # bounded stretch: keep at least 20 panels on it
            h = min(h, max_span / 20.0)
        if x_end is None and stop_far:
            if psi_left - psi_min >= psi_rise and dpsi(left) < 0:
                return panels
        if abs(x0 - right) > 1e6 * max_span:
            break
    if x_end is not None and right <= x_end:
        return panels
    raise EscapeInputError(
        "the potential does not confine the process on the far side of the start (the speed "
        "measure does not decay); give reflect_at= (a reflecting boundary) or a confining U")


def _ito_coefficients(Ue, De, x, T):
    """Float callables of the diffusion dθ = −U' dt + sqrt(T·D) dW: σ²(y) = T·D(y) and the
    scale-function exponent's derivative ψ'(y) = 2U'(y)/(T·D(y))."""
    dU = _float_fn(sp.diff(Ue, x), x, "U'")
    Df = _float_fn(De, x, "D")

    def sigma2(y):
        return T * Df(y)

    def dpsi(y):
        return 2.0 * dU(y) / (T * Df(y))

    return sigma2, dpsi


def mean_first_passage_time_1d(U, D, theta, start, barrier, T, *, reflect_at=None,
                               log: bool = False):
    """EXACT mean first-passage time of the 1-D Itô diffusion

        dθ = −U'(θ) dt + sqrt(T D(θ)) dW        (SC.eq11; time t' = λ × iterations)

    from ``start`` to ``barrier``, reflecting on the far side (at ``reflect_at`` if given, else
    the far side is open to ±∞ and U must confine there).

    Formula (scale function / speed density of ``dX = μ dt + σ dW``, μ = −U', σ² = T D)::

        ψ(y) = ∫^y 2 U'(u) / (T D(u)) du          (s'(y) = e^{ψ(y)})
        m(z) = 2 e^{−ψ(z)} / (T D(z))             (speed density)
        τ(x → b) = ∫_x^b e^{ψ(y)} ∫_{lo}^{y} m(z) dz dy      for x < b, lo = reflect_at or −∞;

    for ``start > barrier`` the mirror image (θ → −θ) is used. The double integral is computed on
    adaptive Gauss–Legendre panels (ψ via the spectral integration matrix, so every panel's ψ
    varies by at most 1/2), in log-domain with the exponents shifted, so low T neither under- nor
    overflows. For DT's convention (``sqrt(2 D_DT) dW``) pass ``D = 2 D_DT`` with ``T = 1``.

    Parameters
    ----------
    U : potential, SymPy expression in ``theta`` (no other free symbols).
    D : positive constant or expression in ``theta`` (the diffusion T·D must stay > 0 on the path).
    theta : the Symbol.
    start, barrier : numbers, start ≠ barrier.
    T : temperature > 0.
    reflect_at : optional reflecting boundary on the far side of ``start``.
    log : return log τ instead of τ (useful when τ overflows a float).

    Returns a float (τ, or log τ).
    """
    x = _theta1(theta)
    T = _float(T, "T")
    if not (T > 0 and math.isfinite(T)):
        raise EscapeInputError(f"T must be positive and finite; got {T}")
    start, barrier = _float(start, "start"), _float(barrier, "barrier")
    if start == barrier:
        raise EscapeInputError("start equals barrier: the first-passage time is 0; pass "
                               "distinct points")
    Ue = _sym(U, "U")
    De = _sym(D, "D")
    _check_free(Ue, x, "U")
    _check_free(De, x, "D")
    if not De.free_symbols:
        dv = float(sp.N(De))
        if not dv > 0:
            raise EscapeInputError(f"D must be positive; got {dv}")
    if reflect_at is not None:
        reflect_at = _float(reflect_at, "reflect_at")
    if start > barrier:  # mirror: θ → −θ
        Ue = Ue.subs(x, -x)
        De = De.subs(x, -x)
        start, barrier = -start, -barrier
        reflect_at = None if reflect_at is None else -reflect_at
    if reflect_at is not None and reflect_at > start:
        raise EscapeInputError("reflect_at must lie on the far side of start (beyond start, "
                               "away from the barrier)")
    sigma2, dpsi = _ito_coefficients(Ue, De, x, T)

    span = max(barrier - start, 1e-300)
    # ψ from the barrier backwards: panels on [start, barrier], then on the far side of start.
    inner = _ito_panels(dpsi, sigma2, barrier, start, stop_far=False, psi_rise=0,
                        max_panels=200000, max_span=span)
    psi_at_start = inner[-1][5] if inner else 0.0
    if reflect_at is not None and reflect_at < start:
        outer = _ito_panels(dpsi, sigma2, start, reflect_at, stop_far=False, psi_rise=0,
                            max_panels=200000, max_span=max(start - reflect_at, 1e-300))
    elif reflect_at is not None:
        outer = []
    else:
        outer = _ito_panels(dpsi, sigma2, start, None, stop_far=True, psi_rise=60.0,
                            max_panels=200000, max_span=span)
    # shift the far-side ψ to the common origin ψ(barrier) = 0
    outer = [(l, r, nd, w, [p + psi_at_start for p in ps], pl + psi_at_start, h)
             for (l, r, nd, w, ps, pl, h) in outer]
    panels = list(reversed(inner + outer))  # left to right
    _, _, S = _gauss_legendre(_GL_ORDER)
    n = _GL_ORDER
    psi_lo = min(min(p[4]) for p in panels)
    # inner integral M(y) = ∫_lo^y m, scaled by e^{ψ_lo}: m̃ = 2 e^{−(ψ − ψ_lo)} / σ²
    M_left = 0.0
    log_terms = []
    for (left, right, nodes, wsc, psn, psl, half) in panels:
        mt = [2.0 * math.exp(-(p - psi_lo)) / sigma2(y) for y, p in zip(nodes, psn)]
        if left >= start:
            for i in range(n):
                Mi = M_left + half * sum(S[i][j] * mt[j] for j in range(n))
                if Mi > 0:
                    log_terms.append(math.log(wsc[i]) + (psn[i] - psi_lo) + math.log(Mi))
        M_left += sum(w * m for w, m in zip(wsc, mt))
    if not log_terms:
        raise EscapeInputError("no probability mass behind the start point; check U and D")
    top = max(log_terms)
    log_tau = top + math.log(sum(math.exp(t - top) for t in log_terms))
    if log:
        return log_tau
    if log_tau > 709:
        raise OverflowError(f"τ = exp({log_tau:.1f}) overflows a float; call with log=True")
    return math.exp(log_tau)


def mean_exit_time_interval_1d(U, D, theta, start, left, right, T) -> float:
    """Exact mean exit time of the Itô diffusion ``dθ = −U' dt + sqrt(T D(θ)) dW`` from the
    interval (left, right), both ends absorbing (used for DT.rule1: a valley with two exits)::

        τ(x) = ∫_l^r G(x, z) m(z) dz,
        G(x, z) = (S(x∧z) − S(l)) (S(r) − S(x∨z)) / (S(r) − S(l)),   S' = e^{ψ},

    with ψ and m as in :func:`mean_first_passage_time_1d` (m = 2 e^{−ψ} / σ², σ² = T D). Every
    factor is a sum of positive terms (S from the left and S to the right are accumulated
    separately on the adaptive Gauss–Legendre panels), so mass outside the barriers does not
    cause cancellation; exponents are shifted. Numbers in, float out.
    """
    x = _theta1(theta)
    T = _float(T, "T")
    if not (T > 0 and math.isfinite(T)):
        raise EscapeInputError(f"T must be positive and finite; got {T}")
    l, r, x0 = _float(left, "left"), _float(right, "right"), _float(start, "start")
    if not (l < x0 < r):
        raise EscapeInputError(f"need left < start < right; got {l}, {x0}, {r}")
    Ue = _sym(U, "U")
    De = _sym(D, "D")
    _check_free(Ue, x, "U")
    _check_free(De, x, "D")
    if not De.free_symbols and not float(sp.N(De)) > 0:
        raise EscapeInputError(f"D must be positive; got {De}")
    sigma2, dpsi = _ito_coefficients(Ue, De, x, T)

    right_part = _ito_panels(dpsi, sigma2, r, x0, stop_far=False, psi_rise=0,
                             max_panels=200000, max_span=r - x0)
    psi_x = right_part[-1][5]
    left_part = _ito_panels(dpsi, sigma2, x0, l, stop_far=False, psi_rise=0,
                            max_panels=200000, max_span=x0 - l)
    left_part = [(a, b, nd, w, [p + psi_x for p in ps], pl + psi_x, h)
                 for (a, b, nd, w, ps, pl, h) in left_part]
    panels = list(reversed(right_part + left_part))
    _, wts, S = _gauss_legendre(_GL_ORDER)
    n = _GL_ORDER
    Sr = [[wts[j] - S[i][j] for j in range(n)] for i in range(n)]  # ∫_{t_i}^{1} ℓ_j
    psi_lo = min(min(p[4]) for p in panels)
    psi_hi = max(max(p[4]) for p in panels)
    es_all = [[math.exp(p - psi_hi) for p in pan[4]] for pan in panels]
    pan_S = [pan[6] * sum(w * e for w, e in zip(wts, es)) for pan, es in zip(panels, es_all)]
    # S(z) − S(l) and S(r) − S(z) at every node, each as a sum of positive terms (no cancellation)
    S_from_left, acc = [], 0.0
    for pan, es in zip(panels, es_all):
        h = pan[6]
        S_from_left.append([acc + h * sum(S[i][j] * es[j] for j in range(n)) for i in range(n)])
        acc += h * sum(w * e for w, e in zip(wts, es))
    S_to_right, acc = [None] * len(panels), 0.0
    for k in range(len(panels) - 1, -1, -1):
        h, es = panels[k][6], es_all[k]
        S_to_right[k] = [acc + h * sum(Sr[i][j] * es[j] for j in range(n)) for i in range(n)]
        acc += pan_S[k]
    S_lx = sum(ps for pan, ps in zip(panels, pan_S) if pan[0] < x0)
    S_xr = sum(ps for pan, ps in zip(panels, pan_S) if pan[0] >= x0)
    I_left = J_right = 0.0  # ∫_l^x (S(z)−S_l) m dz and ∫_x^r (S_r−S(z)) m dz (Green's function)
    for k, (a, b, nodes, wsc, psn, psl, half) in enumerate(panels):
        mt = [2.0 * math.exp(-(p - psi_lo)) / sigma2(y) for y, p in zip(nodes, psn)]
        if a >= x0:
            J_right += sum(w * g * m for w, g, m in zip(wsc, S_to_right[k], mt))
        else:
            I_left += sum(w * g * m for w, g, m in zip(wsc, S_from_left[k], mt))
    core = (S_xr * I_left + S_lx * J_right) / (S_lx + S_xr)
    if not core > 0:
        raise EscapeInputError("the exit time underflowed; check U, D and T")
    return math.exp(psi_hi - psi_lo + math.log(core))
