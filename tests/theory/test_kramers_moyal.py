"""Tests for theory.kramers_moyal: moments ↔ cumulants, K → ∞ limit, SGD cumulants, KM → FP."""
import random
from fractions import Fraction
from itertools import product

import pytest
import sympy as sp

from theory import kramers_moyal as km
from theory.fokker_planck import fokker_planck_operator
from theory.kramers_moyal import (
    KramersMoyalError,
    cumulants_from_moments,
    k_step_limit_cumulants,
    k_step_sum_cumulants,
    kramers_moyal_operator,
    minibatch_mean_cumulants,
    moments_from_cumulants,
    moments_of_iid_sum,
    multi_indices,
    power_of_temperature,
    prove_kramers_moyal_order2_is_fokker_planck,
    rescaled_time_rhs,
    sgd_gradient_cumulants,
    sgd_step_cumulants,
)

LR, B, T = sp.symbols("lambda B T", positive=True)


def generic(prefix, p, order):
    return {g: sp.Symbol(f"{prefix}_{''.join(map(str, g))}") for g in multi_indices(p, order)}


def same(a: dict, b: dict) -> bool:
    keys = set(a) | set(b)
    return all(sp.expand(a.get(k, 0) - b.get(k, 0)) == 0 for k in keys)


# ---------------------------------------------------------------- multi-indices
def test_multi_indices_counts_and_order():
    assert multi_indices(2, 2) == [(1, 0), (0, 1), (2, 0), (1, 1), (0, 2)]
    # number of γ ∈ N_0^p with 1 ≤ |γ| ≤ n is C(n+p, p) − 1
    for p in (1, 2, 3):
        for n in (1, 3, 4):
            assert len(multi_indices(p, n)) == sp.binomial(n + p, p) - 1
    assert multi_indices(3, 2, min_order=2) == [g for g in multi_indices(3, 2) if sum(g) == 2]
    assert multi_indices(2, 0, min_order=0) == [(0, 0)]


@pytest.mark.parametrize("args", [(0, 2), (2, -1), (True, 2)])
def test_multi_indices_rejects_bad_sizes(args):
    with pytest.raises(ValueError):
        multi_indices(*args)


def test_multi_index_helpers():
    assert km.multi_index_factorial((3, 0, 2)) == 12
    assert km.unit_multi_index(3, 0, 2, 2) == (1, 0, 2)
    x, y = sp.symbols("x y")
    assert km.multi_index_power([x, y], (2, 1)) == x**2 * y
    assert km.multi_index_derivative(x**3 * y**2, [x, y], (2, 1)) == 12 * x * y
    with pytest.raises(KramersMoyalError):
        km.unit_multi_index(2, 2)
    with pytest.raises(KramersMoyalError):
        km.multi_index_derivative(x, [x, y], (1,))


# ---------------------------------------------------------------- moments ↔ cumulants
@pytest.mark.parametrize("p", [1, 2, 3])
def test_round_trip_exact_up_to_order_4(p):
    m = generic("m", p, 4)
    k = cumulants_from_moments(m, 4)
    assert set(k) == set(multi_indices(p, 4))
    assert same(moments_from_cumulants(k, 4), m)
    kk = generic("k", p, 4)
    assert same(cumulants_from_moments(moments_from_cumulants(kk, 4), 4), kk)


def test_univariate_closed_forms():
    m1, m2, m3, m4 = sp.symbols("m1:5")
    k = cumulants_from_moments({(1,): m1, (2,): m2, (3,): m3, (4,): m4}, 4)
    assert sp.expand(k[(2,)] - (m2 - m1**2)) == 0
    assert sp.expand(k[(3,)] - (m3 - 3 * m2 * m1 + 2 * m1**3)) == 0
    assert sp.expand(k[(4,)] - (m4 - 4 * m3 * m1 - 3 * m2**2 + 12 * m2 * m1**2 - 6 * m1**4)) == 0


def test_bivariate_mixed_cumulant():
    m = generic("m", 2, 3)
    k = cumulants_from_moments(m, 3)
    assert sp.expand(k[(1, 1)] - (m[(1, 1)] - m[(1, 0)] * m[(0, 1)])) == 0
    expected_21 = (m[(2, 1)] - 2 * m[(1, 1)] * m[(1, 0)] - m[(2, 0)] * m[(0, 1)]
                   + 2 * m[(1, 0)] ** 2 * m[(0, 1)])
    assert sp.expand(k[(2, 1)] - expected_21) == 0


