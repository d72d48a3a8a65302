"""TF.4.3: at equal memorisation of random labels, higher η/S (T = λ/B) generalises better.

The verdict comes from the committed CPU record ``validation/data/memorization_cpu.json`` (metrics
re-derived from its learning curves by :func:`validation.experiments.memorization.compare`);
:data:`~validation.experiments.memorization.SMALL` runs live beside it. Without the record the live
run alone decides.

TF's own runs (§4.3, MNIST MLP) used η ∈ {0.005, …, 0.1} and S ∈ {50, …, 1000}, i.e.
T ≤ 0.1/50 = 2e-3 (:data:`validation.experiments.memorization.PAPER_RANGE`): the verdict is computed from the record's runs inside that
range; the trend over all runs, most of which lie beyond it, is reported as a finding
(``validation/checks/README.md``).
"""
from __future__ import annotations

from validation.evidence.experiments import memorization_evidence
from validation.experiments.memorization import P_VALUE
from validation.ledger import Finding, Verdict, check


def _peak(e):
    by_T = e["val_accuracy_by_T"]
    return max(by_T, key=by_T.get)


def _assess(m):
    """(agrees, usable levels, one-line summary per level) for the metrics of one set of runs."""
    usable = {lv: e for lv, e in m["per_level"].items()
              if e["n_reached"] >= m["min_runs"] and e.get("rho") == e.get("rho")}  # rho not nan
    ok = bool(usable) and all(e["rho"] > 0 and e["p"] < P_VALUE for e in usable.values())
    summary = "; ".join(
        f"train acc {lv}: " + (f"ρ = {e['rho']:.2f} (p = {e['p']:.1e}, " if e.get("rho") == e.get("rho")
                               else "ρ undefined (") +
        f"{e['n_reached']}/{e['n_runs']} runs, median peaks at T = {_peak(e)})"
        for lv, e in m["per_level"].items() if "val_accuracy_by_T" in e)
    return ok, usable, summary


@check("TF.4.3")
def equal_memorisation_generalises_better_at_high_T():
    ev = memorization_evidence()
    cfg, m_all, source, live = ev.config, ev.metrics, ev.source, ev.live_metrics
    r = ev.range("TF")
    m_paper, paper_range = (None, None) if r is None else (r.metrics, r.report)
    m = m_paper if m_paper is not None else m_all
    ok, usable, summary = _assess(m)
    ok_all, usable_all, summary_all = _assess(m_all)
    scope = ("runs inside TF's range T ≤ 2e-3" if m_paper is not None
             else "all runs (none inside TF's range T ≤ 2e-3)" if paper_range else "all runs")
    metrics = {"source": source, "scope": scope, "per_level": m["per_level"], "min_runs": m["min_runs"],
               "p_value_threshold": P_VALUE, "final_val_spearman_T": m["final_val_spearman_T"],
               "final_random_fitted_spearman_T": m["final_random_fitted_spearman_T"],
               "diverged_runs": m_all["diverged_runs"],
               "all_runs": {"per_level": {lv: {k: e.get(k) for k in ("rho", "p", "n_reached", "n_runs")}
                                          for lv, e in m_all["per_level"].items()},
                            "final_val_spearman_T": m_all["final_val_spearman_T"]},
               "live_small": {lv: {k: e.get(k) for k in ("rho", "p", "n_reached")} for lv, e in live["per_level"].items()}}
    detail = (f"MLP on digits with {100 * cfg.label_noise:.0f}% random training labels, plain SGD on a (λ, B) grid for "
              f"{cfg.epochs} epochs ({source}); {scope}: validation accuracy when the noisy-train accuracy first reaches "
              f"each level, Spearman with T: {summary or 'no level reached by enough runs'}. At the end of training: "
              f"validation accuracy vs T ρ = {m['final_val_spearman_T']['rho']:.2f}, share of random labels fitted vs "
              f"T ρ = {m['final_random_fitted_spearman_T']['rho']:.2f}.")
    if not usable:
        detail = f"NOT testable: fewer than {m['min_runs']} runs reached any memorisation level with a defined ρ. " + detail
    elif all(e["rho"] < 0 and e["p"] < P_VALUE for e in usable.values()):
        detail = "OPPOSITE: at equal memorisation, higher T generalises worse. " + detail
    elif not ok:
        detail = f"NOT reproduced (no level with ρ > 0 at p < {P_VALUE}). " + detail
    findings = []
    if paper_range and paper_range["n_beyond"]:
        trend = ("falls with T" if usable_all and all(e["rho"] < 0 and e["p"] < P_VALUE for e in usable_all.values())
                 else "rises with T" if ok_all else "shows no significant rise with T")
        findings.append(Finding(
            "beyond-paper-range",
            f"over all {paper_range['n_inside'] + paper_range['n_beyond']} runs (T up to "
            f"{paper_range['measured'][1]:.3g}, {paper_range['n_beyond']} beyond TF's T ≤ 2e-3) validation accuracy at "
            f"equal memorisation {trend}: {summary_all}; final validation accuracy vs T "
            f"ρ = {m_all['final_val_spearman_T']['rho']:.2f}",
            evidence={lv: {k: e.get(k) for k in ("rho", "p", "n_reached", "val_accuracy_by_T")}
                      for lv, e in m_all["per_level"].items()}))
    return Verdict.measured(detail, metrics=metrics, agrees=ok, findings=findings, paper_range=paper_range)
