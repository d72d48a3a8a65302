"""Hostile inputs: no silent wrong answers; every user-reachable failure
is a typed error (a subclass of the module's error class, itself a ValueError/TypeError) whose
message says what to change."""
import json
import math
import warnings

import numpy as np
import pytest
import sympy as sp

X = sp.Symbol("x", real=True)
Y = sp.Symbol("y", real=True)
TS = sp.Symbol("T", positive=True)

README_CONFIG = {"basins": [{"mean": -1, "weight": 0.1, "sigma": 0.1}, {"mean": 1, "weight": 0.2, "sigma": 0.5}],
                 "c": 0.001, "shift": 0.1, "temperatures": [0.001, 0.01, 0.1], "domain": [-3, 3]}


# --------------------------------------------------------------------------------------------------
# (a) synthetic / StationaryProblem1D: a temperature float64 cannot resolve is refused
# --------------------------------------------------------------------------------------------------
def test_synthetic_tiny_temperature_is_refused_naming_the_field():
    from validation.synthetic_cli import ConfigError, run_config

    with pytest.raises(ConfigError) as ei:
        run_config(dict(README_CONFIG, temperatures=[0.01, 1e-20]))
    assert ei.value.field == "temperatures[1]"
    msg = str(ei.value)
    assert "float64 resolution" in msg and "Use T ≥" in msg


def test_synthetic_small_resolvable_temperature_is_right():
    """Just above the float64 floor the answer is the T → 0 one (train loss ≈ the deeper well's
    depth, −0.398), not the −6.9e-11 the unshifted exponent used to give at tiny T."""
    from validation.synthetic_cli import run_config

    res = run_config(dict(README_CONFIG, temperatures=[1e-12]))
    assert res["train_loss"][0] == pytest.approx(res["basins"][0]["depth"], abs=1e-9)
    assert res["train_loss"][0] == pytest.approx(-0.3982, abs=1e-4)


def test_stationary_float_resolution_error_carries_the_bound():
    from numerics.stationary import FloatResolutionError, StationaryProblem1D, TemperatureError

    prob = StationaryProblem1D((X ** 2 - 1) ** 2 + 10, X, domain=(-2, 2))
    with pytest.raises(FloatResolutionError) as ei:
        prob.state(1e-16)
    assert isinstance(ei.value, TemperatureError) and isinstance(ei.value, ValueError)
    assert ei.value.T_min > 1e-16
    prob.state(10 * ei.value.T_min)  # just above the bound it works


def test_stationary_density_concentrated_on_few_nodes_is_a_grid_error():
    """A well so sharp that its Laplace width is below the merge tolerance of the breakpoints
    (1e-13 of the domain) puts its mass on a few nodes: a GridResolutionError, not numbers."""
    from numerics.stationary import GridResolutionError, StationaryError, StationaryProblem1D

    prob = StationaryProblem1D(1e14 * X ** 2 / 2 + 1e-3 * X ** 4, X, domain=(-2, 2))
    with pytest.raises(GridResolutionError, match="quadrature nodes") as ei:
        prob.state(1e-16)
    assert isinstance(ei.value, StationaryError)


# --------------------------------------------------------------------------------------------------
# (k) "wells merge" vs grid resolution
# --------------------------------------------------------------------------------------------------
def test_missed_narrow_well_is_a_grid_error_not_a_merge():
    from validation.synthetic_cli import ConfigError, run_config

    narrow = [{"mean": -1, "weight": 0.1, "sigma": 0.005}, {"mean": 1, "weight": 0.2, "sigma": 0.5}]
    with pytest.raises(ConfigError) as ei:
        run_config(dict(README_CONFIG, basins=narrow, grid=101))
    assert ei.value.field == "grid"
    assert "grid resolution, not wells merging" in str(ei.value) and "finer grid" in str(ei.value)
    # the finer grid it asks for works
    run_config(dict(README_CONFIG, basins=narrow, grid=2001, temperatures=[0.01]))


def test_wells_that_really_merge_keep_the_merge_advice():
    from numerics.stationary import BasinMergeError, GridResolutionError, StationaryProblem1D

    U = -sp.exp(-(X + 0.05) ** 2 / 0.5) - sp.exp(-(X - 0.05) ** 2 / 0.5) + X ** 2 / 100
    with pytest.raises(BasinMergeError, match="wells merge") as ei:
        StationaryProblem1D(U, X, domain=(-3, 3), expected_basins=2)
    assert not isinstance(ei.value, GridResolutionError)


