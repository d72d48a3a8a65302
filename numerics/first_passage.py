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
    """A NumPy-vectorised float function of ``x`` (a constant broadcasts to the argument's shape)."""
    expr = _sym(expr, name)
    _check_free(expr, x, name)
    if not expr.free_symbols:
        c = float(sp.N(expr))
        return lambda y, c=c: np.full(np.shape(y), c)
    f = sp.lambdify(x, expr, modules=["numpy"])
    return lambda y: np.asarray(f(np.asarray(y, dtype=float)), dtype=float)


class _Panels:
    """Gauss–Legendre panels in marching order: ``left``/``right``/``half`` (P,), ``nodes``,
    ``wsc`` (weights × half) and ``psi`` (ψ at the nodes) (P, n), ``psi_left`` (P,)."""

    @staticmethod
    def from_arrays(left, right, half, nodes, psi, psi_left) -> "_Panels":
        out = object.__new__(_Panels)
        out.left, out.right, out.half, out.nodes, out.psi, out.psi_left = left, right, half, nodes, psi, psi_left
        out.wsc = half[:, None] * np.asarray(_gauss_legendre(_GL_ORDER)[1])[None, :]
        return out

    def __len__(self):
        return len(self.left)

    def shifted(self, dpsi: float) -> "_Panels":
        out = object.__new__(_Panels)
        out.__dict__.update(self.__dict__)
        out.psi, out.psi_left = self.psi + dpsi, self.psi_left + dpsi
        return out

    @staticmethod
    def left_to_right(*parts) -> "_Panels":
        """The panels of ``parts`` (each marching towards decreasing x), concatenated and reversed."""
        out = object.__new__(_Panels)
        for k in ("left", "right", "half", "nodes", "psi", "psi_left", "wsc"):
            setattr(out, k, np.concatenate([getattr(p, k) for p in parts])[::-1])
        return out


def _refine(dpsi, right, left, ts, ws, S):
    """Halve every panel [left, right] (arrays, marching order: decreasing x) until ψ varies by at
    most 1/2 on it and |ψ'|·width ≤ 2 (or it is narrower than 1e-12 relative), all panels of a
    round at once. Returns (right, left, half, nodes, d, rel, total) of the accepted panels in
    marching order, ``rel`` = ψ(node) − ψ(left), ``total`` = ψ(right) − ψ(left)."""
    done = []
    while right.size:
        half = (right - left) / 2
        nodes = ((right + left) / 2)[:, None] + half[:, None] * ts[None, :]
        d = dpsi(nodes)
        rel = half[:, None] * (d @ S.T)
        total = half * (d @ ws)
        hi = np.maximum(np.maximum(rel.max(axis=1), total), 0.0)
        lo = np.minimum(np.minimum(rel.min(axis=1), total), 0.0)
        steep = 2 * half * np.abs(d).max(axis=1)
        ok = ((hi - lo <= 0.5) & (steep <= 2.0)) | ((right - left) < 1e-12 * np.maximum(1.0, np.abs(right)))
        if ok.any():
            done.append((right[ok], left[ok], half[ok], nodes[ok], d[ok], rel[ok], total[ok]))
        mid = (right[~ok] + left[~ok]) / 2
        right, left = np.concatenate([right[~ok], mid]), np.concatenate([mid, left[~ok]])
    parts = [np.concatenate([p[k] for p in done]) for k in range(7)]
    order = np.argsort(-parts[0], kind="stable")  # marching order: decreasing right edge
    return tuple(a[order] for a in parts)


def _ito_panels(dpsi, sigma2, x0, x_end, *, stop_far, psi_rise, max_panels, max_span) -> _Panels:
    """Gauss–Legendre panels from x0 towards decreasing x (the 'far side'), built in blocks.

    Returns the panels (:class:`_Panels`, in marching order) with ψ measured from ψ(x0) = 0, where
    ψ' = dpsi. Every panel is halved until ψ varies by at most 1/2 on it and |ψ'|·width ≤ 2.
    Bounded stretch (``x_end``): 20 panels, refined. Open far side (``stop_far``): blocks of 32
    equal panels, each block's panels twice as wide as the last block's, until the first point
    where ψ exceeds its running minimum by ``psi_rise`` while still rising (the panels up to it).
    """
    ts, ws, S = (np.asarray(a) for a in _gauss_legendre(_GL_ORDER))
    blocks = []
    if x_end is not None:
        if x0 > x_end:
            edges = np.linspace(x0, x_end, 21)
            blocks.append(_refine(dpsi, edges[:-1], edges[1:], ts, ws, S))
        found = True
    else:
        found, psi_start, psi_min, right, width = False, 0.0, 0.0, x0, max_span / 200.0
        count = 0
        while count <= max_panels and abs(x0 - right) <= 1e6 * max_span:
            edges = right - width * np.arange(33)
            b = _refine(dpsi, edges[:-1], edges[1:], ts, ws, S)
            psi_left = psi_start - np.cumsum(b[6])
            low = np.minimum(np.minimum(psi_left, psi_left + b[6]), (psi_left[:, None] + b[5]).min(axis=1))
            running = np.minimum(np.minimum.accumulate(low), psi_min)
            if stop_far:
                hit = np.flatnonzero((psi_left - running >= psi_rise) & (dpsi(b[1]) < 0))
                if hit.size:
                    k = int(hit[0]) + 1
                    blocks.append(tuple(a[:k] for a in b))
                    found = True
                    break
            blocks.append(b)
            count += len(b[0])
            psi_start, psi_min, right, width = float(psi_left[-1]), float(running[-1]), float(b[1][-1]), 2 * width
    if not found or sum(len(b[0]) for b in blocks) > max_panels:
        raise EscapeInputError(
            "the potential does not confine the process on the far side of the start (the speed "
            "measure does not decay); give reflect_at= (a reflecting boundary) or a confining U")
    right, left, half, nodes, d, rel, total = (np.concatenate([b[k] for b in blocks]) for k in range(7))
    s2 = sigma2(nodes)
    bad = ~(np.isfinite(s2) & (s2 > 0))
    if bad.any():
        i = np.unravel_index(int(np.argmax(bad)), bad.shape)
        raise EscapeInputError(
            f"the diffusion T·D(θ) must be positive and finite on the path; got {s2[i]} at "
            f"θ = {nodes[i]}; clip D to a positive floor or move the reflecting boundary")
    psi_left = -np.cumsum(total)
    return _Panels.from_arrays(left, right, half, nodes, psi_left[:, None] + rel, psi_left)


