"""Benchmark (a script, not a test): M small networks trained at once by
``numerics.training.train_sgd_ensemble`` against M sequential ``train_sgd`` calls (issue 12 item 5).

Workload: the temperature_scan experiment's networks (``validation.experiments.temperature_scan``:
the 3-layer tanh MLP on a ``digits`` training subset, cross-entropy, float64), its SMALL model
(hidden 24, 192 training images) and its FULL model (hidden 32, 256 images); M = 8, 16, 32
members cycling through that preset's (λ, B) grid with one seed per member, ``--steps`` SGD steps
each (equal for all members, so the ratio is per step of work, not a property of the step-count
mix). Every member starts from the same parameters and draws the same minibatch stream in every
variant, so all variants compute the same numbers (checked: max relative parameter difference to
the sequential run after 2 steps, ``max_rel_diff_2_steps``, ~1e-16). After all the steps,
``max_rel_diff`` (over the members that did not diverge in any route; ``diverged_members``) is
the same only for stable members: at the largest step sizes of the FULL grid (λ = 0.8–1.6, B = 4–8)
the training is chaotic and last-bit differences between batched and single matrix products grow
to O(1) within 150 steps).

Variants, interleaved repetition by repetition after an untimed 2-step warm-up of each (medians of
``--repeat``), one intra-op thread
(as the experiments run them):

* ``sequential``: M calls of ``train_sgd``;
* ``bmm_padded``: one stack of all M members, batched matrix products, minibatches padded to the
  largest B (``per_sample_loss`` given) — what the experiments use;
* ``bmm_grouped``: one stack per batch size, ``loss_fn`` under ``vmap``;
* ``vmap_padded``: ``torch.func.functional_call`` + ``vmap`` + ``grad``, padded.

Reported: seconds (wall and CPU) per variant, the ratios ``sequential / variant`` of the medians,
and the load average before/after (the machine is shared: ratios are the robust numbers).

Usage: ``python benchmarks/bench_ensemble.py [--repeat 3] [--steps 150] [--out PATH] [--force]``.
Writes ``benchmarks/results/bench_ensemble.json``.
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from benchmarks._common import add_output_arguments, median, out_is_usable, write_result  # noqa: E402
from numerics.training import digits_split, mlp, train_sgd, train_sgd_ensemble  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "bench_ensemble.json"
BENCHMARK = "ensemble training (train_sgd_ensemble) vs sequential train_sgd, temperature_scan networks"
MEMBERS = (8, 16, 32)
VARIANTS = ("sequential", "bmm_padded", "bmm_grouped", "vmap_padded")


def _per_sample_ce(out, target):
    return torch.nn.functional.cross_entropy(out, target, reduction="none")


def workload(preset: str, M: int, steps: int):
    """(data, members, initial models): the preset's model and data, M members cycling the grid."""
    from validation.experiments import temperature_scan as ts

    cfg = ts.SMALL if preset == "small" else ts.FULL
    Xtr, ytr, _, _ = digits_split(cfg.n_train, cfg.seed)
    grid = [(lr, B) for lr in cfg.learning_rates for B in cfg.batch_sizes]
    members = [(grid[m % len(grid)][0], grid[m % len(grid)][1], m) for m in range(M)]
    models = []
    for _, _, seed in members:
        torch.manual_seed(seed)
        models.append(mlp(cfg.hidden, Xtr.shape[1], 10))
    return (Xtr, ytr), members, models, {"hidden": cfg.hidden, "n_train": cfg.n_train, "steps": steps,
                                         "grid": grid}