# --------------------------------------------------------------------------------------------------
# (i) a config path that is a directory; (j) a 10⁹-point grid
# --------------------------------------------------------------------------------------------------
def test_synthetic_config_directory_is_a_config_error(tmp_path):
    from validation.synthetic_cli import ConfigError, run_config_file

    with pytest.raises(ConfigError, match="is a directory") as ei:
        run_config_file(tmp_path, tmp_path / "out" / "r.json")
    assert ei.value.field == "config"


def test_synthetic_huge_grid_states_limit_and_memory():
    from validation.synthetic_cli import ConfigError, run_config

    with pytest.raises(ConfigError) as ei:
        run_config(dict(README_CONFIG, grid=10 ** 9))
    assert ei.value.field == "grid"
    assert "limit" in str(ei.value) and "GiB" in str(ei.value)


def test_stationary_1d_huge_scan_is_refused_before_allocating():
    from numerics.stationary import GridSizeError, StationaryProblem1D

    with pytest.raises(GridSizeError, match="GiB"):
        StationaryProblem1D(X ** 2, X, domain=(-1, 1), scan_points=10 ** 9)


# --------------------------------------------------------------------------------------------------
# (h) zero / singular diffusion
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("D", [0, sp.Integer(0), X - X])
def test_stationary_zero_diffusion_names_the_remedy(D):
    from numerics.stationary import NonFiniteError, StationaryProblem1D
    from theory.effective_potential import SingularDiffusionError

    with pytest.raises(SingularDiffusionError, match="SC.eq13") as ei:
        StationaryProblem1D(X ** 2 / 2, X, diffusion=D, domain=(-1, 1))
    assert isinstance(ei.value, NonFiniteError)  # old callers catching NonFiniteError still work


def test_stationary_diffusion_vanishing_on_the_domain_is_singular():
    from numerics.stationary import StationaryProblem1D
    from theory.effective_potential import SingularDiffusionError

    with pytest.raises(SingularDiffusionError, match="D\\(0\\) = 0"):
        StationaryProblem1D(X ** 2 / 2, X, diffusion=X ** 2, domain=(-1, 1))


# --------------------------------------------------------------------------------------------------
# degenerate minima (point 9)
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("domain", [(-1, 1), (-1, 1.1)])
def test_stationary_degenerate_minimum_is_not_called_a_merge(domain):
    from numerics.stationary import BasinMergeError, DegenerateMinimumError, StationaryProblem1D

    prob = StationaryProblem1D(X ** 4, X, domain=domain)
    with pytest.raises(DegenerateMinimumError, match="degenerate") as ei:
        prob.state(0.1)
    assert not isinstance(ei.value, BasinMergeError)
    assert "Laplace" in str(ei.value)


# --------------------------------------------------------------------------------------------------
# (d) temperatures in numerics.stationary
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("T", ["0.1", True, TS, b"1"])
def test_stationary_temperature_not_a_number_is_a_type_error(T):
    from numerics.stationary import StationaryProblem1D, TemperatureError

    prob = StationaryProblem1D(X ** 2 / 2, X, domain=(-3, 3))
    with pytest.raises(TypeError, match="positive number") as ei:
        prob.state(T)
    assert isinstance(ei.value, TemperatureError)


@pytest.mark.parametrize("T", [0, -1.0, float("nan"), float("inf"), sp.nan])
def test_stationary_temperature_out_of_range(T):
    from numerics.stationary import StationaryProblem1D, TemperatureError

    prob = StationaryProblem1D(X ** 2 / 2, X, domain=(-3, 3))
    with pytest.raises(TemperatureError, match="finite and > 0"):
        prob.state(T)


def test_stationary_2d_singular_semidefinite_diffusion_names_the_remedy():
    from numerics.stationary_2d import StationaryProblem2D
    from theory.effective_potential import SingularDiffusionError

    for D in (0, sp.Matrix([[1, 1], [1, 1]]), sp.Matrix([[1, 2], [2, 4]])):
        with pytest.raises(SingularDiffusionError, match="SC.eq13"):
            StationaryProblem2D(X ** 2 + Y ** 2, [X, Y], diffusion=D, domain=((-1, 1), (-1, 1)), nodes=21)


