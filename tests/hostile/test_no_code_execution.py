"""Hostile inputs, "no code execution from data".

``sympy.Matrix([...])`` and ``sympify`` ``eval`` any string they meet. Every public entry point of
``theory`` and ``numerics`` that takes an expression, a matrix, a vector or θ must refuse strings
(also inside nested lists, tuples, dicts, NumPy object arrays, and as bytes) with a ``TypeError``
(or the module's typed error) *before* a SymPy constructor sees them.

The payload below creates a marker file when it is executed; every case asserts the typed error
and that the marker does not exist. ``test_registry_covers_every_public_name`` keeps the table of
cases in step with the modules' ``__all__``. The formula bombs at the end are hang guards for
``theory.parsing.parse_expression`` (a generous wall-clock bound, not a benchmark).
"""
from __future__ import annotations

import importlib
import inspect
import math
import time

import numpy as np
import pytest
import sympy as sp

from theory.parsing import UnsafeExpressionError, parse_expression

x, y = sp.symbols("x y", real=True)
y1, y2 = sp.symbols("y1 y2", real=True)
a, b = sp.symbols("a b", real=True)
T = sp.Symbol("T", positive=True)
lr, B = sp.symbols("lr B", positive=True)
K = sp.Symbol("K", positive=True)
X1, TH1 = sp.symbols("X1 TH1", real=True)

MARKER_NAME = "pwned"


def payload(tmp_path) -> str:
    return f"__import__('pathlib').Path(r'{tmp_path / MARKER_NAME}').touch()"


class E:
    """A Python number passed where the function takes an expression: mutate it too."""

    def __init__(self, value):
        self.value = value


def _unwrap(v):
    if isinstance(v, E):
        return v.value
    if isinstance(v, list):
        return [_unwrap(e) for e in v]
    if isinstance(v, tuple):
        return tuple(_unwrap(e) for e in v)
    if isinstance(v, dict):
        return {k: _unwrap(e) for k, e in v.items()}
    return v


