"""Tests of theory.effective_potential (SC.eq5, SC.A1, RND.eq19, SC.fn3, SC.B1)."""
import sympy as sp
import pytest

from theory.coordinates import gradient, hessian
from theory.effective_potential import (IntegrationError, NonConservativeError,
                                        SingularDiffusionError, curl,
                                        curl_free_vs_true_covariance, divergence, drift_field,
                                        effective_potential, equal_up_to_constant,
                                        inverse_hessian_noise_potential, line_integral,
                                        function_of_loss_potential_printed, isotropic_potential_printed,
                                        quadratic_inverse_hessian_potential_printed,
                                        separable_potential_printed, rnd_split, steady_state_density,
                                        zero_current_log_density_gradient)
from theory.fokker_planck import gaussian_density, probability_current, stationarity_residual
from theory.identity import cached_simplify

T = sp.Symbol("T", positive=True)
t1, t2, t3 = sp.symbols("theta1 theta2 theta3", real=True)
x = sp.Symbol("x", real=True)
TH = [t1, t2]
UR = t1**2 + t2**2 + 1


def _j_over_rho(v, U, D, theta):
    rho = sp.exp(-2 * v / T)
    return [cached_simplify(sp.powsimp(e / rho, combine="exp"))
            for e in probability_current(rho, U, D, theta, T)]


def _assert_steady(v, U, D, theta, *, stationarity=True):
    """J ≡ 0 (hence ∂·J ≡ 0); with ``stationarity`` also run stationarity_residual directly
    (its expand+simplify of exp(−2v/T) takes seconds for some examples, so not for all)."""
    assert _j_over_rho(v, U, D, theta) == [0] * len(gradient(v, theta))
    if stationarity:
        assert stationarity_residual(sp.exp(-2 * v / T), U, D, theta, T) == 0


# -- basic pieces ---------------------------------------------------------------------------
def test_divergence_is_reexported_row_divergence():
    D = sp.Matrix([[t1 * t2, t1**2], [t2**3, t1]])
    assert divergence(D, TH) == sp.Matrix([t2, 0])


def test_drift_field_formula():
    D = sp.diag(1 + t1**2, 2)
    V = drift_field(UR, D, TH, T)
    expected = sp.Matrix([(2 * t1 + T * t1) / (1 + t1**2), t2])
    assert all(cached_simplify(e) == 0 for e in V - expected)


def test_curl_is_antisymmetric_and_detects_rotation():
    C = curl([-t2, t1], TH)
    assert C == sp.Matrix([[0, -2], [2, 0]])
    assert curl(gradient(t1**2 * t2, TH), TH) == sp.zeros(2, 2)


def test_line_integral_recovers_potential_up_to_constant():
    phi = sp.exp(t1) * t2 + t3**3 * t1
    th = [t1, t2, t3]
    got = line_integral(gradient(phi, th), th)
    assert equal_up_to_constant(got, phi, th).exact


# -- SC.fn3 --------------------------------------------------------------------------------
def test_fn3_p1_symbol_theta_scalar_D():
    U, d = x**4 / 4 - x**2 / 2, 1 + x**2
    v = effective_potential(U, d, x, T)
    assert equal_up_to_constant(v, isotropic_potential_printed(U, d, x, T), x).exact
    _assert_steady(v, U, d, x)


def test_fn3_constant_d_gives_scaled_loss():
    c = sp.Symbol("c", positive=True)
    v = effective_potential(UR, c * sp.eye(2), TH, T)
    assert equal_up_to_constant(v, UR / c, TH).exact


def test_fn3_d_function_of_loss_p2_list_theta():
    d = 2 + UR
    v = effective_potential(UR, d * sp.eye(2), TH, T)
    assert equal_up_to_constant(v, isotropic_potential_printed(UR, d, TH, T), TH).exact
    _assert_steady(v, UR, d * sp.eye(2), TH, stationarity=False)


def test_fn3_d_not_function_of_loss_is_non_conservative():
    U = (t1**2 + t2**2) / 2
    with pytest.raises(NonConservativeError) as err:
        effective_potential(U, (1 + t1**2) * sp.eye(2), TH, T)
    assert err.value.curl[0, 1].subs({t1: 1, t2: 1}) == sp.Rational(1, 2)
    assert err.value.curl[1, 0] == -err.value.curl[0, 1]
    assert "curl[0,1]" in str(err.value)
    # the printed form cannot be built either: its integrand ∂U/d is not a gradient
    with pytest.raises(NonConservativeError):
        isotropic_potential_printed(U, 1 + t1**2, TH, T)