def test_stationary_2d_huge_grid_states_limit_and_memory():
    from numerics.stationary import GridSizeError
    from numerics.stationary_2d import StationaryProblem2D

    with pytest.raises(GridSizeError, match="limit .*TiB|TiB.*limit"):
        StationaryProblem2D(X ** 2 + Y ** 2, [X, Y], domain=((-1, 1), (-1, 1)), nodes=10 ** 5)


def test_stationary_2d_unresolved_basin_says_how_many_nodes():
    from numerics.stationary import GridResolutionError
    from numerics.stationary_2d import StationaryProblem2D

    prob = StationaryProblem2D((X ** 2 - 1) ** 2 + Y ** 2, [X, Y], domain=((-2, 2), (-2, 2)), nodes=41)
    with pytest.raises(GridResolutionError, match=r"nodes ≥ \[\d+, \d+\]"):
        prob.state(1e-3)
    prob.state(0.2)  # resolved


# --------------------------------------------------------------------------------------------------
# (g, h) compile_expr: undefined functions, zoo, nan — refused at compile time
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("expr, name", [(sp.Function("f")(X), "f(x)"),
                                        (sp.Derivative(sp.Function("g")(X), X) + X, "g(x)")])
def test_compile_undefined_function_is_named(expr, name):
    from numerics.compile import CompileError, compile_expr

    with pytest.raises(CompileError, match="undefined function") as ei:
        compile_expr(expr, X)
    assert name in str(ei.value)


def test_compile_free_symbol_not_in_args_is_named():
    from numerics.compile import CompileError, compile_expr

    with pytest.raises(CompileError, match=r"\['k'\]"):
        compile_expr(sp.Symbol("k") * X, X)


@pytest.mark.parametrize("expr", [sp.zoo * X, X / sp.Integer(0), sp.Integer(1) / (X - X)])
def test_compile_zoo_is_a_compile_error_not_keyerror(expr):
    from numerics.compile import CompileError, compile_expr

    with pytest.raises(CompileError, match="zoo.*SC.eq13"):
        compile_expr(expr, X)


def test_compile_nan_is_refused():
    from numerics.compile import CompileError, compile_expr

    with pytest.raises(CompileError, match="nan"):
        compile_expr(X + sp.nan, X)


def test_effective_potential_integrand_zero_diffusion():
    from numerics.stationary import effective_potential_1d
    from theory.effective_potential import SingularDiffusionError

    with pytest.raises(SingularDiffusionError, match="SC.eq13"):
        effective_potential_1d(X ** 2, 0, X, 0.1, np.linspace(-1, 1, 11))


# --------------------------------------------------------------------------------------------------
# (b, j, point 9) FokkerPlanckSolver: non-finite coefficients, semidefinite D, huge grids
# --------------------------------------------------------------------------------------------------
def _fp_grid(dim=1, cells=50):
    from numerics.fokker_planck import Grid

    return Grid.box([(-2, 2)] * dim, cells=cells)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_fokker_planck_non_finite_drift_names_the_first_point(bad):
    from numerics.fokker_planck import FokkerPlanckError, FokkerPlanckSolver, NonFiniteCoefficientError

    with pytest.raises(NonFiniteCoefficientError, match=r"grad_U .* not finite .* θ = \(1\.08,\)") as ei:
        FokkerPlanckSolver(_fp_grid(), T=0.5, grad_U=lambda x: np.where(x > 1, bad, x)[None], D=[[1.0]])
    assert isinstance(ei.value, FokkerPlanckError) and isinstance(ei.value, ValueError)


def test_fokker_planck_non_finite_diffusion_and_divergence():
    from numerics.fokker_planck import FokkerPlanckSolver, NonFiniteCoefficientError

    with pytest.raises(NonFiniteCoefficientError, match=r"^D .*θ = \(1\.08,\)"):
        FokkerPlanckSolver(_fp_grid(), T=0.5, grad_U=lambda x: x[None],
                           D=lambda x: np.where(x > 1, np.nan, 1.0 + 0 * x)[None, None])
    with pytest.raises(NonFiniteCoefficientError, match="div_D"):
        FokkerPlanckSolver(_fp_grid(), T=0.5, grad_U=lambda x: x[None], D=lambda x: (1 + 0 * x)[None, None],
                           div_D=lambda x: np.where(x < -1.5, np.nan, 0 * x)[None])


