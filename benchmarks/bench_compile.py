"""Benchmark (a script, not a test): compiled theory vs plain ``lambdify`` vs naive SymPy evaluation.

In one run, on the same inputs, every benchmark expression is evaluated by

(1) ``numerics.compile.compile_expr`` with its defaults — small integer powers written as products,
    CSE only where :func:`numerics.compile.codegen_plan` finds that it pays (``cse="auto"``);
(2) plain ``sympy.lambdify`` (no CSE, powers as SymPy prints them) — the reference: ``compile_expr``
    should never be slower;
(3) ``sympy.lambdify(cse=True)`` — what ``compile_expr`` did before (CSE always, no power
    expansion);
(4) the torch backend of (1) and plain torch ``lambdify`` (CUDA when present, else the CPU with one
    thread — NumPy's ufuncs use one, and spinning threads on a loaded machine only add noise);
(5) a naive per-point ``subs(...).evalf()`` loop (run on a small subset, scaled per point).

Timings are medians of ``--repeat`` (≥ 3) interleaved repetitions (a seeded random method order in
each round; the NumPy and the torch methods timed as two groups), so the
ratios of the same run cancel the machine's load (recorded: ``os.getloadavg``) to first order.
Nothing is asserted on time: the JSON records, per expression, ``plain_lambdify_over_ours`` (≥ 1:
ours is not slower) and the CSE choice.  Each method's output includes the assembly of a list
result into one array (what ``compile_expr`` returns), a scalar result is taken as returned.

Expressions:
* ``density_weights_3basin`` — SC Fig. 6 right / RND Fig. H.2 right: ``[U, U', U'']`` of the
  three-well train loss on a grid; the pipeline time of the three basin weights (log density
  ``−2U/T``, logsumexp per basin split at the local maxima of U) is reported beside it.
* ``drift_sampled_D`` — RND Fig. H.4 right: the SC.eq5 integrand ``(U' + (T/2)D')/D`` with the
  sample-variance diffusion D(θ) of 10 per-sample losses (a large expression where CSE matters).
* ``escape_gradient_ST`` — DT §4: the per-sample gradient ``∂_θ f(√k θ − x)`` of the
  Styblinski–Tang loss (``2(θ − x)³ − 16(θ − x) + 5/2`` at k = 1) on 1000 × 10 samples: the
  escape simulator's inner loop (a cube of a compound base).
* ``population_diffusion_ST`` — DT §4: the exact gradient-noise variance ``D = 36θ⁴ − 48θ² + 124``
  (symbol powers, no repeated subexpression: CSE has nothing to do).

Usage: ``python benchmarks/bench_compile.py [--points N] [--naive-points n] [--repeat K] [--out PATH]
[--force]``.  Writes ``benchmarks/results/bench_compile.json`` with provenance (commit, machine,
versions, date, load).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402
from scipy.special import logsumexp  # noqa: E402

from numerics.compile import codegen_plan, compile_expr, operation_cost  # noqa: E402
from numerics.landscapes import preset, styblinski_tang_per_sample  # noqa: E402
from numerics.stationary import T_SYMBOL, effective_potential_integrand  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "bench_compile.json"


def _interleaved_medians(fns: dict, repeat: int, block_s: float = 0.05, seed: int = 0) -> dict:
    """Median seconds per call of each callable over ``repeat`` rounds.  A round times every
    callable once, as a block of ``number`` calls (chosen so that a block lasts ≈ ``block_s``:
    fast expressions are not timed at the clock's resolution), in a fresh seeded random order — so
    that load drifts hit all methods alike and no method always runs after the same neighbour
    (whose freed memory or cache state would bias it)."""
    import random

    order = random.Random(seed)
    names = list(fns)
    number = {}
    for k in names:
        t0 = time.perf_counter()
        fns[k]()
        number[k] = max(1, min(1000, int(block_s / max(time.perf_counter() - t0, 1e-7))))
    times: dict = {k: [] for k in names}
    for _ in range(repeat):
        for k in order.sample(names, len(names)):
            f, m = fns[k], number[k]
            t0 = time.perf_counter()
            for _ in range(m):
                f()
            times[k].append((time.perf_counter() - t0) / m)
    return {k: statistics.median(v) for k, v in times.items()}


def _assemble(raw, shape) -> np.ndarray:
    """A list result stacked on a trailing axis (what ``compile_expr`` returns); a scalar as is."""
    if not isinstance(raw, (list, tuple)):
        return raw
    out = np.empty(tuple(shape) + (len(raw),))
    for i, v in enumerate(raw):
        out[..., i] = v
    return out


def _weights_from_logdensity(logd, x, edges):
    w = np.gradient(x)  # trapezoid-like weights on a uniform grid
    idx = np.searchsorted(edges, x)
    lm = np.array([logsumexp(logd[idx == k] + np.log(w[idx == k])) for k in range(1, len(edges))])
    return np.exp(lm - logsumexp(lm))


def _workload(name, entries, args, arg_values, naive_points, repeat, post=None):
    """Time every method on ``entries`` (a list of scalar expressions) at ``arg_values``."""
    import torch

    single = len(entries) == 1
    target = entries[0] if single else entries
    shape = np.broadcast(*arg_values).shape
    t0 = time.perf_counter()
    ours = compile_expr(target, args)
    t_build_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    plain = sp.lambdify(list(args), target, modules=["scipy", "numpy"], cse=False)
    t_build_plain = time.perf_counter() - t0
    old = sp.lambdify(list(args), target, modules=["scipy", "numpy"], cse=True)
    used_cse, repl, red = codegen_plan(entries)
    _, repl_all, red_all = codegen_plan(entries, cse=True)
    _, repl_none, red_none = codegen_plan(entries, cse=False)
    tours = compile_expr(target, args, backend="torch", device="auto")
    targs = [torch.as_tensor(v, dtype=torch.float64, device=tours.device) for v in arg_values]
    tplain = sp.lambdify(list(args), [sp.N(e, 17) for e in entries] if not single else sp.N(entries[0], 17),
                         modules="torch", cse=False)

    def sync(out):
        if tours.device.type == "cuda":
            torch.cuda.synchronize()
        return out

    def torch_plain():
        raw = tplain(*targs)
        return sync(torch.stack(list(raw), -1) if isinstance(raw, (list, tuple)) else raw)

    numpy_methods = {
        "compile_expr": lambda: ours(*arg_values),
        "lambdify_plain": lambda: _assemble(plain(*arg_values), shape),
        "lambdify_cse": lambda: _assemble(old(*arg_values), shape),
    }
    torch_methods = {"torch_compile_expr": lambda: sync(tours(*targs)), "torch_lambdify_plain": torch_plain}
    for f in (*numpy_methods.values(), *torch_methods.values()):  # warm-up
        f()
    sec = {**_interleaved_medians(numpy_methods, repeat), **_interleaved_medians(torch_methods, repeat)}
    ref = np.asarray(ours(*arg_values)).reshape(shape + (len(entries),))

    def rel(a, b):
        a = np.asarray(a, dtype=float).reshape(b.shape)
        return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))

    # naive: per point subs/evalf on a subset, scaled to the full grid
    n = int(np.prod(shape))
    flat = [np.broadcast_to(v, shape).reshape(-1) for v in arg_values]
    sub = np.linspace(0, n - 1, naive_points).astype(int)
    t0 = time.perf_counter()
    naive_vals = np.array([[float(e.subs({a: float(v[i]) for a, v in zip(args, flat)}).evalf())
                            for e in entries] for i in sub])
    t_naive_per_point = (time.perf_counter() - t0) / naive_points
    dev = tours.device.type
    res = {
        "workload": name, "grid_points": n, "entries": len(entries),
        "expression_ops": int(sum(sp.count_ops(e) for e in entries)),
        "cse_chosen": bool(ours.cse),
        "operation_cost": {"plain": operation_cost([r for _, r in repl_none] + red_none),
                           "cse": operation_cost([r for _, r in repl_all] + red_all),
                           "chosen": operation_cost([r for _, r in repl] + red)},
        "seconds": {"compile_expr": sec["compile_expr"], "lambdify_plain": sec["lambdify_plain"],
                    "lambdify_cse_before_issue9": sec["lambdify_cse"],
                    f"torch_{dev}_compile_expr": sec["torch_compile_expr"],
                    f"torch_{dev}_lambdify_plain": sec["torch_lambdify_plain"],
                    "naive_subs_evalf_scaled": t_naive_per_point * n, "naive_per_point": t_naive_per_point,
                    "build_compile_expr": t_build_ours, "build_lambdify_plain": t_build_plain},
        "speedup": {"plain_lambdify_over_ours": sec["lambdify_plain"] / sec["compile_expr"],
                    "lambdify_cse_over_ours": sec["lambdify_cse"] / sec["compile_expr"],
                    "torch_plain_lambdify_over_ours": sec["torch_lambdify_plain"] / sec["torch_compile_expr"],
                    "vs_naive_subs_evalf": t_naive_per_point * n / sec["compile_expr"]},
        "max_relative_difference": {
            "naive": rel(naive_vals, ref.reshape(-1, len(entries))[sub]),
            "lambdify_plain": rel(_assemble(plain(*arg_values), shape), ref),
            "torch": rel(tours(*targs).cpu().numpy(), ref)},
        "naive_points_timed": int(naive_points),
    }
    if post is not None:
        pipe = _interleaved_medians({"ours": lambda: post(ours(*arg_values)),
                                     "plain": lambda: post(_assemble(plain(*arg_values), shape))}, repeat)
        res["pipeline_seconds"] = {"compile_expr": pipe["ours"], "lambdify_plain": pipe["plain"]}
    return res


def run_benchmark(*, points: int = 100_000, naive_points: int = 30, repeat: int = 7, T: float = 0.02) -> dict:
    """Run every workload and return the result dict (with provenance)."""
    if repeat < 1:
        raise ValueError("repeat must be >= 1")
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # like NumPy's ufuncs; 2 spinning threads on a shared 2-core box are noise
    try:
        return _run_benchmark(points=points, naive_points=naive_points, repeat=repeat, T=T)
    finally:
        torch.set_num_threads(threads)


def _run_benchmark(*, points: int, naive_points: int, repeat: int, T: float) -> dict:
    load_before = list(os.getloadavg())
    t_start = time.perf_counter()
    th = sp.Symbol("theta", real=True)
    x = np.linspace(-3.0, 3.0, points)
    # density + weights for the 3-basin preset
    m3 = preset("SC.fig6.right").model
    U = m3.train_loss(th)
    entries1 = [U, sp.diff(U, th), sp.diff(U, th, 2)]
    d1 = compile_expr(sp.diff(U, th), th)(x)
    s = np.sign(d1)
    edges = np.concatenate([[-np.inf], x[1:][(s[:-1] > 0) & (s[1:] < 0)], [np.inf]])

    def post1(vals):
        logd = -2.0 * vals[..., 0] / T
        return _weights_from_logdensity(logd, x, edges)

    w1 = _workload("density_weights_3basin", entries1, [th], [x], naive_points, repeat, post=post1)
    w1["basin_weights_at_T"] = {"T": T, "weights": post1(compile_expr(entries1, th)(x)).tolist()}
    # SC.eq5 integrand with the sampled diffusion of RND Fig. H.4 right
    m4 = preset("RND.H4.right").model
    V = effective_potential_integrand(m4.train_loss(th), m4.diffusion(th), th, T_SYMBOL)[0]
    x2 = np.linspace(-1.5, 1.5, max(points // 4, 1000))  # where D(θ) is not vanishingly small
    w2 = _workload("drift_sampled_D", [V], [th, T_SYMBOL], [x2, np.full_like(x2, T)],
                   max(naive_points // 5, 3), repeat)
    # DT §4: the escape simulator's per-sample gradient on (runs, B) samples
    xs = sp.Symbol("x", real=True)
    g = sp.diff(styblinski_tang_per_sample(xs, th, k=1), th)
    rng = np.random.default_rng(0)
    samples = rng.standard_normal((max(points // 100, 10), 10))
    thetas = np.full((samples.shape[0], 1), -2.903534)
    w3 = _workload("escape_gradient_ST", [g], [xs, th], [samples, thetas], naive_points, repeat)
    # DT §4: the exact gradient-noise variance at k = 1 (symbol powers only)
    from validation.experiments.escape_rates import population_loss_and_diffusion

    _, D, thD = population_loss_and_diffusion(1.0)
    w4 = _workload("population_diffusion_ST", [D], [thD], [x], naive_points, repeat)
    results = [w1, w2, w3, w4]
    ratios = [r["speedup"]["plain_lambdify_over_ours"] for r in results]
    from validation.records import provenance

    return {"benchmark": "compiled theory vs plain lambdify vs naive SymPy",
            "provenance": provenance(device="cpu", seed=0, wall_time_s=time.perf_counter() - t_start),
            "settings": {"points": points, "naive_points": naive_points, "repeat": repeat, "T": T,
                         "timing": "median of interleaved repetitions", "torch_cpu_threads": 1},
            "load": {"getloadavg_before": load_before, "getloadavg_after": list(os.getloadavg()),
                     "cpu_count": os.cpu_count(), "wall_time_s": time.perf_counter() - t_start},
            "summary": {"min_plain_lambdify_over_ours": min(ratios),
                        "workload_of_min": results[int(np.argmin(ratios))]["workload"]},
            "results": results}


from benchmarks._common import add_output_arguments, out_is_usable, write_result  # noqa: E402



def format_table(result: dict) -> str:
    lines = ["| workload | points | CSE chosen | compile_expr (s) | plain lambdify (s) | plain / ours | "
             "lambdify+CSE / ours | torch plain / ours | naive subs/evalf (s, scaled) | speed-up vs naive |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["results"]:
        sec, sp_ = r["seconds"], r["speedup"]
        if "compile_expr" not in sec:  # a record of the older format
            lines.append(f"| {r['workload']} | {r['grid_points']} | (old record) | {sec['compiled_cse']:.4g} | "
                         f"{sec['lambdify_no_cse']:.4g} | {sp_['vs_lambdify_no_cse']:.3g}× | – | – | "
                         f"{sec['naive_subs_evalf_scaled']:.4g} | {sp_['vs_naive_subs_evalf']:.3g}× |")
            continue
        lines.append(f"| {r['workload']} | {r['grid_points']} | {'yes' if r['cse_chosen'] else 'no'} | "
                     f"{sec['compile_expr']:.4g} | {sec['lambdify_plain']:.4g} | "
                     f"{sp_['plain_lambdify_over_ours']:.3g}× | {sp_['lambdify_cse_over_ours']:.3g}× | "
                     f"{sp_['torch_plain_lambdify_over_ours']:.3g}× | {sec['naive_subs_evalf_scaled']:.4g} | "
                     f"{sp_['vs_naive_subs_evalf']:.3g}× |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=100_000)
    p.add_argument("--naive-points", type=int, default=30)
    p.add_argument("--repeat", type=int, default=7,
                   help="Interleaved repetitions per method (median; at least 3).")
    add_output_arguments(p, DEFAULT_OUT)
    a = p.parse_args(argv)
    if a.repeat < 3:
        p.error("--repeat must be >= 3 (medians of at least 3 repetitions)")
    if not out_is_usable(a.out, force=a.force):
        return 2
    res = run_benchmark(points=a.points, naive_points=a.naive_points, repeat=a.repeat)
    print(format_table(res))
    for r in res["results"]:
        print(f"{r['workload']}: max relative difference {r['max_relative_difference']}")
    print(f"wrote {write_result(res, a.out, force=a.force)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