# -- SC.B1.ex1 -------------------------------------------------------------------------------
@pytest.mark.parametrize("f, D, stationarity", [
    (sp.log, UR * sp.eye(2), False),
    (sp.exp, sp.exp(-UR) * sp.eye(2), True),
    (sp.sqrt, 2 * sp.sqrt(UR) * sp.eye(2), True),
], ids=["log", "exp", "sqrt"])
def test_ex1_function_of_loss(f, D, stationarity):
    v = effective_potential(UR, D, TH, T)
    assert equal_up_to_constant(v, function_of_loss_potential_printed(UR, f, T), TH).exact
    _assert_steady(v, UR, D, TH, stationarity=stationarity)


def test_ex1_power_f():
    u = sp.Symbol("u", positive=True)
    D = sp.eye(2) / UR  # f = u²/2, f' = u
    v = effective_potential(UR, D, TH, T)
    assert equal_up_to_constant(v, function_of_loss_potential_printed(UR, sp.Lambda(u, u**2 / 2), T),
                                TH).exact
    assert _j_over_rho(v, UR, D, TH) == [0, 0]


def test_ex1_D_equal_U_gives_power_law_density():
    rho = steady_state_density(UR, UR * sp.eye(2), TH, T)
    ratio = sp.powsimp(sp.expand_log(rho / UR**(-(1 + 2 / T)), force=True))
    assert not cached_simplify(ratio).has(t1, t2)


def test_ex1_generic_f_is_curl_free_with_printed_gradient():
    f = sp.Function("f")
    w = sp.Dummy("w")
    D = sp.eye(2) / sp.diff(f(w), w).subs(w, UR)
    V = drift_field(UR, D, TH, T)
    assert curl(V, TH) == sp.zeros(2, 2)
    assert all(cached_simplify(e) == 0
               for e in V - gradient(function_of_loss_potential_printed(UR, f, T), TH))


def test_non_elementary_line_integral_is_an_integral_or_raises_when_closed_form_only():
    # V = exp(sin x) − (T/2) cos x has no elementary antiderivative: the exact definite integral
    # from the base point 0 (tests/theory/test_effective_potential_integral.py has the details)
    v = effective_potential(x, sp.exp(-sp.sin(x)), x, T)
    assert isinstance(v, sp.Integral) and v.limits[0][1:] == (0, x)
    assert sp.diff(v, x) - drift_field(x, sp.exp(-sp.sin(x)), x, T)[0] == 0
    with pytest.raises(IntegrationError, match="could not integrate"):
        effective_potential(x, sp.exp(-sp.sin(x)), x, T, closed_form_only=True)


# -- SC.B1.ex2 -------------------------------------------------------------------------------
def test_ex2_general_symmetric_hessian():
    a, c = sp.symbols("a c", positive=True)
    b, g1, g2 = sp.symbols("b g1 g2", real=True)
    H = sp.Matrix([[a, b], [b, c]])
    th = sp.Matrix(TH)
    U = (th.T * H * th)[0, 0] / 2 + g1 * t1 + g2 * t2
    v = effective_potential(U, H.inv(), th, T)
    assert equal_up_to_constant(v, quadratic_inverse_hessian_potential_printed(U, th), th).exact
    _assert_steady(v, U, H.inv(), th, stationarity=False)


def test_ex2_numeric_hessian_is_stationary():
    th = sp.Matrix(TH)
    H = sp.Matrix([[2, 1], [1, 3]])
    U = (th.T * H * th)[0, 0] / 2 - t1 + 2 * t2
    v = effective_potential(U, H.inv(), th, T)
    assert equal_up_to_constant(v, quadratic_inverse_hessian_potential_printed(U, th), th).exact
    _assert_steady(v, U, H.inv(), th)


def test_inverse_hessian_noise_beyond_quadratic_has_log_det_term():
    U = t1**4 / 4 + t1**2 / 2 + t1 * t2 + t2**2
    v = effective_potential(U, hessian(U, TH).inv(), TH, T)
    assert equal_up_to_constant(v, inverse_hessian_noise_potential(U, TH, T), TH).exact
    # the quadratic-U printed form ½|∂U|² misses −(T/2) log det ∂²U = −(T/2) log(6θ1² + 1)
    assert not equal_up_to_constant(v, quadratic_inverse_hessian_potential_printed(U, TH), TH).holds
    assert equal_up_to_constant(v.subs(T, 0), quadratic_inverse_hessian_potential_printed(U, TH), TH).exact


