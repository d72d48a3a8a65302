"""High-precision mpmath references for 1-D integrals of the steady state (SC.eq5/6, RND.eq28, App. E).

Numbers in, ``mpmath.mpf`` out: the SymPy expressions of :mod:`theory` are compiled here to mpmath
functions (``sympy.lambdify``) and integrated with ``mpmath.quad`` at ``dps`` digits. mpmath's
exponent range is unbounded, so ``exp(−2v/T)`` neither under- nor overflows at small T — these are
the references the float64 solvers (:mod:`numerics.stationary`) and the Laplace weights
(:func:`theory.laplace.gaussian_mixture`, SC.eq6) are judged against.

* :func:`find_critical_points_1d` — minima and maxima of ``v(x)`` on an interval (sign changes of
  v' on a float grid, refined to ``dps`` digits).
* :func:`exact_basin_log_masses_1d` — ``log ∫_{basin k} exp(−2v/T) dx``, basins split at the
  maxima (SC.eq6's exact counterpart).
* :func:`log_partition_1d`, :func:`free_energy_1d`, :func:`kl_divergence_1d` — ``log Z``, the free
  energy F(p) of RND App. E eq. 56 and KL(p ‖ q), with the integrands of
  :mod:`theory.free_energy` (``gibbs_log_density``, ``free_energy_integrand``, ``kl_integrand``).

The typed errors are those of the symbolic modules (the symbolic functions raise them too):
:class:`theory.laplace.LaplaceError` for the first two, :class:`theory.free_energy.FreeEnergyInputError`
for the last three; both are re-exported here.

>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> minima, maxima = find_critical_points_1d((x**2 - 1)**2, x, -2, 2)
>>> [float(m) for m in minima], [float(m) for m in maxima]
([-1.0, 1.0], [0.0])
>>> T = sp.Rational(1, 10)   # v = x²: ∫ exp(−2x²/T) = sqrt(πT/2)
>>> round(float(log_partition_1d(x**2, 0, T, x, (-5, 5))), 12) == round(float(sp.log(sp.sqrt(sp.pi * T / 2))), 12)
True
"""
from __future__ import annotations

import functools

import mpmath
import sympy as sp

from theory.coordinates import as_expr, as_theta
from theory.free_energy import FreeEnergyInputError, free_energy_integrand, gibbs_log_density, kl_integrand
from theory.laplace import LaplaceError, leading_order_covariance
from theory.laplace import _as_list  # the strict per-basin list converter (strings refused)

__all__ = [
    "LaplaceError",
    "FreeEnergyInputError",
    "find_critical_points_1d",
    "exact_basin_log_masses_1d",
    "log_partition_1d",
    "free_energy_1d",
    "kl_divergence_1d",
]

# symbols of the compiled theory expressions
_V, _A, _T, _P, _LP, _LQ, _H = sp.symbols("v a T p log_p log_q h")


@functools.lru_cache(maxsize=1)
def _gibbs():
    """``theory.free_energy.gibbs_log_density`` compiled to mpmath: (v, a, T) ↦ −(2/T)v − a."""
    return sp.lambdify((_V, _A, _T), gibbs_log_density(_V, _A, _T), modules="mpmath")


@functools.lru_cache(maxsize=1)
def _laplace_variance():
    """``theory.laplace.leading_order_covariance`` for p = 1 with C = v''(μ), D = 1, compiled to
    mpmath: (v''(μ), T) ↦ Σ = T/(2 v''(μ)) (SC App. B.2 eq. 25; the width of the Laplace peak)."""
    return sp.lambdify((_H, _T), leading_order_covariance(sp.Matrix([[_H]]), sp.Matrix([[1]]), _T)[0, 0],
                       modules="mpmath")


@functools.lru_cache(maxsize=1)
def _free_energy_density():
    """``theory.free_energy.free_energy_integrand`` compiled to mpmath: (p, v, a, T) ↦
    p v + (T/2) p a + (T/2) p log p."""
    return sp.lambdify((_P, _V, _A, _T), free_energy_integrand(_P, _V, _A, _T), modules="mpmath")


@functools.lru_cache(maxsize=1)
def _kl_density():
    """``theory.free_energy.kl_integrand`` compiled to mpmath: (p, log q) ↦ p (log p − log q)."""
    return sp.lambdify((_P, _LQ), kl_integrand(_P, _LQ), modules="mpmath")


# ----------------------------------------------------------------------------------------------
# critical points and basin masses (SC.eq6's exact counterpart)
# ----------------------------------------------------------------------------------------------
def _positive_temperature(T) -> sp.Expr:
    T = as_expr(T, name="T")
    if not T.is_number:
        raise LaplaceError(f"temperature T must be a number for quadrature; got {T}")
    if not T.is_real or not (T > 0):
        raise LaplaceError(f"temperature T must be positive; got T = {T}")
    return T