# --------------------------------------------------------------------------------------------------
# The table of entry points: name -> (callable, args, kwargs). Arguments that are SymPy objects,
# matrices, E(...) numbers, or lists/tuples/dicts holding them are mutated one at a time.
# --------------------------------------------------------------------------------------------------
def _cases():
    from numerics import compile as ncompile
    from numerics import first_passage as nfpt
    from numerics import fokker_planck as nfp
    from numerics import landscapes as nland
    from numerics import markov as nmk
    from numerics import reference_quadrature as nrq
    from numerics import sgd_escape as nesc
    from numerics import sgd as nsgd
    from numerics import stationary as nst
    from numerics import stationary_2d as nst2
    from theory import coordinates as co
    from theory import effective_potential as ep
    from theory import escape as es
    from theory import fokker_planck as fp
    from theory import free_energy as fe
    from theory import identity as idn
    from theory import kramers_moyal as km
    from theory import laplace as lp
    from theory import overparametrized as op
    from theory import reparametrization as rp
    from theory import temperature as tm
    from theory import shift_curvature as tl

    th = [x, y]
    U = x**2 / 2 + y**2
    D = sp.Matrix([[1, 0], [0, 2]])
    H = sp.Matrix([[2, 0], [0, 1]])
    rho = sp.exp(-x**2 - y**2)
    U1 = (x**2 - 1) ** 2
    cum1 = {(1,): E(1), (2,): sp.Rational(1, 2)}
    grad_cum = {(1,): x, (2,): E(1)}
    C2 = sp.Matrix([[2, 1], [1, 3]])
    s2 = sp.Matrix([a, b])
    wts = [sp.Rational(1, 3), sp.Rational(2, 3)]
    grid = nfp.Grid.box([(-2.0, 2.0)] * 2, cells=8)
    c = {}

    def add(name, fn, *args, **kwargs):
        assert name not in c, name
        c[name] = (fn, args, kwargs)

    # theory.coordinates
    add("theory.coordinates.as_expr", co.as_expr, x + 1)
    add("theory.coordinates.as_matrix", co.as_matrix, C2)
    add("theory.coordinates.as_theta", co.as_theta, th)
    add("theory.coordinates.as_square_matrix", co.as_square_matrix, D, 2)
    add("theory.coordinates.as_column", co.as_column, [x, E(1)], 2)
    add("theory.coordinates.gradient", co.gradient, U, th)
    add("theory.coordinates.hessian", co.hessian, U, th)
    add("theory.coordinates.jacobian", co.jacobian, [x * y, x], th)
    add("theory.coordinates.divergence", co.divergence, D, th)
    xr = sp.Symbol("x", real=True)
    add("theory.coordinates.assumption_sensitive", co.assumption_sensitive, U)
    add("theory.coordinates.strip_assumptions", co.strip_assumptions, xr**2 + y)
    add("theory.coordinates.restore_assumptions", co.restore_assumptions, x**2 + y, {x: xr})
    # theory.effective_potential
    add("theory.effective_potential.divergence", ep.divergence, D, th)
    add("theory.effective_potential.mean_force", ep.mean_force, U, D, th, T)
    add("theory.effective_potential.drift_field_unsimplified", ep.drift_field_unsimplified, U, D, th, T)
    add("theory.effective_potential.drift_field", ep.drift_field, U, D, th, T)
    add("theory.effective_potential.curl", ep.curl, [x, y], th)
    add("theory.effective_potential.line_integral", ep.line_integral, [x, y], th, base_point=[E(0), E(1)])
    add("theory.effective_potential.effective_potential", ep.effective_potential, U, D, th, T,
        base_point=[E(0), E(1)])
    add("theory.effective_potential.steady_state_density", ep.steady_state_density, U, D, th, T,
        base_point=E(0))
    add("theory.effective_potential.rnd_split", ep.rnd_split, U, D, th, base_point=[E(1), E(0)])
    add("theory.effective_potential.zero_current_log_density_gradient",
        ep.zero_current_log_density_gradient, U, D, th, T)
    add("theory.effective_potential.equal_up_to_constant", ep.equal_up_to_constant, x**2, x**2 + 1, th)
    add("theory.effective_potential.isotropic_potential_printed", ep.isotropic_potential_printed, U, 1 + U, th, T,
        base_point=[E(0), E(0)])
    add("theory.effective_potential.function_of_loss_potential_printed", ep.function_of_loss_potential_printed,
        1 + U, sp.log, T)
    add("theory.effective_potential.quadratic_inverse_hessian_potential_printed",
        ep.quadratic_inverse_hessian_potential_printed, U, th)
    add("theory.effective_potential.separable_potential_printed", ep.separable_potential_printed,
        [1 + x**2, 1 + y**2], sp.log, T)
    add("theory.effective_potential.inverse_hessian_noise_potential", ep.inverse_hessian_noise_potential,
        U, th, T)
    add("theory.effective_potential.curl_free_vs_true_covariance", ep.curl_free_vs_true_covariance, H, C2, T)
    # theory.escape
    add("theory.escape.dt_diffusion_from_sc", es.dt_diffusion_from_sc, D, E(1))
    add("theory.escape.hessian_noise_covariance", es.hessian_noise_covariance, H, E(4), E(0.1))
    add("theory.escape.positive_part", es.positive_part, sp.Matrix([[2, 0], [0, -1]]))
    add("theory.escape.kramers_escape_time", es.kramers_escape_time, H, sp.Matrix([[-1, 0], [0, 1]]),
        E(1), E(sp.Rational(1, 10)), escape_eigenvalue=E(-1))
    add("theory.escape.sgd_escape_time_printed", es.sgd_escape_time_printed, E(2), E(-1), E(1), E(4), E(0.1), E(0.5))
    add("theory.escape.escape_rate_parallel", es.escape_rate_parallel, [E(1), sp.Rational(1, 2)])
    add("theory.escape.valley_probabilities", es.valley_probabilities, [E(1), sp.Rational(1, 2)])
    # theory.fokker_planck
    add("theory.fokker_planck.probability_current", fp.probability_current, rho, U, D, th, T)
    add("theory.fokker_planck.fokker_planck_operator", fp.fokker_planck_operator, rho, U, D, th, T, lr=E(1))
    add("theory.fokker_planck.stationarity_residual", fp.stationarity_residual, rho, U, D, th, T)
    add("theory.fokker_planck.langevin_sde", fp.langevin_sde, U, D, th, T)
    add("theory.fokker_planck.ito_fokker_planck_operator", fp.ito_fokker_planck_operator, [-x, -y], D, rho, th)
    add("theory.fokker_planck.ou_stationary_covariance", fp.ou_stationary_covariance, H, D, T)
    add("theory.fokker_planck.gaussian_density", fp.gaussian_density, [E(0), E(0)], sp.eye(2), th)
    # theory.free_energy
    add("theory.free_energy.gibbs_log_density", fe.gibbs_log_density, x**2, E(0), T)
    add("theory.free_energy.free_energy_integrand", fe.free_energy_integrand, sp.exp(-x**2), x**2, E(0), T)
    add("theory.free_energy.kl_integrand", fe.kl_integrand, sp.exp(-x**2), -x**2)
    add("theory.free_energy.minimum_free_energy_corrected", fe.minimum_free_energy_corrected, E(1), T)
    add("theory.free_energy.minimum_free_energy_printed", fe.minimum_free_energy_printed, E(1), T)
    add("theory.free_energy.gaussian_free_energy", fe.gaussian_free_energy, E(0), E(1), x**2, E(0), T, x)
    # theory.identity
    add("theory.identity.check_identity", idn.check_identity, x + x, 2 * x)
    add("theory.identity.check_zero", idn.check_zero, x - x)
    add("theory.identity.cached_simplify", idn.cached_simplify, x - x)
    add("theory.identity.is_zero", idn.is_zero, x - x)
    # theory.kramers_moyal
    add("theory.kramers_moyal.multi_index_power", km.multi_index_power, [x, y], (1, 2))
    add("theory.kramers_moyal.multi_index_derivative", km.multi_index_derivative, U, th, (1, 1))
    add("theory.kramers_moyal.cumulants_from_moments", km.cumulants_from_moments, cum1, 2)
    add("theory.kramers_moyal.moments_from_cumulants", km.moments_from_cumulants, cum1, 2)
    add("theory.kramers_moyal.moments_of_iid_sum", km.moments_of_iid_sum, cum1, 2, 2)
    add("theory.kramers_moyal.increment_moments", km.increment_moments, cum1, E(0.1), E(1), 2)
    add("theory.kramers_moyal.k_step_sum_cumulants", km.k_step_sum_cumulants, cum1, K, 2)
    add("theory.kramers_moyal.k_step_limit_cumulants", km.k_step_limit_cumulants, cum1, 2)
    add("theory.kramers_moyal.sgd_step_cumulants", km.sgd_step_cumulants, grad_cum, lr, B)
    add("theory.kramers_moyal.minibatch_mean_cumulants", km.minibatch_mean_cumulants, grad_cum, B)
    add("theory.kramers_moyal.power_of_temperature", km.power_of_temperature, 3 * T**2, T)
    add("theory.kramers_moyal.sgd_gradient_cumulants", km.sgd_gradient_cumulants, U, D, th)
    add("theory.kramers_moyal.kramers_moyal_operator", km.kramers_moyal_operator, grad_cum, sp.exp(-x**2),
        [x], 2, tau=E(1))
    add("theory.kramers_moyal.kramers_moyal_terms", km.kramers_moyal_terms, grad_cum, sp.exp(-x**2), [x], 2,
        tau=E(1))
    add("theory.kramers_moyal.fokker_planck_from_kramers_moyal", km.fokker_planck_from_kramers_moyal,
        x**2 / 2, E(1), x, lr, B, rho=sp.exp(-x**2), tau=E(1))
    add("theory.kramers_moyal.prove_kramers_moyal_order2_is_fokker_planck",
        km.prove_kramers_moyal_order2_is_fokker_planck, x**2 / 2, E(1), x, lr, B, rho=sp.exp(-x**2))
    add("theory.kramers_moyal.rescaled_time_rhs", km.rescaled_time_rhs, lambda r: -sp.diff(r, x), [x], lr)
    # theory.laplace
    add("theory.laplace.gaussian_mixture", lp.gaussian_mixture, U1, x, [E(-1), E(1)], sp.Rational(1, 10))
    add("theory.laplace.log_sum_exp", lp.log_sum_exp, [a, E(1)])
    add("theory.laplace.normalise_log_weights", lp.normalise_log_weights, [a, E(1)])
    add("theory.laplace.laplace_log_mass", lp.laplace_log_mass, E(0), E(2), T, 1)
    add("theory.laplace.leading_order_log_weights", lp.leading_order_log_weights, [E(0), E(1)], [E(0), E(0)],
        [E(1), E(2)], [E(1), E(1)], T)
    add("theory.laplace.leading_order_weights", lp.leading_order_weights, [E(0), E(1)], [E(0), E(0)],
        [E(1), E(2)], [E(1), E(1)], T)
    add("theory.laplace.leading_order_covariance", lp.leading_order_covariance, H, sp.eye(2), T)
    add("theory.laplace.bias_first_order", lp.bias_first_order, H, [E(1), E(0)], T)
    add("theory.laplace.even_order_basin_mass", lp.even_order_basin_mass, E(0), [E(1), E(2)], 4, T)
    add("theory.laplace.tf_unnormalised_probability", lp.tf_unnormalised_probability, E(0), E(2), E(10), E(1))
    add("theory.laplace.tf_minimum_ratio", lp.tf_minimum_ratio, E(0), E(1), E(2), E(1), E(10), E(1))
    add("theory.laplace.tf_noise_threshold_corrected", lp.tf_noise_threshold_corrected, E(0), E(1), E(2), E(1), E(1))
    add("theory.laplace.tf_noise_threshold_printed", lp.tf_noise_threshold_printed, E(0), E(1), E(2), E(1), E(1))
    add("theory.laplace.normal_density", lp.normal_density, [E(0), E(1)], C2, th)
    # theory.overparametrized
    add("theory.overparametrized.regularized_potential", op.regularized_potential, U, th, E(1))
    add("theory.overparametrized.regularized_diffusion", op.regularized_diffusion, D, th, E(1))
    add("theory.overparametrized.modified_sgd_step_moments", op.modified_sgd_step_moments, U, D, th,
        lr=lr, T=T, alpha=E(1), beta=E(1))
    add("theory.overparametrized.modified_effective_potential", op.modified_effective_potential, U, D, th, T,
        alpha=E(1), beta=E(1), base_point=[E(0), E(0)])
    add("theory.overparametrized.modified_steady_state", op.modified_steady_state, U, D, th, T,
        alpha=E(1), beta=E(1), base_point=E(0))
    add("theory.overparametrized.flat_directions", op.flat_directions, x**2, sp.Matrix([[1, 0], [0, 0]]), th)
    add("theory.overparametrized.flat_direction_variance_corrected", op.flat_direction_variance_corrected, T, E(1), E(1))
    add("theory.overparametrized.flat_direction_variance_printed", op.flat_direction_variance_printed, T,
        E(1), E(1))
    add("theory.overparametrized.discrete_flat_direction_variance", op.discrete_flat_direction_variance,
        lr, T, E(1), E(1))
    # theory.reparametrization
    add("theory.reparametrization.map_jacobian", rp.map_jacobian, [2 * y1, y2], [y1, y2])
    add("theory.reparametrization.pullback", rp.pullback, U, th, [2 * y1, y2], [y1, y2])
    add("theory.reparametrization.transform_curvature", rp.transform_curvature, C2, H)
    add("theory.reparametrization.transform_shift", rp.transform_shift, s2, H)
    add("theory.reparametrization.transform_covariance", rp.transform_covariance, C2, H)
    add("theory.reparametrization.transform_bias", rp.transform_bias, s2, H)
    add("theory.reparametrization.transform_diffusion", rp.transform_diffusion, C2, H)
    add("theory.reparametrization.pushforward_potential", rp.pushforward_potential, U, th, [2 * y1, y2],
        [y1, y2], T)
    add("theory.reparametrization.ito_pushforward_sde", rp.ito_pushforward_sde, [-x, -y], D, th,
        [2 * y1, y2], [y1, y2])
    # theory.temperature
    add("theory.temperature.log_prefactor", tm.log_prefactor, D, C2)
    add("theory.temperature.weights", tm.weights, [E(0), E(1)], [E(0), E(0)], [E(0), E(0)], T)
    add("theory.temperature.basin_average", tm.basin_average, [a, b], wts)
    add("theory.temperature.basin_covariance", tm.basin_covariance, [a, b], [b, a], wts)
    add("theory.temperature.d_dT_average", tm.d_dT_average, [a, b], v_tilde=[E(0), E(1)], weights=wts, T=T)
    add("theory.temperature.d_dbeta_weights", tm.d_dbeta_weights, [E(0), E(1)], wts)
    add("theory.temperature.mixture_test_loss", tm.mixture_test_loss, wts, [E(0), E(1)], [H, C2],
        [sp.eye(2), sp.eye(2)], [s2, s2], [s2, s2])
    add("theory.temperature.dT_test_loss_eq25_printed", tm.dT_test_loss_eq25_printed, wts, [E(0), E(1)],
        [E(0), E(1)], [H, C2], [T * sp.eye(2), T * sp.eye(2)], [T * s2, T * s2], [s2, s2], T)
    add("theory.temperature.leading_dT_test_loss", tm.leading_dT_test_loss, wts, [E(0), E(1)], [E(0), E(1)],
        [H, C2], [s2, s2], T)
    add("theory.temperature.one_basin_dT_test_loss_corrected", tm.one_basin_dT_test_loss_corrected, H, C2, sp.eye(2))
    add("theory.temperature.two_basin_covariance", tm.two_basin_covariance, a, E(0), E(1), E(0), E(1))
    add("theory.temperature.two_basin_sign_product", tm.two_basin_sign_product, E(0), E(1), E(0), E(1), a, b)
    add("theory.temperature.test_loss_improves_with_T", tm.test_loss_improves_with_T, E(0), E(1), E(0), E(1),
        E(0), E(1))
    # theory.shift_curvature
    add("theory.shift_curvature.second_order_taylor", tl.second_order_taylor, sp.exp(x) * y, th, [E(0), E(0)], [a, b])
    add("theory.shift_curvature.quadratic_test_loss", tl.quadratic_test_loss, E(0), C2, s2, bias=[E(0), a])
    add("theory.shift_curvature.test_loss_terms", tl.test_loss_terms, E(0), C2, s2, [E(0), a], sp.eye(2))
    add("theory.shift_curvature.mixture_test_loss", tl.mixture_test_loss, wts,
        [(E(0), C2, s2, s2, sp.eye(2)), (E(1), H, s2, s2, sp.eye(2))])
    add("theory.shift_curvature.sgd_leading_test_loss", tl.sgd_leading_test_loss, wts, [(E(0), C2, s2), (E(1), H, s2)])
    add("theory.shift_curvature.gaussian_expectation", tl.gaussian_expectation, x**2 * y**2, th, [a, E(0)], sp.eye(2))
    add("theory.shift_curvature.gaussian_quadratic_expectation", tl.gaussian_quadratic_expectation, C2, [E(0), E(0)],
        s2, sp.eye(2))
    add("theory.shift_curvature.range_projector", tl.range_projector, sp.Matrix([[1, 0], [0, 0]]))
    add("theory.shift_curvature.projected_shift", tl.projected_shift, sp.Matrix([[1, 0], [0, 0]]), s2)
    add("theory.shift_curvature.effective_sample_size", tl.effective_sample_size, E(10), E(20))
    add("theory.shift_curvature.shift_mean", tl.shift_mean, C2, sp.Matrix([[1], [0]]), [a])
    add("theory.shift_curvature.shift_covariance", tl.shift_covariance, C2, sp.eye(2), E(10))
    add("theory.shift_curvature.expected_shift_curvature", tl.expected_shift_curvature, C2, sp.eye(2),
        sp.Matrix([[1], [0]]), [a], E(10))
    add("theory.shift_curvature.expected_shift_curvature_loglik_printed", tl.expected_shift_curvature_loglik_printed, C2, sp.eye(2),
        sp.Matrix([[1], [0]]), [a], E(10))
    add("theory.shift_curvature.loglik_hessian_split", tl.loglik_hessian_split, sp.exp(-(x - y) ** 2 / 2), [y])
    add("theory.shift_curvature.data_expectation", tl.data_expectation, X1**2, sp.exp(-X1**2 / 2) / sp.sqrt(2 * sp.pi),
        X1, center=E(0), limits=(-sp.oo, sp.oo))
    add("theory.shift_curvature.shift_sensitivity", tl.shift_sensitivity, (X1 - TH1) ** 2 / 2,
        sp.exp(-(X1 - a) ** 2 / 2) / sp.sqrt(2 * sp.pi), X1, [TH1], [a], center=a)
    # numerics.compile
    add("numerics.compile.compile_expr", ncompile.compile_expr, sp.exp(-x**2) + y, th)
    add("numerics.compile.compile_many", ncompile.compile_many, [x + y, x * y], th)
    add("numerics.compile.codegen_plan", ncompile.codegen_plan, [x + y, (x * y) ** 3])
    add("numerics.compile.operation_cost", ncompile.operation_cost, [sp.exp(x) + y, x ** 3])
    # numerics.first_passage
    add("numerics.first_passage.laplace_escape_time_1d", nfpt.laplace_escape_time_1d, U1, E(1), x, -1.0, 0.0,
        0.1)
    add("numerics.first_passage.sgd_path_parameter", nfpt.sgd_path_parameter, U1, 1 + x**2, x, -1.0, 0.0)
    add("numerics.first_passage.path_exponent_1d", nfpt.path_exponent_1d, U1, E(1), x, -1.0, 0.0)
    add("numerics.first_passage.mean_first_passage_time_1d", nfpt.mean_first_passage_time_1d, U1, E(1), x,
        -1.0, 0.5, 0.5)
    add("numerics.first_passage.mean_exit_time_interval_1d", nfpt.mean_exit_time_interval_1d, U1, E(1), x,
        0.0, -0.5, 0.5, 0.5)
    # numerics.fokker_planck
    add("numerics.fokker_planck.FokkerPlanckSolver.from_theory", nfp.FokkerPlanckSolver.from_theory, U, D, th,
        0.5, grid=grid)
    # numerics.landscapes
    add("numerics.landscapes.gaussian_pdf", nland.gaussian_pdf, x, E(0), E(1))
    add("numerics.landscapes.WellMixture", nland.WellMixture, (E(-1), E(1)), (E(1), E(1)), (E(0.5), E(0.5)),
        c=E(0.01), shift=E(0.1), depth_shifts=(E(0), E(0.1)))
    wm = nland.WellMixture((-1, 1), (1, 1), (0.5, 0.5))
    add("numerics.landscapes.WellMixture.loss", wm.loss, x, shift=E(0.1), depth_shifts=(E(0), E(0.1)))
    add("numerics.landscapes.WellMixture.train_loss", wm.train_loss, x)
    add("numerics.landscapes.WellMixture.test_loss", wm.test_loss, x)
    add("numerics.landscapes.SampledWellModel", nland.SampledWellModel, (E(-1), E(1)), (E(1), E(1)),
        (E(0.5), E(0.5)), E(0.01), E(1), 4, 0, 1)
    sw = nland.SampledWellModel((-1, 1), (1, 1), (0.5, 0.5), 0.01, 1.0, 4, 0, 1)
    add("numerics.landscapes.SampledWellModel.per_sample_loss", sw.per_sample_loss, X1, x)
    add("numerics.landscapes.SampledWellModel.train_loss", sw.train_loss, x)
    add("numerics.landscapes.SampledWellModel.test_loss", sw.test_loss, x)
    add("numerics.landscapes.SampledWellModel.diffusion", sw.diffusion, x)
    add("numerics.landscapes.styblinski_tang", nland.styblinski_tang, th, k=E(2))
    add("numerics.landscapes.styblinski_tang_per_sample", nland.styblinski_tang_per_sample, [a, b], th, k=E(2))
    # numerics.sgd_escape
    add("numerics.sgd_escape.per_sample_gradient", nesc.per_sample_gradient, (X1 - TH1) ** 4, [X1], [TH1])
    add("numerics.sgd_escape.separable_gradient", nesc.separable_gradient, (X1 - TH1) ** 4, X1, TH1)
    # numerics.sgd
    add("numerics.sgd.compile_per_sample_gradient", nsgd.compile_per_sample_gradient, (X1 - TH1) ** 4, [X1],
        [TH1], device="cpu")
    add("numerics.sgd.compile_diffusion", nsgd.compile_diffusion, TH1 ** 2 / 2, 1 + TH1 ** 2, [TH1],
        device="cpu")
    # numerics.markov (grad as a SymPy expression with symbols=(theta, x); arrays otherwise)
    mk_data, mk_grid = np.array([-1.0, 1.0]), np.linspace(-3, 3, 61)
    add("numerics.markov.step_distribution", nmk.step_distribution, TH1 - X1, mk_data, 0.0, lr=0.2,
        batch_size=1, symbols=(TH1, X1))
    add("numerics.markov.transition_operator", nmk.transition_operator, TH1 - X1, mk_data, lr=0.2,
        batch_size=1, grid=mk_grid, symbols=(TH1, X1))
    add("numerics.markov.diffusion_law", nmk.diffusion_law, TH1 - X1, mk_data, lr=0.2, batch_size=1,
        grid=mk_grid, symbols=(TH1, X1))
    add("numerics.markov.modified_equation_law", nmk.modified_equation_law, TH1 - X1, mk_data, lr=0.2,
        batch_size=1, grid=mk_grid, symbols=(TH1, X1))
    # numerics.reference_quadrature
    add("numerics.reference_quadrature.find_critical_points_1d", nrq.find_critical_points_1d, U1, x, E(-2), E(2),
        grid=200)
    add("numerics.reference_quadrature.exact_basin_log_masses_1d", nrq.exact_basin_log_masses_1d, U1, x, E(0.5),
        [E(-1), E(1)], lower=E(-2), upper=E(2), maxima=[E(0)])
    add("numerics.reference_quadrature.log_partition_1d", nrq.log_partition_1d, x**2, E(0), E(1), x,
        (E(-3), E(3)))
    add("numerics.reference_quadrature.free_energy_1d", nrq.free_energy_1d, -x**2, x**2, E(0), E(1), x,
        (E(-3), E(3)))
    add("numerics.reference_quadrature.kl_divergence_1d", nrq.kl_divergence_1d, -x**2, -x**2 / 2, x,
        (E(-3), E(3)))
    # numerics.stationary
    add("numerics.stationary.effective_potential_integrand", nst.effective_potential_integrand, U, D, th, T)
    add("numerics.stationary.effective_potential_1d", nst.effective_potential_1d, U1, 1 + x**2, x, 0.5,
        np.linspace(-2, 2, 21))
    add("numerics.stationary.effective_potential_2d", nst.effective_potential_2d, U, D, th, 0.5,
        np.linspace(-1, 1, 11), np.linspace(-1, 1, 11))
    add("numerics.stationary.StationaryProblem1D", nst.StationaryProblem1D, U1, x, diffusion=1 + x**2 / 10,
        test_loss=(x - sp.Rational(1, 10)) ** 2 * (x + 1) ** 2, domain=(-2, 2), scan_points=2001)
    # numerics.stationary_2d
    add("numerics.stationary_2d.StationaryProblem2D", nst2.StationaryProblem2D, U, th, diffusion=D,
        domain=((-2, 2), (-2, 2)), nodes=11, v=U / 2, test_loss=U + x)
    return c


