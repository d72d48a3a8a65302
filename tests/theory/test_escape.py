"""Tests of theory.escape: the symbolic escape-time formulas and their typed errors (the exact
quadratures are tested in tests/numerics/test_first_passage.py)."""
import math

import pytest
import sympy as sp

from theory.escape import (
    EscapeInputError,
    dt_diffusion_from_sc,
    escape_rate_parallel,
    hessian_noise_covariance,
    kramers_escape_time,
    positive_part,
    sgd_escape_time_printed,
    valley_probabilities,
)

x = sp.Symbol("x", real=True)
WELL = (x**2 - 1) ** 2 / 4


# ---------------------------------------------------------------- exact MFPT: closed forms
# ---------------------------------------------------------------- formulas
def test_kramers_1d_and_matrix_forms_agree():
    Ha, Hb, dL, D = sp.symbols("H_a H_b dL D", positive=True)
    one = kramers_escape_time(Ha, -Hb, dL, D)
    assert sp.simplify(one - 2 * sp.pi / sp.sqrt(Ha * Hb) * sp.exp(dL / D)) == 0
    M = kramers_escape_time(sp.diag(2, 5), sp.diag(-1, 5), 1, sp.Rational(1, 10))
    assert float(M) == pytest.approx(float(kramers_escape_time(2, -1, 1, sp.Rational(1, 10))))


def test_sgd_linear_in_B_and_inverse_lr():
    s, B, lr = sp.Rational(1, 3), sp.Symbol("B", positive=True), sp.Symbol("eta", positive=True)
    log_tau = sp.expand_log(sp.log(sgd_escape_time_printed(2, -1, 1, B, lr, s)), force=True)
    assert sp.diff(log_tau, B, 2) == 0
    assert sp.diff(log_tau.subs(lr, 1 / sp.Symbol("u", positive=True)), sp.Symbol("u", positive=True), 2) == 0


def test_hessian_noise_covariance_and_positive_part():
    n = hessian_noise_covariance(sp.diag(2, 4), 8, sp.Rational(1, 10))
    assert n.covariance == sp.diag(sp.Rational(1, 4), sp.Rational(1, 2))
    assert n.diffusion == sp.diag(sp.Rational(1, 80), sp.Rational(1, 40))
    P = positive_part(sp.Matrix([[0, 1], [1, 0]]))
    assert P == sp.eye(2)
    assert hessian_noise_covariance(-3, 1, 2, use_positive_part=True).diffusion == 3


def test_rule1_and_prop1_arithmetic():
    assert escape_rate_parallel([1, 2, sp.Rational(1, 2)]) == sp.Rational(7, 2)
    assert valley_probabilities([1, 3]) == [sp.Rational(1, 4), sp.Rational(3, 4)]
    p = valley_probabilities([2.0, 2.0, 4.0])
    assert [float(v) for v in p] == pytest.approx([0.25, 0.25, 0.5])


# ---------------------------------------------------------------- bad inputs


def test_formula_bad_inputs():
    with pytest.raises(EscapeInputError):
        kramers_escape_time(2, 1, 1, 0.1)  # saddle eigenvalue must be negative
    with pytest.raises(EscapeInputError):
        kramers_escape_time(2, -1, 1, 0)
    with pytest.raises(EscapeInputError):
        kramers_escape_time(sp.diag(2, 1), sp.diag(-1, -1), 1, 0.1)  # second-order saddle
    with pytest.raises(EscapeInputError):
        sgd_escape_time_printed(2, -1, 1, 1, 0.1, 1.5)
    with pytest.raises(EscapeInputError):
        hessian_noise_covariance(1, 0, 0.1)
    with pytest.raises(EscapeInputError):
        valley_probabilities([1, -1])
    with pytest.raises(EscapeInputError):
        escape_rate_parallel([])
    with pytest.raises(TypeError):
        kramers_escape_time("2", -1, 1, 0.1)