def _bracketed_root(f, a, b, dps):
    """Root of f in [a, b] (sign change): the anderson solver, or bisection when it cannot reach
    full precision (roots of odd multiplicity > 1, e.g. the derivative at an x⁴ extremum)."""
    try:
        return mpmath.findroot(f, (a, b), solver="anderson")
    except ValueError:
        fa = f(a)
        for _ in range(int(3.4 * dps) + 10):  # 3.4 halvings per decimal digit
            m = (a + b) / 2
            fm = f(m)
            if fm == 0:
                return m
            if (fm < 0) == (fa < 0):
                a, fa = m, fm
            else:
                b = m
        return (a + b) / 2


def find_critical_points_1d(v, x, lower, upper, *, grid: int = 2000, dps: int = 30):
    """Minima and maxima of a 1-D expression ``v(x)`` on ``[lower, upper]``.

    Sign changes of v' on a uniform grid of ``grid`` cells (evaluated in float64), refined with
    ``mpmath.findroot`` (bracketing ``anderson`` solver, bisection as fallback) at ``dps`` digits;
    minimum or maximum by the direction of the sign change, so degenerate extrema (v'' = 0, e.g.
    x⁴) are classified correctly and stationary inflection points (x³) are not extrema. Returns
    ``(minima, maxima)`` as sorted lists of ``sp.Float``. Raises :class:`theory.laplace.LaplaceError`
    for an empty interval or a v with free symbols other than x.

    >>> x = sp.Symbol("x", real=True)
    >>> mins, maxs = find_critical_points_1d(x**4 - x**2, x, -2, 2)
    >>> [round(float(m), 12) for m in mins], [float(m) for m in maxs]   # ±1/√2 and 0
    ([-0.707106781187, 0.707106781187], [0.0])
    """
    x = as_theta(x)[0]
    v = as_expr(v, name="v")
    lower, upper = as_expr(lower, name="lower"), as_expr(upper, name="upper")
    if not (float(lower) < float(upper)):
        raise LaplaceError(f"need lower < upper; got [{lower}, {upper}]")
    if v.free_symbols - {x}:
        raise LaplaceError(f"v must depend only on {x} here (substitute T etc. first); "
                           f"free symbols {sorted(map(str, v.free_symbols))}")
    dv_expr = sp.diff(v, x)
    dv_fast = sp.lambdify(x, dv_expr, "math")          # float scan for sign changes
    dv = sp.lambdify(x, dv_expr, "mpmath")
    minima, maxima = [], []
    lo, hi = float(lower), float(upper)
    xs = [lo + (hi - lo) * i / grid for i in range(grid + 1)]
    ds = [dv_fast(t) for t in xs]
    # Classified by the direction of v''s sign change (not by v'', which vanishes at degenerate
    # extrema such as x⁴); a zero exactly on a node is judged by its neighbours (x³: no extremum).
    with mpmath.workdps(dps):
        for i in range(grid):
            if ds[i] * ds[i + 1] < 0:
                r = _bracketed_root(dv, mpmath.mpf(xs[i]), mpmath.mpf(xs[i + 1]), dps)
                (minima if ds[i] < 0 else maxima).append(sp.Float(r, dps))
            elif ds[i] == 0 and 0 < i:
                if ds[i - 1] < 0 < ds[i + 1]:
                    minima.append(sp.Float(xs[i], dps))
                elif ds[i - 1] > 0 > ds[i + 1]:
                    maxima.append(sp.Float(xs[i], dps))
    return sorted(set(minima)), sorted(set(maxima))