def test_gaussian_cumulants_vanish_beyond_two_and_moments_are_isserlis():
    mu1, mu2, s11, s12, s22 = sp.symbols("mu1 mu2 s11 s12 s22")
    k = {(1, 0): mu1, (0, 1): mu2, (2, 0): s11, (1, 1): s12, (0, 2): s22}
    m = moments_from_cumulants(k, 5)
    back = cumulants_from_moments(m, 5)
    assert all(sp.expand(back[g]) == 0 for g in back if sum(g) > 2)
    # zero-mean Isserlis: E[x1² x2²] = s11 s22 + 2 s12²,  E[x1⁴] = 3 s11²
    m0 = moments_from_cumulants({(2, 0): s11, (1, 1): s12, (0, 2): s22}, 4)
    assert sp.expand(m0[(2, 2)] - (s11 * s22 + 2 * s12**2)) == 0
    assert sp.expand(m0[(4, 0)] - 3 * s11**2) == 0
    assert sp.expand(m0[(3, 1)] - 3 * s11 * s12) == 0
    assert all(m0[g] == 0 for g in m0 if sum(g) % 2 == 1)


def test_poisson_all_cumulants_equal_rate():
    r = sp.Symbol("r", positive=True)
    s = sp.Symbol("s")
    M = sp.exp(r * (sp.exp(s) - 1))
    moments = {(n,): sp.diff(M, s, n).subs(s, 0) for n in range(1, 6)}
    k = cumulants_from_moments(moments, 5)
    assert all(sp.simplify(v - r) == 0 for v in k.values())


def test_bernoulli_cumulants():
    q = sp.Symbol("q", positive=True)
    k = cumulants_from_moments({(n,): q for n in range(1, 5)}, 4)  # E[X^n] = q
    assert sp.factor(k[(2,)] - q * (1 - q)) == 0
    assert sp.factor(k[(3,)] - q * (1 - q) * (1 - 2 * q)) == 0
    assert sp.factor(k[(4,)] - q * (1 - q) * (1 - 6 * q + 6 * q**2)) == 0


def test_missing_keys_are_zero_and_p_keyword():
    s2 = sp.Symbol("s2")
    m = moments_from_cumulants({(0, 2): s2}, 4)  # κ only for γ = (0,2)
    assert m[(1, 0)] == 0 and m[(0, 2)] == s2 and sp.expand(m[(0, 4)] - 3 * s2**2) == 0
    empty = cumulants_from_moments({}, 2, p=2)
    assert set(empty) == set(multi_indices(2, 2)) and all(v == 0 for v in empty.values())
    # keys above the order are ignored, the γ = 0 entry may be given with its implicit value
    assert cumulants_from_moments({(0,): 1, (1,): 3, (5,): 7}, 2) == {(1,): 3, (2,): -9}


@pytest.mark.parametrize("order", [0, -2])
def test_order_below_one_raises(order):
    with pytest.raises(ValueError, match="order"):
        cumulants_from_moments({(1,): 1}, order)
    with pytest.raises(ValueError):
        moments_from_cumulants({(1,): 1}, order)


def test_bad_inputs_raise_typed_errors():
    with pytest.raises(KramersMoyalError, match="inconsistent"):
        cumulants_from_moments({(1,): 1, (1, 0): 2}, 2)
    with pytest.raises(KramersMoyalError, match="inconsistent"):
        cumulants_from_moments({(1,): 1}, 2, p=2)
    with pytest.raises(KramersMoyalError, match="empty"):
        moments_from_cumulants({}, 2)
    with pytest.raises(KramersMoyalError, match="multi-index"):
        cumulants_from_moments({(1, -1): 1}, 2)
    with pytest.raises(KramersMoyalError, match="multi-index"):
        cumulants_from_moments({1: 1}, 2)
    with pytest.raises(KramersMoyalError, match="must be 1"):
        cumulants_from_moments({(0,): 2, (1,): 1}, 2)
    with pytest.raises(TypeError, match="string"):
        cumulants_from_moments({(1,): "x + 1"}, 2)
    with pytest.raises(TypeError):
        cumulants_from_moments({(1,): 1}, 2.0)
    with pytest.raises(TypeError):
        cumulants_from_moments([((1,), 1)], 2)


