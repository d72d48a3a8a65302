"""Overparametrized models: SGD with ℓ2 regularisation and added isotropic noise (SC.eq13, SC App. D).

When p exceeds the number of training samples, D(θ) is singular and SC.eq5 has no D⁻¹. SC.eq13
modifies SGD: an ℓ2 term α|θ|²/2 on the train loss and isotropic Gaussian noise of size β, so
that one step ``Δ = −λ(∂U_batch + αθ) + sqrt(λT) β w`` (w ∼ N(0, I)) has

    mean  −λ (∂U + αθ),        covariance  λT (D + β² I)          (SC App. D.3)

and the Fokker–Planck current (SC.eq10 form) becomes

    J = (∂U + αθ) ρ + (T/2) ∂·((D + β² I) ρ).

The steady state keeps the SC.eq5 form ``ρ ∝ exp(−2v/T)`` with
``v = effective_potential(U + α|θ|²/2, D + β² I)``.

Flat directions (U and D independent of θ_j, row/column j of D zero): J_j = 0 reads
``αθ_j ρ + (T/2) β² ∂_j ρ = 0``, so ρ ∝ exp(−α θ_j² / (T β²)) — a Gaussian of mean 0 and variance

    Var θ_j = T β² / (2α)

(the Itô SDE ``dθ_j = −αθ_j dt + β sqrt(T) dW`` gives the same). SC App. D.1 states the variance
as ``T β / α``; see :func:`flat_direction_variance_printed`.
"""
from __future__ import annotations

import sympy as sp

from .budget import DEFAULT_BUDGET_S, run_within
from .coordinates import as_square_matrix, as_theta, gradient
from .effective_potential import effective_potential
from .coordinates import as_expr

__all__ = [
    "ModifiedSGDError",
    "regularized_potential",
    "regularized_diffusion",
    "modified_sgd_step_moments",
    "modified_effective_potential",
    "modified_steady_state",
    "flat_directions",
    "flat_direction_variance_corrected",
    "flat_direction_variance_printed",
    "discrete_flat_direction_variance",
]


class ModifiedSGDError(ValueError):
    """Invalid α, β or step size for the modified SGD of SC.eq13."""


def _positive(name, value):
    value = as_expr(value, name=name)
    if value.is_number and not value > 0:
        raise ModifiedSGDError(f"{name} must be > 0 for SC.eq13 (got {value}); with {name} = 0 "
                               "the flat directions have no restoring drift or no noise")
    return value


def regularized_potential(U, theta, alpha) -> sp.Expr:
    """``U + (α/2) θᵀθ`` (ℓ2-regularised train loss of SC.eq13)."""
    th = as_theta(theta)
    return as_expr(U, name="U") + _positive("alpha", alpha) * (th.T * th)[0, 0] / 2


def regularized_diffusion(D, theta, beta) -> sp.Matrix:
    """``D + β² I`` — the diffusion matrix of the modified SGD (SC.eq13, App. D.3)."""
    th = as_theta(theta)
    p = len(th)
    return as_square_matrix(D, p) + _positive("beta", beta) ** 2 * sp.eye(p)


def modified_sgd_step_moments(U, D, theta, *, lr, T, alpha, beta):
    """Mean ``−λ(∂U + αθ)`` and covariance ``λT(D + β²I)`` of one SC.eq13 step (T = λ/B)."""
    th = as_theta(theta)
    lr, T = as_expr(lr, name="lr"), as_expr(T, name="T")
    mean = -lr * gradient(regularized_potential(U, th, alpha), th)
    cov = lr * T * regularized_diffusion(D, th, beta)
    return mean, cov


