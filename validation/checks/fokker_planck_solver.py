"""Ledger checks of the finite-volume Fokker–Planck solver (SC.eq5, SC.B1.counter).

The computations live in :mod:`validation.evidence.solvers` (shared with the report section and
the tests); these checks turn them into verdicts. The evidence names are re-exported here for the
callers that import them from this module.
"""
from __future__ import annotations

from validation.evidence.solvers import (
    NONZERO_CURL_CELLS,
    NONZERO_CURL_CURRENT_FLOOR,
    NONZERO_CURL_L1_TOLERANCE,
    ZERO_CURL_CELLS,
    ZERO_CURL_TOLERANCE,
    _fplanck_null_vector,  # noqa: F401 - used by benchmarks/bench_fokker_planck.py
    _numpy_product_alias,  # noqa: F401 - used by benchmarks/bench_fokker_planck.py
    fplanck_comparisons,
    fplanck_steady_state,
    nonzero_curl_case,
    zero_curl_case,
)
from validation.ledger import Verdict, check

__all__ = [
    "zero_curl_case",
    "nonzero_curl_case",
    "fplanck_comparisons",
    "fplanck_steady_state",
    "ZERO_CURL_TOLERANCE",
]


@check("SC.eq5")
def fp_solver_zero_curl_anisotropic_matches_closed_form():
    """Numerical steady state of SC.eq10 = exp(−2v/T) for a rotated SC.B1.ex3 (full, state-dependent D)."""
    res = zero_curl_case(cells=ZERO_CURL_CELLS)
    metrics = {
        "l1_vs_closed_form": res["l1"], "tolerance": ZERO_CURL_TOLERANCE,
        "max_abs_error": res["max_abs"], "relative_current": res["current_relative"],
        "max_abs_D_offdiagonal": res["max_abs_D_offdiagonal"], "grid": f"{res['cells']}x{res['cells']}",
        "T": res["T"], "rotation_rad": res["angle"],
    }
    agrees = res["l1"] < ZERO_CURL_TOLERANCE and res["max_abs_D_offdiagonal"] > 0.1
    return Verdict.measured(
        "Finite-volume steady state of the FP equation with D = R·diag(1+u², 1+2w²)·Rᵀ "
        "(rotated SC.B1.ex3, off-diagonal state-dependent D, zero curl) vs the closed form "
        f"ρ ∝ ((1+u²)(1+2w²))^(−1−2/T): L1 = {res['l1']:.2e} (tolerance {ZERO_CURL_TOLERANCE:g}); "
        f"relative current {res['current_relative']:.1e} (discretisation level, J ≈ 0).",
        metrics=metrics, agrees=agrees)


@check("SC.B1.counter")
def fp_solver_nonzero_curl_has_current_and_matches_lyapunov():
    """Non-zero curl: numerical steady state has J ≠ 0 and equals the Lyapunov Gaussian."""
    res = nonzero_curl_case(cells=NONZERO_CURL_CELLS)
    l1_tol, current_floor = NONZERO_CURL_L1_TOLERANCE, NONZERO_CURL_CURRENT_FLOOR
    metrics = {
        "l1_vs_lyapunov_gaussian": res["l1"], "l1_tolerance": l1_tol,
        "current_l1": res["current_l1"], "current_l1_exact": res["current_l1_exact"],
        "current_error_l1": res["current_error_l1"],
        "relative_current": res["current_relative"], "relative_current_floor": current_floor,
        "log_density_residual_best_J0_fit": res["log_density_residual"],
        "l1_to_best_J0_density": res["best_fit_l1"],
        "commutator_norm_HD_minus_DH": res["commutator_norm"],
        "grid": f"{res['cells']}x{res['cells']}", "T": res["T"],
    }
    agrees = res["l1"] < l1_tol and res["current_relative"] > current_floor
    return Verdict.measured(
        f"U = ½θᵀdiag(1,2)θ, D = [[1,.5],[.5,1]] ([H,D] ≠ 0, curl ≠ 0), T = {res['T']:g}: the finite-volume "
        f"steady state matches the Lyapunov Gaussian (HΣ+ΣHᵀ = TD) to L1 = {res['l1']:.1e} and "
        f"carries a current ∫|J| = {res['current_l1']:.3f} (exact {res['current_l1_exact']:.3f}), "
        f"{res['current_relative']:.2f} of the diffusive flux; the best J = 0 density exp(φ) is "
        f"L1 = {res['best_fit_l1']:.3f} away (log-gradient residual {res['log_density_residual']:.2f}).",
        metrics=metrics, agrees=agrees)