#: A module whose whole public API takes no expression (devices, torch tensors).
ALL_NAMES = "*"

#: Public names that take no expression, matrix, vector or θ (numbers, arrays, torch tensors,
#: callables, names) or are result/error types — the reason is the value.
NOT_APPLICABLE = {
    "theory.coordinates": {},
    "theory.effective_potential": {"CovarianceComparison": "result type"},
    "theory.escape": {"HessianNoise": "result type"},
    "theory.identity": {"IdentityResult": "result type"},
    "theory.kramers_moyal": {n: "integer multi-index arithmetic" for n in (
        "multi_indices", "multi_index_order", "multi_index_factorial", "unit_multi_index")},
    "theory.laplace": {"GaussianMixture": "result type (built by gaussian_mixture)"},
    "theory.parsing": {"parse_expression": "takes text by design: see the parsing tests below",
                       "ALLOWED_FUNCTIONS": "data"},
    "theory.shift_curvature": {"TestLossTerms": "result type"},
    "theory.fokker_planck": {},
    "theory.free_energy": {},
    "theory.overparametrized": {},
    "theory.reparametrization": {},
    "theory.temperature": {},
    "theory.budget": {"check_budget": "a number of seconds", "Deadline": "a number of seconds",
                      "run_within": "a number of seconds and a callable with its arguments"},
    "numerics.compile": {"CompiledFunction": "result type (called with arrays)",
                         "resolve_device": "device names"},
    "numerics.devices": ALL_NAMES,  # device names and torch devices only
    "numerics.first_passage": {"mean_first_passage_time_grid_2d": "a NumPy callable and floats"},
    "numerics.fokker_planck": {"Grid": "floats", "DetailedBalanceDistance": "result type",
                               "bernoulli": "arrays", "l1_distance": "arrays"},
    "numerics.gradient_noise": ALL_NAMES,  # torch models and tensors only
    "numerics.gradstats": ALL_NAMES,  # torch models, tensors and whole numbers only
    "numerics.curl": ALL_NAMES,  # torch models, tensors, arrays and floats only
    "numerics.interpolation": ALL_NAMES,  # torch models, tensors, float arrays and numbers only
    "numerics.noise_curvature": ALL_NAMES,  # numeric arrays (text/object dtypes refused) and a float T
    # a model, tensors and numbers; `--model module:factory` is split into identifiers and imported,
    # never evaluated (tests/validation/test_bench.py feeds it code)
    "validation._bench": ALL_NAMES,
    "numerics.lyapunov": ALL_NAMES,  # NumPy arrays, floats and callables; strings refused with TypeError (its tests)
    "numerics.reference_quadrature": {},
    "numerics.datasets": {"DATASETS": "data", "Dataset": "result type",
                          "DatasetError": "error type", "DatasetUnavailableError": "error type",
                          "dataset_size": "a data-set name (a key, never evaluated)",
                          "load_dataset": "a data-set name (a key) and whole numbers"},
    "numerics.training": ALL_NAMES,  # torch models, tensors and whole numbers (TrainingError for strings)
    "numerics.quadrature": {"QuadratureResult": "result type",
                            "integrate_batch": "a NumPy callable and float arrays"},
    "numerics.landscapes": {"STYBLINSKI_TANG_1D": "data", "Preset": "result type",
                            "preset": "a preset name (a key, never evaluated)",
                            "preset_names": "no arguments"},
    "numerics.markov": {"TransitionOperator": "result type", "GridLaw": "result type",
                        "EscapeTime": "result type", "RelaxationTime": "result type",
                        "stationary_law": "a transition operator / matrix",
                        "basin_occupancy": "arrays and floats",
                        "mean_escape_time": "a transition operator / matrix and float intervals",
                        "relaxation_time": "a transition operator / matrix",
                        "total_variation": "arrays"},
    "numerics.sgd_escape": {"EscapeResult": "result type",
                            "simulate_escape": "a compiled gradient callable and arrays",
                            "valley_size": "arrays"},
    "numerics.sgd": {**{n: "result / model / data types (arrays, floats, callables)" for n in (
        "FiniteData", "Stream", "PerSampleGradient", "DiffusionModel", "Diagnostics", "SGDResult")},
        **{n: "observers: floats, coordinates, torch callables" for n in (
            "Histogram1D", "Histogram2D", "Occupancy", "FirstPassage", "Moments")},
        "gaussian_stream": "numbers", "simulate_sgd": "a compiled gradient callable, data and numbers",
        "simulate_diffusion": "a compiled DiffusionModel and numbers",
        "diffusion_from_data": "a compiled gradient and a numeric training set",
        "escape_numpy": "a NumPy gradient callable and arrays"},
    "numerics.stationary": {n: "floats / arrays" for n in (
        "check_temperature", "check_grid_size", "line_integral_2d", "log_density_on_grid", "PanelGrid", "chebyshev_panels",
        "Basin", "StationaryState1D", "SweepResult", "OptimalTemperature", "optimal_temperature",
        "basin_log_masses_adaptive", "normalise_log_density", "anchored_cumulative_integral",
        "UniformGridStationary1D", "stationary_on_uniform_grid_1d")},
    "numerics.stationary_2d": {n: "arrays / callables / result types" for n in (
        "Basin2D", "StationaryState2D", "StationarySweep2D", "steepest_descent_labels", "flow_map_endpoints",
        "trapezoid_log_weights_2d")},
    # claim ids are looked up as keys, never parsed; the sources are read with ast, never imported or
    # run (tests/validation/test_where.py feeds it a code payload as an id)
    "validation.where": ALL_NAMES,
}

