"""Kramers–Moyal expansion of a discrete-time Markov step and its SGD specialisation.

Papers: SC App. A.1–A.2 (SC.eq15, SC.eq16, SC.eq23), RND App. A eqs. 6–8 and 14; the order-2
truncation is the Fokker–Planck equation SC.eq10 / RND eq. 16 (see :mod:`theory.fokker_planck`).

Multi-index conventions
-----------------------
A multi-index ``γ`` is a tuple of ``p`` non-negative ints. ``|γ| = Σ γ_i``, ``γ! = Π γ_i!``,
``x^γ = Π x_i^{γ_i}`` and ``∂^γ = Π ∂_{θ_i}^{γ_i}``. Moments and cumulants of a random vector
``Δ ∈ R^p`` are dicts ``{γ: expression}``; a key that is absent means the value 0.

* moments ``m_γ = E[Δ^γ] = γ! [t^γ] M(t)`` with ``M(t) = E[exp(tᵀΔ)] = 1 + Σ_{|γ|≥1} m_γ t^γ/γ!``;
* cumulants ``κ_γ = γ! [t^γ] K(t)`` with ``K(t) = log M(t)``.

(SC App. A.1 and RND App. A write ``κ_γ = log m_γ``; that is shorthand for the generating-function
relation above — read literally it is wrong, e.g. κ_1 = E[Δ] ≠ log E[Δ].)

The two conversions are done exactly with truncated multivariate power series held in dicts:
products drop every term of total degree above the requested order, ``log(1+x) = Σ (−1)^{n+1}
xⁿ/n`` and ``exp(x) = Σ xⁿ/n!`` terminate because ``x`` has no constant term.

SGD (SC.eq9, SC.eq23; RND eq. 14)
---------------------------------
``Δ = −(λ/B) Σ_{i≤B} g_i`` with i.i.d. per-sample gradients ``g_i`` whose cumulants are
``ω_γ``. Cumulants are additive over independent terms and homogeneous of degree ``|γ|``, so
``κ_γ = B (−λ/B)^{|γ|} ω_γ = B (−T)^{|γ|} ω_γ`` with ``T = λ/B``. In the KM operator the sign
``(−1)^{|γ|}`` cancels, leaving ``B T^{|γ|}/γ! ∂^γ(ω_γ ρ)``: the order-n term scales as Tⁿ.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import sympy as sp

from .budget import DEFAULT_BUDGET_S, Deadline, run_within
from .coordinates import as_square_matrix, as_theta
from .fokker_planck import fokker_planck_operator
from .identity import IdentityResult, check_identity
from .coordinates import as_expr

__all__ = [
    "KramersMoyalError",
    "multi_indices",
    "multi_index_order",
    "multi_index_factorial",
    "unit_multi_index",
    "multi_index_power",
    "multi_index_derivative",
    "cumulants_from_moments",
    "moments_from_cumulants",
    "moments_of_iid_sum",
    "increment_moments",
    "k_step_sum_cumulants",
    "k_step_limit_cumulants",
    "sgd_step_cumulants",
    "minibatch_mean_cumulants",
    "power_of_temperature",
    "sgd_gradient_cumulants",
    "kramers_moyal_operator",
    "kramers_moyal_terms",
    "fokker_planck_from_kramers_moyal",
    "prove_kramers_moyal_order2_is_fokker_planck",
    "rescaled_time_rhs",
]


class KramersMoyalError(ValueError):
    """Bad input to a Kramers–Moyal function (order, multi-index keys, dimension)."""


# --------------------------------------------------------------------------------------------
# multi-indices
# --------------------------------------------------------------------------------------------
def _check_order(order, *, name: str = "order") -> int:
    if isinstance(order, bool) or not isinstance(order, int):
        raise TypeError(f"{name} must be an int ≥ 1; got {order!r} ({type(order).__name__})")
    if order < 1:
        raise KramersMoyalError(f"{name} must be ≥ 1 (the expansion starts at |γ| = 1); got {order}")
    return order


def multi_indices(p: int, max_order: int, min_order: int = 1) -> list[tuple[int, ...]]:
    """All multi-indices γ ∈ N_0^p with ``min_order ≤ |γ| ≤ max_order``, by order then lexicographic
    (descending in the first coordinate).

    >>> multi_indices(2, 2)
    [(1, 0), (0, 1), (2, 0), (1, 1), (0, 2)]
    """
    if isinstance(p, bool) or not isinstance(p, int) or p < 1:
        raise KramersMoyalError(f"p (the dimension) must be an int ≥ 1; got {p!r}")
    if isinstance(max_order, bool) or not isinstance(max_order, int) or max_order < 0:
        raise KramersMoyalError(f"max_order must be an int ≥ 0; got {max_order!r}")
    if isinstance(min_order, bool) or not isinstance(min_order, int) or min_order < 0:
        raise KramersMoyalError(f"min_order must be an int ≥ 0; got {min_order!r}")
    out = []
    for n in range(min_order, max_order + 1):
        out.extend(_compositions(n, p))
    return out


def _compositions(n: int, p: int) -> list[tuple[int, ...]]:
    """Multi-indices of length p and order exactly n (first coordinate descending)."""
    if p == 1:
        return [(n,)]
    res = []
    for first in range(n, -1, -1):
        for rest in _compositions(n - first, p - 1):
            res.append((first, *rest))
    return res


def multi_index_order(gamma) -> int:
    """``|γ| = Σ γ_i``."""
    return sum(gamma)


def multi_index_factorial(gamma) -> int:
    """``γ! = Π γ_i!``."""
    return math.prod(math.factorial(g) for g in gamma)


def unit_multi_index(p: int, *indices: int) -> tuple[int, ...]:
    """``e_i + e_j + …`` as a multi-index of length p (``unit_multi_index(2, 0, 1) == (1, 1)``)."""
    g = [0] * p
    for i in indices:
        if not 0 <= i < p:
            raise KramersMoyalError(f"index {i} out of range for p = {p}")
        g[i] += 1
    return tuple(g)


def multi_index_power(x, gamma) -> sp.Expr:
    """``x^γ = Π x_i^{γ_i}`` for a sequence ``x`` of length p."""
    if isinstance(x, sp.MatrixBase):
        xs = list(x)
    elif isinstance(x, (list, tuple)) or (type(x).__name__ == "ndarray" and getattr(x, "ndim", 0) == 1):
        xs = [as_expr(e, name=f"x[{i}]") for i, e in enumerate(x)]
    else:
        as_expr(x, name="x")  # refuses strings with the typed message
        raise KramersMoyalError(f"x must be a sequence of p expressions; got {type(x).__name__}")
    if len(xs) != len(gamma):
        raise KramersMoyalError(f"x has {len(xs)} entries but γ = {gamma} has length {len(gamma)}")
    return sp.Mul(*[xi ** gi for xi, gi in zip(xs, gamma)])


def multi_index_derivative(expr, theta, gamma) -> sp.Expr:
    """``∂^γ expr = Π_i ∂_{θ_i}^{γ_i} expr``."""
    th = as_theta(theta)
    expr = as_expr(expr, name="expr")
    if len(gamma) != len(th):
        raise KramersMoyalError(f"γ = {gamma} has length {len(gamma)} but theta has p = {len(th)}")
    args = [a for s, g in zip(th, gamma) if g for a in (s, g)]
    return sp.diff(expr, *args) if args else as_expr(expr)


# --------------------------------------------------------------------------------------------
# input validation
# --------------------------------------------------------------------------------------------
def _as_expr(value, key) -> sp.Expr:
    return as_expr(value, name=f"value for γ = {key}")


def _normalise(series: Mapping, *, p: int | None, what: str, zero_value) -> tuple[dict, int]:
    """Validate a ``{γ: value}`` dict; return ({γ: expr} with |γ| ≥ 1, p)."""
    if isinstance(series, (str, bytes, bytearray)):
        as_expr(series, name=what)  # the typed refusal of strings (never evaluated)
    if not isinstance(series, Mapping):
        raise TypeError(f"{what} must be a dict {{multi-index tuple: expression}}; got "
                        f"{type(series).__name__}")
    lengths = set()
    for key in series:
        if not isinstance(key, tuple) or not all(
            isinstance(k, int) and not isinstance(k, bool) and k >= 0 for k in key
        ):
            raise KramersMoyalError(f"{what}: key {key!r} is not a tuple of non-negative ints "
                                    f"(a multi-index γ)")
        lengths.add(len(key))
    if p is not None:
        if isinstance(p, bool) or not isinstance(p, int) or p < 1:
            raise KramersMoyalError(f"p must be an int ≥ 1; got {p!r}")
        lengths.add(p)
    if not lengths:
        raise KramersMoyalError(f"{what} is empty and p is not given: pass p=<dimension> so the "
                                f"output multi-indices have a length")
    if len(lengths) != 1:
        raise KramersMoyalError(f"{what}: multi-indices of inconsistent lengths {sorted(lengths)}"
                                f"{' (p given as ' + str(p) + ')' if p is not None else ''}; every "
                                f"key must have length p")
    (dim,) = lengths
    out = {}
    for key, value in series.items():
        v = _as_expr(value, key)
        if sum(key) == 0:
            if sp.simplify(v - zero_value) != 0:
                raise KramersMoyalError(f"{what}: the |γ| = 0 entry must be {zero_value} (got {v}); "
                                        f"leave it out")
            continue
        out[key] = v
    return out, dim


# --------------------------------------------------------------------------------------------
# truncated multivariate power series {γ: coefficient of t^γ}
# --------------------------------------------------------------------------------------------
def _series_mul(a: dict, b: dict, order: int) -> dict:
    out: dict = {}
    for ga, ca in a.items():
        na = sum(ga)
        for gb, cb in b.items():
            if na + sum(gb) > order:
                continue
            g = tuple(x + y for x, y in zip(ga, gb))
            out[g] = out.get(g, 0) + ca * cb
    return {g: sp.expand(c) for g, c in out.items()}


def _series_add(a: dict, b: dict, scale=1) -> dict:
    out = dict(a)
    for g, c in b.items():
        out[g] = out.get(g, 0) + scale * c
    return out


def _series_log1p(x: dict, order: int) -> dict:
    """log(1 + x) for x without constant term, truncated at total degree ``order``."""
    result: dict = {}
    power = dict(x)
    for n in range(1, order + 1):
        result = _series_add(result, power, sp.Rational((-1) ** (n + 1), n))
        if n < order:
            power = _series_mul(power, x, order)
    return result


def _series_expm1(x: dict, order: int) -> dict:
    """exp(x) − 1 for x without constant term, truncated at total degree ``order``."""
    result: dict = {}
    power = dict(x)
    for n in range(1, order + 1):
        result = _series_add(result, power, sp.Rational(1, math.factorial(n)))
        if n < order:
            power = _series_mul(power, x, order)
    return result


def _to_series(values: dict, order: int) -> dict:
    """``{γ: v_γ}`` → coefficients ``v_γ/γ!`` of t^γ, dropping |γ| > order."""
    return {g: v / multi_index_factorial(g) for g, v in values.items() if sum(g) <= order}


def _from_series(series: dict, p: int, order: int) -> dict:
    """Coefficients → ``{γ: γ! c_γ}`` for every 1 ≤ |γ| ≤ order (missing = 0), expanded."""
    return {g: sp.expand(multi_index_factorial(g) * series.get(g, 0)) for g in multi_indices(p, order)}


def cumulants_from_moments(moments: Mapping, order: int, *, p: int | None = None,
                           budget_s=DEFAULT_BUDGET_S) -> dict:
    """Cumulants ``κ_γ`` (1 ≤ |γ| ≤ order) of a random vector from its moments ``m_γ``.

    Exact for any p and order: ``K(t) = log(1 + Σ m_γ t^γ/γ!)`` as a truncated power series,
    ``κ_γ = γ! [t^γ] K``. A missing moment is 0. ``p`` is inferred from the keys (pass it for an
    empty dict). Raises :class:`KramersMoyalError` (a ValueError) for order < 1 or keys of
    inconsistent length.

    >>> m1, m2 = sp.symbols('m1 m2')
    >>> cumulants_from_moments({(1,): m1, (2,): m2}, 2)
    {(1,): m1, (2,): -m1**2 + m2}

    ``budget_s`` (seconds, default 20, None = no limit; :mod:`theory.budget`) bounds the call;
    there is no fallback: :class:`theory.budget.SymbolicTimeoutError` when it runs out.
    """
    return run_within(budget_s, _cumulants_from_moments, moments, order, p=p,
                      step="cumulants_from_moments")


def _cumulants_from_moments(moments: Mapping, order: int, *, p: int | None = None) -> dict:
    order = _check_order(order)
    m, dim = _normalise(moments, p=p, what="moments", zero_value=1)
    log_m = _series_log1p(_to_series(m, order), order)
    return _from_series(log_m, dim, order)


def moments_from_cumulants(cumulants: Mapping, order: int, *, p: int | None = None,
                           budget_s=DEFAULT_BUDGET_S) -> dict:
    """Moments ``m_γ`` (1 ≤ |γ| ≤ order) from cumulants ``κ_γ``: ``M(t) = exp(Σ κ_γ t^γ/γ!)``.

    The inverse of :func:`cumulants_from_moments` (same conventions and errors).

    >>> mu, s2 = sp.symbols('mu s2')
    >>> moments_from_cumulants({(1,): mu, (2,): s2}, 3)[(3,)]
    mu**3 + 3*mu*s2

    ``budget_s`` (seconds, default 20, None = no limit; :mod:`theory.budget`) bounds the call;
    there is no fallback: :class:`theory.budget.SymbolicTimeoutError` when it runs out.
    """
    return run_within(budget_s, _moments_from_cumulants, cumulants, order, p=p,
                      step="moments_from_cumulants")


def _moments_from_cumulants(cumulants: Mapping, order: int, *, p: int | None = None) -> dict:
    order = _check_order(order)
    k, dim = _normalise(cumulants, p=p, what="cumulants", zero_value=0)
    exp_k = _series_expm1(_to_series(k, order), order)
    return _from_series(exp_k, dim, order)


def moments_of_iid_sum(moments: Mapping, n_terms: int, order: int, *, p: int | None = None,
                       budget_s=DEFAULT_BUDGET_S) -> dict:
    """Moments of ``X_1 + … + X_n`` for i.i.d. ``X_i`` with the given moments, by brute force on
    moments: ``M_S(t) = M_X(t)^n`` expanded as a truncated series (no cumulant additivity used).

    ``budget_s`` (seconds, default 20, None = no limit; :mod:`theory.budget`) bounds the call;
    there is no fallback: :class:`theory.budget.SymbolicTimeoutError` when it runs out.
    """
    return run_within(budget_s, _moments_of_iid_sum, moments, n_terms, order, p=p,
                      step="moments_of_iid_sum")


def _moments_of_iid_sum(moments: Mapping, n_terms: int, order: int, *, p: int | None = None) -> dict:
    order = _check_order(order)
    if isinstance(n_terms, bool) or not isinstance(n_terms, int) or n_terms < 1:
        raise KramersMoyalError(f"n_terms must be an int ≥ 1; got {n_terms!r}")
    m, dim = _normalise(moments, p=p, what="moments", zero_value=1)
    one = {(0,) * dim: sp.Integer(1)}
    mx = _series_add(one, _to_series(m, order))
    total = one
    for _ in range(n_terms):
        total = _series_mul(total, mx, order)
    total.pop((0,) * dim, None)
    return _from_series(total, dim, order)


# --------------------------------------------------------------------------------------------
# SC.eq15: moments of the continuous increments and the K → ∞ limit
# --------------------------------------------------------------------------------------------
def increment_moments(cumulants: Mapping, dt, tau, order: int, *, p: int | None = None,
                      budget_s=DEFAULT_BUDGET_S) -> dict:
    """SC.eq15 / RND App. A eq. 6: moments of the continuous process's increment over ``dt``,
    ``E[Δ̃(dt)^γ] = κ_γ dt/τ`` for 1 ≤ |γ| ≤ order (κ_γ: cumulants of the discrete step taken every
    τ time units).

    ``budget_s`` (seconds, default 20, None = no limit; :mod:`theory.budget`) bounds the call;
    there is no fallback: :class:`theory.budget.SymbolicTimeoutError` when it runs out.
    """
    return run_within(budget_s, _increment_moments, cumulants, dt, tau, order, p=p,
                      step="increment_moments")


def _increment_moments(cumulants: Mapping, dt, tau, order: int, *, p: int | None = None) -> dict:
    order = _check_order(order)
    dt, tau = as_expr(dt, name="dt"), as_expr(tau, name="tau")
    k, dim = _normalise(cumulants, p=p, what="cumulants", zero_value=0)
    return {g: k.get(g, sp.Integer(0)) * dt / tau for g in multi_indices(dim, order)}


def k_step_sum_cumulants(cumulants: Mapping, n_steps, order: int, *, p: int | None = None,
                         budget_s=DEFAULT_BUDGET_S) -> dict:
    """Cumulants of ``S_K = Σ_{j≤K} X_j`` for i.i.d. ``X_j`` whose *moments* are ``κ_γ/K``
    (K = ``n_steps``; a positive SymPy symbol or an int), i.e. of the continuous process's
    change over τ = K·dt under SC.eq15 with i.i.d. increments.

    Computed as ``K · cumulants(X)`` with cumulants(X) from the moments κ/K (exact, finite K):
    equals ``κ_γ + O(1/K)``.

    ``budget_s`` (seconds, default 20, None = no limit; :mod:`theory.budget`) bounds the call;
    there is no fallback: :class:`theory.budget.SymbolicTimeoutError` when it runs out.
    """
    return run_within(budget_s, _k_step_sum_cumulants, cumulants, n_steps, order, p=p,
                      step="k_step_sum_cumulants")


def _k_step_sum_cumulants(cumulants: Mapping, n_steps, order: int, *, p: int | None = None) -> dict:
    order = _check_order(order)
    n_steps = as_expr(n_steps, name="n_steps")
    k, dim = _normalise(cumulants, p=p, what="cumulants", zero_value=0)
    moments_x = {g: v / n_steps for g, v in k.items()}
    kx = _cumulants_from_moments(moments_x, order, p=dim)
    return {g: sp.expand(n_steps * v) for g, v in kx.items()}


def k_step_limit_cumulants(cumulants: Mapping, order: int, *, p: int | None = None,
                           budget_s=DEFAULT_BUDGET_S) -> dict:
    """SC.eq15's justification (SC App. A.1 eq. 17; RND App. A eq. 8): the limit K → ∞ of
    :func:`k_step_sum_cumulants` — via ``(1 + C(t)/K)^K → e^{C(t)}`` it must be ``κ_γ`` itself.

    Returns ``{γ: lim_{K→∞} κ_γ(S_K)}`` computed with ``sympy.limit`` (K a positive symbol).

    ``budget_s`` (seconds, default 20, None = no limit; :mod:`theory.budget`) bounds the call; each
    limit gets a fair part of what is left, and one that does not finish within it is returned as
    the exact unevaluated ``sympy.Limit(κ_γ(S_K), K, oo)`` (``.doit()`` retries it). Building the
    finite-K cumulants has no fallback (:class:`theory.budget.SymbolicTimeoutError`).
    """
    deadline = Deadline(budget_s)
    K = sp.Symbol("K", positive=True, integer=True)
    finite = deadline.run(_k_step_sum_cumulants, cumulants, K, order, p=p,
                          step="k_step_sum_cumulants (the finite-K cumulants)")
    out = {}
    for i, (g, v) in enumerate(finite.items()):
        out[g] = deadline.attempt(sp.limit, v, K, sp.oo, step="limit", fallback=sp.Limit(v, K, sp.oo),
                                  share=1.0 / (len(finite) - i))[0]
    return out


# --------------------------------------------------------------------------------------------
# SGD cumulants (SC.eq9, SC.eq23; RND eq. 14)
# --------------------------------------------------------------------------------------------
def sgd_step_cumulants(gradient_cumulants: Mapping, lr, batch_size, *, order: int | None = None,
                       p: int | None = None, budget_s=DEFAULT_BUDGET_S) -> dict:
    """SC.eq23 / RND eq. 14: cumulants of one SGD step ``Δ = −(λ/B) Σ_{i≤B} g_i`` from the
    per-sample-gradient cumulants ``ω_γ``:

        κ_γ = B (−λ/B)^{|γ|} ω_γ = B (−T)^{|γ|} ω_γ,   T = λ/B.

    Keys are those of ``gradient_cumulants`` (or, with ``order``, every 1 ≤ |γ| ≤ order, missing
    ω = 0). ``lr`` = λ, ``batch_size`` = B (symbols or numbers).

    ``budget_s`` (seconds, default 20, None = no limit; :mod:`theory.budget`) bounds the call;
    there is no fallback: :class:`theory.budget.SymbolicTimeoutError` when it runs out.
    """
    return run_within(budget_s, _sgd_step_cumulants, gradient_cumulants, lr, batch_size,
                      order=order, p=p,
                      step="sgd_step_cumulants")


def _sgd_step_cumulants(gradient_cumulants: Mapping, lr, batch_size, *, order: int | None = None,
                        p: int | None = None) -> dict:
    lr, batch_size = as_expr(lr, name="lr"), as_expr(batch_size, name="batch_size")
    w, dim = _normalise(gradient_cumulants, p=p, what="gradient_cumulants", zero_value=0)
    keys = multi_indices(dim, _check_order(order)) if order is not None else sorted(w, key=sum)
    scale = -lr / batch_size
    return {g: batch_size * scale ** sum(g) * w.get(g, sp.Integer(0)) for g in keys}


def minibatch_mean_cumulants(sample_cumulants: Mapping, batch_size, *, order: int | None = None,
                             p: int | None = None, budget_s=DEFAULT_BUDGET_S) -> dict:
    """Cumulants of the mean of ``B`` i.i.d. samples: ``ω_γ / B^{|γ|−1}`` (additivity +
    homogeneity of cumulants).

    ``budget_s`` (seconds, default 20, None = no limit; :mod:`theory.budget`) bounds the call;
    there is no fallback: :class:`theory.budget.SymbolicTimeoutError` when it runs out.
    """
    return run_within(budget_s, _minibatch_mean_cumulants, sample_cumulants, batch_size,
                      order=order, p=p,
                      step="minibatch_mean_cumulants")


def _minibatch_mean_cumulants(sample_cumulants: Mapping, batch_size, *, order: int | None = None,
                              p: int | None = None) -> dict:
    batch_size = as_expr(batch_size, name="batch_size")
    w, dim = _normalise(sample_cumulants, p=p, what="sample_cumulants", zero_value=0)
    keys = multi_indices(dim, _check_order(order)) if order is not None else sorted(w, key=sum)
    return {g: w.get(g, sp.Integer(0)) / batch_size ** (sum(g) - 1) for g in keys}


def power_of_temperature(expr, temperature, *, budget_s=DEFAULT_BUDGET_S) -> int:
    """The exponent n with ``expr = c · Tⁿ`` and c free of T (T = ``temperature``).

    Used to exhibit SC.eq23's scaling: after substituting λ = B T, the order-|γ| KM term is
    ``∝ T^{|γ|}``. Raises :class:`KramersMoyalError` if ``expr`` is not a single power of T
    (e.g. ``T + T²``) or is 0. ``budget_s`` (seconds, default 20, None = no limit;
    :mod:`theory.budget`) bounds the simplify of ``T ∂_T log expr``, which has no fallback:
    :class:`theory.budget.SymbolicTimeoutError` when it runs out.
    """
    e = as_expr(expr, name="expr")
    temperature = as_expr(temperature, name="temperature")
    if e == 0:
        raise KramersMoyalError("expression is 0: it has no power of the temperature")
    # the logarithmic derivative T ∂_T log e must be a constant integer
    ratio = run_within(budget_s, sp.simplify, temperature * sp.diff(e, temperature) / e,
                       step="simplifying T ∂_T log expr")
    if ratio.has(temperature) or not ratio.is_integer:
        raise KramersMoyalError(f"{expr} is not c·T^n with c free of T (T∂_T log = {ratio})")
    return int(ratio)


def sgd_gradient_cumulants(U, D, theta) -> dict:
    """Per-sample-gradient cumulants up to order 2 in SC's notation (RND App. A eqs. 15–16):
    ``ω_{e_i} = ∂_i U`` (mean gradient), ``ω_{e_i+e_j} = D_ij`` (gradient covariance).

    The order-2 joint cumulant of a random vector is symmetric, so for ``i ≠ j`` the symmetric
    part ``(D_ij + D_ji)/2`` is used (equal to D_ij for a covariance matrix).
    """
    th = as_theta(theta)
    p = len(th)
    Dm = as_square_matrix(D, p)
    U = as_expr(U, name="U")
    out = {unit_multi_index(p, i): sp.diff(U, th[i]) for i in range(p)}
    for i in range(p):
        for j in range(i, p):
            out[unit_multi_index(p, i, j)] = Dm[i, i] if i == j else (Dm[i, j] + Dm[j, i]) / 2
    return out


# --------------------------------------------------------------------------------------------
# SC.eq16: the Kramers–Moyal operator
# --------------------------------------------------------------------------------------------
def kramers_moyal_terms(cumulants: Mapping, rho, theta, order: int, *, tau=1,
                        budget_s=DEFAULT_BUDGET_S) -> dict:
    """The terms of SC.eq16 by multi-index: ``{γ: (−1)^{|γ|}/(τ γ!) ∂^γ(κ_γ ρ)}`` for every
    1 ≤ |γ| ≤ order with a non-zero κ_γ.

    ``budget_s`` (seconds, default 20, None = no limit; :mod:`theory.budget`) bounds the call;
    there is no fallback: :class:`theory.budget.SymbolicTimeoutError` when it runs out.
    """
    return run_within(budget_s, _kramers_moyal_terms, cumulants, rho, theta, order, tau=tau,
                      step="kramers_moyal_terms")


def _kramers_moyal_terms(cumulants: Mapping, rho, theta, order: int, *, tau=1) -> dict:
    order = _check_order(order)
    th = as_theta(theta)
    rho, tau = as_expr(rho, name="rho"), as_expr(tau, name="tau")
    k, dim = _normalise(cumulants, p=len(th), what="cumulants", zero_value=0)
    terms = {}
    for g in multi_indices(dim, order):
        kg = k.get(g, 0)
        if kg == 0:
            continue
        coeff = sp.Integer(-1) ** sum(g) / (tau * multi_index_factorial(g))
        terms[g] = coeff * multi_index_derivative(kg * rho, th, g)
    return terms


def kramers_moyal_operator(cumulants: Mapping, rho, theta, order: int, *, tau=1,
                           budget_s=DEFAULT_BUDGET_S) -> sp.Expr:
    """SC.eq16 (RND App. A eq. 7) truncated at ``order``:

        ∂_t ρ = Σ_{1≤|γ|≤order} (−1)^{|γ|}/(τ γ!) ∂^γ(κ_γ ρ).

    The sum runs over all γ ∈ N_0^p with |γ| ≥ 1 (not over γ with every γ_i ≥ 1). ``cumulants``
    are those of one discrete step taken every τ time units (missing = 0); ``theta`` a Symbol,
    list or column Matrix whose length must equal the keys' length.

    ``budget_s`` (seconds, default 20, None = no limit; :mod:`theory.budget`) bounds the call;
    there is no fallback: :class:`theory.budget.SymbolicTimeoutError` when it runs out.
    """
    return run_within(budget_s, _kramers_moyal_operator, cumulants, rho, theta, order, tau=tau,
                      step="kramers_moyal_operator")


def _kramers_moyal_operator(cumulants: Mapping, rho, theta, order: int, *, tau=1) -> sp.Expr:
    return sp.Add(*_kramers_moyal_terms(cumulants, rho, theta, order, tau=tau).values())


def fokker_planck_from_kramers_moyal(U, D, theta, lr, batch_size, *, rho=None, tau=1) -> sp.Expr:
    """The KM operator (SC.eq16) truncated at order 2 with SGD cumulants (SC.eq23) built from
    ``ω_{e_i} = ∂_iU``, ``ω_{e_i+e_j} = D_ij``, applied to ``rho`` (default: a generic function
    ``rho(θ)``). Time in units of SGD steps (τ = 1). This equals ``λ ∂·J`` of SC.eq10
    (see :func:`prove_kramers_moyal_order2_is_fokker_planck`)."""
    th = as_theta(theta)
    rho = sp.Function("rho")(*th) if rho is None else as_expr(rho, name="rho")
    kappa = _sgd_step_cumulants(sgd_gradient_cumulants(U, D, th), lr, batch_size)
    return _kramers_moyal_operator(kappa, rho, th, 2, tau=tau)


def prove_kramers_moyal_order2_is_fokker_planck(U, D, theta, lr, batch_size, *,
                                                rho=None, budget_s=DEFAULT_BUDGET_S) -> IdentityResult:
    """Prove ``KM₂[ρ] = λ ∂·J`` with ``J = ∂Uρ + (T/2)∂·(Dρ)``, ``T = λ/B`` (SC.eq10; the same as
    RND eq. 16's ``B T ∂·J`` since λ = BT). Returns the :class:`IdentityResult` of the difference
    (exact when simplify proves it). ``budget_s`` as in :func:`theory.identity.check_identity`
    (a simplify that runs out leaves the decision to the spot-check; with the default generic
    ``rho(θ)`` there is none, and the result is then undecided)."""
    th = as_theta(theta)
    rho = sp.Function("rho")(*th) if rho is None else as_expr(rho, name="rho")
    lr, batch_size = as_expr(lr, name="lr"), as_expr(batch_size, name="batch_size")
    km = fokker_planck_from_kramers_moyal(U, D, th, lr, batch_size, rho=rho)
    fp = fokker_planck_operator(rho, U, D, th, lr / batch_size, lr=lr)
    return check_identity(sp.expand(km), sp.expand(fp), budget_s=budget_s)


def rescaled_time_rhs(rhs_of, theta, time_scale, *, name: str = "rho") -> tuple[sp.Expr, sp.Expr]:
    """Rewrite ``∂_t ρ = rhs_of(ρ)`` in the time ``s = time_scale · t`` (SC: s = λt; RND: s = Bt).

    ``rhs_of`` is a callable taking a density expression and returning the right-hand side (a
    linear operator). With ``ρ(θ, t) = ρ̂(θ, time_scale·t)`` the chain rule is applied by SymPy and
    the equation solved for ``∂_s ρ̂``. Returns ``(rhs_in_s, rho_hat)`` with ``rho_hat = ρ̂(θ, s)``.
    """
    th = as_theta(theta)
    time_scale = as_expr(time_scale, name="time_scale")
    t, s = sp.symbols("t s", positive=True)
    rho_hat = sp.Function(name)
    rho = rho_hat(*th, time_scale * t)
    residual = sp.diff(rho, t) - rhs_of(rho)
    residual = residual.subs(t, s / time_scale).doit()
    target = sp.Derivative(rho_hat(*th, s), s)
    placeholder = sp.Dummy("ds_rho")
    linear = sp.expand(residual.subs(target, placeholder))
    coeff = linear.diff(placeholder)
    if coeff == 0 or coeff.has(placeholder) or linear.has(t):
        raise KramersMoyalError("could not solve the rescaled equation for ∂_s ρ̂; rhs_of must be "
                                "linear in ρ and free of t")
    rhs = -(linear - coeff * placeholder) / coeff
    return sp.expand(rhs), rho_hat(*th, s)
