"""The Fokker–Planck equation of SGD and its Langevin form (SC.eq10, SC.eq11; RND eq. 16).

Conventions (SC): temperature ``T = λ/B``; ``D(θ)`` the per-sample-gradient covariance;
``(∂·D)_i = Σ_j ∂_j D_ij``.

SC.eq10::

    ∂_t ρ = λ ∂·J,      J = ∂U ρ + (T/2) ∂·(D ρ)

(t counts SGD steps; with ``t' = λ t`` the equation reads ``∂_{t'} ρ = ∂·J`` and only T remains.
RND eq. 16 writes ``∂_t ρ = B T ∂·J`` and rescales ``t' = B t`` — the same equation since λ = BT.)
Note the sign convention: J here is *minus* the usual probability flux, so stationarity is
``∂·J = 0`` and detailed balance is ``J = 0``.

SC.eq11 (Itô)::

    dθ = −∂U dt + sqrt(T D) dW     (time t' = λ t)
"""
from __future__ import annotations

import sympy as sp

from .coordinates import as_column, as_expr, as_matrix, as_square_matrix, as_theta, divergence, gradient
from .budget import DEFAULT_BUDGET_S, Deadline, run_within
from .identity import _simplify

__all__ = [
    "probability_current",
    "fokker_planck_operator",
    "stationarity_residual",
    "langevin_sde",
    "ito_fokker_planck_operator",
    "ou_stationary_covariance",
    "gaussian_density",
]


def probability_current(rho, U, D, theta, T) -> sp.Matrix:
    """SC.eq10 current ``J = ∂U ρ + (T/2) ∂·(D ρ)`` as a p×1 Matrix.

    Parameters: ``rho`` density expression, ``U`` train loss, ``D`` diffusion matrix (p×p; a scalar
    when p = 1), ``theta`` coordinates, ``T`` temperature.
    """
    th = as_theta(theta)
    Dm = as_square_matrix(D, len(th))
    rho, U, T = as_expr(rho, name="rho"), as_expr(U, name="U"), as_expr(T, name="T")
    return gradient(U, th) * rho + sp.Rational(1, 2) * T * divergence(Dm * rho, th)


def fokker_planck_operator(rho, U, D, theta, T, *, lr=1) -> sp.Expr:
    """Right-hand side of SC.eq10, ``λ ∂·J`` (``lr`` = λ; λ = 1 gives the rescaled time t' = λt)."""
    th = as_theta(theta)
    lr = as_expr(lr, name="lr")
    J = probability_current(rho, U, D, th, T)
    return lr * sum(sp.diff(J[i], th[i]) for i in range(len(th)))


def stationarity_residual(rho, U, D, theta, T, *, budget_s=DEFAULT_BUDGET_S) -> sp.Expr:
    """``∂·J`` of a candidate density, simplified (0 iff ρ is stationary for SC.eq10).

    ``rho`` may contain unevaluated integrals (the non-elementary ``exp(−2v/T)`` of
    :func:`theory.effective_potential.effective_potential`): they are differentiated under the
    integral sign / at their limits. ``budget_s`` (seconds, None = no limit; :mod:`theory.budget`)
    bounds the simplification, which has no fallback: :class:`theory.budget.SymbolicTimeoutError`.
    """
    op = fokker_planck_operator(rho, U, D, theta, T)
    return run_within(budget_s, lambda: _simplify(sp.expand(op)),
                      step="simplifying the stationarity residual ∂·J")


def langevin_sde(U, D, theta, T):
    """SC.eq11: drift ``−∂U`` and noise covariance ``T D`` of ``dθ = −∂U dt + sqrt(T D) dW``.

    Returns ``(drift, noise_covariance)``; ``noise_covariance = b bᵀ`` for the noise matrix b.
    """
    th = as_theta(theta)
    Dm = as_square_matrix(D, len(th))
    return -gradient(U, th), as_expr(T, name="T") * Dm


def ito_fokker_planck_operator(drift, noise_covariance, rho, theta) -> sp.Expr:
    """Forward operator of the Itô SDE ``dθ = a dt + b dW`` with ``b bᵀ = noise_covariance``:
    ``−Σ_i ∂_i(a_i ρ) + ½ Σ_ij ∂_i ∂_j (Q_ij ρ)``."""
    th = as_theta(theta)
    p = len(th)
    a = as_column(drift, p, name="drift")
    Q = as_square_matrix(noise_covariance, p, name="noise_covariance")
    rho = as_expr(rho, name="rho")
    first = -sum(sp.diff(a[i] * rho, th[i]) for i in range(p))
    second = sp.Rational(1, 2) * sum(sp.diff(Q[i, j] * rho, th[i], th[j]) for i in range(p) for j in range(p))
    return first + second


def ou_stationary_covariance(H, D, T, *, budget_s=DEFAULT_BUDGET_S) -> sp.Matrix:
    """Exact stationary covariance Σ of ``dθ = −H θ dt + sqrt(T D) dW`` (U = ½θᵀHθ, constant D).

    Solves the Lyapunov equation ``H Σ + Σ Hᵀ = T D`` exactly (a linear system in the entries of
    the symmetric Σ). This is the true steady state also when the curl of D⁻¹Hθ is non-zero,
    where no J = 0 density exists (SC.B1.counter); compare with the Laplace form ``(T/2) H⁻¹ D``.
    ``budget_s`` bounds the call — the stability check, the solve and its simplification — with no
    fallback (:class:`theory.budget.SymbolicTimeoutError` when it runs out).
    """
    deadline = Deadline(budget_s)
    Hm, Dm = as_matrix(H, name="H"), as_matrix(D, name="D")
    T = as_expr(T, name="T")
    p = Hm.shape[0]
    if Hm.shape != (p, p) or Dm.shape != (p, p):
        raise ValueError(f"H and D must be square of the same size; got {Hm.shape}, {Dm.shape}")
    if not Hm.free_symbols:
        unstable = deadline.run(lambda: [ev for ev in Hm.eigenvals() if sp.re(sp.N(ev)) <= 0],
                                step="the stability check (eigenvalues of H)")
        if unstable:
            raise ValueError(f"H has eigenvalues {unstable} with non-positive real part: the OU process "
                             "has no stationary state (θ must sit at a strict minimum)")
    syms = [sp.Dummy(f"sigma{k}") for k in range(p * p)]  # Dummies: never clash with user symbols
    S = sp.Matrix(p, p, lambda i, j: syms[min(i, j) * p + max(i, j)])
    eqs = list(Hm * S + S * Hm.T - T * Dm)
    unknowns = [u for u in syms if u in S.free_symbols]
    sol = deadline.run(sp.solve, eqs, unknowns, dict=True, step="solving the Lyapunov equation")
    if not sol:
        raise ValueError("Lyapunov equation has no solution: H must have eigenvalues with positive "
                         "real part (a stable minimum)")
    return deadline.run(lambda: S.subs(sol[0]).applyfunc(sp.simplify),
                        step="simplifying the Lyapunov covariance")


def gaussian_density(mean, cov, theta) -> sp.Expr:
    """Unnormalised Gaussian ``exp(−½ (θ−μ)ᵀ Σ⁻¹ (θ−μ))``."""
    th = as_theta(theta)
    mu = as_column(mean, len(th), name="mean")
    cov = as_square_matrix(cov, len(th), name="cov")
    d = th - mu
    return sp.exp(-sp.Rational(1, 2) * (d.T * cov.inv() * d)[0, 0])
