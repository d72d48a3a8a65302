"""Report section: the finite-volume Fokker–Planck solver against closed forms, the Lyapunov
Gaussian of a non-zero-curl problem, and the ``fplanck`` package — the evidence of the ledger checks
``validation.checks.fokker_planck_solver`` (:mod:`validation.evidence.solvers`, same grids)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

TITLE = "Finite-volume Fokker–Planck solver"
ORDER = 40
#: the claims whose summary row shows this section's figure
CLAIMS = ("SC.eq5", "SC.B1.counter")


def _figure(res_curl: dict, res_zero: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    # left: non-equilibrium steady state with the streamlines of the probability flux −J
    ax = axes[0]
    solver, rho = res_curl["solver"], res_curl["rho"]
    g = solver.grid
    X, Y = g.mesh()
    J = solver.probability_current(rho)
    cs = ax.contourf(X, Y, rho, levels=20, cmap="viridis")
    fig.colorbar(cs, ax=ax, label="ρ (finite volume)")
    speed = np.hypot(J[0], J[1])
    ax.streamplot(g.axes[0], g.axes[1], -J[0].T, -J[1].T, color="w",
                  linewidth=0.4 + 2.0 * (speed / speed.max()).T, density=1.0)
    ax.set_title(f"non-zero curl: H = diag(1,2), D = [[1,.5],[.5,1]], T = {res_curl['T']:g}\n"
                 f"flux −J (streamlines); ∫|J| = {res_curl['current_l1']:.3f}, "
                 f"L1 to Lyapunov Gaussian {res_curl['l1']:.1e}", fontsize=9)
    # right: zero-curl case, error against the closed form exp(−2v/T)
    ax = axes[1]
    g = res_zero["solver"].grid
    X, Y = g.mesh()
    err = res_zero["rho"] - res_zero["exact"]
    lim = float(np.max(np.abs(err)))
    cs = ax.contourf(X, Y, err, levels=np.linspace(-lim, lim, 21), cmap="RdBu_r")
    fig.colorbar(cs, ax=ax, label="ρ − exp(−2v/T)/Z")
    ax.contour(X, Y, res_zero["exact"], levels=6, colors="k", linewidths=0.5)
    ax.set_title(f"zero curl: rotated SC.B1.ex3 (full state-dependent D), T = {res_zero['T']:g}\n"
                 f"error map, L1 = {res_zero['l1']:.1e} (black: closed-form contours)", fontsize=9)
    for ax in axes:
        ax.set_xlabel("θ₁")
        ax.set_ylabel("θ₂")
        ax.set_aspect("equal")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def build(outdir: Path) -> str:
    from importlib.metadata import PackageNotFoundError, version

    from validation.evidence.solvers import (
        NONZERO_CURL_CELLS,
        NONZERO_CURL_CURRENT_FLOOR,
        NONZERO_CURL_L1_TOLERANCE,
        ZERO_CURL_CELLS,
        ZERO_CURL_TOLERANCE,
        fplanck_comparisons,
        nonzero_curl_case,
        zero_curl_case,
    )
    from validation.sections import figures_dir

    figdir = figures_dir(outdir)
    n_fine, n_curl = ZERO_CURL_CELLS, NONZERO_CURL_CELLS  # the ledger checks' grids
    zero = zero_curl_case(cells=n_fine)
    zero_coarse = zero_curl_case(cells=n_fine // 2)
    order = float(np.log2(zero_coarse["l1"] / zero["l1"]) / np.log2(n_fine / (n_fine // 2)))
    curl = nonzero_curl_case(cells=n_curl)
    comps = fplanck_comparisons(cells_1d=200, cells_2d=60)
    try:
        fplanck_version = version("fplanck")
    except PackageNotFoundError:  # pragma: no cover - fplanck is a dev dependency
        fplanck_version = "?"
    _figure(curl, zero, figdir / "fp_solver_current.png")

    lines = [
        "The solver (`numerics/fokker_planck.py`) discretises SC.eq10, `∂_t ρ = ∂·J`, "
        "`J = ∂U ρ + (T/2) ∂·(Dρ)`, on a cell-centred grid with zero-flux (or periodic) walls: "
        "Scharfetter–Gummel fluxes for the diagonal part (Péclet integral by Simpson's rule), central "
        "differences for the off-diagonal terms of D, a sparse generator with zero column sums, a "
        "sparse direct solve for the steady state, and the current J on every face.",
        "",
        "![steady states and currents](figures/fp_solver_current.png \"Left: the non-equilibrium steady "
        "state of a quadratic loss whose Hessian does not commute with D; look at the streamlines of the "
        "probability flux, which circulate (J ≠ 0). Right: the error of the steady state against the closed "
        "form for a zero-curl case with full, state-dependent D; look at its size on the colour bar against "
        "the density's contours (black).\")",
        "",
        "| comparison | grid | metric | value | tolerance / reference |",
        "|---|---|---|---|---|",
        f"| (a) zero curl, rotated SC.B1.ex3 (max \\|D₁₂\\| = {zero['max_abs_D_offdiagonal']:.1f}), closed "
        f"form SC.eq5 | {zero['cells']}² | L1(ρ − exp(−2v/T)) | {zero['l1']:.2e} | < {ZERO_CURL_TOLERANCE:g} |",
        f"| (a) same | {n_fine // 2}² → {n_fine}² | convergence order of L1 | {order:.2f} | 2 (cross terms) |",
        f"| (a) same | {zero['cells']}² | ∫\\|J\\| / ∫\\|diffusive flux\\| | {zero['current_relative']:.1e} | → 0 |",
        f"| (b) non-zero curl, U = ½θᵀdiag(1,2)θ, D = [[1,.5],[.5,1]], T = {curl['T']:g} | {curl['cells']}² | "
        f"L1(ρ − N(0, Σ_Lyapunov)) | {curl['l1']:.2e} | < {NONZERO_CURL_L1_TOLERANCE:g} |",
        f"| (b) same | {curl['cells']}² | ∫\\|J\\| (exact Gaussian value) | {curl['current_l1']:.4f} "
        f"({curl['current_l1_exact']:.4f}) | ≠ 0 |",
        f"| (b) same | {curl['cells']}² | ∫\\|J\\| / ∫\\|diffusive flux\\| | {curl['current_relative']:.3f} | > {NONZERO_CURL_CURRENT_FLOOR:g} |",
        f"| (b) same | {curl['cells']}² | L1 to the best J = 0 density exp(φ) (log-gradient "
        f"residual) | {curl['best_fit_l1']:.3f} ({curl['log_density_residual']:.3f}) | > 0: no exp(−2v/T) fits |",
    ]
    for c in comps:
        cells = "×".join(str(n) for n in c["cells"])
        ref = ""
        if "ours_vs_exact_l1" in c:
            ref = (f"L1 to closed form: ours {c['ours_vs_exact_l1']:.1e}, "
                   f"fplanck {c['fplanck_vs_exact_l1']:.1e}")
        elif "current_relative_ours" in c:
            ref = f"relative current {c['current_relative_ours']:.2f} (non-equilibrium)"
        lines.append(f"| (c) vs fplanck {fplanck_version}: {c['name']} | {cells} | L1 / max difference | "
                     f"{c['l1']:.2e} / {c['max_abs']:.2e} | {ref} |")
    lines += [
        "",
        "fplanck is run with `k_B·temperature = 1`, `drag_i = 2/(T D_ii)` and force "
        "`−drag_i ∂_iU` (state-dependent diagonal D), or with the potential, drag 1 and "
        "`k_B·temperature_i = T D_ii/2` (constant D); its `np.product` call is aliased to "
        "`np.prod` for NumPy 2. Where a closed form exists the remaining difference is fplanck's own "
        "discretisation error (it evaluates D at cell centres; it shrinks at second order under "
        "refinement), while the Simpson–Scharfetter–Gummel steady state is fourth-order accurate for "
        "diagonal zero-curl problems.",
    ]
    return "\n".join(lines)
