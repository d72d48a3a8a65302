"""SC.eq5 / RND.eq19 on RND Fig. H.4's own per-sample models, under real SGD: measured by
``validation.experiments.sgd_h4_reach`` and judged on :func:`validation.evidence.experiments.
experiment_evidence` of it (the report section ``validation/sections/sgd_h4_reach.py`` renders the
same evidence). The law itself is measured in ``validation/checks/sgd_stationary.py`` on a model
with noise of order one; here the question is whether SGD at a stable step can reach it at all."""
from __future__ import annotations

from validation.evidence import experiments as _E
from validation.ledger import Finding, Verdict, check


@check("SC.eq5", "RND.eq19", name="h4_models_stationary_law_unreachable_by_sgd")
def h4_models_stationary_law_unreachable_by_sgd():
    """SGD with B = 1 at a fraction of the stability limit 2/max U'' on RND.H4.left/right: the
    predicted Arrhenius exponent 2Δv/T of a barrier crossing (v of SC.eq5 with the sampled D(θ))
    says no chain should cross in the run; agreement = the measured crossings are consistent with
    that (none when every exponent exceeds log(chain-steps)). The gap between the temperature at
    which the SC.eq5 law moves mass between the basins and SGD's stable range is the finding."""
    import math

    ev = _E.experiment_evidence("sgd_h4_reach")
    mods = ev.metrics["models"]
    metrics = {"source": ev.source, "n_chains_per_start": ev.config.n_chains, "n_steps": ev.config.n_steps}
    ok = True
    for name, m in mods.items():
        expected_none = min(m["barrier_exponents"]) > math.log(max(m["chain_steps"], 1))
        crossed = sum(m["crossed"].values())
        ok &= (crossed == 0) if expected_none else True
        metrics[name] = {"lr": round(m["lr"], 4), "lr_max": round(m["lr_max"], 4), "crossed": m["crossed"],
                         "barrier_exponents_2dv_over_T": [round(v, 1) for v in m["barrier_exponents"]],
                         "log_odds_right_over_left": round(m["log_odds_right_over_left"], 1),
                         "T_for_both_basins_10_percent": round(m["T_for_10_percent"], 1),
                         "log10_T_gap_over_lr_max": round(m["log10_T_gap"], 2),
                         "D_min_between_minima": m["D_min_on_path"], "D_at_minima": m["D_at_minima"],
                         "crossings_expected_none": bool(expected_none)}
    gap = ", ".join(f"{n}: 10^{m['log10_T_gap']:.1f}" for n, m in mods.items())
    finding = Finding(
        "beyond-paper-range",
        "RND Fig. H.4's models are out of real SGD's reach: the SC.eq5 law moves mass between the basins only at T "
        f"far above the largest stable T = λ/B ≤ 2/max U'' ({gap} times it); their D(θ) falls to "
        + ", ".join(f"{m['D_min_on_path']:.1g}" for m in mods.values())
        + " between the minima (D at the minima: "
        + "; ".join(", ".join(f"{d:.1g}" for d in m["D_at_minima"]) for m in mods.values())
        + ") and to ~0 beyond the wells (every sample shares the gradient of cθ²), so SGD stays in its start basin",
        evidence={n: metrics[n] for n in mods})
    detail = (f"real SGD on RND.H4.left/right at half the stable step ({ev.source}): "
              + "; ".join(f"{n}: 0 expected and {sum(m['crossed'].values())} measured barrier crossings of "
                          f"{2 * ev.config.n_chains} chains × {ev.config.n_steps} steps (2Δv/T = "
                          f"{min(m['barrier_exponents']):.3g} from the narrow side)" for n, m in mods.items()))
    return Verdict.measured(detail, metrics=metrics, agrees=bool(ok), findings=(finding,))
