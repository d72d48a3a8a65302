"""Benchmark (a script, not a test): assumption-free symbolic work and the parallel claims ledger.

Two measurements, in one run:

* ``stationary_build`` — building :class:`numerics.stationary.StationaryProblem1D` for RND Fig. H.4
  right (``numerics.landscapes.preset("RND.H4.right")``: train loss, the sampled diffusion
  ``D(θ) = Var_j ∂_θU(x_j, θ)`` of its 10 train samples, test loss; θ is ``real=True``):

  - ``baseline`` — the build as it was before (symbols with assumptions): ``sp.diff``, ``D.is_zero`` and the compile on
    the user's ``real=True`` θ and ``positive=True`` T (this script runs it by making
    ``numerics.stationary.assumption_sensitive`` answer True, which skips the stripping);
  - ``plain_symbols`` — the build now: the same expressions with their symbols replaced by
    assumption-free ones first (:func:`theory.coordinates.strip_assumptions`).

  Each build runs in a fresh interpreter (SymPy's cache empty, as for a user's first build), the
  variants interleaved, ``--repeat`` times; wall and CPU (``time.process_time``) seconds of the
  constructor alone.  Both builds then compute the stationary state at ``TEMPERATURES`` and the
  exact basin weights are compared (``max_abs_weight_difference``), with the compiled U, U', U'',
  V, V' on the scan grid (``max_relative_difference``).  The domain is (−1.5, 1.5), not the preset's
  (−3, 3): beyond ±1.5 the sampled D falls to ~1e-26 and ``state`` refuses the degenerate v''
  there; the symbolic work, which is what is timed, does not depend on the domain.

* ``ledger`` — ``python -m validation claims --json`` with ``--jobs 1`` (serial, the previous
  path) and ``--jobs N`` (N = the CPUs this process may use), each in a fresh interpreter, the
  order alternated over ``--ledger-repeat`` rounds.  Wall seconds, and CPU seconds of the whole
  process tree (the command and its workers; sampled with ``psutil`` every 0.1 s).  The outputs must be identical apart from each check's ``seconds`` (``outputs_identical``).

The machine may be shared: ``os.getloadavg`` is recorded before and after each part, with
``cpu_capacity`` (how many CPUs two copies of a busy loop really got), and the ledger's target
(≤ 30 s on 2 cores) is judged also from ``serial CPU seconds / 2`` — what a perfectly balanced
2-worker run on an idle machine would take — and from ``simulated_wall_s_on_idle_cpus`` (the serial
run's startup plus its per-module seconds scheduled as the ledger schedules them).
The serial run's per-module and (15 largest) per-check seconds are recorded (``serial_module_seconds``,
``serial_top_check_seconds``): in one process on an idle CPU they are CPU seconds.

Usage: ``python benchmarks/bench_ledger.py [--repeat K] [--ledger-repeat L] [--jobs N] [--skip-ledger]
[--out PATH] [--force]``.  Writes ``benchmarks/results/bench_ledger.json`` with provenance
(:func:`validation.records.provenance`).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "bench_ledger.json"
PRESET = "RND.H4.right"
DOMAIN = (-1.5, 1.5)
TEMPERATURES = (1e3, 1e4, 1e5, 1e6)
VARIANTS = ("baseline", "plain_symbols")


# --------------------------------------------------------------------------------------------------
# StationaryProblem1D build (runs in a child interpreter: ``python bench_ledger.py --child VARIANT``)
# --------------------------------------------------------------------------------------------------
def _child_build(variant: str) -> dict:
    """Build the problem with ``variant``'s path; timings, weights and compiled values (JSON)."""
    import contextlib
    from unittest import mock

    import numpy as np
    import sympy as sp

    import numerics.stationary as S
    from numerics.landscapes import preset

    model = preset(PRESET).model
    th = sp.Symbol("theta", real=True)
    U, D, Ut = model.train_loss(th), model.diffusion(th), model.test_loss(th)
    old_path = (mock.patch.object(S, "assumption_sensitive", lambda _e: True) if variant == "baseline"
                else contextlib.nullcontext())
    with old_path:
        t0, c0 = time.perf_counter(), time.process_time()
        prob = S.StationaryProblem1D(U, th, diffusion=D, test_loss=Ut, domain=DOMAIN)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    x = prob._scan
    values = np.concatenate([prob._U(x), prob._V(x, TEMPERATURES[1]), prob._Ut(x)], axis=-1)
    weights = [prob.state(T).basin_weights.tolist() for T in TEMPERATURES]
    return {"wall_s": wall, "cpu_s": cpu, "weights": weights, "values": values.tolist()}


