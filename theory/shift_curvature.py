"""Test loss near train minima: the shift-curvature decomposition and the statistics of the shift.

Conventions (SC, THEORY.md notation)
------------------------------------
* shift ``s_k = θ_k^test − θ_k^tr`` (SC.eq2); bias of a single solution ``b̂ = θ_k^tr − θ̂``
  (SC Sec. 3) and of a mixture component ``b_k = θ_k^tr − μ_k``.
  Hence ``θ̂ − θ_k^test = −(s_k + b̂)`` and ``μ_k − θ_k^test = −(s_k + b_k)``: the sign is
  irrelevant inside the quadratic forms of SC.eq3/eq4 (they are even), which this module's
  checks prove rather than assume.
* RND uses the opposite orientation: ``s_k = θ̃_k − θ_k`` (train − test) and ``b_k = μ_k − θ̃_k``;
  its distribution shift is ``ε_η = η_ℓ − η_e``. The shift statistics (RND eqs. 8–13) below are
  written in RND's orientation, in which ``E[s_k] = C_k⁻¹F_k ε_η``.
* ``n`` of RND eq. 13 is the number of parameters ``p``.

Every function is pure SymPy: scalars are accepted where p = 1, otherwise p×p / p×1 matrices.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .coordinates import as_column, as_square_matrix, as_theta, gradient, hessian
from .coordinates import as_expr, as_matrix
from .budget import DEFAULT_BUDGET_S, Deadline

__all__ = [
    "TestLossShapeError",
    "SampleSizeError",
    "TestLossTerms",
    "second_order_taylor",
    "quadratic_test_loss",
    "test_loss_terms",
    "mixture_test_loss",
    "sgd_leading_test_loss",
    "gaussian_expectation",
    "gaussian_quadratic_expectation",
    "range_projector",
    "projected_shift",
    "effective_sample_size",
    "shift_mean",
    "shift_covariance",
    "expected_shift_curvature",
    "expected_shift_curvature_loglik_printed",
    "loglik_hessian_split",
    "data_expectation",
    "shift_sensitivity",
]


class TestLossShapeError(ValueError):
    """Curvature, shift, bias or covariance have inconsistent shapes."""

    __test__ = False  # not a pytest test class


class SampleSizeError(ValueError):
    """A data-set size is not positive."""


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _dim_of(C) -> int:
    if isinstance(C, (list, tuple)) or type(C).__name__ == "ndarray":
        C = as_matrix(C, name="C")  # every entry checked (strings refused) before its shape is read
    if isinstance(C, sp.MatrixBase):
        if C.shape[0] != C.shape[1]:
            raise TestLossShapeError(f"curvature must be square; got shape {C.shape}")
        return C.shape[0]
    as_expr(C, name="C")  # a scalar curvature (strings are refused here, before any shape check)
    return 1


def _square(M, p, name):
    try:
        return as_square_matrix(M, p, name=name)
    except ValueError as exc:
        raise TestLossShapeError(str(exc)) from exc


def _column(v, p, name):
    try:
        return as_column(v, p, name=name)
    except ValueError as exc:
        raise TestLossShapeError(str(exc)) from exc


def _quad(C, v) -> sp.Expr:
    return (v.T * C * v)[0, 0]


# --------------------------------------------------------------------------------------------
# SC.eq3, SC.eq4, SC.eq7
# --------------------------------------------------------------------------------------------
def second_order_taylor(f, theta, center, point) -> sp.Expr:
    """Second-order Taylor polynomial of ``f`` about ``center`` evaluated at ``point``:
    ``f(c) + ∂f(c)ᵀδ + ½ δᵀ ∂²f(c) δ``, ``δ = point − c`` (the expansion behind SC.eq3)."""
    th = as_theta(theta)
    p = len(th)
    c = _column(center, p, "center")
    x = _column(point, p, "point")
    at_c = dict(zip(th, c))
    d = x - c
    g = gradient(f, th).subs(at_c)
    H = hessian(f, th).subs(at_c)
    return as_expr(f).subs(at_c) + (g.T * d)[0, 0] + sp.Rational(1, 2) * _quad(H, d)


def quadratic_test_loss(U_test_min, C_test, shift, bias=0) -> sp.Expr:
    """SC.eq3: ``U^test(θ̂) ≈ U_k^test + ½ (s_k + b̂)ᵀ C_k^test (s_k + b̂)``.

    ``shift`` = s_k = θ_k^test − θ_k^tr, ``bias`` = b̂ = θ_k^tr − θ̂ (SC Sec. 3 sign; note that
    SC App. D.4 flips it to b̂ = θ̂ − θ_k^tr, for which the form must read (s − b̂)).
    """
    p = _dim_of(C_test)
    C = _square(C_test, p, "C_test")
    s = _column(shift, p, "shift")
    scalar_zero = (not isinstance(bias, (sp.MatrixBase, list, tuple)) and type(bias).__name__ != "ndarray"
                   and as_expr(bias, name="bias") == 0)
    b = sp.zeros(p, 1) if scalar_zero else _column(bias, p, "bias")
    return as_expr(U_test_min, name="U_test_min") + sp.Rational(1, 2) * _quad(C, s + b)


@dataclass(frozen=True)
class TestLossTerms:
    """One basin's contribution to SC.eq4 split into its mechanisms.

    ``depth`` U_k^test; ``covariance_curvature`` ½Tr(Σ_k C_k); ``shift_curvature`` ½ sᵀCs;
    ``bias_curvature`` ½(s+b)ᵀC(s+b) − ½sᵀCs = sᵀCb + ½bᵀCb (cross term included).
    """

    __test__ = False

    depth: sp.Expr
    covariance_curvature: sp.Expr
    shift_curvature: sp.Expr
    bias_curvature: sp.Expr

    @property
    def total(self) -> sp.Expr:
        return self.depth + self.covariance_curvature + self.shift_curvature + self.bias_curvature


def test_loss_terms(U_test_min, C_test, shift, bias, cov) -> TestLossTerms:
    """SC.eq4 / RND eq. 5–6 for one Gaussian component N(μ_k, Σ_k) (b_k = θ_k^tr − μ_k)."""
    p = _dim_of(C_test)
    C = _square(C_test, p, "C_test")
    s = _column(shift, p, "shift")
    b = _column(bias, p, "bias")
    S = _square(cov, p, "cov")
    half = sp.Rational(1, 2)
    shift_term = half * _quad(C, s)
    return TestLossTerms(
        depth=as_expr(U_test_min, name="U_test_min"),
        covariance_curvature=half * (S * C).trace(),
        shift_curvature=shift_term,
        bias_curvature=(s.T * C * b)[0, 0] + half * _quad(C, b),
    )


test_loss_terms.__test__ = False  # the name starts with "test_" but it is not a pytest test


def mixture_test_loss(weights, basins) -> sp.Expr:
    """SC.eq4: ``Σ_k w_k (U_k + ½Tr[Σ_k C_k] + ½(s_k+b_k)ᵀC_k(s_k+b_k))``.

    ``basins`` is a sequence of (U_test_min, C_test, shift, bias, cov) tuples, one per weight.
    """
    weights, basins = _per_basin(weights, basins)
    return sum(as_expr(w, name=f"weights[{k}]") * test_loss_terms(*bk).total
               for k, (w, bk) in enumerate(zip(weights, basins)))


def sgd_leading_test_loss(weights, basins) -> sp.Expr:
    """SC.eq7 leading term ``Σ_k w_k (U_k^test + ½ s_kᵀ C_k s_k)``; basins = (U, C, s) tuples.

    The dropped remainder is ``Σ_k w_k (½Tr(Σ_kC_k) + s_kᵀC_kb_k + ½b_kᵀC_kb_k)`` = O(T) when
    b_k, Σ_k = O(T) (SC.B2.bias, SC.B2.cov) and s_k = O(1).
    """
    weights, basins = _per_basin(weights, basins)
    total = sp.Integer(0)
    for k, (w, (U, C, s)) in enumerate(zip(weights, basins)):
        p = _dim_of(C)
        total += as_expr(w, name=f"weights[{k}]") * (
            as_expr(U, name=f"basins[{k}][0]") + sp.Rational(1, 2) * _quad(_square(C, p, "C"), _column(s, p, "shift")))
    return total


def _per_basin(weights, basins):
    for value, name in ((weights, "weights"), (basins, "basins")):
        if isinstance(value, (str, bytes, bytearray)):
            as_expr(value, name=name)  # the typed refusal of strings (never evaluated)
    weights, basins = list(weights), list(basins)
    if len(weights) != len(basins):
        raise TestLossShapeError(f"{len(weights)} weights for {len(basins)} basins; pass one per basin")
    for k, bk in enumerate(basins):
        if isinstance(bk, (str, bytes, bytearray)):
            as_expr(bk, name=f"basins[{k}]")
    return weights, basins


def _std_normal_moment(k: int, deadline: Deadline | None = None) -> sp.Expr:
    """``E[z^k]``, z ~ N(0, 1), by symbolic integration; out of time, the exact unevaluated
    ``Integral`` (divided by √(2π))."""
    z = sp.Symbol("z", real=True)
    args = (z**k * sp.exp(-z**2 / 2), (z, -sp.oo, sp.oo))
    deadline = Deadline(None) if deadline is None else deadline
    value = deadline.attempt(sp.integrate, *args, step="integrate", fallback=sp.Integral(*args))[0]
    return value / sp.sqrt(2 * sp.pi)


def gaussian_expectation(poly, x, mean, chol, *, budget_s=DEFAULT_BUDGET_S) -> sp.Expr:
    """Exact ``E[poly(x)]`` for ``x = mean + L z``, z ~ N(0, I) (so Cov x = L Lᵀ).

    ``poly`` must be polynomial in the coordinates ``x``; monomials in z are replaced by
    products of one-dimensional standard-normal moments, each obtained by symbolic
    integration, so the result does not presuppose the Gaussian moment formulas it checks.

    ``budget_s`` (seconds, default 20, None = no limit; :mod:`theory.budget`) bounds the call: a
    moment whose integral does not finish within it stays the exact unevaluated ``sympy.Integral``;
    expanding ``poly`` in z has no fallback (:class:`theory.budget.SymbolicTimeoutError`).
    """
    deadline = Deadline(budget_s)
    xs = as_theta(x)
    p = len(xs)
    mu = _column(mean, p, "mean")
    L = _square(chol, p, "chol")
    zs = sp.symbols(f"_z0:{p}", real=True)
    poly = as_expr(poly)

    def expand_in_z():
        expr = sp.expand(poly.subs(dict(zip(xs, mu + L * sp.Matrix(zs))), simultaneous=True))
        return sp.Poly(expr, *zs).terms()

    terms = deadline.run(expand_in_z, step="expanding poly in the standard-normal coordinates")
    cache: dict[int, sp.Expr] = {}
    out = sp.Integer(0)
    for powers, coeff in terms:
        term = coeff
        for k in powers:
            if k not in cache:
                cache[k] = _std_normal_moment(k, deadline)
            term *= cache[k]
        out += term
    return out


def gaussian_quadratic_expectation(C, center, mean, cov) -> sp.Expr:
    """Closed form ``E[(x−a)ᵀC(x−a)] = Tr(CΣ) + (μ−a)ᵀC(μ−a)`` for x ~ N(μ, Σ) (RND eq. 5)."""
    p = _dim_of(C)
    Cm = _square(C, p, "C")
    d = _column(mean, p, "mean") - _column(center, p, "center")
    return (Cm * _square(cov, p, "cov")).trace() + _quad(Cm, d)


# --------------------------------------------------------------------------------------------
# SC.eq12 — overparametrized shift
# --------------------------------------------------------------------------------------------
def range_projector(M, *, budget_s=DEFAULT_BUDGET_S) -> sp.Matrix:
    """Orthogonal projector onto the column space of ``M`` (``A(AᵀA)⁻¹Aᵀ``, A a basis).

    ``budget_s`` (seconds, default 20, None = no limit; :mod:`theory.budget`) bounds the call: the
    final simplify falls back to the equal unsimplified ``A(AᵀA)⁻¹Aᵀ``; the column space and the
    inverse have no fallback (:class:`theory.budget.SymbolicTimeoutError`).
    """
    deadline = Deadline(budget_s)
    Mm = as_matrix(M, name="M")

    def projector():
        basis = Mm.columnspace()
        if not basis:
            return None
        A = sp.Matrix.hstack(*basis)
        return A * (A.T * A).inv() * A.T

    P = deadline.run(projector, step="the column space of M and A(AᵀA)⁻¹Aᵀ")
    if P is None:
        return sp.zeros(Mm.shape[0], Mm.shape[0])
    return deadline.attempt(sp.simplify, P, step="simplify", fallback=P)[0]


def projected_shift(C_test, raw_shift, *, budget_s=DEFAULT_BUDGET_S) -> sp.Matrix:
    """SC.eq12: ``s_k = Proj_G(θ_k^test − θ_k^tr)`` with G = range(C_k^test), the span of the test
    Hessian's non-zero eigen-directions (the paper's per-test-sample-gradient span coincides
    with it only where that span is locally constant, SC App. D.2). ``budget_s`` as in
    :func:`range_projector`."""
    p = _dim_of(C_test)
    C = _square(C_test, p, "C_test")
    if not C.is_symmetric():
        raise TestLossShapeError("C_test must be symmetric (a Hessian)")
    return range_projector(C, budget_s=budget_s) * _column(raw_shift, p, "raw_shift")


# --------------------------------------------------------------------------------------------
# RND eqs. 8–13 and App. D — statistics of the shift
# --------------------------------------------------------------------------------------------
def _positive_size(N, name):
    N = as_expr(N, name=name)
    if N.is_positive is False or N.is_zero:
        raise SampleSizeError(f"{name} must be a positive data-set size; got {N}")
    if N.is_number and not N.is_positive:
        raise SampleSizeError(f"{name} must be a positive data-set size; got {N}")
    return N


def effective_sample_size(N_test, N_train, *, budget_s=DEFAULT_BUDGET_S) -> sp.Expr:
    """RND eq. 11: ``N_eff⁻¹ = ½(N_e⁻¹ + N_ℓ⁻¹)`` — the harmonic mean of the two set sizes.

    ``budget_s`` (seconds, default 20, None = no limit): a simplify that does not finish within it
    returns the equal unsimplified ``2/(1/N_e + 1/N_ℓ)``.
    """
    Ne = _positive_size(N_test, "N_test")
    Nl = _positive_size(N_train, "N_train")
    n_eff = 2 / (1 / Ne + 1 / Nl)
    return Deadline(budget_s).attempt(sp.simplify, n_eff, step="simplify", fallback=n_eff)[0]


def _inv(C, p):
    Cm = _square(C, p, "C")
    if Cm.det() == 0:
        raise TestLossShapeError("C is singular; the shift statistics need an invertible curvature "
                                 "(use projected_shift / SC.eq12 in the overparametrized case)")
    return Cm.inv()


def shift_mean(C, F, eps) -> sp.Matrix:
    """RND eq. 9: ``E[s_k] = C_k⁻¹ F_k ε_η`` (RND orientation s = θ̃ − θ, ε = η_ℓ − η_e)."""
    p = _dim_of(C)
    Fm = as_matrix(F, name="F")
    if Fm.shape[0] != p:
        raise TestLossShapeError(f"F must have {p} rows; got shape {Fm.shape}")
    e = _column(eps, Fm.shape[1], "eps")
    return _inv(C, p) * Fm * e


def shift_covariance(C, D, N_eff) -> sp.Matrix:
    """RND eq. 10: ``Cov(s_k) = (2/N_eff) C_k⁻¹ D_k C_k⁻¹``."""
    p = _dim_of(C)
    Ci = _inv(C, p)
    N = _positive_size(N_eff, "N_eff")
    return 2 / N * Ci * _square(D, p, "D") * Ci


def expected_shift_curvature(C, D, F, eps, N_eff) -> sp.Expr:
    """``E[s_kᵀC_k s_k] = Tr(C Cov s) + E[s]ᵀ C E[s]`` from RND eqs. 8–10 (first line of eq. 13)."""
    p = _dim_of(C)
    Cm = _square(C, p, "C")
    m = shift_mean(C, F, eps)
    return (Cm * shift_covariance(C, D, N_eff)).trace() + _quad(Cm, m)


def expected_shift_curvature_loglik_printed(C, E, F, eps, N_eff) -> sp.Expr:
    """RND eq. 13 as printed: ``(2/N_eff)(n − Tr(E_kC_k⁻¹)) + ε_ηᵀF_kᵀC_k⁻¹F_kε_η``, n = p."""
    p = _dim_of(C)
    Ci = _inv(C, p)
    N = _positive_size(N_eff, "N_eff")
    Fm = as_matrix(F, name="F")
    e = _column(eps, Fm.shape[1], "eps")
    return 2 / N * (p - (_square(E, p, "E") * Ci).trace()) + _quad(Ci, Fm * e)


def loglik_hessian_split(density, theta):
    """RND eq. 12 pointwise: for ``U = −log p``, ``∂²U = −∂²p/p + ∂U ∂Uᵀ``.

    Returns ``(∂²U, −∂²p/p, ∂U∂Uᵀ)`` for the per-sample density ``p(x|θ)``.
    """
    th = as_theta(theta)
    density = as_expr(density, name="density")
    U = -sp.log(density)
    g = gradient(U, th)
    return hessian(U, th), -hessian(density, th) / density, g * g.T


def _one_symbol(x, name):
    xs = as_theta(x)
    if len(xs) != 1:
        raise ValueError(f"{name} must be one Symbol (one data coordinate); got {list(xs)}")
    return xs[0]


def data_expectation(expr, data_density, x, *, center=None, limits=(-sp.oo, sp.oo),
                     budget_s=DEFAULT_BUDGET_S, _deadline: Deadline | None = None) -> sp.Expr:
    """``∫ r(x) expr(x) dx`` over one data coordinate, integrated term by term.

    ``center`` (e.g. the location η of a Gaussian r) substitutes x = center + z first, which
    keeps SymPy's Gaussian integrals fast; with a center the limits must be the whole line.
    ``budget_s`` (seconds, default 20, None = no limit; :mod:`theory.budget`) bounds the call: a
    term SymPy cannot integrate within it stays an unevaluated definite ``sympy.Integral`` (exact),
    and a simplification that runs out returns the unsimplified sum.
    """
    deadline = Deadline(budget_s) if _deadline is None else _deadline
    integrand = as_expr(data_density, name="data_density") * as_expr(expr, name="expr")
    x = _one_symbol(x, "x")
    if isinstance(limits, (str, bytes, bytearray)) or len(limits) != 2:
        as_expr(limits, name="limits")  # a string: the typed refusal
        raise ValueError(f"limits must be (low, high); got {limits!r}")
    limits = tuple(as_expr(v, name=f"limits[{i}]") for i, v in enumerate(limits))
    var = x
    if center is not None:
        center = as_expr(center, name="center")
        if tuple(limits) != (-sp.oo, sp.oo):
            raise ValueError("center= needs limits=(-oo, oo); shift the limits yourself otherwise")
        var = sp.Dummy("z", real=True)
        integrand = integrand.subs(x, var + center)
    integrand = sp.expand(sp.powsimp(sp.expand(integrand)))
    total = sp.Integer(0)
    for term in sp.Add.make_args(integrand):
        total += deadline.attempt(sp.integrate, term, (var, *limits), conds="none",
                                  step="integrate", fallback=sp.Integral(term, (var, *limits)))[0]
    return deadline.attempt(sp.simplify, total, step="simplify", fallback=total)[0]


def shift_sensitivity(loss, data_density, x, theta, eta, *, center=None,
                      limits=(-sp.oo, sp.oo), budget_s=DEFAULT_BUDGET_S) -> sp.Matrix:
    """RND eq. 11: ``F(θ) = ∫ r(x|η) ∂_θU(x,θ) ∂_ηR(x,η)ᵀ dx``, ``R = −log r`` (one data coordinate x).

    ``eta`` is the parameter of the data density (Symbol or list); the result is p×m.
    ``center``/``limits``/``budget_s`` (for the whole matrix) as in :func:`data_expectation`.
    """
    deadline = Deadline(budget_s)
    th = as_theta(theta)
    et = as_theta(eta)
    data_density = as_expr(data_density, name="data_density")
    R = sp.expand_log(-sp.log(data_density), force=True)
    gU = gradient(loss, th)
    gR = gradient(R, et)
    M = gU * gR.T
    return M.applyfunc(lambda e: data_expectation(e, data_density, x, center=center, limits=limits,
                                                  _deadline=deadline))