def test_fokker_planck_theory_drift_nan_at_a_point():
    from numerics.fokker_planck import FokkerPlanckSolver, NonFiniteCoefficientError

    # ∂U = x − x/sqrt(1 − x²): NaN for |x| > 1, i.e. on part of the box [−2, 2]
    with np.errstate(all="ignore"), pytest.raises(NonFiniteCoefficientError, match=r"not finite .*θ = \(-1\.96,\)"):
        FokkerPlanckSolver.from_theory(X ** 2 / 2 + sp.sqrt(1 - X ** 2), 1, [X], 0.5, grid=_fp_grid())


@pytest.mark.parametrize("D", [[[1.0, 1.0], [1.0, 1.0]], [[1.0, 2.0], [2.0, 4.0]], [[1.0, 0.0], [0.0, 1e-20]],
                               [[0.0, 0.0], [0.0, 0.0]]])
def test_fokker_planck_singular_semidefinite_diffusion_is_refused(D):
    from numerics.fokker_planck import DiffusionNotPositiveDefiniteError, FokkerPlanckSolver
    from theory.effective_potential import SingularDiffusionError

    with pytest.raises(DiffusionNotPositiveDefiniteError, match="singular .*SC.eq13") as ei:
        FokkerPlanckSolver(_fp_grid(2, 12), T=0.5, grad_U=lambda x, y: [x, y], D=D)
    assert isinstance(ei.value, SingularDiffusionError)


def test_fokker_planck_diffusion_vanishing_at_a_face_is_refused():
    from numerics.fokker_planck import DiffusionNotPositiveDefiniteError, FokkerPlanckSolver

    with pytest.raises(DiffusionNotPositiveDefiniteError, match="singular"):
        FokkerPlanckSolver.from_theory(X ** 2 / 2, X ** 2, [X], 0.5, grid=_fp_grid())


def test_fokker_planck_indefinite_diffusion_is_refused():
    from numerics.fokker_planck import DiffusionNotPositiveDefiniteError, FokkerPlanckSolver

    with pytest.raises(DiffusionNotPositiveDefiniteError, match="indefinite"):
        FokkerPlanckSolver(_fp_grid(2, 12), T=0.5, grad_U=lambda x, y: [x, y], D=[[1.0, 0.0], [0.0, -1.0]])


def test_fokker_planck_huge_grid_states_limit_and_memory():
    from numerics.fokker_planck import FokkerPlanckError, Grid, GridTooLargeError

    with pytest.raises(GridTooLargeError, match="limit .* GiB") as ei:
        Grid.box([(-2, 2)], cells=10 ** 9)
    assert isinstance(ei.value, FokkerPlanckError)


@pytest.mark.parametrize("T", ["0.5", True, TS])
def test_fokker_planck_temperature_not_a_number(T):
    from numerics.fokker_planck import FokkerPlanckError, FokkerPlanckSolver

    with pytest.raises(TypeError, match="positive number") as ei:
        FokkerPlanckSolver(_fp_grid(), T=T, grad_U=lambda x: x[None], D=[[1.0]])
    assert isinstance(ei.value, FokkerPlanckError)


# --------------------------------------------------------------------------------------------------
# (c) simulate_escape: a blow-up is divergence, never an escape
# --------------------------------------------------------------------------------------------------
def _st_gradient():
    from numerics.landscapes import styblinski_tang_per_sample
    from numerics.sgd_escape import separable_gradient

    xs, th = sp.symbols("x theta", real=True)
    return separable_gradient(styblinski_tang_per_sample(xs, th, k=1.0), xs, th)


@pytest.mark.parametrize("lr", [1e6, 10.0])
def test_sgd_huge_learning_rate_is_divergence_not_escape(lr):
    from numerics.sgd_escape import SGDDivergedError, simulate_escape

    with pytest.raises(SGDDivergedError, match=r"learning rate η = .*diffusion approximation .*lower η") as ei:
        simulate_escape(_st_gradient(), [-2.903534], lr=lr, batch_size=1, n_runs=100, max_steps=2000,
                        upper=0.156731, seed=0)
    err = ei.value
    assert err.lr == pytest.approx(lr) and err.batch_size == 1 and err.iteration >= 1
    assert err.step_ratio > 100