def _run_child(variant: str) -> dict:
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", variant], cwd=ROOT,
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_stationary(repeat: int) -> dict:
    import numpy as np

    load_before = list(os.getloadavg())
    runs: dict = {v: [] for v in VARIANTS}
    last: dict = {}
    for k in range(repeat):
        for v in (VARIANTS if k % 2 == 0 else VARIANTS[::-1]):
            r = _run_child(v)
            runs[v].append({"wall_s": r["wall_s"], "cpu_s": r["cpu_s"]})
            last[v] = r
    med = {v: {m: statistics.median(r[m] for r in runs[v]) for m in ("wall_s", "cpu_s")} for v in VARIANTS}
    wb, wn = (np.array(last[v]["weights"]) for v in VARIANTS)
    vb, vn = (np.array(last[v]["values"]) for v in VARIANTS)
    rel = float(np.max(np.abs(vb - vn) / np.maximum(np.abs(vb), 1e-300)))
    return {
        "workload": {"preset": PRESET, "domain": list(DOMAIN), "temperatures": list(TEMPERATURES),
                     "theta": "Symbol('theta', real=True)", "T": "Symbol('T', positive=True)"},
        "repeat": repeat,
        "runs": runs,
        "median": med,
        "speedup_of_medians": {m: med["baseline"][m] / med["plain_symbols"][m] for m in ("wall_s", "cpu_s")},
        "target_speedup_at_least": 5.0,
        "basin_weights": {"baseline": wb.tolist(), "plain_symbols": wn.tolist()},
        "max_abs_weight_difference": float(np.max(np.abs(wb - wn))),
        "max_relative_difference_compiled_values": rel,
        "load": {"getloadavg_before": load_before, "getloadavg_after": list(os.getloadavg())},
    }


# --------------------------------------------------------------------------------------------------
# the ledger, serial vs parallel
# --------------------------------------------------------------------------------------------------
def _tree_cpu(proc, seen: dict) -> None:
    """Record the CPU seconds of ``proc`` and every descendant (the largest value seen per pid)."""
    import psutil

    try:
        procs = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return
    for p in procs:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        seen[p.pid] = max(seen.get(p.pid, 0.0), t.user + t.system)


def _run_ledger(jobs: int) -> tuple[float, float | None, str]:
    """``python -m validation claims --json --jobs N``: (wall s, process-tree CPU s, stdout).

    CPU: user + system seconds of the command and every descendant (workers, a fork server),
    sampled with ``psutil`` every 0.1 s (the largest value seen per process; ``None`` without
    psutil). Not ``RUSAGE_CHILDREN``: it misses a fork server's workers, which nobody reaps."""
    import tempfile

    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is optional
        psutil = None
    cmd = [sys.executable, "-m", "validation", "claims", "--json", "--jobs", str(jobs)]
    with tempfile.TemporaryFile("w+", encoding="utf-8") as fout, \
            tempfile.TemporaryFile("w+", encoding="utf-8") as ferr:  # files: a full pipe would block it
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fout, stderr=ferr, text=True)
        seen: dict = {}
        if psutil is not None:
            ps = psutil.Process(proc.pid)
            while proc.poll() is None:
                _tree_cpu(ps, seen)
                time.sleep(0.1)
        proc.wait()
        wall = time.perf_counter() - t0
        fout.seek(0)
        ferr.seek(0)
        out, err = fout.read(), ferr.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {err[-2000:]}")
    return wall, (sum(seen.values()) if seen else None), out


def _strip_seconds(text: str):
    data = json.loads(text)
    for claim in data:
        for chk in claim.get("checks", []):
            chk.pop("seconds", None)
    return data


_SPIN = "import time\nt=time.perf_counter()\ns=0\nfor i in range(20_000_000): s+=i\nprint(time.perf_counter()-t)"


def cpu_capacity() -> dict:
    """How many CPUs this run could really use: a fixed pure-Python loop alone, then two copies at
    once; ``effective_cpus = 2 × alone / slower of the pair`` (2.0 on two free cores, 1.0 when
    another load holds one of them — the shared machine's helpers, a CI run)."""
    def spin(n):
        procs = [subprocess.Popen([sys.executable, "-c", _SPIN], stdout=subprocess.PIPE, text=True)
                 for _ in range(n)]
        return max(float(p.communicate()[0]) for p in procs)

    alone = spin(1)
    pair = spin(2)
    return {"alone_s": alone, "pair_s": pair, "effective_cpus": 2.0 * alone / pair}


