"""Benchmark (a script, not a test): throughput of the SGD escape simulator, in chain-steps/s.

A *chain-step* is one SGD iteration of one run (B = 10 fresh samples, gradient, update, box test);
a run that escapes stops counting.  Workload: the DT §4 escape experiment in 1-D
(:mod:`validation.experiments.escape_rates`): per-sample Styblinski–Tang loss at k = 1, start
``START_1D``, valley ``θ < BOUNDARY_1D``, η = 0.03 (the small batch sweep's η), B = 10,
``--runs`` runs (default 1000) for ``--steps`` iterations (default 1500; almost no run escapes, so
every variant advances the same chains).

Measured in one process, interleaved (a seeded random variant order in each repetition, so that no
variant always follows the same neighbour), medians of ``--repeat`` (≥ 3, default 5) repetitions:

* ``baseline`` — the previous simulator (commit e76a667), reimplemented inline:
  the gradient by plain ``lambdify`` with CSE (NumPy evaluates ``(θ − x)**3`` by the general
  ``pow``), a fresh ``(n, B, p)`` sample array, gradient copy, mean and boolean masks every step;
* ``simulate_escape`` — :func:`numerics.sgd_escape.simulate_escape`, NumPy backend (the default
  CPU path), gradient from :func:`numerics.sgd_escape.separable_gradient`;
* ``inplace_numpy`` — a hand-written loop for this one loss: samples into a preallocated buffer,
  ``z = θ − x``, ``z*z*z`` and the minibatch sums in place (the practical ceiling of NumPy);
* ``rng_bound`` — only the draws of the samples (an upper bound on any NumPy loop).

Ratios are of medians of the same run, so the machine's load (recorded: ``os.getloadavg``) cancels
to first order.  ``simulate_escape`` and ``baseline`` draw the same random stream; their escape
steps agree except where the gradient's last-ulp difference (``z*z*z`` vs ``pow(z, 3)``) flips a
boundary crossing — recorded as ``steps_identical_fraction``.

Usage: ``python benchmarks/bench_sgd_escape.py [--runs R] [--steps N] [--repeat K] [--out PATH]
[--force]``.  Writes ``benchmarks/results/bench_sgd_escape.json`` with provenance
(:func:`validation.records.provenance`).
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402

from numerics.landscapes import styblinski_tang_per_sample  # noqa: E402
from numerics.sgd_escape import separable_gradient, simulate_escape  # noqa: E402
from benchmarks._common import add_output_arguments, interleaved, out_is_usable, rate_table, write_result  # noqa: E402,E501
from validation.experiments.escape_rates import BOUNDARY_1D, START_1D  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "bench_sgd_escape.json"
LR, BATCH, K = 0.03, 10, 1.0
VARIANTS = ("baseline", "simulate_escape", "inplace_numpy", "rng_bound")


# --------------------------------------------------------------------------------------------------
# the variants; each returns the number of chain-steps it advanced (and, where it has them, steps)
# --------------------------------------------------------------------------------------------------
def _baseline_gradient():
    """The gradient as the old ``compile_expr`` built it: ``lambdify(cse=True)`` without power
    expansion, wrapped so that the result is copied to the broadcast shape (the old assembly)."""
    x, th = sp.symbols("x theta", real=True)
    g = sp.diff(styblinski_tang_per_sample(x, th, k=K), th)
    fn = sp.lambdify([x, th], g, modules=["scipy", "numpy"], cse=True)

    def grad(xs, ts):
        xs, ts = np.asarray(xs, dtype=np.float64), np.asarray(ts, dtype=np.float64)
        bshape = np.broadcast_shapes(xs.shape, ts.shape)
        return np.array(np.broadcast_to(np.asarray(fn(xs, ts), dtype=np.float64), bshape))

    return grad


def run_baseline(grad, *, runs, steps, seed):
    """The NumPy path of ``simulate_escape`` at commit e76a667 (divergence checks included)."""
    x0 = np.array([START_1D])
    up, lo = np.array([BOUNDARY_1D]), np.array([-math.inf])
    L = BOUNDARY_1D - START_1D
    step_limit = 100.0 * L
    rng = np.random.default_rng(seed)
    th = np.tile(x0, (runs, 1))
    alive = np.arange(runs)
    out_steps = np.full(runs, steps, dtype=np.int64)
    for t in range(1, steps + 1):
        xs = rng.standard_normal((th.shape[0], BATCH, 1))
        g = grad(xs, th[:, None, :]).mean(1)
        step = LR * g
        th = th - step
        if not bool(np.isfinite(th).all()):
            raise FloatingPointError("baseline diverged")
        biggest = float(np.max(np.abs(step))) if step.size else 0.0
        if biggest > step_limit:
            raise FloatingPointError("baseline: step too long")
        out = ((th >= up) | (th <= lo)).any(1)
        idx = np.nonzero(out)[0]
        if idx.size:
            out_steps[alive[idx]] = t
            keep = ~out
            th = th[keep]
            alive = alive[keep.astype(bool)]
        if alive.size == 0:
            break
    return int(out_steps.sum()), out_steps


def run_simulator(grad, *, runs, steps, seed):
    res = simulate_escape(grad, [START_1D], lr=LR, batch_size=BATCH, n_runs=runs, max_steps=steps,
                          upper=BOUNDARY_1D, seed=seed)
    return int(res.steps.sum()), res.steps


def run_inplace(*, runs, steps, seed):
    """Hand-written for ∂_θ L = 2 z³ − 16 z + 5/2, z = θ − x (k = 1): no allocation per step but
    the escape compaction.  Same update, same box test, same random stream."""
    rng = np.random.default_rng(seed)
    th = np.full(runs, START_1D)
    xbuf, zbuf, z3buf = (np.empty((runs, BATCH)) for _ in range(3))
    s1buf, s3buf = np.empty(runs), np.empty(runs)
    n, total = runs, 0
    a, c = 2.0 * LR / BATCH, 16.0 * LR / BATCH
    for _ in range(steps):
        x, z, z3, s1, s3, tn = xbuf[:n], zbuf[:n], z3buf[:n], s1buf[:n], s3buf[:n], th[:n]
        rng.standard_normal(out=x)
        np.subtract(tn[:, None], x, out=z)
        np.multiply(z, z, out=z3)
        np.multiply(z3, z, out=z3)
        np.add.reduce(z3, axis=1, out=s3)
        np.add.reduce(z, axis=1, out=s1)
        np.multiply(s3, a, out=s3)
        np.multiply(s1, c, out=s1)
        np.subtract(s3, s1, out=s3)
        s3 += 2.5 * LR
        tn -= s3
        total += n
        out = tn >= BOUNDARY_1D
        if out.any():
            kept = tn[~out]
            n = kept.size
            th[:n] = kept
            if n == 0:
                break
    return total, None


def run_rng(*, runs, steps, seed):
    rng = np.random.default_rng(seed)
    buf = np.empty((runs, BATCH))
    for _ in range(steps):
        rng.standard_normal(out=buf)
    return runs * steps, None


# --------------------------------------------------------------------------------------------------
def run_benchmark(*, runs: int = 1000, steps: int = 1500, repeat: int = 5, seed: int = 0) -> dict:
    x, th = sp.symbols("x theta", real=True)
    grad_new = separable_gradient(styblinski_tang_per_sample(x, th, k=K), x, th)
    grad_old = _baseline_gradient()
    calls = {
        "baseline": lambda: run_baseline(grad_old, runs=runs, steps=steps, seed=seed),
        "simulate_escape": lambda: run_simulator(grad_new, runs=runs, steps=steps, seed=seed),
        "inplace_numpy": lambda: run_inplace(runs=runs, steps=steps, seed=seed),
        "rng_bound": lambda: run_rng(runs=runs, steps=steps, seed=seed),
    }
    m = interleaved(calls, repeat=repeat, seed=seed)
    rates, seconds, outputs, med = m.rates, m.seconds, m.outputs, m.median
    old_steps, new_steps = outputs["baseline"][1], outputs["simulate_escape"][1]
    from validation.records import provenance

    return {
        "benchmark": "SGD escape simulator throughput (chain-steps/s)",
        "provenance": provenance(device="cpu", seed=seed, wall_time_s=m.wall_s),
        "load": m.load(),
        "workload": {"loss": "Styblinski–Tang per-sample, DT App. E.1 setting 1, 1-D", "k": K,
                     "start": START_1D, "upper": BOUNDARY_1D, "lr": LR, "batch_size": BATCH,
                     "n_runs": runs, "max_steps": steps, "seed": seed,
                     "chain_steps": {v: outputs[v][0] for v in VARIANTS}},
        "repeat": repeat,
        "chain_steps_per_s": {v: {"median": med[v], "all": rates[v]} for v in VARIANTS},
        "seconds": seconds,
        "ratios_of_medians": {
            "simulate_escape_over_baseline": med["simulate_escape"] / med["baseline"],
            "inplace_numpy_over_simulate_escape": med["inplace_numpy"] / med["simulate_escape"],
            "inplace_numpy_over_baseline": med["inplace_numpy"] / med["baseline"],
            "rng_bound_over_simulate_escape": med["rng_bound"] / med["simulate_escape"],
        },
        "targets": {
            "simulate_escape_over_baseline_at_least": 5.0,
            "inplace_numpy_over_simulate_escape_at_most": 2.0,
        },
        "steps_identical_fraction": float(np.mean(old_steps == new_steps)),
        "mean_steps": {"baseline": float(old_steps.mean()), "simulate_escape": float(new_steps.mean())},
    }


def format_table(result: dict) -> str:
    rows = rate_table({v: result["chain_steps_per_s"][v]["median"] for v in VARIANTS}, ref="baseline",
                      column="× baseline")
    ld = result["load"]["getloadavg_before"][0]
    rows.append(f"\nload average {ld:.2f} on {result['load']['cpu_count']} CPUs; "
                f"in-place / simulate_escape = "
                f"{result['ratios_of_medians']['inplace_numpy_over_simulate_escape']:.3g}; "
                f"steps identical to baseline: {result['steps_identical_fraction']:.3f}")
    return "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    add_output_arguments(p, DEFAULT_OUT)
    a = p.parse_args(argv)
    if not out_is_usable(a.out, force=a.force):
        return 2
    res = run_benchmark(runs=a.runs, steps=a.steps, repeat=a.repeat, seed=a.seed)
    print(format_table(res))
    print(f"wrote {write_result(res, a.out, force=a.force)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
