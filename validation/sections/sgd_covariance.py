"""Report section: the stationary covariance and offset of real SGD around a strict minimum (SC.B2.cov,
SC.B2.bias) on ℓ2 logistic regression — measured vs the printed (T/2)C⁻¹D and (T/2)C⁻¹∂·D, the Lyapunov
solutions and the leading-order mean/mode offsets — and the held-out loss averaged over the same iterates
vs SC.eq4's decomposition. Renders
:func:`validation.evidence.experiments.experiment_evidence` of ``sgd_covariance``, the evidence the checks
of ``validation/checks/sgd_covariance.py`` judge (the section does not depend on the check code)."""
from __future__ import annotations

from pathlib import Path

TITLE = "Stationary covariance, offset and test-loss average of SGD at a strict minimum, measured (SC.B2.cov, SC.B2.bias, SC.eq4)"
ORDER = 74


def _figure(ev, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from numerics.lyapunov import ChainMoments, discrete_lyapunov_covariance, laplace_covariance

    m, pred, raw = ev.metrics, ev.prediction, ev.raw
    runs = m["runs"]
    ts = m["T_sweep"]
    cold_i = min((i for i, o in enumerate(runs) if o["batch_size"] == ts["batch_size"]), key=lambda i: runs[i]["T"])
    o, r = runs[cold_i], raw["runs"][cold_i]
    C, D = np.asarray(pred["C"]), np.asarray(pred["D"])
    S_meas = ChainMoments.from_dict(r["moments"]).estimates()["cov"]
    S_disc = discrete_lyapunov_covariance(C, D, o["lr"], o["batch_size"])
    S_pr = laplace_covariance(C, D, o["T"])
    tl = m.get("test_loss")
    fig, axes = plt.subplots(1, 5 if tl else 4, figsize=(25 if tl else 20, 4.4))
    ax = axes[0]
    iu = np.triu_indices(C.shape[0])
    lim = np.abs(S_meas[iu]).max() * 1.1
    ax.plot(S_disc[iu], S_meas[iu], ".", ms=3, label="discrete Lyapunov")
    ax.plot(0.5 * (S_pr + S_pr.T)[iu], S_meas[iu], ".", ms=3, alpha=0.6, label="sym. (T/2)C⁻¹D")
    ax.plot([-lim, lim], [-lim, lim], "k-", lw=0.6)
    ax.set(xlabel="predicted Σ_ij", ylabel="measured Σ_ij", title=f"covariance entries, T = {o['T']:g}",
           xlim=(-lim, lim), ylim=(-lim, lim))
    ax.legend(fontsize=8)
    ax = axes[1]
    sweep = [x for x in runs if x["batch_size"] == ts["batch_size"]]
    sweep.sort(key=lambda x: x["T"])
    T = [x["T"] for x in sweep]
    for key, lab in (("printed", "(T/2)C⁻¹D"), ("printed_symmetric", "its symmetric part"),
                     ("lyapunov_continuous", "continuous Lyapunov"), ("lyapunov_discrete", "discrete Lyapunov")):
        ax.plot(T, [x["cov_relative_error"][key] for x in sweep], "o-", label=lab)
    ax.plot(T, [x["cov_sampling_floor"] for x in sweep], "k--", label="sampling floor")
    ax.set(xscale="log", yscale="log", xlabel="T = λ/B", ylabel="relative Frobenius error",
           title=f"T sweep (B = {ts['batch_size']})")
    ax.legend(fontsize=7)
    ax = axes[2]
    ls = m["lambda_sweep"]
    ax.plot(ls["lr"], ls["lyapunov_continuous"], "o-", label="continuous Lyapunov")
    ax.plot(ls["lr"], ls["lyapunov_discrete"], "s-", label="discrete Lyapunov")
    ax.plot(ls["lr"], ls["sampling_floor"], "k--", label="sampling floor")
    ax.set(xscale="log", xlabel="λ", ylabel="relative Frobenius error", title=f"λ sweep at T = {ls['T']:g}")
    ax.legend(fontsize=7)
    ax = axes[3]
    ax.errorbar(T, [x["mean_offset_norm"][0] for x in sweep], yerr=[x["mean_offset_norm"][1] for x in sweep],
                fmt="o-", label="|θ^tr − E θ| measured")
    ax.errorbar(T, [x["mode_offset_norm"][0] for x in sweep], yerr=[x["mode_offset_norm"][1] for x in sweep],
                fmt="s-", label="|θ^tr − mode| measured")
    ax.plot(T, [x["printed_bias_norm"] for x in sweep], "k--", label="|(T/2)C⁻¹∂·D| printed")
    ax.plot(T, [x["mean_offset_prediction_norm"] for x in sweep], "k:", label="|½C⁻¹∂³U:Σ|")
    ax.plot(T, [x["mode_offset_prediction_norm"] for x in sweep], "k-.", lw=0.8, label="|mode offset| predicted")
    ax.set(xscale="log", yscale="log", xlabel="T = λ/B", ylabel="offset norm", title="offsets")
    ax.legend(fontsize=7)
    if tl:
        ax = axes[4]
        for key, lab in (("measured_moments", "(a) measured Σ, b"), ("fully_predicted", "(c) Lyapunov Σ, printed b"),
                         ("measured_moments_cubic", "(a) + cubic term"), ("local_expansion", "expansion about θ^tr")):
            ax.errorbar(T, [x["test_loss"]["variants"][key]["T_part_relative_error"][0] for x in sweep],
                        yerr=[x["test_loss"]["variants"][key]["T_part_relative_error"][1] for x in sweep], fmt="o-",
                        label=lab)
        ax.axhspan(-tl["tolerance"], tl["tolerance"], color="0.9")
        ax.axhline(0, color="k", lw=0.6)
        ax.set(xscale="log", xlabel="T = λ/B", ylabel="(measured − form)/form",
               title="SC.eq4: T-dependent part of E[U^test]")
        ax.legend(fontsize=7)
    fig.suptitle(ev.source, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def build(outdir: Path) -> str:
    from validation.evidence.experiments import experiment_evidence
    from validation.sections import figures_dir

    ev = experiment_evidence("sgd_covariance")
    m, cfg = ev.metrics, ev.config
    lines = [
        f"Real minibatch SGD (B samples drawn with replacement, T = λ/B) on ℓ2-regularised logistic regression "
        f"(α = {cfg.alpha:g}) on {cfg.n_train} breast-cancer samples (30 standardised features and a bias, p = 31), started "
        f"at the minimum θ^tr (Newton, ‖∂U‖ = {m['grad_norm_at_theta_tr']:.1e}); {cfg.n_chains} independent chains per "
        f"(λ, B) in {cfg.groups} groups (jackknife errors), burn-in {cfg.burn_relax:g} and sampling {cfg.sample_relax:g} "
        "slowest relaxation times 1/(λ h_min); moments accumulated on the fly. Predictions at θ^tr: C = ∂²U, "
        "D = Cov ∂U_n, ∂·D and ∂D exact from per-sample gradients and Hessians. The commutator "
        f"‖CD − DC‖/(‖C‖‖D‖) = {m['commutator_relative']:.3f}: SC.A1 does not hold at this minimum.",
        "",
        f"**Evidence** — {ev.source}. Covariance: relative Frobenius error of the measured covariance; "
        "the sampling floor is the error a perfect prediction would show with these chains.",
        "",
        "| λ | B | T | (T/2)C⁻¹D | its sym. part | Lyapunov (cont.) | Lyapunov (discrete) | floor |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for o in m["runs"]:
        e = o["cov_relative_error"]
        lines.append(f"| {o['lr']:g} | {o['batch_size']} | {o['T']:g} | {e['printed']:.3f} | {e['printed_symmetric']:.3f} | "
                     f"{e['lyapunov_continuous']:.3f} | {e['lyapunov_discrete']:.3f} | {o['cov_sampling_floor']:.3f} |")
    lines += ["", "Offsets (relative Euclidean error; floor of the mode estimate in brackets):", "",
              "| T | λ | mean vs (T/2)C⁻¹∂·D | mean vs ½C⁻¹∂³U:Σ | mode vs (T/2)C⁻¹∂·D | mode vs predicted mode | "
              "‖θ^tr − E θ‖ | ‖(T/2)C⁻¹∂·D‖ |",
              "|---|---|---|---|---|---|---|---|"]
    for o in m["runs"]:
        f, fl = o["offset_relative_error"], o["offset_sampling_floor"]
        lines.append(f"| {o['T']:g} | {o['lr']:g} | {f['mean_vs_printed']:.2f} | {f['mean_vs_mean_offset_discrete']:.2f} | "
                     f"{f['mode_vs_printed']:.2f} | {f['mode_vs_mode_offset_discrete']:.2f} "
                     f"({fl['mode_vs_mode_offset_discrete']:.2f}) | {o['mean_offset_norm'][0]:.3g} ± "
                     f"{o['mean_offset_norm'][1]:.1g} | {o['printed_bias_norm']:.3g} |")
    if m.get("mlp_runs"):
        mp = ev.prediction["mlp"]
        lines += ["", f"MLP (wine, {cfg.mlp_hidden} tanh units, ℓ2 α = {cfg.mlp_alpha:g}, p = {mp['p']}) in the span of its "
                  f"top-{mp['k']} Hessian eigenvectors (eigenvalues {', '.join(f'{v:.3g}' for v in mp['eigenvalues'])}; "
                  f"Hessian spectrum [{mp['C_eigenvalue_range'][0]:.3g}, {mp['C_eigenvalue_range'][1]:.3g}]; subspace "
                  f"commutator {mp['commutator_relative_subspace']:.3f}): projected covariance vs the k-dimensional forms.", "",
                  "| λ | B | T | (T/2)Λ⁻¹VᵀDV | its sym. part | Lyapunov (cont.) | Lyapunov (discrete) | floor |",
                  "|---|---|---|---|---|---|---|---|"]
        for o in m["mlp_runs"]:
            e = o["cov_relative_error"]
            lines.append(f"| {o['lr']:g} | {o['batch_size']} | {o['T']:g} | {e['printed']:.3f} | {e['printed_symmetric']:.3f} | "
                         f"{e['lyapunov_continuous']:.3f} | {e['lyapunov_discrete']:.3f} | {o['cov_sampling_floor']:.3f} |")
    tl = m.get("test_loss")
    if tl:
        lines += ["", f"SC.eq4 on the same iterates: U^test is the ℓ2 logistic loss on the {tl['n_test']} held-out samples "
                  f"(same α; |s| = |θ^test − θ^tr| = {tl['shift_norm']:.3f}). The T-dependent part E[U^test] − U^test(θ^tr) "
                  "is compared with ½Tr[ΣC^test] + sᵀC^test b + ½bᵀC^test b (the form minus its T → 0 limit): relative "
                  "error (measured − form)/form ± jackknife SE; (a) measured Σ and b, (b) Lyapunov Σ and measured b, "
                  "(c) Lyapunov Σ and the printed b; the last columns are not SC.eq4 (third-order term added to (a); the "
                  f"second-order expansion about θ^tr). Rule: |error| ≤ {tl['tolerance']:g} + 2 SE.", "",
                  "| λ | B | T | E[U^test] − U^test(θ^tr) | (a) | (b) | (c) | (a) + cubic | about θ^tr |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for o in m["runs"]:
            t = o["test_loss"]
            cell = lambda k, t=t: "{:+.3f} ± {:.3f}".format(*t["variants"][k]["T_part_relative_error"])  # noqa: E731
            lines.append(f"| {o['lr']:g} | {o['batch_size']} | {o['T']:g} | {t['T_part_measured'][0]:.4g} ± "
                         f"{t['T_part_measured'][1]:.1g} | {cell('measured_moments')} | {cell('lyapunov_measured_mean')} | "
                         f"{cell('fully_predicted')} | {cell('measured_moments_cubic')} | {cell('local_expansion')} |")
    fig_path = figures_dir(outdir) / (f"{ev.record.path.stem}.png" if ev.record is not None
                                      else "sgd_covariance_live_small.png")
    _figure(ev, fig_path)
    ts = m["T_sweep"]
    lines += ["", f"![covariance and offsets](figures/{fig_path.name})", "",
              f"**Findings.** (1) The measured covariance is the Lyapunov solution (CΣ + ΣC = TD, or its discrete-time "
              f"form), not the printed (T/2)C⁻¹D: on a real model C and D need not commute. Its error beyond the "
              f"floor grows with T (log–log slope {ts['cov_excess_slope_in_T_discrete']:.2f}) — the O(T) anharmonic "
              f"terms the leading-order claim leaves out. (2) At fixed T = {m['lambda_sweep']['T']:g} the continuous "
              "solution's error grows with λ and the discrete one's does not: SGD's time step. (3) The mean of the "
              f"iterates moves by ½C⁻¹(∂³U : Σ) (slope in T {m['mean_offset_slope_in_T']:.2f}), not by the printed "
              "(T/2)C⁻¹∂·D, which is the offset of the *mode* of the zero-curl steady state; the mode estimated from "
              "the first three moments is compared with its leading-order prediction with curl "
              "(numerics.lyapunov.mode_offset, equal to the printed bias when C and D commute)."]
    if tl:
        w = tl["within_all_runs"]
        b_ratio = [o["mean_offset_norm"][0] / o["printed_bias_norm"] for o in m["runs"]]
        n_in = {k: sum(o["test_loss"]["variants"][k]["within"] for o in m["runs"]) for k in w}
        n_runs = len(m["runs"])
        lines += ["", f"(4) SC.eq4: with the measured Σ and b the form is within the rule in {n_in['measured_moments']} of "
                  f"{n_runs} runs; its T-independent part misses U^test(θ^tr) by {tl['taylor_remainder']:.2g} "
                  "(the cubic remainder of a quadratic expansion at distance |s|, nothing about SGD). The form expands "
                  "U^test about θ^test while the iterates sit at θ^tr: the curvature it uses is |s| away, an O(T|s|) "
                  "error of the same order as the cross term sᵀC^test b it keeps; the expansion about θ^tr with the same "
                  f"moments is within the rule in {n_in['local_expansion']} of {n_runs} runs. The fully predicted form (c) is "
                  f"within it in {n_in['fully_predicted']} of {n_runs} runs; it is closer than (a) at small T "
                  f"because the printed b (the measured mean offset is {min(b_ratio):.2f}–{max(b_ratio):.2f}× its size) has "
                  "a larger cross term sᵀC^test b, which partly offsets the curvature error — a compensation, not "
                  "SC.eq4's accuracy."]
    return "\n".join(lines)
