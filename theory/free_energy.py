"""SGD's implicit objective: the free energy whose minimiser is the steady state (RND.eq28, App. E).

RND App. E eq. 56 (SC's factor-2 convention, ρ ∝ exp(−2ṽ/T − ã))::

    F(p) = ⟨ṽ⟩_p + (T/2) ⟨ã⟩_p − (T/2) h(p),         h(p) = −∫ p log p

Gibbs form: with ``p*(θ) = exp(−(2/T)ṽ − ã) / Z`` and ``Z = ∫ exp(−(2/T)ṽ − ã) dθ``, for every
density p::

    F(p) = (T/2) KL(p ‖ p*) − (T/2) log Z   ≥   F(p*) = −(T/2) log Z .

So p* is the unique minimiser, and the minimum value is ``−(T/2) log Z``. App. E states
``F(ρ) = −T log Z``: that is the minimum of the main-text objective RND eq. 28,
``2⟨ṽ⟩ + T⟨ã⟩ − T h(p) = 2F(p)``, not of F itself.

Everything here works on SymPy expressions. The 1-D quadratures of these integrands (log Z, F(p),
KL by mpmath, arbitrary exponent range so that exp(−2ṽ/T) neither under- nor overflows at small T)
are :func:`numerics.reference_quadrature.log_partition_1d`, ``free_energy_1d`` and
``kl_divergence_1d``; they raise :class:`FreeEnergyInputError` too.
"""
from __future__ import annotations

import sympy as sp

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
            raise FreeEnergyInputError(f"{f} is not a polynomial in {x}: use the quadrature "
                                       "numerics.reference_quadrature.free_energy_1d")
        y = sp.Dummy("y")
        poly = sp.Poly(sp.expand(f.subs(x, mean + y)), y)
        total = sp.Integer(0)
        for (deg,), c in poly.terms():
            if deg % 2 == 0:
                total += c * var ** (deg // 2) * sp.factorial2(deg - 1)
        return total

    entropy = sp.log(2 * sp.pi * sp.E * var) / 2
    return expect(v) + T / 2 * expect(a) - T / 2 * entropy
