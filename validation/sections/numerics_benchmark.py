"""Report section: the performance benchmarks — every benchmark's headline ratios, committed
(``benchmarks/results/``) beside fresh (``benchmarks/results/fresh/``, written by ``make bench``) so
that a stale figure is visible — then the compiled-theory and escape-simulator tables."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

TITLE = "Performance benchmarks"
ORDER = 50

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks" / "bench_compile.py"
RESULT = ROOT / "benchmarks" / "results" / "bench_compile.json"
BENCH_SGD = ROOT / "benchmarks" / "bench_sgd_escape.py"
#: a fresh value differing from the committed one by more than this factor is flagged as drift
DRIFT_FACTOR = 1.25
RESULT_SGD = ROOT / "benchmarks" / "results" / "bench_sgd_escape.json"


def _bench_module(path=BENCH, name="bench_compile"):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _provenance_line(prov: dict) -> str:
    """One line of provenance, for :func:`validation.records.provenance` results and the older
    format of bench_compile (``commit``, ``machine``, ``date``)."""
    machine = prov.get("machine", {})
    versions = prov.get("versions", {})
    commit = prov.get("git_commit") or prov.get("commit") or "unknown"
    cpus = prov.get("cpu_count") or machine.get("cpu_count", "?")
    plat = prov.get("platform") or machine.get("platform", "?")
    date = prov.get("date_utc") or prov.get("date", "?")
    return (f"Provenance: commit `{str(commit)[:12]}`, {cpus} CPUs ({plat}), numpy {versions.get('numpy', '?')}, "
            f"sympy {versions.get('sympy', '?')}, torch {versions.get('torch', '?')}, {date}.")


def _common():
    """``benchmarks._common`` (the repository root on ``sys.path``, as when a script runs)."""
    import importlib
    import sys

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("benchmarks._common")


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def headline_table(results_dir: Path | None = None, fresh_dir: Path | None = None) -> str:
    """Markdown table of every benchmark's headline numbers (``benchmarks/_common.py``): target,
    committed value (with its date), fresh value (with its date) and fresh/committed; "drift" when
    they differ by more than :data:`DRIFT_FACTOR`, "no fresh run" when ``make bench`` has not run
    here. A benchmark with no committed result is named, not skipped silently."""
    common = _common()
    results_dir = common.RESULTS_DIR if results_dir is None else Path(results_dir)
    fresh_dir = common.FRESH_DIR if fresh_dir is None else Path(fresh_dir)
    rows = ["| benchmark | headline | target | committed | fresh | fresh / committed |",
            "|---|---|---|---|---|---|"]
    for stem in common.BENCHMARKS:
        committed = common.load(results_dir / f"{stem}.json")
        fresh = common.load(fresh_dir / f"{stem}.json")
        if committed is None and fresh is None:
            rows.append(f"| {stem} | no result committed or fresh: run `make bench` | | | | |")
            continue
        heads_c = {h.label: h for h in common.headlines(stem, committed)} if committed else {}
        heads_f = {h.label: h for h in common.headlines(stem, fresh)} if fresh else {}
        for label in list(heads_c) + [k for k in heads_f if k not in heads_c]:
            hc, hf = heads_c.get(label), heads_f.get(label)
            h = hc or hf
            target = "–" if h.target is None else f"{h.sense} {_fmt(h.target)}"

            def cell(x, res):
                if x is None:
                    return "–"
                mark = "" if x.meets is None else (" ✓" if x.meets else " ✗ (target missed)")
                return f"{_fmt(x.value)}{mark} ({common.result_date(res)})"

            if hc is not None and hf is not None and hc.value != 0:
                q = hf.value / hc.value
                ratio = _fmt(q) + (" — drift" if not 1 / DRIFT_FACTOR <= q <= DRIFT_FACTOR else "")
            else:
                ratio = "no fresh run (`make bench`)" if hf is None else "no committed result"
            rows.append(f"| {stem} | {label} | {target} | {cell(hc, committed)} | {cell(hf, fresh)} | {ratio} |")
    return "\n".join(rows)


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
        "Headline numbers of every benchmark script (`make bench` re-measures them all into "
        "`benchmarks/results/fresh/`; `make bench BENCH_OUT=benchmarks/results` re-pins the committed ones). "
        "Ratios are measured side by side in one run of one script; ✓/✗ say whether the target holds; "
        f"a fresh value more than {DRIFT_FACTOR:g}× away from the committed one is marked *drift* — the committed "
        "figure is stale or the machine differs.",
        "",
        headline_table(),
        "",
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
        _provenance_line(prov),
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
