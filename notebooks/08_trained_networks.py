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
# # 08 — Trained networks: your own model on the bench
#
# `validation.bench(model, loss_fn, train, test, T=...)` asks the papers' questions of a network
# *you* trained, at its current parameters: the Hessian and gradient-noise spectra, DT.eq7 (is the
# per-sample noise covariance $D$ the Hessian $H$?), the zero-curl assumption SC.A1 (do $D$ and $H$
# commute?), SC.B2.cov (the stationary covariance $(T/2)C^{-1}D$ against the Lyapunov solution of
# $C\Sigma + \Sigma C = TD$), the train→test line of SC §3 / App. F with the shift
# $s = \theta^{test} - \theta^{tr}$, and the SC.eq4 decomposition
# $U^{test}(\theta^{tr}) \approx U^{test}(\theta^{test}) + \tfrac12 s^\top C^{test} s$.
#
# Here: a small tanh MLP trained by SGD at $T = \lambda/B$ on scikit-learn's digits — any
# `nn.Module` works the same way (the tests run one with a custom `forward`). Every number in
# the prose below is printed from the result, not typed.

# %%
# %matplotlib inline
import numpy as np
import torch
from IPython.display import Markdown, display

from numerics.datasets import load_dataset
from numerics.training import mlp, train_sgd
from validation import bench

torch.set_num_threads(1)                 # a small MLP: one CPU thread is fastest (bench does the same)
LR, BATCH = 0.1, 10                      # SGD step and batch size: T = λ/B
data = load_dataset("digits", n_train=512, seed=0)
torch.manual_seed(0)
model = mlp(32, data.n_features, data.n_classes)   # 64 → 32 → 32 → 10, float64
loss_fn = torch.nn.functional.cross_entropy
train_sgd(model, loss_fn, data.X_train, data.y_train, lr=LR, batch_size=BATCH, steps=800,
          generator=torch.Generator().manual_seed(0))
train, test = (data.X_train, data.y_train), (data.X_test, data.y_test)

# %%
result = bench(model, loss_fn, train, test, T=LR / BATCH)
print(result.table())

# %%
fig = result.plot()
display(fig)

# %% [markdown]
# ## Reading the panels
#
# **Spectra and DT.eq7.** DT.eq7 says the minibatch noise covariance is $C_B \approx H/B$; with
# minibatches drawn with replacement $C_B = D/B$, so the claim is $D \approx cH$ with $c = 1$ for
# every batch size — bench fits $c$ in the top-$k$ Hessian eigenbasis and correlates
# $u_i^\top D u_i$ with $\lambda_i$.

# %%
e7 = result.dt_eq7
display(Markdown(
    f"Fitted constant $c$ = {e7.constant:.3g} (DT.eq7: 1), Pearson($u_i^\\top D u_i$, $\\lambda_i$) = "
    f"{e7.pearson:.3f}, relative residual {e7.relative_residual:.2f}. The top eigenvalues: Hessian "
    f"{result.spectra.hessian[0]:.3g}, gradient covariance {result.spectra.noise[0]:.3g} "
    f"(train loss {result.train_loss:.3g})."))

# %% [markdown]
# A constant well below 1 with a high Pearson correlation means: aligned, but the *empirical*
# per-sample covariance is much smaller than the Hessian. DT.eq7 rests on the Fisher identity, which
# needs the labels to follow the model's own predictive law — a network that fits its training labels
# does not (see `python -m validation claims DT.eq7` for the ledger's verdict and its condition).
#
# **The curl (SC.A1).** At a minimum the Jacobian of SC.eq5's field reduces to $D^{-1}H$, symmetric
# iff $[D, H] = 0$. bench reports the normalised commutator with its sampling-noise floor — a value
# at or below the floor is indistinguishable from zero with this many samples.

# %%
cu = result.curl
display(Markdown(
    f"Top-$k$ Hessian subspace: {cu.top:.3g} ± {cu.top_stderr:.2g} (noise floor {cu.top_noise_floor:.3g}, "
    f"consistent with zero: {cu.top_consistent_with_zero}); random subspaces: {cu.random:.3g} "
    f"(floor {cu.random_noise_floor:.3g}). ‖∂U‖ / rms‖gᵢ − ḡ‖ = {cu.gradient_norm_ratio:.3g} "
    f"(the reduction to $D^{{-1}}H$ needs this ≪ 1, i.e. θ near a minimum)."))

