"""What the benchmark scripts share: the output arguments and writer, the median, and each
benchmark's *headline ratios* — the numbers an acceptance target is stated in, read out of a result
file by one function per benchmark, so that the report can set a fresh result beside the
committed one (``make bench`` writes fresh results to :data:`FRESH_DIR`; the committed ones live in
:data:`RESULTS_DIR`).

A headline is ``Headline(benchmark, label, value, target, sense)``: ``sense`` is ``">="`` when
larger is better (a speed-up) and ``"<="`` when smaller is (seconds, a slowdown); ``target`` is
``None`` for a number that is reported without a target (a scaling exponent).

This module is importable from the report without importing the benchmarks' heavy dependencies:
it needs only the standard library.
"""
from __future__ import annotations

import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: committed results (re-pinned by ``make bench BENCH_OUT=benchmarks/results``)
RESULTS_DIR = ROOT / "benchmarks" / "results"
#: where ``make bench`` writes by default (ignored by git): the report quotes these beside the committed
FRESH_DIR = RESULTS_DIR / "fresh"

#: the benchmark scripts, in the order ``make bench`` runs them (stem = script = result file name)
BENCHMARKS = ("bench_compile", "bench_sgd_escape", "bench_fokker_planck", "bench_per_sample", "bench_ledger",
              "bench_sgd", "bench_ensemble")


def median(xs) -> float:
    """Median of a non-empty sequence of numbers (``statistics.median``; a clear error when empty)."""
    xs = list(xs)
    if not xs:
        raise ValueError("median of no measurements: run the benchmark with --repeat >= 1")
    return float(statistics.median(xs))


def add_output_arguments(parser, default_out: Path) -> None:
    """``--out`` and ``--force``, worded the same in every script."""
    parser.add_argument("--out", default=str(default_out),
                        help=f"Where to write the JSON result (default: {default_out.relative_to(ROOT)}). An "
                             "existing file is replaced only when it is an earlier result of a benchmark "
                             "script, or with --force.")
    parser.add_argument("--force", action="store_true",
                        help="Replace an existing --out file even when it is not an earlier benchmark result.")


def check_out(path, *, force: bool = False) -> None:
    """Refuse a bad ``--out`` before any work (:func:`validation._io.check_output_file`)."""
    from validation._io import check_output_file, is_benchmark_result

    check_output_file(path, force=force, is_ours=is_benchmark_result, example="benchmarks/results/bench.json")


def out_is_usable(path, *, force: bool = False) -> bool:
    """:func:`check_out` for a command line: False (after printing the refusal on stderr) instead of
    raising, so a script can ``return 2`` before any work."""
    from validation._io import OutputPathError

    try:
        check_out(path, force=force)
    except OutputPathError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return False
    return True


def write_result(result: dict, path, *, force: bool = False, indent: int = 2) -> Path:
    """Check ``path`` and write ``result`` to it atomically (a JSON file with ``benchmark`` and
    ``provenance``, so that a later run may replace it without ``--force``)."""
    from validation._io import write_json_atomic

    if "benchmark" not in result or "provenance" not in result:
        raise ValueError("a benchmark result needs 'benchmark' and 'provenance' keys")
    check_out(path, force=force)
    return write_json_atomic(result, Path(path), indent=indent)


# --------------------------------------------------------------------------------------------
# the interleaved timing harness and its table (bench_sgd, bench_sgd_escape)


@dataclass(frozen=True)
class Interleaved:
    """What :func:`interleaved` measured: per variant every repetition's rate (units/s) and seconds,
    their median rate, the last ``(units, output)`` of each, the harness's wall time and the load average before and
    after (``os.getloadavg``)."""
    rates: dict
    seconds: dict
    median: dict
    outputs: dict
    wall_s: float
    load_before: tuple
    load_after: tuple

    def load(self, **extra) -> dict:
        """The ``load`` entry of a result (``extra``: e.g. ``torch_threads``)."""
        import os

        return {"getloadavg_before": list(self.load_before), "getloadavg_after": list(self.load_after),
                "cpu_count": os.cpu_count(), **extra}


