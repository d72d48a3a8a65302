"""Benchmark (a script, not a test): per-sample gradients of the DT.fig1 MLP, ours vs BackPACK.

``numerics.gradient_noise.per_sample_gradients`` on an MLP 64-256-10 (tanh) with cross-entropy on
sklearn digits (N = 1797, p = 19 210), against, in the same run and interleaved repetition by
repetition (medians of ``--repeat``):

* BackPACK ``BatchGrad`` (optional extra ``bench``: ``pip install -c constraints.txt -e .[bench]``) —
  its ``grad_batch`` tensors alone, and concatenated into the same (N, p) matrix ours returns;
* ``per_sample_gradient_blocks`` — ours in BackPACK's output form (one (N, *shape) tensor per
  parameter), the like-for-like comparison with the bare ``grad_batch`` tensors;
* a per-sample Python loop (one autograd backward per sample), also the accuracy reference;
* our generic ``method="vmap"`` route, unchunked (``chunk_size="auto"``) and with the former
  default ``chunk_size=1024``;
* ours cold: the first call in a fresh Python process (imports done), median of ``--cold-runs``.

float64 is the headline; float32 is reported alongside. The claims checked, in ``holds``:
ours is at least as fast as BackPACK delivering the same (N, p) matrix (ratio BackPACK / ours ≥ 1);
ours in BackPACK's per-parameter form at least as fast as its bare ``grad_batch`` tensors; the
stricter comparison of our (N, p) matrix with the bare ``grad_batch`` tensors is recorded too,
for the default call and for a call that reuses an ``out=`` buffer; and ours equals the loop to
1e-12 relative (max |G − G_loop| / max |G_loop|) in float64. Both libraries are bound by
allocating and first touching the N·p result, timed as ``floor_allocate_and_fill_N_by_p``. Wall
and CPU-time medians are recorded with the load average. Without BackPACK the script says so and
records ``backpack: null`` with the reason.

Usage: ``python benchmarks/bench_per_sample.py [--repeat 5] [--threads T] [--out PATH] [--force]``.
Writes ``benchmarks/results/bench_per_sample.json`` (provenance, load average, settings, timings).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from numerics.gradient_noise import per_sample_gradient_blocks, per_sample_gradients  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "bench_per_sample.json"
BENCHMARK = "per-sample gradients: ours vs BackPACK vs loop"
HIDDEN = 256
SEED = 0
REL_TOL = 1e-12


def digits(dtype=torch.float64):
    """sklearn digits, standardised per pixel (as the DT.fig1 experiment does)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (d.data - d.data.mean(0)) / (d.data.std(0) + 1e-8)
    return torch.tensor(X, dtype=dtype), torch.tensor(d.target, dtype=torch.long)


def mlp(dtype=torch.float64, seed: int = SEED):
    torch.manual_seed(seed)
    nn = torch.nn
    return nn.Sequential(nn.Linear(64, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, 10)).to(dtype)


def loop_gradients(model, loss_fn, X, y):
    """Reference: one autograd backward per sample."""
    params = [p for p in model.parameters() if p.requires_grad]
    out = torch.empty(X.shape[0], sum(p.numel() for p in params), dtype=X.dtype)
    for i in range(X.shape[0]):
        g = torch.autograd.grad(loss_fn(model(X[i:i + 1]), y[i:i + 1]), params)
        out[i] = torch.cat([t.reshape(-1) for t in g])
    return out


def backpack_runner(model):
    """``(grad_batch_fn, matrix_fn)`` for a BackPACK-extended copy of ``model``, or ``(None, reason)``."""
    try:
        import backpack
        from backpack.extensions import BatchGrad
    except Exception as exc:  # ImportError, or a broken install
        return None, (f"BackPACK not importable ({type(exc).__name__}: {exc}); install it: "
                      f"pip install -c constraints.txt -e '.[bench]'")
    ext = backpack.extend(mlp(next(model.parameters()).dtype))
    ext.load_state_dict(model.state_dict())
    loss = backpack.extend(torch.nn.CrossEntropyLoss(reduction="sum"))  # sum: grad_batch = per-sample grads

    def grad_batch(X, y):
        ext.zero_grad()
        value = loss(ext(X), y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # full backward hook on inputs without grad
            with backpack.backpack(BatchGrad()):
                value.backward()
        return [p.grad_batch for p in ext.parameters()]

    def matrix(X, y):
        return torch.cat([g.reshape(X.shape[0], -1) for g in grad_batch(X, y)], dim=1)

    return (grad_batch, matrix), None


def rel_diff(a, b) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max())


