"""Report section: real SGD on a (λ, B) grid, per data set and net — do test loss and sharpness
depend on λ and B only through T = λ/B, and where does that break at large λ (SC.fig5, RND.fig1,
TF.4.1)? Renders :func:`validation.evidence.experiments.temperature_scan_evidence`, the evidence the
SC.fig5 / RND.fig1 / TF.4.1 checks judge."""
from __future__ import annotations

from pathlib import Path

TITLE = "Learning rate and batch size enter through T = λ/B? (SC.fig5, RND.fig1, TF.4.1)"
ORDER = 65


def _figure(runs: list[dict], setups: list[str], path: Path) -> None:
    """One row per setup: test loss, sharpness and final train loss against T."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in runs if not r.get("diverged")]
    lrs = sorted({r["lr"] for r in runs})
    bss = sorted({r["batch_size"] for r in runs})
    markers = "os^Dv<>p"
    cmap = plt.get_cmap("viridis")
    fig, axes = plt.subplots(len(setups), 3, figsize=(14, 4.0 * len(setups)), squeeze=False)
    for row, su in zip(axes, setups):
        for r in runs:
            if r.get("setup", setups[0]) != su:
                continue
            c = cmap(lrs.index(r["lr"]) / max(len(lrs) - 1, 1))
            m = markers[bss.index(r["batch_size"]) % len(markers)]
            row[0].loglog(r["T"], r["test_loss"], m, color=c, ms=5, alpha=0.8)
            if r["sharpness"] > 0:  # (a non-positive top eigenvalue: not at a minimum, left out)
                row[1].loglog(r["T"], r["sharpness"], m, color=c, ms=5, alpha=0.8)
            row[2].loglog(r["T"], max(r["train_loss"], 1e-6), m, color=c, ms=5, alpha=0.8)
        for ax, lab in zip(row, ("test loss", "sharpness λ_max(∇²L_train)", "final train loss")):
            ax.set_xlabel("T = λ/B")
            ax.set_ylabel(lab)
            ax.set_title(su, fontsize=9)
    handles = [plt.Line2D([], [], ls="", marker="o", color=cmap(i / max(len(lrs) - 1, 1)), label=f"λ = {lr:g}")
               for i, lr in enumerate(lrs)]
    handles += [plt.Line2D([], [], ls="", marker=markers[i % len(markers)], color="k", label=f"B = {b}")
                for i, b in enumerate(bss)]
    axes[0][1].legend(handles=handles, fontsize=7, ncol=2)
    fig.suptitle("colour: learning rate, marker: batch size — points of equal T collapse if only T matters",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def build(outdir: Path) -> str:
    from validation.evidence.experiments import temperature_scan_evidence
    from validation.experiments.temperature_scan import SC_RND_RANGE, TF_RANGE, setup_metrics
    from validation.sections import figures_dir

    figdir = figures_dir(outdir)
    ev = temperature_scan_evidence()
    cfg, m, src = ev.config, ev.metrics, ev.source
    per_setup = setup_metrics(m)
    _figure(ev.raw["runs"], list(per_setup), figdir / "temperature_scan.png")
    l2 = f", ℓ2 μ = {cfg.weight_decay:g}" if cfg.weight_decay else ""
    lines = [
        f"Setups (data set/net): {', '.join(per_setup)} — the 3-layer tanh MLP has {cfg.hidden} hidden units"
        + (f", the 1-D CNN {cfg.channels} channels" if any(su.endswith("/cnn1d") for su in per_setup) else "")
        + f"{l2}; {cfg.n_train} training samples each, trained by plain SGD for every "
        f"λ ∈ {list(cfg.learning_rates)} and B ∈ {list(cfg.batch_sizes)} with seeds {list(cfg.seeds)}, each run for "
        f"the same SDE time λ·steps = {cfg.sde_time:g}; source: {src}. Sharpness is the top eigenvalue of the "
        "Hessian of the full training loss (power iteration). T is not comparable across setups: each is fitted "
        "on its own.",
        "",
        "![temperature scan](figures/temperature_scan.png)",
        "",
        "| setup | outcome y | b (log λ) | c (log B) | b + c ± se | detectable b + c (80 %) | R² log T alone / full "
        "| slope in log T | Spearman(T, y) (p) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for su, ms in per_setup.items():
        if "not_enough_runs" in ms:
            lines.append(f"| {su} | — | {ms['not_enough_runs']} | | | | | | |")
            continue
        for name in ("test_loss", "test_accuracy", "log_sharpness"):
            f = ms[name]
            lines.append(f"| {su} | {name} | {f['b_log_lr']:.4f} | {f['c_log_batch']:.4f} | {f['b_plus_c']:.4f} ± "
                         f"{f['se_b_plus_c']:.4f} | {f['detectable_b_plus_c_80pct']:.4f} | "
                         f"{f['r2_log_T_only']:.2f} / {f['r2_full']:.2f} | "
                         f"{f['slope_log_T']:.4f} | {f['spearman_T']:.2f} ({f['spearman_p']:.1e}) |")
    lines += ["", "Theory (SC.eq10): only T enters, so c = −b. Per setup:", ""]
    for su, ms in per_setup.items():
        if "not_enough_runs" in ms:
            continue
        near = ms["test_loss_where_train_loss_near_zero"]
        near_text = (f"train loss below {ms['train_loss_tolerance']:g} at every run up to T = {near['T_max']:.3g} "
                     f"({near['n_T_levels']} T levels)")
        if "fit" in near:
            nf = near["fit"]
            near_text += (f"; there test loss b + c = {nf['b_plus_c']:.4f} ± {nf['se_b_plus_c']:.4f}, Spearman(T) "
                          f"{nf['spearman_T']:.2f} (p = {nf['spearman_p']:.1e}), lowest median at T* = "
                          f"{near['optimum']['T_star_median']:.3g}")
        lines.append(
            f"- **{su}**: max final train loss {ms['max_train_loss']:.3g}; {near_text}. Share of the variance of log "
            f"sharpness within equal-T groups {ms['log_sharpness_within_equal_T_share']:.2f} (within identical "
            f"(λ, B), i.e. seed noise: {ms['log_sharpness_within_same_lr_B_share']:.2f}); diverged runs: "
            f"{len(ms['diverged_runs'])}; runs whose top Hessian eigenvalue is not positive (not at a minimum, left "
            f"out of the sharpness statistics): {ms.get('n_sharpness_not_positive', 0)}.")
    lines += ["", "TF Fig. 6's breaking point: per λ, the change of test accuracy and log sharpness against the "
                  "smallest λ of equal T (paired by seed; mean ± se); a λ is broken when accuracy drops by more than "
                  "3 se or a run diverges.", "",
              "| setup | λ | Δ test accuracy | Δ log sharpness | pairs | diverged | broken |", "|---|---|---|---|---|---|---|"]
    for su, ms in per_setup.items():
        if "breaking_point" not in ms:
            continue
        for e in ms["breaking_point"]["per_lr"]:
            a, s = e["test_accuracy_change"], e["log_sharpness_change"]
            if not a["n"] and not e["n_diverged"]:
                continue  # the smallest λ: every diagonal's reference
            lines.append(f"| {su} | {e['lr']:g} | {a['mean']:+.4f} ± {a['se']:.4f} | {s['mean']:+.3f} ± {s['se']:.3f} | "
                         f"{a['n']} | {e['n_diverged']}/{e['n_runs']} | {'yes' if e['broken'] else ''} |")
    tf = ev.range("TF")
    if tf is not None and tf.metrics is not None:
        inside = setup_metrics(tf.metrics)
        parts = "; ".join(f"{su}: slope in log T {mi['log_sharpness']['slope_log_T']:.3f}, Spearman "
                          f"{mi['log_sharpness']['spearman_T']:.2f} (p = {mi['log_sharpness']['spearman_p']:.1e}), "
                          f"{mi['n_runs']} runs" for su, mi in inside.items() if "log_sharpness" in mi)
        lines += ["", f"The papers' own ranges: TF.4.1's verdict uses the {tf.report['n_inside']} runs inside TF §4.1's "
                      f"T ≤ {TF_RANGE.high:g} ({parts}); the whole scan is a finding. SC Fig. 5 / "
                      f"RND Fig. 1 used T ≤ {SC_RND_RANGE.high:g} (VGG9 on CIFAR10), below every run here, so SC.fig5 / "
                      "RND.fig1 are judged on the measured range (a finding says so)."]
    return "\n".join(lines)
