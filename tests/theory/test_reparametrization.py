"""theory.reparametrization: transformation laws of SC App. C / RND App. C."""
import pytest
import sympy as sp

from theory.fokker_planck import ito_fokker_planck_operator
from theory.reparametrization import (
    ReparametrizationError,
    ito_pushforward_sde,
    map_jacobian,
    pullback,
    pushforward_potential,
    transform_bias,
    transform_covariance,
    transform_curvature,
    transform_diffusion,
    transform_shift,
)

y, th, y1, y2, t1, t2 = sp.symbols("y theta y1 y2 t1 t2", real=True)
T = sp.Symbol("T", positive=True)


def test_jacobian_and_pullback():
    J = map_jacobian([y1 + y2**2, y2], [y1, y2])
    assert J == sp.Matrix([[1, 2 * y2], [0, 1]])
    assert pullback(t1 * t2, [t1, t2], [y1 + y2**2, y2], [y1, y2]) == (y1 + y2**2) * y2
    with pytest.raises(ReparametrizationError):
        pullback(th, [t1, t2], [y], [y])
    with pytest.raises(ReparametrizationError):
        map_jacobian([y1, y2], [y1])


def test_laws_make_shift_curvature_and_trace_invariant():
    J = sp.Matrix([[2, 1], [0, 3]])
    C = sp.Matrix([[2, 1], [1, 3]])
    s = sp.Matrix([1, -2])
    S = sp.Matrix([[1, 0], [0, 2]])
    Cr, sr, Sr = transform_curvature(C, J), transform_shift(s, J), transform_covariance(S, J)
    assert (sr.T * Cr * sr)[0, 0] == (s.T * C * s)[0, 0]
    assert (Cr * Sr).trace() == (C * S).trace()
    assert Cr.eigenvals() != C.eigenvals()
    assert transform_bias(s, J) == sr and transform_diffusion(S, J) == Sr


def test_singular_or_nonsquare_jacobian_rejected():
    with pytest.raises(ReparametrizationError):
        transform_shift([1, 1], sp.Matrix([[1, 1], [1, 1]]))
    with pytest.raises(ReparametrizationError):
        transform_curvature(sp.eye(2), sp.Matrix([[1, 2, 3]]))


def test_pushforward_potential_has_jacobian_term():
    g = th**2 / 2
    gy = pushforward_potential(g, th, sp.exp(y), y, T)
    assert sp.simplify(gy - (sp.exp(2 * y) / 2 - T * y / 2)) == 0


def test_ito_pushforward_keeps_stationarity():
    # OU in θ, map θ = y + y³/3 (J = 1 + y²)
    r = y + y**3 / 3
    rho = sp.exp(-th**2 / T)
    a, Q = ito_pushforward_sde(-th, T, th, r, y)
    rho_y = pullback(rho, th, r, y) * (1 + y**2)
    val = ito_fokker_planck_operator(a, Q, rho_y, y).subs({y: sp.Rational(7, 10), T: sp.Rational(1, 3)})
    assert abs(float(val)) < 1e-12
    assert sp.simplify(Q[0] - T / (1 + y**2) ** 2) == 0
    with pytest.raises(ReparametrizationError):
        ito_pushforward_sde([-t1, -t2], sp.eye(2), [t1, t2], [y1], [y1])
