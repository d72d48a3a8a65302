"""Report section: memorisation of random labels vs T = η/S (TF.4.3, TF Fig. 5 protocol), per data set
and net. Renders :func:`validation.evidence.experiments.memorization_evidence`, the evidence the TF.4.3
check judges."""
from __future__ import annotations

from pathlib import Path

import numpy as np

TITLE = "Memorisation of random labels and η/S (TF.4.3)"
ORDER = 68


def _figure(raw: dict, per_setup: dict, levels, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    from validation.experiments.memorization import PAPER_RANGE

    runs_all = [r for r in raw["runs"] if not r["diverged"]]
    Ts = np.array([r["T"] for r in runs_all])
    norm = LogNorm(Ts.min(), Ts.max())
    cmap = plt.get_cmap("coolwarm")
    names = list(per_setup)
    fig, axes = plt.subplots(len(names), 2, figsize=(12, 4.4 * len(names)), squeeze=False)
    for (ax, ax2), su in zip(axes, names):
        for r in runs_all:
            if r.get("setup", names[0]) != su:
                continue
            c = r["curve"]
            ax.plot(c["train_accuracy"], c["val_accuracy"], "-", color=cmap(norm(r["T"])), lw=0.8, alpha=0.8)
        for m in levels:
            ax.axvline(m, color="k", lw=0.5, ls=":")
        fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="T = η/S")
        ax.set_xlabel("accuracy on the noisy training set (memorisation)")
        ax.set_ylabel("validation accuracy (clean labels)")
        ax.set_title(f"{su}: learning curves (TF Fig. 5/14 axes); dotted: compared levels", fontsize=9)
        for lv, e in per_setup[su]["per_level"].items():
            if "val_accuracy_by_T" in e:
                T = [float(t) for t in e["val_accuracy_by_T"]]
                rho = f"ρ = {e['rho']:.2f} (p = {e['p']:.1e})" if e.get("rho") == e.get("rho") else "ρ undefined"
                ax2.semilogx(T, list(e["val_accuracy_by_T"].values()), "o-", label=f"train acc {lv}: {rho}")
        ax2.axvspan(max(PAPER_RANGE.low, Ts.min() / 1.5), PAPER_RANGE.high, color="0.9", zorder=0,
                    label="TF's range (T ≤ 2e-3): decides the verdict")
        ax2.set_xlabel("T = η/S")
        ax2.set_ylabel("validation accuracy at equal memorisation (median)")
        ax2.legend(fontsize=7)
        ax2.set_title(f"{su} — TF.4.3 says: rises with T (all runs)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def build(outdir: Path) -> str:
    from validation.evidence.experiments import memorization_evidence
    from validation.experiments.memorization import PAPER_RANGE
    from validation.experiments.temperature_scan import setup_metrics
    from validation.sections import figures_dir

    figdir = figures_dir(outdir)
    ev = memorization_evidence()
    cfg, m, src = ev.config, ev.metrics, ev.source
    per_setup = setup_metrics(m)
    _figure(ev.raw, per_setup, cfg.levels, figdir / "memorization.png")
    l2 = f", ℓ2 μ = {cfg.weight_decay:g}" if cfg.weight_decay else ""
    lines = [
        f"Setups (data set/net): {', '.join(per_setup)} (MLP {cfg.hidden} hidden units"
        + (f", 1-D CNN {cfg.channels} channels" if any(su.endswith("/cnn1d") for su in per_setup) else "")
        + f"{l2}) on {cfg.n_train} training samples with {100 * cfg.label_noise:.0f}% of the training labels "
        f"replaced by random classes, plain SGD for {cfg.epochs} epochs for every λ ∈ {list(cfg.learning_rates)}, "
        f"B ∈ {list(cfg.batch_sizes)}, seeds {list(cfg.seeds)}; source: {src}.",
        "",
        "![memorisation](figures/memorization.png)",
        "",
        "All runs:",
        "",
        "| setup | training accuracy reached | runs reaching it | T of those runs | Spearman ρ(T, validation accuracy) | p |",
        "|---|---|---|---|---|---|",
    ]
    for su, ms in per_setup.items():
        for lv, e in ms["per_level"].items():
            rho = f"{e['rho']:.2f}" if e.get("rho") == e.get("rho") and "rho" in e else "—"
            p = f"{e['p']:.1e}" if e.get("p") == e.get("p") and "p" in e else "—"
            t = f"{e['T_reached'][0]:.2g}–{e['T_reached'][1]:.2g}" if "T_reached" in e else "—"
            lines.append(f"| {su} | {lv} | {e['n_reached']}/{e['n_runs']} | {t} | {rho} | {p} |")
    lines += [""]
    for su, ms in per_setup.items():
        lines.append(f"- {su}, at the end of training: ρ(T, validation accuracy) = "
                     f"{ms['final_val_spearman_T']['rho']:.2f}, ρ(T, share of random labels fitted) = "
                     f"{ms['final_random_fitted_spearman_T']['rho']:.2f}.")
    inside = ev.range("TF")
    if inside is not None and inside.metrics is not None:
        pr = inside.report
        cells = []
        for su, mi in setup_metrics(inside.metrics).items():
            cells.append(f"{su}: " + "; ".join(
                f"{lv}: {e['n_reached']}/{e['n_runs']} runs"
                + (f", ρ = {e['rho']:.2f} (p = {e['p']:.1e})" if e.get("rho") == e.get("rho") and "rho" in e else "")
                for lv, e in mi["per_level"].items()))
        lines += ["", f"The ledger's verdict uses only the {pr['n_inside']} runs inside TF's own range "
                      f"(T ≤ {PAPER_RANGE.high:g}, {PAPER_RANGE.source}); there: {' | '.join(cells)}. The table above "
                      f"(all runs, {pr['n_beyond']} of them beyond TF's range) is reported as a finding."]
    return "\n".join(lines)