def _module_seconds(data) -> dict:
    """Per check module, the summed ``seconds`` of its checks (each check once) in a ledger's JSON."""
    seen, out = set(), {}
    for claim in data:
        for chk in claim.get("checks", []):
            if chk["check"] not in seen:
                seen.add(chk["check"])
                mod = chk["check"].rsplit(".", 1)[0]
                out[mod] = out.get(mod, 0.0) + float(chk["seconds"])
    return out


def _check_seconds(data) -> dict:
    """Per check, its ``seconds`` in a ledger's JSON (each check once)."""
    out = {}
    for claim in data:
        for chk in claim.get("checks", []):
            out.setdefault(chk["check"], float(chk["seconds"]))
    return out


def simulated_makespan(module_seconds: dict, jobs: int) -> float:
    """Wall seconds of the checks on ``jobs`` idle CPUs: the module tasks, in the ledger's schedule
    (``validation.ledger._schedule_key``), each to the first free worker."""
    from validation.ledger import LONG_MODULES_FIRST

    def key(mod):
        name = mod.rsplit(".", 1)[-1]
        return (LONG_MODULES_FIRST.index(name) if name in LONG_MODULES_FIRST else len(LONG_MODULES_FIRST), mod)

    free = [0.0] * jobs
    for mod in sorted(module_seconds, key=key):
        i = free.index(min(free))
        free[i] += module_seconds[mod]
    return max(free)


def bench_ledger(repeat: int, jobs: int) -> dict:
    load_before = list(os.getloadavg())
    capacity_before = cpu_capacity()
    runs: dict = {"serial": [], "parallel": []}
    outputs: dict = {}
    per_module: list = []
    per_check: list = []
    for k in range(repeat):
        order = ("serial", "parallel") if k % 2 == 0 else ("parallel", "serial")
        for name in order:
            la = list(os.getloadavg())
            wall, cpu, out = _run_ledger(1 if name == "serial" else jobs)
            runs[name].append({"wall_s": wall, "cpu_s": cpu, "getloadavg_before": la})
            if name == "serial":
                mods = _module_seconds(json.loads(out))
                per_check.append(_check_seconds(json.loads(out)))
                runs[name][-1]["checks_s"] = sum(mods.values())
                per_module.append(mods)
            outputs.setdefault(name, []).append(_strip_seconds(out))
    med = {n: {"wall_s": statistics.median(r["wall_s"] for r in runs[n]),
               "cpu_s": (statistics.median(r["cpu_s"] for r in runs[n])
                         if all(r["cpu_s"] is not None for r in runs[n]) else None)} for n in runs}
    ref = outputs["serial"][0]
    identical = all(o == ref for n in outputs for o in outputs[n])
    verdicts = {c["id"]: c["verdict"] for c in ref}
    expected = json.loads((ROOT / "tests" / "validation" / "expected_verdicts.json").read_text(encoding="utf-8"))
    serial_cpu = med["serial"]["cpu_s"]
    fastest = min(range(len(per_module)), key=lambda i: runs["serial"][i]["wall_s"])
    mods = per_module[fastest]
    startup = runs["serial"][fastest]["wall_s"] - sum(mods.values())
    return {
        "command": "python -m validation claims --json --jobs N",
        "jobs": jobs,
        "cpu_count": os.cpu_count(),
        "repeat": repeat,
        "runs": runs,
        "median": med,
        "speedup_wall_of_medians": med["serial"]["wall_s"] / med["parallel"]["wall_s"],
        "serial_cpu_s_over_2": None if serial_cpu is None else serial_cpu / 2,
        "serial_module_seconds": {m.rsplit(".", 1)[-1]: round(v, 3) for m, v in
                                  sorted(mods.items(), key=lambda kv: -kv[1])},
        "serial_top_check_seconds": {k.split(".", 2)[-1]: round(v, 3) for k, v in
                                     sorted(per_check[fastest].items(), key=lambda kv: -kv[1])[:15]},
        "serial_startup_s": startup,
        "simulated_wall_s_on_idle_cpus": {
            "explanation": "startup (serial wall − Σ check seconds, fastest serial run) + the module tasks "
                           "scheduled as the ledger does on N idle CPUs (per-module seconds of that run)",
            **{str(n): startup + simulated_makespan(mods, n) for n in sorted({2, jobs})}},
        "target_wall_s_at_most_on_2_cores": 30.0,
        "cpu_capacity": {"before": capacity_before, "after": cpu_capacity()},
        "outputs_identical": identical,
        "claim_verdicts_match_pinned": verdicts == expected["claims"],
        "load": {"getloadavg_before": load_before, "getloadavg_after": list(os.getloadavg())},
    }


