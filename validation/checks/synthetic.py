"""Ledger checks: the papers' synthetic 1/2/3-basin experiments reproduced with their published
parameters (SC Fig. 4/6, RND Fig. 3, H.2–H.4), the numerical T-derivative of the test loss against
RND.eq26, and the T → 0 convergence of the SC.eq6 Laplace weights on those potentials.

Every verdict is computed by :mod:`validation.reproductions` (exact quadrature of the stationary
density ρ ∝ exp(−2U_train/(T D)), a 17-point sweep T ∈ [1e-3, 0.1]); each claim's qualitative
statement is split into sub-statements with numbers, and ``agrees`` is their conjunction.
"""
from __future__ import annotations

from validation.ledger import Verdict, check
from validation.reproductions import (
    DOMAIN_SAFE_T,
    CLAIM_PANELS,
    CHECK_TEMPERATURES,
    claim_statements,
    derivative_comparison,
    weight_agreement,
)


def _statement_verdict(claim_id: str) -> Verdict:
    results = claim_statements(claim_id, CHECK_TEMPERATURES)
    metrics = {r.key: {"holds": r.holds, **r.metrics} for r in results}
    detail = " || ".join(f"{r.key}: {r.summary()}" for r in results)
    agrees = all(r.holds for r in results)
    failed = [r.key for r in results if not r.holds]
    head = (f"{claim_id} reproduced" if agrees else
            f"{claim_id} NOT reproduced (panels failing: {', '.join(failed)})")
    return Verdict.measured(f"{head} ({', '.join(CLAIM_PANELS[claim_id])}): {detail}",
                            metrics=metrics, agrees=agrees)


@check("SC.fig4")
def sc_fig4_two_basin_tradeoff():
    """SC Fig. 4 left (deeper-but-narrower: test falls, finite T*) and right (deeper-and-wider)."""
    verdict = _statement_verdict("SC.fig4")
    return verdict


@check("RND.fig3")
def rnd_fig3_two_basin_tradeoff():
    """RND Fig. 3 top/bottom (= SC Fig. 4 right/left, same parameter tables)."""
    verdict = _statement_verdict("RND.fig3")
    return verdict


@check("SC.fig6")
def sc_fig6_one_and_three_basins():
    """SC Fig. 6 (= RND Fig. H.2): one basin, both losses rise; three basins, test falls."""
    verdict = _statement_verdict("SC.fig6")
    return verdict


@check("RND.H2")
def rnd_h2_one_and_three_basins():
    """RND Fig. H.2 left/right."""
    verdict = _statement_verdict("RND.H2")
    return verdict


@check("RND.H3")
def rnd_h3_reordered_minima():
    """RND Fig. H.3: depth shifts (+ξx, −ξx) reorder the minima between train and test."""
    verdict = _statement_verdict("RND.H3")
    return verdict


@check("RND.H4")
def rnd_h4_sampled_diffusion():
    """RND Fig. H.4: per-sample losses, D(θ) = Var_x ∂_θU(x, θ) from 10 samples."""
    verdict = _statement_verdict("RND.H4")
    return verdict