_COLD_SNIPPET = r"""
import json, sys, time
sys.path.insert(0, {root!r})
import torch
torch.set_num_threads({threads})
from bench_per_sample import digits, mlp
import numerics.gradient_noise as gn
X, y = digits(); model = mlp()
lf = torch.nn.functional.cross_entropy
kw = {kwargs}
t0 = time.perf_counter(); gn.per_sample_gradients(model, lf, X, y, **kw); t1 = time.perf_counter()
gn.per_sample_gradients(model, lf, X, y, **kw); t2 = time.perf_counter()
print(json.dumps({{"first": t1 - t0, "second": t2 - t1}}))
"""


def cold_calls(threads: int, runs: int, **kwargs) -> list[dict]:
    """First and second call of ``per_sample_gradients(..., **kwargs)`` in fresh processes (imports
    excluded)."""
    out = []
    env = dict(os.environ)
    snippet = _COLD_SNIPPET.format(root=str(ROOT), threads=threads, kwargs=repr(kwargs))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "benchmarks"), str(ROOT), env.get("PYTHONPATH", "")])
    for _ in range(runs):
        res = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, env=env, cwd=ROOT,
                             check=True)
        out.append(json.loads(res.stdout.strip().splitlines()[-1]))
    return out


def _median(v):
    return float(statistics.median(v))


