"""Report section: speed-up of the compiled theory (benchmarks/bench_compile.py)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

TITLE = "Compiled-theory benchmark"
ORDER = 50

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks" / "bench_compile.py"
RESULT = ROOT / "benchmarks" / "results" / "bench_compile.json"


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_compile", BENCH)
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
        "Compiled theory (`numerics.compile.compile_expr`: lambdify + common-subexpression elimination) "
        "against a naive per-point SymPy `subs`/`evalf` loop (timed on a subset, scaled per point) and "
        f"plain `lambdify` without CSE, on the same grid; {source}.",
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
    return "\n".join(lines) + "\n"
