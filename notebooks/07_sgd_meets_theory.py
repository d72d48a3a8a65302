# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 — SGD meets the theory: stationary law, occupancy, temperature invariance, curl, escape
#
# Real minibatch SGD — per-sample losses over a finite training set, a fresh minibatch each step, run
# as 10⁵ independent chains — held against the predictions: the stationary law of SC.eq5 / RND.eq19
# with the per-sample $D(\theta)$, the constant-$D$ Boltzmann law, the exact discrete-time Markov chain
# of the same SGD (`numerics.markov`) and the first-order modified equation; basin occupancy vs the
# Laplace weights (SC.eq6, RND.eq20); temperature invariance $T = \lambda/B$ (SC.eq10) and where it
# breaks; a 2-D model with a non-zero curl (SC.A1); escape times in discrete time (DT.sec4).
#
# Every number below is read from the committed records through
# `validation.evidence.experiments.experiment_evidence` (metrics re-derived from the raw runs by each
# experiment's pure `compare`), plus one tiny live run. Model of the first part:
# $f(\theta, x) = \theta^4/4 - \theta^2/2 + c\theta + s\,x\,(\theta + a\log\cosh\theta)$, so
# $U = \theta^4/4 - \theta^2/2 + c\theta$ and $D(\theta) = s^2(1 + a\tanh\theta)^2$: about 9× more
# gradient noise in the deeper left basin.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

from validation.evidence import experiments as E
from validation.experiments import sgd_stationary as ss

ev = E.experiment_evidence("sgd_stationary")
cfg, met = ev.config, ev.metrics
print(ev.source)
print(f"c = {cfg.tilt}, a = {cfg.noise_shape}, s = {cfg.noise_scale}, N = {cfg.n_samples}, "
      f"{cfg.n_chains} chains per run, {cfg.bins} bins on {cfg.hist_range}")

# %% [markdown]
# ## Histogram vs predictions, one panel per temperature
#
# Law runs at $\lambda$ = `law_lr`, $B = 1\ldots5$, symmetric per-sample gradients. Watch which basin
# holds the mass: the SC.eq5 law and the chain follow SGD into the quieter right basin; the
# constant-$D$ Boltzmann law puts it in the deeper left one.

# %%
lo, hi = cfg.hist_range
edges = np.linspace(lo, hi, cfg.bins + 1)
centres = 0.5 * (edges[1:] + edges[:-1])
law_rows = sorted((r for r in met["runs"] if "law" in r["roles"] and r["data"] == "symmetric" and r.get("usable")),
                  key=lambda r: -r["T"])
fig, axes = plt.subplots(1, len(law_rows), figsize=(3.2 * len(law_rows), 3), sharey=True)
for ax, r in zip(np.atleast_1d(axes), law_rows):
    ax.bar(centres, r["measured"], width=edges[1] - edges[0], color="C0", alpha=0.5, label="SGD")
    for k, style in (("diffusion", "r-"), ("chain", "g--"), ("modified", "m:"), ("boltzmann", "k:")):
        if r["predicted"][k] is not None:
            ax.plot(centres, r["predicted"][k], style, lw=1.2, label=k)
    ax.set(title=f"T = {r['T']:.3g}  TV(SC.eq5) {r['tv']['diffusion']:.3f}", xlabel="θ", xlim=(-2.2, 2.2))
np.atleast_1d(axes)[0].legend(fontsize=7)
plt.tight_layout(); plt.show()
for r in law_rows:
    print(f"T = {r['T']:.3g}: TV SC.eq5 {r['tv']['diffusion']:.3f}, chain {r['tv']['chain']:.3f}, "
          f"Boltzmann {r['tv']['boltzmann']:.3f}, floor {r['tv_floor']:.3f}")

# %% [markdown]
# ## Occupancy of the right basin vs $T$
#
# Measured (3 SE bars) vs the exact weights of the SC.eq5 law, the chain, the Laplace weights of
# SC.eq6 and RND.eq20 (leading order in $T$) and constant-$D$ Boltzmann.

# %%
d = met["law"]["symmetric"]
Ts = np.array(d["T"])
plt.figure(figsize=(5.5, 3.6))
plt.errorbar(Ts, d["occupancy_right"], yerr=3 * np.array(d["occupancy_se"]), fmt="o", color="C0", label="SGD")
for k, style in (("diffusion", "r-"), ("chain", "g--"), ("laplace_SC.eq6", "C1-."), ("laplace_RND.eq20", "C4-."),
                 ("boltzmann", "k:")):
    plt.plot(Ts, d["occupancy_predicted"][k], style, label=k)
plt.xlabel("T = λ/B"); plt.ylabel("right-basin occupancy"); plt.legend(fontsize=7); plt.tight_layout(); plt.show()

# %% [markdown]
# ## Temperature invariance: a test that can fail, and its breaking point
#
# At fixed $T$ the step cumulants per unit time, $T^{k-1}\kappa_k$, depend on $T$ only, so pairs
# $(\lambda, B)$ differ only through the $O(\lambda)$ terms of the modified equation. With $B \ge 1$,
# $\lambda \ge T$, and on this model that difference is TV ≈ 0.5·T between $B = 1$ and $B = 3$. The
# invariance test runs where the chain and the modified equation predict that difference to be at
# most half the sampling resolution (a prediction made before measuring), with independent replicates
# per pair and a permutation test; a control pair (large $B$) shows it can reject.

