"""Reparametrization y = r⁻¹(θ) of the test-loss terms (SC App. C; RND App. C eqs. 25–35).

Notation: the map is given as θ = r(y) (a p×1 column of expressions in the new coordinates y);
``J = ∂_y r`` with ``J_ij = ∂θ_i/∂y_j``. The laws stated by the papers are

* curvature at a critical point   ``C → Jᵀ C J``          (RND eq. 32; exact at ∂U = 0)
* shift                            ``s → J⁻¹ s``           (RND eq. 33; first order in s)
* covariance                       ``Σ → J⁻¹ Σ J⁻ᵀ``       (RND eq. 34)
* bias                             ``b → J⁻¹ b``           (SC App. C, eq. 27)
* diffusion tensor of an SDE       ``D → J⁻¹ D J⁻ᵀ``       (Itô's lemma; the noise is a vector)

and a density picks up the Jacobian, ``ρ^y(y) = ρ(r(y)) |det J(y)|``: for ``ρ ∝ e^{−2g/T}`` the
potential in y is ``g^y = g∘r − (T/2) log|det J|`` (:func:`pushforward_potential`). That
T-dependent term moves the mode by O(T), which is why the bias law fails at its own order
(see ``validation/checks/reparametrization.py``).
"""
from __future__ import annotations

import sympy as sp

from .coordinates import as_column, as_square_matrix, as_theta
from .coordinates import as_expr, as_matrix

__all__ = [
    "ReparametrizationError",
    "map_jacobian",
    "pullback",
    "transform_curvature",
    "transform_shift",
    "transform_covariance",
    "transform_bias",
    "transform_diffusion",
    "pushforward_potential",
    "ito_pushforward_sde",
]


class ReparametrizationError(ValueError):
    """The map or a transformed quantity has the wrong shape, or the Jacobian is singular."""


def _map_column(r, y):
    ys = as_theta(y)
    p = len(ys)
    try:
        R = as_column(r, p, name="r")
    except ValueError as exc:
        raise ReparametrizationError(f"{exc}; give θ = r(y) with one expression per coordinate") from exc
    return R, ys


def map_jacobian(r, y) -> sp.Matrix:
    """``J = ∂_y r``, entry (i, j) = ∂θ_i/∂y_j, for the map θ = r(y)."""
    R, ys = _map_column(r, y)
    return R.jacobian(ys)


def pullback(f, theta, r, y) -> sp.Expr:
    """``f^r(y) = f(r(y))`` (RND App. C notation)."""
    th = as_theta(theta)
    R, _ = _map_column(r, y)
    if len(th) != R.shape[0]:
        raise ReparametrizationError(f"theta has {len(th)} coordinates but r has {R.shape[0]}")
    return as_expr(f).subs(dict(zip(th, R)), simultaneous=True)


def _J(J):
    Jm = as_matrix(J, name="J")
    if Jm.shape[0] != Jm.shape[1]:
        raise ReparametrizationError(f"J must be square; got shape {Jm.shape}")
    return Jm


def _Jinv(J):
    Jm = _J(J)
    if Jm.det() == 0:
        raise ReparametrizationError("J is singular: r is not a local diffeomorphism at this point")
    return Jm.inv()


def transform_curvature(C, J) -> sp.Matrix:
    """RND eq. 32: ``C^r = Jᵀ C J`` (the Hessian of f∘r at a critical point of f)."""
    Jm = _J(J)
    return Jm.T * as_square_matrix(C, Jm.shape[0], name="C") * Jm


def transform_shift(s, J) -> sp.Matrix:
    """RND eq. 33: ``s^r ≈ J⁻¹ s`` (first order in s)."""
    Jm = _J(J)
    return _Jinv(Jm) * as_column(s, Jm.shape[0], name="s")


def transform_bias(b, J) -> sp.Matrix:
    """SC App. C (as stated): ``b^r ≈ J⁻¹ b``. Holds only for affine maps to O(T); see module doc."""
    return transform_shift(b, J)


def transform_covariance(cov, J) -> sp.Matrix:
    """RND eq. 34 (with its Σ⁻¹ typo corrected): ``Σ^r ≈ J⁻¹ Σ J⁻ᵀ``."""
    Jm = _J(J)
    Ji = _Jinv(Jm)
    return Ji * as_square_matrix(cov, Jm.shape[0], name="cov") * Ji.T


def transform_diffusion(D, J) -> sp.Matrix:
    """Diffusion tensor of the pushed-forward SDE: ``D^y = J⁻¹ D J⁻ᵀ``."""
    return transform_covariance(D, J)


def pushforward_potential(g, theta, r, y, T) -> sp.Expr:
    """Potential of the pushed-forward density: ``ρ ∝ e^{−2g/T}`` ⇒ ``ρ^y ∝ e^{−2g^y/T}`` with
    ``g^y(y) = g(r(y)) − (T/2) log|det J(y)|`` (factor 2 convention of SC.eq5)."""
    J = map_jacobian(r, y)
    T = as_expr(T, name="T")
    return pullback(g, theta, r, y) - sp.Rational(1, 2) * T * sp.log(sp.Abs(J.det()))


def ito_pushforward_sde(drift, noise_covariance, theta, r, y):
    """Itô SDE of y = r⁻¹(θ) when ``dθ = a dt + b dW``, ``bbᵀ = Q``, written in y.

    ``dy_i = [(J⁻¹a)_i + ½ Tr(∂²_θ y_i · Q)] dt + (J⁻¹ b dW)_i``, noise covariance ``J⁻¹QJ⁻ᵀ``;
    the θ-Hessian of y_i is ``∂_{θ_k}∂_{θ_l} y_i = Σ_j ∂_{y_j}(J⁻¹)_{ik} (J⁻¹)_{jl}`` so r⁻¹ is
    never needed in closed form. Returns ``(drift_y, Q_y)`` as functions of y.
    """
    th = as_theta(theta)
    R, ys = _map_column(r, y)
    p = len(ys)
    if len(th) != p:
        raise ReparametrizationError(f"theta has {len(th)} coordinates but y has {p}")
    sub = dict(zip(th, R))
    a = as_column(drift, p, name="drift").subs(sub, simultaneous=True)
    Q = as_square_matrix(noise_covariance, p, name="noise_covariance").subs(sub, simultaneous=True)
    Ji = _Jinv(R.jacobian(ys))
    ito = []
    for i in range(p):
        Hi = sp.Matrix(p, p, lambda k, l: sum(sp.diff(Ji[i, k], ys[j]) * Ji[j, l] for j in range(p)))
        ito.append(sp.Rational(1, 2) * (Hi * Q).trace())
    return Ji * a + sp.Matrix(ito), Ji * Q * Ji.T