def interleaved(calls: dict, *, repeat: int, seed: int, warm_up: bool = True) -> Interleaved:
    """Time ``calls`` (name → a callable returning ``(units, output)``; ``units``: e.g. the
    chain-steps it advanced) in one process: each called once to warm up (first-call costs; its
    output kept), then ``repeat`` (≥ 3) repetitions, each running every variant once in a seeded
    random order, so that no variant always follows the same neighbour.  Ratios of the medians are
    then of the same run: the machine's load cancels to first order."""
    import os
    import random
    import time

    if repeat < 3:
        raise ValueError("repeat must be >= 3 (medians of at least 3 repetitions)")
    names = list(calls)
    outputs = {v: calls[v]() for v in names} if warm_up else {}
    load_before = os.getloadavg()
    rates: dict = {v: [] for v in names}
    seconds: dict = {v: [] for v in names}
    shuffle = random.Random(seed)
    t_start = time.perf_counter()
    for _ in range(repeat):
        for v in shuffle.sample(names, len(names)):
            t0 = time.perf_counter()
            units, out = calls[v]()
            dt = time.perf_counter() - t0
            seconds[v].append(dt)
            rates[v].append(units / dt)
            outputs[v] = (units, out)
    wall = time.perf_counter() - t_start
    return Interleaved(rates=rates, seconds=seconds, median={v: median(rates[v]) for v in names},
                       outputs=outputs, wall_s=wall, load_before=tuple(load_before),
                       load_after=tuple(os.getloadavg()))


def rate_table(medians: dict, *, ref: str, column: str, ref_over_variant: bool = False,
               unit: str = "chain-steps/s") -> list[str]:
    """Markdown rows ``| variant | rate (median) | column |``: the median rate in millions, and the
    ratio ``variant / ref`` (``ref / variant`` with ``ref_over_variant``: how many times the
    reference is faster)."""
    rows = [f"| variant | {unit} (median) | {column} |", "|---|---|---|"]
    r0 = medians[ref]
    for v, m in medians.items():
        q = r0 / m if ref_over_variant else m / r0
        rows.append(f"| {v} | {m / 1e6:.3g} M | {q:.3g}× |")
    return rows


# --------------------------------------------------------------------------------------------
# headline ratios, one reader per benchmark


@dataclass(frozen=True)
class Headline:
    """One number an acceptance target is stated in (see the module docstring)."""
    benchmark: str
    label: str
    value: float
    target: float | None = None
    sense: str = ">="

    @property
    def meets(self) -> bool | None:
        """Whether ``value`` meets ``target`` (None without a target)."""
        if self.target is None:
            return None
        return self.value >= self.target if self.sense == ">=" else self.value <= self.target


def _compile(r: dict) -> list[Headline]:
    out = []
    for w in r["results"]:
        sp = w.get("speedup", {})
        if "plain_lambdify_over_ours" in sp:
            out.append(Headline("bench_compile", f"compile_expr vs plain lambdify, {w['workload']} (×)",
                                sp["plain_lambdify_over_ours"], 1.0))
    return out


def _sgd_escape(r: dict) -> list[Headline]:
    q = r["ratios_of_medians"]
    return [Headline("bench_sgd_escape", "simulate_escape vs the previous simulator, same workload (×)",
                     q["simulate_escape_over_baseline"], 5.0),
            Headline("bench_sgd_escape", "hand-written in-place NumPy loop vs simulate_escape (slowdown ×)",
                     q["inplace_numpy_over_simulate_escape"], 2.0, "<="),
            Headline("bench_sgd_escape", "simulate_escape throughput (M chain-steps/s)",
                     r["chain_steps_per_s"]["simulate_escape"]["median"] / 1e6)]


