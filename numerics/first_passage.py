"""Mean first-passage and exit times of 1-D Itô diffusions (exact quadrature) and on a 2-D grid.

1-D (numbers in, floats out; the SymPy potential and diffusion are compiled here, nothing is
re-derived): the diffusion is SC.eq11 with state-dependent D, ``dθ = −U'(θ) dt + sqrt(T D(θ)) dW``
(time ``t' = λ × iterations``). For DT's convention ``sqrt(2 D_DT) dW`` pass ``D = 2 D_DT`` with
``T = 1`` (:func:`theory.escape.dt_diffusion_from_sc` gives the mapping).

* :func:`mean_first_passage_time_1d` — EXACT mean first-passage time (scale function / speed
  measure double integral, adaptive Gauss–Legendre panels in log domain).
* :func:`mean_exit_time_interval_1d` — exact mean exit time from an interval with two absorbing
  ends (DT.rule1).
* :func:`laplace_escape_time_1d` — its low-noise (Laplace) asymptotics, the corrected prefactor of
  DT.thm3.2; :func:`path_exponent_1d` the exponent ``∫ U'/D``; :func:`sgd_path_parameter` the ``s``
  of DT.thm3.2 that makes DT's exponent exact.

The symbolic escape-time formulas (DT.thm3.1/3.2, DT.rule1, DT.prop1) are in :mod:`theory.escape`;
its :class:`theory.escape.EscapeInputError` is the typed error raised here as well.

2-D (:func:`mean_first_passage_time_grid_2d`, finite volumes), for the cases the exact 1-D double
quadrature cannot reach: the diffusion is DT's ``dθ = −∇L dt + sqrt(2D) dW`` with constant
isotropic D (SC's convention ``sqrt(T·D_sc)`` maps to D = T·D_sc/2,
:func:`theory.escape.dt_diffusion_from_sc`). The mean first-passage time τ solves the backward
equation ``D Δτ − ∇L·∇τ = −1`` with τ = 0 on the absorbing set and reflection on the box edges. It
is discretised in the symmetric (detailed-balance) form with weights ``w = e^{−L/D}``: the
face rate between neighbours a, b is ``D e^{−(L_b − L_a)/(2D)}/h²``, so the discrete generator
is reversible, and exponents are differenced (no underflow at small D).

>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> tau = mean_first_passage_time_1d(sp.Integer(0), 1, x, 0.3, 1.0, 1.0, reflect_at=0)
>>> round(tau, 8)  # free diffusion reflected at 0: (b² − x²)/(T D)
0.91
"""
from __future__ import annotations

import functools
import math

import mpmath
import numpy as np
import scipy.sparse as sps
import scipy.sparse.linalg as spla
import sympy as sp

from theory.coordinates import as_expr, as_theta
from theory.escape import EscapeInputError

__all__ = [
    "EscapeInputError",
    "mean_first_passage_time_1d",
    "mean_exit_time_interval_1d",
    "laplace_escape_time_1d",
    "path_exponent_1d",
    "sgd_path_parameter",
    "mean_first_passage_time_grid_2d",
]


def _sym(x, name: str) -> sp.Expr:
    return as_expr(x, name=name)  # refuses strings (never evaluated) with a TypeError naming x


def _float(x, name: str) -> float:
    """A number as a float; strings are refused (TypeError), never parsed."""
    if isinstance(x, (str, bytes, bytearray)) or type(x).__name__ == "ndarray":
        x = as_expr(x, name=name)
    return float(x)


# --------------------------------------------------------------------------------------------
# 1-D: critical quantities along a path (mpmath quadrature)
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
# Exact 1-D mean first-passage time (scale function / speed measure)
# --------------------------------------------------------------------------------------------
_GL_ORDER = 12


