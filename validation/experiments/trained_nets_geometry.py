"""DT.eq7 and SC.A1 measured on trained networks: is the per-sample gradient covariance C the Hessian H
(DT.eq7: the minibatch noise covariance C/B ≈ H/B near minima), and do C and H commute (SC.A1: zero
curl at a minimum)? One training pass serves both claims.

- **measure** (PyTorch): for every data set of :mod:`numerics.datasets` in the config, ℓ2 strength
  (weight decay; 0 = none), seed and step size λ, a tanh MLP (:func:`numerics.training.mlp`, two
  hidden layers of ``hidden`` units) trained by plain minibatch SGD at T = λ/B — the members of a
  (data set, ℓ2) group trained together by :func:`numerics.training.train_sgd_ensemble`. With ℓ2
  the objective is ``U + (ℓ2/2)‖θ‖²`` in training (the ensemble's ``weight_decay``: exact ℓ2 SGD on
  its batched-matmul route) *and* in every measurement: the Hessian is that of the net
  wrapped in :class:`L2Objective` (its output carries ‖θ‖² of the parameters it is called with, so
  the penalty follows ``functional_call``) and includes ``ℓ2·I``; the per-sample gradients gain the
  common ``ℓ2·θ``, which leaves C unchanged. At every
  checkpoint (step 0 = initialisation, away from minima; the last = the trained point) on the
  training set:

  * DT.eq7 — the top-``k_top`` Hessian eigenpairs (Lanczos,
    :func:`numerics.gradstats.top_hessian_eigenpairs`), the gradient covariance projected on them
    ``UᵀCU`` and on a random ``k_random``-subspace R (``RᵀCR`` beside ``RᵀHR``)
    (:func:`numerics.gradstats.gradient_covariance`, :func:`~numerics.gradstats.projected_hessian`),
    Tr H by Hutchinson (:func:`~numerics.gradstats.hutchinson_trace`) and Tr C exactly;
  * SC.A1 — the construction of :func:`numerics.curl.minimum_curl` with the objective's Hessian:
    :func:`numerics.curl.commutator_in_subspace`, the normalised commutator
    ``c = ‖Bᵀ[C, H]B‖/(‖CB‖‖HB‖)`` in the top-``curl_k`` Hessian subspace and in ``curl_n_random``
    random subspaces (same bootstrap resamples for all), with bootstrap standard error, the noise
    floor of a sampled C and the flag ``consistent_with_zero`` (c ≤ floor + 2 SE)
    (:func:`curl_estimates`).

- **predict**: DT.eq7 — the per-sample covariance equals the Hessian, ``UᵀCU = Λ``
  (:func:`theory.escape.hessian_noise_covariance` with B = 1: ``C = H``); SC.A1 — ``[C, H] = 0``.
- **compare** (pure): per measured point, the Pearson correlation of ``log diag(UᵀCU)`` with
  ``log λ`` over the top eigendirections with λ > 0 (DT Fig. 2 compares these elements), the fitted
  constant ``c_fit = exp(mean log(diag(UᵀCU)/λ))`` in ``C ≈ c_fit·H``, the off-diagonal share of
  ``UᵀCU`` (0 when C ∝ H), the same constant in random directions and ``Tr C / Tr H``; DT.eq7's
  tolerance was fixed *before* any record was seen and is part of the config
  (``eq7_min_pearson``, ``[eq7_ratio_low, eq7_ratio_high]``), applied to every trained net; and
  ``log c_fit`` against ``log`` training loss over the trained nets (cross-entropy's empirical Fisher
  shrinks with the loss faster than the Hessian). The control phase ``model_labels`` (config
  ``model_label_control``) measures a trained net with labels drawn from its own softmax: there the
  Fisher identity holds and C ≈ H should come out with c ≈ 1. SC.A1: per point the commutator, its floor, its
  margin over the floor in SE, and whether every trained net is consistent with zero; the
  initialisation points are the positive control (the diagnostic resolves c there).

Conventions: C is the per-sample gradient covariance ``(1/N) Σ (g_i − ḡ)(g_i − ḡ)ᵀ`` (SC's D); the
minibatch noise covariance of SGD is C/B (times (N − B)/(N − 1) without replacement), so DT.eq7's
``C_DT ≈ H/B`` reads ``C ≈ H`` here.

``python -m validation run trained_nets_geometry`` runs :data:`FULL` into
``runs/trained_nets_geometry_cpu.json`` (``--force`` to replace the committed
``validation/data/trained_nets_geometry_cpu.json``, ``--resume`` after an interruption).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from validation.experiments._protocol import Experiment, source_file

__all__ = ["TrainedNetsGeometryConfig", "SMALL", "FULL", "GPU", "EXPERIMENT", "L2Objective", "objective", "measure",
           "predict", "compare", "point_metrics", "curl_estimates", "run"]


@dataclass(frozen=True)
class TrainedNetsGeometryConfig:
    """The grid (data sets × ℓ2 × seeds × λ), SGD, checkpoints, the measurement's sizes and DT.eq7's
    tolerance (set before any data were seen; module docstring).

    ``datasets`` and ``n_train`` are parallel (training-set size per data set, split by
    ``load_dataset(name, n_train, seed)``); ``checkpoints``: SGD steps at which the geometry is
    measured, increasing, the first may be 0 (initialisation), the last is the trained point;
    ``model_label_control``: also measure the first ℓ2-free net of each data set at its trained θ with
    the training labels replaced by draws from the net's own softmax (phase ``"model_labels"``: a
    well-specified model at its true parameter, where the Fisher identity behind DT.eq7 holds)."""

    datasets: tuple[str, ...] = ("digits", "breast_cancer", "wine", "mnist1d")
    n_train: tuple[int, ...] = (512, 400, 128, 1000)
    hidden: int = 16
    weight_decays: tuple[float, ...] = (0.0, 1e-3)
    seeds: tuple[int, ...] = (0, 1)
    lrs: tuple[float, ...] = (0.1,)
    batch_size: int = 32
    checkpoints: tuple[int, ...] = (0, 200, 3000)
    seed: int = 0  # the data split (load_dataset seed); the nets' seeds are `seeds`
    k_top: int = 20
    k_random: int = 8
    trace_probes: int = 30
    lanczos_tol: float = 1e-8
    curl_k: int = 8
    curl_n_random: int = 8
    n_bootstrap: int = 100
    eq7_min_pearson: float = 0.9
    eq7_ratio_low: float = 0.5
    eq7_ratio_high: float = 2.0
    model_label_control: bool = True

    def __post_init__(self):
        from numerics.datasets import DATASETS

        if not self.datasets or len(self.datasets) != len(self.n_train):
            raise ValueError(f"datasets and n_train must be non-empty and of equal length (one training-set size "
                             f"per data set); got {self.datasets} and {self.n_train}")
        bad = [d for d in self.datasets if d not in DATASETS]
        if bad:
            raise ValueError(f"unknown data set(s) {bad}; use names from {DATASETS}")
        if len(set(self.datasets)) != len(self.datasets):
            raise ValueError(f"datasets must not repeat; got {self.datasets}")
        if any(n < 8 for n in self.n_train):
            raise ValueError(f"n_train must be ≥ 8 per data set; got {self.n_train}")
        if not self.weight_decays or any(not (w >= 0 and math.isfinite(w)) for w in self.weight_decays):
            raise ValueError(f"weight_decays must be finite numbers ≥ 0; got {self.weight_decays}")
        if len(set(self.weight_decays)) != len(self.weight_decays):
            raise ValueError(f"weight_decays must not repeat; got {self.weight_decays}")
        if not self.seeds or any(s < 0 for s in self.seeds) or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct whole numbers ≥ 0; got {self.seeds}")
        if not self.lrs or any(not (lr > 0) for lr in self.lrs) or len(set(self.lrs)) != len(self.lrs):
            raise ValueError(f"lrs must be distinct numbers > 0; got {self.lrs}")
        if max(self.lrs) * max(self.weight_decays) >= 1:
            raise ValueError(f"λ·wd must be < 1 (a decaying ℓ2 step); got max λ·wd = "
                             f"{max(self.lrs) * max(self.weight_decays)}")
        if self.hidden < 1 or self.batch_size < 1:
            raise ValueError(f"hidden and batch_size must be ≥ 1; got {self.hidden}, {self.batch_size}")
        cps = self.checkpoints
        if not cps or cps[0] < 0 or cps[-1] < 1 or any(b <= a for a, b in zip(cps, cps[1:])):
            raise ValueError(f"checkpoints must be increasing SGD step counts ≥ 0 ending at the trained point "
                             f"(> 0); got {cps}")
        if self.k_top < 2 or self.k_random < 2 or self.curl_k < 2 or self.curl_n_random < 1:
            raise ValueError("k_top, k_random and curl_k must be ≥ 2 and curl_n_random ≥ 1")
        if self.curl_k > self.k_top:
            raise ValueError(f"curl_k ({self.curl_k}) must be ≤ k_top ({self.k_top}): the curl's top subspace is "
                             f"spanned by the first curl_k of the k_top Hessian eigenvectors")
        if self.trace_probes < 2 or self.n_bootstrap < 2:
            raise ValueError(f"trace_probes and n_bootstrap must be ≥ 2; got {self.trace_probes}, {self.n_bootstrap}")
        if not (self.lanczos_tol > 0):
            raise ValueError(f"lanczos_tol must be > 0; got {self.lanczos_tol}")
        if not (-1 < self.eq7_min_pearson <= 1 and 0 < self.eq7_ratio_low < 1 < self.eq7_ratio_high):
            raise ValueError("eq7_min_pearson must lie in (−1, 1] and eq7_ratio_low < 1 < eq7_ratio_high, both > 0")

    def phase(self, step: int) -> str:
        """``"init"`` (step 0), ``"trained"`` (the last checkpoint) or ``"step_<n>"``."""
        if step == self.checkpoints[-1]:
            return "trained"
        return "init" if step == 0 else f"step_{step}"


#: the committed CPU record (four data sets × ℓ2 on/off × 2 seeds: 16 nets at initialisation, after 200 steps and
#: trained, plus 4 model-label controls: 52 measured points, 217 s on the shared 2-core CPU under a load of ~10)
FULL = TrainedNetsGeometryConfig()
#: live version (a few seconds): two small data sets, ℓ2 on/off, tiny nets and subspaces
SMALL = TrainedNetsGeometryConfig(datasets=("wine", "breast_cancer"), n_train=(64, 96), hidden=8, seeds=(0,),
                                  batch_size=16, checkpoints=(0, 400), k_top=6, k_random=4, trace_probes=8,
                                  curl_k=4, curl_n_random=3, n_bootstrap=40)
#: GPU version (sized for ≤ 3 min on one H100/H200 — an untested guess until a GPU record exists): most of each
#: data set, wider nets, two step sizes, an intermediate checkpoint, bigger subspaces. The curl's bootstrap runs on
#: the CPU (:func:`numerics.curl.commutator_in_subspace` works in float64 there: ~N·p·curl_k·n_bootstrap flops per
#: subspace) and ℓ2 training takes one ensemble call per step, so both are kept moderate.
GPU = TrainedNetsGeometryConfig(n_train=(1257, 398, 124, 4000), hidden=32, lrs=(0.05, 0.1),
                                checkpoints=(0, 300, 6000), k_top=40, k_random=16, trace_probes=50, curl_k=8,
                                n_bootstrap=100)


# --------------------------------------------------------------------------------------------------
# the objective with ℓ2
# --------------------------------------------------------------------------------------------------
def L2Objective(net):
    """``net`` wrapped so that ``forward(x)`` returns ``(net(x), ‖θ‖²)`` — ‖θ‖² of the parameters
    the call uses, so that under ``torch.func.functional_call`` (the ensemble trainer's ``vmap``
    route, the Hessian-vector products of :mod:`numerics.gradstats`) the ℓ2 penalty follows the
    substituted parameters. Pair it with :func:`objective`. (A factory: torch is imported on use.)"""
    return _l2_class()(net)


@functools.lru_cache(maxsize=1)
def _l2_class():
    import torch

    class _L2Objective(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x), sum((p * p).sum() for p in self.net.parameters())

    return _L2Objective


def objective(weight_decay: float):
    """The loss of :class:`L2Objective` outputs: mean cross-entropy + ``(weight_decay/2)‖θ‖²``
    (per sample, the same penalty: its gradient ``weight_decay·θ`` is common to every sample)."""
    import torch.nn.functional as F

    wd = float(weight_decay)

    def loss(out, y):
        logits, sq = out
        return F.cross_entropy(logits, y) + 0.5 * wd * sq

    return loss


# --------------------------------------------------------------------------------------------------
# measure
# --------------------------------------------------------------------------------------------------
def _point(config, net, wd: float, X, y, Xte, yte, seed: int) -> dict:
    """DT.eq7 and SC.A1 statistics of one net at its current parameters (training set).

    The Hessian is that of the objective ``U + (wd/2)‖θ‖²`` (HVPs by double backward through
    :class:`L2Objective`); the per-sample gradients are the data gradients (the Linear-stack route of
    :func:`numerics.gradient_noise.per_sample_gradients`) plus the common ``wd·θ``, so C is the data
    gradients' covariance and ḡ the objective's gradient. The curl statistic is
    :func:`numerics.curl.commutator_in_subspace` in the top ``curl_k`` eigenvectors and in
    ``curl_n_random`` random subspaces, every subspace with the same bootstrap resamples — the
    construction of :func:`numerics.curl.minimum_curl`, here with the ℓ2 objective's Hessian."""
    import torch
    import torch.nn.functional as F

    from numerics.curl import commutator_in_subspace
    from numerics.gradient_noise import per_sample_gradients
    from numerics.gradstats import (gradient_covariance, hessian_operator, hutchinson_trace, projected_hessian,
                                    random_subspace, top_hessian_eigenpairs)

    with torch.no_grad():
        logits = net(X)
        data_loss = float(F.cross_entropy(logits, y))
        acc = float((logits.argmax(1) == y).double().mean())
        test_acc = float((net(Xte).argmax(1) == yte).double().mean())
    op = hessian_operator(L2Objective(net), objective(wd), X, y)  # kept-graph products (the default)
    eig = top_hessian_eigenpairs(op, config.k_top, tol=config.lanczos_tol, seed=seed)
    U = torch.from_numpy(np.ascontiguousarray(eig.vectors)).to(X.device, X.dtype)
    ce = F.cross_entropy
    cov_top = gradient_covariance(net, ce, X, y, basis=U).matrix
    gen = torch.Generator().manual_seed(10_000 + seed)
    R = random_subspace(op.p, config.k_random, generator=gen, dtype=X.dtype, device=X.device)
    cov_rnd = gradient_covariance(net, ce, X, y, basis=R).matrix
    hess_rnd = projected_hessian(op, R).to("cpu", torch.float64)
    tr = hutchinson_trace(op, config.trace_probes, generator=torch.Generator().manual_seed(20_000 + seed))
    G = per_sample_gradients(net, ce, X, y).to(X.dtype) + wd * op.theta
    g = G.mean(0)
    trace_C = float(((G - g) ** 2).sum(1).mean())
    gn = float(torch.linalg.vector_norm(g))

    def curl(B, kind):
        # the same resamples for every subspace (a fresh generator with one seed), as minimum_curl does
        return commutator_in_subspace(G, B, op.matvec(B), n_bootstrap=config.n_bootstrap,
                                      generator=torch.Generator().manual_seed(30_000 + seed), subspace=kind)

    top = curl(U[:, :config.curl_k], "hessian")
    rnd = [curl(random_subspace(op.p, config.curl_k, generator=gen, dtype=X.dtype, device=X.device), "random")
           for _ in range(config.curl_n_random)]
    boot = np.mean([e.bootstrap for e in rnd], axis=0)
    return {"objective": op.value, "train_loss": data_loss, "train_accuracy": acc, "test_accuracy": test_acc,
            "p": op.p, "n_samples": int(X.shape[0]), "hvp_method": op.method,
            "eigenvalues": eig.values.tolist(), "eigen_residual_max": float(np.max(eig.residuals)),
            "cov_top": cov_top.tolist(), "cov_random": cov_rnd.tolist(), "hess_random": hess_rnd.tolist(),
            "trace_C": trace_C, "trace_H": tr.value, "trace_H_stderr": tr.stderr,
            "gradient_norm": gn, "gradient_norm_ratio": gn / math.sqrt(trace_C) if trace_C > 0 else float("inf"),
            "curl": {"top": {"value": top.value, "value_projected": top.value_projected, "stderr": top.stderr,
                             "noise_floor": top.noise_floor},
                     "random": {"values": [e.value for e in rnd], "values_projected": [e.value_projected for e in rnd],
                                "noise_floors": [e.noise_floor for e in rnd],
                                "bootstrap_se": float(np.std(boot, ddof=1))}}}