# -- SC.B1.ex3 -------------------------------------------------------------------------------
def test_ex3_separable_p2_and_p3():
    U1, U2, U3 = t1**2 + 1, t2**4 + 2, t3**2 + 3
    v = effective_potential(U1 + U2, sp.diag(U1, U2), TH, T)
    assert equal_up_to_constant(v, separable_potential_printed([U1, U2], sp.log, T), TH).exact
    _assert_steady(v, U1 + U2, sp.diag(U1, U2), TH, stationarity=False)
    De = sp.diag(sp.exp(-U1), sp.exp(-U2))
    ve = effective_potential(U1 + U2, De, TH, T)
    assert equal_up_to_constant(ve, separable_potential_printed([U1, U2], sp.exp, T), TH).exact
    _assert_steady(ve, U1 + U2, De, TH)
    th3 = [t1, t2, t3]
    D3 = sp.diag(sp.exp(-U1), sp.exp(-U2), sp.exp(-U3))
    v3 = effective_potential(U1 + U2 + U3, D3, th3, T)
    assert equal_up_to_constant(v3, separable_potential_printed([U1, U2, U3], sp.exp, T), th3).exact
    assert _j_over_rho(v3, U1 + U2 + U3, D3, th3) == [0, 0, 0]


# -- RND.eq19 ------------------------------------------------------------------------------
def test_rnd_split_recombines_to_v():
    D = sp.diag(t1**2 + 1, t2**4 + 2)
    U = t1**2 + t2**4 + 3
    vt, at = rnd_split(U, D, TH)
    v = effective_potential(U, D, TH, T)
    assert equal_up_to_constant(v, vt + T / 2 * at, TH).exact
    assert equal_up_to_constant(at, sp.log(t1**2 + 1) + sp.log(t2**4 + 2), TH).exact


def test_rnd_split_names_failing_piece():
    with pytest.raises(NonConservativeError, match="RND ṽ"):
        rnd_split((t1**2 + t2**2) / 2, (1 + t1**2) * sp.eye(2), TH)


# -- SC.A1 / SC.B1.counter -----------------------------------------------------------------
H_NC = sp.diag(1, 2)
D_NC = sp.Matrix([[1, sp.Rational(1, 2)], [sp.Rational(1, 2), 1]])
U_NC = (t1**2 + 2 * t2**2) / 2


def test_noncommuting_quadratic_raises_with_curl():
    with pytest.raises(NonConservativeError) as err:
        effective_potential(U_NC, D_NC, TH, T)
    assert err.value.curl == sp.Matrix([[0, sp.Rational(-2, 3)], [sp.Rational(2, 3), 0]])
    assert isinstance(err.value, ValueError)


def test_zero_current_forces_grad_log_rho_minus_2V_over_T():
    g = zero_current_log_density_gradient(U_NC, D_NC, TH, T)
    V = drift_field(U_NC, D_NC, TH, T)
    assert all(cached_simplify(e) == 0 for e in g + 2 * V / T)
    assert curl(g, TH)[0, 1] == 4 / (3 * T)


def test_lyapunov_vs_laplace_covariance_discrepancy():
    cmp = curl_free_vs_true_covariance(H_NC, D_NC, T)
    assert cmp.lyapunov == sp.Matrix([[T / 2, T / 6], [T / 6, T / 4]])
    assert cmp.laplace == sp.Matrix([[T / 2, T / 4], [T / 8, T / 4]])
    # curl of V = D⁻¹Hθ is D⁻¹H − (D⁻¹H)ᵀ (entry (0, 1): ∂V_0/∂θ_1 − ∂V_1/∂θ_0 = −2/3)
    assert cmp.curl == sp.Matrix([[0, -sp.Rational(2, 3)], [sp.Rational(2, 3), 0]])
    assert cmp.laplace_symmetric == sp.Matrix([[T / 2, 3 * T / 16], [3 * T / 16, T / 4]])
    assert float(cmp.relative_error) == pytest.approx(0.048564, rel=1e-4)
    assert float(cmp.relative_error_unsymmetrised) == pytest.approx(0.153574, rel=1e-4)
    rho = gaussian_density([0, 0], cmp.lyapunov, TH)
    assert stationarity_residual(rho, U_NC, D_NC, TH, T) == 0
    J = probability_current(rho, U_NC, D_NC, TH, T)
    assert cached_simplify(J[0].subs({t1: 0, t2: 1}) / rho.subs({t1: 0, t2: 1})) != 0