#: Registry names for classes whose public methods are covered one by one.
CLASS_METHODS = {
    "numerics.fokker_planck.FokkerPlanckSolver": ("from_theory",),
    "numerics.landscapes.WellMixture": ("", "loss", "train_loss", "test_loss"),
    "numerics.landscapes.SampledWellModel": ("", "per_sample_loss", "train_loss", "test_loss", "diffusion"),
    "numerics.stationary.StationaryProblem1D": ("",),
    "numerics.stationary_2d.StationaryProblem2D": ("",),
}


def _acceptable_errors(name):
    """TypeError everywhere; a module may use its own typed error (a subclass of its error base)."""
    from numerics.compile import CompileError
    from numerics.fokker_planck import FokkerPlanckError
    from numerics.landscapes import LandscapeError
    return {"numerics.compile": (TypeError, CompileError),
            "numerics.fokker_planck": (TypeError, FokkerPlanckError),
            "numerics.landscapes": (TypeError, LandscapeError)}.get(
        ".".join(name.split(".")[:2]), (TypeError,))


CASES = _cases()


def test_registry_covers_every_public_name():
    missing = []
    for module_name, skip in NOT_APPLICABLE.items():
        if skip == ALL_NAMES:
            continue
        mod = importlib.import_module(module_name)
        for name in mod.__all__:
            obj = getattr(mod, name)
            full = f"{module_name}.{name}"
            if name in skip or not callable(obj) or (inspect.isclass(obj) and issubclass(obj, BaseException)):
                continue
            if full in CLASS_METHODS:
                for meth in CLASS_METHODS[full]:
                    if (f"{full}.{meth}" if meth else full) not in CASES:
                        missing.append(f"{full}.{meth}")
                continue
            if full not in CASES:
                missing.append(full)
    assert not missing, f"public entry points without a no-code-execution case: {missing}"


