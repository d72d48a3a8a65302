"""theory.free_energy: F(p) of RND App. E, Gibbs minimiser, minimum −(T/2) log Z."""
import mpmath
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


def test_quadrature_free_energy_matches_gaussian_closed_form():
    T = sp.Rational(1, 2)
    v = x**2  # k = 2 → p* = N(0, T/4)
    F_q = fe.free_energy_1d(fe.gibbs_log_density(v, 0, T), v, 0, T, x, (-6, 6))
    F_g = fe.gaussian_free_energy(0, T / 4, v, 0, T, x)
    assert float(F_q) == pytest.approx(float(F_g), abs=1e-12)
    lZ = fe.log_partition_1d(v, 0, T, x, (-6, 6))
    assert float(lZ) == pytest.approx(float(sp.log(sp.sqrt(sp.pi * T / 2))), abs=1e-12)


def test_perturbation_raises_free_energy_by_half_T_kl():
    T = sp.Rational(1, 2)
    v, a = (x**2 - 1) ** 2, sp.log(1 + x**2)
    lp = fe.gibbs_log_density(v, a, T)
    F0 = fe.free_energy_1d(lp, v, a, T, x, (-4, 4))
    F1 = fe.free_energy_1d(lp + x / 3, v, a, T, x, (-4, 4))
    kl = fe.kl_divergence_1d(lp + x / 3, lp, x, (-4, 4))
    assert F1 > F0
    assert float(F1 - F0) == pytest.approx(float(T / 2 * kl), rel=1e-10)


@pytest.mark.parametrize("T, c", [(sp.Rational(1, 200), 0), (sp.Rational(1, 2000), sp.Rational(3, 10))])
def test_small_temperature_log_partition_is_exact(T, c):
    """log ∫_{−3}^{3} exp(−2((θ−c)² + 5)/T) = −10/T + ½ log(πT/2) (the erf tails are < e^{−700}):
    −2002.4234 at T = 1/200. Regression: the unshifted mpmath quadrature of an e^{−2000}-sized
    integrand stopped at its first degree (absolute error control) and gave −2002.4160; the
    30-digit quadrature now agrees to 1e-12 also when the peak is off the breakpoints (c = 0.3)."""
    lZ = fe.log_partition_1d((x - c) ** 2 + 5, 0, T, x, (-3, 3))
    exact = -10 / T + sp.log(sp.pi * T / 2) / 2
    assert float(lZ) == pytest.approx(float(exact), rel=0, abs=1e-12)
    assert float(exact) == pytest.approx(-2002.4234 if c == 0 else -20003.5747, abs=1e-4)


def test_integrand_identity():
    T, logZ = sp.symbols("T logZ", positive=True)
    p, v, a = (sp.Function(n)(x) for n in "pva")
    lhs = fe.free_energy_integrand(p, v, a, T) + T / 2 * logZ * p
    rhs = T / 2 * fe.kl_integrand(p, fe.gibbs_log_density(v, a, T) - logZ)
    assert sp.simplify(sp.expand_log(lhs - rhs, force=True)) == 0


def test_typed_errors():
    assert issubclass(fe.FreeEnergyInputError, ValueError)
    with pytest.raises(fe.FreeEnergyInputError, match="interval"):
        fe.log_partition_1d(x**2, 0, 1, x, (1, -1))
    with pytest.raises(fe.FreeEnergyInputError, match="substitute numbers"):
        fe.log_partition_1d(sp.Symbol("k") * x**2, 0, 1, x, (-1, 1))
    with pytest.raises(fe.FreeEnergyInputError, match="polynomial"):
        fe.gaussian_free_energy(0, 1, sp.cos(x), 0, 1, x)
    with pytest.raises(fe.FreeEnergyInputError, match="1-D"):
        fe.gaussian_free_energy(0, 1, x, 0, 1, sp.symbols("a b"))
    with pytest.raises(fe.FreeEnergyInputError, match="T must be a number"):
        fe.free_energy_1d(-x**2, x**2, 0, sp.Symbol("T"), x, (-1, 1))
