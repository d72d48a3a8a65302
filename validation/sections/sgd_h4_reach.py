"""Report section: RND Fig. H.4's per-sample models under real SGD (SC.eq5 / RND.eq19 out of
reach). Renders :func:`validation.evidence.experiments.experiment_evidence` of ``sgd_h4_reach`` —
the evidence the ledger's check of it judges."""
from __future__ import annotations

from pathlib import Path

TITLE = "RND Fig. H.4's models under real SGD"
ORDER = 69


def build(outdir: Path) -> str:
    from validation.evidence.experiments import experiment_evidence

    ev = experiment_evidence("sgd_h4_reach")
    cfg = ev.config
    lines = [f"**Evidence** — {ev.source}; B = 1, λ = {cfg.lr_fraction:g} × the stability limit 2/max U″, "
             f"{cfg.n_chains} chains started at each minimum of the train loss, {cfg.n_steps} steps; the prediction "
             "is the SC.eq5 effective potential v = ∫(U′ + (T/2)D′)/D with D(θ) from the 10 train samples.", "",
             "| model | λ | λ_max | chains that crossed (from left, right) | Arrhenius exponent 2Δv/T (from left, right) "
             "| predicted log-odds right/left | T at which both basins hold ≥ 10 % | log10(T needed / λ_max) | "
             "smallest D between the minima |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, m in ev.metrics["models"].items():
        lines.append(f"| {name} | {m['lr']:.3g} | {m['lr_max']:.3g} | {m['crossed'].get('left')}, "
                     f"{m['crossed'].get('right')} | {m['barrier_exponents'][0]:.3g}, {m['barrier_exponents'][1]:.3g} | "
                     f"{m['log_odds_right_over_left']:.3g} | {m['T_for_10_percent']:.3g} | {m['log10_T_gap']:.1f} | "
                     f"{m['D_min_on_path']:.2g} |")
    lines += ["", "**Finding.** The per-sample gradient variance of these models is tiny and falls to ~0 away from "
              "the wells (every sample shares the gradient of cθ²), so the SC.eq5 law redistributes mass between the "
              "basins only at temperatures thousands to hundreds of millions of times above what a stable SGD step "
              "allows (T = λ/B ≤ λ < 2/max U″): real SGD stays in the basin it starts in, and RND Fig. H.4's law "
              "is not something SGD on that data reaches. The section on SGD's stationary law measures the law on "
              "a model of the same kind (D(θ) non-constant, different in the two basins) with noise of order one."]
    return "\n".join(lines)
