"""Report section: the papers' synthetic basin experiments reproduced (issue 4, items 5, 6;
acceptance 1, 2), built from :mod:`validation.reproductions`."""
from __future__ import annotations

from pathlib import Path

TITLE = "Synthetic basin experiments (SC Fig. 4/6, RND Fig. 3, H.2–H.4)"
ORDER = 30

_DERIV_PANELS = ("SC.fig4.left", "SC.fig4.right", "RND.H2.right", "RND.H3.left")


def _fmt(x, digits=4):
    if x is None:
        return "—"
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(_fmt(v, digits) for v in x) + "]"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def build(outdir: Path) -> str:
    from validation.sections import figures_dir
    from validation import reproductions as R

    figdir = figures_dir(outdir)
    lines = [
        "Published parameter tables (end of RND App. H and SC App. G) through the exact stationary density "
        "ρ ∝ exp(−2U_train/(T D)) (SC.eq5, D = 1) on [−3, 3]; basins between the local maxima of the train "
        "loss; masses and E_ρ[U] by Chebyshev-panel quadrature; SC.eq6/SC.eq4 Laplace predictions dashed. "
        "The train loss is the test loss shifted by one draw s ∼ N(0, σ_s²) (RND footnote 6: a single "
        "\"constant-but-random\" shift, reconstructed from the table's seed); the mirrored draw −s is checked "
        "too. Sweep T ∈ [1e-3, 0.1] (log-spaced); above T ≈ 0.02 the two-basin densities no longer vanish at "
        "the range ends (c = 0.001 barely confines), so there the curves depend on the domain.",
        "",
        "| panel | claim (paraphrased) | checked statements | verdict |",
        "|---|---|---|---|",
    ]
    for key, spec in R.PANELS.items():
        st = R.panel_statement(key)
        parts = "<br>".join(f"{'✔' if ok else '✘'} {t}" for t, ok in st.parts)
        lines.append(f"| {key} ({spec.preset}) | {spec.claim} | {parts} | "
                     f"{'reproduced' if st.holds else '**not reproduced**'} |")
    lines.append("")
    for key in R.PANELS:
        R.panel_figure(key, figdir / f"synthetic_{key.replace('.', '_')}.png")
        lines += [f"**{key}**", "", f"![{key}](figures/synthetic_{key.replace('.', '_')}.png)", ""]
    h2r, h3r = R.panel_statement("RND.H2.right"), R.panel_statement("RND.H3.right")
    b2 = R.panel_data("RND.H2.right").basins
    widest = min(b2, key=lambda b: b.curvature)
    b3 = R.panel_data("RND.H3.right").basins
    deeper_tr = min(b3, key=lambda b: b.depth)
    lap_err = {k: R.panel_statement(k).metrics for k in ("SC.fig4.left", "RND.H2.right")}
    lines += [
        "**Caption slips and the quadratic model.** RND Fig. H.2's caption names the widest minimum \"0\"; "
        f"the computation (and SC Fig. 6's caption) give θ ≈ {widest.minimum:.2f} (train curvature "
        f"{widest.curvature:.3g}), which holds the most mass for T ≥ T* "
        f"(fraction {h2r.metrics['widest_over_other_fraction']:.2f} of the sweep). RND Fig. H.3 right's caption says the "
        f"train loss makes −1 deeper; with the reconstructed draw (seed 13, x = {float(R.panel_data('RND.H3.right').model.shift):+.4f}) "
        f"the train loss makes θ ≈ {deeper_tr.minimum:.2f} deeper ({deeper_tr.depth:.4f}), which is what the caption's "
        "own consequence (weight moving from 1 to −1 as T rises) requires; it also calls the minimum at 1 narrower, "
        "but σ = 0.5 there. "
        "The SC.eq4 Laplace test loss (dashed) is far from the exact one at low T whenever the shift is large "
        "compared with a well's width: error "
        f"{lap_err['SC.fig4.left']['laplace_test_loss_error_at_T_low']:+.3f} on SC.fig4.left "
        f"(s = {lap_err['SC.fig4.left']['shift_over_narrowest_sigma']:.2f} σ) and "
        f"{lap_err['RND.H2.right']['laplace_test_loss_error_at_T_low']:+.3f} on RND.H2.right "
        f"(s = {lap_err['RND.H2.right']['shift_over_narrowest_sigma']:.2f} σ): ½C s² grows without bound while "
        "a Gaussian well saturates. The qualitative claims survive because they depend on the ordering of the "
        "basins' test values, which the exact computation keeps.",
        "",
    ]
    h4 = R.panel_statement("RND.H4.left").metrics
    h4r = R.panel_statement("RND.H4.right").metrics
    lines += [
        "**RND Fig. H.4.** The sampled diffusion is tiny (median D ≈ "
        f"{h4['median_D']:.1e}), so ṽ = ∫U′/D is ~1e4 × U and the weights move only for T·D of the order of "
        f"the well depths: these panels are swept over T ∈ [{h4['T_range'][0]:g}, {h4['T_range'][1]:g}]. "
        "*H.4 left is ill-posed as computed from the samples*: with per-sample weights w_i + x, every "
        "per-sample gradient differs from the mean by (x_j − x̄)·Σ_i N′(θ; μ_i, σ_i), so "
        "D(θ) = Var(x)·(Σ_i N′)² vanishes (to rounding) where Σ_i N′ = 0 — points that are not critical "
        f"points of the train loss: (θ, U′(θ)) = {_fmt(h4['D_near_zeros_theta_Uprime'])}. There ∫U′/D "
        f"diverges: the minimum of ṽ in the right basin changes by a relative "
        f"{h4['v0_depth_rel_change_between_grids']:.1f} between grids of {h4['n_grid_fine_coarse'][1]} and "
        f"{h4['n_grid_fine_coarse'][0]} points, the mass collapses onto the zero of D near θ = 1, the basin "
        f"weights depend on the grid (Δw = {h4['grid_change_weights']:.2f}), and both losses only rise "
        "with T — the published improvement up to a threshold T is not reproduced. "
        f"*H.4 right* (sampled locations) has no such zero in the basins and converges (Δw = "
        f"{h4r['grid_change_weights']:.0e}): weight moves from 1 to −1 (w(−1) "
        f"{h4r['weight_left_start_end'][0]:.2f} → {h4r['weight_left_start_end'][1]:.2f}, half at "
        f"T ≈ {h4r['weight_left_half_T']:.3g}) and both losses rise from their low-T values, as published. "
        "Caveat: at these T the density ρ ∝ exp(−2∫U′/D /T)/D is shaped by the 1/D factor, which piles mass "
        f"where the sampled D is smallest (mode at θ ≈ {h4r['density_mode_at_T_mid']:.2f} for T = "
        f"{R.SAMPLED_TEMPERATURES[len(R.SAMPLED_TEMPERATURES) // 2]:.3g}, {h4r['density_mode_at_T_max']:.2f} at the top "
        "of the sweep) — the flanks and tails, where all samples share the c θ² term — rather than at the minimum.",
        "",
        "### Temperature derivative of the test loss (RND.eq24–26)",
        "",
        "Exact ∂_T E_ρ[U_test] (central differences of the quadrature in log T) against, compiled from "
        "`theory.temperature`: RND.eq26 (leading order), RND.eq24 applied to the SC.eq4 basin terms "
        "U_k + ½C_kΣ_k + ½C_k s_k² (quadratic), and RND.eq24 applied to the test loss at the train minimum "
        "U_test(θ_k^tr) + ½C_kΣ_k (no quadratic shift approximation). Plotted: T·∂_T L.",
        "",
    ]
    R.derivative_figure(_DERIV_PANELS, figdir / "synthetic_dT_test_loss.png")
    lines += ["![T-derivatives](figures/synthetic_dT_test_loss.png)", "",
              "| panel | s/σ (narrowest) | rel. err. eq26 at T=1e-3 | eq24 quadratic | eq24 basin values | "
              "sign of eq26 agrees up to T | exact sign change at T | eq24 (basin values) sign change | T* |",
              "|---|---|---|---|---|---|---|---|---|"]
    for key in _DERIV_PANELS:
        m = R.derivative_comparison(key).metrics
        lines.append(
            f"| {key} | {m['narrow_basin_shift_over_sigma']:.2f} | {m['rel_error_leading_at_T_low']:.3f} | "
            f"{m['rel_error_full_quadratic_at_T_low']:.3f} | {m['rel_error_full_basin_values_at_T_low']:.4f} | "
            f"{_fmt(m['sign_agrees_leading_up_to_T'])} | {_fmt(m['exact_sign_changes_at_T'])} | "
            f"{_fmt(m['full_basin_values_sign_changes_at_T'])} | {_fmt(m['optimal_T'])} |")
    lines += [
        "",
        "Reading: the temperature dependence through the weights (RND.eq24) is right — with the actual "
        "per-basin test values it matches the exact derivative to < 1 % at low T and, on the two-basin panels, "
        "changes sign within a factor 1.5 of the exact sign change (for three basins T* ≈ 0.08 lies where the "
        "exact weights already feel the domain ends, and the Laplace forms miss it). The leading-order RND.eq26 is off by a factor ≈ 2 where it dominates on the two-basin "
        "panels because the shift (s = 0.18) is 1.8 σ of the narrow well, where the quadratic "
        "½C s² overstates the test penalty; and, being a T-independent bracket times w₁(1−w₁)/T², it never "
        "changes sign, so it cannot locate the optimal temperature (the O(1/T) curvature term ½⟨∂_T Tr CΣ⟩ "
        "does). For one basin eq. 26 is identically 0 while the exact derivative is ≈ ¼C/C̃ = 0.157.",
        "",
        "### Acceptance 2: exact weights vs an independent quadrature; Laplace → exact as T → 0",
        "",
        "| panel | max abs(exact − scipy.quad) | Laplace log-odds error at T = 1e-3 … 1e-2 | slope |",
        "|---|---|---|---|",
    ]
    for key in ("SC.fig4.left", "SC.fig4.right", "RND.H2.right"):
        wa = R.weight_agreement(key)
        lines.append(f"| {key} | {wa.max_abs_vs_adaptive:.1e} | {_fmt([float(e) for e in wa.laplace_log_odds_error], 3)} "
                     f"| {wa.slope:.3f} |")
    lines += ["", "The Laplace (SC.eq6) error is O(T) (slope ≈ 1), as expected from the next term of the "
              "Laplace expansion."]
    return "\n".join(lines)