def test_sgd_small_learning_rate_still_escapes():
    from numerics.sgd_escape import simulate_escape

    res = simulate_escape(_st_gradient(), [-2.903534], lr=0.03, batch_size=1, n_runs=50, max_steps=20000,
                          upper=0.156731, seed=0)
    assert res.escaped.all()


def test_sgd_valley_size_and_step_ratio_option():
    from numerics.sgd_escape import SGDDivergedError, simulate_escape, valley_size

    assert valley_size([-3.0], [0.0], [-np.inf]) == pytest.approx(3.0)
    assert valley_size([0.0, 0.0], [1.0, 5.0], [-1.0, -np.inf]) == pytest.approx(2.0)
    assert valley_size([0.0], [np.inf], [-np.inf]) == math.inf
    # a deterministic gradient g = 1: each step moves η; η = 5 in a box of size 2 is 2.5 boxes
    grad = lambda xs, th: np.ones_like(xs + th)  # noqa: E731
    with pytest.raises(SGDDivergedError):
        simulate_escape(grad, [0.0], lr=5.0, batch_size=1, n_runs=3, max_steps=5, upper=1, lower=-1,
                        max_step_ratio=2.0)
    res = simulate_escape(grad, [0.0], lr=5.0, batch_size=1, n_runs=3, max_steps=5, upper=1, lower=-1,
                          max_step_ratio=3.0)
    assert res.escaped.all() and (res.steps == 1).all()
    with pytest.raises(ValueError, match="max_step_ratio"):
        simulate_escape(grad, [0.0], lr=1.0, batch_size=1, n_runs=1, max_steps=1, max_step_ratio=-1)


# --------------------------------------------------------------------------------------------------
# (d) theory entry points: T and D
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("T", [0, -1, -0.5, float("nan"), float("inf"), sp.nan, sp.zoo, sp.I, -TS,
                               sp.Symbol("T", negative=True)])
def test_effective_potential_refuses_non_positive_temperature(T):
    from theory.effective_potential import effective_potential, steady_state_density
    from theory.inputs import TemperatureError

    for f in (effective_potential, steady_state_density):
        with pytest.raises(TemperatureError, match="T") as ei:
            f(X ** 2 / 2, 1, X, T)
        assert isinstance(ei.value, ValueError)


@pytest.mark.parametrize("T", ["0.1", "T", True, b"1"])
def test_effective_potential_temperature_string_is_a_type_error(T):
    from theory.effective_potential import effective_potential, steady_state_density
    from theory.inputs import TemperatureError

    for f in (effective_potential, steady_state_density):
        with pytest.raises(TypeError, match="positive Symbol") as ei:
            f(X ** 2 / 2, 1, X, T)
        assert isinstance(ei.value, TemperatureError)


def test_effective_potential_symbolic_temperature_of_unknown_sign_is_accepted():
    from theory.effective_potential import effective_potential

    assert sp.simplify(effective_potential(X ** 2 / 2, 1, X, sp.Symbol("T")) - X ** 2 / 2) == 0
    assert sp.simplify(effective_potential(X ** 2 / 2, 1, X, 0.1) - X ** 2 / 2) == 0


@pytest.mark.parametrize("D, theta", [(-1, X), (sp.Matrix([[1, 0], [0, -1]]), [X, Y]), (-X ** 2 - 1, X),
                                      (1 - X ** 2, X), (sp.Matrix([[1, 2], [3, 4]]), [X, Y]),
                                      (sp.Matrix([[1, 2], [2, 1]]), [X, Y])])
def test_effective_potential_refuses_indefinite_diffusion(D, theta):
    from theory.effective_potential import effective_potential
    from theory.inputs import DiffusionNotPositiveDefiniteError

    U = X ** 2 / 2 if theta is X else X ** 2 / 2 + Y ** 2 / 2
    with pytest.raises(DiffusionNotPositiveDefiniteError, match="positive definite|symmetric"):
        effective_potential(U, D, theta, TS)