def bench_dtype(dtype, *, repeat: int, with_loop: bool) -> dict:
    X, y = digits(dtype)
    model = mlp(dtype)
    lf = torch.nn.functional.cross_entropy
    N = X.shape[0]
    p = sum(q.numel() for q in model.parameters())
    bp, bp_why = backpack_runner(model)
    buf = torch.empty(N, p, dtype=dtype)
    methods = {
        "ours": lambda: per_sample_gradients(model, lf, X, y),
        "ours_out_buffer": lambda: per_sample_gradients(model, lf, X, y, out=buf),
        "ours_blocks": lambda: per_sample_gradient_blocks(model, lf, X, y),
        "ours_vmap_unchunked": lambda: per_sample_gradients(model, lf, X, y, method="vmap"),
        "ours_vmap_chunk1024_former_default": lambda: per_sample_gradients(model, lf, X, y, method="vmap",
                                                                           chunk_size=1024),
    }
    if bp is not None:
        methods["backpack_grad_batch"] = lambda: bp[0](X, y)
        methods["backpack_to_matrix"] = lambda: bp[1](X, y)
    if with_loop:
        methods["per_sample_loop"] = lambda: loop_gradients(model, lf, X, y)
    # the floor every method above pays: allocating the N·p numbers and touching them once
    methods["floor_allocate_and_fill_N_by_p"] = lambda: torch.empty(N, p, dtype=dtype).fill_(0)
    for f in methods.values():  # warm every route once (imports, first-call set-up)
        f()
    times = {k: [] for k in methods}
    cpu = {k: [] for k in methods}
    for _ in range(repeat):  # interleaved, so load changes hit every method alike
        for k, f in methods.items():
            c0, t0 = time.process_time(), time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    G = per_sample_gradients(model, lf, X, y)
    X64, y64 = digits(torch.float64)
    m64 = mlp(torch.float64)
    m64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    ref = loop_gradients(m64, lf, X64, y64)
    acc = {"ours_vs_loop_float64_reference": rel_diff(G, ref),
           "ours_vs_vmap_route": rel_diff(G, methods["ours_vmap_unchunked"]()),
           "ours_out_buffer_vs_ours": rel_diff(buf, G),
           "ours_blocks_vs_loop_float64_reference": rel_diff(
               torch.cat([b.reshape(N, -1) for b in methods["ours_blocks"]().values()], dim=1), ref)}
    if bp is not None:
        acc["ours_vs_backpack"] = rel_diff(G, bp[1](X, y))
    med = {k: _median(v) for k, v in times.items()}
    med_cpu = {k: _median(v) for k, v in cpu.items()}
    ratios = {}
    if bp is not None:
        ratios["backpack_to_matrix_over_ours"] = med["backpack_to_matrix"] / med["ours"]
        ratios["backpack_grad_batch_over_ours"] = med["backpack_grad_batch"] / med["ours"]
        ratios["backpack_grad_batch_over_ours_paired_median"] = _median(
            [b / o for b, o in zip(times["backpack_grad_batch"], times["ours"])])
        ratios["backpack_grad_batch_over_ours_cpu_time"] = med_cpu["backpack_grad_batch"] / med_cpu["ours"]
        ratios["backpack_grad_batch_over_ours_out_buffer"] = med["backpack_grad_batch"] / med["ours_out_buffer"]
        # like for like: per-parameter tensors on both sides
        ratios["backpack_grad_batch_over_ours_blocks"] = med["backpack_grad_batch"] / med["ours_blocks"]
        ratios["backpack_grad_batch_over_ours_blocks_paired_median"] = _median(
            [b / o for b, o in zip(times["backpack_grad_batch"], times["ours_blocks"])])
        ratios["backpack_grad_batch_over_ours_blocks_cpu_time"] = (med_cpu["backpack_grad_batch"]
                                                                   / med_cpu["ours_blocks"])
    ratios["vmap_chunk1024_over_ours"] = med["ours_vmap_chunk1024_former_default"] / med["ours"]
    ratios["vmap_unchunked_over_ours"] = med["ours_vmap_unchunked"] / med["ours"]
    if with_loop:
        ratios["loop_over_ours"] = med["per_sample_loop"] / med["ours"]
    return {"dtype": str(dtype).replace("torch.", ""), "N": N, "p": p,
            "seconds_median": med, "cpu_seconds_median": med_cpu, "seconds_all": times, "ratios": ratios,
            "max_relative_difference": acc, "backpack": None if bp is None else "BatchGrad",
            "backpack_missing": bp_why}


