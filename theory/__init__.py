"""Symbolic core (SymPy only): pure functions from expressions to expressions.

Where each claim family lives (claim ids of ``shared/THEORY.md``):

=====================================================  ===========================================
claims                                                 module
=====================================================  ===========================================
SC.eq15/16/23, RND eq. 16 (Kramers–Moyal → FP)         :mod:`theory.kramers_moyal`
SC.eq10/11 (FP current, Langevin form), SC.B1.counter  :mod:`theory.fokker_planck`
SC.eq5, SC.A1, SC.fn3, SC App. B.1, RND.eq19           :mod:`theory.effective_potential`
SC.eq6, SC.B2.*, RND.eq20–22, TF.eq4 (Laplace)         :mod:`theory.laplace`
SC.eq3/4, RND.eq8–13 (test loss, shift, curvature)     :mod:`theory.shift_curvature`
RND.eq24–27, RND.2basin (temperature derivatives)      :mod:`theory.temperature`
RND.eq28, RND App. E (free energy)                     :mod:`theory.free_energy`
SC.eq13, SC App. D (overparametrized, ℓ2 + noise)      :mod:`theory.overparametrized`
SC App. C, RND App. C (reparametrization)              :mod:`theory.reparametrization`
DT.eq7, DT.thm3.1/3.2, DT.rule1, DT.prop1 (escape)     :mod:`theory.escape`
=====================================================  ===========================================

Shared machinery: :mod:`theory.coordinates` (θ as a column, gradients, Hessians, matrix fields),
:mod:`theory.identity` (exact + high-precision identity checks), :mod:`theory.parsing` (safe
parsing of typed formulas), :mod:`theory.budget` (time budgets ``budget_s`` for SymPy steps),
:mod:`theory.inputs` (checks of T and D at the entry points).

Naming rule: a function returning a paper's form *as printed* ends in ``_printed``; the form this
project derives where the printed one is off ends in ``_corrected``. Numbers-in/floats-out
algorithms (quadratures, grids, solvers) live in :mod:`numerics`, which compiles these
expressions.

The names below are the public API a user needs; everything is importable from its module too.
``theory.effective_potential`` stays the module (its function of the same name is
``theory.effective_potential.effective_potential``), so ``from theory import effective_potential``
keeps meaning the module.

>>> import sympy as sp
>>> import theory
>>> x, T = sp.Symbol("x", real=True), sp.Symbol("T", positive=True)
>>> theory.effective_potential.effective_potential(x**2 / 2, 1 + x**2, x, T)
(T + 1)*log(x**2 + 1)/2
>>> theory.minimum_free_energy_corrected(sp.Symbol("logZ"), T)
-T*logZ/2
"""
from __future__ import annotations