def test_effective_potential_singular_constant_diffusion_names_the_remedy():
    from theory.effective_potential import SingularDiffusionError, effective_potential

    for D, theta in ((0, X), (sp.Matrix([[1, 1], [1, 1]]), [X, Y])):
        with pytest.raises(SingularDiffusionError, match="SC.eq13"):
            effective_potential(X ** 2 / 2 + Y ** 2 / 2, D, theta, TS)


def test_effective_potential_diffusion_positive_by_assumption_is_accepted():
    from theory.effective_potential import effective_potential

    xp = sp.Symbol("xp", positive=True)
    a = sp.Symbol("a", positive=True)
    effective_potential(xp ** 2 / 2, 1 + xp, xp, TS)  # 1 + x > 0 on x > 0
    effective_potential(X ** 2 / 2, a + X ** 2, X, TS)  # a parameter: only assumptions are used


# --------------------------------------------------------------------------------------------------
# point 9: degenerate minima in theory.laplace are NotAMinimumError saying the Hessian is singular
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("v, theta, minimum", [(X ** 4, X, [0]), (X ** 4 + Y ** 2, [X, Y], [[0, 0]])])
def test_laplace_degenerate_minimum_says_singular_hessian(v, theta, minimum):
    from theory.laplace import LaplaceError, NotAMinimumError, gaussian_mixture

    with pytest.raises(NotAMinimumError, match="singular .*degenerate .*Laplace") as ei:
        gaussian_mixture(v, theta, minimum, sp.Rational(1, 10))
    assert isinstance(ei.value, LaplaceError) and isinstance(ei.value, ValueError)
    assert "saddle" not in str(ei.value)


def test_laplace_saddle_keeps_the_saddle_message():
    from theory.laplace import NotAMinimumError, gaussian_mixture

    with pytest.raises(NotAMinimumError, match="maximum or saddle"):
        gaussian_mixture(-X ** 2, X, [0], sp.Rational(1, 10))


@pytest.mark.parametrize("det, words", [(0, "singular"), (sp.Float(0.0), "singular"), (-1, "saddle")])
def test_laplace_log_mass_refuses_a_non_positive_hessian_determinant(det, words):
    from theory.laplace import NotAMinimumError, laplace_log_mass

    with pytest.raises(NotAMinimumError, match=words):
        laplace_log_mass(0, det, sp.Rational(1, 10), 1)
    assert laplace_log_mass(0, sp.Symbol("h", positive=True), TS, 1).has(sp.log)  # symbolic det is fine


def test_leading_order_weights_with_a_flat_minimum():
    from theory.laplace import NotAMinimumError, leading_order_log_weights

    with pytest.raises(NotAMinimumError, match="singular"):
        leading_order_log_weights([0, 1], [0, 0], [1, 1], [1, 0], sp.Rational(1, 10))


# --------------------------------------------------------------------------------------------------
# (e) devices: unknown names are typed errors; CUDA asked for but absent → CPU, and records say so
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["tpu", "gpu", "cuda:x", "CUDA", "", "cuda:-1"])
def test_unknown_device_lists_the_valid_choices(name):
    from numerics.devices import DeviceError, check_device_name, resolve_device

    for f in (resolve_device, check_device_name):
        with pytest.raises(DeviceError, match="valid choices: auto, cpu, cuda, cuda:N") as ei:
            f(name)
        assert isinstance(ei.value, ValueError)


def test_device_of_wrong_type_is_a_type_error():
    from numerics.devices import DeviceError, resolve_device

    with pytest.raises(TypeError, match="valid|string") as ei:
        resolve_device(5)
    assert isinstance(ei.value, DeviceError)


def test_cuda_without_cuda_falls_back_and_the_record_says_so():
    import torch

    from numerics.devices import DeviceFallbackWarning, device_fields, resolve_device

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.warns(DeviceFallbackWarning):
        assert resolve_device("cuda").type == "cpu"
    fields = device_fields("cuda")
    assert fields["device"].startswith("cpu") and "CUDA is not available" in fields["device_note"]
    assert "device_note" not in device_fields("auto") and device_fields("auto")["device"].startswith("cpu")