def exact_basin_log_masses_1d(v, x, T, minima, *, lower, upper, maxima=None,
                              dps: int = 15) -> list:
    """log ``∫_{basin k} exp(−2v(x)/T) dx`` by mpmath quadrature, basins split at the maxima.

    The exact counterpart of SC.eq6's Laplace masses (:func:`theory.laplace.laplace_log_mass`).
    ``minima`` sorted; ``maxima`` (default: found between consecutive minima by
    :func:`find_critical_points_1d`) are the basin boundaries; the outer basins extend to
    ``lower``/``upper``. With ``g = theory.free_energy.gibbs_log_density`` (−2v/T)::

        log m_k = g(v(μ_k)) + log ∫_{basin k} exp(g(v(x) − v(μ_k))) dx

    the integrand shifted by its peak, with extra nodes at μ_k ± (0, 2, 6) σ_k,
    σ_k² = T/(2 v''(μ_k)) (``theory.laplace.leading_order_covariance``), so tiny T is fine. T must
    be a positive number. Returns a list of ``mpmath.mpf``; raises :class:`theory.laplace.LaplaceError`.

    >>> x = sp.Symbol("x", real=True)
    >>> T = sp.Rational(1, 20)     # v = x²/2: ∫ exp(−x²/T) = sqrt(πT)
    >>> [lm] = exact_basin_log_masses_1d(x**2 / 2, x, T, [0], lower=-3, upper=3)
    >>> abs(float(lm) - float(sp.log(sp.sqrt(sp.pi * T)))) < 1e-12
    True
    """
    x = as_theta(x)[0]
    T = _positive_temperature(T)
    v = as_expr(v, name="v")
    lower, upper = as_expr(lower, name="lower"), as_expr(upper, name="upper")
    minima = _as_list(minima, "minima")
    if maxima is not None:
        maxima = _as_list(maxima, "maxima")
    if not minima:
        raise LaplaceError("minima is empty")
    mins = [mpmath.mpf(str(sp.Float(m, dps))) for m in minima]
    if any(mins[i] >= mins[i + 1] for i in range(len(mins) - 1)):
        raise LaplaceError("minima must be sorted increasingly and distinct")
    if maxima is None:
        _, all_max = find_critical_points_1d(v, x, lower, upper, dps=dps)
        maxima = []
        for i in range(len(mins) - 1):
            between = [m for m in all_max if mins[i] < m < mins[i + 1]]
            if len(between) != 1:
                raise LaplaceError(f"expected one maximum between minima {i} and {i + 1}; "
                                   f"found {len(between)}: pass maxima explicitly")
            maxima.append(between[0])
    if len(maxima) != len(mins) - 1:
        raise LaplaceError("need exactly one boundary (maximum) between consecutive minima")
    gibbs, variance = _gibbs(), _laplace_variance()
    with mpmath.workdps(dps):
        Tm = mpmath.mpf(str(sp.Float(T, dps)))
        v_num = sp.N(v, dps)                     # constants (π, √2, rationals) pre-evaluated
        f = sp.lambdify(x, v_num, "mpmath")
        f2 = sp.lambdify(x, sp.N(sp.diff(v, x, 2), dps), "mpmath")
        edges = ([mpmath.mpf(str(sp.Float(lower, dps)))] + [mpmath.mpf(str(sp.Float(m, dps))) for m in maxima]
                 + [mpmath.mpf(str(sp.Float(upper, dps)))])
        out = []
        for k, mu in enumerate(mins):
            vmin = f(mu)
            curv = f2(mu)
            width = mpmath.sqrt(variance(curv, Tm)) if curv > 0 else mpmath.mpf("0.01")
            lo, hi = edges[k], edges[k + 1]
            nodes = [lo] + sorted(t for t in (mu + s * width for s in (-6, -2, 0, 2, 6))
                                  if lo < t < hi) + [hi]
            val = mpmath.quad(lambda t: mpmath.exp(gibbs(f(t) - vmin, 0, Tm)), nodes)
            out.append(gibbs(vmin, 0, Tm) + mpmath.log(val))
        return out


# ----------------------------------------------------------------------------------------------
# log Z, free energy, KL (RND.eq28, App. E eq. 56)
# ----------------------------------------------------------------------------------------------
def _compile_1d(expr, theta):
    th = as_theta(theta)
    if len(th) != 1:
        raise FreeEnergyInputError(f"1-D quadrature needs one coordinate; got {len(th)}")
    expr = as_expr(expr)
    extra = expr.free_symbols - {th[0]}
    if extra:
        raise FreeEnergyInputError(f"substitute numbers for {sorted(map(str, extra))} before quadrature")
    return sp.lambdify(th[0], expr, modules="mpmath")


def _number(x, name: str = "T") -> mpmath.mpf:
    x = as_expr(x, name=name)
    if not x.is_number:
        raise FreeEnergyInputError(f"{name} must be a number for quadrature; got {x}")
    return mpmath.mpf(sp.Float(x, mpmath.mp.dps)._mpf_)


def _check_interval(interval):
    if isinstance(interval, (str, bytes, bytearray)) or len(interval) != 2:
        as_expr(interval, name="interval")  # a string: the typed refusal
        raise FreeEnergyInputError(f"interval must be (low, high); got {interval!r}")
    lo, hi = _number(interval[0], "interval[0]"), _number(interval[1], "interval[1]")
    if not hi > lo:
        raise FreeEnergyInputError(f"interval must be (low, high) with low < high; got {interval}")
    return lo, hi


