"""Report section: escape rates of real minibatch SGD on Styblinski–Tang (DT.sec4), measured vs
the exact mean first-passage time of the diffusion limit. Renders
:func:`validation.evidence.experiments.escape_rates_evidence`, the evidence the DT.sec4 / DT.thm3.2
checks judge."""
from __future__ import annotations

from pathlib import Path

TITLE = "Escape rates of SGD on Styblinski–Tang (DT.sec4)"
ORDER = 70

_LABEL = {"sharpness": "1/k", "batch_size": "B", "learning_rate": "1/η"}


def _figure(ev, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    sweeps = ev.metrics["sweeps"]
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.4), sharex="col")
    for j, (name, m) in enumerate(sweeps.items()):
        xs = np.asarray(m["x"])
        ax = axes[0, j]
        ax.errorbar(xs, m["neg_log_gamma"], yerr=m["neg_log_gamma_se"], fmt="o", label="SGD (measured)")
        fit = m["measured"]
        ax.plot(xs, fit["intercept"] + fit["slope"] * xs, "-",
                label=f"fit: slope {fit['slope']:.3g}, r = {fit['pearson_r']:.4f}")
        ax.set(ylabel="−log γ = log(mean escape iterations)", title=f"{name}: −log γ vs {_LABEL[name]}")
        ax.legend(fontsize=7)
        ax = axes[1, j]
        ax.plot(xs, m["neg_log_gamma_predicted"], "s-", color="C3",
                label=f"diffusion limit (exact MFPT), slope {m['predicted']['slope']:.3g}")
        ax.plot(xs, m["neg_log_gamma"], "o", color="C0", label="SGD (measured)")
        ax.set(xlabel=_LABEL[name], ylabel="−log γ")
        ax.legend(fontsize=7)
    fig.suptitle(f"{ev.raw['dim']}-D Styblinski–Tang, {ev.config.n_runs} runs per point", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def build(outdir: Path) -> str:
    import math

    from validation.evidence.experiments import escape_rates_evidence
    from validation.sections import figures_dir

    ev = escape_rates_evidence()
    met = ev.metrics
    lines = [
        "Real minibatch SGD on the per-sample loss f(√kθ − x), x ∼ N(0, I) drawn fresh each step "
        "(DT App. E.1 setting 1), started at the minimum of f and stopped when a coordinate passes "
        "the barrier of f. γ = 1 / mean escape iterations. The theory column is the exact mean "
        "first-passage time of the diffusion limit dθ = −U′dt + sqrt((η/B)D)dW with the population "
        "loss U = E_x L and D = Var_x ∂L (rate × p for p independent coordinates).",
        "",
        f"**Evidence** — {ev.raw['dim']}-D, {ev.source}, seed {ev.config.seed} (the ledger's DT.sec4 and "
        "DT.thm3.2 verdicts rest on the same evidence).",
        "",
        "| sweep | values | mean escape iterations | Pearson r (linear) | slope | "
        "Pearson r vs 2/3-power | predicted slope | log10(measured/predicted time) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in met["sweeps"].items():
        steps = ", ".join(f"{math.exp(v):.0f}" for v in m["neg_log_gamma"])
        ratio = ", ".join(f"{v:.1f}" for v in m["log10_ratio_measured_over_predicted"])
        lines.append(f"| {name} ({m['regressor']}) | {', '.join(f'{v:g}' for v in m['x'])} | {steps} | "
                     f"{m['measured']['pearson_r']:.4f} | {m['measured']['slope']:.4g} | "
                     f"{m['pearson_r_two_thirds_power']:.4f} | {m['predicted']['slope']:.4g} | {ratio} |")
    lines += ["", f"All three sweeps linear with r > {met['pearson_tolerance']}: "
                  f"**{met['all_linear']}** (DT.sec4)."]
    stem = ev.record.path.stem if ev.record is not None else "dt_sec4_live_small"
    fig_path = figures_dir(outdir) / f"{stem}.png"
    _figure(ev, fig_path)
    lines += ["", f"![escape rates](figures/{fig_path.name})", ""]
    log10 = [v for m in met["sweeps"].values() for v in m["log10_ratio_measured_over_predicted"]]
    slope_factor = [1 / m["slope_ratio_measured_over_predicted"] for m in met["sweeps"].values()]
    worst_r = min(m["measured"]["pearson_r"] for m in met["sweeps"].values())
    lines += [
        f"**Finding.** DT's linear law is reproduced (lowest Pearson r {worst_r:.4f}), but not for the "
        f"reason of DT.thm3.2: the measured escapes are 10^{-max(log10):.0f}–10^{-min(log10):.0f} times faster "
        f"than the diffusion limit predicts and the slopes are {min(slope_factor):.1f}–{max(slope_factor):.1f}× "
        "smaller. With x ∼ N(0, I) the per-sample gradient "
        "f′(θ − x) is cubic in x (heavy-tailed), and stability (η·U″ < 2 at the minimum, U″ ≈ 23) "
        "caps η so that measurable escape times need large per-step noise: SGD leaves the valley by "
        "single large kicks, not by diffusion. −log γ against the 2/3-powers of the regressors "
        "(the single-kick law) is equally linear over these short ranges, so a Pearson r > 0.99 "
        "does not distinguish the mechanisms. The batch-size window is narrow for the same reason "
        "(each unit of B multiplies the escape time by ≈3).",
    ]
    return "\n".join(lines)