def test_every_case_runs_with_valid_arguments():
    """The table's calls are valid as written, so each refusal below is caused by the string alone."""
    for name, (fn, args, kwargs) in CASES.items():
        fn(*[_unwrap(v) for v in args], **{k: _unwrap(v) for k, v in kwargs.items()})


# --------------------------------------------------------------------------------------------------
# Mutations: one argument at a time, one hostile form at a time.
# --------------------------------------------------------------------------------------------------
def _is_symbolic(v) -> bool:
    if isinstance(v, (E, sp.Basic, sp.MatrixBase)):
        return True
    if isinstance(v, (list, tuple)):
        return any(_is_symbolic(e) for e in v)
    if isinstance(v, dict):
        return any(_is_symbolic(e) for e in v.values())
    return False


def _as_nested(v):
    """Matrices as nested lists (the form users type), E unwrapped; other leaves unchanged."""
    if isinstance(v, E):
        return v.value
    if isinstance(v, sp.MatrixBase):
        return [list(r) for r in v.tolist()]
    if isinstance(v, (list, tuple)):
        return type(v)(_as_nested(e) for e in v)
    if isinstance(v, dict):
        return {k: _as_nested(e) for k, e in v.items()}
    return v


def _replace_leaf(v, bad, which):
    """Replace the first/last leaf of a nested structure by ``bad`` (matrices unpacked to lists)."""
    if isinstance(v, sp.MatrixBase):
        v = [list(r) for r in v.tolist()]
    nested = (list, tuple, dict, sp.MatrixBase)
    if isinstance(v, dict):
        k = list(v)[0 if which == "first" else -1]
        out = dict(v)
        out[k] = _replace_leaf(v[k], bad, which) if isinstance(v[k], nested) else bad
        return out
    if isinstance(v, (list, tuple)):
        i = 0 if which == "first" else len(v) - 1
        items = list(v)
        items[i] = _replace_leaf(v[i], bad, which) if isinstance(v[i], nested) else bad
        return type(v)(items)
    return bad