def test_commuting_quadratic_laplace_is_exact():
    cmp = curl_free_vs_true_covariance(sp.diag(1, 2), sp.diag(3, 1), T)
    assert cmp.relative_error == 0 and cmp.curl == sp.zeros(2, 2)


def test_singular_D_raises_and_names_remedy():
    with pytest.raises(SingularDiffusionError, match="SC.eq13"):
        effective_potential(UR, sp.Matrix([[1, 1], [1, 1]]), TH, T)
    with pytest.raises(SingularDiffusionError):
        effective_potential(x**2, 0, x, T)
    with pytest.raises(ValueError):  # subclass check
        drift_field(UR, sp.Matrix([[t1**2, t1 * t2], [t1 * t2, t2**2]]), TH, T)


# -- argument errors ------------------------------------------------------------------------
@pytest.mark.parametrize("D", [sp.eye(3), 1 + t1**2, sp.Matrix([1, 2])],
                         ids=["3x3-for-p2", "scalar-for-p2", "column"])
def test_bad_shapes_raise_value_error(D):
    with pytest.raises(ValueError):
        effective_potential(UR, D, TH, T)


def test_bad_theta_and_T():
    with pytest.raises(ValueError):
        effective_potential(UR, sp.eye(2), [t1, t1], T)
    with pytest.raises(ValueError):
        steady_state_density(UR, sp.eye(2), TH, 0)
    with pytest.raises(ValueError):
        curl_free_vs_true_covariance(sp.Matrix([[1, 1], [0, 1]]), sp.eye(2), T)
    with pytest.raises(TypeError, match="f must be a callable"):
        function_of_loss_potential_printed(UR, "log", T)
    with pytest.raises(TypeError, match="f must be a callable"):
        function_of_loss_potential_printed(UR, 3, T)  # neither a string nor callable


def test_line_integral_continues_past_a_component_with_zero_residual():
    """V = (0, 2θ2, 3θ3²): the first residual is 0, the next two still need integrating, so the
    result is the closed form θ2² + θ3³ (not an unevaluated Integral)."""
    phi = line_integral([0, 2 * t2, 3 * t3 ** 2], [t1, t2, t3])
    assert not phi.has(sp.Integral)
    assert sp.expand(phi - (t2 ** 2 + t3 ** 3)).free_symbols == set()


def test_singular_D_is_refused_by_the_covariance_comparison_and_closed_form_only_passes_through():
    with pytest.raises(SingularDiffusionError):
        curl_free_vs_true_covariance(sp.diag(1, 2), sp.Matrix([[1, 1], [1, 1]]), T)
    V = sp.exp(sp.sin(x))  # no elementary antiderivative
    assert isinstance(line_integral(V, x), sp.Integral)
    with pytest.raises(IntegrationError, match="could not integrate"):
        line_integral(V, x, closed_form_only=True)


def test_mean_force_and_unsimplified_drift_are_the_sc5_integrand():
    """b = ∂U + (T/2)∂·D and V = D⁻¹b: the unsimplified field equals drift_field (2-D, coupled D)."""
    from theory.effective_potential import drift_field, drift_field_unsimplified, mean_force

    t1, t2 = sp.symbols("t1 t2", real=True)
    T = sp.Symbol("T", positive=True)
    th = [t1, t2]
    U = t1**2 + t1 * t2 + 2 * t2**2
    D = sp.Matrix([[1 + t1**2, t1 / 3], [t1 / 3, 2]])
    b = mean_force(U, D, th, T)
    assert sp.simplify(b - sp.Matrix([2 * t1 + t2 + T * t1, t1 + 4 * t2 + T / 6])) == sp.zeros(2, 1)
    V = drift_field_unsimplified(U, D, th, T)
    assert sp.simplify(D * V - b) == sp.zeros(2, 1)
    assert sp.simplify(V - drift_field(U, D, th, T)) == sp.zeros(2, 1)
