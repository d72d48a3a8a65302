"""Report section: escape times of SGD in discrete time — simulator vs the diffusion limit's exact
MFPT vs the exact discrete-time chain (and its Gaussian-noise version). Renders
:func:`validation.evidence.experiments.experiment_evidence` of ``sgd_escape_discrete``, the evidence
the checks of ``validation/checks/sgd_escape_discrete.py`` judge (the section does not depend on the check code)."""
from __future__ import annotations

import math
from pathlib import Path

TITLE = "Escape times in discrete time: simulator vs diffusion limit vs exact chain (DT.sec4, DT.thm3.2)"
ORDER = 71


def _figure(ev, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    m = ev.metrics
    dw, st = m["double_well"], m["styblinski_tang"]
    sweeps = list(next(iter(dw.values())))
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    for j, sw in enumerate(sweeps):
        ax = axes[0, j]
        for c, (name, ms) in enumerate(dw.items()):
            v = ms[sw]
            xs = np.asarray(v["x"])
            y = v["neg_log_gamma"]
            ax.errorbar(xs, y["simulator"], yerr=v["neg_log_gamma_se"], fmt="o", color=f"C{c}", ms=4,
                        label=f"{name}: simulator" if j == 0 else None)
            ax.plot(xs, y["chain"], "-", color=f"C{c}", label=f"{name}: exact chain" if j == 0 else None)
            ax.plot(xs, y["chain_gaussian"], ":", color=f"C{c}")
        ax.plot(xs, v["neg_log_gamma"]["diffusion"], "k--", lw=2, label="diffusion limit (all data sets)" if j == 0 else None)
        ax.set(xlabel=v["regressor"], ylabel="−log γ = log(mean escape steps)",
               title=f"double well: −log γ vs {v['regressor']}")
        if j == 0:
            ax.legend(fontsize=6)
    for j, (sw, v) in enumerate(st.items()):
        ax = axes[1, j]
        xs = np.asarray(v["x"])
        y = v["neg_log_gamma"]
        ax.plot(xs, y["stream"], "o", color="C0", label="simulator, stream x ∼ N(0,1)")
        ax.errorbar(xs, y["simulator"], yerr=v["neg_log_gamma_se"], fmt="s", color="C1", ms=4, mfc="none",
                    label=f"simulator, {ev.config.n_data} quantiles")
        ax.plot(xs, y["chain"], "-", color="C1", label="exact chain (quantiles)")
        ax.plot(xs, y["chain_gaussian"], ":", color="C2", label="Gaussian-noise chain")
        ax.plot(xs, y["diffusion"], "k--", label="diffusion limit (exact MFPT)")
        ax.set(xlabel=v["regressor"], ylabel="−log γ", title=f"Styblinski–Tang (1-D, B = 1): vs {v['regressor']}")
        ax.legend(fontsize=6)
    ax = axes[1, 2]
    keys = list(m["summary"]["log10_simulator_over_diffusion_range"])
    ypos = np.arange(len(keys))
    mid = lambda r: 0.5 * (r[0] + r[1])  # noqa: E731
    s = m["summary"]
    ax.barh(ypos - 0.2, [mid(s["log10_simulator_over_diffusion_range"][k]) for k in keys], 0.4,
            label="log10 simulator / diffusion")
    ax.barh(ypos + 0.2, [mid(s["log10_chain_over_chain_gaussian_range"][k]) for k in keys], 0.4,
            label="log10 chain / Gaussian chain")
    ax.set_yticks(ypos, [k.replace("double_well/", "dw/").replace("styblinski_tang/", "ST/") for k in keys], fontsize=6)
    ax.axvline(0, color="k", lw=0.5)
    ax.set(title="the gap, mid of each sweep", xlabel="log10 ratio of escape times")
    ax.legend(fontsize=6)
    fig.suptitle(f"{ev.source}; dotted: the chain with Gaussian minibatch noise of the same variance", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def build(outdir: Path) -> str:
    from validation.evidence.experiments import experiment_evidence
    from validation.sections import figures_dir

    ev = experiment_evidence("sgd_escape_discrete")
    m, cfg = ev.metrics, ev.config
    s = m["summary"]
    lines = [
        "SGD's mean escape time from a valley, four ways at every point: the many-chain **simulator** "
        "(numerics.sgd, FirstPassage observer), the **diffusion limit**'s exact mean first-passage time "
        "(dθ = −U′dt + sqrt((λ/B)D)dW, in steps τ/λ), the **exact discrete-time chain** (numerics.markov: the "
        "law of the minibatch-mean gradient on a grid, mean hitting time from its fundamental matrix) and the "
        "same chain with **Gaussian** minibatch noise of the same variance. Models: a finite-data per-sample "
        "double well L = (kθ²)²/4 − kθ²/2 + √k·xθ on N standardised samples of four laws (same U and D = k for "
        "all four, so the same diffusion limit) and DT's 1-D Styblinski–Tang setting (stream x ∼ N(0, 1), and "
        "its N-point quantile discretisation for the chain).",
        "",
        f"**Evidence** — {ev.source}; {cfg.n_chains} chains per point, N = {cfg.n_data}, cells {cfg.cell}.",
        "",
        "| data set | skewness κ₃ | excess kurtosis | min x | max x |",
        "|---|---|---|---|---|",
    ]
    for name, d in m["datasets"].items():
        lines.append(f"| {name} | {d['skewness']:.2f} | {d['excess_kurtosis']:.2f} | {d['min']:.2f} | {d['max']:.2f} |")
    lines += ["", "| setting | values | simulator steps | exact chain / simulator | Gaussian chain steps | "
                  "diffusion steps | slope sim / chain / diffusion | DT.thm3.2 printed formula, s = 0 … 1 | r (sim) |",
              "|---|---|---|---|---|---|---|---|---|"]
    rows = [(f"dw {n} {sw}", v) for n, ms in m["double_well"].items() for sw, v in ms.items()]
    rows += [(f"ST {sw}", v) for sw, v in m["styblinski_tang"].items()]
    for label, v in rows:
        y = v["neg_log_gamma"]
        f = v["fits"]
        lines.append(
            f"| {label} ({v['regressor']}) | {', '.join(f'{x:g}' for x in v['x'])} | "
            f"{', '.join(f'{math.exp(a):.3g}' for a in y['simulator'])} | "
            f"{', '.join(f'{r:.3f}' for r in v['chain_over_simulator'])} | "
            f"{', '.join(f'{math.exp(a):.3g}' for a in y['chain_gaussian'])} | "
            f"{', '.join(f'{math.exp(a):.3g}' for a in y['diffusion'])} | "
            f"{f['simulator']['slope']:.3g} / {f['chain']['slope']:.3g} / {f['diffusion']['slope']:.3g} | "
            f"[{v['dt_printed_slope_interval'][0]:.3g}, {v['dt_printed_slope_interval'][1]:.3g}] | "
            f"{f['simulator']['pearson_r']:.4f} |")
    fig_path = figures_dir(outdir) / (f"{ev.record.path.stem}.png" if ev.record is not None
                                      else "sgd_escape_discrete_live_small.png")
    _figure(ev, fig_path)
    st_gap = s["log10_stream_over_diffusion_styblinski_tang"]
    tail = s["log10_chain_over_chain_gaussian_range"]
    st_tail = [v for k, r in tail.items() if k.startswith("styblinski") for v in r]
    lines += [
        "", f"![escape times](figures/{fig_path.name})", "",
        f"**The chain matches the simulator** within {m['escape_rel_tol']:.0%} on "
        f"{s['n_settings_chain_within_tol']}/{s['n_settings']} settings ({s['n_points_chain_within_tol']}/{s['n_points']} "
        f"points; ratios {s['chain_over_simulator_range'][0]:.3f}–{s['chain_over_simulator_range'][1]:.3f}, largest "
        f"|z| {s['max_abs_chain_z']:.1f} against the simulator's standard error; the chain's own error is the cell "
        "split at the boundary).",
        "",
        f"**Finding.** On DT's Styblinski–Tang setting SGD (stream) escapes 10^{-st_gap[1]:.1f}–10^{-st_gap[0]:.1f} times "
        "faster than the diffusion limit, and the exact chain on the quantile data reproduces it. The Gaussian-noise "
        f"chain differs from the exact chain by 10^{min(st_tail):.2f}–10^{max(st_tail):.2f}: "
        + ("the gap is made by discrete time — one step with the state-dependent variance λ²D(θ)/B (D grows like θ⁴ "
           "here) carries the chain over the barrier — and only a small part by the tail of the per-sample gradient."
           if max(abs(v) for v in st_tail) < 0.25 * max(abs(v) for v in st_gap) else
           "the tail of the per-sample gradient carries a large part of the gap."),
        "",
        "On the double well (same U and D = k for every data set, hence the same diffusion limit) the spread between "
        "data sets is made by the per-sample gradient's higher cumulants:",
        "",
        "| data set | κ₃ | log10 simulator / diffusion | log10 exact chain / Gaussian chain | "
        "log10 Gaussian chain / diffusion |",
        "|---|---|---|---|---|",
    ]
    for name, d in m["datasets"].items():
        keys = [k for k in s["log10_simulator_over_diffusion_range"] if k.startswith(f"double_well/{name}/")]

        def span(table, keys=keys):
            lo = min(table[k][0] for k in keys)
            hi = max(table[k][1] for k in keys)
            return f"{lo:+.2f} … {hi:+.2f}"

        lines.append(f"| {name} | {d['skewness']:+.2f} | {span(s['log10_simulator_over_diffusion_range'])} | "
                     f"{span(s['log10_chain_over_chain_gaussian_range'])} | "
                     f"{span(s['log10_chain_gaussian_over_diffusion_range'])} |")
    lu = sorted({2 * p["k"] * p["lr"] for sw in ("batch_size", "learning_rate", "sharpness") for p in cfg.dw_points(sw)})
    lines += [
        "",
        f"λ·U″ at the minimum spans {lu[0]:.2g}–{lu[-1]:.2g} over the double-well sweeps. The Gaussian-chain column is "
        "the discrete-time (step-size) part of the gap, the chain/Gaussian-chain column the non-Gaussian (tail, κ₃) "
        "part; numerics.markov's docstring derives the second as a log-odds error ∝ κ₃/T.",
    ]
    if m.get("prop1"):
        lines += ["", "**DT.prop1 on the exact chain** (double well, batch sweep λ = "
                      f"{cfg.dw_batch_lr:g}): stationary odds of the two valleys vs the ratio of their mean escape times.",
                  "", "| data set | B | log(P_left/P_right) | log(τ_left/τ_right) | difference | shorter escape (steps) |",
                  "|---|---|---|---|---|---|"]
        for name, qs in m["prop1"].items():
            for q in qs:
                lines.append(f"| {name} | {q['B']} | {q['log_odds_occupancy']:+.3f} | {q['log_ratio_escape']:+.3f} | "
                             f"{q['difference']:+.3f} | {q['min_escape_steps']:.0f} |")
    return "\n".join(lines)