def _to_tuples(v):
    if isinstance(v, list):
        return tuple(_to_tuples(e) for e in v)
    return v


def _object_array(v):
    arr = np.empty(len(v), dtype=object) if not all(isinstance(e, list) for e in v) else None
    if arr is None:
        rows = [list(r) for r in v]
        if len({len(r) for r in rows}) != 1 or any(isinstance(e, (list, tuple)) for r in rows for e in r):
            return None
        arr = np.empty((len(rows), len(rows[0])), dtype=object)
        for i, r in enumerate(rows):
            for j, e in enumerate(r):
                arr[i, j] = e
        return arr
    if any(isinstance(e, (list, tuple, dict)) for e in v):
        return None
    for i, e in enumerate(v):
        arr[i] = e
    return arr


def _variants(value, text):
    """(label, hostile value) pairs for one argument."""
    out = [("str", text)]
    raw = _as_nested(value)
    if isinstance(value, (E, sp.Basic)) and not isinstance(value, sp.MatrixBase):
        out += [("bytes", text.encode()), ("np.str_", np.str_(text)),
                ("0-d object array", np.array(text, dtype=object))]
        if isinstance(value, sp.Symbol):  # θ given as one Symbol: also a list of one string
            out.append(("[str]", [text]))
        return out
    for which in ("first", "last"):
        out.append((f"{which} leaf", _replace_leaf(raw, text, which)))
    out.append(("last leaf bytes", _replace_leaf(raw, text.encode(), "last")))
    bad = _replace_leaf(raw, text, "last")
    if isinstance(bad, list):
        out.append(("tuples", _to_tuples(bad)))
        arr = _object_array(bad)
        if arr is not None:
            out.append(("object ndarray", arr))
    return out


