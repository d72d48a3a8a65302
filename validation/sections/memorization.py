"""Report section: memorisation of random labels vs T = η/S (TF.4.3, TF Fig. 5 protocol). Renders
:func:`validation.evidence.experiments.memorization_evidence`, the evidence the TF.4.3 check judges."""
from __future__ import annotations

from pathlib import Path

import numpy as np

TITLE = "Memorisation of random labels and η/S (TF.4.3)"
ORDER = 68


def _figure(raw: dict, metrics: dict, levels, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    runs = [r for r in raw["runs"] if not r["diverged"]]
    Ts = np.array([r["T"] for r in runs])
    norm = LogNorm(Ts.min(), Ts.max())
    cmap = plt.get_cmap("coolwarm")
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    ax = axes[0]
    for r in runs:
        c = r["curve"]
        ax.plot(c["train_accuracy"], c["val_accuracy"], "-", color=cmap(norm(r["T"])), lw=0.8, alpha=0.8)
    for m in levels:
        ax.axvline(m, color="k", lw=0.5, ls=":")
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=ax, label="T = η/S")
    ax.set_xlabel("accuracy on the noisy training set (memorisation)")
    ax.set_ylabel("validation accuracy (clean labels)")
    ax.set_title("learning curves (TF Fig. 5/14 axes); dotted: compared levels", fontsize=9)
    ax = axes[1]
    for lv, e in metrics["per_level"].items():
        if "val_accuracy_by_T" in e:
            T = [float(t) for t in e["val_accuracy_by_T"]]
            ax.semilogx(T, list(e["val_accuracy_by_T"].values()), "o-",
                        label=f"train acc {lv}: ρ = {e['rho']:.2f} (p = {e['p']:.1e})")
    from validation.experiments.memorization import PAPER_RANGE

    ax.axvspan(max(PAPER_RANGE.low, Ts.min() / 1.5), PAPER_RANGE.high, color="0.9", zorder=0,
               label="TF's range (T ≤ 2e-3): decides the verdict")
    ax.set_xlabel("T = η/S")
    ax.set_ylabel("validation accuracy at equal memorisation (median)")
    ax.legend(fontsize=7)
    ax.set_title("TF.4.3 says: rises with T", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def build(outdir: Path) -> str:
    from validation.evidence.experiments import memorization_evidence
    from validation.experiments.memorization import PAPER_RANGE
    from validation.sections import figures_dir

    figdir = figures_dir(outdir)
    ev = memorization_evidence()
    cfg, m, src = ev.config, ev.metrics, ev.source
    _figure(ev.raw, m, cfg.levels, figdir / "memorization.png")
    lines = [
        f"An MLP ({cfg.hidden} hidden units) on {cfg.n_train} `digits` images with {100 * cfg.label_noise:.0f}% of the "
        f"training labels replaced by random classes, plain SGD for {cfg.epochs} epochs for every λ ∈ "
        f"{list(cfg.learning_rates)}, B ∈ {list(cfg.batch_sizes)}, seeds {list(cfg.seeds)}; source: {src}.",
        "",
        "![memorisation](figures/memorization.png)",
        "",
        "| training accuracy reached | runs reaching it | Spearman ρ(T, validation accuracy) | p |",
        "|---|---|---|---|",
    ]
    for lv, e in m["per_level"].items():
        rho = f"{e['rho']:.2f}" if "rho" in e else "—"
        p = f"{e['p']:.1e}" if "p" in e else "—"
        lines.append(f"| {lv} | {e['n_reached']}/{e['n_runs']} | {rho} | {p} |")
    lines += [
        "",
        f"At the end of training: ρ(T, validation accuracy) = {m['final_val_spearman_T']['rho']:.2f}, "
        f"ρ(T, share of random labels fitted) = {m['final_random_fitted_spearman_T']['rho']:.2f}.",
    ]
    inside = ev.range("TF")
    if inside is not None and inside.metrics is not None:
        m_in, pr = inside.metrics, inside.report
        cells = "; ".join(f"{lv}: {e['n_reached']}/{e['n_runs']} runs"
                          + (f", ρ = {e['rho']:.2f} (p = {e['p']:.1e})" if e.get("rho") == e.get("rho") else "")
                          for lv, e in m_in["per_level"].items())
        lines += ["", f"The ledger's verdict uses only the {pr['n_inside']} runs inside TF's own range "
                      f"(T ≤ {PAPER_RANGE.high:g}, {PAPER_RANGE.source}); there: {cells}. The table above "
                      f"(all runs, {pr['n_beyond']} of them beyond TF's range) is reported as a finding."]
    return "\n".join(lines)