def _ito_coefficients(Ue, De, x, T):
    """Vectorised float functions of the diffusion dθ = −U' dt + sqrt(T·D) dW: σ²(y) = T·D(y) and
    the scale-function exponent's derivative ψ'(y) = 2U'(y)/(T·D(y))."""
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
    psi_at_start = float(inner.psi_left[-1]) if len(inner) else 0.0
    parts = [inner]
    if reflect_at is not None and reflect_at < start:
        parts.append(_ito_panels(dpsi, sigma2, start, reflect_at, stop_far=False, psi_rise=0,
                                 max_panels=200000, max_span=max(start - reflect_at, 1e-300)))
    elif reflect_at is None:
        parts.append(_ito_panels(dpsi, sigma2, start, None, stop_far=True, psi_rise=60.0,
                                 max_panels=200000, max_span=span))
    # the far side's ψ shifted to the common origin ψ(barrier) = 0
    pan = _Panels.left_to_right(inner, *[p.shifted(psi_at_start) for p in parts[1:]])
    S = np.asarray(_gauss_legendre(_GL_ORDER)[2])
    psi_lo = float(pan.psi.min())
    # inner integral M(y) = ∫_lo^y m, scaled by e^{ψ_lo}: m̃ = 2 e^{−(ψ − ψ_lo)} / σ²
    mt = 2.0 * np.exp(-(pan.psi - psi_lo)) / sigma2(pan.nodes)
    M_left = np.concatenate([[0.0], np.cumsum((pan.wsc * mt).sum(axis=1))[:-1]])  # M at each panel's left end
    Mi = M_left[:, None] + pan.half[:, None] * (mt @ S.T)
    keep = (pan.left >= start)[:, None] & (Mi > 0)
    with np.errstate(divide="ignore"):
        log_terms = (np.log(pan.wsc) + (pan.psi - psi_lo) + np.log(np.where(keep, Mi, 1.0)))[keep]
    if not log_terms.size:
        raise EscapeInputError("no probability mass behind the start point; check U and D")
    top = float(log_terms.max())
    log_tau = top + math.log(float(np.exp(log_terms - top).sum()))
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
    psi_x = float(right_part.psi_left[-1])
    left_part = _ito_panels(dpsi, sigma2, x0, l, stop_far=False, psi_rise=0,
                            max_panels=200000, max_span=x0 - l)
    pan = _Panels.left_to_right(right_part, left_part.shifted(psi_x))
    _, wts, S = (np.asarray(a) for a in _gauss_legendre(_GL_ORDER))
    Sr = wts[None, :] - S  # ∫_{t_i}^{1} ℓ_j
    psi_lo, psi_hi = float(pan.psi.min()), float(pan.psi.max())
    es = np.exp(pan.psi - psi_hi)
    pan_S = pan.half * (es @ wts)
    # S(z) − S(l) and S(r) − S(z) at every node, each as a sum of positive terms (no cancellation)
    before = np.concatenate([[0.0], np.cumsum(pan_S)[:-1]])
    after = np.concatenate([np.cumsum(pan_S[::-1])[::-1][1:], [0.0]])
    S_from_left = before[:, None] + pan.half[:, None] * (es @ S.T)
    S_to_right = after[:, None] + pan.half[:, None] * (es @ Sr.T)
    right_side = pan.left >= x0
    S_lx, S_xr = float(pan_S[~right_side].sum()), float(pan_S[right_side].sum())
    # ∫_l^x (S(z)−S_l) m dz and ∫_x^r (S_r−S(z)) m dz (Green's function)
    mt = 2.0 * np.exp(-(pan.psi - psi_lo)) / sigma2(pan.nodes)
    J_right = float((pan.wsc * S_to_right * mt)[right_side].sum())
    I_left = float((pan.wsc * S_from_left * mt)[~right_side].sum())
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
