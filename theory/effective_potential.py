"""The effective potential of SGD and its zero-curl condition (SC.eq5, SC.A1, RND.eq19, SC App. B.1).

Conventions (SC): ``T = λ/B``; ``D(θ)`` the train gradient covariance; ``(∂·D)_i = Σ_j ∂_j D_ij``;
the FP current is ``J = ∂U ρ + (T/2) ∂·(D ρ)`` (SC.eq10, :mod:`theory.fokker_planck`).

Setting ``J = 0`` with D invertible gives, for ρ > 0,

    ∂ log ρ = −(2/T) V,        V = D⁻¹ (∂U + (T/2) ∂·D)                        (SC.eq5 integrand)

so a zero-current density exists iff V is a gradient, ``∂_j V_i = ∂_i V_j`` (SC.A1, RND App. B
eq. 19), and then ``ρ ∝ exp(−2 v/T)`` with ``v = ∫^θ V·dθ`` (SC.eq5; note the factor 2 and the
division by T). RND.eq19 writes the same density as ``exp(−(2/T) ṽ − ã)`` with
``ṽ = ∫ D⁻¹∂U·dθ``, ``ã = ∫ D⁻¹(∂·D)·dθ``, i.e. ``v = ṽ + (T/2) ã``.

Everything here is derived by SymPy: :func:`effective_potential` checks the curl, integrates the
line integral coordinate by coordinate and returns ``v`` only after verifying ``∂v = V`` exactly.
When no closed form exists (or SymPy cannot find one within the time budget), ``v`` is returned
as the exact definite integral from a stated base point θ0, an unevaluated ``sympy.Integral``:
``∫_{θ0}^{θ} V(s) ds`` for p = 1, and along the straight segment ``θ0 + t(θ − θ0)``, t ∈ [0, 1],
for p ≥ 2 (path-independent because the curl vanishes); :mod:`numerics.compile` evaluates such
integrals by quadrature. Every entry point takes ``budget_s`` (:mod:`theory.budget`).
The ``*_potential_printed`` functions transcribe the closed forms the papers print (SC footnote 3 and
App. B.1 examples), so that checks can compare the derived v with the printed one.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sympy as sp

from .coordinates import as_column, as_square_matrix, as_theta, gradient, hessian
from .coordinates import divergence as _divergence
from .fokker_planck import ou_stationary_covariance
from .budget import DEFAULT_BUDGET_S, Deadline
from .identity import _simplify, check_zero
from .inputs import (  # noqa: F401  (re-exported: the errors of the T/D checks)
    DiffusionNotPositiveDefiniteError,
    TemperatureError,
    TemperatureTypeError,
    checked_inputs,
)
from .coordinates import as_expr, as_matrix

__all__ = [
    "SingularDiffusionError",
    "NonConservativeError",
    "IntegrationError",
    "divergence",
    "mean_force",
    "drift_field_unsimplified",
    "drift_field",
    "curl",
    "line_integral",
    "effective_potential",
    "steady_state_density",
    "rnd_split",
    "zero_current_log_density_gradient",
    "equal_up_to_constant",
    "isotropic_potential_printed",
    "function_of_loss_potential_printed",
    "quadratic_inverse_hessian_potential_printed",
    "separable_potential_printed",
    "inverse_hessian_noise_potential",
    "CovarianceComparison",
    "curl_free_vs_true_covariance",
]

#: Re-export of :func:`theory.coordinates.divergence`: ``(∂·D)_i = Σ_j ∂_{θ_j} D_ij`` (p×1).
divergence = _divergence


class SingularDiffusionError(ValueError):
    """D(θ) is singular (det D ≡ 0): the SC.eq5 integrand D⁻¹(…) does not exist."""


class NonConservativeError(ValueError):
    """The drift field V has non-zero curl: no J = 0 steady state and no effective potential.

    Attributes
    ----------
    curl : sympy.Matrix
        the p×p matrix ``∂_j V_i − ∂_i V_j`` (entry (i, j)).
    counterexample : dict | None
        a point where a curl entry is numerically non-zero, when one was found.
    """

    def __init__(self, message: str, *, curl: sp.Matrix, counterexample: dict | None = None):
        super().__init__(message)
        self.curl = curl
        self.counterexample = counterexample


class IntegrationError(ValueError):
    """SymPy could not integrate the line integral in closed form (or verify ∂v = V)."""


# --------------------------------------------------------------------------------------------
# Drift field and curl
# --------------------------------------------------------------------------------------------
def _simplify_matrix(M: sp.Matrix, deadline: Deadline | None = None) -> sp.Matrix:
    """Entry-wise simplify; with a deadline, the unsimplified (equal) matrix when it runs out."""
    def simplify_all():
        return M.applyfunc(lambda e: _simplify(as_expr(e)))
    if deadline is None:
        return simplify_all()
    return deadline.attempt(simplify_all, step="simplify", fallback=M, share=0.5)[0]


def _check_invertible(Dm: sp.Matrix, deadline: Deadline | None = None) -> None:
    det = Dm.det()
    if deadline is None:
        det = _simplify(det)
    else:  # out of time: only a det that is 0 without simplification counts as singular
        det = deadline.attempt(_simplify, det, step="simplify det D", fallback=det,
                               share=0.5)[0]
    if det == 0:
        raise SingularDiffusionError(
            f"the diffusion matrix is singular (det D simplifies to 0 for D = {Dm.tolist()}), so "
            "D⁻¹(∂U + (T/2)∂·D) in SC.eq5 is undefined (overparametrized case). Remedy (SC.eq13): "
            "add ℓ2 regularisation α|θ|²/2 to U and isotropic noise β² I to D, i.e. use "
            "D + β²·eye(p) and U + α θᵀθ/2."
        )


def mean_force(U, D, theta, T) -> sp.Matrix:
    """``b = ∂U + (T/2) ∂·D`` (p×1): the numerator of the SC.eq5 integrand, ``D V = b``.

    By SC.eq10, ``J = b ρ + (T/2) D ∂ρ``, so a J = 0 density has ``∂ log ρ = −(2/T) D⁻¹ b``; a
    minimum μ of v(·, T) is a zero of b (SC.B2.bias, RND eq. 21). This is the one place the
    formula is typed; :func:`drift_field_unsimplified` and :func:`drift_field` build on it.

    >>> import sympy as sp
    >>> x, T = sp.Symbol("x", real=True), sp.Symbol("T", positive=True)
    >>> mean_force(x**2 / 2, 1 + x**2, x, T)
    Matrix([[T*x + x]])
    """
    th = as_theta(theta)
    Dm = as_square_matrix(D, len(th))
    U, T = as_expr(U, name="U"), as_expr(T, name="T")
    return gradient(U, th) + sp.Rational(1, 2) * T * _divergence(Dm, th)


def drift_field_unsimplified(U, D, theta, T) -> sp.Matrix:
    """SC.eq5 / SC.A1 integrand ``V = D⁻¹ (∂U + (T/2) ∂·D)`` assembled without ``simplify``
    (``D⁻¹ b`` by LU solve, b = :func:`mean_force`; for p = 1 ``b / D``).

    The same field as :func:`drift_field`, for callers that compile it (``numerics``) and cannot
    afford a simplify on sums of many Gaussian wells. It does not check that D is invertible: a
    singular D gives ``zoo``/``nan`` entries (``numerics.stationary.effective_potential_integrand``
    raises its typed error first).

    >>> import sympy as sp
    >>> x, T = sp.Symbol("x", real=True), sp.Symbol("T", positive=True)
    >>> drift_field_unsimplified(x**2 / 2, 1 + x**2, x, T)
    Matrix([[(T*x + x)/(x**2 + 1)]])
    """
    th = as_theta(theta)
    Dm = as_square_matrix(D, len(th))
    b = mean_force(U, Dm, th, T)
    return sp.Matrix([b[0] / Dm[0, 0]]) if len(th) == 1 else Dm.LUsolve(b)


@checked_inputs
def drift_field(U, D, theta, T, *, budget_s=DEFAULT_BUDGET_S) -> sp.Matrix:
    """SC.eq5 integrand ``V = D⁻¹ (∂U + (T/2) ∂·D)`` as a simplified p×1 Matrix.

    ``D`` is p×p (a scalar when p = 1). Raises :class:`SingularDiffusionError` when det D ≡ 0.
    By SC.eq10, ``J = 0`` for ρ > 0 is equivalent to ``∂ log ρ = −(2/T) V``. ``budget_s``
    (seconds, None = no limit; :mod:`theory.budget`) bounds the simplifications: when it runs out
    V is returned unsimplified (the same field).
    """
    th = as_theta(theta)
    p = len(th)
    Dm = as_square_matrix(D, p)
    U, T = as_expr(U, name="U"), as_expr(T, name="T")
    return _drift_field(U, Dm, th, T, Deadline(budget_s))


def _drift_field(U, Dm: sp.Matrix, th: sp.Matrix, T, deadline: Deadline) -> sp.Matrix:
    _check_invertible(Dm, deadline)
    return _simplify_matrix(drift_field_unsimplified(U, Dm, th, T), deadline)


def curl(V, theta, *, budget_s=DEFAULT_BUDGET_S) -> sp.Matrix:
    """Antisymmetric p×p curl matrix, entry (i, j) = ``∂V_i/∂θ_j − ∂V_j/∂θ_i`` (simplified).

    Zero iff V is (locally) a gradient — the potential conditions of SC.A1 / RND App. B eq. 19.
    An entry whose simplification does not finish within ``budget_s`` is returned unsimplified.
    """
    th = as_theta(theta)
    p = len(th)
    Vc = as_column(V, p, name="V")
    return _curl(Vc, th, Deadline(budget_s))


def _curl(Vc: sp.Matrix, th: sp.Matrix, deadline: Deadline) -> sp.Matrix:
    p = len(th)
    C = sp.zeros(p, p)
    for i in range(p):
        for j in range(i + 1, p):
            c = sp.diff(Vc[i], th[j]) - sp.diff(Vc[j], th[i])
            c = deadline.attempt(_simplify, c, step="simplify curl", fallback=c,
                                 share=0.5)[0]
            C[i, j], C[j, i] = c, -c
    return C


def _require_zero_curl(Vc: sp.Matrix, th: sp.Matrix, what: str,
                       deadline: Deadline | None = None) -> None:
    deadline = Deadline(None) if deadline is None else deadline
    C = _curl(Vc, th, deadline)
    nonzero = [(i, j) for i in range(len(th)) for j in range(i + 1, len(th)) if C[i, j] != 0]
    if not nonzero:
        return
    remaining = sp.Matrix([C[i, j] for i, j in nonzero])
    res = deadline.run(check_zero, remaining, try_exact=False, budget_s=None,
                       step=f"the zero-curl check (SC.A1) of {what}")
    if res.holds:  # simplify missed a zero; the numeric spot-check supplements (identity rule)
        return
    comps = ", ".join(f"curl[{i},{j}] = ∂V_{i}/∂θ_{j} − ∂V_{j}/∂θ_{i} = {C[i, j]}"
                      for i, j in nonzero)
    if res.counterexample is None:
        where = " (simplify could not reduce it to 0)"
    elif set(res.counterexample) == {"|difference|"}:
        where = " (a non-zero constant)"
    else:
        where = f"; e.g. at {res.counterexample}"
    raise NonConservativeError(
        f"{what} is not a gradient (SC.A1 fails): {comps}{where}. No zero-current steady state "
        "exists and the line integral of SC.eq5 is path-dependent; the true stationary density has "
        "a rotating current J ≠ 0 (e.g. the Lyapunov covariance for quadratic U, "
        "see curl_free_vs_true_covariance).",
        curl=C, counterexample=res.counterexample,
    )


def line_integral(V, theta, *, what: str = "V", base_point=0, budget_s=DEFAULT_BUDGET_S,
                  closed_form_only: bool = False) -> sp.Expr:
    """Path-independent potential ``φ`` with ``∂φ = V``.

    Checks that the curl of V vanishes (:class:`NonConservativeError` otherwise), then integrates
    ``V_1`` in θ_1, the residual ``V_2 − ∂_2 φ_1`` in θ_2, and so on, and returns φ only after
    verifying ``∂φ = V`` exactly; such a closed-form φ is an antiderivative (additive constant
    arbitrary; ``base_point`` plays no part).

    When SymPy finds no closed form — or does not finish within the time budget — φ is returned
    as the exact definite integral from the base point θ0 (``base_point``, default 0; a number
    for every coordinate, or one per coordinate), an unevaluated ``sympy.Integral`` with
    ``φ(θ0) = 0``:

    * p = 1: ``φ(θ) = Integral(V(s), (s, θ0, θ))`` (``s`` a Dummy); ``∂φ = V`` holds exactly;
    * p ≥ 2: along the straight segment ``θ0 + t(θ − θ0)``,
      ``φ(θ) = Integral(V(θ0 + t(θ − θ0))·(θ − θ0), (t, 0, 1))``. It equals the line integral
      along any other path, and ``∂φ = V``, because the curl vanishes (checked first) — valid
      where the segment from θ0 stays in the region where V is smooth (a star-shaped domain
      around θ0).

    θ0 must be a point where V is finite and real (``ValueError`` otherwise: choose another
    base point). :func:`numerics.compile.compile_expr` evaluates the Integral by quadrature.
    ``closed_form_only=True`` raises :class:`IntegrationError` instead of returning an Integral
    (and :class:`theory.budget.SymbolicTimeoutError` when the budget runs out first).

    ``budget_s`` (seconds, default 20, None = no limit) bounds the whole call: simplifications
    that run out fall back to the unsimplified expression, the closed-form search to the
    Integral; the zero-curl decision has no fallback and raises
    :class:`theory.budget.SymbolicTimeoutError`. Mechanism: :mod:`theory.budget`.
    """
    th = as_theta(theta)
    p = len(th)
    Vc = as_column(V, p, name="V")
    theta0 = _as_base_point(base_point, th)
    return _line_integral(Vc, th, what, theta0, Deadline(budget_s), closed_form_only)


def _as_base_point(base_point, th: sp.Matrix) -> list:
    """θ0 as a list of p finite real numbers (a scalar is used for every coordinate)."""
    p = len(th)
    if isinstance(base_point, (sp.MatrixBase, list, tuple)) or type(base_point).__name__ == "ndarray":
        entries = list(as_column(base_point, p, name="base_point"))
    else:
        entries = [as_expr(base_point, name="base_point")] * p
    for k, e in enumerate(entries):
        if isinstance(e, sp.MatrixBase) or e.free_symbols or not (e.is_extended_real and e.is_finite):
            raise ValueError(f"base_point must be finite real numbers (one per coordinate of theta); "
                             f"entry {k} is {e}")
    return entries


def _closed_form(Vc: sp.Matrix, th: sp.Matrix, what: str):
    """Coordinate-by-coordinate antiderivative; ``(φ, None)`` or ``(None, why not)``."""
    phi = sp.Integer(0)
    for k in range(len(th)):
        resid = _simplify(Vc[k] - sp.diff(phi, th[k]))
        if resid == 0:
            continue
        piece = sp.integrate(resid, th[k], conds="none")
        if piece.has(sp.Integral):
            return None, (f"SymPy could not integrate {resid} in {th[k]} (component {k} of {what})")
        phi = phi + piece
    residual = gradient(phi, th) - Vc
    if not all(_simplify(e) == 0 for e in residual):
        return None, f"could not verify ∂φ = {what} exactly for φ = {phi}; residual {list(residual)}"
    return phi, None


def _line_integral(Vc: sp.Matrix, th: sp.Matrix, what: str, theta0: list, deadline: Deadline,
                   closed_form_only: bool, share: float = 1.0) -> sp.Expr:
    _require_zero_curl(Vc, th, what, deadline)
    if closed_form_only:
        phi, why = deadline.run(_closed_form, Vc, th, what,
                                step=f"the closed-form integration of {what}")
        if phi is None:
            raise IntegrationError(
                f"{why}; give a simpler U or D, integrate by hand and check with "
                "equal_up_to_constant, or drop closed_form_only to get the exact definite integral "
                "from a base point (a sympy.Integral)")
        return phi
    (phi, _why), _ = deadline.attempt(_closed_form, Vc, th, what, fallback=(None, None),
                                      step=f"the closed-form integration of {what}", share=share)
    if phi is not None:
        return phi
    return _integral_from_base_point(Vc, th, theta0, what)


def _integral_from_base_point(Vc: sp.Matrix, th: sp.Matrix, theta0: list, what: str) -> sp.Integral:
    """``∫_{θ0}^{θ} V·dθ`` along the straight segment, as an unevaluated Integral (see line_integral)."""
    at0 = dict(zip(th, theta0))
    for k in range(len(th)):
        val = Vc[k].xreplace(at0)
        bad = val.has(sp.zoo, sp.oo, -sp.oo, sp.nan) or val.is_finite is False \
            or val.is_extended_real is False
        if bad:
            where = theta0[0] if len(th) == 1 else tuple(theta0)
            raise ValueError(
                f"base_point θ0 = {where} is not a point where {what} is finite and real "
                f"(component {k} there is {val}); pass base_point= a point inside the domain of V, "
                "e.g. a minimum of U")
    if len(th) == 1:
        x, x0 = th[0], theta0[0]
        s = sp.Dummy(f"{x.name}_s", real=True)
        return sp.Integral(Vc[0].xreplace({x: s}), (s, x0, x))
    t = sp.Dummy("t", real=True)
    on_segment = {th[k]: theta0[k] + t * (th[k] - theta0[k]) for k in range(len(th))}
    integrand = sum((Vc[k].xreplace(on_segment) * (th[k] - theta0[k]) for k in range(len(th))),
                    sp.Integer(0))
    return sp.Integral(integrand, (t, 0, 1))


# --------------------------------------------------------------------------------------------
# Effective potential (SC.eq5) and the RND split (RND.eq19)
# --------------------------------------------------------------------------------------------
@checked_inputs
def effective_potential(U, D, theta, T, *, base_point=0, budget_s=DEFAULT_BUDGET_S,
                        closed_form_only: bool = False) -> sp.Expr:
    """SC.eq5 effective potential ``v(θ,T) = ∫^θ D⁻¹(∂U + (T/2)∂·D)·dθ`` with ``ρ ∝ exp(−2v/T)``.

    Steps: build V (:func:`drift_field`; :class:`SingularDiffusionError` if det D ≡ 0), check its
    curl (:class:`NonConservativeError` with ``.curl`` if SC.A1 fails), integrate the
    path-independent line integral, verify ``∂v = V``. A closed-form v is defined up to an
    additive constant.

    Non-elementary v: when SymPy finds no closed form (or not within ``budget_s``), v is the exact
    definite integral from the base point θ0 = ``base_point`` (default 0; one number for every
    coordinate or one per coordinate; V must be finite there), returned as an unevaluated
    ``sympy.Integral`` with v(θ0) = 0 — ``Integral(V(s), (s, θ0, θ))`` for p = 1, and
    ``Integral(V(θ0 + t(θ − θ0))·(θ − θ0), (t, 0, 1))`` along the straight segment for p ≥ 2
    (see :func:`line_integral`). ``closed_form_only=True`` raises :class:`IntegrationError`
    instead. Compile it with :func:`numerics.compile.compile_expr` (quadrature).

    ``budget_s`` (seconds, default 20; None = no limit) bounds the whole call
    (:mod:`theory.budget`); the only step without an exact fallback, the zero-curl decision for
    p ≥ 2, raises :class:`theory.budget.SymbolicTimeoutError` when the budget runs out.

    ``theta``: a column Matrix, a list of Symbols, or one Symbol (then D may be a scalar).

    >>> x, T = sp.symbols('x T', positive=True)
    >>> effective_potential(x**2/2, 1, x, T)
    x**2/2
    >>> effective_potential(sp.cosh(x), 3 + sp.sin(x), x, T)  # no elementary antiderivative
    Integral((T*cos(_x_s)/2 + sinh(_x_s))/(sin(_x_s) + 3), (_x_s, 0, x))
    """
    th = as_theta(theta)
    Dm = as_square_matrix(D, len(th))
    U, T = as_expr(U, name="U"), as_expr(T, name="T")
    theta0 = _as_base_point(base_point, th)
    deadline = Deadline(budget_s)
    V = _drift_field(U, Dm, th, T, deadline)
    return _line_integral(V, th, "V = D⁻¹(∂U + (T/2)∂·D)", theta0, deadline, closed_form_only)


@checked_inputs
def steady_state_density(U, D, theta, T, *, base_point=0, budget_s=DEFAULT_BUDGET_S,
                         closed_form_only: bool = False) -> sp.Expr:
    """Unnormalised SC.eq5 steady state ``exp(−2 v(θ,T)/T)`` (J = 0 by construction).

    v as in :func:`effective_potential` (same keywords), possibly an unevaluated Integral.
    """
    th = as_theta(theta)
    D = as_square_matrix(D, len(th))
    U, T = as_expr(U, name="U"), as_expr(T, name="T")
    if T == 0:
        raise ValueError("T must be non-zero: the steady state exp(−2v/T) needs T = λ/B > 0")
    v = effective_potential(U, D, th, T, base_point=base_point, budget_s=budget_s,
                            closed_form_only=closed_form_only)
    return sp.exp(-2 * v / T)


@checked_inputs
def rnd_split(U, D, theta, *, base_point=0, budget_s=DEFAULT_BUDGET_S,
              closed_form_only: bool = False) -> tuple[sp.Expr, sp.Expr]:
    """RND.eq19 split ``(ṽ, ã)``: ``ṽ = ∫ D⁻¹∂U·dθ``, ``ã = ∫ D⁻¹(∂·D)·dθ``.

    Then ``ρ ∝ exp(−(2/T) ṽ − ã)`` and ``v = ṽ + (T/2) ã`` (SC.eq5). Each piece must be a gradient
    by itself; since curl V = curl(D⁻¹∂U) + (T/2) curl(D⁻¹∂·D) is affine in T, this is the same as
    SC.A1 holding for every T. Raises :class:`NonConservativeError` naming the failing piece.
    A piece without closed form is an Integral from ``base_point`` (see :func:`line_integral`);
    ``budget_s`` bounds the whole call.
    """
    th = as_theta(theta)
    p = len(th)
    Dm = as_square_matrix(D, p)
    U = as_expr(U, name="U")
    theta0 = _as_base_point(base_point, th)
    deadline = Deadline(budget_s)
    _check_invertible(Dm, deadline)
    A = _simplify_matrix(Dm.LUsolve(gradient(U, th)), deadline)
    B = _simplify_matrix(Dm.LUsolve(divergence(Dm, th)), deadline)
    v_tilde = _line_integral(A, th, "D⁻¹∂U (RND ṽ integrand)", theta0, deadline, closed_form_only,
                             share=0.5)  # leave half of the time for ã
    a_tilde = _line_integral(B, th, "D⁻¹(∂·D) (RND ã integrand)", theta0, deadline,
                             closed_form_only)
    return v_tilde, a_tilde


@checked_inputs
def zero_current_log_density_gradient(U, D, theta, T, *, budget_s=DEFAULT_BUDGET_S) -> sp.Matrix:
    """Solve ``J = 0`` (SC.eq10) for ``∂ log ρ`` with ρ = exp(φ), φ an undetermined function.

    Returns the unique solution ``g`` (p×1) of ``J/ρ = 0`` as a linear system in ``∂φ`` (D
    invertible); by construction ``g = −(2/T) V``. A J = 0 density exists only if g is a gradient,
    i.e. ``curl(g) = 0`` — mixed partials of φ commute (SC.A1 necessity, SC.B1.counter).
    ``budget_s`` bounds the call: the solve has no fallback and raises
    :class:`theory.budget.SymbolicTimeoutError` when the budget runs out.
    """
    th = as_theta(theta)
    p = len(th)
    Dm = as_square_matrix(D, p)
    U, T = as_expr(U, name="U"), as_expr(T, name="T")
    deadline = Deadline(budget_s)
    _check_invertible(Dm, deadline)
    phi = sp.Function("phi")(*th)
    rho = sp.exp(phi)
    J = (gradient(U, th) * rho + sp.Rational(1, 2) * T * divergence(Dm * rho, th)) / rho
    g = sp.symbols(f"g0:{p}")
    subs = {sp.Derivative(phi, th[k]): g[k] for k in range(p)}

    def solve():
        eqs = [sp.expand(sp.simplify(e).subs(subs)) for e in J]
        return sp.solve(eqs, g, dict=True)

    sol = deadline.run(solve, step="solving J = 0 for ∂ log ρ")
    if len(sol) != 1:
        raise IntegrationError(f"J = 0 did not give a unique ∂ log ρ: {sol}")
    return _simplify_matrix(sp.Matrix([sol[0][gk] for gk in g]), deadline)


def equal_up_to_constant(a, b, theta, *, budget_s=DEFAULT_BUDGET_S):
    """Is ``a − b`` constant in θ? Returns the :class:`theory.identity.IdentityResult` of ∂(a − b) = 0.

    ``budget_s`` as in :func:`theory.identity.check_zero` (a simplify that runs out leaves the
    decision to the numeric spot-check).
    """
    th = as_theta(theta)
    return check_zero(gradient(as_expr(a) - as_expr(b), th), budget_s=budget_s)


# --------------------------------------------------------------------------------------------
# The closed forms as printed (SC footnote 3, SC App. B.1 examples 1–3)
# --------------------------------------------------------------------------------------------
def _as_unary(f) -> Callable:
    if callable(f) and not isinstance(f, str):  # sympy.log, sympy.Lambda, Function('f'), lambdas
        return f
    raise TypeError("f must be a callable (e.g. sympy.log, sympy.Lambda(u, u**3), sympy.Function('f'))")


def _derivative_of(f: Callable) -> Callable:
    u = sp.Dummy("u")
    df = sp.diff(f(u), u)
    return lambda x: df.subs(u, x)


@checked_inputs
def isotropic_potential_printed(U, d, theta, T, *, base_point=0, budget_s=DEFAULT_BUDGET_S,
                         closed_form_only: bool = False) -> sp.Expr:
    """SC footnote 3 as printed: ``D = d(θ) I`` ⇒ ``v = ∫^θ (∂U/d)·dθ + (T/2) log d``.

    The line integral is formed with :func:`line_integral`, so it raises
    :class:`NonConservativeError` when ∂U/d is not a gradient (p ≥ 2 and d not constant on the
    level sets of U) — the condition the footnote leaves implicit. ``base_point``, ``budget_s``
    and ``closed_form_only`` as there: without a closed form (or not within ``budget_s``) the
    integral is the exact ``sympy.Integral`` from ``base_point``.
    """
    th = as_theta(theta)
    U, d, T = as_expr(U, name="U"), as_expr(d, name="d"), as_expr(T, name="T")
    G = gradient(U, th) / d
    return line_integral(G, th, what="∂U/d (SC footnote 3)", base_point=base_point,
                         budget_s=budget_s, closed_form_only=closed_form_only) + T / 2 * sp.log(d)


@checked_inputs
def function_of_loss_potential_printed(U, f, T) -> sp.Expr:
    """SC App. B.1 example 1 as printed: ``D = I/f'(U)`` ⇒ ``v = f(U) − (T/2) log f'(U)``.

    ``f = log`` gives ``D = U I`` and ``v = (1 + T/2) log U``, ``ρ ∝ U^{−(1+2/T)}``.
    """
    f = _as_unary(f)
    U, T = as_expr(U, name="U"), as_expr(T, name="T")
    return f(U) - T / 2 * sp.log(_derivative_of(f)(U))


def quadratic_inverse_hessian_potential_printed(U, theta) -> sp.Expr:
    """SC App. B.1 example 2 as printed: quadratic U, ``D = (∂²U)⁻¹`` ⇒ ``v = ½ ∂U·∂U``."""
    g = gradient(as_expr(U, name="U"), theta)
    return sp.Rational(1, 2) * (g.T * g)[0, 0]


@checked_inputs
def separable_potential_printed(U_parts: Sequence, f, T) -> sp.Expr:
    """SC App. B.1 example 3 as printed: ``U = Σ U_i(θ_i)``, ``D = diag(1/f'(U_i))`` ⇒
    ``v = Σ f(U_i) − (T/2) Σ log f'(U_i)``."""
    f = _as_unary(f)
    if isinstance(U_parts, (str, bytes, bytearray)):
        as_expr(U_parts, name="U_parts")
    U_parts = [as_expr(Ui, name=f"U_parts[{i}]") for i, Ui in enumerate(U_parts)]
    T = as_expr(T, name="T")
    df = _derivative_of(f)
    return sum(f(Ui) for Ui in U_parts) - T / 2 * sum(sp.log(df(Ui)) for Ui in U_parts)


@checked_inputs
def inverse_hessian_noise_potential(U, theta, T) -> sp.Expr:
    """``v = ½ ∂U·∂U − (T/2) log det ∂²U`` for ``D = (∂²U)⁻¹`` and *any* smooth U (∂²U ≻ 0).

    Not printed in the papers: it extends SC App. B.1 example 2 (quadratic U, where det ∂²U is
    constant and the log term drops) beyond quadratic losses. Reason: with H = ∂²U,
    ``(H ∂·H⁻¹)_i = −Σ_jk ∂_j H_ik (H⁻¹)_kj = −Σ_jk ∂_i H_jk (H⁻¹)_kj = −∂_i log det H`` (third
    derivatives of U are symmetric), so ``V = H∂U − (T/2)∂ log det H`` is always a gradient. The
    paper's remark that example 2's V is recovered for general U "as T → 0" is this identity at
    T = 0; checks verify the identity exactly for a generic U.
    """
    U, T = as_expr(U, name="U"), as_expr(T, name="T")
    g = gradient(U, theta)
    return sp.Rational(1, 2) * (g.T * g)[0, 0] - T / 2 * sp.log(hessian(U, theta).det())


# --------------------------------------------------------------------------------------------
# Non-zero curl: true (Lyapunov) covariance vs the curl-free Laplace form
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CovarianceComparison:
    """Stationary covariance of ``dθ = −Hθ dt + sqrt(T D) dW`` against the Laplace form.

    Attributes
    ----------
    lyapunov : exact Σ with ``HΣ + ΣHᵀ = T D`` (the true steady state, J ≠ 0 when curl ≠ 0).
    laplace : ``(T/2) H⁻¹ D`` (SC.B2.cov / RND eq. 22 form; not symmetric when [H, D] ≠ 0).
    laplace_symmetric : its symmetric part.
    curl : curl of ``V = D⁻¹Hθ`` (entry (i, j)); zero iff ``HD = DH``.
    relative_error : ``‖laplace_symmetric − lyapunov‖_F / ‖lyapunov‖_F`` (T cancels).
    relative_error_unsymmetrised : same with ``laplace``.
    """

    lyapunov: sp.Matrix
    laplace: sp.Matrix
    laplace_symmetric: sp.Matrix
    curl: sp.Matrix
    relative_error: sp.Expr
    relative_error_unsymmetrised: sp.Expr


def _frobenius(M: sp.Matrix) -> sp.Expr:
    return sp.sqrt(sum(e**2 for e in M))


@checked_inputs
def curl_free_vs_true_covariance(H, D, T, *, budget_s=DEFAULT_BUDGET_S) -> CovarianceComparison:
    """Compare the exact OU covariance with the Laplace form ``(T/2) H⁻¹ D`` (SC.B1.counter).

    ``U = ½ θᵀHθ`` with constant D: ``V = D⁻¹Hθ`` has curl ``D⁻¹H − (D⁻¹H)ᵀ``, zero iff H and D
    commute; then ``Σ = (T/2) H⁻¹ D`` exactly. Otherwise no J = 0 density exists and the true
    covariance solves ``HΣ + ΣH = T D`` (:func:`theory.fokker_planck.ou_stationary_covariance`).

    ``budget_s`` (seconds, default 20, None = no limit) bounds the whole call: simplifications
    that run out leave the (equal) unsimplified entries; the symmetry check of H and the Lyapunov
    solve have no fallback and raise :class:`theory.budget.SymbolicTimeoutError`.
    """
    deadline = Deadline(budget_s)
    Hm, Dm = as_matrix(H, name="H"), as_matrix(D, name="D")
    T = as_expr(T, name="T")
    p = Hm.shape[0]
    if Hm.shape != (p, p) or Dm.shape != (p, p):
        raise ValueError(f"H and D must be square of one size; got {Hm.shape} and {Dm.shape}")
    asym = Hm - Hm.T
    if not deadline.run(lambda: all(_simplify(e) == 0 for e in asym),
                        step="the symmetry check of H"):
        raise ValueError("H must be symmetric (a Hessian)")
    _check_invertible(Dm, deadline)
    th = sp.Matrix(sp.symbols(f"_th0:{p}", real=True))
    U = sp.Rational(1, 2) * (th.T * Hm * th)[0, 0]
    V = _simplify_matrix(Dm.LUsolve(gradient(U, th)), deadline)
    C = _curl(V, th, deadline)
    lyap = deadline.run(ou_stationary_covariance, Hm, Dm, T, budget_s=None,
                        step="the Lyapunov covariance (ou_stationary_covariance)")
    lap = _simplify_matrix(T / 2 * Hm.inv() * Dm, deadline)
    lap_sym = _simplify_matrix((lap + lap.T) / 2, deadline)
    norm = _frobenius(lyap)
    rel_raw = _frobenius(lap_sym - lyap) / norm
    rel = deadline.attempt(_simplify, rel_raw, step="simplify", fallback=rel_raw, share=0.5)[0]
    rel_u_raw = _frobenius(lap - lyap) / norm
    rel_u = deadline.attempt(_simplify, rel_u_raw, step="simplify", fallback=rel_u_raw)[0]
    return CovarianceComparison(lyap, lap, lap_sym, C, rel, rel_u)
