"""Laplace (Gaussian-mixture) approximation of the SGD steady state: basin weights, means,
covariances (SC.eq6, SC App. B.2; RND eqs 20–23; SC App. E; TF Thm 1–2, eq. 4).

Conventions (SC)
----------------
* The steady state is ``ρ(θ) ∝ exp(−2 v(θ, T)/T)`` (SC.eq5) with the effective potential
  ``v(θ, T) = ṽ(θ) + (T/2) ã(θ)`` (RND eq. 19: ``ṽ = ∫D⁻¹∂U·dθ``, ``ã = ∫D⁻¹(∂·D)·dθ``).
  Note the factor 2 in the exponent: the "energy" is ``2v`` and the "temperature" is ``T``.
* Around a minimum ``μ_k`` of ``v(·, T)`` with Hessian ``H_k = ∂²v(μ_k, T)``::

      exp(−2v/T) ≈ exp(−2v(μ_k)/T) exp(−(θ−μ_k)ᵀ H_k (θ−μ_k)/T)

  so the Gaussian component has covariance ``Σ_k = (T/2) H_k⁻¹`` (SC App. B.2 eq. 25) and the
  Laplace mass of the basin is ``exp(−2v(μ_k)/T) (πT)^{p/2} det(H_k)^{−1/2}``.
  SC.eq6 keeps only the basin-dependent part, ``w_k ∝ exp(−2v(μ_k, T)/T) det(H_k)^{−1/2}``.
* Bias: SC writes ``b_k = θ_k^tr − μ_k ≈ (T/2)(C_k^tr)⁻¹(∂·D)(μ_k)``; RND eq. 21 writes
  ``μ_k = θ̃_k + b_k`` i.e. ``b_k = μ_k − θ̃_k ≈ −(T/2) C̃_k⁻¹ (∂·D̃_k)`` — the same shift with the
  opposite sign convention. :func:`bias_first_order` returns SC's ``θ^tr − μ``.
* Weights are handled in the log domain: ``log w_k = ℓ_k − logsumexp_j ℓ_j`` where the maximum ℓ
  (when it can be decided numerically) is factored out, so that tiny T neither under- nor
  overflows when the expressions are evaluated.

Everything here returns SymPy expressions. The high-precision (mpmath) references for 1-D
potentials — exact basin masses and critical points — are
:func:`numerics.reference_quadrature.exact_basin_log_masses_1d` and
:func:`numerics.reference_quadrature.find_critical_points_1d` (they raise :class:`LaplaceError`).
The functions that simplify user expressions (:func:`gaussian_mixture`,
:func:`leading_order_covariance`) take ``budget_s`` (:mod:`theory.budget`).
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp

from .budget import DEFAULT_BUDGET_S, Deadline
from .coordinates import as_column, as_square_matrix, as_theta, gradient, hessian
from .coordinates import as_expr, as_matrix
from .fokker_planck import gaussian_density

__all__ = [
    "LaplaceError",
    "NotAMinimumError",
    "GaussianMixture",
    "gaussian_mixture",
    "normal_density",
    "log_sum_exp",
    "normalise_log_weights",
    "laplace_log_mass",
    "leading_order_log_weights",
    "leading_order_weights",
    "leading_order_covariance",
    "bias_first_order",
    "even_order_basin_mass",
    "tf_unnormalised_probability",
    "tf_minimum_ratio",
    "tf_noise_threshold_corrected",
    "tf_noise_threshold_printed",
]


class LaplaceError(ValueError):
    """Invalid input to a Laplace-approximation function (the message says what to change)."""


class NotAMinimumError(LaplaceError):
    """A point passed as a minimum is not a critical point or its Hessian is not positive definite."""


# ----------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------
def _check_temperature(T) -> sp.Expr:
    T = as_expr(T, name="T")
    if T.is_number:
        if not T.is_real or not (T > 0):
            raise LaplaceError(f"temperature T must be positive; got T = {T}")
    elif T.is_positive is False:
        raise LaplaceError(f"temperature T must be positive; {T} is declared non-positive")
    return T


def _as_point(point, p: int, k: int) -> sp.Matrix:
    try:
        return as_column(point, p, name=f"minima[{k}]")
    except ValueError as exc:
        raise LaplaceError(f"{exc}; pass each minimum as a length-{p} list or p×1 Matrix") from None


def _numeric_value(expr):
    """Complex value of a closed numeric expression, or None when it has free symbols."""
    expr = as_expr(expr)
    if expr.free_symbols:
        return None
    return complex(sp.N(expr, 30))


def _decidably_nonzero(expr, *, atol: float, seed: int = 0, deadline: Deadline | None = None,
                       step: str = "simplify") -> float | None:
    """|expr| when it is decidably non-zero (numerically, or at a random point of its free
    symbols where every symbol is sampled positive), else None. The confirming simplify runs
    within ``deadline`` (no fallback: :class:`theory.budget.SymbolicTimeoutError` naming ``step``)."""
    val = _numeric_value(expr)
    if val is not None:
        return abs(val) if abs(val) > atol else None
    # symbolic: try a few random positive values; a clearly non-zero value is a counterexample
    rng = random.Random(seed)
    syms = sorted(expr.free_symbols, key=lambda s: s.name)
    for _ in range(3):
        subs = {s: sp.Float(rng.uniform(0.05, 0.5), 30) for s in syms}
        try:
            v = complex(sp.N(expr.subs(subs), 30))
        except (TypeError, ValueError):
            return None
        if abs(v) <= atol:
            return None
    # non-zero at every sampled point; only trust it if simplify also fails to reduce it to 0
    deadline = Deadline(None) if deadline is None else deadline
    return abs(v) if deadline.run(sp.simplify, expr, step=step) != 0 else None


def log_sum_exp(terms: Sequence) -> sp.Expr:
    """``log Σ_j exp(ℓ_j)`` written stably: ``ℓ_m + log Σ_j exp(ℓ_j − ℓ_m)`` with m the index of
    the largest ℓ when that can be decided numerically (else m = 0). Exact as an expression."""
    terms = [as_expr(t) for t in terms]
    if not terms:
        raise LaplaceError("log_sum_exp needs at least one term")
    m = 0
    vals = [_numeric_value(t) for t in terms]
    if all(v is not None for v in vals):
        m = max(range(len(terms)), key=lambda j: vals[j].real)
    ref = terms[m]
    if len(terms) == 1:
        return ref
    return ref + sp.log(1 + sum(sp.exp(t - ref) for j, t in enumerate(terms) if j != m))


def normalise_log_weights(log_terms: Sequence) -> list:
    """``log w_k = ℓ_k − logsumexp_j ℓ_j`` for unnormalised log-weights ``ℓ_k``."""
    lse = log_sum_exp(log_terms)
    return [as_expr(t) - lse for t in log_terms]


def laplace_log_mass(v_min, hessian_det, T, p: int) -> sp.Expr:
    """log of the Laplace mass ``∫ exp(−2v/T) dθ ≈ exp(−2v_min/T) (πT)^{p/2} det(H)^{−1/2}``
    of one basin (H = ∂²v at the minimum; SC App. B.2 with the factor T^{p/2} kept — SC prints
    ``sqrt(π^p/|H|)``, which drops a basin-independent ``T^{p/2}``)."""
    T = _check_temperature(T)
    det = as_expr(hessian_det)
    val = _numeric_value(det)
    if (val is not None and not (val.real > 0 and abs(val.imag) <= 1e-12 * max(1.0, abs(val.real)))) \
            or det.is_positive is False:
        singular = (val is not None and abs(val) <= 1e-12) or det.is_zero
        kind = ("singular (det H = 0): a degenerate minimum such as θ⁴, where the Gaussian (Laplace) "
                "approximation and its weights do not apply — use even_order_basin_mass (SC App. E) or "
                "numerics.reference_quadrature.exact_basin_log_masses_1d" if singular
                else "not positive (det H ≤ 0): not a minimum — a maximum or saddle")
        raise NotAMinimumError(f"laplace_log_mass: hessian_det = {det} is {kind}")
    return (-2 * as_expr(v_min) / T + sp.Rational(p, 2) * sp.log(sp.pi * T)
            - sp.log(det) / 2)


def normal_density(mean, cov, theta) -> sp.Expr:
    """The normalised Gaussian density, the one form of it in the project::

        N(θ; μ, Σ) = exp(−½ (θ−μ)ᵀ Σ⁻¹ (θ−μ)) / sqrt((2π)^p det Σ)

    (the exponent is :func:`theory.fokker_planck.gaussian_density`). The components of the SC.eq6
    mixture (:meth:`GaussianMixture.component_density`, Σ_k = (T/2) H_k⁻¹) and the wells of RND
    footnote 6 (``numerics.landscapes.gaussian_pdf``, p = 1, Σ = σ²) are this expression.

    >>> x = sp.Symbol("x", real=True)
    >>> sp.simplify(normal_density([1], [[4]], x) - sp.exp(-(x - 1)**2 / 8) / sp.sqrt(8 * sp.pi))
    0
    """
    th = as_theta(theta)
    cov = as_square_matrix(cov, len(th), name="cov")
    return gaussian_density(mean, cov, th) / sp.sqrt((2 * sp.pi) ** len(th) * cov.det())


# ----------------------------------------------------------------------------------------------
# SC.eq6: Gaussian mixture from the effective potential
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class GaussianMixture:
    """Laplace (Gaussian-mixture) approximation ``ρ ≈ Σ_k w_k N(μ_k, Σ_k)`` of ``exp(−2v/T)``.

    Attributes
    ----------
    theta, T : the coordinates (p×1 Matrix) and temperature.
    means : list of p×1 Matrices μ_k (the given minima of v(·, T)).
    hessians : list of ``H_k = ∂²v(μ_k, T)``.
    covariances : list of ``Σ_k = (T/2) H_k⁻¹`` (SC App. B.2 eq. 25).
    potential_values : list of ``v(μ_k, T)``.
    unnormalised_log_weights : ``ℓ_k = −2v(μ_k)/T − ½ log det H_k`` (SC.eq6, log form).
    log_basin_masses : ``ℓ_k + (p/2) log(πT)`` — log of the Laplace mass of basin k.
    log_partition : ``logsumexp_k`` of the log masses ≈ ``log ∫ exp(−2v/T) dθ``.
    log_weights, weights : normalised ``log w_k`` and ``w_k`` (Σ w_k = 1).
    """

    theta: sp.Matrix
    T: sp.Expr
    means: list
    hessians: list
    covariances: list
    potential_values: list
    unnormalised_log_weights: list
    log_basin_masses: list
    log_partition: sp.Expr
    log_weights: list
    weights: list

    @property
    def p(self) -> int:
        return self.theta.shape[0]

    def __len__(self) -> int:
        return len(self.means)

    def component_density(self, k: int) -> sp.Expr:
        """Normalised Gaussian density ``N(θ; μ_k, Σ_k)`` as an expression in θ (:func:`normal_density`)."""
        return normal_density(self.means[k], self.covariances[k], self.theta)

    def density(self) -> sp.Expr:
        """The mixture density ``Σ_k w_k N(θ; μ_k, Σ_k)`` (normalised) as an expression in θ."""
        return sum(w * self.component_density(k) for k, w in enumerate(self.weights))

    def numeric_weights(self, dps: int = 30) -> list[float]:
        """Weights as floats (evaluated with ``dps`` digits; requires numeric T and minima)."""
        return [float(sp.N(w, dps)) for w in self.weights]


def gaussian_mixture(v, theta, minima, T, *, check_minima: bool = True,
                     atol: float = 1e-8, budget_s=DEFAULT_BUDGET_S) -> GaussianMixture:
    """Laplace approximation of ``ρ ∝ exp(−2v(θ,T)/T)`` around the given minima (SC.eq6).

    ``w_k ∝ exp(−2 v(μ_k, T)/T) · det(∂²v(μ_k, T))^{−1/2}``, ``Σ_k = (T/2)(∂²v(μ_k, T))⁻¹``,
    means ``μ_k`` (SC App. B.2). ``μ_k`` must be minima of ``v(·, T)`` itself — these are
    shifted by O(T) from the train minima (see :func:`bias_first_order`); for the leading-order
    form in terms of train-minimum quantities use :func:`leading_order_weights` (RND.eq20).

    Parameters
    ----------
    v : SymPy expression in θ (may depend on T): the effective potential.
    theta : Symbol, list of Symbols or p×1 Matrix.
    minima : non-empty list of points (p×1 Matrix / list; a number when p = 1).
    T : temperature, a positive number or a positive symbol.
    check_minima : verify ``∂v(μ_k) = 0`` (to ``atol``, when decidable) and that ``∂²v(μ_k)`` is
        positive definite (when decidable); raise :class:`NotAMinimumError` otherwise.
    budget_s : seconds (default 20, None = no limit; :mod:`theory.budget`) for the symbolic
        checks of ``check_minima``. A leading minor or determinant whose simplify runs out is
        judged unsimplified (only a minor that is decidably ≤ 0 without simplification rejects
        the point); the simplify that confirms a numerically non-zero gradient has no fallback
        and raises :class:`theory.budget.SymbolicTimeoutError` (``check_minima=False`` skips it).

    >>> x = sp.Symbol('x'); gm = gaussian_mixture((x**2 - 1)**2, x, [-1, 1], sp.Rational(1, 10))
    >>> gm.weights
    [1/2, 1/2]
    """
    th = as_theta(theta)
    p = len(th)
    T = _check_temperature(T)
    v = as_expr(v, name="v")
    if type(minima).__name__ == "ndarray" and getattr(minima, "ndim", 0) >= 1:
        minima = list(minima)  # one point per row (or one number per entry when p = 1)
    if isinstance(minima, (str, bytes, bytearray)):
        as_expr(minima, name="minima")  # the typed refusal of strings
    if not isinstance(minima, (list, tuple)):
        raise LaplaceError("minima must be a list of points, e.g. [mu1, mu2] "
                           f"(got {type(minima).__name__})")
    if len(minima) == 0:
        raise LaplaceError("minima is empty: pass at least one minimum of v(·, T)")
    points = [_as_point(m, p, k) for k, m in enumerate(minima)]
    if len({tuple(m) for m in points}) != len(points):
        raise LaplaceError("minima contains the same point twice; each basin once")

    deadline = Deadline(budget_s)
    grad = gradient(v, th)
    hess = hessian(v, th)
    means, hessians, covs, vals, ells = [], [], [], [], []
    for k, mu in enumerate(points):
        subs = dict(zip(th, mu))
        H = hess.subs(subs)
        if check_minima:
            g = grad.subs(subs)
            for i, gi in enumerate(g):
                bad = _decidably_nonzero(
                    gi, atol=atol, deadline=deadline,
                    step=f"the critical-point check of minima[{k}] (check_minima=False skips it)")
                if bad is not None:
                    raise NotAMinimumError(
                        f"minima[{k}] = {list(mu)} is not a critical point of v: "
                        f"|∂_{th[i]} v| = {bad:.3g} > atol = {atol:g}. Pass the minima of v(·, T) "
                        "(e.g. from numerics.reference_quadrature.find_critical_points_1d or a root "
                        "finder), or raise atol.")
            _check_positive_definite(H, k, list(mu), deadline)
        detH = H.det() if p > 1 else H[0, 0]
        vk = v.subs(subs)
        means.append(mu)
        hessians.append(H)
        covs.append(T / 2 * H.inv())
        vals.append(vk)
        ells.append(-2 * vk / T - sp.log(detH) / 2)
    masses = [ell + sp.Rational(p, 2) * sp.log(sp.pi * T) for ell in ells]
    log_w = normalise_log_weights(ells)
    return GaussianMixture(
        theta=th, T=T, means=means, hessians=hessians, covariances=covs,
        potential_values=vals, unnormalised_log_weights=ells, log_basin_masses=masses,
        log_partition=log_sum_exp(masses), log_weights=log_w,
        weights=[sp.exp(lw) for lw in log_w],
    )


def _check_positive_definite(H: sp.Matrix, k: int, mu, deadline: Deadline | None = None) -> None:
    """Sylvester's criterion on the leading principal minors, where decidable. Out of time, a
    minor or determinant is judged unsimplified (decidable less often, never wrongly)."""
    deadline = Deadline(None) if deadline is None else deadline
    p = H.shape[0]
    for r in range(1, p + 1):
        minor = H[:r, :r].det() if r > 1 else H[0, 0]
        val = _numeric_value(minor)
        if val is not None:
            ok = val.real > 0 and abs(val.imag) <= 1e-12 * max(1.0, abs(val.real))
        else:
            minor_s = deadline.attempt(sp.simplify, minor, step="simplify", fallback=minor,
                                       share=0.5)[0]
            ok = minor_s.is_positive is not False
        if not ok:
            det = H.det() if p > 1 else H[0, 0]
            dval = _numeric_value(det)
            if dval is None:
                det = deadline.attempt(sp.simplify, det, step="simplify", fallback=det)[0]
            if (dval is not None and abs(dval) <= 1e-12) or (dval is None and det == 0):
                raise NotAMinimumError(
                    f"minima[{k}] = {mu}: the Hessian of v there is singular (det = 0): a degenerate "
                    "minimum (e.g. θ⁴), where the Laplace (Gaussian) weights and covariances (SC.eq6) do "
                    "not apply — add a quadratic term, or use even_order_basin_mass (SC App. E) or the "
                    "exact quadrature numerics.reference_quadrature.exact_basin_log_masses_1d")
            raise NotAMinimumError(
                f"minima[{k}] = {mu}: the Hessian of v there is not positive definite "
                f"(leading minor of order {r} = {minor if val is None else f'{val.real:.4g}'}); "
                "it is a maximum or saddle — pass only minima of v(·, T)")


# ----------------------------------------------------------------------------------------------
# RND.eq20–23: leading order in T in terms of train-minimum quantities
# ----------------------------------------------------------------------------------------------
def _as_list(x, name):
    if type(x).__name__ == "ndarray" and getattr(x, "ndim", 0) == 1:
        x = x.tolist()
    if isinstance(x, (str, bytes, bytearray)):
        as_expr(x, name=name)  # the typed refusal of strings
    if not isinstance(x, (list, tuple)):
        raise LaplaceError(f"{name} must be a list (one entry per basin)")
    return [as_expr(e, name=f"{name}[{k}]") for k, e in enumerate(x)]


def leading_order_log_weights(v_tilde, a_tilde, D_dets, C_dets, T) -> list:
    """RND.eq20/23 in log form: ``log w_k = −2ṽ_k/T − ã_k + ½ log|D̃_k| − ½ log|C̃_k| − log Z``.

    ``ṽ_k = ṽ(θ̃_k)``, ``ã_k = ã(θ̃_k)`` at the *train* minima θ̃_k (common integration base
    point for all k), ``D̃_k = D(θ̃_k)``, ``C̃_k = ∂²U(θ̃_k)`` (pass their determinants).
    This is the T → 0 limit of SC.eq6 applied to ``v = ṽ + (T/2)ã``: it uses
    ``det ∂²ṽ(θ̃_k) = |C̃_k|/|D̃_k|`` and ``2v(μ_k,T)/T = 2ṽ_k/T + ã_k + O(T)``; the relative error
    of the weights is O(T). (RND eq. 23 prints ``ũ_j`` in Z; App. B eq. 24 has ``ṽ_j``.)
    """
    T = _check_temperature(T)
    lists = [_as_list(x, n) for x, n in ((v_tilde, "v_tilde"), (a_tilde, "a_tilde"),
                                         (D_dets, "D_dets"), (C_dets, "C_dets"))]
    n = len(lists[0])
    if n == 0:
        raise LaplaceError("no basins given: pass one entry per minimum")
    if any(len(x) != n for x in lists):
        raise LaplaceError(f"v_tilde, a_tilde, D_dets, C_dets must have equal lengths; got "
                           f"{[len(x) for x in lists]}")
    for name, dets in (("D_dets", lists[2]), ("C_dets", lists[3])):
        for k, d in enumerate(dets):
            val = _numeric_value(d)
            if (val is not None and not val.real > 0) or d.is_positive is False:
                if name == "C_dets":  # the Hessian of U at a "minimum": singular or not positive
                    raise NotAMinimumError(
                        f"C_dets[{k}] = {d} must be positive: the Hessian of U at minimum {k} is "
                        + ("singular (a degenerate minimum such as θ⁴), where the Laplace weights (RND.eq20) "
                           "do not apply — use even_order_basin_mass (SC App. E) or exact quadrature"
                           if (val is not None and abs(val) <= 1e-12) or d.is_zero else
                           "not positive definite (a maximum or saddle), not a minimum"))
                raise LaplaceError(f"{name}[{k}] = {d} must be positive (a positive-definite "
                                   "matrix at a minimum)")
    ells = [-2 * vk / T - ak + sp.log(Dk) / 2 - sp.log(Ck) / 2
            for vk, ak, Dk, Ck in zip(*lists)]
    return normalise_log_weights(ells)


def leading_order_weights(v_tilde, a_tilde, D_dets, C_dets, T) -> list:
    """RND.eq20: ``w_k = e^{−2ṽ_k/T} e^{−ã_k} sqrt(|D̃_k|/|C̃_k|) / Z`` (normalised; see
    :func:`leading_order_log_weights`)."""
    return [sp.exp(lw) for lw in leading_order_log_weights(v_tilde, a_tilde, D_dets, C_dets, T)]


def leading_order_covariance(C, D, T, *, budget_s=DEFAULT_BUDGET_S) -> sp.Matrix:
    """RND eq. 22 / SC.B2.cov leading order: ``Σ_k ≈ (T/2) C̃_k⁻¹ D̃_k``.

    A covariance must be symmetric, and ``C⁻¹D`` is symmetric iff C and D commute — which the
    zero-curl condition SC.A1 implies at a minimum (∂²ṽ = D⁻¹C must be symmetric there). Raises
    :class:`LaplaceError` when ``CD − DC`` is decidably non-zero: then no J = 0 steady state
    exists and the stationary covariance solves the Lyapunov equation ``CΣ + ΣC = T D``
    (``theory.fokker_planck.ou_stationary_covariance``).

    ``budget_s`` (seconds, default 20, None = no limit; :mod:`theory.budget`) bounds the simplify
    that confirms a numerically non-zero commutator; it has no fallback and raises
    :class:`theory.budget.SymbolicTimeoutError` when the budget runs out.
    """
    deadline = Deadline(budget_s)
    C = as_matrix(C, name="C")
    p = C.shape[0]
    C = as_square_matrix(C, p, name="C")
    D = as_square_matrix(D, p, name="D")
    T = _check_temperature(T)
    comm = C * D - D * C
    for e in comm:
        if _decidably_nonzero(e, atol=1e-12, deadline=deadline,
                              step="the commutator check CD − DC = 0 (SC.A1)") is not None:
            raise LaplaceError(
                "C and D do not commute, so (T/2) C⁻¹D is not symmetric and cannot be a "
                "covariance; the zero-curl condition (SC.A1) fails at this minimum. Use the "
                "Lyapunov solution theory.fokker_planck.ou_stationary_covariance(C, D, T).")
    return T / 2 * C.inv() * D


# ----------------------------------------------------------------------------------------------
# SC.B2.bias
# ----------------------------------------------------------------------------------------------
def bias_first_order(C, div_D, T) -> sp.Matrix:
    """SC.B2.bias: ``b = θ^tr − μ ≈ (T/2) C⁻¹ (∂·D)`` (SC's sign; RND eq. 21's ``b = μ − θ̃`` is
    its negative).

    Derivation: ∂v = D⁻¹(∂U + (T/2)∂·D) vanishes at μ iff ∂U(μ) + (T/2)(∂·D)(μ) = 0; expanding
    ∂U(μ) ≈ C(μ − θ^tr) gives μ − θ^tr ≈ −(T/2)C⁻¹(∂·D). ``∂·D`` may be evaluated at θ^tr or μ
    (they differ by O(T), which changes b only at O(T²)).
    """
    C = as_matrix(C, name="C")
    p = C.shape[0]
    C = as_square_matrix(C, p, name="C")
    dD = as_column(div_D, p, name="div_D")
    T = _check_temperature(T)
    return T / 2 * C.inv() * dD


# ----------------------------------------------------------------------------------------------
# SC.E: higher even order
# ----------------------------------------------------------------------------------------------
def even_order_basin_mass(v_min, eigenvalues, J, T) -> sp.Expr:
    """SC App. E: basin mass when the leading term of v at μ is of even order J with a
    diagonalisable (orthogonally decomposable) J-tensor with eigenvalues λ_i > 0::

        ∫ exp(−(2/T)[v(μ) + ∂^J v (θ−μ)^J / J!]) dθ = e^{−2v(μ)/T} Π_i 2Γ((J+1)/J) (T J!/(2λ_i))^{1/J}

    J = 2 gives the Gaussian ``e^{−2v(μ)/T} Π_i sqrt(πT/λ_i)``.
    """
    T = _check_temperature(T)
    J = as_expr(J, name="J")
    if not (J.is_integer and J.is_positive and J.is_even):
        raise LaplaceError(f"J must be a positive even integer (the order of the first non-zero "
                           f"derivative at a minimum); got {J}")
    lams = _as_list(list(eigenvalues) if isinstance(eigenvalues, tuple) else eigenvalues,
                    "eigenvalues")
    if not lams:
        raise LaplaceError("eigenvalues is empty: pass one λ_i per direction")
    for i, lam in enumerate(lams):
        val = _numeric_value(lam)
        if (val is not None and not val.real > 0) or lam.is_positive is False:
            raise LaplaceError(f"eigenvalues[{i}] = {lam} must be positive at a minimum")
    factor = 2 * sp.gamma((J + 1) / J)
    return sp.exp(-2 * as_expr(v_min, name="v_min") / T) * sp.Mul(
        *[factor * (T * sp.factorial(J) / (2 * lam)) ** (1 / J) for lam in lams])


# ----------------------------------------------------------------------------------------------
# TF Thm 1, Thm 2, eq. 4 (TF conventions: n = η/S, C = σ²I, L the loss)
# ----------------------------------------------------------------------------------------------
def tf_unnormalised_probability(L_min, hessian_det, n, sigma2) -> sp.Expr:
    """TF Thm 2 (eq. 3): ``p̃_A = det(H_A)^{−1/2} exp(−2L_A/(n σ²))``.

    TF → SC dictionary: ``T = n = η/S``, ``D = σ² I``, so ``v = L/σ²`` and SC.eq6 gives
    ``w ∝ exp(−2L_A/(nσ²)) det(H_A/σ²)^{−1/2} ∝ p̃_A`` (σ^p is common to all minima).
    """
    n = _check_temperature(n)
    sigma2 = as_expr(sigma2, name="sigma2")
    return sp.exp(-2 * as_expr(L_min, name="L_min") / (n * sigma2)) / sp.sqrt(
        as_expr(hessian_det, name="hessian_det"))


def tf_minimum_ratio(L_A, L_B, det_H_A, det_H_B, n, sigma2) -> sp.Expr:
    """TF Thm 2: ``p_A/p_B = sqrt(det H_B / det H_A) exp(2(L_B − L_A)/(n σ²))``."""
    return (tf_unnormalised_probability(L_A, det_H_A, n, sigma2)
            / tf_unnormalised_probability(L_B, det_H_B, n, sigma2))


def tf_noise_threshold_corrected(L_A, L_B, det_H_A, det_H_B, sigma2) -> sp.Expr:
    """Noise n above which minimum A is favoured (p_A > p_B), derived from TF Thm 2.

    Solving ``p_A/p_B > 1`` for n (A higher: L_A > L_B; A flatter: det H_A < det H_B)::

        n > 2(L_A − L_B) / (σ² log sqrt(det H_B / det H_A))  =  4(L_A − L_B) / (σ² log(det H_B/det H_A))

    TF eq. 4 prints ``(L_A − L_B)/(2σ² log sqrt(det H_B/det H_A))`` — 4× too small (the factor 2
    of the exponent is put in the denominator instead of the numerator). If A is not lower and
    not flatter (L_A ≥ L_B, det H_A ≥ det H_B) then p_A ≤ p_B at every n: A is never favoured and
    this returns ``oo`` (the formula would give a negative, zero or undefined n).
    """
    L_A, L_B, dA, dB, s2 = (as_expr(x) for x in (L_A, L_B, det_H_A, det_H_B, sigma2))
    log_ratio = sp.log(sp.sqrt(dB / dA))
    val = _numeric_value(log_ratio)
    dv = _numeric_value(L_A - L_B)
    if val is not None and dv is not None and dv.real >= 0 and val.real <= 0:
        return sp.oo
    return 2 * (L_A - L_B) / (s2 * log_ratio)


def tf_noise_threshold_printed(L_A, L_B, det_H_A, det_H_B, sigma2) -> sp.Expr:
    """TF eq. 4 exactly as printed: ``(L_A − L_B)/(2σ² log sqrt(det H_B/det H_A))`` (for
    comparison only — see :func:`tf_noise_threshold_corrected` for the form that follows from Thm 2)."""
    L_A, L_B, dA, dB, s2 = (as_expr(x) for x in (L_A, L_B, det_H_A, det_H_B, sigma2))
    return (L_A - L_B) / (2 * s2 * sp.log(sp.sqrt(dB / dA)))