def _group(config, name: str, n_train: int, wd: float, dev, progress: bool) -> list:
    """Every (seed, λ) net of one (data set, ℓ2) pair, trained together, measured at each checkpoint.

    Each member's minibatch stream for all its steps is drawn up front
    (:func:`numerics.training.sgd_index_stream`), so the checkpoints cut one SGD run; the nets train
    together on the batched-matmul route of :func:`numerics.training.train_sgd_ensemble`, ℓ2 by its
    ``weight_decay`` (θ − λ(∂L_B + wd·θ), as ``torch.optim.SGD``)."""
    import torch
    import torch.nn.functional as F

    from numerics.datasets import load_dataset
    from numerics.training import mlp, sgd_index_stream, train_sgd_ensemble

    d = load_dataset(name, n_train=n_train, seed=config.seed)
    X, y, Xte, yte = d.X_train.to(dev), d.y_train.to(dev), d.X_test.to(dev), d.y_test.to(dev)
    members = [(seed, lr) for seed in config.seeds for lr in config.lrs]
    nets = []
    for seed, _ in members:
        torch.manual_seed(seed)
        nets.append(mlp(config.hidden, X.shape[1], d.n_classes).to(dev))
    total = config.checkpoints[-1]
    streams = [sgd_index_stream(X.shape[0], config.batch_size, total,
                                torch.Generator(device=dev).manual_seed(1000 * seed + j), device=dev)
               for j, (seed, _) in enumerate(members)]
    lrs = [lr for _, lr in members]
    runs = [{"dataset": name, "n_train": n_train, "n_classes": d.n_classes, "weight_decay": wd, "seed": seed,
             "lr": lr, "batch_size": config.batch_size, "T": lr / config.batch_size, "diverged_at": None,
             "points": []} for seed, lr in members]
    done = 0
    for step in config.checkpoints:
        if step > done:
            part = [s[done:step] for s in streams]
            bad = train_sgd_ensemble(nets, F.cross_entropy, X, y, lrs=lrs, batch_sizes=[s.shape[1] for s in part],
                                     steps=[step - done] * len(nets), index_streams=part, weight_decay=wd)
            for run, b in zip(runs, bad):
                if b is not None and run["diverged_at"] is None:
                    run["diverged_at"] = done + b
            done = step
        for run, net, (seed, _) in zip(runs, nets, members):
            if run["diverged_at"] is not None:
                continue
            pt = _point(config, net, wd, X, y, Xte, yte, seed)
            run["points"].append({"phase": config.phase(step), "step": step, **pt})
            if progress:
                print(f"  {name} ℓ2={wd:g} seed={seed} λ={run['lr']:g} {config.phase(step)}: loss "
                      f"{pt['train_loss']:.3g}, curl(top) {pt['curl']['top']['value']:.3g}", flush=True)
    if config.model_label_control and not wd and runs[0]["diverged_at"] is None:
        # the control: the same θ, labels drawn from the net's own predictive distribution
        net, seed = nets[0], members[0][0]
        with torch.no_grad():
            prob = torch.softmax(net(X), dim=1).to("cpu")
        y_model = torch.multinomial(prob, 1, generator=torch.Generator().manual_seed(40_000 + seed)).squeeze(1).to(dev)
        pt = _point(config, net, 0.0, X, y_model, Xte, yte, seed)
        runs[0]["points"].append({"phase": "model_labels", "step": done, **pt})
        if progress:
            print(f"  {name} seed={seed} model labels: loss {pt['train_loss']:.3g}", flush=True)
    return runs


