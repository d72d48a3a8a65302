"""Report section: SC.fig1-3's curvatures at several SGD times (is the shift-curvature measurement
stationary?). Renders ``validation.evidence.experiments.experiment_evidence("shift_curvature_drift")``,
the evidence the check of ``validation/checks/shift_curvature_drift.py`` judges."""
from __future__ import annotations

from pathlib import Path

TITLE = "Shift-curvature at several SGD times: stationary or transient? (SC.fig1-3)"
ORDER = 68

_LABELS = (("kappa_train", "κ_train"), ("kappa_test", "κ_test"), ("shift_norm", "‖s‖"))


def _figure(m: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(m["drift"])
    fig, axes = plt.subplots(len(datasets), len(_LABELS), figsize=(4.2 * len(_LABELS), 3.4 * len(datasets)),
                             squeeze=False)
    for row, d in zip(axes, datasets):
        for ax, (key, lab) in zip(row, _LABELS):
            for arm in m["arms"]:
                p = arm["per_dataset"][d]
                ax.semilogx(p["temperatures"], p["per_T_median"][key], "o-", label=f"λ·steps = {arm['sde_time']:g}")
            ax.set(xlabel="T = λ/B", ylabel=f"{lab} (per-T median)", title=f"{d}: {lab}")
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def build(out_dir: Path) -> str:
    from validation.evidence.experiments import experiment_evidence
    from validation.sections import figures_dir

    ev = experiment_evidence("shift_curvature_drift")
    m = ev.metrics
    fig = figures_dir(out_dir) / (f"{ev.record.path.stem}.png" if ev.record is not None
                                  else "shift_curvature_drift_live_small.png")
    _figure(m, fig)
    t0, t1 = m["sde_times"][0], m["sde_times"][-1]
    lines = [f"Evidence: {ev.source}. The shift_curvature protocol (SC §3 / App. F) on the same (T, seed) grid at SGD "
             f"times λ·steps = {', '.join(f'{t:g}' for t in m['sde_times'])}. SC.fig1-3 is about the stationary state; "
             "if the curvatures move with the SGD time, the shorter run measured a transient.", "",
             f"![curvatures at several SGD times](figures/{fig.name})", "",
             f"| data set | quantity | median relative change {t0:g} → {t1:g} | down / up | sign-test p | "
             "per-T medians of the change |", "|---|---|---|---|---|---|"]
    for d, v in m["drift"].items():
        for key, lab in _LABELS:
            q = v[key]
            lines.append(f"| {d} | {lab} | {q['median_relative_change']:+.3f} | {q['sign_test']['down']} / "
                         f"{q['sign_test']['up']} | {q['sign_test']['p']:.1e} | "
                         + ", ".join(f"{x:+.2f}" for x in q["per_T_median_relative_change"]) + " |")
    lines += ["", "| SGD time | " + " | ".join(f"{lab} ρ with T (one-sided p falls)" for _, lab in _LABELS[:2])
              + " | ½κ_test ρ |", "|---|---|---|---|"]
    for arm in m["arms"]:
        tr = arm["trends"]
        lines.append(f"| {arm['sde_time']:g} | " + " | ".join(f"{tr[k]['rho']:+.2f} ({tr[k]['p_falls']:.1e})"
                                                              for k in ("kappa_train", "kappa_test", "shift_curvature"))
                     + " |")
    lines += ["", f"Stationary at the shortest time (no per-T median of κ_train or κ_test moves by more than "
                  f"{100 * m['drift_tolerance']:.0f}%): **{m['stationary_at_shortest_time']}**; the curvatures fall with "
                  f"T at the longest time: **{m['longest_arm_trends_fall']}**."]
    return "\n".join(lines)