def test_numeric_round_trip_against_sample_of_discrete_distribution():
    # exact moments of a 2-D discrete distribution; cumulant κ_(1,1) is the covariance
    rng = random.Random(3)
    pts = [(Fraction(rng.randint(-4, 4), 3), Fraction(rng.randint(-4, 4), 2)) for _ in range(5)]
    m = {g: sp.Rational(1, 5) * sum(sp.Rational(x.numerator, x.denominator) ** g[0]
                                    * sp.Rational(y.numerator, y.denominator) ** g[1] for x, y in pts)
         for g in multi_indices(2, 4)}
    k = cumulants_from_moments(m, 4)
    cov = m[(1, 1)] - m[(1, 0)] * m[(0, 1)]
    assert k[(1, 1)] == cov
    assert same(moments_from_cumulants(k, 4), m)


# ---------------------------------------------------------------- sums, minibatches, SGD
def test_iid_sum_and_minibatch_mean_cumulants():
    w = generic("w", 2, 3)
    m = moments_from_cumulants(w, 3)
    for b in (2, 3):
        m_sum = moments_of_iid_sum(m, b, 3)
        k_sum = cumulants_from_moments(m_sum, 3)
        assert same(k_sum, {g: b * v for g, v in w.items()})
        m_mean = {g: v / sp.Integer(b) ** sum(g) for g, v in m_sum.items()}
        assert same(cumulants_from_moments(m_mean, 3), minibatch_mean_cumulants(w, b))
    Bs = sp.Symbol("B", positive=True)
    mm = minibatch_mean_cumulants({(1,): 1, (3,): 5}, Bs, order=3)
    assert mm == {(1,): 1, (2,): 0, (3,): 5 / Bs**2}
    with pytest.raises(KramersMoyalError):
        moments_of_iid_sum(m, 0, 3)


def test_sgd_step_cumulants_and_temperature_power():
    w = generic("w", 2, 4)
    k = sgd_step_cumulants(w, LR, B)
    for g, v in k.items():
        assert sp.expand(v.subs(LR, B * T) - B * (-T) ** sum(g) * w[g]) == 0
        assert power_of_temperature((-1) ** sum(g) * v.subs(LR, B * T), T) == sum(g)
    full = sgd_step_cumulants({(1,): 1}, LR, B, order=3)
    assert full[(2,)] == 0 and set(full) == {(1,), (2,), (3,)}


def test_sgd_step_cumulants_match_enumerated_minibatches():
    data = [sp.Rational(1), sp.Rational(-3, 2), sp.Rational(5, 2), sp.Rational(0)]
    lr, b, order = sp.Rational(1, 5), 2, 4
    sample_m = {(n,): sum(x**n for x in data) / len(data) for n in range(1, order + 1)}
    w = cumulants_from_moments(sample_m, order)
    batches = list(product(data, repeat=b))
    steps = [-lr / b * sum(bt) for bt in batches]
    step_m = {(n,): sum(s**n for s in steps) / len(steps) for n in range(1, order + 1)}
    assert same(cumulants_from_moments(step_m, order), sgd_step_cumulants(w, lr, b))


def test_power_of_temperature_rejects_mixtures_and_zero():
    a = sp.Symbol("a")
    assert power_of_temperature(a * T**3 / 2, T) == 3
    assert power_of_temperature(a, T) == 0
    with pytest.raises(KramersMoyalError):
        power_of_temperature(T + T**2, T)
    with pytest.raises(KramersMoyalError):
        power_of_temperature(0, T)


# ---------------------------------------------------------------- K → ∞ limit (SC.eq15)
@pytest.mark.parametrize("p,order", [(1, 4), (2, 3)])
def test_k_step_limit_reproduces_cumulants(p, order):
    kappa = generic("kappa", p, order)
    assert same(k_step_limit_cumulants(kappa, order), kappa)


def test_finite_k_has_one_over_k_error_and_increment_moments():
    K, dt, tau = sp.symbols("K dt tau", positive=True)
    a, b, c = sp.symbols("a b c")
    fin = k_step_sum_cumulants({(1,): a, (2,): b, (3,): c}, K, 3)
    assert fin[(1,)] == a
    assert sp.expand(fin[(2,)] - (b - a**2 / K)) == 0
    assert sp.expand(fin[(3,)] - (c - 3 * a * b / K + 2 * a**3 / K**2)) == 0
    inc = km.increment_moments({(0, 1): a}, dt, tau, 2)
    assert inc[(0, 1)] == a * dt / tau and inc[(1, 1)] == 0 and len(inc) == 5