def measure(config: TrainedNetsGeometryConfig, device="auto", *, progress: bool = False, checkpoint=None) -> dict:
    """Train and measure every (data set, ℓ2) group (one checkpoint entry per group); the raw summary."""
    from numerics.devices import cpu_threads, device_fields, resolve_device
    from validation.checkpoint import cached

    dev = resolve_device(device)
    runs = []
    with cpu_threads(dev):  # tiny nets: one intra-op thread (no oversubscription on a shared CPU)
        for name, n in zip(config.datasets, config.n_train):
            for wd in config.weight_decays:
                runs += cached(checkpoint, ["group", name, wd],
                               lambda name=name, n=n, wd=wd: _group(config, name, n, wd, dev, progress))
    return {**device_fields(device, dev), "runs": runs}


# --------------------------------------------------------------------------------------------------
# predict and compare
# --------------------------------------------------------------------------------------------------
def predict(config: TrainedNetsGeometryConfig, raw: dict) -> dict:
    """DT.eq7 with B = 1 (the per-sample covariance): ``C = H`` — in the Hessian eigenbasis
    ``diag(UᵀCU) = λ``, constant 1 (:func:`theory.escape.hessian_noise_covariance`, symbolic); SC.A1:
    ``[C, H] = 0`` (commutator 0 in every subspace)."""
    import sympy as sp

    from theory.escape import hessian_noise_covariance

    h, lr = sp.symbols("h eta", positive=True)
    noise = hessian_noise_covariance(h, 1, lr)
    constant = sp.simplify(noise.covariance / h)
    return {"dt_eq7": {"law": f"C = {noise.covariance} (per sample; minibatch C/B = H/B)",
                       "constant": float(constant)},
            "sc_a1": {"commutator": 0.0}}


