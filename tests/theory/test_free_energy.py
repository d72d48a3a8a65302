"""theory.free_energy: F(p) of RND App. E, Gibbs minimiser, minimum −(T/2) log Z."""
import pytest
import sympy as sp

from theory import free_energy as fe

x = sp.Symbol("theta", real=True)


def test_gaussian_free_energy_of_quadratic_potential():
    T, k = sp.symbols("T k", positive=True)
    m = sp.Symbol("m", real=True)
    s2 = sp.Symbol("s2", positive=True)
    F = fe.gaussian_free_energy(m, s2, k * x**2 / 2, 0, T, x)
    expected = k * (m**2 + s2) / 2 - T / 4 * sp.log(2 * sp.pi * sp.E * s2)
    assert sp.simplify(F - expected) == 0


def test_gaussian_minimum_is_half_T_log_Z():
    T, k = sp.Rational(1, 3), sp.Integer(2)
    F = fe.gaussian_free_energy(0, T / (2 * k), k * x**2 / 2, 0, T, x)
    Z = sp.sqrt(sp.pi * T / k)
    assert float(F) == pytest.approx(float(fe.minimum_free_energy_corrected(sp.log(Z), T)), rel=1e-12)
    assert float(fe.minimum_free_energy_printed(sp.log(Z), T)) == pytest.approx(2 * float(F))


def test_integrand_identity():
    T, logZ = sp.symbols("T logZ", positive=True)
    p, v, a = (sp.Function(n)(x) for n in "pva")
    lhs = fe.free_energy_integrand(p, v, a, T) + T / 2 * logZ * p
    rhs = T / 2 * fe.kl_integrand(p, fe.gibbs_log_density(v, a, T) - logZ)
    assert sp.simplify(sp.expand_log(lhs - rhs, force=True)) == 0


def test_typed_errors():
    assert issubclass(fe.FreeEnergyInputError, ValueError)
    with pytest.raises(fe.FreeEnergyInputError, match="polynomial"):
        fe.gaussian_free_energy(0, 1, sp.cos(x), 0, 1, x)
    with pytest.raises(fe.FreeEnergyInputError, match="1-D"):
        fe.gaussian_free_energy(0, 1, x, 0, 1, sp.symbols("a b"))
