"""SGD's implicit objective: the free energy whose minimiser is the steady state (RND.eq28, App. E).

RND App. E eq. 56 (SC's factor-2 convention, ρ ∝ exp(−2ṽ/T − ã))::

    F(p) = ⟨ṽ⟩_p + (T/2) ⟨ã⟩_p − (T/2) h(p),         h(p) = −∫ p log p

Gibbs form: with ``p*(θ) = exp(−(2/T)ṽ − ã) / Z`` and ``Z = ∫ exp(−(2/T)ṽ − ã) dθ``, for every
density p::

    F(p) = (T/2) KL(p ‖ p*) − (T/2) log Z   ≥   F(p*) = −(T/2) log Z .

So p* is the unique minimiser, and the minimum value is ``−(T/2) log Z``. App. E states
``F(ρ) = −T log Z``: that is the minimum of the main-text objective RND eq. 28,
``2⟨ṽ⟩ + T⟨ã⟩ − T h(p) = 2F(p)``, not of F itself.

Symbolic helpers work on SymPy expressions; the ``*_1d`` helpers evaluate one-dimensional
integrals by mpmath quadrature (arbitrary exponent range, so exp(−2ṽ/T) neither under- nor
overflows at small T).
"""
from __future__ import annotations

import mpmath
import sympy as sp

from ._compat import renamed as _renamed
from .coordinates import as_theta
from .coordinates import as_expr

__all__ = [
    "FreeEnergyInputError",
    "gibbs_log_density",
    "free_energy_integrand",
    "kl_integrand",
    "minimum_free_energy_corrected",
    "minimum_free_energy_printed",
    "gaussian_free_energy",
    "log_partition_1d",
    "free_energy_1d",
    "kl_divergence_1d",
]


class FreeEnergyInputError(ValueError):
    """Inputs that cannot define the free energy (wrong dimension, bad interval, non-normalisable)."""


def gibbs_log_density(v, a, T) -> sp.Expr:
    """Unnormalised log steady state ``−(2/T) ṽ − ã`` (RND.eq19; log p* = this − log Z)."""
    return -2 * as_expr(v, name="v") / as_expr(T, name="T") - as_expr(a, name="a")


def free_energy_integrand(p, v, a, T) -> sp.Expr:
    """Pointwise integrand of App. E eq. 56: ``p ṽ + (T/2) p ã + (T/2) p log p`` (∫ of it is F(p))."""
    p, v, a, T = (as_expr(e, name=n) for e, n in ((p, "p"), (v, "v"), (a, "a"), (T, "T")))
    return p * v + T / 2 * p * a + T / 2 * p * sp.log(p)


def kl_integrand(p, log_q) -> sp.Expr:
    """``p (log p − log q)``; its integral is KL(p ‖ q) when both are normalised."""
    p, log_q = as_expr(p, name="p"), as_expr(log_q, name="log_q")
    return p * (sp.log(p) - log_q)


def minimum_free_energy_corrected(log_Z, T) -> sp.Expr:
    """Minimum of App. E eq. 56: ``F(p*) = −(T/2) log Z`` (derived; see module docstring)."""
    return -as_expr(T, name="T") / 2 * as_expr(log_Z, name="log_Z")


def minimum_free_energy_printed(log_Z, T) -> sp.Expr:
    """The value App. E prints for ``F(ρ)``: ``−T log Z`` (equals min of 2F, RND eq. 28)."""
    return -as_expr(T, name="T") * as_expr(log_Z, name="log_Z")


def gaussian_free_energy(mean, var, v, a, T, theta) -> sp.Expr:
    """F(p) of App. E eq. 56 for a 1-D Gaussian ``p = N(mean, var)`` and polynomial ṽ, ã.

    Gaussian moments are taken exactly (``E[(θ−m)^{2j}] = var^j (2j−1)!!``); the entropy is
    ``½ log(2πe var)``. Raises :class:`FreeEnergyInputError` for non-polynomial ṽ, ã or p ≠ 1.
    """
    th = as_theta(theta)
    if len(th) != 1:
        raise FreeEnergyInputError(f"gaussian_free_energy is 1-D; got theta with {len(th)} coordinates")
    x = th[0]
    mean, var, T = as_expr(mean, name="mean"), as_expr(var, name="var"), as_expr(T, name="T")
    v, a = as_expr(v, name="v"), as_expr(a, name="a")

    def expect(f):
        f = as_expr(f)
        if not f.is_polynomial(x):
            raise FreeEnergyInputError(f"{f} is not a polynomial in {x}: use free_energy_1d (quadrature)")
        y = sp.Dummy("y")
        poly = sp.Poly(sp.expand(f.subs(x, mean + y)), y)
        total = sp.Integer(0)
        for (deg,), c in poly.terms():
            if deg % 2 == 0:
                total += c * var ** (deg // 2) * sp.factorial2(deg - 1)
        return total

    entropy = sp.log(2 * sp.pi * sp.E * var) / 2
    return expect(v) + T / 2 * expect(a) - T / 2 * entropy


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
    """``log Z = log ∫ exp(−(2/T)ṽ − ã) dθ`` over ``interval`` (mpmath quadrature, log-shifted)."""
    with mpmath.workdps(dps):
        g = _compile_1d(gibbs_log_density(v, a, T), theta)
        lo, hi = _check_interval(interval)
        logZ, _ = _log_quad_exp(g, lo, hi)
        if not mpmath.isfinite(logZ):
            raise FreeEnergyInputError("∫ exp(−2ṽ/T − ã) is not positive on the interval")
        return logZ


def free_energy_1d(log_density, v, a, T, theta, interval, *, dps: int = 30) -> mpmath.mpf:
    """F(p) (App. E eq. 56) by quadrature, for p ∝ exp(log_density) normalised on ``interval``."""
    with mpmath.workdps(dps):
        lp = _compile_1d(log_density, theta)
        vf, af = _compile_1d(v, theta), _compile_1d(as_expr(a), theta)
        lo, hi = _check_interval(interval)
        Tn = _number(T)
        logN, pts = _log_quad_exp(lp, lo, hi)

        def integrand(t):
            lpt = lp(t) - logN
            p = mpmath.exp(lpt)
            return p * (vf(t) + Tn / 2 * af(t) + Tn / 2 * lpt)

        return mpmath.quad(integrand, pts)


def kl_divergence_1d(log_p, log_q, theta, interval, *, dps: int = 30) -> mpmath.mpf:
    """KL(p ‖ q) for p ∝ exp(log_p), q ∝ exp(log_q), both normalised on ``interval``."""
    with mpmath.workdps(dps):
        fp, fq = _compile_1d(log_p, theta), _compile_1d(log_q, theta)
        lo, hi = _check_interval(interval)
        lNp, pts = _log_quad_exp(fp, lo, hi)
        lNq, _ = _log_quad_exp(fq, lo, hi)
        return mpmath.quad(lambda t: mpmath.exp(fp(t) - lNp) * ((fp(t) - lNp) - (fq(t) - lNq)), pts)


#: old names (used by notebooks/03), served with a DeprecationWarning until they are updated
__getattr__ = _renamed(__name__, globals(), {"minimum_free_energy": "minimum_free_energy_corrected",
                                             "printed_minimum_free_energy": "minimum_free_energy_printed"})
