"""Report section: minibatch gradient noise of a real network (DT.fig1, SC.eq23)."""
from __future__ import annotations

from pathlib import Path

TITLE = "Minibatch gradient noise of a real network (DT.fig1, SC.eq23)"
ORDER = 60


def _records():
    from validation.records import DATA_DIR, read_record

    return [(p, read_record(p)) for p in sorted(DATA_DIR.glob("dt_fig1_*.json"))]


def build(outdir: Path) -> str:
    from validation.sections import figures_dir

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = _records()
    if not recs:
        return "_No gradient-noise record in validation/data yet._"
    lines = []
    for path, rec in recs:
        prov = rec["provenance"]
        lines.append(f"**Record `{path.name}`** — device {prov['device']}, torch {prov['torch']}, "
                     f"seed {prov['seed']}, commit `{prov['git_commit'][:10]}`, {prov['wall_time_s']:.0f} s.")
        lines += ["", "| checkpoint | train acc | B | KS(‖ξ‖ vs Gaussian) | max abs excess kurtosis | "
                  "predicted (SC.eq23) |", "|---|---|---|---|---|---|"]
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
        for name, cp in rec["raw"]["checkpoints"].items():
            pred = rec["prediction"][name]["per_batch"]
            Bs = sorted(int(b) for b in cp["per_batch"])
            meas = [max(abs(k) for k in cp["per_batch"][str(b)]["excess_kurtosis"][:1]) for b in Bs]
            prd = [abs(pred[str(b)]["excess_kurtosis"][0]) for b in Bs]
            ks = [cp["per_batch"][str(b)]["ks_norm_distance"] for b in Bs]
            for b in Bs:
                m = cp["per_batch"][str(b)]
                lines.append(f"| {name} | {cp['train_accuracy']:.3f} | {b} | {m['ks_norm_distance']:.3f} | "
                             f"{max(abs(k) for k in m['excess_kurtosis']):.2f} | "
                             f"{max(abs(k) for k in pred[str(b)]['excess_kurtosis']):.2f} |")
            axes[0].loglog(Bs, meas, "o", label=f"{name}: measured (top direction)")
            axes[0].loglog(Bs, prd, "-", label=f"{name}: ω₄/(Bω₂²)")
            axes[1].semilogx(Bs, ks, "o-", label=name)
        axes[1].axhline(rec["config"]["ks_tolerance"], color="k", ls=":", label="tolerance")
        axes[0].set(xlabel="batch size B", ylabel="|excess kurtosis|", title="non-Gaussianity vs B")
        axes[1].set(xlabel="batch size B", ylabel="KS distance of ‖ξ‖", title="minibatch vs Gaussian noise")
        for ax in axes:
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig_path = figures_dir(outdir) / f"{path.stem}.png"
        fig.savefig(fig_path, dpi=110)
        plt.close(fig)
        lines += ["", f"![gradient noise](figures/{fig_path.name})", ""]
    return "\n".join(lines)