@check("RND.eq26", name="leading_order_dT_test_loss_on_published_potentials")
def leading_order_dT_against_exact_quadrature():
    """∂_T E_ρ[U_test] by finite differences of the exact quadrature vs RND.eq26 (compiled from
    theory.temperature) on SC Fig. 4 left/right; eq. 24 with the actual basin values as control.

    agrees: where the covariance term dominates (T ≤ T*/2; without a T*, T ≤ 0.02, where ρ still
    vanishes at the range ends) RND.eq26 is within 25 % of the exact derivative and has its sign."""
    metrics, ok = {}, True
    for key in ("SC.fig4.left", "SC.fig4.right"):
        dc = derivative_comparison(key, CHECK_TEMPERATURES)
        T_star = dc.metrics["optimal_T"]
        sel = dc.temperatures <= (T_star / 2 if T_star else DOMAIN_SAFE_T)
        rel_lead = abs(dc.leading[sel] - dc.exact[sel]) / abs(dc.exact[sel])
        rel_full = abs(dc.full_basin_values[sel] - dc.exact[sel]) / abs(dc.exact[sel])
        m = dict(dc.metrics)
        m["max_rel_error_leading_low_T"] = float(rel_lead.max())
        m["max_rel_error_eq24_basin_values_low_T"] = float(rel_full.max())
        m["sign_agrees_low_T"] = bool((dc.leading[sel] * dc.exact[sel] > 0).all())
        ok = ok and m["max_rel_error_leading_low_T"] < 0.25 and m["sign_agrees_low_T"]
        metrics[key] = m
    left, right = metrics["SC.fig4.left"], metrics["SC.fig4.right"]
    detail = (
        "exact ∂_T E_ρ[U_test] (central differences of the quadrature) vs RND.eq26 on the published two-basin "
        f"potentials: left panel max relative error {left['max_rel_error_leading_low_T']:.2f} for T ≤ T*/2 "
        f"(sign {'agrees' if left['sign_agrees_low_T'] else 'differs'}; exact derivative changes sign at "
        f"T≈{left['exact_sign_changes_at_T']}, T* = {left['optimal_T']:.4g}; eq. 26 never changes sign); right "
        f"panel max relative error {right['max_rel_error_leading_low_T']:.2f}. Control: RND.eq24 with the test loss "
        "at the train minima instead of the quadratic U_k + ½C_k s_k² is within "
        f"{left['max_rel_error_eq24_basin_values_low_T']:.3f} / {right['max_rel_error_eq24_basin_values_low_T']:.3f}"
        f" — the gap is the quadratic shift-curvature model (s = {left['narrow_basin_shift_over_sigma']:.2f} σ of "
        "the narrow well), not the temperature expansion."
    )
    if ok:
        return Verdict.measured(detail, metrics=metrics)
    control_ok = all(m["max_rel_error_eq24_basin_values_low_T"] < 0.25 for m in metrics.values())
    if control_ok:
        # The temperature expansion is sound (eq. 24 with the true per-basin test losses agrees); what
        # fails is feeding it the quadratic shift-curvature basin losses far outside their validity.
        return Verdict.holds_if(
            detail,
            condition="the per-basin test loss is well described by the quadratic shift-curvature model "
                      "U_k + ½ s_kᵀC_k s_k (|s_k| small against the basin width); the papers' own Fig. 4 "
                      "potentials violate it",
            counterexample={k: {"max_rel_error_leading_low_T": round(m["max_rel_error_leading_low_T"], 3),
                                "max_rel_error_eq24_basin_values_low_T":
                                    round(m["max_rel_error_eq24_basin_values_low_T"], 4),
                                "shift_over_sigma": m.get("narrow_basin_shift_over_sigma")}
                            for k, m in metrics.items()},
            **metrics)
    return Verdict.measured(detail, metrics=metrics, agrees=False)


@check("SC.eq6", name="laplace_weights_converge_on_published_panels")
def laplace_weights_converge_on_published_panels():
    """Exact basin weights vs an independent adaptive quadrature (≤ 1e-6), and the SC.eq6 Laplace
    log-odds error ∝ T^slope with slope ≈ 1 as T → 0, on SC Fig. 4 left/right and RND Fig. H.2 right."""
    metrics, ok = {}, True
    for key in ("SC.fig4.left", "SC.fig4.right", "RND.H2.right"):
        wa = weight_agreement(key)
        metrics[key] = {"max_abs_exact_vs_adaptive": wa.max_abs_vs_adaptive, "slope": wa.slope,
                        "log_odds_error_at_T": dict(zip([float(t) for t in wa.temperatures],
                                                        [float(e) for e in wa.laplace_log_odds_error]))}
        ok = ok and wa.max_abs_vs_adaptive < 1e-6 and 0.8 < wa.slope < 1.3
    slopes = ", ".join(f"{k}: {v['slope']:.3f}" for k, v in metrics.items())
    worst = max(v["max_abs_exact_vs_adaptive"] for v in metrics.values())
    return Verdict.measured(
        f"exact weights match scipy.quad to {worst:.1e}; Laplace log-odds error ∝ T^slope on T ∈ [1e-3, 1e-2] "
        f"with slope {slopes} (O(T) expected)", metrics=metrics, agrees=ok)
