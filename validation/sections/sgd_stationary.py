"""Report section: SGD's stationary law with a non-constant D(θ), its basin occupancy and the
temperature invariance with its breaking point (SC.eq5, RND.eq19, SC.eq6, RND.eq20, SC.eq10).
Renders :func:`validation.evidence.experiments.experiment_evidence` of ``sgd_stationary`` — the
evidence the ledger's checks of those claims judge."""
from __future__ import annotations

from pathlib import Path

TITLE = "SGD's stationary law, basin occupancy and temperature invariance (SC.eq5, SC.eq6, SC.eq10)"
ORDER = 66

_STYLE = {"diffusion": ("C3", "-", "SC.eq5 law, D(θ) from the samples"),
          "boltzmann": ("C7", ":", "Boltzmann, constant D₀"),
          "chain": ("C2", "--", "exact discrete-time chain"),
          "modified": ("C1", "-.", "modified equation O(λ)")}


def _centres(cfg):
    import numpy as np

    lo, hi = cfg.hist_range
    w = (hi - lo) / cfg.bins
    return lo + (np.arange(cfg.bins) + 0.5) * w, w


def _law_figure(ev, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cfg, met = ev.config, ev.metrics
    x, w = _centres(cfg)
    law_rows = {k: sorted([r for r in met["runs"] if "law" in r["roles"] and r["data"] == k], key=lambda r: -r["T"])
                for k in ("symmetric", "skewed")}
    n = max(len(v) for v in law_rows.values())
    fig, axes = plt.subplots(2, n, figsize=(3.0 * n, 5.6), sharex=True, squeeze=False)
    for i, (kind, rows) in enumerate(law_rows.items()):
        for j in range(n):
            ax = axes[i, j]
            if j >= len(rows):
                ax.axis("off")
                continue
            r = rows[j]
            if r["diverged"]:
                ax.set_title(f"{kind}, T = {r['T']:.3g}: diverged", fontsize=8)
                continue
            ax.bar(x, np.asarray(r["measured"]) / w, width=w, color="C0", alpha=0.35, label="SGD (measured)")
            for k, (c, ls, lab) in _STYLE.items():
                p = r["predicted"].get(k)
                if p is not None:
                    ax.plot(x, np.asarray(p) / w, ls, color=c, lw=1.2, label=f"{lab}: TV {r['tv'][k]:.3f}")
            flag = "" if r["converged"] else " NOT CONVERGED"
            ax.set_title(f"{kind}, T = {r['T']:.3g} (λ={r['lr']:g}, B={r['batch']}){flag}\n"
                         f"floor {r['tv_floor']:.3f}", fontsize=8)
            ax.legend(fontsize=5.5, loc="upper left")
            ax.set_xlim(-3, 2.5)
            if i == 1:
                ax.set_xlabel("θ")
    axes[0, 0].set_ylabel("density (symmetric data)")
    axes[1, 0].set_ylabel("density (skewed data)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _occupancy_figure(ev, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, kind in zip(axes, ("symmetric", "skewed")):
        d = ev.metrics["law"][kind]
        T = d["T"]
        ax.errorbar(T, d["occupancy_right"], yerr=[3 * (s or 0) for s in d["occupancy_se"]], fmt="o", color="C0",
                    label="SGD (measured, ±3 SE)")
        labels = {"diffusion": "exact weights of the SC.eq5 law", "chain": "discrete-time chain",
                  "laplace_SC.eq6": "Laplace SC.eq6", "laplace_RND.eq20": "Laplace RND.eq20",
                  "boltzmann": "Boltzmann, constant D₀"}
        for k, lab in labels.items():
            ys = d["occupancy_predicted"][k]
            if all(y is not None for y in ys):
                ax.plot(T, ys, ".-" if k != "boltzmann" else ":", label=lab)
        ax.set(xscale="log", xlabel="T = λ/B", title=f"{kind} per-sample gradients")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("occupancy of the right (shallower, quieter) basin")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _invariance_figure(ev, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    inv = ev.metrics["invariance"]
    fig, axes = plt.subplots(1, len(inv), figsize=(5 * len(inv), 3.8), squeeze=False)
    for ax, (key, d) in zip(axes[0], inv.items()):
        pts = d["points"]
        ok = [p for p in pts if p.get("tv_to_ref") is not None]
        ax.errorbar([p["lr"] for p in ok], [p["tv_to_ref"] for p in ok], yerr=[3 * p["se"] for p in ok], fmt="o",
                    color="C0", label="SGD: TV to the smallest-λ law (±3 SE)")
        ax.plot([p["lr"] for p in ok], [p["floor"] for p in ok], "_", color="C0", ms=12, label="sampling floor")
        for k, c in (("modified", "C1"), ("chain", "C2")):
            xs = [p["lr"] for p in pts if p[f"predicted_tv_to_ref_{k}"] is not None]
            ys = [p[f"predicted_tv_to_ref_{k}"] for p in pts if p[f"predicted_tv_to_ref_{k}"] is not None]
            lam = d[f"breaking_lr_{k}"]
            ax.plot(xs, ys, "-", color=c, label=f"{_STYLE[k][2]}: λ* = {'none' if lam is None else format(lam, '.3g')}")
        for p in pts:
            if p["diverged"]:
                ax.axvline(p["lr"], color="k", ls=":", lw=0.8)
        ax.axhline(ev.metrics["tv_tolerance"], color="grey", lw=0.6)
        bl = d["breaking_lr_measured"]
        ax.set(xlabel="λ (B = λ/T)", ylabel="TV", title=f"T = {d['T']:g}: measured λ* = "
                                                        f"{'none' if bl is None else format(bl, '.3g')}")
        ax.legend(fontsize=6.5)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _f(v, fmt=".3f"):
    return "—" if v is None else format(v, fmt)


def build(outdir: Path) -> str:
    from validation.evidence.experiments import experiment_evidence
    from validation.sections import figures_dir

    ev = experiment_evidence("sgd_stationary")
    cfg, met = ev.config, ev.metrics
    stem = ev.record.path.stem if ev.record is not None else "sgd_stationary_live_small"
    figs = figures_dir(outdir)
    lines = [
        "Real minibatch SGD (a fresh minibatch of B of N = "
        f"{cfg.n_samples} training samples each step, with replacement) on the per-sample loss "
        f"f(θ, x) = θ⁴/4 − θ²/2 + {cfg.tilt:g}θ + {cfg.noise_scale:g}·x·(θ {cfg.noise_shape:+g}·log cosh θ): the train "
        "loss is a tilted double well whose left minimum is deeper, and the per-sample gradient variance "
        f"D(θ) = {cfg.noise_scale:g}²(1 {cfg.noise_shape:+g} tanh θ)² is about 9× larger in the left basin. "
        "The SC.eq5 / RND.eq19 law exp(−2v/T), v = ∫(U′ + (T/2)D′)/D, therefore prefers the quieter right basin "
        "while the constant-D Boltzmann law exp(−2U/(T D₀)) (D₀ = D at the deep minimum) prefers the deeper "
        "left one. Predictions beside every histogram: that law, the constant-D law, the exact discrete-time "
        "chain of the same SGD (numerics.markov) and the first-order modified equation. Two data sets: "
        "symmetric samples (±z, no third cumulant) and a skewed one (centred exponential).",
        "",
        f"**Evidence** — {ev.source}; {cfg.n_chains} chains per run, burn-in {cfg.burn_in_time:g} and window "
        f"{cfg.window_time:g} in units of λ·steps. TV = total-variation distance on {cfg.bins} bins; the *floor* is the "
        "TV a perfect prediction would show at the run's effective sample size (smallest ESS of the chain-group "
        "diagnostics). Runs not converged are flagged and never counted.",
        "",
        "| data | T | λ | B | converged | floor | TV SC.eq5 | TV Boltzmann | TV chain | TV modified eq. | "
        "occupancy (right) | SC.eq5 | Laplace SC.eq6 | RND.eq20 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(met["runs"], key=lambda r: (r["data"], -r["T"], r["lr"])):
        if r["diverged"]:
            lines.append(f"| {r['data']} | {r['T']:.3g} | {r['lr']:g} | {r['batch']} | diverged | | | | | | | | | |")
            continue
        tv, op = r["tv"], r["occupancy_predicted"]
        lines.append(
            f"| {r['data']} | {r['T']:.3g} | {r['lr']:g} | {r['batch']} | {'yes' if r['converged'] else '**no**'} | "
            f"{r['tv_floor']:.3f} | {_f(tv['diffusion'])} | {_f(tv['boltzmann'])} | {_f(tv['chain'])} | "
            f"{_f(tv['modified'])} | {r['occupancy_measured']:.3f} ± {r['occupancy_se']:.3f} | {_f(op['diffusion'])} | "
            f"{_f(op['laplace_SC.eq6'])} | {_f(op['laplace_RND.eq20'])} |")
    p1, p2, p3 = figs / f"{stem}_law.png", figs / f"{stem}_occupancy.png", figs / f"{stem}_invariance.png"
    _law_figure(ev, p1)
    _occupancy_figure(ev, p2)
    _invariance_figure(ev, p3)
    regime = met["diffusion_regime"]
    lines += [
        "",
        f"![histograms vs predictions](figures/{p1.name})",
        "",
        "*Histograms of SGD (blue bars) against the four predictions, one panel per temperature (top: symmetric "
        "data, bottom: skewed). Look at which basin holds the mass: the SC.eq5 law (red) and the chain (green) "
        "follow the bars into the right basin, the constant-D Boltzmann law (grey, dotted) puts it on the left. "
        "On the skewed row the red curve misses the bars while the green one still matches.*",
        "",
        f"![occupancy vs T](figures/{p2.name})",
        "",
        "*Occupancy of the right basin against T: measured (dots with 3 SE bars), exact weights of the SC.eq5 "
        "law, the chain, the Laplace weights of SC.eq6 and RND.eq20, and constant-D Boltzmann. Look at the "
        "gap between the Laplace lines and the dots as T grows (leading order in T), and at the Boltzmann line "
        "heading the other way.*",
        "",
        f"![invariance and breaking point](figures/{p3.name})",
        "",
        "*At fixed T, the TV between the law at λ and the law at the smallest λ (B = λ/T): measured (dots), "
        "predicted by the modified equation (orange) and by the exact chain (green); grey line: the 0.02 "
        "tolerance; dotted verticals: diverged runs. Look at where the dots leave their floor: that is the "
        "breaking point of the temperature invariance.*",
        "",
        "**Findings.**",
        "",
    ]
    for r in regime:
        lines.append(f"- Diffusion regime (T = {r['T']:g}, λ = {r['lr']:g}, B = {r['batch']}): TV(SGD, SC.eq5 law) = "
                     f"{r['tv_diffusion']:.3f} with floor {r['tv_floor']:.3f} (tolerance 0.02 beyond the floor: "
                     f"{'met' if r['within_tolerance'] else '**not met**'}); constant-D Boltzmann: "
                     f"{r['tv_boltzmann']:.3f}; chain: {r['tv_chain']:.3f}.")
    for kind in ("symmetric", "skewed"):
        d = met["law"][kind]
        lines.append(f"- {kind} data, λ = {cfg.law_lr:g}: TV SC.eq5 "
                     f"{', '.join(_f(v) for v in d['tv_diffusion'])}; chain {', '.join(_f(v) for v in d['tv_chain'])}; "
                     f"Boltzmann {', '.join(_f(v, '.2f') for v in d['tv_boltzmann'])} at T = "
                     f"{', '.join(f'{t:.3g}' for t in d['T'])}; basin log-odds error of the SC.eq5 law "
                     f"{', '.join(f'{v:+.2f}' for v in met['skew'][kind]['log_odds_error_diffusion'])}.")
    tr = met.get("transients", {})
    if tr:
        lines += ["", "**Time rescaling on a transient** (SC.eq10: λ₁n₁ = λ₂n₂): chains started at the left minimum "
                  "and absorbed when they first pass the barrier; the mean first-passage time in units of λ·steps for "
                  "each (λ, B) pair at fixed T, beside the exact discrete-time chain's and the diffusion limit's exact "
                  "mean first-passage time.", "",
                  "| T | λ | B | measured λ·n̄ ± SE | z vs smallest λ | chain | diffusion limit | measured / diffusion |",
                  "|---|---|---|---|---|---|---|---|"]
        for d in tr.values():
            for p in d["points"]:
                if p["diverged"]:
                    lines.append(f"| {d['T']:g} | {p['lr']:g} | {p['batch']} | diverged | | | | |")
                    continue
                lines.append(f"| {d['T']:g} | {p['lr']:g} | {p['batch']} | {p['time']:.3f} ± {p['se']:.3f} | "
                             f"{p['z_vs_smallest_lr']:+.1f} | {_f(p['chain_time'])} | {p['diffusion_time']:.3f} | "
                             f"{p['ratio_to_diffusion']:.3f} |")
        lines.append("")
    it = met.get("invariance_test", {})
    if it:
        lines += ["", f"**Temperature invariance, tested where it should hold** (SC.eq10). At fixed T the (λ, B) pairs "
                  "differ only through the O(λ) terms of the modified equation; the test runs where the exact chain "
                  "and the modified equation predict that difference to be at most half the sampling resolution "
                  f"(a prediction made before measuring), with {cfg.replicates} independent replicates of "
                  f"{cfg.invariance_test_chains // cfg.replicates} chains per pair and a k-sample permutation test "
                  f"(largest TV between the pairs' histograms, α = {cfg.alpha:g}); a control pair whose O(λ) "
                  "difference is predicted to be resolved shows that the test can reject.", "",
                  "| T | pairs λ | predicted O(λ) TV (chain / modified) | measured max TV | resolution (null median) | "
                  "p | premise | verdict | control λ | control TV (predicted) | control p |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for d in it.values():
            t, c = d.get("test", {}), d.get("control", {})
            ps = d["predicted_statistic"]
            verdict = "same law" if d["passes"] else ("rejected" if d.get("rejected") else "not in regime")
            lines.append(
                f"| {d['T']:g} | {', '.join(f'{v:g}' for v in d['lrs'])} | {_f(ps['chain'], '.4f')} / "
                f"{_f(ps['modified'], '.4f')} | {_f(t.get('statistic'), '.4f')} | {_f(t.get('resolution'), '.4f')} | "
                f"{_f(t.get('p_value'), '.3f')} | {'holds' if d.get('premise_holds') else '**fails**'} | {verdict} | "
                f"{_f(c.get('lr'), 'g')} | "
                + ("diverged | |" if c.get("diverged") else
                   f"{_f(c.get('test', {}).get('statistic'), '.4f')} ({_f(c.get('predicted_statistic', {}).get('chain'), '.4f')}) | "
                   f"{_f(c.get('test', {}).get('p_value'), '.4f')} |"))
        lines.append("")
    for d in met["invariance"].values():
        lines.append(f"- Breaking point, T = {d['T']:g} ({cfg.n_chains} chains per pair): {d['n_agreeing_pairs']} of "
                     f"{len(d['points'])} (λ, B) pairs agree with the "
                     f"smallest-λ law within 3 SE of the floor, {d['n_within_tolerance']} within TV "
                     f"{met['tv_tolerance']:g} beyond the floor; breaking λ* measured {_f(d['breaking_lr_measured'])}, modified equation "
                     f"{_f(d['breaking_lr_modified'])}, discrete chain {_f(d['breaking_lr_chain'])}"
                     + (f"; diverged at λ = {d['diverged_lrs']}" if d["diverged_lrs"] else "") + ".")
    return "\n".join(lines)
