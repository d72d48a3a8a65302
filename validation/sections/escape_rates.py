"""Report section: escape rates of real minibatch SGD on Styblinski–Tang (DT.sec4), measured vs
the exact mean first-passage time of the diffusion limit."""
from __future__ import annotations

from pathlib import Path

TITLE = "Escape rates of SGD on Styblinski–Tang (DT.sec4)"
ORDER = 70

_LABEL = {"sharpness": "1/k", "batch_size": "B", "learning_rate": "1/η"}


def _records():
    from validation.records import DATA_DIR, read_record

    return [(p, read_record(p)) for p in sorted(DATA_DIR.glob("dt_sec4_*.json"))]


def _figure(rec: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    sweeps = rec["metrics"]["sweeps"]
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
    fig.suptitle(f"{rec['raw']['dim']}-D Styblinski–Tang, {rec['config']['n_runs']} runs per point", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def build(outdir: Path) -> str:
    from validation.sections import figures_dir

    recs = _records()
    if not recs:
        return "_No DT.sec4 record in validation/data yet._"
    lines = [
        "Real minibatch SGD on the per-sample loss f(√kθ − x), x ∼ N(0, I) drawn fresh each step "
        "(DT App. E.1 setting 1), started at the minimum of f and stopped when a coordinate passes "
        "the barrier of f. γ = 1 / mean escape iterations. The theory column is the exact mean "
        "first-passage time of the diffusion limit dθ = −U′dt + sqrt((η/B)D)dW with the population "
        "loss U = E_x L and D = Var_x ∂L (rate × p for p independent coordinates).",
        "",
    ]
    for path, rec in recs:
        prov = rec["provenance"]
        met = rec["metrics"]
        lines.append(f"**Record `{path.name}`** — {rec['raw']['dim']}-D, device {prov['device']}, "
                     f"seed {prov['seed']}, commit `{prov['git_commit'][:10]}`, {prov['wall_time_s']:.0f} s.")
        lines += ["", "| sweep | values | mean escape iterations | Pearson r (linear) | slope | "
                  "Pearson r vs 2/3-power | predicted slope | log10(measured/predicted time) |",
                  "|---|---|---|---|---|---|---|---|"]
        import math

        for name, m in met["sweeps"].items():
            steps = ", ".join(f"{math.exp(v):.0f}" for v in m["neg_log_gamma"])
            ratio = ", ".join(f"{v:.1f}" for v in m["log10_ratio_measured_over_predicted"])
            lines.append(f"| {name} ({m['regressor']}) | {', '.join(f'{v:g}' for v in m['x'])} | {steps} | "
                         f"{m['measured']['pearson_r']:.4f} | {m['measured']['slope']:.4g} | "
                         f"{m['pearson_r_two_thirds_power']:.4f} | {m['predicted']['slope']:.4g} | {ratio} |")
        lines += ["", f"All three sweeps linear with r > {met['pearson_tolerance']}: "
                      f"**{met['all_linear']}** (DT.sec4)."]
        fig_path = figures_dir(outdir) / f"{path.stem}.png"
        _figure(rec, fig_path)
        lines += ["", f"![escape rates](figures/{fig_path.name})", ""]
    lines += [
        "**Finding.** DT's linear law is reproduced (r > 0.99 on every sweep), but not for the "
        "reason of DT.thm3.2: the measured escapes are 10⁸–10²⁵ times faster than the diffusion "
        "limit predicts and the slopes are 4–8× smaller. With x ∼ N(0, I) the per-sample gradient "
        "f′(θ − x) is cubic in x (heavy-tailed), and stability (η·U″ < 2 at the minimum, U″ ≈ 23) "
        "caps η so that measurable escape times need large per-step noise: SGD leaves the valley by "
        "single large kicks, not by diffusion. −log γ against the 2/3-powers of the regressors "
        "(the single-kick law) is equally linear over these short ranges, so a Pearson r > 0.99 "
        "does not distinguish the mechanisms. The batch-size window is narrow for the same reason "
        "(each unit of B multiplies the escape time by ≈3).",
    ]
    return "\n".join(lines)