def _fokker_planck(r: dict) -> list[Headline]:
    out = []
    targets = r.get("targets", {})
    for row in r["steady_state"]:
        key = f"{row['problem']}@{row['cells_per_axis']}"
        if key in targets:
            out.append(Headline("bench_fokker_planck",
                                f"steady state vs fplanck, {row['problem']}, {row['cells']} cells (×)",
                                row["speedup"]["fplanck_solve_over_ours_solve"], targets[key]))
    for problem, exps in r.get("scaling_exponents", {}).items():
        out.append(Headline("bench_fokker_planck", f"solve-time scaling exponent, {problem} (ours)", exps["ours"]))
    for row in r.get("propagate", []):
        out.append(Headline("bench_fokker_planck", f"propagate, Krylov vs old expm_multiply, {row['cells']} cells (×)",
                            row["speedup_old_over_new"]))
    return out


def _per_sample(r: dict) -> list[Headline]:
    s = r["results"]["float64"]["seconds_median"]
    out = []
    if "backpack_to_matrix" in s:
        out.append(Headline("bench_per_sample", "per_sample_gradients vs BackPACK as an (N, p) matrix (×)",
                            s["backpack_to_matrix"] / s["ours"], 1.0))
        out.append(Headline("bench_per_sample", "per_sample_gradients vs BackPACK's raw per-layer grad_batch (×)",
                            s["backpack_grad_batch"] / s["ours"], 1.0))
        out.append(Headline("bench_per_sample", "per_sample_gradients(out=buffer) vs raw grad_batch (×)",
                            s["backpack_grad_batch"] / s["ours_out_buffer"], 1.0))
        if "ours_blocks" in s:  # the same output form as grad_batch: per-layer (N, *shape) tensors
            out.append(Headline("bench_per_sample", "per_sample_gradient_blocks vs raw grad_batch, same form (×)",
                                s["backpack_grad_batch"] / s["ours_blocks"], 1.0))
    out.append(Headline("bench_per_sample", "per_sample_gradients vs a per-sample backward loop (×)",
                        s["per_sample_loop"] / s["ours"]))
    return out


def _ledger(r: dict) -> list[Headline]:
    b, L = r["stationary_build"], r["ledger"]
    return [Headline("bench_ledger", "StationaryProblem1D build, RND.H4.right, assumption-free vs before (×)",
                     b["speedup_of_medians"]["wall_s"], 5.0),
            Headline("bench_ledger", f"python -m validation claims, wall on {L['jobs']} workers (s)",
                     L["median"]["parallel"]["wall_s"], L.get("target_wall_s_at_most_on_2_cores", 30.0), "<="),
            Headline("bench_ledger", "python -m validation claims, serial CPU (s)", L["median"]["serial"]["cpu_s"])]


def _sgd(r: dict) -> list[Headline]:
    q = r["ratios_of_medians"]
    out = [Headline("bench_sgd", "simulate_sgd vs a naive per-step PyTorch loop, same workload (×)",
                    q["simulator_over_torch_loop"], 10.0),
           Headline("bench_sgd", "simulate_sgd vs a NumPy per-step loop, same workload (×)",
                    q["simulator_over_numpy_loop"], 10.0),
           Headline("bench_sgd", f"device bound vs simulate_sgd (slowdown ×; binds: {r['bound_parts']['binds']})",
                    q["bound_over_simulator"], 3.0, "<=")]
    if q.get("simulator_over_torch_compiled") is not None:
        out.append(Headline("bench_sgd", "simulate_sgd vs a torch.compile'd per-step function (×)",
                            q["simulator_over_torch_compiled"]))
    out.append(Headline("bench_sgd", "simulate_sgd throughput (M chain-steps/s)",
                        r["chain_steps_per_s"]["simulator"]["median"] / 1e6))
    roof = r.get("roofline")  # results before 2026-12-01 have none
    if roof is not None:
        out.append(Headline("bench_sgd", "cap on simulate_sgd vs the naive PyTorch loop set by drawing the "
                                          "same random numbers (RNG bound / loop, ×)",
                            roof["max_simulator_over_torch_loop_at_the_rng_bound"]))
        anyx = roof.get("any_exact_stream")  # results before 3162d1f have none
        if anyx is not None:
            out.append(Headline("bench_sgd", "cap on any simulator vs the naive PyTorch loop with the cheapest exact "
                                              "random stream measured + gather + update (×)",
                                anyx["max_simulator_over_torch_loop"]))
            floor = roof["information_floor"]["with_gather_mean_and_update"]
            out.append(Headline("bench_sgd", "cap on any simulator vs the naive PyTorch loop at the information "
                                              "floor (raw random bits + gather + update, ×)",
                                floor["max_simulator_over_torch_loop"]))
    return out


