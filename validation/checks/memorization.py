"""TF.4.3: at equal memorisation of random labels, higher η/S (T = λ/B) generalises better.

The verdict comes from the committed record ``validation/data/memorization_<gpu|cpu>.json`` (read
through ``validation.evidence.experiments.experiment_evidence``; metrics re-derived from its learning
curves by :func:`validation.experiments.memorization.compare`);
:data:`~validation.experiments.memorization.SMALL` runs live beside it. Without the record the live
run alone decides.

Criteria (fixed before the record was looked at): inside TF's range, for every setup (data set ×
net) of the record, every memorisation level reached by at least ``min_runs`` runs (with a defined
Spearman ρ) must show validation accuracy at that level rising with T: ρ > 0 with p <
:data:`~validation.experiments.memorization.P_VALUE`. A setup with no usable level is not testable
and keeps the claim from agreeing. Power: the smallest |ρ| significant at p < 0.01 with n runs is
about 2.58/√(n − 1) — with the full record's ~30 runs per level inside the range, |ρ| ≳ 0.48.

TF's own runs (§4.3, MNIST MLP) used η ∈ {0.005, …, 0.1} and S ∈ {50, …, 1000}, i.e.
T ≤ 0.1/50 = 2e-3 (:data:`validation.experiments.memorization.PAPER_RANGE`): the verdict is computed
from the record's runs inside that range; the trend over all runs, part of them beyond it, is
reported as a ``beyond-paper-range`` finding (``validation/checks/README.md``).
"""
from __future__ import annotations

import math

from validation.evidence import experiments as _E
from validation.experiments.memorization import P_VALUE
from validation.experiments.temperature_scan import setup_metrics
from validation.ledger import Finding, Verdict, check


def _peak(e):
    by_T = e["val_accuracy_by_T"]
    return max(by_T, key=by_T.get)


def _min_rho(n) -> float:
    """The smallest |ρ| significant at p < 0.01 with n points (normal approximation of Spearman's ρ)."""
    return 2.576 / math.sqrt(n - 1) if n > 1 else float("nan")


def _assess(m):
    """(agrees, usable levels, one-line summary per level) for the metrics of one setup's runs."""
    usable = {lv: e for lv, e in m["per_level"].items()
              if e["n_reached"] >= m["min_runs"] and e.get("rho") == e.get("rho")}  # rho not nan
    ok = bool(usable) and all(e["rho"] > 0 and e["p"] < P_VALUE for e in usable.values())
    summary = "; ".join(
        f"train acc {lv}: " + (f"ρ = {e['rho']:.2f} (p = {e['p']:.1e}, " if e.get("rho") == e.get("rho")
                               else "ρ undefined (") +
        f"{e['n_reached']}/{e['n_runs']} runs, |ρ| ≥ {_min_rho(e['n_reached']):.2f} needed, median peaks at "
        f"T = {_peak(e)})"
        for lv, e in m["per_level"].items() if "val_accuracy_by_T" in e)
    return ok, usable, summary


def _label(m, usable, ok) -> str:
    if not usable:
        return f"NOT testable: fewer than {m['min_runs']} runs reached any memorisation level with a defined ρ"
    if all(e["rho"] < 0 and e["p"] < P_VALUE for e in usable.values()):
        return "OPPOSITE: at equal memorisation, higher T generalises worse"
    if not ok:
        return f"NOT reproduced (not every usable level has ρ > 0 at p < {P_VALUE})"
    return "reproduced"


@check("TF.4.3")
def equal_memorisation_generalises_better_at_high_T():
    ev = _E.experiment_evidence("memorization")
    cfg, m_all, source = ev.config, ev.metrics, ev.source
    r = ev.range("TF")
    m_paper, paper_range = (None, None) if r is None else (r.metrics, r.report)
    m = m_paper if m_paper is not None else m_all
    scope = ("runs inside TF's range T ≤ 2e-3" if m_paper is not None
             else "all runs (none inside TF's range T ≤ 2e-3)" if paper_range else "all runs")
    lines, per_setup, agree = [], {}, []
    for su, ms in setup_metrics(m).items():
        ok, usable, summary = _assess(ms)
        agree.append(ok)
        per_setup[su] = {"agrees": ok, "per_level": ms["per_level"], "min_runs": ms["min_runs"],
                         "final_val_spearman_T": ms["final_val_spearman_T"],
                         "final_random_fitted_spearman_T": ms["final_random_fitted_spearman_T"]}
        lines.append(f"{su}: {_label(ms, usable, ok)} — {summary or 'no level reached'}; at the end of training "
                     f"validation accuracy vs T ρ = {ms['final_val_spearman_T']['rho']:.2f}, share of random labels "
                     f"fitted vs T ρ = {ms['final_random_fitted_spearman_T']['rho']:.2f}")
    metrics = {"source": source, "scope": scope, "setups": per_setup, "p_value_threshold": P_VALUE,
               "final_val_spearman_T": m["final_val_spearman_T"],
               "diverged_runs": {su: ma["diverged_runs"] for su, ma in setup_metrics(m_all).items()},
               "all_runs": {su: {"per_level": {lv: {k: e.get(k) for k in ("rho", "p", "n_reached", "n_runs")}
                                               for lv, e in ma["per_level"].items()},
                                 "final_val_spearman_T": ma["final_val_spearman_T"]}
                            for su, ma in setup_metrics(m_all).items()},
               "live_small": _E.live_part(ev, lambda live: {lv: {k: e.get(k) for k in ("rho", "p", "n_reached")}
                                                            for lv, e in live["per_level"].items()})}
    detail = (f"Nets with {100 * cfg.label_noise:.0f}% random training labels, plain SGD on a (λ, B) grid for "
              f"{cfg.epochs} epochs ({source}); {scope}: validation accuracy when the noisy-train accuracy first "
              f"reaches each level, Spearman with T, per setup. " + " | ".join(lines))
    findings = []
    if paper_range and paper_range["n_beyond"]:
        parts, evidence = [], {}
        for su, ma in setup_metrics(m_all).items():
            ok_all, usable_all, summary_all = _assess(ma)
            trend = ("falls with T" if usable_all and all(e["rho"] < 0 and e["p"] < P_VALUE for e in usable_all.values())
                     else "rises with T" if ok_all else "shows no significant rise with T")
            parts.append(f"{su}: validation accuracy at equal memorisation {trend}: {summary_all}; final validation "
                         f"accuracy vs T ρ = {ma['final_val_spearman_T']['rho']:.2f}")
            evidence[su] = {lv: {k: e.get(k) for k in ("rho", "p", "n_reached", "val_accuracy_by_T")}
                            for lv, e in ma["per_level"].items()}
        findings.append(Finding(
            "beyond-paper-range",
            f"over all {paper_range['n_inside'] + paper_range['n_beyond']} runs (T up to "
            f"{paper_range['measured'][1]:.3g}, {paper_range['n_beyond']} beyond TF's T ≤ 2e-3): " + " | ".join(parts),
            evidence=evidence))
    return Verdict.measured(detail, metrics=metrics, agrees=bool(agree) and all(agree), findings=findings,
                            paper_range=paper_range)