# %%
it = met["invariance_test"]
for key, d in it.items():
    t, c = d.get("test", {}), d.get("control", {})
    ps = {k: round(v, 4) for k, v in d["predicted_statistic"].items() if v is not None}
    print(f"T = {key}: pairs λ = {d['lrs']}, predicted O(λ) max TV {ps}, "
          f"measured {t.get('statistic', float('nan')):.4f}, resolution {t.get('resolution', float('nan')):.4f}, "
          f"p = {t.get('p_value', float('nan')):.3f}, premise {d.get('premise_holds')}, passes {d['passes']}; "
          f"control λ = {c.get('lr')}: p = {c.get('test', {}).get('p_value', float('nan')):.4f}, "
          f"rejected {c.get('rejected')}")
runs_T = [r for r in ev.raw.get("invariance_test", []) if not r["diverged"]]
fig, axes = plt.subplots(1, len(it), figsize=(5.5 * len(it), 3.4), squeeze=False)
for ax, (key, d) in zip(axes[0], it.items()):
    for j, r in enumerate(x for x in runs_T if abs(x["T"] - d["T"]) < 1e-12):
        reps = np.array([np.asarray(x["counts"]) / x["n_samples"] for x in r["replicates"]])
        m, s = reps.mean(0), reps.std(0, ddof=1) / np.sqrt(len(reps))
        ax.fill_between(centres, m - 3 * s, m + 3 * s, step="mid", alpha=0.3, color=f"C{j}")
        ax.step(centres, m, where="mid", color=f"C{j}", lw=0.9,
                label=f"λ = {r['lr']:g}, B = {r['batch']}" + (" (control)" if r["role"] == "control" else ""))
    ax.set(title=f"T = {key}: replicate means ± 3 SE", xlabel="θ", xlim=(-2.2, 2.2))
    ax.legend(fontsize=7)
plt.tight_layout(); plt.show()

# %%
inv = met["invariance"]
fig, axes = plt.subplots(1, len(inv), figsize=(5.5 * len(inv), 3.6), squeeze=False)
for ax, (key, d) in zip(axes[0], inv.items()):
    pts = [p for p in d["points"] if p.get("tv_to_ref") is not None]
    ax.errorbar([p["lr"] for p in pts], [p["tv_to_ref"] for p in pts], yerr=[3 * p["se"] for p in pts], fmt="o",
                label="SGD: TV to the smallest-λ law")
    ax.plot([p["lr"] for p in pts], [p["floor"] for p in pts], "_", color="C0", ms=12, label="sampling floor")
    for k, c in (("modified", "C1"), ("chain", "C2")):
        q = [p for p in d["points"] if p[f"predicted_tv_to_ref_{k}"] is not None]
        ax.plot([p["lr"] for p in q], [p[f"predicted_tv_to_ref_{k}"] for p in q], "-", color=c, label=k)
    for lam, style in ((d["breaking_lr_measured"], "C0"), (d["breaking_lr_modified"], "C1"), (d["breaking_lr_chain"], "C2")):
        if lam is not None:
            ax.axvline(lam, color=style, ls="--", lw=0.8)
    for lam in d["diverged_lrs"]:
        ax.axvline(lam, color="k", ls=":", lw=0.8)
    ax.axhline(met["tv_tolerance"], color="grey", lw=0.6)
    ax.set(title=f"T = {key} ({cfg.n_chains} chains per pair)", xlabel="λ (B = λ/T)", ylabel="TV")
    ax.legend(fontsize=7)
plt.tight_layout(); plt.show()
def fmt(v):
    return "none in range" if v is None else f"{v:.3f}"


for key, d in inv.items():
    print(f"T = {key}: breaking λ* measured {fmt(d['breaking_lr_measured'])}, modified equation "
          f"{fmt(d['breaking_lr_modified'])}, chain {fmt(d['breaking_lr_chain'])}")

# %% [markdown]
# Read together: where the predicted $O(\lambda)$ difference is below the resolution, the pairs are
# one law within sampling error (and the control, whose difference is predicted to be resolved, is
# rejected: the test has power). At 10⁵ chains per pair the same $O(\lambda)$ dependence is resolved,
# and the exact discrete-time chain predicts it to the sampling floor, while the first-order modified
# equation under-predicts it, by about a third at $\lambda = 0.2$.

# %% [markdown]
# ## A tiny live run
#
# 2000 chains at $T = 0.05$ ($\lambda = 0.1$, $B = 2$), short windows — against the exact chain and the
# SC.eq5 law on the same bins (the sampling floor is what a perfect prediction would show).

