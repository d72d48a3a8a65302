"""theory.temperature: basin weights, RND.eq24 derivative, mixture test loss, two-basin sign."""
import math

import pytest
import sympy as sp

from theory import temperature as tm

T = sp.Symbol("T", positive=True)


def test_weights_sum_to_one_and_follow_rnd_eq20():
    w = tm.weights([0, 1], [0, 0], [0, 0], 1)
    assert sp.simplify(sum(w) - 1) == 0
    assert float(w[1] / w[0]) == pytest.approx(math.exp(-2))


def test_prefactor_favours_flat_basin():
    lp = [tm.log_prefactor(1, 4), tm.log_prefactor(1, 1)]  # C̃ = 4 (sharp), 1 (flat)
    w = tm.weights([0, 0], [0, 0], lp, T)
    assert float(w[1] / w[0]) == pytest.approx(2.0)


def test_log_prefactor_matrix():
    assert sp.simplify(tm.log_prefactor(sp.eye(2) * 2, sp.diag(1, 4)) - 0) == 0


def test_d_dT_average_matches_direct_derivative_numerically():
    v, a, lp, f = [0, sp.Rational(3, 10), sp.Rational(1, 2)], [0, 1, 0], [0, 0, 1], [1, -2, 5]
    w = tm.weights(v, a, lp, T)
    direct = sp.diff(tm.basin_average(f, w), T).subs(T, sp.Rational(1, 3))
    formula = tm.d_dT_average(f, v_tilde=v, weights=w, T=T).subs(T, sp.Rational(1, 3))
    assert float(direct) == pytest.approx(float(formula), rel=1e-12)


def test_d_dT_average_includes_explicit_T_dependence():
    w = [sp.Rational(1, 2)] * 2  # fixed weights; ṽ equal so Cov = 0
    assert tm.d_dT_average([T**2, 3 * T], v_tilde=[0, 0], weights=w, T=T) == T + sp.Rational(3, 2)


def test_mean_v_is_non_decreasing():
    v = [0, sp.Rational(1, 5), 1]
    w = tm.weights(v, [0, 0, 0], [0, sp.Rational(1, 2), 1], T)
    for t in (sp.Rational(1, 10), 1, 10):
        assert float(tm.d_dT_average(v, v_tilde=v, weights=w, T=T).subs(T, t)) >= 0


def test_d_dbeta_weights_sign():
    beta = sp.Symbol("beta", positive=True)
    v = [0, 1]
    w = [x.subs(T, 1 / beta) for x in tm.weights(v, [0, 0], [0, 0], T)]
    direct = [sp.diff(x, beta).subs(beta, 1) for x in w]
    ours = [x.subs(beta, 1) for x in tm.d_dbeta_weights(v, w)]
    assert [float(d) for d in direct] == pytest.approx([float(o) for o in ours])
    assert float(direct[0]) > 0  # the deep basin gains weight as β grows (T falls)


def test_mixture_test_loss_one_basin_scalar():
    L = tm.mixture_test_loss([1], [2], [4], [T / 2 * sp.Rational(1, 4)], [0], [sp.Rational(1, 2)])
    assert sp.simplify(L - (2 + T / 4 + sp.Rational(1, 2))) == 0


def test_one_basin_is_quarter_trace():
    assert tm.one_basin_dT_test_loss_corrected(sp.diag(1, 2), sp.eye(2), sp.eye(2)) == sp.Rational(3, 4)
    with pytest.raises(tm.BasinSpecError, match="singular"):
        tm.one_basin_dT_test_loss_corrected(sp.eye(2), sp.zeros(2), sp.eye(2))
    with pytest.raises(tm.BasinSpecError, match="square"):
        tm.one_basin_dT_test_loss_corrected(sp.eye(2), sp.eye(3), sp.eye(2))


def test_printed_eq25_equals_direct_derivative_at_a_point():
    v, U = [0, sp.Rational(1, 10)], [0, sp.Rational(1, 20)]
    C = [sp.Integer(4), sp.Integer(1)]
    Sigma = [T / 8, T / 2]
    b, s = [T / 3, -T], [sp.Rational(1, 10), sp.Rational(-1, 5)]
    w = tm.weights(v, [0, 0], [0, 0], T)
    direct = sp.diff(tm.mixture_test_loss(w, U, C, Sigma, b, s), T)
    printed = tm.dT_test_loss_eq25_printed(w, v, U, C, Sigma, b, s, T)
    assert float((direct - printed).subs(T, sp.Rational(1, 7))) == pytest.approx(0, abs=1e-12)


def test_two_basin_covariance_and_sign():
    w1 = sp.Rational(1, 4)
    cov = tm.basin_covariance([0, 2], [1, 5], [1 - w1, w1])
    assert cov == tm.two_basin_covariance(w1, 1, 5, 0, 2)
    # deeper basin 0 sharper: s0ᵀC0s0 = 0.04 > s1ᵀC1s1 + 2ΔU = 0.01 + 0.02 → improves
    assert tm.test_loss_improves_with_T(0, 0.1, 0, 0.01, 0.04, 0.01)
    assert not tm.test_loss_improves_with_T(0, 0.1, 0, 0.01, 0.01, 0.04)
    with pytest.raises(TypeError, match="numbers"):
        tm.test_loss_improves_with_T(0, sp.Symbol("a"), 0, 1, 0, 0)


def test_leading_term_matches_two_basin_product():
    w1 = sp.Rational(1, 3)
    lead = tm.leading_dT_test_loss([1 - w1, w1], [0, 1], [0, 2], [4, 1], [sp.Rational(1, 2)] * 2, T)
    prod = tm.two_basin_sign_product(0, 1, 0, 2, 1, sp.Rational(1, 4))
    assert sp.simplify(lead - w1 * (1 - w1) * prod / T**2) == 0


@pytest.mark.parametrize("bad", [dict(v_tilde=[0, 1], a_tilde=[0], log_prefactors=[0, 0]),
                                 dict(v_tilde=[], a_tilde=[], log_prefactors=[]),
                                 dict(v_tilde=sp.Matrix([0, 1]), a_tilde=[0, 0], log_prefactors=[0, 0])])
def test_weights_reject_bad_basin_lists(bad):
    with pytest.raises(tm.BasinSpecError):
        tm.weights(T=T, **bad)


def test_basin_spec_error_is_value_error_and_shapes_checked():
    assert issubclass(tm.BasinSpecError, ValueError)
    with pytest.raises(tm.BasinSpecError, match="basin 0"):
        tm.mixture_test_loss([1], [0], [sp.eye(2)], [sp.eye(2)], [sp.Matrix([0, 0, 0])], [sp.Matrix([0, 0])])