def _ensemble(r: dict) -> list[Headline]:
    return [Headline("bench_ensemble", f"train_sgd_ensemble vs sequential train_sgd, temperature_scan {row['preset']} "
                                       f"model, M = {row['M']} (×)", row["ratio_sequential_over"]["bmm_padded"], 1.0)
            for row in r["results"]]


READERS: dict[str, Callable[[dict], list[Headline]]] = {
    "bench_compile": _compile, "bench_sgd_escape": _sgd_escape, "bench_fokker_planck": _fokker_planck,
    "bench_per_sample": _per_sample, "bench_ledger": _ledger, "bench_sgd": _sgd,
    "bench_ensemble": _ensemble}


def headlines(stem: str, result: dict) -> list[Headline]:
    """The headline numbers of benchmark ``stem``'s ``result`` (a parsed result file). An unknown
    stem raises ``KeyError`` naming the known ones; a result of an older format that lacks a number
    raises ``KeyError`` naming it (re-run the benchmark)."""
    if stem not in READERS:
        raise KeyError(f"no headline reader for benchmark {stem!r}; known: {', '.join(READERS)}")
    return READERS[stem](result)


def load(path) -> dict | None:
    """A result file's JSON, or None when there is none (or it is not a benchmark result)."""
    try:
        res = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return res if isinstance(res, dict) and "benchmark" in res and "provenance" in res else None


def result_date(result: dict) -> str:
    """The UTC date a result was measured (the provenance of the older scripts names it differently)."""
    prov = result.get("provenance", {})
    return str(prov.get("date_utc") or prov.get("date") or "?")[:16]


# --------------------------------------------------------------------------------------------
# bench_nets (issue 12 acceptance 3): its reader, registered after the others


def _nets(r: dict) -> list[Headline]:
    e = r["ensemble"]
    # CPU-time ratios (single-threaded routes; robust on a shared machine: bench_nets' docstring)
    out = [Headline("bench_nets", f"train_sgd_ensemble vs sequential train_sgd, temperature_scan FULL model, "
                                  f"M = {e['M']} (CPU time ×; CPU: reported, no target)",
                    e["ratio_sequential_over_ensemble_cpu"])]
    for row in r["per_sample_covariance"]:
        q = row["ratios"]
        if "backpack_over_ours_blocks_cpu" in q:
            out.append(Headline("bench_nets", f"per-sample gradients + covariance vs BackPACK, {row['model']} "
                                              f"(CPU time ×)", q["backpack_over_ours_blocks_cpu"], 1.0))
        if "loop_over_ours_blocks_cpu" in q:
            out.append(Headline("bench_nets", f"per-sample gradients + covariance vs a per-sample loop, "
                                              f"{row['model']} (CPU time ×)", q["loop_over_ours_blocks_cpu"], 100.0))
        roof = row.get("roofline")  # results before 3dd264c have none
        if roof is not None:
            out.append(Headline("bench_nets", f"cap on any route that writes the per-sample gradients vs the loop, "
                                              f"{row['model']} (loop / (write N×p + projection), CPU time ×)",
                                roof["loop_over_floor_cpu"]))
    for row in r["top_eigenvalue"]["results"]:
        if "pyhessian_over_ours_cpu" in row:
            out.append(Headline("bench_nets", f"Lanczos top eigenvalue vs PyHessian's power iteration, relative "
                                              f"accuracy {row['epsilon']:g} (CPU time ×)", row["pyhessian_over_ours_cpu"],
                                1.0))
    return out


READERS["bench_nets"] = _nets
BENCHMARKS = BENCHMARKS + ("bench_nets",)
