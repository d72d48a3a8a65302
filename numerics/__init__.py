"""Numerics: NumPy/SciPy/PyTorch. Compiled theory, grids, solvers, simulators, trained networks.

Nothing here re-derives a formula that :mod:`theory` has: expressions are compiled
(:mod:`numerics.compile`). Where each claim family is computed:

======================================================  ==========================================
claims / task                                           module
======================================================  ==========================================
compile SymPy → NumPy / PyTorch (incl. ``Integral``)    :mod:`numerics.compile`, :mod:`numerics.quadrature`
SC.eq5/6, SC.eq4, RND.eq24 on 1-D losses (ρ, weights)   :mod:`numerics.stationary`
SC.eq6 exact masses, RND.eq28 log Z/F/KL (mpmath, 1-D)  :mod:`numerics.reference_quadrature`
SC.A1, SC.eq5/6 on 2-D losses                           :mod:`numerics.stationary_2d`
SC.eq10 (FP solver, J = 0 check), SC.B1.counter         :mod:`numerics.fokker_planck`
DT.thm3.1/3.2, DT.rule1 (exact MFPT, Laplace escape)    :mod:`numerics.first_passage`
DT §4 (real minibatch SGD escape runs)                  :mod:`numerics.sgd_escape`
exact discrete-time SGD chain (1-D, finite data)        :mod:`numerics.markov`
SC.eq9/10/13: many-chain minibatch SGD, EM reference    :mod:`numerics.sgd`
SC.eq15/16/23 (minibatch gradient noise of networks)    :mod:`numerics.gradient_noise`
the papers' synthetic losses and presets                :mod:`numerics.landscapes`
SGD training of small networks, sharpness               :mod:`numerics.training`
D(θ), HVPs, Lanczos, Hutchinson for any nn.Module       :mod:`numerics.gradstats`
SC.A1 on trained nets (commutator [D, H], curl of V)    :mod:`numerics.curl`
SC §3/App. F train→test line, fits, sᵀCs (SC.eq3)       :mod:`numerics.interpolation`
DT.eq7 (D ≈ cH), SC.B2.cov in a k-subspace              :mod:`numerics.noise_curvature`
torch device policy (``device="auto"``)                 :mod:`numerics.devices`
======================================================  ==========================================

The names below are the public API a user needs; they are loaded on first use (``import
numerics`` does not import PyTorch), and everything is importable from its module too.

>>> import numpy as np, sympy as sp
>>> import numerics
>>> x = sp.Symbol("x")
>>> f = numerics.compile_expr(x**2 + 1, [x])
>>> f(np.array([0.0, 2.0]))
array([1., 5.])
"""
from __future__ import annotations

import importlib

#: public name → submodule (loaded lazily by ``__getattr__``)
_API = {
    "compile": ("CompileError", "CompiledFunction", "compile_expr", "compile_many"),
    "devices": ("resolve_device", "DeviceError", "DeviceFallbackWarning", "device_description"),
    "quadrature": ("QuadratureWarning", "QuadratureResult", "integrate_batch"),
    "landscapes": ("LandscapeError", "gaussian_pdf", "WellMixture", "SampledWellModel", "styblinski_tang",
                   "styblinski_tang_per_sample", "Preset", "preset", "preset_names"),
    "stationary": ("StationaryError", "TemperatureError", "DomainError", "NonFiniteError", "BasinMergeError",
                   "GridResolutionError", "DiffusionNotPositiveError", "effective_potential_integrand",
                   "effective_potential_1d", "effective_potential_2d", "log_density_on_grid",
                   "normalise_log_density", "anchored_cumulative_integral", "UniformGridStationary1D",
                   "stationary_on_uniform_grid_1d", "Basin", "StationaryState1D", "StationaryProblem1D",
                   "SweepResult", "OptimalTemperature", "optimal_temperature", "basin_log_masses_adaptive"),
    "reference_quadrature": ("find_critical_points_1d", "exact_basin_log_masses_1d", "log_partition_1d",
                             "free_energy_1d", "kl_divergence_1d"),
    "stationary_2d": ("Basin2D", "StationaryState2D", "StationarySweep2D", "StationaryProblem2D"),
    "fokker_planck": ("FokkerPlanckError", "Grid", "FokkerPlanckSolver", "DetailedBalanceDistance"),
    "first_passage": ("mean_first_passage_time_1d", "mean_exit_time_interval_1d", "laplace_escape_time_1d",
                      "path_exponent_1d", "sgd_path_parameter", "mean_first_passage_time_grid_2d"),
    "sgd_escape": ("SGDDivergedError", "EscapeResult", "per_sample_gradient", "separable_gradient",
                   "simulate_escape", "valley_size"),
    "sgd": ("SGDNotConvergedError", "SGDConfigError", "FiniteData", "Stream", "gaussian_stream",
            "PerSampleGradient", "compile_per_sample_gradient", "DiffusionModel", "compile_diffusion",
            "diffusion_from_data", "Histogram1D", "Histogram2D", "Occupancy", "FirstPassage", "Moments",
            "Diagnostics", "SGDResult", "simulate_sgd", "simulate_diffusion"),
    "markov": ("MarkovError", "TransitionOperator", "GridLaw", "EscapeTime", "RelaxationTime", "step_distribution",
               "transition_operator", "stationary_law", "basin_occupancy", "mean_escape_time", "relaxation_time",
               "diffusion_law", "modified_equation_law", "total_variation"),
    "gradient_noise": ("per_sample_gradients", "minibatch_noise", "gaussian_reference_noise",
                       "standardized_moments", "principal_directions"),
    "training": ("TrainingError", "digits_split", "digits_shuffled", "mlp", "train_sgd", "sharpness"),
    "gradstats": ("GradStatsError", "TrainModeError", "NonFiniteLossError", "HessianTooLargeError",
                  "CovarianceTooLargeError", "HessianOperator", "GradientCovariance", "Eigenpairs", "TraceEstimate",
                  "hessian_operator", "gradient_covariance", "top_hessian_eigenpairs", "hutchinson_trace",
                  "exact_hessian", "random_subspace", "projected_hessian"),
    "curl": ("CurlError", "commutator_ratio", "CurlEstimate", "commutator_in_subspace", "projected_commutator",
             "MinimumCurl", "minimum_curl", "DriftJacobian", "drift_jacobian", "QuadraticModel", "quadratic_loss"),
    "interpolation": ("InterpolationError", "PolishDivergedError", "QuadraticFit", "LineFit", "flat_parameters",
                      "with_parameters", "polish", "line_losses", "symmetrised_quadratic_fit", "line_fit",
                      "hessian_quadratic_form", "shift_curvature_prediction"),
    "noise_curvature": ("NoiseCurvatureError", "NotAStrictMinimumError", "NoiseHessianAlignment",
                        "noise_hessian_alignment", "StationaryCovariance", "stationary_covariance"),
}
_WHERE = {name: module for module, names in _API.items() for name in names}

__all__ = [name for names in _API.values() for name in names]


def __getattr__(name):
    if name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