def test_numpy_backend_records_cpu_and_notes_an_ignored_device():
    from numerics.devices import DeviceError, device_fields

    assert device_fields("cpu", backend="numpy") == {"device": "cpu (numpy)"}
    assert "numpy backend" in device_fields("cuda", backend="numpy")["device_note"]
    with pytest.raises(DeviceError):
        device_fields("tpu", backend="numpy")


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_escape_rates_records_the_device_it_ran_on(backend):
    import torch

    from validation.experiments import escape_rates as er

    cfg = er.EscapeRatesConfig(dim=1, n_runs=2, max_steps=200, inv_k_values=(1.0, 1.1, 1.2),
                               batch_values=(2, 3, 4), inv_lr_values=(50.0, 60.0, 70.0), backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the CUDA fallback warning
        raw = er.measure(cfg, "cuda")
    if torch.cuda.is_available() and backend == "torch":
        assert raw["device"].startswith("cuda")
    else:
        assert raw["device"].startswith("cpu") and "cuda" not in raw["device"]
        assert "device_note" in raw


def test_every_experiment_records_device_fields():
    """All experiments take the recorded device from numerics.devices.device_fields (the truth
    plus a fallback note), never from the requested string."""
    import importlib
    import inspect

    for name in ("escape_rates", "gradient_noise", "memorization", "shift_curvature", "temperature_scan"):
        src = inspect.getsource(importlib.import_module(f"validation.experiments.{name}").measure)
        assert "device_fields(" in src and "str(device)" not in src, name



# --------------------------------------------------------------------------------------------------
# (f, l) command lines: ids validated first, user errors exit 2 with one `error:` line
# --------------------------------------------------------------------------------------------------
def test_claims_unknown_id_is_refused_before_any_check_runs(monkeypatch, capsys):
    from validation import __main__ as cli
    from validation import ledger

    def boom(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError("a check ran before the ids were validated")

    monkeypatch.setattr(ledger, "run_check", boom)
    assert cli.main(["claims", "SC.eq5", "BOGUS", "sc.eq6"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: unknown claim ids 'BOGUS'")
    assert "did you mean SC.eq6" in err


def test_unknown_claim_error_is_key_and_value_error():
    from validation.ledger import LedgerError, UnknownClaimError, check_claim_ids, claim_status

    with pytest.raises(UnknownClaimError) as ei:
        check_claim_ids(["SC.eq5", "SC.eq55"])
    assert isinstance(ei.value, KeyError) and isinstance(ei.value, ValueError)
    assert isinstance(ei.value, LedgerError)
    assert ei.value.unknown == ["SC.eq55"] and "SC.eq5" in ei.value.suggestions["SC.eq55"]
    with pytest.raises(KeyError, match="BOGUS"):
        claim_status("BOGUS")


def _run_cli(*args, cwd=None):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd or root, timeout=300)


def _assert_one_line_error(proc, *words):
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in lines[0]


def test_cli_claims_bogus_exits_2():
    _assert_one_line_error(_run_cli("-m", "validation", "claims", "BOGUS"), "BOGUS")


def test_cli_synthetic_user_errors_exit_2(tmp_path):
    (tmp_path / "cfgdir").mkdir()
    _assert_one_line_error(_run_cli("-m", "validation", "synthetic", "--config", str(tmp_path / "cfgdir"),
                                    "--out", str(tmp_path / "r.json")), "is a directory")
    _assert_one_line_error(_run_cli("-m", "validation", "synthetic", "--config", str(tmp_path / "none.json"),
                                    "--out", str(tmp_path / "r.json")), "does not exist")
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(dict(README_CONFIG, temperatures=[1e-20])))
    _assert_one_line_error(_run_cli("-m", "validation", "synthetic", "--config", str(cfg),
                                    "--out", str(tmp_path / "r.json")), "temperatures[0]", "float64")
    cfg.write_text(json.dumps(dict(README_CONFIG, grid=10 ** 9)))
    _assert_one_line_error(_run_cli("-m", "validation", "synthetic", "--config", str(cfg),
                                    "--out", str(tmp_path / "r.json")), "grid", "limit")


@pytest.mark.parametrize("module", ["escape_rates", "gradient_noise", "memorization", "shift_curvature",
                                    "temperature_scan"])
def test_experiment_cli_unknown_device_exits_2(module, tmp_path):
    _assert_one_line_error(_run_cli("-m", f"validation.experiments.{module}", "--out", str(tmp_path / "r.json"),
                                    "--device", "tpu"), "unknown device 'tpu'", "cuda:N")
    assert not (tmp_path / "r.json").exists()