# --------------------------------------------------------------------------------------------------
def run_benchmark(*, repeat: int = 3, ledger_repeat: int = 1, jobs: int | None = None,
                  skip_ledger: bool = False) -> dict:
    if repeat < 1 or ledger_repeat < 1:
        raise ValueError("repeat and ledger_repeat must be >= 1")
    from validation.ledger import default_jobs
    from validation.records import provenance

    jobs = default_jobs() if jobs is None else jobs
    t0 = time.perf_counter()
    res = {"benchmark": "assumption-free symbolic work and the parallel claims ledger",
           "stationary_build": bench_stationary(repeat)}
    if not skip_ledger:
        res["ledger"] = bench_ledger(ledger_repeat, jobs)
    res["provenance"] = provenance(device="cpu", seed=0, wall_time_s=time.perf_counter() - t0)
    return res


from benchmarks._common import add_output_arguments, out_is_usable, write_result  # noqa: E402



def format_table(result: dict) -> str:
    s = result["stationary_build"]
    rows = ["| StationaryProblem1D build (RND.H4.right) | wall s (median) | CPU s (median) |", "|---|---|---|"]
    for v in VARIANTS:
        rows.append(f"| {v} | {s['median'][v]['wall_s']:.3g} | {s['median'][v]['cpu_s']:.3g} |")
    sp_ = s["speedup_of_medians"]
    rows.append(f"\nspeed-up {sp_['wall_s']:.3g}× wall, {sp_['cpu_s']:.3g}× CPU (target ≥ 5×); max |Δ weight| "
                f"{s['max_abs_weight_difference']:.2g}, max relative Δ of compiled values "
                f"{s['max_relative_difference_compiled_values']:.2g}")
    if "ledger" in result:
        L = result["ledger"]
        rows += ["", f"| ledger | wall s (median) | CPU s (median, process tree) |", "|---|---|---|"]
        for n in ("serial", "parallel"):
            cpu = L["median"][n]["cpu_s"]
            label = "--jobs 1" if n == "serial" else f"--jobs {L['jobs']}"
            rows.append(f"| {label} | {L['median'][n]['wall_s']:.3g} | {'—' if cpu is None else f'{cpu:.3g}'} |")
        half = L["serial_cpu_s_over_2"]
        sim = L["simulated_wall_s_on_idle_cpus"]["2"]
        rows.append(f"\nwall speed-up {L['speedup_wall_of_medians']:.3g}×; serial CPU / 2 = "
                    f"{'—' if half is None else f'{half:.3g}'} s, simulated 2-CPU wall {sim:.3g} s "
                    f"(target ≤ 30 s); outputs identical: "
                    f"{L['outputs_identical']}; claim verdicts = pinned: {L['claim_verdicts_match_pinned']}; "
                    f"load {L['load']['getloadavg_before'][0]:.2f} → {L['load']['getloadavg_after'][0]:.2f} "
                    f"on {L['cpu_count']} CPUs; effective CPUs (busy-loop probe) "
                    f"{L['cpu_capacity']['before']['effective_cpus']:.2f} before, "
                    f"{L['cpu_capacity']['after']['effective_cpus']:.2f} after")
    return "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3, help="builds per variant (default 3)")
    p.add_argument("--ledger-repeat", type=int, default=1, help="ledger runs per mode (default 1)")
    p.add_argument("--jobs", type=int, default=None, help="workers of the parallel ledger (default: CPUs)")
    p.add_argument("--skip-ledger", action="store_true", help="only the StationaryProblem1D build")
    add_output_arguments(p, DEFAULT_OUT)
    p.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(_child_build(a.child)))
        return 0
    if not out_is_usable(a.out, force=a.force):
        return 2
    res = run_benchmark(repeat=a.repeat, ledger_repeat=a.ledger_repeat, jobs=a.jobs, skip_ledger=a.skip_ledger)
    print(format_table(res))
    print(f"wrote {write_result(res, a.out, force=a.force)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