# %%
spec = {"data": "symmetric", "lr": 0.1, "batch": 2, "T": 0.05, "roles": ["law"]}
live = ss._one_run(ss.SMALL, spec, 0, "cpu", False)
pred = ss._predict_one(ss.SMALL, "symmetric", 0.1, 2)
p = np.asarray(live["counts"]) / live["n_samples"]
floor, se = ss._noise(p, live["min_ess"])
print(f"live: converged {live['converged']}, ESS {live['min_ess']:.0f}; TV to chain {ss._tv(p, pred['laws']['chain']):.3f}, "
      f"to SC.eq5 {ss._tv(p, pred['laws']['diffusion']):.3f}, to Boltzmann {ss._tv(p, pred['laws']['boltzmann']):.3f}; "
      f"floor {floor:.3f} ± {se:.3f}")

# %% [markdown]
# ## Non-zero curl, measured (SC.A1, SC.B1.counter)
#
# A 2-D per-sample quadratic whose noise covariance does not commute with the Hessian: SGD's
# histogram vs the Fokker–Planck non-equilibrium steady state vs the best zero-curl density, and the
# measured probability flux (mean displacement per step) vs the solver's current.

# %%
from validation.experiments import get_experiment
from validation.records import read_record


def committed(name):
    """The committed record experiment_evidence would judge (E.choose_record: the largest device), read
    as stored — its metrics equal the re-derived ones (each experiment's tests re-derive them), and
    re-running the predictions here would take most of this notebook's time budget."""
    path = E.choose_record(get_experiment(name))
    return path.name, read_record(path)


src_c, rec_c = committed("sgd_curl")
raw, pc, mc = rec_c["raw"], rec_c["prediction"], rec_c["metrics"]
counts = sum(np.asarray(h["counts"], float) for h in raw["halves"])
p_sgd = counts / counts.sum()
xs, ys = np.asarray(pc["xedges"]), np.asarray(pc["yedges"])
xc, yc = 0.5 * (xs[1:] + xs[:-1]), 0.5 * (ys[1:] + ys[:-1])
ext = [xs[0], xs[-1], ys[0], ys[-1]]
fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
for ax, q, title in ((axes[0], p_sgd, "SGD"), (axes[1], np.asarray(pc["fp_probabilities"]), "FP steady state"),
                     (axes[2], np.asarray(pc["zero_curl_probabilities"]), "best zero-curl density")):
    ax.imshow(q.T, origin="lower", extent=ext, aspect="auto")
    ax.set(title=title, xlabel="θ₁", ylabel="θ₂")
jm = 0.5 * sum(np.asarray(h["flux"], float) for h in raw["halves"])
jp = np.asarray(pc["fp_flux"], float)
X, Y = np.meshgrid(xc, yc, indexing="ij")
st = max(1, len(xc) // 12)
sl = (slice(None, None, st), slice(None, None, st))
axes[3].streamplot(xc, yc, jp[0].T, jp[1].T, color="0.6", density=0.8, linewidth=0.7)
axes[3].quiver(X[sl], Y[sl], jm[0][sl], jm[1][sl], color="C3", angles="xy")
axes[3].set(title="flux: solver (lines), SGD (arrows)", xlabel="θ₁", ylabel="θ₂")
plt.tight_layout(); plt.show()
print(src_c)
print({k: round(v, 4) for k, v in mc["tv"].items()})
print(f"circulation measured / predicted: {mc['current']['circulation_measured'] / mc['current']['circulation_predicted']:.3f}")

# %% [markdown]
# ## Escape times in discrete time (DT.sec4, DT.thm3.2)
#
# $-\log\gamma$ (log of the mean escape time in steps) on a finite-data double well against the
# regressors of DT.thm3.2: the simulator, the exact discrete-time chain (and its Gaussian-noise
# version) and the diffusion limit's exact mean first-passage time.

# %%
src_e, rec_e = committed("sgd_escape_discrete")
me = rec_e["metrics"]
dw = me["double_well"]
sweeps = list(next(iter(dw.values())))
fig, axes = plt.subplots(1, len(sweeps), figsize=(4.8 * len(sweeps), 3.6), squeeze=False)
for ax, sw in zip(axes[0], sweeps):
    for c, (name, ms) in enumerate(dw.items()):
        v = ms[sw]
        x_ = np.asarray(v["x"])
        ax.errorbar(x_, v["neg_log_gamma"]["simulator"], yerr=v["neg_log_gamma_se"], fmt="o", ms=3, color=f"C{c}",
                    label=f"{name}: simulator")
        ax.plot(x_, v["neg_log_gamma"]["chain"], "-", color=f"C{c}", lw=1)
        ax.plot(x_, v["neg_log_gamma"]["chain_gaussian"], ":", color=f"C{c}", lw=1)
    ax.plot(x_, v["neg_log_gamma"]["diffusion"], "k--", lw=1.5, label="diffusion limit")
    ax.set(xlabel=v["regressor"], ylabel="−log γ", title=f"double well vs {v['regressor']}")
axes[0][0].legend(fontsize=6)
plt.tight_layout(); plt.show()
print(src_e)
for k, r in me["summary"]["log10_simulator_over_diffusion_range"].items():
    print(f"{k}: log10(simulator / diffusion limit) in {np.round(r, 2).tolist()}")