from .budget import Deadline, SymbolicTimeoutError, run_within
from .coordinates import as_theta, gradient, hessian, jacobian
from .effective_potential import (
    CovarianceComparison,
    IntegrationError,
    NonConservativeError,
    SingularDiffusionError,
    curl,
    curl_free_vs_true_covariance,
    divergence,
    drift_field,
    drift_field_unsimplified,
    equal_up_to_constant,
    function_of_loss_potential_printed,
    inverse_hessian_noise_potential,
    isotropic_potential_printed,
    line_integral,
    mean_force,
    quadratic_inverse_hessian_potential_printed,
    rnd_split,
    separable_potential_printed,
    steady_state_density,
    zero_current_log_density_gradient,
)
from .escape import (
    EscapeInputError,
    HessianNoise,
    dt_diffusion_from_sc,
    escape_rate_parallel,
    hessian_noise_covariance,
    kramers_escape_time,
    positive_part,
    sgd_escape_time_printed,
    valley_probabilities,
)
from .fokker_planck import (
    fokker_planck_operator,
    gaussian_density,
    ito_fokker_planck_operator,
    langevin_sde,
    ou_stationary_covariance,
    probability_current,
    stationarity_residual,
)
from .free_energy import (
    FreeEnergyInputError,
    free_energy_integrand,
    gaussian_free_energy,
    gibbs_log_density,
    kl_integrand,
    minimum_free_energy_corrected,
    minimum_free_energy_printed,
)
from .identity import IdentityResult, check_identity, check_zero, is_zero
from .inputs import DiffusionNotPositiveDefiniteError, TemperatureError, TemperatureTypeError
from .kramers_moyal import (
    KramersMoyalError,
    cumulants_from_moments,
    fokker_planck_from_kramers_moyal,
    k_step_limit_cumulants,
    k_step_sum_cumulants,
    kramers_moyal_operator,
    kramers_moyal_terms,
    minibatch_mean_cumulants,
    moments_from_cumulants,
    prove_kramers_moyal_order2_is_fokker_planck,
    sgd_gradient_cumulants,
    sgd_step_cumulants,
)
from .laplace import (
    GaussianMixture,
    LaplaceError,
    NotAMinimumError,
    bias_first_order,
    even_order_basin_mass,
    gaussian_mixture,
    laplace_log_mass,
    leading_order_covariance,
    leading_order_log_weights,
    leading_order_weights,
    normal_density,
    tf_minimum_ratio,
    tf_noise_threshold_corrected,
    tf_noise_threshold_printed,
    tf_unnormalised_probability,
)
from .overparametrized import (
    ModifiedSGDError,
    discrete_flat_direction_variance,
    flat_direction_variance_corrected,
    flat_direction_variance_printed,
    flat_directions,
    modified_effective_potential,
    modified_sgd_step_moments,
    modified_steady_state,
    regularized_diffusion,
    regularized_potential,
)
from .parsing import UnsafeExpressionError, parse_expression
from .reparametrization import (
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
from .temperature import (
    BasinSpecError,
    d_dT_average,
    dT_test_loss_eq25_printed,
    leading_dT_test_loss,
    one_basin_dT_test_loss_corrected,
    test_loss_improves_with_T,
    two_basin_covariance,
    two_basin_sign_product,
)
from .shift_curvature import (
    SampleSizeError,
    TestLossShapeError,
    TestLossTerms,
    data_expectation,
    effective_sample_size,
    expected_shift_curvature,
    expected_shift_curvature_loglik_printed,
    gaussian_expectation,
    loglik_hessian_split,
    mixture_test_loss,
    quadratic_test_loss,
    sgd_leading_test_loss,
    shift_covariance,
    shift_mean,
    shift_sensitivity,
    test_loss_terms,
)

__all__ = [
    # shared machinery
    "Deadline", "SymbolicTimeoutError", "run_within",
    "as_theta", "gradient", "hessian", "jacobian", "divergence",
    "IdentityResult", "check_identity", "check_zero", "is_zero",
    "UnsafeExpressionError", "parse_expression",
    "TemperatureError", "TemperatureTypeError", "DiffusionNotPositiveDefiniteError",
    # Kramers–Moyal → Fokker–Planck
    "KramersMoyalError", "cumulants_from_moments", "moments_from_cumulants", "k_step_sum_cumulants",
    "k_step_limit_cumulants", "sgd_step_cumulants", "minibatch_mean_cumulants", "sgd_gradient_cumulants",
    "kramers_moyal_operator", "kramers_moyal_terms", "fokker_planck_from_kramers_moyal",
    "prove_kramers_moyal_order2_is_fokker_planck",
    # Fokker–Planck
    "probability_current", "fokker_planck_operator", "stationarity_residual", "langevin_sde",
    "ito_fokker_planck_operator", "ou_stationary_covariance", "gaussian_density",
    # effective potential
    "SingularDiffusionError", "NonConservativeError", "IntegrationError", "mean_force",
    "drift_field_unsimplified", "drift_field", "curl", "line_integral", "steady_state_density", "rnd_split", "zero_current_log_density_gradient", "equal_up_to_constant",
    "isotropic_potential_printed", "function_of_loss_potential_printed",
    "quadratic_inverse_hessian_potential_printed", "separable_potential_printed",
    "inverse_hessian_noise_potential", "CovarianceComparison", "curl_free_vs_true_covariance",
    # Laplace
    "LaplaceError", "NotAMinimumError", "GaussianMixture", "gaussian_mixture", "normal_density",
    "laplace_log_mass", "leading_order_log_weights", "leading_order_weights", "leading_order_covariance",
    "bias_first_order",
    "even_order_basin_mass", "tf_unnormalised_probability", "tf_minimum_ratio",
    "tf_noise_threshold_corrected", "tf_noise_threshold_printed",
    # test loss
    "TestLossShapeError", "SampleSizeError", "TestLossTerms", "quadratic_test_loss", "test_loss_terms",
    "mixture_test_loss", "sgd_leading_test_loss", "gaussian_expectation", "effective_sample_size",
    "shift_mean", "shift_covariance", "expected_shift_curvature", "expected_shift_curvature_loglik_printed",
    "loglik_hessian_split", "data_expectation", "shift_sensitivity",
    # temperature
    "BasinSpecError", "d_dT_average", "dT_test_loss_eq25_printed", "leading_dT_test_loss",
    "one_basin_dT_test_loss_corrected", "two_basin_covariance", "two_basin_sign_product",
    "test_loss_improves_with_T",
    # free energy
    "FreeEnergyInputError", "gibbs_log_density", "free_energy_integrand", "kl_integrand",
    "minimum_free_energy_corrected", "minimum_free_energy_printed", "gaussian_free_energy",
    # overparametrized
    "ModifiedSGDError", "regularized_potential", "regularized_diffusion", "modified_sgd_step_moments",
    "modified_effective_potential", "modified_steady_state", "flat_directions",
    "flat_direction_variance_corrected", "flat_direction_variance_printed",
    "discrete_flat_direction_variance",
    # reparametrization
    "ReparametrizationError", "map_jacobian", "pullback", "transform_curvature", "transform_shift",
    "transform_covariance", "transform_bias", "transform_diffusion", "pushforward_potential",
    "ito_pushforward_sde",
    # escape
    "EscapeInputError", "HessianNoise", "dt_diffusion_from_sc", "hessian_noise_covariance", "positive_part",
    "kramers_escape_time", "sgd_escape_time_printed", "escape_rate_parallel", "valley_probabilities",
]