def _log_quad_exp(log_f, lo, hi):
    """``(log ∫_lo^hi exp(log_f), breakpoints)`` by mpmath quadrature of ``exp(log_f − m)``, m the
    largest of 401 samples of log_f, with the sample's argmax as an extra breakpoint.

    The shift matters: mpmath's error control is absolute, so an unshifted integrand of size
    e^{−2000} (T = 1/200) 'converges' at the first degree — 0.7 % off for a peak of width 0.035."""
    xs = mpmath.linspace(lo, hi, 401)
    vals = [log_f(t) for t in xs]
    k = max(range(len(xs)), key=lambda i: vals[i])
    m = vals[k]
    pts = sorted(set(mpmath.linspace(lo, hi, 9)) | {xs[k]})
    integral = mpmath.quad(lambda t: mpmath.exp(log_f(t) - m), pts)
    if not integral > 0:
        return mpmath.ninf, pts
    return m + mpmath.log(integral), pts


def log_partition_1d(v, a, T, theta, interval, *, dps: int = 30) -> mpmath.mpf:
    """``log Z = log ∫ exp(−(2/T)ṽ − ã) dθ`` over ``interval`` (RND.eq28's partition function;
    mpmath quadrature of the integrand shifted by its largest sampled value).

    The exponent is ``theory.free_energy.gibbs_log_density(ṽ, ã, T)``; ṽ, ã depend on θ only and
    T is a number. Raises :class:`theory.free_energy.FreeEnergyInputError` for free symbols, a bad
    interval, or an integral that is not positive.

    >>> x = sp.Symbol("x", real=True)
    >>> float(log_partition_1d(0, 0, 1, x, (0, 2)))    # log 2
    0.6931471805599453
    """
    with mpmath.workdps(dps):
        g = _compile_1d(gibbs_log_density(v, a, T), theta)
        lo, hi = _check_interval(interval)
        logZ, _ = _log_quad_exp(g, lo, hi)
        if not mpmath.isfinite(logZ):
            raise FreeEnergyInputError("∫ exp(−2ṽ/T − ã) is not positive on the interval")
        return logZ


def free_energy_1d(log_density, v, a, T, theta, interval, *, dps: int = 30) -> mpmath.mpf:
    """F(p) of RND App. E eq. 56 by quadrature, for p ∝ exp(log_density) normalised on ``interval``::

        F(p) = ∫ [p ṽ + (T/2) p ã + (T/2) p log p] dθ,     p = exp(log_density − log N)

    the integrand being ``theory.free_energy.free_energy_integrand``. At the Gibbs density
    (``log_density = gibbs_log_density(ṽ, ã, T)``) this is ``−(T/2) log Z``
    (``theory.free_energy.minimum_free_energy_corrected``).

    >>> x = sp.Symbol("x", real=True)
    >>> T = sp.Rational(1, 2)
    >>> F = free_energy_1d(-4 * x**2, x**2, 0, T, x, (-6, 6))            # p* = N(0, T/4)
    >>> abs(float(F) + float(T / 2 * log_partition_1d(x**2, 0, T, x, (-6, 6)))) < 1e-12
    True
    """
    with mpmath.workdps(dps):
        lp = _compile_1d(log_density, theta)
        vf, af = _compile_1d(v, theta), _compile_1d(as_expr(a), theta)
        lo, hi = _check_interval(interval)
        Tn = _number(T)
        logN, pts = _log_quad_exp(lp, lo, hi)
        density = _free_energy_density()
        return mpmath.quad(lambda t: density(mpmath.exp(lp(t) - logN), vf(t), af(t), Tn), pts)


def kl_divergence_1d(log_p, log_q, theta, interval, *, dps: int = 30) -> mpmath.mpf:
    """KL(p ‖ q) = ∫ p (log p − log q) for p ∝ exp(log_p), q ∝ exp(log_q), both normalised on
    ``interval`` (the integrand ``theory.free_energy.kl_integrand``).

    >>> x = sp.Symbol("x", real=True)     # N(1, ½) vs N(0, ½): KL = (Δμ)²/(2σ²) = 1
    >>> round(float(kl_divergence_1d(-(x - 1)**2, -x**2, x, (-12, 12))), 12)
    1.0
    """
    with mpmath.workdps(dps):
        fp, fq = _compile_1d(log_p, theta), _compile_1d(log_q, theta)
        lo, hi = _check_interval(interval)
        lNp, pts = _log_quad_exp(fp, lo, hi)
        lNq, _ = _log_quad_exp(fq, lo, hi)
        kl = _kl_density()
        return mpmath.quad(lambda t: kl(mpmath.exp(fp(t) - lNp), fq(t) - lNq), pts)
