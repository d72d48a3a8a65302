"""Benchmark (a script, not a test): compiled theory vs naive SymPy evaluation.

In one run, on the same grid, evaluates the quantities the stationary pipeline needs and compares
(1) ``numerics.compile.compile_expr`` (lambdify + CSE, NumPy; and the torch backend),
(2) plain ``sympy.lambdify`` without CSE,
(3) a naive per-point ``subs(...).evalf()`` loop (run on a small subset, scaled per point).

Workloads:
* ``density_weights_3basin`` — SC Fig. 6 right / RND Fig. H.2 right: ``[U, U', U'']`` of the
  three-well train loss, then the unnormalised log density ``−2U/T`` and the three basin weights
  (logsumexp per basin; basins split at the local maxima of U).
* ``drift_sampled_D`` — RND Fig. H.4 right: the SC.eq5 integrand ``(U' + (T/2)D')/D`` with the
  sample-variance diffusion D(θ) of 10 per-sample losses (a large expression where CSE matters).

Usage: ``python benchmarks/bench_compile.py [--points N] [--naive-points n] [--out PATH]``.
Writes ``benchmarks/results/bench_compile.json`` with provenance (commit, machine, versions, date).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402
from scipy.special import logsumexp  # noqa: E402

from numerics.compile import compile_expr  # noqa: E402
from numerics.landscapes import preset  # noqa: E402
from numerics.stationary import T_SYMBOL, effective_potential_integrand  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "bench_compile.json"


def _best_time(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _weights_from_logdensity(logd, x, edges):
    w = np.gradient(x)  # trapezoid-like weights on a uniform grid
    idx = np.searchsorted(edges, x)
    lm = np.array([logsumexp(logd[idx == k] + np.log(w[idx == k])) for k in range(1, len(edges))])
    return np.exp(lm - logsumexp(lm))


def _provenance() -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                                cwd=ROOT).stdout.strip()
    except Exception:
        commit = "unknown"
    import torch

    return {
        "commit": commit,
        "machine": {"node": platform.node(), "platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(), "python": platform.python_version()},
        "versions": {"numpy": np.__version__, "sympy": sp.__version__, "torch": torch.__version__},
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _workload(name, entries, args, arg_values, naive_points, repeat, post=None):
    """Time the three methods on ``entries`` (list of scalar expressions) at ``arg_values``."""
    n = arg_values[0].size
    t0 = time.perf_counter()
    compiled = compile_expr(entries, args, cse=True)
    t_build_cse = time.perf_counter() - t0
    t0 = time.perf_counter()
    plain = sp.lambdify(list(args), entries, modules=["scipy", "numpy"], cse=False)
    t_build_plain = time.perf_counter() - t0

    def run_compiled():
        out = compiled(*arg_values)
        return post(out) if post else out

    def plain_values():
        return np.stack([np.broadcast_to(np.asarray(e, dtype=float), arg_values[0].shape)
                         for e in plain(*arg_values)], axis=-1)

    def run_plain():
        out = plain_values()
        return post(out) if post else out

    t_cse = _best_time(run_compiled, repeat)
    t_plain = _best_time(run_plain, repeat)
    # naive: per point subs/evalf on a subset, scaled to the full grid
    sub = np.linspace(0, n - 1, naive_points).astype(int)
    t0 = time.perf_counter()
    naive_vals = np.array([[float(e.subs({a: float(v[i]) for a, v in zip(args, arg_values)}).evalf())
                            for e in entries] for i in sub])
    t_naive_per_point = (time.perf_counter() - t0) / naive_points
    t_naive = t_naive_per_point * n
    ref = compiled(*arg_values)
    def rel(a, b):
        return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))

    err_naive = rel(naive_vals, ref[sub])
    err_plain = rel(plain_values(), ref)
    # torch backend (CPU, or CUDA when present)
    import torch

    tf = compile_expr(entries, args, backend="torch", device="auto")
    targs = [torch.as_tensor(v, dtype=torch.float64, device=tf.device) for v in arg_values]

    def run_torch():
        out = tf(*targs)
        if out.device.type == "cuda":
            torch.cuda.synchronize()
        return out

    run_torch()
    t_torch = _best_time(run_torch, repeat)
    err_torch = rel(run_torch().cpu().numpy(), ref)
    return {
        "workload": name, "grid_points": int(n), "entries": len(entries),
        "expression_ops": int(sum(sp.count_ops(e) for e in entries)),
        "seconds": {"compiled_cse": t_cse, "lambdify_no_cse": t_plain, "naive_subs_evalf_scaled": t_naive,
                    "naive_per_point": t_naive_per_point, f"torch_{tf.device.type}": t_torch,
                    "build_cse": t_build_cse, "build_no_cse": t_build_plain},
        "speedup": {"vs_naive_subs_evalf": t_naive / t_cse, "vs_lambdify_no_cse": t_plain / t_cse},
        "max_relative_difference": {"naive": err_naive, "lambdify_no_cse": err_plain, "torch": err_torch},
        "naive_points_timed": int(naive_points),
    }


def run_benchmark(*, points: int = 100_000, naive_points: int = 30, repeat: int = 3, T: float = 0.02) -> dict:
    """Run both workloads and return the result dict (with provenance)."""
    th = sp.Symbol("theta", real=True)
    x = np.linspace(-3.0, 3.0, points)
    # workload 1: density + weights for the 3-basin preset
    m3 = preset("SC.fig6.right").model
    U = m3.train_loss(th)
    entries1 = [U, sp.diff(U, th), sp.diff(U, th, 2)]
    f1 = compile_expr(sp.diff(U, th), th)
    d1 = f1(x)
    s = np.sign(d1)
    edges = np.concatenate([[-np.inf], x[1:][(s[:-1] > 0) & (s[1:] < 0)], [np.inf]])

    def post1(vals):
        logd = -2.0 * vals[..., 0] / T
        return _weights_from_logdensity(logd, x, edges)

    w1 = _workload("density_weights_3basin", entries1, [th], [x], naive_points, repeat, post=post1)
    w1["basin_weights_at_T"] = {"T": T, "weights": post1(compile_expr(entries1, th)(x)).tolist()}
    # workload 2: SC.eq5 integrand with the sampled diffusion of RND Fig. H.4 right
    m4 = preset("RND.H4.right").model
    V = effective_potential_integrand(m4.train_loss(th), m4.diffusion(th), th, T_SYMBOL)[0]
    x2 = np.linspace(-1.5, 1.5, max(points // 4, 1000))  # where D(θ) is not vanishingly small
    w2 = _workload("drift_sampled_D", [V], [th, T_SYMBOL], [x2, np.full_like(x2, T)], max(naive_points // 5, 3),
                   repeat)
    return {"benchmark": "compiled theory vs naive SymPy", "provenance": _provenance(),
            "settings": {"points": points, "naive_points": naive_points, "repeat": repeat, "T": T},
            "results": [w1, w2]}


def is_benchmark_result(path) -> bool:
    """True when ``path`` holds a result of this script (a JSON object with ``benchmark`` and
    ``provenance``): such a file is replaced without ``--force``."""
    try:
        with open(path, encoding="utf-8") as fh:
            res = json.load(fh)
    except (OSError, ValueError):
        return False
    return isinstance(res, dict) and "benchmark" in res and "provenance" in res


def write_json(result: dict, path: Path, *, force: bool = False) -> Path:
    """Write ``result`` atomically to ``path`` (checked by :func:`validation._io.check_output_file`)."""
    from validation._io import check_output_file, write_json_atomic

    check_output_file(path, force=force, is_ours=is_benchmark_result, example="benchmarks/results/bench.json")
    return write_json_atomic(result, path, indent=2)


def format_table(result: dict) -> str:
    lines = ["| workload | grid | compiled+CSE (s) | lambdify no CSE (s) | naive subs/evalf (s, scaled) | "
             "speed-up vs naive | speed-up vs no-CSE |", "|---|---|---|---|---|---|---|"]
    for r in result["results"]:
        sec, sp_ = r["seconds"], r["speedup"]
        lines.append(f"| {r['workload']} | {r['grid_points']} | {sec['compiled_cse']:.4g} | {sec['lambdify_no_cse']:.4g} | "
                     f"{sec['naive_subs_evalf_scaled']:.4g} | {sp_['vs_naive_subs_evalf']:.3g}× | "
                     f"{sp_['vs_lambdify_no_cse']:.3g}× |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=100_000)
    p.add_argument("--naive-points", type=int, default=30)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", default=str(DEFAULT_OUT),
                   help="Where to write the JSON result. An existing file is replaced only when it is an "
                        "earlier result of this script, or with --force.")
    p.add_argument("--force", action="store_true",
                   help="Replace an existing --out file even when it is not an earlier benchmark result.")
    a = p.parse_args(argv)
    from validation._io import OutputPathError, check_output_file

    try:
        check_output_file(a.out, force=a.force, is_ours=is_benchmark_result,
                          example="benchmarks/results/bench.json")
    except OutputPathError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    res = run_benchmark(points=a.points, naive_points=a.naive_points, repeat=a.repeat)
    print(format_table(res))
    for r in res["results"]:
        print(f"{r['workload']}: max relative difference {r['max_relative_difference']}")
    print(f"wrote {write_json(res, Path(a.out), force=a.force)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