def _pearson(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def curl_estimates(raw_curl: dict) -> dict:
    """The SC.A1 estimates of one point from its raw curl numbers (pure), with the rules of
    :func:`numerics.curl.minimum_curl`: in the top-k subspace c, its bootstrap SE and noise floor;
    over the random subspaces the mean c, the SE ``hypot(SE of the subspace-mean bootstrap,
    sd of c over subspaces / √n)`` and the rms noise floor; ``consistent_with_zero``:
    ``c ≤ floor + 2 SE``; ``margin_se``: ``(c − floor)/SE``."""
    t, r = raw_curl["top"], raw_curl["random"]
    vals = np.asarray(r["values"], float)
    se_r = float(r["bootstrap_se"])
    if len(vals) > 1:
        se_r = math.hypot(se_r, float(np.std(vals, ddof=1)) / math.sqrt(len(vals)))
    out = {"top": {"value": float(t["value"]), "stderr": float(t["stderr"]), "noise_floor": float(t["noise_floor"])},
           "random": {"value": float(vals.mean()), "stderr": se_r,
                      "noise_floor": float(np.sqrt(np.mean(np.square(r["noise_floors"]))))}}
    for e in out.values():
        e["consistent_with_zero"] = bool(e["value"] <= e["noise_floor"] + 2 * e["stderr"])
        e["margin_se"] = (e["value"] - e["noise_floor"]) / e["stderr"] if e["stderr"] > 0 else float("inf")
    return out


def point_metrics(config: TrainedNetsGeometryConfig, pt: dict, constant: float = 1.0) -> dict:
    """DT.eq7 and SC.A1 numbers of one measured point (pure)."""
    lam = np.asarray(pt["eigenvalues"], float)
    Ct = np.asarray(pt["cov_top"], float)
    d = np.diag(Ct)
    pos = (lam > 0) & (d > 0)
    logr = np.log(d[pos] / lam[pos]) if pos.any() else np.array([])
    c_fit = float(np.exp(logr.mean())) / constant if pos.any() else float("nan")
    off = Ct - np.diag(d)
    Cr, Hr = np.asarray(pt["cov_random"], float), np.asarray(pt["hess_random"], float)
    hd = np.diag(Hr)
    rd = np.diag(Cr)[hd > 0] / hd[hd > 0]
    hh = float(np.sum(Hr * Hr))
    c_frob = float(np.sum(Cr * Hr) / hh) if hh > 0 else float("nan")
    r_log = _pearson(np.log(lam[pos]), np.log(d[pos])) if pos.sum() >= 3 else float("nan")
    within = bool(np.isfinite(r_log) and r_log >= config.eq7_min_pearson
                  and config.eq7_ratio_low <= c_fit <= config.eq7_ratio_high)
    curl = curl_estimates(pt["curl"])
    return {
        "train_loss": pt["train_loss"], "gradient_norm_ratio": pt["gradient_norm_ratio"],
        # N × mean loss: at a confident point about the number of samples whose label surprises the net — the
        # rare samples that carry the empirical Fisher's O(loss) part (≪ 1: the sample has none of them)
        "n_times_loss": pt["n_samples"] * pt["train_loss"],
        "eq7": {"pearson_log": r_log, "c_fit": c_fit, "n_directions": int(pos.sum()),
                "spread_log10": float(np.log10(lam[pos].max() / lam[pos].min())) if pos.sum() >= 2 else 0.0,
                "log10_ratio_sd": float(np.std(logr) / math.log(10)) if len(logr) >= 2 else 0.0,
                "offdiag_share": float(np.linalg.norm(off) / np.linalg.norm(Ct)) if np.linalg.norm(Ct) > 0 else 0.0,
                "random_median_ratio": float(np.median(rd)) if len(rd) else float("nan"),
                "random_c_frob": c_frob,
                "random_rel_residual": float(np.linalg.norm(Cr - c_frob * Hr) / np.linalg.norm(Cr))
                if np.linalg.norm(Cr) > 0 and np.isfinite(c_frob) else float("nan"),
                "trace_ratio": pt["trace_C"] / pt["trace_H"] if pt["trace_H"] > 0 else float("nan"),
                "n_negative_eigenvalues": int((lam <= 0).sum()), "within_tolerance": within},
        "curl": curl,
    }


def _label(run) -> str:
    return f"{run['dataset']}/l2={run['weight_decay']:g}/seed={run['seed']}/lr={run['lr']:g}"


def compare(config: TrainedNetsGeometryConfig, prediction: dict, raw: dict) -> dict:
    """Per-point metrics and their summaries per phase (pure; see the module docstring)."""
    const = prediction["dt_eq7"]["constant"]
    points, phases = [], []
    for run in raw["runs"]:
        for pt in run["points"]:
            m = point_metrics(config, pt, const)
            points.append({"net": _label(run), "dataset": run["dataset"], "weight_decay": run["weight_decay"],
                           "seed": run["seed"], "lr": run["lr"], "T": run["T"], "phase": pt["phase"],
                           "step": pt["step"], **m})
            if pt["phase"] not in phases:
                phases.append(pt["phase"])
    summary = {}
    for ph in phases:
        sel = [p for p in points if p["phase"] == ph]
        r = [p["eq7"]["pearson_log"] for p in sel]
        c = [p["eq7"]["c_fit"] for p in sel]
        settings = {}
        for p in sel:
            key = f"{p['dataset']}/l2={p['weight_decay']:g}"
            settings.setdefault(key, []).append(p["eq7"]["within_tolerance"])
        curl = {}
        for s in ("top", "random"):
            curl[s] = {"n_consistent_with_zero": sum(p["curl"][s]["consistent_with_zero"] for p in sel),
                       "max_value": max(p["curl"][s]["value"] for p in sel),
                       "min_value": min(p["curl"][s]["value"] for p in sel),
                       "max_noise_floor": max(p["curl"][s]["noise_floor"] for p in sel),
                       "min_noise_floor": min(p["curl"][s]["noise_floor"] for p in sel),
                       "max_margin_se": max(p["curl"][s]["margin_se"] for p in sel),
                       "min_margin_se": min(p["curl"][s]["margin_se"] for p in sel),
                       "above_floor": [p["net"] for p in sel if not p["curl"][s]["consistent_with_zero"]]}
        loss = np.array([p["train_loss"] for p in sel])
        cc = np.array(c)
        ok = np.isfinite(cc) & (cc > 0) & (loss > 0)
        if ok.sum() >= 3:
            slope, icpt = np.polyfit(np.log10(loss[ok]), np.log10(cc[ok]), 1)
            loss_fit = {"slope": float(slope), "intercept": float(icpt),
                        "pearson": _pearson(np.log10(loss[ok]), np.log10(cc[ok]))}
        else:
            loss_fit = None
        summary[ph] = {
            "n_points": len(sel),
            "eq7": {"n_within_tolerance": sum(p["eq7"]["within_tolerance"] for p in sel),
                    "all_within_tolerance": all(p["eq7"]["within_tolerance"] for p in sel),
                    "settings_within_tolerance": {k: all(v) for k, v in settings.items()},
                    "pearson_log_min": float(np.nanmin(r)) if np.isfinite(r).any() else float("nan"),
                    "pearson_log_median": float(np.nanmedian(r)) if np.isfinite(r).any() else float("nan"),
                    "c_fit_min": float(np.nanmin(c)), "c_fit_max": float(np.nanmax(c)),
                    "c_fit_median": float(np.nanmedian(c)),
                    "trace_ratio_median": float(np.nanmedian([p["eq7"]["trace_ratio"] for p in sel])),
                    "random_median_ratio_median": float(np.nanmedian([p["eq7"]["random_median_ratio"] for p in sel])),
                    "c_fit_vs_train_loss": loss_fit},
            "curl": curl,
            "all_consistent_with_zero": all(p["curl"][s]["consistent_with_zero"] for p in sel for s in ("top", "random")),
            "train_loss_range": [float(loss.min()), float(loss.max())],
            "gradient_norm_ratio_max": max(p["gradient_norm_ratio"] for p in sel),
        }
    return {"points": points, "phases": phases, "summary": summary,
            "tolerance": {"eq7_min_pearson": config.eq7_min_pearson,
                          "eq7_ratio_range": [config.eq7_ratio_low, config.eq7_ratio_high]},
            "n_diverged": sum(r["diverged_at"] is not None for r in raw["runs"]), "n_nets": len(raw["runs"])}


def run(config: TrainedNetsGeometryConfig = None, device="auto", out=None, *, progress: bool = False,
        force: bool = False, resume: bool = False) -> dict:
    """measure → predict → compare (default config: :data:`FULL`); a record at ``out`` when given."""
    return EXPERIMENT.run(config, device, out, progress=progress, force=force, resume=resume)


def _summary(rec):
    s = rec["metrics"]["summary"]
    for ph, v in s.items():
        e, c = v["eq7"], v["curl"]
        yield (f"{ph}: DT.eq7 within tolerance {e['n_within_tolerance']}/{v['n_points']} (Pearson log ≥ "
               f"{e['pearson_log_min']:.3f}, C ≈ c·H with c in [{e['c_fit_min']:.3g}, {e['c_fit_max']:.3g}]); SC.A1 "
               f"consistent with zero top {c['top']['n_consistent_with_zero']}/{v['n_points']}, random "
               f"{c['random']['n_consistent_with_zero']}/{v['n_points']} (floors ≤ {c['top']['max_noise_floor']:.3g})")


def _work(config, raw) -> tuple:
    return sum(len(r["points"]) for r in raw["runs"]), "measured points"


EXPERIMENT = Experiment(
    name="trained_nets_geometry", claims=("DT.eq7", "SC.A1"), config_type=TrainedNetsGeometryConfig, SMALL=SMALL,
    FULL=FULL, GPU=GPU, measure=measure, predict=predict, compare=compare, record_stem="trained_nets_geometry",
    estimates={"small": {"cpu": 10, "gpu": 10}, "full": {"cpu": 220, "gpu": 60}, "gpu": {"cpu": 20000, "gpu": 180}},
    description="Trained MLPs on digits, breast cancer, wine and MNIST-1D with and without ℓ2: the per-sample "
                "gradient covariance against the Hessian in its top eigenbasis (DT.eq7) and the commutator [C, H] "
                "with its noise floor (SC.A1), at initialisation and at the trained point.",
    summary=_summary, inputs=source_file(__file__), work=_work)


def main(argv=None) -> int:
    """``python -m validation.experiments.trained_nets_geometry ARGS`` = ``python -m validation run
    trained_nets_geometry ARGS``."""
    from validation.__main__ import run_main

    return run_main(EXPERIMENT.name, argv)


if __name__ == "__main__":
    raise SystemExit(main())