def _mutations():
    for name, (fn, args, kwargs) in CASES.items():
        slots = [(i, None, v) for i, v in enumerate(args)] + [(None, k, v) for k, v in kwargs.items()]
        for i, k, v in slots:
            if _is_symbolic(v):
                label = f"arg{i}" if k is None else k
                yield pytest.param(name, i, k, id=f"{name}[{label}]")


@pytest.mark.parametrize("name, index, key", list(_mutations()))
def test_strings_are_refused_and_never_run(name, index, key, tmp_path):
    fn, args, kwargs = CASES[name]
    text = payload(tmp_path)
    marker = tmp_path / MARKER_NAME
    errors = _acceptable_errors(name)
    original = args[index] if key is None else kwargs[key]
    for label, bad in _variants(original, text):
        new_args = [_unwrap(v) for v in args]
        new_kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
        if key is None:
            new_args[index] = bad
        else:
            new_kwargs[key] = bad
        with pytest.raises(errors) as info:
            fn(*new_args, **new_kwargs)
        assert not marker.exists(), f"{name}: the payload ran ({label})"
        msg = str(info.value).lower()
        assert "string" in msg, f"{name} ({label}): refused, but the error does not say why: {info.value!r}"


@pytest.mark.filterwarnings("ignore")  # SymPy warns that it evaluates the string: that is the point
def test_the_payload_is_live(tmp_path):
    """Sanity check of the harness: plain SymPy does run the payload (so the cases above test
    something real)."""
    try:
        sp.Matrix([[payload(tmp_path)]])
    except Exception:  # noqa: BLE001 - only the side effect matters here
        pass
    assert (tmp_path / MARKER_NAME).exists()


