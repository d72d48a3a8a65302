"""Report section: the papers' synthetic basin experiments reproduced (SC Fig. 4/6, RND Fig. 3,
H.2–H.4; RND.eq24–26; SC.eq6), built from :mod:`validation.reproductions` — the computations the
ledger's checks in ``validation/checks/synthetic.py`` judge. Every number in the prose is computed."""
from __future__ import annotations

from pathlib import Path

from validation import reproductions as R

TITLE = "Synthetic basin experiments (SC Fig. 4/6, RND Fig. 3, H.2–H.4)"
ORDER = 30

_DERIV_PANELS = ("SC.fig4.left", "SC.fig4.right", "RND.H2.right", "RND.H3.left")
#: the figure the report's summary shows beside each claim (file names under figures/)
FIGURES = {"SC.fig4": "synthetic_SC_fig4_left.png", "RND.fig3": "synthetic_SC_fig4_left.png",
           "SC.fig6": "synthetic_RND_H2_right.png", "RND.H2": "synthetic_RND_H2_right.png",
           "RND.H3": "synthetic_RND_H3_left.png", "RND.H4": "synthetic_RND_H4_left.png",
           "RND.eq26": "synthetic_dT_test_loss.png"}


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

    figdir = figures_dir(outdir)
    ref = R.panel_data("SC.fig4.left")
    lo, hi = ref.problem.domain
    lines = [
        "Published parameter tables (end of RND App. H and SC App. G) through the exact stationary density "
        f"`ρ ∝ exp(−2U_train/(T D))` (SC.eq5, D = 1) on [{lo:g}, {hi:g}]; basins between the local maxima of the train "
        "loss; masses and E_ρ[U] by Chebyshev-panel quadrature; SC.eq6/SC.eq4 Laplace predictions dashed. "
        "The train loss is the test loss shifted by one draw `s ∼ N(0, σ_s²)` (RND footnote 6: a single "
        "\"constant-but-random\" shift, reconstructed from the table's seed); the mirrored draw −s is checked "
        f"too. Sweep T ∈ [{R.CHECK_TEMPERATURES[0]:g}, {R.CHECK_TEMPERATURES[-1]:g}] (log-spaced); above "
        f"T ≈ {R.DOMAIN_SAFE_T:g} the two-basin densities no longer vanish at "
        f"the range ends (c = {float(ref.model.c):g} barely confines), so there the curves depend on the domain.",
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
    for key, spec in R.PANELS.items():
        R.panel_figure(key, figdir / f"synthetic_{key.replace('.', '_')}.png")
        if spec.kind.startswith("sampled"):
            what = ("the sample-mean train and test losses (D(θ) in grey, log scale), the stationary density at "
                    "three T, the basin probabilities and E_ρ[loss] over T (dotted: the coarse grid, which shows "
                    "whether the result depends on the grid)")
        else:
            what = ("the objective (train solid, test dashed), the stationary density at three T, the basin "
                    "probabilities (exact solid, Laplace SC.eq6 dashed) and E_ρ[loss] over T (exact, and the "
                    "SC.eq4 Laplace test loss dashed)")
        lines += [f"**{key}**", "", f"![{key}](figures/synthetic_{key.replace('.', '_')}.png "
                  f"\"{key}: {what}. Look at whether the losses rise or fall with T as the claim says: "
                  f"{_caption_claim(spec.claim)}\")", ""]
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
        f"train loss makes −1 deeper; with the reconstructed draw (x = {float(R.panel_data('RND.H3.right').model.shift):+.4f}) "
        f"the train loss makes θ ≈ {deeper_tr.minimum:.2f} deeper ({deeper_tr.depth:.4f}), which is what the caption's "
        "own consequence (weight moving from 1 to −1 as T rises) requires; it also calls the minimum at 1 narrower, "
        f"but σ = {_sigma_at(R.panel_data('RND.H3.right').model, 1.0):g} there. "
        "The SC.eq4 Laplace test loss (dashed) is far from the exact one at low T whenever the shift is large "
        "compared with a well's width: error "
        f"{lap_err['SC.fig4.left']['laplace_test_loss_error_at_T_low']:+.3f} on SC.fig4.left "
        f"(s = {lap_err['SC.fig4.left']['shift_over_narrowest_sigma']:.2f} σ) and "
        f"{lap_err['RND.H2.right']['laplace_test_loss_error_at_T_low']:+.3f} on RND.H2.right "
        f"(s = {lap_err['RND.H2.right']['shift_over_narrowest_sigma']:.2f} σ): `½C s²` grows without bound while "
        "a Gaussian well saturates. The qualitative claims survive because they depend on the ordering of the "
        "basins' test values, which the exact computation keeps.",
        "",
    ]
    h4 = R.panel_statement("RND.H4.left").metrics
    h4r = R.panel_statement("RND.H4.right").metrics
    lines += [
        "**RND Fig. H.4.** The sampled diffusion is tiny (median D ≈ "
        f"{h4['median_D']:.1e}), so `ṽ = ∫U′/D` is ~{1 / h4['median_D']:.0e} × U and the weights move only for T·D of the order of "
        f"the well depths: these panels are swept over T ∈ [{h4['T_range'][0]:g}, {h4['T_range'][1]:g}]. "
        "*H.4 left is ill-posed as computed from the samples*: with per-sample weights `w_i + x`, every "
        "per-sample gradient differs from the mean by `(x_j − x̄)·Σ_i N′(θ; μ_i, σ_i)`, so "
        "`D(θ) = Var(x)·(Σ_i N′)²` vanishes (to rounding) where `Σ_i N′ = 0` — points that are not critical "
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
        "Caveat: at these T the density `ρ ∝ exp(−2∫U′/D /T)/D` is shaped by the 1/D factor, which piles mass "
        f"where the sampled D is smallest (mode at θ ≈ {h4r['density_mode_at_T_mid']:.2f} for T = "
        f"{R.SAMPLED_TEMPERATURES[len(R.SAMPLED_TEMPERATURES) // 2]:.3g}, {h4r['density_mode_at_T_max']:.2f} at the top "
        "of the sweep) — the flanks and tails, where all samples share the `c θ²` term — rather than at the minimum.",
        "",
        "### Temperature derivative of the test loss (RND.eq24–26)",
        "",
        "Exact `∂_T E_ρ[U_test]` (central differences of the quadrature in log T) against, compiled from "
        "`theory.temperature`: RND.eq26 (leading order), RND.eq24 applied to the SC.eq4 basin terms "
        "`U_k + ½C_kΣ_k + ½C_k s_k²` (quadratic), and RND.eq24 applied to the test loss at the train minimum "
        "`U_test(θ_k^tr) + ½C_kΣ_k` (no quadratic shift approximation).",
        "",
    ]
    comps = {key: R.derivative_comparison(key) for key in _DERIV_PANELS}
    R.derivative_figure(list(comps), figdir / "synthetic_dT_test_loss.png", comparisons=comps)
    lines += ["![T-derivatives](figures/synthetic_dT_test_loss.png \"T·∂_T E_ρ[U_test] over T on four panels: "
              "exact (blue dots) against RND.eq26 (orange dashed) and RND.eq24 on quadratic (green dotted) or "
              "actual (red dash-dot) basin test values. Look at where each curve crosses zero (the optimal T) "
              "and how far the dashed leading order sits from the dots at low T.\")", "",
              "| panel | s/σ (narrowest) | rel. err. eq26 at T_low | eq24 quadratic | eq24 basin values | "
              "sign of eq26 agrees up to T | exact sign change at T | eq24 (basin values) sign change | T* |",
              "|---|---|---|---|---|---|---|---|---|"]
    for key, dc in comps.items():
        m = dc.metrics
        lines.append(
            f"| {key} | {m['narrow_basin_shift_over_sigma']:.2f} | {m['rel_error_leading_at_T_low']:.3f} | "
            f"{m['rel_error_full_quadratic_at_T_low']:.3f} | {m['rel_error_full_basin_values_at_T_low']:.4f} | "
            f"{_fmt(m['sign_agrees_leading_up_to_T'])} | {_fmt(m['exact_sign_changes_at_T'])} | "
            f"{_fmt(m['full_basin_values_sign_changes_at_T'])} | {_fmt(m['optimal_T'])} |")
    lines += ["", _derivative_reading(comps), ""]
    lines += [
        "### Exact weights vs an independent quadrature; Laplace → exact as T → 0",
        "",
        "| panel | max abs(exact − scipy.quad) | Laplace log-odds error at the temperatures T | T | slope |",
        "|---|---|---|---|---|",
    ]
    slopes = []
    for key in ("SC.fig4.left", "SC.fig4.right", "RND.H2.right"):
        wa = R.weight_agreement(key)
        slopes.append(wa.slope)
        lines.append(f"| {key} | {wa.max_abs_vs_adaptive:.1e} | {_fmt([float(e) for e in wa.laplace_log_odds_error], 3)} "
                     f"| {_fmt([float(t) for t in wa.temperatures], 2)} | {wa.slope:.3f} |")
    lines += ["", f"The Laplace (SC.eq6) log-odds error falls with slope {min(slopes):.2f}–{max(slopes):.2f} in "
              "log T: O(T), the order of the next term of the Laplace expansion."]
    return "\n".join(lines)