def modified_effective_potential(U, D, theta, T, *, alpha, beta, base_point=0,
                                 budget_s=DEFAULT_BUDGET_S, closed_form_only: bool = False) -> sp.Expr:
    """SC.eq5 effective potential of the modified SGD: ``v`` for ``U + α|θ|²/2`` and ``D + β²I``.

    Raises the errors of :func:`theory.effective_potential.effective_potential`
    (``NonConservativeError`` when the modified drift has non-zero curl). ``base_point``,
    ``budget_s`` (seconds, default 20, None = no limit) and ``closed_form_only`` as there: without
    a closed form (or not within the budget) v is the exact ``sympy.Integral`` from the base point.
    """
    th = as_theta(theta)
    T = as_expr(T, name="T")
    return effective_potential(regularized_potential(U, th, alpha),
                               regularized_diffusion(D, th, beta), th, T, base_point=base_point,
                               budget_s=budget_s, closed_form_only=closed_form_only)


def modified_steady_state(U, D, theta, T, *, alpha, beta, base_point=0, budget_s=DEFAULT_BUDGET_S,
                          closed_form_only: bool = False) -> sp.Expr:
    """Unnormalised steady state ``exp(−2v/T)`` of the modified SGD (SC.eq13 + SC.eq5); keywords
    as in :func:`modified_effective_potential`."""
    T = as_expr(T, name="T")
    v = modified_effective_potential(U, D, theta, T, alpha=alpha, beta=beta, base_point=base_point,
                                     budget_s=budget_s, closed_form_only=closed_form_only)
    return sp.exp(-2 * v / T)


def flat_directions(U, D, theta, *, budget_s=DEFAULT_BUDGET_S) -> list[int]:
    """Indices j with ∂_jU ≡ 0, D independent of θ_j, and row and column j of D identically 0.

    ``budget_s`` (seconds, default 20, None = no limit; :mod:`theory.budget`) bounds the
    simplifications that decide "≡ 0"; there is no fallback (an unfinished simplify decides
    nothing): :class:`theory.budget.SymbolicTimeoutError` when the budget runs out.
    """
    th = as_theta(theta)
    p = len(th)
    Dm = as_square_matrix(D, p)
    U = as_expr(U, name="U")
    return run_within(budget_s, _flat_directions, U, Dm, th,
                      step="deciding the flat directions (simplify of ∂_jU and of D)")


def _flat_directions(U, Dm, th) -> list[int]:
    p = len(th)
    out = []
    for j, s in enumerate(th):
        if sp.simplify(sp.diff(U, s)) != 0:
            continue
        if any(sp.simplify(sp.diff(e, s)) != 0 for e in Dm):
            continue
        if any(sp.simplify(Dm[j, i]) != 0 or sp.simplify(Dm[i, j]) != 0 for i in range(p)):
            continue
        out.append(j)
    return out


def flat_direction_variance_corrected(T, alpha, beta) -> sp.Expr:
    """Stationary variance ``T β² / (2α)`` of a flat direction under SC.eq13 (derived, see module)."""
    return as_expr(T, name="T") * as_expr(beta, name="beta") ** 2 / (2 * _positive("alpha", alpha))


def flat_direction_variance_printed(T, alpha, beta) -> sp.Expr:
    """The variance SC App. D.1 states for a flat direction: ``T β / α``."""
    return as_expr(T, name="T") * as_expr(beta, name="beta") / _positive("alpha", alpha)


def discrete_flat_direction_variance(lr, T, alpha, beta) -> sp.Expr:
    """Exact stationary variance of the discrete SC.eq13 update in a flat direction.

    ``θ ← (1 − λα) θ + sqrt(λT) β w`` is AR(1): variance ``λTβ² / (1 − (1 − λα)²) =
    Tβ² / (α (2 − λα))`` → ``Tβ²/(2α)`` as λ → 0. Needs ``0 < λα < 2`` (else it diverges).
    """
    lr, alpha = as_expr(lr, name="lr"), _positive("alpha", alpha)
    if (lr * alpha).is_number and not (0 < lr * alpha < 2):
        raise ModifiedSGDError(f"λα = {lr * alpha} is outside (0, 2): the discrete update diverges "
                               "in flat directions; lower the learning rate")
    return as_expr(T, name="T") * as_expr(beta, name="beta") ** 2 / (alpha * (2 - lr * alpha))
