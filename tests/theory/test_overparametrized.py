"""theory.overparametrized: SC.eq13 modified SGD, flat directions, variance Tβ²/(2α)."""
import numpy as np
import pytest
import sympy as sp

from theory import overparametrized as op
from theory.effective_potential import SingularDiffusionError, effective_potential
from theory.fokker_planck import probability_current

x, y, z = sp.symbols("x y z", real=True)
T, a, b = sp.symbols("T alpha beta", positive=True)


def test_regularized_pieces():
    assert sp.simplify(op.regularized_potential(x**2, [x, y], a) - (x**2 + a * (x**2 + y**2) / 2)) == 0
    assert op.regularized_diffusion(sp.zeros(2), [x, y], b) == b**2 * sp.eye(2)


def test_step_moments():
    mean, cov = op.modified_sgd_step_moments(x**2 / 2, 1, x, lr=sp.Rational(1, 10), T=T, alpha=a, beta=b)
    assert sp.simplify(mean[0] + (x + a * x) / 10) == 0
    assert sp.simplify(cov[0, 0] - T * (1 + b**2) / 10) == 0


def test_singular_diffusion_needs_the_modification():
    D = sp.Matrix([[1, 0], [0, 0]])
    with pytest.raises(SingularDiffusionError):
        effective_potential(x**2 / 2, D, [x, y], T)
    v = op.modified_effective_potential(x**2 / 2, D, [x, y], T, alpha=a, beta=b)
    rho = sp.exp(-2 * v / T)
    J = probability_current(rho, x**2 / 2 + a * (x**2 + y**2) / 2, D + b**2 * sp.eye(2), [x, y], T)
    assert all(sp.simplify(j / rho) == 0 for j in J)


def test_flat_directions_detected():
    D = sp.diag(1 + x**2, 0, 0)
    assert op.flat_directions(x**4, D, [x, y, z]) == [1, 2]
    assert op.flat_directions(x**4 + y**2, D, [x, y, z]) == [2]
    assert op.flat_directions(x**4, sp.diag(1, 0, z**2), [x, y, z]) == [1]


def test_variance_formulas():
    assert op.flat_direction_variance_corrected(sp.Rational(1, 10), 1, sp.Rational(1, 2)) == sp.Rational(1, 80)
    assert op.flat_direction_variance_printed(sp.Rational(1, 10), 1, sp.Rational(1, 2)) == sp.Rational(1, 20)
    lr = sp.Symbol("lr", positive=True)
    assert sp.limit(op.discrete_flat_direction_variance(lr, T, a, b), lr, 0) == T * b**2 / (2 * a)


def test_discrete_variance_matches_simulation():
    rng = np.random.default_rng(0)
    lr, Tn, an, bn = 0.05, 0.2, 2.0, 0.3
    th = np.zeros(5000)
    for _ in range(600):
        th = (1 - lr * an) * th + np.sqrt(lr * Tn) * bn * rng.standard_normal(th.size)
    assert th.var() == pytest.approx(float(op.discrete_flat_direction_variance(lr, Tn, an, bn)), rel=0.06)


def test_typed_errors():
    assert issubclass(op.ModifiedSGDError, ValueError)
    with pytest.raises(op.ModifiedSGDError, match="alpha"):
        op.flat_direction_variance_corrected(1, 0, 1)
    with pytest.raises(op.ModifiedSGDError, match="beta"):
        op.regularized_diffusion(sp.eye(1), x, -1)
    with pytest.raises(op.ModifiedSGDError, match="diverges"):
        op.discrete_flat_direction_variance(3, 1, 1, 1)
