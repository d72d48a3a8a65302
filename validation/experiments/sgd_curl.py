"""Non-zero curl, measured (SC.A1, SC.B1.counter, SC.eq5, SC.eq10): SGD's stationary law and its
probability current on a 2-D per-sample model whose gradient-noise covariance D does not commute
with the Hessian.

Model: ``L(x, θ) = ½(h₁θ₁² + h₂θ₂²) + x·θ`` on N two-dimensional samples whose empirical
covariance is exactly ``Σ = [[1, c], [c, 1]]`` (mean 0). Then ``U = ½θᵀHθ``, ``H = diag(h₁, h₂)``,
and the per-sample gradient covariance is ``D = Σ`` (constant). With ``h₁ ≠ h₂`` and ``c ≠ 0``,
``HD ≠ DH``: the drift field ``D⁻¹∂U = Σ⁻¹Hθ`` has a non-symmetric Jacobian, so SC.A1 (zero curl)
fails and SC.B1.counter says no ``J = 0`` steady state exists — the law is not ``exp(−2v/T)`` for
any v, and it carries a circulating current.

* **measure** — :func:`numerics.sgd.simulate_sgd` (finite data, B samples with replacement,
  ``T = λ/B``) in two independent halves (seeds ``seed``, ``seed + 1``), each observing a
  :class:`numerics.sgd.Histogram2D` and the *midpoint current* (:class:`MidpointCurrent`): every
  step's displacement ``Δθ/λ`` counted at the cell of its midpoint ``½(θ_t + θ_{t+1})`` — the
  Stratonovich estimator of the (usual) probability flux density ``j = −J``, which vanishes under
  detailed balance. The two halves give the sampling error (their TV distance / 2 is the
  pooled histogram's sampling TV; half their current difference is the pooled current's error).
* **predict** — :class:`numerics.fokker_planck.FokkerPlanckSolver` (SC.eq10) on a grid twice as
  fine as the histogram: the non-equilibrium steady state ρ, its current J (SC sign: J = −flux)
  and the best zero-curl density ``exp(−½θᵀKθ)`` — K symmetric, the ρ-weighted least-squares fit of
  ∂φ = −Kθ to the J = 0 field ``−(2/T)D⁻¹∂U`` (``KC + CK = AC + CAᵀ``, A = (2/T)Σ⁻¹H, C the solver's
  covariance) — and the density with the curl simply dropped (K = sym A), all aggregated to the
  histogram's cells. (The solver's own ``detailed_balance_distance`` best fit — φ free on the grid,
  ρ-weighted — is recorded as ``solver_best_fit_l1``: the same distance as the quadratic fit's to ~0.002); and the exact Gaussian laws: the continuous Lyapunov covariance
  (``HC + CH = T·Σ``) and SGD's discrete-time one (``C = (I − λH)C(I − λH) + λ²Σ/B``).
* **compare** (pure) — TV distances of the SGD histogram to the FP steady state, to the best
  zero-curl density and to the discrete-time Gaussian, each against the sampling TV; the current:
  the measured flux vs ``−J`` (relative L2 error, correlation over the cells carrying 90 % of the
  mass) and the circulation (mean angular momentum ``⟨θ₁j₂ − θ₂j₁⟩``) measured vs predicted.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from validation.experiments._protocol import Experiment, source_file

__all__ = ["SgdCurlConfig", "SMALL", "FULL", "GPU", "EXPERIMENT", "MidpointCurrent", "training_set", "measure",
           "predict", "compare", "box"]


@dataclass(frozen=True)
class SgdCurlConfig:
    """Model, SGD and grid parameters (module docstring)."""

    h1: float = 1.0
    h2: float = 4.0
    c: float = 0.6
    n_data: int = 1000
    lr: float = 0.005
    batch_size: int = 1
    n_chains: int = 20_000
    n_steps: int = 3000
    burn_in: int = 1000
    bins: int = 32
    box_sd: float = 4.5
    fp_refine: int = 2
    seed: int = 0
    tv_tolerance: float = 0.02

    def __post_init__(self):
        if not (self.h1 > 0 and self.h2 > 0):
            raise ValueError(f"h1 and h2 must be > 0 (a minimum); got {self.h1}, {self.h2}")
        if not -1 < self.c < 1:
            raise ValueError(f"c must be in (−1, 1) (Σ positive definite); got {self.c}")
        if self.n_data < 3 or self.n_chains < 20 or self.batch_size < 1 or self.bins < 4 or self.fp_refine < 1:
            raise ValueError("n_data >= 3, n_chains >= 20, batch_size >= 1, bins >= 4 and fp_refine >= 1 are required")
        if not 0 <= self.burn_in < self.n_steps:
            raise ValueError(f"0 <= burn_in < n_steps is required; got {self.burn_in}, {self.n_steps}")
        if not (self.lr > 0 and self.box_sd > 0 and self.tv_tolerance > 0):
            raise ValueError("lr, box_sd and tv_tolerance must be > 0")
        if self.lr * max(self.h1, self.h2) >= 1:
            raise ValueError(f"λ·max(h) = {self.lr * max(self.h1, self.h2)} must be < 1 (stable, non-oscillating SGD)")

    @property
    def T(self) -> float:
        return self.lr / self.batch_size


#: committed CPU record (22 s measured on a loaded 2-core machine)
FULL = SgdCurlConfig()
#: live version (seconds)
SMALL = SgdCurlConfig(n_data=200, n_chains=4000, n_steps=1500, burn_in=600, bins=16, lr=0.01)
#: GPU version (sized for 1–3 min on one H100/H200; untested on a GPU): 100× the chain-steps, finer bins
GPU = SgdCurlConfig(n_chains=1_000_000, n_steps=6000, burn_in=1500, bins=48)


# --------------------------------------------------------------------------------------------------
def training_set(config: SgdCurlConfig) -> np.ndarray:
    """N samples (N, 2) with mean 0 and population covariance exactly Σ = [[1, c], [c, 1]]."""
    rs = np.random.RandomState(config.seed)
    z = rs.normal(size=(config.n_data, 2))
    z = z - z.mean(0)
    L = np.linalg.cholesky(np.cov(z.T, bias=True))
    z = z @ np.linalg.inv(L).T  # whitened exactly
    S = np.array([[1.0, config.c], [config.c, 1.0]])
    return z @ np.linalg.cholesky(S).T


def _lyapunov(config: SgdCurlConfig) -> tuple[np.ndarray, np.ndarray]:
    """(continuous, discrete-time) stationary covariance of θ."""
    from scipy.linalg import solve_continuous_lyapunov, solve_discrete_lyapunov

    H = np.diag([config.h1, config.h2])
    S = np.array([[1.0, config.c], [config.c, 1.0]])
    # FP (SC.eq10): J = Hθρ + (T/2) Σ ∂ρ → HC + CH = T Σ
    cont = solve_continuous_lyapunov(-H, -config.T * S)
    A = np.eye(2) - config.lr * H
    disc = solve_discrete_lyapunov(A, config.lr ** 2 * S / config.batch_size)
    return cont, disc


def box(config: SgdCurlConfig) -> list[tuple[float, float]]:
    """The histogram box: ±box_sd discrete-time standard deviations per axis."""
    _, disc = _lyapunov(config)
    return [(-config.box_sd * math.sqrt(disc[i, i]), config.box_sd * math.sqrt(disc[i, i])) for i in range(2)]


def MidpointCurrent(xrange, yrange, bins: int, lr: float):
    """An observer for :func:`numerics.sgd.simulate_sgd` that accumulates ``Σ Δθ/λ`` per cell of the
    midpoint ``½(θ_t + θ_{t+1})`` over the sampling window (and the number of displacements), on a
    ``bins × bins`` grid of the box. The flux density estimate is ``sums / (n_displacements · cell
    area)``: the Stratonovich estimator of the usual probability flux j (= −J in SC's sign), which
    vanishes under detailed balance. (A factory: the class is built on first use, so importing this
    module does not import torch.)"""
    return _midpoint_current_class()(xrange, yrange, bins, lr)


@functools.lru_cache(maxsize=1)
def _midpoint_current_class():
    from numerics.sgd import _Observer  # the simulator's observer interface (bind/update/result)

    class _MidpointCurrent(_Observer):
        def __init__(self, xrange, yrange, bins, lr):
            self.xr, self.yr, self.n, self.lr = tuple(xrange), tuple(yrange), int(bins), float(lr)

        def bind(self, p, device, dtype, n_steps):
            import torch

            self.sums = torch.zeros((2, self.n * self.n + 1), dtype=dtype, device=device)
            self.count = torch.zeros((), dtype=dtype, device=device)
            self._sx = self.n / (self.xr[1] - self.xr[0])
            self._sy = self.n / (self.yr[1] - self.yr[0])
            self.prev = None

        def start_chunk(self, n, offset):
            self.prev = None

        def update(self, theta, step):
            import torch

            if self.prev is not None:
                mid = 0.5 * (theta + self.prev)
                d = (theta - self.prev) / self.lr
                fx = ((mid[:, 0] - self.xr[0]) * self._sx).floor()
                fy = ((mid[:, 1] - self.yr[0]) * self._sy).floor()
                inside = (fx >= 0) & (fx < self.n) & (fy >= 0) & (fy < self.n)
                idx = fx.clamp(0, self.n - 1).to(torch.int64) * self.n + fy.clamp(0, self.n - 1).to(torch.int64)
                idx = torch.where(inside, idx, torch.full_like(idx, self.n * self.n))
                self.sums[0].index_add_(0, idx, d[:, 0])
                self.sums[1].index_add_(0, idx, d[:, 1])
                self.count += theta.shape[0]
            self.prev = theta.clone()

        def result(self) -> dict:
            s = self.sums.detach().cpu().numpy()[:, :-1].reshape(2, self.n, self.n)
            area = (self.xr[1] - self.xr[0]) * (self.yr[1] - self.yr[0]) / self.n ** 2
            cnt = float(self.count)
            return {"flux": s / (cnt * area) if cnt else s * np.nan, "n_displacements": cnt}

    return _MidpointCurrent


def measure(config: SgdCurlConfig, device="auto", *, progress: bool = False, checkpoint=None) -> dict:
    """Two independent halves of the chains (seeds ``seed``, ``seed + 1``): histogram and midpoint
    current of each."""
    import sympy as sp

    from numerics.devices import device_fields
    from numerics.sgd import FiniteData, Histogram2D, compile_per_sample_gradient, simulate_sgd
    from validation.checkpoint import cached

    x1, x2, t1, t2 = sp.symbols("x1 x2 theta1 theta2", real=True)
    loss = (config.h1 * t1 ** 2 + config.h2 * t2 ** 2) / 2 + x1 * t1 + x2 * t2
    grad = compile_per_sample_gradient(loss, [x1, x2], [t1, t2], device=device)
    data = FiniteData(training_set(config))
    bx = box(config)
    halves = []
    for h in range(2):
        def one(h=h):
            hist = Histogram2D(bx[0], bx[1], config.bins)
            cur = MidpointCurrent(bx[0], bx[1], config.bins, config.lr)
            res = simulate_sgd(grad, data=data, lr=config.lr, batch_size=config.batch_size,
                               n_chains=config.n_chains // 2, n_steps=config.n_steps, burn_in=config.burn_in,
                               start=[0.0, 0.0], observers=[hist, cur], seed=config.seed + h, device=device)
            hr, cr = res.observers
            return {"counts": hr["counts"].tolist(), "outside": hr["outside"], "n_samples": hr["n_samples"],
                    "flux": cr["flux"].tolist(), "n_displacements": cr["n_displacements"],
                    "converged": res.converged, "diagnostics": res.diagnostics.summary(),
                    "chain_steps": res.chain_steps, "seconds": res.seconds, "path": res.path, "device": res.device}

        halves.append(cached(checkpoint, ["half", h], one))
    return {**device_fields(device), "box": bx, "halves": halves}


# --------------------------------------------------------------------------------------------------
def _aggregate(a: np.ndarray, r: int) -> np.ndarray:
    """Sum r × r blocks of the last two axes."""
    n = a.shape[-1] // r
    return a.reshape(a.shape[:-2] + (n, r, n, r)).sum(axis=(-3, -1))


def predict(config: SgdCurlConfig) -> dict:
    """FP steady state, its current and the best zero-curl density, aggregated to the histogram
    cells (probabilities; current as the usual flux j = −J, cell averages); exact Gaussian laws."""
    import sympy as sp
    from scipy.stats import multivariate_normal

    from numerics.fokker_planck import FokkerPlanckSolver, Grid

    bx = box(config)
    r = config.fp_refine
    n = config.bins * r
    grid = Grid.box(bx, cells=n)
    t1, t2 = sp.symbols("theta1 theta2", real=True)
    U = (config.h1 * t1 ** 2 + config.h2 * t2 ** 2) / 2
    S = sp.Matrix([[1, config.c], [config.c, 1]])
    solver = FokkerPlanckSolver.from_theory(U, S, [t1, t2], config.T, grid=grid)
    rho = solver.steady_state()
    J = solver.probability_current(rho)
    db = solver.detailed_balance_distance(rho)
    vol = grid.cell_volume
    p_fp = _aggregate(rho * vol, r)
    # the best zero-curl density: exp(φ) with φ = −½θᵀKθ, K symmetric, the ρ-weighted least-squares fit
    # of ∂φ = −Kθ to the J = 0 field g = −(2/T)Σ⁻¹Hθ: minimise E_ρ|(K − A)θ|², A = (2/T)Σ⁻¹H →
    # K C + C K = A C + C Aᵀ with C the steady state's covariance (taken from the solver's ρ)
    from scipy.linalg import solve_continuous_lyapunov

    X, Y = grid.mesh()
    w = rho * vol
    C = np.array([[np.sum(w * X * X), np.sum(w * X * Y)], [np.sum(w * X * Y), np.sum(w * Y * Y)]]) / w.sum()
    Hm = np.diag([config.h1, config.h2])
    Sm = np.array([[1.0, config.c], [config.c, 1.0]])
    A = (2.0 / config.T) * np.linalg.solve(Sm, Hm)
    K = solve_continuous_lyapunov(C, A @ C + C @ A.T)
    K_sym = 0.5 * (A + A.T)  # the curl simply dropped (symmetric part of the drift Jacobian)

    def quad_cells(Kq):
        phi = -0.5 * (Kq[0, 0] * X * X + 2 * Kq[0, 1] * X * Y + Kq[1, 1] * Y * Y)
        d = np.exp(phi - phi.max())
        return _aggregate(d / d.sum(), r)

    p_zc = quad_cells(K)
    p_sym = quad_cells(K_sym)
    flux = -_aggregate(J, r) / (r * r)
    cont, disc = _lyapunov(config)
    xs = np.linspace(*bx[0], config.bins + 1)
    ys = np.linspace(*bx[1], config.bins + 1)

    def gauss_cells(C):
        # cell probabilities by the midpoint rule on the fine grid
        X, Y = grid.mesh()
        dens = multivariate_normal(mean=[0, 0], cov=C).pdf(np.stack([X, Y], -1))
        return _aggregate(dens * vol, r)

    return {"fp_probabilities": p_fp.tolist(), "zero_curl_probabilities": p_zc.tolist(),
            "symmetric_part_probabilities": p_sym.tolist(), "zero_curl_K": K.tolist(), "fp_covariance": C.tolist(),
            "solver_best_fit_l1": float(db.best_fit_l1),
            "fp_flux": flux.tolist(), "gauss_continuous_probabilities": gauss_cells(cont).tolist(),
            "gauss_discrete_probabilities": gauss_cells(disc).tolist(),
            "cov_continuous": cont.tolist(), "cov_discrete": disc.tolist(),
            "fp_current_relative": float(db.current_relative), "fp_log_density_residual": float(db.log_density_residual),
            "fp_best_fit_l1": float(db.best_fit_l1), "fp_cells": n, "xedges": xs.tolist(), "yedges": ys.tolist(),
            "commutator_norm": float(np.linalg.norm(np.diag([config.h1, config.h2]) @ np.array([[1, config.c], [config.c, 1]])
                                                    - np.array([[1, config.c], [config.c, 1]]) @ np.diag([config.h1, config.h2])))}


def _tv(p, q) -> float:
    p, q = np.asarray(p, float), np.asarray(q, float)
    return 0.5 * float(np.abs(p / p.sum() - q / q.sum()).sum())


def compare(config: SgdCurlConfig, prediction: dict, raw: dict) -> dict:
    """TV distances with sampling error, and the measured vs predicted current (pure)."""
    h = raw["halves"]
    counts = [np.asarray(x["counts"], float) for x in h]
    pooled = counts[0] + counts[1]
    tv_halves = _tv(counts[0], counts[1])
    sampling_tv = tv_halves / 2.0  # pooled histogram vs its own law (two independent halves: × 1/2)
    pred = {k: np.asarray(prediction[k], float) for k in
            ("fp_probabilities", "zero_curl_probabilities", "gauss_continuous_probabilities",
             "gauss_discrete_probabilities", "symmetric_part_probabilities")}
    tv = {"sgd_vs_fp": _tv(pooled, pred["fp_probabilities"]),
          "sgd_vs_zero_curl": _tv(pooled, pred["zero_curl_probabilities"]),
          "sgd_vs_gauss_discrete": _tv(pooled, pred["gauss_discrete_probabilities"]),
          "sgd_vs_gauss_continuous": _tv(pooled, pred["gauss_continuous_probabilities"]),
          "sgd_vs_symmetric_part": _tv(pooled, pred["symmetric_part_probabilities"]),
          "fp_vs_zero_curl": _tv(pred["fp_probabilities"], pred["zero_curl_probabilities"]),
          "fp_vs_gauss_continuous": _tv(pred["fp_probabilities"], pred["gauss_continuous_probabilities"]),
          "halves": tv_halves}
    excess = {k: tv[k] - sampling_tv for k in ("sgd_vs_fp", "sgd_vs_zero_curl", "sgd_vs_gauss_discrete")}
    # the current: cells carrying 90 % of the FP mass
    p = pred["fp_probabilities"]
    flat = np.sort(p.ravel())[::-1]
    p_cut = flat[int(np.searchsorted(np.cumsum(flat), 0.9))]
    # every cell at least as probable as the 90 %-mass cut, ties included: a set that does not depend on
    # how a sort orders cells of (nearly) equal probability — the law is symmetric, so ties are many,
    # and their order flips with the last bits of another CPU's arithmetic
    keep = p >= p_cut * (1.0 - 1e-9)
    jm = [np.asarray(x["flux"], float) for x in h]
    jm_pool = 0.5 * (jm[0] + jm[1])
    jp = np.asarray(prediction["fp_flux"], float)
    diff_halves = 0.5 * (jm[0] - jm[1])  # sampling error of the pooled mean, per cell and component
    norm_p = float(np.sqrt(np.sum(jp[:, keep] ** 2)))
    rel_l2 = float(np.sqrt(np.sum((jm_pool - jp)[:, keep] ** 2)) / norm_p)
    rel_noise = float(np.sqrt(np.sum(diff_halves[:, keep] ** 2)) / norm_p)
    corr = float(np.corrcoef(jm_pool[:, keep].ravel(), jp[:, keep].ravel())[0, 1])
    xs, ys = np.asarray(prediction["xedges"]), np.asarray(prediction["yedges"])
    xc, yc = 0.5 * (xs[1:] + xs[:-1]), 0.5 * (ys[1:] + ys[:-1])
    X, Y = np.meshgrid(xc, yc, indexing="ij")
    area = (xs[1] - xs[0]) * (ys[1] - ys[0])

    def circulation(j):
        return float(np.sum((X * j[1] - Y * j[0])) * area)

    circ_m = [circulation(j) for j in jm]
    circ_p = circulation(jp)
    circ_se = abs(circ_m[0] - circ_m[1]) / 2.0
    # the same statistic the flux is compared to, for the zero-curl law: exactly 0 (J = 0)
    converged = all(bool(x["converged"]) for x in h)
    return {
        "T": config.T, "tv": tv, "sampling_tv": sampling_tv, "tv_excess_over_sampling": excess,
        "tv_tolerance": config.tv_tolerance,
        "fp_within_tolerance": bool(excess["sgd_vs_fp"] <= config.tv_tolerance),
        "fp_closer_than_zero_curl": bool(tv["sgd_vs_fp"] + 2 * sampling_tv < tv["sgd_vs_zero_curl"]),
        "current": {"relative_l2_error": rel_l2, "relative_l2_sampling": rel_noise, "correlation": corr,
                    "cells": int(keep.sum()), "circulation_measured": float(np.mean(circ_m)),
                    "circulation_measured_halves": circ_m, "circulation_se": circ_se,
                    "circulation_predicted": circ_p,
                    "circulation_z_vs_zero": float(np.mean(circ_m) / circ_se) if circ_se > 0 else math.inf},
        "fp_current_relative": prediction["fp_current_relative"],
        "fp_log_density_residual": prediction["fp_log_density_residual"],
        "solver_best_fit_l1": prediction["solver_best_fit_l1"],
        "commutator_norm": prediction["commutator_norm"],
        "outside_fraction": float(sum(x["outside"] for x in h) / sum(x["n_samples"] for x in h)),
        "converged": converged,
        "n_samples": float(sum(x["n_samples"] for x in h)),
    }


def _summary(rec):
    m = rec["metrics"]
    yield (f"TV(SGD, FP) {m['tv']['sgd_vs_fp']:.4f}, TV(SGD, zero-curl) {m['tv']['sgd_vs_zero_curl']:.4f}, "
           f"sampling {m['sampling_tv']:.4f}; TV(FP, zero-curl) {m['tv']['fp_vs_zero_curl']:.4f}")
    c = m["current"]
    yield (f"current: rel. L2 error {c['relative_l2_error']:.3f} (sampling {c['relative_l2_sampling']:.3f}), corr "
           f"{c['correlation']:.3f}; circulation {c['circulation_measured']:.4g} ± {c['circulation_se']:.2g} vs "
           f"{c['circulation_predicted']:.4g}; converged {m['converged']}")


def _work(config, raw) -> tuple:
    return sum(x["chain_steps"] for x in raw["halves"]), "chain-steps"


EXPERIMENT = Experiment(
    name="sgd_curl", claims=("SC.A1", "SC.B1.counter", "SC.eq5", "SC.eq10"), config_type=SgdCurlConfig,
    SMALL=SMALL, FULL=FULL, GPU=GPU, measure=measure, predict=lambda cfg, raw: predict(cfg), compare=compare,
    record_stem="sgd_curl",
    estimates={"small": {"cpu": 15, "gpu": 10}, "full": {"cpu": 30, "gpu": 20}, "gpu": {"cpu": 3000, "gpu": 180}},
    description="Non-zero curl, measured: SGD on a 2-D per-sample quadratic whose noise covariance does not commute "
                "with the Hessian — stationary histogram vs the Fokker–Planck non-equilibrium steady state vs the best "
                "zero-curl density, and the measured probability current vs the solver's.",
    summary=_summary, inputs=source_file(__file__), work=_work)


def main(argv=None) -> int:
    """``python -m validation.experiments.sgd_curl ARGS`` = ``python -m validation run sgd_curl ARGS``."""
    from validation.__main__ import run_main

    return run_main(EXPERIMENT.name, argv)


if __name__ == "__main__":
    raise SystemExit(main())
