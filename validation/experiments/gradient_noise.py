"""DT.fig1 / SC.eq23 on a real network: is minibatch SGD noise Gaussian, and do its cumulants follow
the SGD step-cumulant law?

- **measure** (PyTorch): train a 3-layer fully connected net (as in DT Fig. 1) on the scikit-learn
  ``digits`` images (8×8, shipped with the package: a small real data set, offline) with SGD; at the
  trained point compute the per-sample gradients, then draw minibatch gradient noise
  ξ = ḡ_batch − ḡ for several batch sizes B, and Gaussian noise with the same covariance D/B.
- **predict** (theory): the per-sample gradient cumulants ω_2, ω_3, ω_4 along fixed directions are
  pushed through ``theory.kramers_moyal.sgd_step_cumulants`` (SC.eq23: κ_γ = B(−T)^{|γ|}ω_γ) to the
  standardized skewness and excess kurtosis of one SGD step at each B.
- **compare**: (i) DT.fig1's statement as a number — the two-sample Kolmogorov–Smirnov distance between
  the norms ‖ξ‖ of minibatch noise and of the Gaussian reference (DT Fig. 1 c vs d compares these
  histograms), required below ``ks_tolerance`` for every B ≥ 16; (ii) measured vs predicted excess
  kurtosis along the principal directions of D, in units of its standard error (batch means).

``python -m validation run gradient_noise`` runs the full version and writes a record
(``runs/dt_fig1_cpu.json``) (``--force`` to replace the committed ``validation/data/dt_fig1_cpu.json``,
``--resume`` after an interruption); the ledger check runs a small version live.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from validation.experiments._protocol import Experiment, source_file
from validation.ledger import PaperRange

__all__ = ["GradientNoiseConfig", "SMALL", "FULL", "GPU", "EXPERIMENT", "PAPER_RANGE", "KURTOSIS_Z_TOLERANCE",
           "measure", "predict", "predict_all", "compare", "run"]


@dataclass(frozen=True)
class GradientNoiseConfig:
    batch_sizes: tuple[int, ...] = (1, 4, 16, 64, 256)
    n_batches: int = 4000
    hidden: int = 64
    train_epochs: int = 30
    lr: float = 0.05
    train_batch: int = 32
    n_principal: int = 4
    n_random: int = 4
    seed: int = 0
    gaussian_from_batch: int = 16
    ks_tolerance: float = 0.1
    groups: int = 10  # batch-means groups for standard errors
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if any(b < 1 for b in self.batch_sizes):
            raise ValueError(f"batch_sizes must be ≥ 1; got {self.batch_sizes}")
        if self.n_batches < 10 * self.groups:
            raise ValueError(f"n_batches must be ≥ 10·groups = {10 * self.groups}; got {self.n_batches}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0; got {self.lr}")


#: The small version the ledger check runs live on CPU (a few seconds).
SMALL = GradientNoiseConfig(batch_sizes=(1, 16, 64), n_batches=1000, hidden=16, train_epochs=8,
                            n_principal=3, n_random=2, groups=10)
#: The full version: the committed CPU record ``validation/data/dt_fig1_cpu.json`` (about 20 min on
#: one CPU core).
FULL = GradientNoiseConfig()
#: The GPU version (about 1–3 min on one H100/H200): the full protocol with a wider net, twice the
#: noise draws and B up to 1024.
GPU = GradientNoiseConfig(batch_sizes=(1, 4, 16, 64, 256, 1024), n_batches=8000, hidden=128)

#: DT §2 (Fig. 1, three-layer MLP on MNIST; App. C, ResNet18 at B = 50): the Gaussian picture "holds
#: well at least when the batch size B is larger than 16" — the verdict is computed on B ≥ 16, and
#: smaller batches are reported as a finding (validation/checks/README.md).
PAPER_RANGE = PaperRange("B", 16, None, "DT §2, Fig. 1 (B ≥ 16; App. C: B = 50)")
#: the kurtosis law (SC.eq23) holds when the median |measured − predicted| is below this many
#: standard errors
KURTOSIS_Z_TOLERANCE = 3.0


def _cumulants_1d(x):
    """Population cumulants k2, k3, k4 of the empirical distribution of the columns of x."""
    c = x - x.mean(dim=0)
    m2, m3, m4 = (c**2).mean(0), (c**3).mean(0), (c**4).mean(0)
    return m2, m3, m4 - 3 * m2**2


def measure(config: GradientNoiseConfig, device="auto", *, progress: bool = False, checkpoint=None) -> dict:
    """Train the net with SGD, then measure gradient-noise statistics. Returns the raw summary.

    With a :class:`~validation.checkpoint.Checkpoint`, the statistics of every (checkpoint, B) are
    saved with the random-number states after them (key ``["noise", "initial"|"trained", B]``), so
    a resumed run skips them, replays the cheap training in between, and gives the same numbers."""
    import torch

    from numerics.devices import device_fields, resolve_device
    from numerics.training import digits_shuffled, mlp

    dev = resolve_device(device)
    torch.manual_seed(config.seed)
    gen = torch.Generator(device=dev).manual_seed(config.seed)
    X, y = digits_shuffled(config.seed)
    X, y = X.to(dev), y.to(dev)
    model = mlp(config.hidden, X.shape[1], int(y.max()) + 1).to(dev)
    loss_fn = torch.nn.functional.cross_entropy
    opt = torch.optim.SGD(model.parameters(), lr=config.lr)
    n = X.shape[0]
    initial = _noise_statistics(config, model, loss_fn, X, y, gen, checkpoint=checkpoint, phase="initial")
    epochs = range(config.train_epochs)
    if progress:
        from numerics._progress import progress_bar

        epochs = progress_bar(epochs, desc="train", unit="epoch")
    for _ in epochs:
        perm = torch.randperm(n, generator=gen, device=dev)
        for s in range(0, n, config.train_batch):
            idx = perm[s:s + config.train_batch]
            opt.zero_grad()
            loss = loss_fn(model(X[idx]), y[idx])
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"SGD diverged (loss {loss.item()}) at lr={config.lr}: the diffusion approximation "
                    f"broke down; lower the learning rate")
            loss.backward()
            opt.step()
    trained = _noise_statistics(config, model, loss_fn, X, y, gen, checkpoint=checkpoint, phase="trained")
    return {
        **device_fields(device, dev),  # the device used, and a note if CUDA was asked for but absent
        "n_samples": n,
        "directions": ["principal"] * config.n_principal + ["random"] * config.n_random,
        "checkpoints": {"initial": initial, "trained": trained},
    }


def _rng_state(gen, dev) -> dict:
    """The torch random states a measurement consumes (``gen``, the global CPU generator —
    ``torch.svd_lowrank`` draws from it — and the global CUDA one on a GPU), as JSON lists."""
    import torch

    return {"gen": gen.get_state().tolist(), "cpu": torch.get_rng_state().tolist(),
            "cuda": torch.cuda.get_rng_state(dev).tolist() if dev.type == "cuda" else None}


def _set_rng_state(state: dict, gen, dev) -> None:
    import torch

    gen.set_state(torch.tensor(state["gen"], dtype=torch.uint8))
    torch.set_rng_state(torch.tensor(state["cpu"], dtype=torch.uint8))
    if state.get("cuda") is not None and dev.type == "cuda":
        torch.cuda.set_rng_state(torch.tensor(state["cuda"], dtype=torch.uint8), dev)


def _noise_statistics(config, model, loss_fn, X, y, gen, *, checkpoint=None, phase: str = "") -> dict:
    import torch

    from numerics.gradient_noise import per_sample_gradients, principal_directions
    from validation.checkpoint import cached

    dev = X.device
    with torch.no_grad():
        train_loss = float(loss_fn(model(X), y))
        train_acc = float((model(X).argmax(1) == y).double().mean())
    G = per_sample_gradients(model, loss_fn, X, y)
    p = G.shape[1]
    P = principal_directions(G, config.n_principal)
    R = torch.randn(p, config.n_random, generator=gen, dtype=G.dtype, device=dev)
    R = R / R.norm(dim=0)
    dirs = torch.cat([P, R], dim=1)
    k2, k3, k4 = _cumulants_1d(G @ dirs)
    per_batch = {}
    for B in config.batch_sizes:
        if checkpoint is None:
            per_batch[str(B)] = _batch_statistics(config, G, dirs, B, gen)
            continue
        entry = cached(checkpoint, ["noise", phase, B],
                       lambda B=B: {"stats": _batch_statistics(config, G, dirs, B, gen),
                                    "rng": _rng_state(gen, dev)})
        _set_rng_state(entry["rng"], gen, dev)  # a no-op unless the entry came from the checkpoint
        per_batch[str(B)] = entry["stats"]
    return {
        "n_parameters": p,
        "train_loss": train_loss,
        "train_accuracy": train_acc,
        "per_sample_cumulants": {"k2": k2.tolist(), "k3": k3.tolist(), "k4": k4.tolist()},
        "per_batch": per_batch,
    }


def _batch_statistics(config, G, dirs, B: int, gen) -> dict:
    """Minibatch noise at batch size B against its Gaussian reference: moments along ``dirs``, their
    batch-means standard errors, and the KS distance between the noise norms."""
    import torch
    from scipy.stats import ks_2samp

    from numerics.gradient_noise import gaussian_reference_noise, minibatch_noise, standardized_moments

    xi = minibatch_noise(G, B, config.n_batches, generator=gen)
    ref = gaussian_reference_noise(G, B, config.n_batches, generator=gen)
    proj = xi @ dirs
    skew, kurt = standardized_moments(proj)
    grp = proj.reshape(config.groups, -1, proj.shape[1])
    kurt_g = torch.stack([standardized_moments(g)[1] for g in grp])
    ks = ks_2samp(xi.norm(dim=1).cpu().numpy(), ref.norm(dim=1).cpu().numpy())
    return {
        "skewness": skew.tolist(),
        "excess_kurtosis": kurt.tolist(),
        "excess_kurtosis_se": (kurt_g.std(dim=0) / math.sqrt(config.groups)).tolist(),
        "ks_norm_distance": float(ks.statistic),
        "ks_norm_pvalue": float(ks.pvalue),
        "mean_norm_minibatch": float(xi.norm(dim=1).mean()),
        "mean_norm_gaussian": float(ref.norm(dim=1).mean()),
    }


def predict(per_sample_cumulants: dict, batch_sizes) -> dict:
    """SC.eq23 prediction of the standardized skewness/excess kurtosis of the minibatch noise.

    For each direction the per-sample cumulants (ω_2, ω_3, ω_4) are mapped by
    ``theory.kramers_moyal.sgd_step_cumulants`` (λ = 1, batch B) to step cumulants κ_n; the
    standardized values are κ_3/κ_2^{3/2} (sign flips with the step's minus sign) and κ_4/κ_2².
    """
    import sympy as sp

    from theory.kramers_moyal import sgd_step_cumulants

    w2, w3, w4, Bs = sp.symbols("omega2 omega3 omega4 B", positive=True)
    kap = sgd_step_cumulants({(2,): w2, (3,): w3, (4,): w4}, 1, Bs)
    skew_expr = sp.simplify(-kap[(3,)] / kap[(2,)] ** sp.Rational(3, 2))  # ξ = −Δ
    kurt_expr = sp.simplify(kap[(4,)] / kap[(2,)] ** 2)
    f_skew = sp.lambdify((w2, w3, Bs), skew_expr)
    f_kurt = sp.lambdify((w2, w4, Bs), kurt_expr)
    out = {}
    c = per_sample_cumulants
    for B in batch_sizes:
        out[str(B)] = {
            "skewness": [float(f_skew(a, b, B)) if a > 0 else 0.0 for a, b in zip(c["k2"], c["k3"])],
            "excess_kurtosis": [float(f_kurt(a, b, B)) if a > 0 else 0.0 for a, b in zip(c["k2"], c["k4"])],
        }
    return {"per_batch": out, "skewness_law": str(skew_expr), "kurtosis_law": str(kurt_expr)}


def compare(config: GradientNoiseConfig, prediction: dict, raw: dict) -> dict:
    """Metrics per checkpoint (``initial``, ``trained``); a pure function of raw and prediction."""
    return {name: _compare_one(config, prediction[name], cp) for name, cp in raw["checkpoints"].items()}


def _compare_one(config: GradientNoiseConfig, prediction: dict, raw: dict) -> dict:
    """Kurtosis law is compared for B ≥ ``gaussian_from_batch`` only: for smaller B the population
    kurtosis of a trained net's per-sample gradients is huge and the sample estimator is dominated by
    rare samples (biased low), so its standard error means little."""
    ks = {B: raw["per_batch"][B]["ks_norm_distance"] for B in raw["per_batch"]}
    big = [B for B in ks if int(B) >= config.gaussian_from_batch]
    z = {}
    for B, m in raw["per_batch"].items():
        if int(B) < config.gaussian_from_batch:
            continue
        pk = prediction["per_batch"][B]["excess_kurtosis"]
        zs = [abs(mk - p_) / max(se, 1e-12) for mk, p_, se in
              zip(m["excess_kurtosis"], pk, m["excess_kurtosis_se"])]
        z[B] = sorted(zs)[len(zs) // 2]
    gaussian_ok = all(ks[B] < config.ks_tolerance for B in big)
    return {
        "ks_norm_distance": ks,
        "ks_tolerance": config.ks_tolerance,
        "gaussian_from_batch": config.gaussian_from_batch,
        "gaussian_for_large_batches": gaussian_ok,
        "kurtosis_median_abs_z": z,
        "kurtosis_law_ok": all(v < KURTOSIS_Z_TOLERANCE for v in z.values()),
        "max_abs_excess_kurtosis": {B: max(abs(k) for k in m["excess_kurtosis"])
                                    for B, m in raw["per_batch"].items()},
    }


def predict_all(config: GradientNoiseConfig, raw: dict) -> dict:
    """:func:`predict` for every checkpoint (``initial``, ``trained``) of the raw summary."""
    return {name: predict(cp["per_sample_cumulants"], config.batch_sizes)
            for name, cp in raw["checkpoints"].items()}


def run(config: GradientNoiseConfig = None, device="auto", out=None, *,
        progress: bool = False, force: bool = False, resume: bool = False) -> dict:
    """measure → predict → compare (default config: :data:`FULL`); write a record to ``out`` when
    given (``force``: replace an existing file; ``resume``: reuse the finished statistics of an
    interrupted run — see :func:`validation.experiments.run_experiment`)."""
    return EXPERIMENT.run(config, device, out, progress=progress, force=force, resume=resume)


def _summary(rec):
    for name, m in rec["metrics"].items():
        yield f"{name} {({k: m[k] for k in ('ks_norm_distance', 'kurtosis_median_abs_z')})}"


EXPERIMENT = Experiment(
    name="gradient_noise", claims=("DT.fig1", "SC.eq23"), config_type=GradientNoiseConfig, SMALL=SMALL, FULL=FULL,
    GPU=GPU, measure=measure, predict=predict_all, compare=compare, record_stem="dt_fig1",
    estimates={"small": {"cpu": 15, "gpu": 15}, "full": {"cpu": 1200, "gpu": 60}, "gpu": {"cpu": 5000, "gpu": 150}},
    description="Minibatch gradient noise of a real MLP on digits: is it Gaussian for B ≥ 16 (DT Fig. 1), and do "
                "its cumulants follow the SGD step-cumulant law?",
    summary=_summary, inputs=source_file(__file__))


def main(argv=None) -> int:
    """``python -m validation.experiments.gradient_noise ARGS`` = ``python -m validation run
    gradient_noise ARGS``."""
    from validation.__main__ import run_main

    return run_main(EXPERIMENT.name, argv)


if __name__ == "__main__":
    raise SystemExit(main())
