"""Shared step of the checks whose claim needs C̃ and D̃ to commute (SC.B2.cov, RND.eq27): that is
what the zero-curl assumption (SC App. B.1 Assumption 1; RND App. B) means at a minimum. Not a checks
module (leading underscore: not auto-loaded)."""
from __future__ import annotations

import sympy as sp

from theory.identity import check_zero


def zero_curl_at_minimum_means_commuting():
    """At a train minimum (∂Ũ = 0) the Jacobian of the drift D̃⁻¹∂Ũ is D̃⁻¹C̃; zero curl (SC.A1, RND
    App. B) makes it symmetric, and for symmetric C̃, D̃: D̃⁻¹C̃ − (D̃⁻¹C̃)ᵀ = D̃⁻¹(C̃D̃ − D̃C̃)D̃⁻¹, so
    zero curl at the minimum ⟺ C̃D̃ = D̃C̃. Proven for generic symmetric 2×2 matrices; returns the
    :class:`~theory.identity.IdentityResult`."""
    c11, c12, c22, d11, d12, d22 = sp.symbols("c11 c12 c22 d11 d12 d22", real=True)
    C = sp.Matrix([[c11, c12], [c12, c22]])
    D = sp.Matrix([[d11, d12], [d12, d22]])
    Di = D.inv()
    return check_zero(sp.simplify(Di * C - (Di * C).T - Di * (C * D - D * C) * Di))