def run_benchmark(*, repeat: int = 5, cold_runs: int = 3, threads: int | None = 1, loop: bool = True) -> dict:
    from validation.records import provenance

    t_start = time.perf_counter()
    if threads is not None:
        torch.set_num_threads(threads)
    threads = torch.get_num_threads()
    load_before = os.getloadavg()
    results = {"float64": bench_dtype(torch.float64, repeat=repeat, with_loop=loop),
               "float32": bench_dtype(torch.float32, repeat=repeat, with_loop=False)}
    r64 = results["float64"]
    for name, kwargs in (("ours", {}), ("ours_vmap_chunk1024_former_default", {"method": "vmap", "chunk_size": 1024})):
        cold = cold_calls(threads, cold_runs, **kwargs)
        r64["seconds_median"][f"{name}_cold_first_call"] = _median([c["first"] for c in cold])
        r64["seconds_median"][f"{name}_cold_second_call"] = _median([c["second"] for c in cold])
        r64["seconds_all"][f"{name}_cold"] = cold
    r64["ratios"]["former_default_cold_over_ours_cold"] = (
        r64["seconds_median"]["ours_vmap_chunk1024_former_default_cold_first_call"]
        / r64["seconds_median"]["ours_cold_first_call"])
    rel = r64["max_relative_difference"]
    rat = r64["ratios"]

    def at_least(key):
        return None if key not in rat else bool(rat[key] >= 1.0)

    holds = {
        # like for like: BackPACK's per-sample gradients delivered as the same (N, p) matrix
        "at_least_as_fast_as_backpack": at_least("backpack_to_matrix_over_ours"),
        # like for like in BackPACK's form: per-parameter tensors (per_sample_gradient_blocks) vs grad_batch
        "blocks_at_least_as_fast_as_backpack_grad_batch": at_least("backpack_grad_batch_over_ours_blocks"),
        # stricter, reported: our (N, p) matrix vs BackPACK's per-parameter grad_batch tensors, not concatenated
        "at_least_as_fast_as_backpack_grad_batch_alone": at_least("backpack_grad_batch_over_ours"),
        "with_out_buffer_at_least_as_fast_as_backpack_grad_batch_alone":
            at_least("backpack_grad_batch_over_ours_out_buffer"),
        "equal_to_loop_1e-12_relative": bool(rel["ours_vs_loop_float64_reference"] <= REL_TOL),
        "blocks_equal_to_loop_1e-12_relative": bool(rel["ours_blocks_vs_loop_float64_reference"] <= REL_TOL),
        "equal_to_backpack_1e-12_relative": (None if "ours_vs_backpack" not in rel
                                             else bool(rel["ours_vs_backpack"] <= REL_TOL)),
    }
    prov = provenance(device="cpu", seed=SEED, wall_time_s=time.perf_counter() - t_start)
    from importlib import metadata

    try:
        prov["versions"]["backpack-for-pytorch"] = metadata.version("backpack-for-pytorch")
    except metadata.PackageNotFoundError:
        prov["versions"]["backpack-for-pytorch"] = None
    return {
        "benchmark": BENCHMARK,
        "model": f"MLP 64-{HIDDEN}-10 tanh, cross-entropy, sklearn digits",
        "settings": {"repeat": repeat, "cold_runs": cold_runs, "torch_threads": threads,
                     "statistic": "median over interleaved repetitions (each method once per repetition)",
                     "relative_difference": "max |G - G_ref| / max |G_ref|", "tolerance": REL_TOL},
        "loadavg": {"before": list(load_before), "after": list(os.getloadavg())},
        "holds": holds,
        "results": results,
        "provenance": prov,
    }


from benchmarks._common import add_output_arguments, out_is_usable, write_result  # noqa: E402


def format_table(result: dict) -> str:
    lines = []
    for name, r in result["results"].items():
        lines.append(f"{name}: N = {r['N']}, p = {r['p']}" + (f" — {r['backpack_missing']}"
                                                             if r["backpack_missing"] else ""))
        lines.append(f"  {'median of ' + str(len(next(iter(r['seconds_all'].values())))) + ' runs':54s}"
                     f"{'wall s':>9s} {'CPU s':>9s}")
        for k, v in r["seconds_median"].items():
            c = r["cpu_seconds_median"].get(k)
            lines.append(f"  {k:54s}{v:9.4f} " + (f"{c:9.4f}" if c is not None else ""))
        for k, v in r["ratios"].items():
            lines.append(f"  {k:54s}{v:9.2f}×")
        for k, v in r["max_relative_difference"].items():
            lines.append(f"  {k:54s}{v:9.2e}")
    lines.append(f"holds: {result['holds']}")
    lines.append(f"load average before/after: {result['loadavg']['before']} / {result['loadavg']['after']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="interleaved repetitions per method (median)")
    ap.add_argument("--cold-runs", type=int, default=3, help="fresh processes timing the first call")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads for every method (default 1: steadier timings on a shared "
                         "machine; 0 = torch's default)")
    ap.add_argument("--no-loop", action="store_true", help="skip the per-sample loop timing (slow)")
    add_output_arguments(ap, DEFAULT_OUT)
    a = ap.parse_args(argv)
    if a.repeat < 1 or a.cold_runs < 1:
        ap.error("--repeat and --cold-runs must be ≥ 1")
    if not out_is_usable(a.out, force=a.force):
        return 2
    res = run_benchmark(repeat=a.repeat, cold_runs=a.cold_runs, threads=a.threads or None, loop=not a.no_loop)
    if res["results"]["float64"]["backpack_missing"]:
        print(f"note: {res['results']['float64']['backpack_missing']}", file=sys.stderr)
    print(format_table(res))
    print(f"wrote {write_result(res, a.out, force=a.force, indent=1)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