@functools.lru_cache(maxsize=4)
def _gauss_legendre(n: int):
    """Nodes t_i, weights w_i on [−1, 1] (``numpy.polynomial.legendre.leggauss``) and the
    spectral integration matrix ``S_ij = ∫_{−1}^{t_i} ℓ_j`` (ℓ_j the Lagrange basis on the nodes).

    In the Legendre basis ``ℓ_j = Σ_k c_kj P_k`` with ``c_kj = (2k+1)/2 · w_j P_k(t_j)`` (discrete
    orthogonality of the n-point rule, exact for degree ≤ 2n − 1), and ``∫_{−1}^t P_k`` is
    ``numpy.polynomial.legendre.legint`` — no Vandermonde inverse.
    """
    leg = np.polynomial.legendre
    t, w = leg.leggauss(n)
    P = leg.legvander(t, n - 1)                      # P[i, k] = P_k(t_i)
    C = (2 * np.arange(n)[:, None] + 1) / 2 * (P.T * w[None, :])   # c_kj
    Pint = np.column_stack([leg.legval(t, leg.legint(np.eye(n)[k], lbnd=-1)) for k in range(n)])
    S = Pint @ C
    return (tuple(float(v) for v in t), tuple(float(v) for v in w),
            tuple(tuple(float(v) for v in row) for row in S))


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


# --------------------------------------------------------------------------------------------
# 2-D grid (finite volumes)
# --------------------------------------------------------------------------------------------
def mean_first_passage_time_grid_2d(loss, D: float, *, xlim, ylim, nx: int, ny: int, absorb_x: float):
    """MFPT field τ(x, y) to the half-plane ``x ≥ absorb_x`` for ``dθ = −∇L dt + sqrt(2D) dW``.

    Parameters
    ----------
    loss : callable ``L(X, Y)`` on NumPy arrays (compile a SymPy loss with
        :func:`numerics.compile.compile_expr`).
    D : constant diffusion coefficient (DT's convention), > 0.
    xlim, ylim : the reflecting box; nx, ny : grid points per axis (≥ 3).
    absorb_x : nodes with x ≥ absorb_x are absorbing (τ = 0).

    Returns ``(xs, ys, tau)`` with ``tau[i, j]`` the MFPT from ``(xs[i], ys[j])``.
    """
    if not D > 0:
        raise ValueError(f"D must be > 0; got {D}")
    if nx < 3 or ny < 3:
        raise ValueError(f"nx and ny must be ≥ 3; got {nx}, {ny}")
    if not xlim[0] < absorb_x:
        raise ValueError(f"absorb_x = {absorb_x} leaves no free node in xlim = {xlim}")
    xs = np.linspace(*xlim, nx)
    ys = np.linspace(*ylim, ny)
    hx, hy = xs[1] - xs[0], ys[1] - ys[0]
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    L = np.asarray(loss(X, Y), dtype=float)
    if not np.all(np.isfinite(L)):
        raise ValueError("loss is not finite on the grid")
    free = X < absorb_x
    idx = -np.ones(X.shape, dtype=int)
    idx[free] = np.arange(free.sum())
    rows, cols, vals = [], [], []
    diag = np.zeros(free.sum())
    for (di, dj, h) in ((1, 0, hx), (-1, 0, hx), (0, 1, hy), (0, -1, hy)):
        has_nb = np.zeros(X.shape, bool)
        has_nb[max(0, -di):nx - max(0, di), max(0, -dj):ny - max(0, dj)] = True
        Ia, Ja = np.nonzero(has_nb & free)
        Ib, Jb = Ia + di, Ja + dj
        rate = D * np.exp(-(L[Ib, Jb] - L[Ia, Ja]) / (2 * D)) / h**2
        ia = idx[Ia, Ja]
        np.add.at(diag, ia, -rate)
        nb_free = free[Ib, Jb]  # an absorbing neighbour has τ = 0: only the diagonal term
        rows.extend(ia[nb_free].tolist())
        cols.extend(idx[Ib, Jb][nb_free].tolist())
        vals.extend(rate[nb_free].tolist())
    A = sps.csr_matrix((vals, (rows, cols)), shape=(free.sum(),) * 2) + sps.diags(diag)
    tau = spla.spsolve(A.tocsc(), -np.ones(free.sum()))
    out = np.zeros(X.shape)
    out[free] = tau
    return xs, ys, out
