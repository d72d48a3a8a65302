"""Benchmark (a script, not a test): FokkerPlanckSolver.steady_state / propagate against fplanck.

Same run, same problems, same grids (fplanck's grid of ``n`` points centred on 0 is our
cell-centred grid on a box symmetric about 0; see validation/checks/fokker_planck_solver.py):

* ``1d_double_well`` — ``U = (x² − 1)²``, ``D = 0.8``, ``T = 0.5`` on [−2.5, 2.5], reflecting;
  closed form ``ρ ∝ exp(−2U/(TD))``.
* ``2d_state_dependent_D`` — ``U = x² + 2y²``, ``D = diag(1 + x², 1 + 2y²)``, ``T = 1`` on
  [−3, 3]²; closed form ``ρ ∝ ((1 + x²)(1 + 2y²))^(−1 − 2/T)`` (SC.B1 ex3).
* ``2d_nonzero_curl`` — ``U = ½θᵀHθ``, ``H = [[1, ½], [½, 2]]``, constant ``D = diag(1, 0.4)``,
  ``T = 0.6`` on [−3, 3]²; ``[H, D] ≠ 0``, so a non-equilibrium steady state: the Lyapunov
  Gaussian ``HΣ + ΣH = TD``.

Per problem and size, each timed ``--repeat`` times (medians, interleaved so both codes see the
same load): our setup (building the generator) and ``steady_state()`` (``method="auto"``: from
16 384 cells in 2-D the two-half Schur-complement solve, halves in two threads; its CPU time is
recorded too) and, where that was the split, the same solver's whole-matrix ``method="splu"``;
our previous solve (the
normalisation-row ``spsolve`` this issue replaced); fplanck's setup (building its master matrix)
and its own ``steady_state()`` (ARPACK shift-invert at σ = 0; if SuperLU refuses the singular
factor the error is recorded); and fplanck's master matrix solved by our normalisation-row
null-vector solve (``_fplanck_null_vector``, a second baseline). Also L1 errors against the closed
forms, our residual and minimum, scaling exponents (log-log least squares of solve time against
cells) and ``propagate`` (new ``expm`` against the old ``expm_multiply`` path) on the 2-D OU problem.

BLAS threads are left as installed (what a user gets; recorded); ``--blas-threads 1`` limits both
codes to one (on a loaded machine a multi-threaded BLAS mostly waits for its own threads, which
slows fplanck's ARPACK more than our single LU). Solves shorter than ``BATCH_SECONDS`` are
repeated within each repetition (see :func:`_timed`); ``os.getloadavg()`` is recorded.

Usage: ``python benchmarks/bench_fokker_planck.py [--repeat 3] [--quick] [--out PATH] [--force]``.
Writes ``benchmarks/results/bench_fokker_planck.json`` with provenance.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import scipy.sparse as sps  # noqa: E402
import scipy.sparse.linalg as spla  # noqa: E402

from numerics.fokker_planck import FokkerPlanckSolver, Grid, l1_distance  # noqa: E402
from validation.checks.fokker_planck_solver import _fplanck_null_vector, _numpy_product_alias  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "bench_fokker_planck.json"
SIZES = {"1d_double_well": [1000, 4000, 16000, 64000],
         "2d_state_dependent_D": [64, 128, 256],
         "2d_nonzero_curl": [64, 128, 256]}
QUICK_SIZES = {"1d_double_well": [1000, 4000], "2d_state_dependent_D": [32, 64], "2d_nonzero_curl": [32, 64]}
#: the target ratios (fplanck's solve time / ours, medians, same run)
#: a solve faster than this is repeated within each repetition until the calls take this long (median)
BATCH_SECONDS = 0.25
TARGETS = {("1d_double_well", 16000): 10.0, ("2d_state_dependent_D", 256): 8.0, ("2d_nonzero_curl", 256): 8.0}


# --------------------------------------------------------------------------------------------
# problems: ours, fplanck's, closed form
# --------------------------------------------------------------------------------------------
def _problem(name: str, n: int):
    """``(make_ours, make_fplanck, exact(grid))`` for a problem at ``n`` cells per axis."""
    import fplanck
    from scipy import constants

    if name == "1d_double_well":
        T, d, L = 0.5, 0.8, 2.5
        grid = Grid.box([(-L, L)], cells=n)

        def ours():
            return FokkerPlanckSolver(grid, T=T, grad_U=lambda x: (4 * x * (x**2 - 1))[None], D=[[d]])

        def theirs():
            return fplanck.fokker_planck(temperature=0.5 * T * d / constants.k, drag=1.0, extent=[2 * L],
                                         resolution=2 * L / n, potential=lambda x: (x**2 - 1) ** 2,
                                         boundary=fplanck.boundary.reflecting)

        def exact(g):
            x = g.axes[0]
            return np.exp(-2 * (x**2 - 1) ** 2 / (T * d))
    elif name == "2d_state_dependent_D":
        T, L = 1.0, 3.0
        grid = Grid.box([(-L, L)] * 2, cells=n)

        def Ddiag(x, y):
            return np.stack([1 + x**2, 1 + 2 * y**2])

        def gU(x, y):
            return np.stack([2 * x, 4 * y])

        def Dfull(x, y):
            dd = Ddiag(x, y)
            z = np.zeros_like(dd[0])
            return np.stack([np.stack([dd[0], z]), np.stack([z, dd[1]])])

        def ours():
            return FokkerPlanckSolver(grid, T=T, grad_U=gU, D=Dfull, div_D=lambda x, y: np.stack([2 * x, 4 * y]))

        def theirs():
            def drag(x, y):
                return 2.0 / (T * Ddiag(x, y))

            def force(x, y):
                return -drag(x, y) * gU(x, y)
            return fplanck.fokker_planck(temperature=1.0 / constants.k, drag=drag, extent=[2 * L, 2 * L],
                                         resolution=2 * L / n, force=force, boundary=fplanck.boundary.reflecting)

        def exact(g):
            X, Y = g.mesh()
            return ((1 + X**2) * (1 + 2 * Y**2)) ** (-(1 + 2 / T))
    elif name == "2d_nonzero_curl":
        from scipy.linalg import solve_continuous_lyapunov

        T, L = 0.6, 3.0
        H = np.array([[1.0, 0.5], [0.5, 2.0]])
        Dc = np.array([1.0, 0.4])
        grid = Grid.box([(-L, L)] * 2, cells=n)

        def ours():
            return FokkerPlanckSolver(grid, T=T, grad_U=lambda x, y: np.stack([x + 0.5 * y, 0.5 * x + 2 * y]),
                                      D=np.diag(Dc))

        def theirs():
            return fplanck.fokker_planck(temperature=0.5 * T * Dc / constants.k, drag=1.0,
                                         extent=[2 * L, 2 * L], resolution=2 * L / n,
                                         potential=lambda x, y: 0.5 * x**2 + 0.5 * x * y + y**2,
                                         boundary=fplanck.boundary.reflecting)

        def exact(g):
            sigma = solve_continuous_lyapunov(H, T * np.diag(Dc))
            P = np.stack(g.mesh())
            return np.exp(-0.5 * np.einsum("i...,ij,j...->...", P, np.linalg.inv(sigma), P))
    else:
        raise KeyError(name)

    def exact_density(g):
        e = exact(g)
        return e / g.integrate(e)

    return ours, theirs, exact_density


def _previous_steady_state(solver) -> np.ndarray:
    """The solve this issue replaced: one row of A replaced by the (dense) normalisation row,
    ``spsolve`` with its default ordering."""
    N = solver.grid.size
    k = int(np.argmax(np.abs(solver.generator.diagonal())))
    keep = np.ones(N)
    keep[k] = 0.0
    norm_row = sps.csr_matrix((np.full(N, solver.grid.cell_volume), (np.full(N, k), np.arange(N))), shape=(N, N))
    A = sps.diags(keep) @ solver.generator + norm_row
    rhs = np.zeros(N)
    rhs[k] = 1.0
    return spla.spsolve(A.tocsc(), rhs).reshape(solver.grid.shape)


# --------------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------------
def _timed(fn, *, batch_seconds: float = 0.0):
    """``(result or exception, wall seconds, CPU seconds)``; with ``batch_seconds`` > 0 a fast ``fn``
    is called again until the calls add up to that long (at most 200 calls) and the medians are
    returned: one call of a millisecond is at the mercy of the scheduler on a loaded machine."""
    walls, cpus = [], []
    while True:
        c0, t0 = time.process_time(), time.perf_counter()
        try:
            out = fn()
        except Exception as exc:  # noqa: BLE001 - recorded (fplanck's "Factor is exactly singular")
            return exc, time.perf_counter() - t0, time.process_time() - c0
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        if sum(walls) >= batch_seconds or len(walls) >= 200:
            return out, float(np.median(walls)), float(np.median(cpus))


def _median(xs):
    xs = [x for x in xs if x is not None]
    return float(np.median(xs)) if xs else None


def _exponent(cells, seconds):
    """Slope of log(seconds) against log(cells) (least squares), None with < 2 points."""
    pts = [(c, s) for c, s in zip(cells, seconds) if s]
    if len(pts) < 2:
        return None
    c, s = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(c, s, 1)[0])


def bench_steady_state(name: str, n: int, repeat: int, *, previous_max_cells: int) -> dict:
    make_ours, make_theirs, exact_density = _problem(name, n)
    t = {k: [] for k in ("ours_setup", "ours_solve", "ours_solve_cpu", "ours_splu_solve", "ours_splu_solve_cpu",
                         "previous_solve", "fplanck_setup",
                         "fplanck_solve", "fplanck_solve_cpu", "fplanck_null_vector_solve")}
    fp_error = None
    ours = theirs = rho = fp_rho = nv_rho = prev = method = None
    with _numpy_product_alias():
        for _ in range(repeat):
            ours, w, _ = _timed(make_ours)
            t["ours_setup"].append(w)
            rho, w, c = _timed(ours.steady_state, batch_seconds=BATCH_SECONDS)
            if isinstance(rho, Exception):
                raise rho
            t["ours_solve"].append(w)
            t["ours_solve_cpu"].append(c)
            method = ours.last_method
            if method == "split":
                # the same solver's whole-matrix SuperLU path: what the split itself gains
                _, w, c = _timed(lambda: ours.steady_state(method="splu"), batch_seconds=BATCH_SECONDS)
                t["ours_splu_solve"].append(w)
                t["ours_splu_solve_cpu"].append(c)
            if ours.grid.size <= previous_max_cells:
                prev, w, _ = _timed(lambda: _previous_steady_state(ours))
                t["previous_solve"].append(w)
            theirs, w, _ = _timed(make_theirs)
            t["fplanck_setup"].append(w)
            out, w, c = _timed(theirs.steady_state, batch_seconds=BATCH_SECONDS)
            if isinstance(out, Exception):
                fp_error = f"{type(out).__name__}: {out}"
            else:
                fp_rho = out
                t["fplanck_solve"].append(w)
                t["fplanck_solve_cpu"].append(c)
            nv, w, _ = _timed(lambda: _fplanck_null_vector(theirs.master_matrix))
            nv_rho = None if isinstance(nv, Exception) else nv
            t["fplanck_null_vector_solve"].append(None if nv_rho is None else w)
    g = ours.grid
    exact = exact_density(g)
    to_density = lambda p: None if p is None else np.asarray(p).reshape(g.shape) / g.cell_volume / np.sum(p)  # noqa: E731
    med = {k: _median(v) for k, v in t.items()}
    ratio = lambda a, b: None if (a is None or b is None) else a / b  # noqa: E731
    entry = {
        "problem": name, "cells_per_axis": n, "cells": g.size,
        "seconds_median": med,
        "seconds_all": {k: [None if x is None else round(x, 6) for x in v] for k, v in t.items()},
        "speedup": {"fplanck_solve_over_ours_solve": ratio(med["fplanck_solve"], med["ours_solve"]),
                    "fplanck_solve_over_ours_solve_cpu": ratio(med["fplanck_solve_cpu"], med["ours_solve_cpu"]),
                    "fplanck_null_vector_over_ours": ratio(med["fplanck_null_vector_solve"], med["ours_solve"]),
                    "previous_over_ours": ratio(med["previous_solve"], med["ours_solve"]),
                    "ours_splu_over_ours": ratio(med["ours_splu_solve"], med["ours_solve"]),
                    "ours_splu_over_ours_cpu": ratio(med["ours_splu_solve_cpu"], med["ours_solve_cpu"]),
                    "fplanck_setup_plus_solve_over_ours": ratio(
                        None if med["fplanck_solve"] is None else med["fplanck_setup"] + med["fplanck_solve"],
                        med["ours_setup"] + med["ours_solve"])},
        "fplanck_steady_state_error": fp_error,
        "l1_vs_closed_form": {"ours": l1_distance(g, rho, exact),
                              "ours_previous": None if prev is None else l1_distance(g, prev, exact),
                              "fplanck": None if fp_rho is None else l1_distance(g, to_density(fp_rho), exact),
                              "fplanck_null_vector": None if nv_rho is None else l1_distance(g, to_density(nv_rho), exact)},
        "ours_residual": ours.generator_residual(rho),
        "ours_min_over_max": float(rho.min() / rho.max()),
        "ours_method": method,
        "ours_vs_fplanck_l1": None if fp_rho is None else l1_distance(g, rho, to_density(fp_rho)),
    }
    target = TARGETS.get((name, n))
    if target is not None:
        got = entry["speedup"]["fplanck_solve_over_ours_solve"]
        entry["target_speedup"] = target
        entry["meets_target"] = None if got is None else bool(got >= target)
    return entry


def bench_propagate(n: int, repeat: int, *, old_max_cells: int, t_end: float = 1.0) -> dict:
    """``propagate(method="expm")`` (new: shift-and-invert Krylov above ‖tA‖₁ = 64) against the old
    path (``expm_multiply`` of ``tA``) on the 2-D OU problem with [H, D] ≠ 0 (T = 0.5)."""
    grid = Grid.box([(-2.5, 2.5)] * 2, cells=n)
    s = FokkerPlanckSolver(grid, T=0.5, grad_U=lambda x, y: np.stack([x, 2 * y]), D=[[1, 0.5], [0.5, 1]])
    X, Y = grid.mesh()
    r0 = np.exp(-((X - 1) ** 2 + (Y + 0.5) ** 2) / 0.2)
    r0 /= grid.integrate(r0)
    new_t, old_t = [], []
    new = old = None
    for _ in range(repeat):
        new, w, _ = _timed(lambda: s.propagate(r0, t_end))
        new_t.append(w)
        if grid.size <= old_max_cells:
            old, w, _ = _timed(lambda: spla.expm_multiply(s.generator * t_end, r0.ravel()).reshape(grid.shape))
            old_t.append(w)
    out = {"cells_per_axis": n, "cells": grid.size, "t": t_end,
           "norm1_tA": float(spla.norm(s.generator, 1)) * t_end,
           "seconds_median": {"expm_new": _median(new_t), "expm_multiply_old": _median(old_t)},
           "mass_error": abs(s.mass(new) - 1.0)}
    if old is not None:
        out["speedup_old_over_new"] = out["seconds_median"]["expm_multiply_old"] / out["seconds_median"]["expm_new"]
        out["max_relative_difference"] = float(np.max(np.abs(new - old)) / np.max(np.abs(old)))
    return out


def run_benchmark(*, repeat: int = 3, quick: bool = False, blas_threads: int = 0) -> dict:
    from validation.records import provenance

    sizes = QUICK_SIZES if quick else SIZES
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    limiter = contextlib.nullcontext()
    if blas_threads > 0:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=blas_threads, user_api="blas")
    results, exponents, propagate = [], {}, []
    with limiter:
        for name, ns in sizes.items():
            rows = []
            for n in ns:
                row = bench_steady_state(name, n, repeat, previous_max_cells=70_000)
                print(_row_line(row), flush=True)
                rows.append(row)
            results += rows
            cells = [r["cells"] for r in rows]
            exponents[name] = {k: _exponent(cells, [r["seconds_median"][key] for r in rows])
                               for k, key in (("ours", "ours_solve"), ("fplanck", "fplanck_solve"),
                                              ("fplanck_null_vector", "fplanck_null_vector_solve"),
                                              ("ours_previous", "previous_solve"))}
            print(f"  scaling exponents (time ∝ cells^k): {exponents[name]}", flush=True)
        for n in ([32, 64] if quick else [64, 128, 256]):
            p = bench_propagate(n, repeat, old_max_cells=70_000)
            print(f"propagate {n}²: {p['seconds_median']} ‖tA‖₁ = {p['norm1_tA']:.3g}", flush=True)
            propagate.append(p)
    single = []
    if blas_threads != 1 and not quick:
        # the target sizes again with BLAS on one thread for both codes: the ratios without
        # multi-threaded BLAS waiting on a loaded machine
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            for (name, n) in TARGETS:
                row = bench_steady_state(name, n, repeat, previous_max_cells=0)
                print("[1 BLAS thread] " + _row_line(row), flush=True)
                single.append(row)
    wall = time.perf_counter() - t0
    return {"benchmark": "FokkerPlanckSolver.steady_state/propagate vs fplanck 0.2.2",
            "provenance": provenance(device="cpu", seed=0, wall_time_s=wall),
            "settings": {"repeat": repeat, "quick": quick,
                         "blas_threads": blas_threads or f"as installed ({_blas_threads()})",
                         "timing": "median of the repeats, wall clock (perf_counter); CPU (process_time) too; "
                                   f"a solve under {BATCH_SECONDS} s is repeated within each repetition "
                                   "until it has run that long, and its median counts as that repetition"},
            "load_average": {"before": list(load_before), "after": list(os.getloadavg())},
            "targets": {f"{k[0]}@{k[1]}": v for k, v in TARGETS.items()},
            "steady_state": results, "scaling_exponents": exponents, "propagate": propagate,
            "steady_state_one_blas_thread": single}


def _blas_threads():
    try:
        from threadpoolctl import threadpool_info

        return [f"{i.get('internal_api')}:{i.get('num_threads')}" for i in threadpool_info()
                if i.get("user_api") == "blas"]
    except Exception:  # noqa: BLE001
        return "unknown"


def _row_line(r) -> str:
    m, sp_ = r["seconds_median"], r["speedup"]
    f = lambda x: "—" if x is None else f"{x:.4g}"  # noqa: E731
    return (f"{r['problem']:>22} {r['cells']:>7} cells | ours {f(m['ours_solve'])} s [{r['ours_method']}] "
            f"(setup {f(m['ours_setup'])}; splu {f(m['ours_splu_solve'])} s) | "
            f"fplanck {f(m['fplanck_solve'])} s (setup {f(m['fplanck_setup'])}) | null-vector {f(m['fplanck_null_vector_solve'])} s"
            f" | previous {f(m['previous_solve'])} s | ×{f(sp_['fplanck_solve_over_ours_solve'])} "
            f"(cpu ×{f(sp_['fplanck_solve_over_ours_solve_cpu'])}) | L1 ours {f(r['l1_vs_closed_form']['ours'])} "
            f"fplanck {f(r['l1_vs_closed_form']['fplanck'])}"
            + (f" | fplanck error: {r['fplanck_steady_state_error']}" if r["fplanck_steady_state_error"] else ""))


from benchmarks._common import add_output_arguments, out_is_usable, write_result  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="small sizes only (a smoke run)")
    p.add_argument("--blas-threads", type=int, default=0,
                   help="limit BLAS to this many threads for both codes (default 0: as installed)")
    add_output_arguments(p, DEFAULT_OUT)
    a = p.parse_args(argv)
    if not out_is_usable(a.out, force=a.force):
        return 2
    if a.repeat < 1:
        print("error: --repeat must be ≥ 1", file=sys.stderr)
        return 2
    res = run_benchmark(repeat=a.repeat, quick=a.quick, blas_threads=a.blas_threads)
    print(f"wrote {write_result(res, a.out, force=a.force, indent=2)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
