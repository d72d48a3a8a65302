"""Report section: speed-up of the compiled theory (benchmarks/bench_compile.py) and the throughput
of the SGD escape simulator (benchmarks/bench_sgd_escape.py)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

TITLE = "Compiled-theory benchmark"
ORDER = 50

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks" / "bench_compile.py"
RESULT = ROOT / "benchmarks" / "results" / "bench_compile.json"
BENCH_SGD = ROOT / "benchmarks" / "bench_sgd_escape.py"
RESULT_SGD = ROOT / "benchmarks" / "results" / "bench_sgd_escape.json"


def _bench_module(path=BENCH, name="bench_compile"):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def build(outdir: Path) -> str:
    """Quote the recorded benchmark (``benchmarks/results/bench_compile.json``); when none is
    recorded, run a small live benchmark."""
    bench = _bench_module()
    if RESULT.exists():
        result = json.loads(RESULT.read_text(encoding="utf-8"))
        source = f"recorded in `benchmarks/results/bench_compile.json` (`make bench`)"
    else:
        result = bench.run_benchmark(points=20_000, naive_points=8, repeat=2)
        source = "a small live run (no recorded result)"
    prov = result.get("provenance", {})
    lines = [
        "Compiled theory (`numerics.compile.compile_expr`: lambdify with small integer powers written as "
        "products and common-subexpression elimination where it cuts the operation count) against plain "
        "`lambdify`, `lambdify` with CSE always on (the earlier default), the torch backend, and a naive "
        "per-point SymPy `subs`/`evalf` loop (timed on a subset, scaled per point), on the same inputs; "
        f"{source}.",
        "",
        bench.format_table(result),
        "",
        "Max relative differences between the methods: "
        + "; ".join(f"{r['workload']}: " + ", ".join(f"{k} {v:.1e}" for k, v in r["max_relative_difference"].items())
                    for r in result["results"]) + ".",
        "",
        f"Provenance: commit `{str(prov.get('commit', 'unknown'))[:12]}`, {prov.get('machine', {}).get('cpu_count', '?')} "
        f"CPUs ({prov.get('machine', {}).get('platform', '?')}), numpy {prov.get('versions', {}).get('numpy', '?')}, "
        f"sympy {prov.get('versions', {}).get('sympy', '?')}, torch {prov.get('versions', {}).get('torch', '?')}, "
        f"{prov.get('date', '?')}.",
    ]
    if RESULT_SGD.exists():
        sgd = json.loads(RESULT_SGD.read_text(encoding="utf-8"))
        w, sp_ = sgd.get("workload", {}), sgd.get("provenance", {})
        lines += [
            "",
            f"SGD escape simulator (`numerics.sgd_escape.simulate_escape`, NumPy backend), chain-steps/s "
            f"on the DT §4 1-D workload (B = {w.get('batch_size', '?')}, {w.get('n_runs', '?')} runs, "
            f"{w.get('max_steps', '?')} steps), medians of {sgd.get('repeat', '?')} interleaved repetitions "
            "(recorded in `benchmarks/results/bench_sgd_escape.json`):",
            "",
            _bench_module(BENCH_SGD, "bench_sgd_escape").format_table(sgd),
            "",
            f"Provenance: commit `{str(sp_.get('git_commit', 'unknown'))[:12]}`, {sp_.get('cpu_count', '?')} CPUs "
            f"({sp_.get('cpu', '?')}), numpy {sp_.get('numpy', '?')}, {sp_.get('date_utc', '?')}.",
        ]
    return "\n".join(lines) + "\n"