# ---------------------------------------------------------------- KM operator (SC.eq16)
def test_km_operator_p1_explicit_and_tau():
    x, tau = sp.symbols("x tau", positive=True)
    rho = sp.Function("rho")(x)
    k1, k2, k3 = (sp.Function(f"k{i}")(x) for i in (1, 2, 3))
    op = kramers_moyal_operator({(1,): k1, (2,): k2, (3,): k3}, rho, x, 3, tau=tau)
    want = (-sp.diff(k1 * rho, x) + sp.diff(k2 * rho, x, 2) / 2 - sp.diff(k3 * rho, x, 3) / 6) / tau
    assert sp.expand(op - want) == 0
    # truncation order respected, missing cumulants = 0
    assert sp.expand(kramers_moyal_operator({(1,): k1, (2,): k2}, rho, x, 1) + sp.diff(k1 * rho, x)) == 0
    assert kramers_moyal_operator({}, rho, x, 2) == 0


def test_km_operator_dimension_mismatch_and_order():
    x, y = sp.symbols("x y")
    with pytest.raises(KramersMoyalError):
        kramers_moyal_operator({(1,): 1}, sp.exp(-x**2), [x, y], 2)
    with pytest.raises(ValueError):
        kramers_moyal_operator({(1,): 1}, sp.exp(-x**2), x, 0)


def test_km_gaussian_step_solution_p1():
    x, t, mu = sp.symbols("x t mu")
    s2 = sp.Symbol("s2", positive=True)
    t = sp.Symbol("t", positive=True)
    rho = sp.exp(-(x - mu * t) ** 2 / (2 * s2 * t)) / sp.sqrt(2 * sp.pi * s2 * t)
    op = kramers_moyal_operator({(1,): mu, (2,): s2}, rho, x, 2)
    assert sp.simplify((sp.diff(rho, t) - op) / rho) == 0


# ---------------------------------------------------------------- KM → FP (SC.eq10, eq11)
def generic_field(p):
    th = sp.symbols(f"x0:{p}")
    U = sp.Function("U")(*th)
    D = sp.Matrix(p, p, lambda i, j: sp.Function(f"D{min(i, j)}{max(i, j)}")(*th))
    return list(th), U, D


@pytest.mark.parametrize("p", [1, 2])
def test_km_order2_equals_fp_lambda_and_rnd_forms(p):
    th, U, D = generic_field(p)
    assert prove_kramers_moyal_order2_is_fokker_planck(U, D, th, LR, B).exact
    rho = sp.Function("rho")(*th)
    km2 = km.fokker_planck_from_kramers_moyal(U, D, th, B * T, B, rho=rho)
    rnd = B * T * fokker_planck_operator(rho, U, D, th, T)
    assert sp.expand(km2 - rnd) == 0


def test_km_order2_with_wrong_temperature_is_refuted():
    th, U, D = generic_field(1)
    rho = sp.Function("rho")(*th)
    km2 = km.fokker_planck_from_kramers_moyal(U, D[0, 0], th, LR, B, rho=rho)
    wrong = fokker_planck_operator(rho, U, D, th, 2 * LR / B, lr=LR)  # T off by 2
    assert sp.expand(km2 - wrong) != 0


def test_sgd_gradient_cumulants_symmetrise_off_diagonal():
    x, y = sp.symbols("x y")
    D = sp.Matrix([[1, x], [y, 2]])
    w = sgd_gradient_cumulants(x**2 + y, D, [x, y])
    assert w[(1, 1)] == (x + y) / 2 and w[(2, 0)] == 1 and w[(1, 0)] == 2 * x and w[(0, 1)] == 1
    with pytest.raises(ValueError):
        sgd_gradient_cumulants(x, sp.Matrix([[1]]), [x, y])


def test_rescaled_time_rhs_removes_lambda():
    th, U, D = generic_field(2)
    rhs, rho_hat = rescaled_time_rhs(lambda r: fokker_planck_operator(r, U, D, th, LR / B, lr=LR),
                                     th, LR)
    assert sp.expand(rhs - fokker_planck_operator(rho_hat, U, D, th, LR / B)) == 0
    assert LR not in sp.expand(rhs.subs(LR, B * T)).free_symbols
    assert B not in sp.expand(rhs.subs(LR, B * T)).free_symbols