# %% [markdown]
# **SC.B2.cov.** In the top-$k$ subspace the stationary covariance predicted at leading order,
# $(T/2)C^{-1}D$, is a covariance only when $C$ and $D$ commute; the Lyapunov solution is the exact
# Ornstein–Uhlenbeck answer either way. Their distance measures the same non-commutation as the
# curl panel, in covariance units.

# %%
b2 = result.sc_b2
display(Markdown(
    f"‖(T/2)C⁻¹D − Σ_Lyapunov‖/‖Σ_Lyapunov‖ = {b2.relative_difference:.3g}; asymmetry of C⁻¹D "
    f"{b2.asymmetry:.3g}." if b2.available else f"SC.B2 not available here: {b2.reason}"))

# %% [markdown]
# **The line and SC.eq4.** From the trained point, full-batch descent on the train set gives
# $\theta^{tr}$ and on the test set $\theta^{test}$; the losses on $\theta^{tr} + \alpha s$ are fitted
# by SC App. F's symmetrised parabolas. SC.eq4 (one basin, no bias) then predicts the test loss at the
# train minimum from the test minimum's depth plus the shift-curvature — once with the curvature along
# the line (the fit) and once with the exact Hessian form $s^\top C^{test} s$ at $\theta^{test}$.

# %%
ln, eq4 = result.line, result.sc_eq4
display(Markdown(
    f"‖s‖ = {ln.shift_norm:.3g}; κ_test (fit) = {ln.fit.kappa_test:.3g} vs $s^\\top C^{{test}} s$ = "
    f"{ln.quadratic_form_test:.3g}. Measured $U^{{test}}(\\theta^{{tr}})$ = {eq4.measured:.4g}; depth "
    f"{eq4.depth:.4g}; predicted {eq4.predicted_fit:.4g} with the fit (relative error "
    f"{eq4.relative_error_fit:.2g}) and {eq4.predicted:.4g} with the Hessian form (relative error "
    f"{eq4.relative_error:.2g}). The gap between the two is how far the test loss along $s$ is from a "
    f"parabola with the curvature at its minimum. On the grid the losses are lowest at α = "
    f"{ln.train_argmin_alpha:.2g} (train) and {ln.test_argmin_alpha:.2g} (test); the polishes (full-batch "
    f"steps of 0.05, as in the `shift_curvature` experiment) end with gradient norms "
    f"{ln.gradient_norm_train:.2g} and {ln.gradient_norm_test:.2g} — polishing further on a net that can fit "
    f"its test set drives the depth and $C^{{test}}$ towards zero and the Hessian form further from the fit."))

# %% [markdown]
# ## A subspace: the last layer only
#
# `params=[...]` (names or tensors) restricts every measurement — spectra, noise, curl, the polishes
# and the line — to those parameters; the others stay fixed.

# %%
last = [n for n, _ in model.named_parameters()][-2:]
sub = bench(model, loss_fn, train, test, T=LR / BATCH, params=last, k=4, polish_steps=200)
print(last, "p =", sub.p)
print(sub.table())

# %% [markdown]
# ## The trained-net experiments of the ledger
#
# The same measurements, run as registered experiments over grids of temperatures, seeds and data
# sets, with committed records and verdicts: `python -m validation run NAME`, and
# `python -m validation where ID` lists every function, check, experiment, record and test citing a
# claim. The cell below prints, for the trained-net claims, which experiments and checks cite them
# (read from the sources, nothing imported or run): SC.fig1-3 (`shift_curvature`), TF.4.1 / SC.fig5
# (`temperature_scan`), TF.4.3 (`memorization`), and the claims the new trained-net experiments
# measure — DT.eq7, SC.B2.cov / SC.B2.bias and SC.A1.

# %%
from validation.where import where

for cid in ("SC.fig1-3", "TF.4.1", "TF.4.3", "DT.eq7", "SC.B2.cov", "SC.B2.bias", "SC.A1"):
    cites = where(cid)
    exps = sorted({c.name.split(".")[2] for c in cites if c.kind == "experiment" and c.name.startswith(
        "validation.experiments.")})
    checks = sorted({c.name for c in cites if c.kind == "check" and c.via == "@check"})
    print(f"{cid:11s} experiments: {', '.join(exps) or '—'}")
    print(f"{'':11s} checks: {len(checks)}   (python -m validation where {cid})")