def test_error_names_the_entry_and_the_fix(tmp_path):
    from theory.effective_potential import effective_potential

    with pytest.raises(TypeError) as info:
        effective_potential(x**2 + y**2, [[1, 0], [0, payload(tmp_path)]], [x, y], T)
    msg = str(info.value)
    assert "D[1][1]" in msg and "parse_expression" in msg
    assert not (tmp_path / MARKER_NAME).exists()


def test_sympy_arguments_still_work():
    """The strict conversion keeps the accepted forms: nested lists, tuples, NumPy arrays."""
    from theory.coordinates import as_column, as_matrix, as_square_matrix, as_theta

    assert as_square_matrix([[1, 0], [0, x]], 2) == sp.Matrix([[1, 0], [0, x]])
    assert as_square_matrix(((1, 0), (0, x)), 2) == sp.Matrix([[1, 0], [0, x]])
    M = as_square_matrix(np.array([[1.0, 0.0], [0.0, 2.0]]), 2)
    assert np.allclose(np.array(M, dtype=float), [[1.0, 0.0], [0.0, 2.0]], rtol=0, atol=1e-15)
    assert as_column(np.array([1, 2]), 2) == sp.Matrix([1, 2])
    assert as_theta((x, y)) == sp.Matrix([x, y])
    assert as_matrix(3) == sp.Matrix([[3]])


def test_synthetic_config_with_a_string_is_refused(tmp_path):
    from validation.synthetic_cli import ConfigError, validate_config

    cfg = {"basins": [{"mean": payload(tmp_path), "weight": 1, "sigma": 0.5}], "c": 0.01, "shift": 0.1,
           "temperatures": [0.1], "domain": [-3, 3]}
    with pytest.raises((ConfigError, TypeError)):
        validate_config(cfg)
    assert not (tmp_path / MARKER_NAME).exists()


# --------------------------------------------------------------------------------------------------
# parse_expression: code is refused, and formula bombs are refused quickly (hang guards)
# --------------------------------------------------------------------------------------------------
WALL_BOUND_S = 2.0  # the target is well under a second; generous for a loaded CI machine

BOMBS = [
    "9**9**9", "10**10**8", "1e999999", "1e-999999", "2**2**2**2**2**2", "(10**10)**(10**10)",
    "gamma(10**6)", "gamma(1000000)", "gamma(gamma(20))", "exp(exp(exp(10)))", "cosh(10**6)",
    "(x**1000)**1000", "((x+1)**1000)**1000", "sqrt(10**10**10)", "10.0**10**6", "2**-10**10",
    "(-9)**9**9", "x**(1/10**-10)", "9**(9**9*x)", "(2**1000)**(2**1000)", "gamma(10**3)**1000",
    "exp(10**1000)", "*".join(["10**1000"] * 20), "1" + "0" * 400, "0." + "0" * 1500 + "1",
    "x" + "**2" * 40, "(" * 300 + "x" + ")" * 300,
]


@pytest.mark.parametrize("text", BOMBS, ids=[t[:30] for t in BOMBS])
def test_parse_expression_refuses_bombs_quickly(text):
    t0 = time.perf_counter()
    with pytest.raises(UnsafeExpressionError):
        parse_expression(text, symbols=[x])
    assert time.perf_counter() - t0 < WALL_BOUND_S


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_parse_expression_refuses_empty(text):
    with pytest.raises(UnsafeExpressionError, match="empty formula"):
        parse_expression(text, symbols=[x])


@pytest.mark.parametrize("text, expected", [
    ("2**1000", sp.Integer(2) ** 1000), ("x**1000", x**1000), ("10**300*x", sp.Integer(10) ** 300 * x),
    ("1e300", sp.Float("1e300")), ("gamma(100)", sp.factorial(99)), ("(x+1)**1000", (x + 1) ** 1000),
])
def test_parse_expression_keeps_reasonable_numbers(text, expected):
    t0 = time.perf_counter()
    got = parse_expression(text, symbols=[x])
    assert time.perf_counter() - t0 < WALL_BOUND_S
    if got.is_Float:
        assert math.isclose(float(got), float(expected), rel_tol=1e-12)
    else:
        assert sp.simplify(got - expected) == 0


def test_parse_expression_never_runs_code(tmp_path):
    with pytest.raises(UnsafeExpressionError):
        parse_expression(payload(tmp_path), symbols=[x])
    assert not (tmp_path / MARKER_NAME).exists()