def _join(values, digits: int = 3) -> str:
    return " / ".join(f"{v:.{digits}g}" for v in values)


def _sigma_at(model, mean: float) -> float:
    """The width σ of the well of ``model`` centred nearest ``mean``."""
    k = min(range(len(model.means)), key=lambda i: abs(float(model.means[i]) - mean))
    return float(model.sigmas[k])


def _caption_claim(text: str) -> str:
    return text[:1].lower() + text[1:] + "."


def _derivative_reading(comps) -> str:
    """The paragraph under the derivative table, every number taken from ``comps`` (and the one-basin
    panel RND.H2.left)."""
    two = [k for k, dc in comps.items() if len(R.panel_data(k).basins) == 2]
    three = [k for k, dc in comps.items() if len(R.panel_data(k).basins) == 3]
    full_err = max(comps[k].metrics["rel_error_full_basin_values_at_T_low"] for k in two)
    ratios = [comps[k].metrics["full_basin_values_sign_changes_at_T"][0] / comps[k].metrics["exact_sign_changes_at_T"][0]
              for k in two if comps[k].metrics["exact_sign_changes_at_T"]
              and comps[k].metrics["full_basin_values_sign_changes_at_T"]]
    lead = [comps[k].metrics["rel_error_leading_at_T_low"] for k in two]
    shifts = sorted({abs(float(R.panel_data(k).model.shift)) for k in two})
    s_over = sorted({comps[k].metrics["narrow_basin_shift_over_sigma"] for k in two})
    T_low = comps[two[0]].metrics["T_low"]
    text = (f"Reading: the temperature dependence through the weights (RND.eq24) is right — with the actual "
            f"per-basin test values it matches the exact derivative to a relative {full_err:.2g} at T = {T_low:g} "
            "on the two-basin panels")
    if ratios:
        text += (f", and changes sign within a factor {max(max(ratios), 1 / min(ratios)):.2f} of the exact sign "
                 "change")
    text += "."
    for k in three:
        m = comps[k].metrics
        if m["optimal_T"] is not None:
            missed = not m["full_basin_values_sign_changes_at_T"]
            text += (f" For three basins ({k}) T* ≈ {m['optimal_T']:.2g}"
                     + (f", above T ≈ {R.DOMAIN_SAFE_T:g} where the exact weights already feel the domain ends"
                        if m["optimal_T"] > R.DOMAIN_SAFE_T else "")
                     + (", and the Laplace forms (no sign change of RND.eq24) miss it." if missed else "."))
    text += (f" The leading-order RND.eq26 is off by a relative {min(lead):.2f}–{max(lead):.2f} at T = {T_low:g} on "
             f"the two-basin panels, because the shift (|s| = {_join(shifts)}) is {_join(s_over)} σ of the "
             "narrow well, where the quadratic `½C s²` overstates the test penalty.")
    if not any(comps[k].metrics["leading_sign_changes_at_T"] for k in two):
        text += (" Being a T-independent bracket times `w₁(1−w₁)/T²`, it never changes sign on these panels, so "
                 "it cannot locate the optimal temperature (the O(1/T) curvature term `½⟨∂_T Tr CΣ⟩` does).")
    try:
        one = R.derivative_comparison("RND.H2.left")
        b = R.panel_data("RND.H2.left").basins[0]
    except Exception:  # noqa: BLE001 - the one-basin comparison is an aside; the table above stands
        return text
    quad = b.test_curvature / (4 * b.curvature)
    text += (f" For one basin (RND.H2.left) eq. 26 is identically 0 while the exact derivative at T = "
             f"{one.metrics['T_low']:g} is {one.metrics['exact_dT_at_T_low']:.3g}; the quadratic covariance term "
             f"`¼ C/C̃` alone would give {quad:.3g} (the test well is Gaussian, not quadratic: its curvature at the "
             f"train minimum, {_join(shifts)} away, is not its curvature at its own minimum).")
    return text