def run_variant(name, data, members, models, steps):
    X, y = data
    loss_fn = torch.nn.functional.cross_entropy
    models = [copy.deepcopy(m) for m in models]
    gens = [torch.Generator().manual_seed(seed) for *_, seed in members]
    c0, t0 = time.process_time(), time.perf_counter()
    if name == "sequential":
        bad = [train_sgd(model, loss_fn, X, y, lr=lr, batch_size=B, steps=steps, generator=g)
               for (lr, B, _), model, g in zip(members, models, gens)]
    else:
        method = "vmap" if name.startswith("vmap") else "bmm"
        per_sample = _per_sample_ce if name.endswith("padded") else None
        bad = train_sgd_ensemble(models, loss_fn, X, y, lrs=[m[0] for m in members],
                                 batch_sizes=[m[1] for m in members], steps=[steps] * len(members), generators=gens,
                                 per_sample_loss=per_sample, method=method)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    # members that diverged stop where each route stops them: compared only where both finished
    vecs = [torch.nn.utils.parameters_to_vector(m.parameters()).detach() for m in models]
    return wall, cpu, vecs, {j for j, b in enumerate(bad) if b is not None}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per variant (median; default 3)")
    parser.add_argument("--steps", type=int, default=150, help="SGD steps per member (default 150)")
    parser.add_argument("--members", type=int, nargs="+", default=list(MEMBERS), help="ensemble sizes M")
    parser.add_argument("--presets", nargs="+", default=["small", "full"], choices=["small", "full"])
    add_output_arguments(parser, DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.steps < 1:
        parser.error("--repeat and --steps must be >= 1")
    if not out_is_usable(args.out, force=args.force):  # refused before any work: one line, exit 2
        return 2
    from validation.records import provenance

    torch.set_num_threads(1)
    t_start = time.perf_counter()
    load_before = os.getloadavg()
    rows = []
    for preset in args.presets:
        for M in args.members:
            data, members, models, info = workload(preset, M, args.steps)
            times = {v: {"wall_s": [], "cpu_s": []} for v in VARIANTS}
            diffs = {}
            short = {}  # warm-up (lazy initialisation of torch kernels), not timed; its 2-step results are
            for v in VARIANTS:  # compared: equal to rounding there, every route computes the same update
                short[v] = torch.cat(run_variant(v, data, members, models, 2)[2])
            diffs_2 = {v: float((short[v] - short["sequential"]).abs().max() / short["sequential"].abs().max())
                       for v in VARIANTS if v != "sequential"}
            diverged = set()
            for _ in range(args.repeat):
                ref = None
                for v in VARIANTS:
                    wall, cpu, vecs, bad = run_variant(v, data, members, models, args.steps)
                    times[v]["wall_s"].append(wall)
                    times[v]["cpu_s"].append(cpu)
                    diverged |= bad
                    if ref is None:
                        ref = vecs
                    else:
                        keep = [j for j in range(len(vecs)) if j not in diverged]
                        a, b = torch.cat([vecs[j] for j in keep]), torch.cat([ref[j] for j in keep])
                        diffs[v] = max(diffs.get(v, 0.0), float((a - b).abs().max() / b.abs().max()))
            med = {v: {k: median(t) for k, t in times[v].items()} for v in VARIANTS}
            row = {"preset": preset, "M": M, **info, "seconds": times, "median": med,
                   "ratio_sequential_over": {v: med["sequential"]["wall_s"] / med[v]["wall_s"]
                                             for v in VARIANTS if v != "sequential"},
                   "ratio_sequential_over_cpu": {v: med["sequential"]["cpu_s"] / med[v]["cpu_s"]
                                                 for v in VARIANTS if v != "sequential"},
                   "max_rel_diff_2_steps": diffs_2, "max_rel_diff": diffs, "diverged_members": sorted(diverged)}
            rows.append(row)
            print(f"{preset} M={M}: sequential {med['sequential']['wall_s']:.2f} s; ratios "
                  + ", ".join(f"{v} {r:.2f}×" for v, r in row["ratio_sequential_over"].items())
                  + f"; max rel diff {max(diffs_2.values()):.1e} after 2 steps, {max(diffs.values()):.1e} after "
                  f"{args.steps}", flush=True)
    best = {f"{r['preset']}_M{r['M']}": r["ratio_sequential_over"]["bmm_padded"] for r in rows}
    result = {
        "benchmark": BENCHMARK,
        "settings": {"repeat": args.repeat, "steps": args.steps, "members": args.members, "threads": 1,
                     "dtype": "float64", "variants": list(VARIANTS)},
        "results": rows,
        "ratio_sequential_over_ensemble": best,
        "ensemble_faster_everywhere": all(v > 1 for v in best.values()),
        "loadavg": {"before": list(load_before), "after": list(os.getloadavg())},
        "provenance": provenance(device="cpu", seed=0, wall_time_s=time.perf_counter() - t_start),
    }
    path = write_result(result, args.out, force=args.force)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
