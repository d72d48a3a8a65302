"""benchmarks/bench_nets.py: its statistics agree route by route, bad --out is refused before any
work, and its headline reader copes with a run without BackPACK/PyHessian (issue 12 acceptance 3)."""
from __future__ import annotations

import json

import torch

from benchmarks import _common as C
from benchmarks import bench_nets as BN


def test_block_statistics_equal_matrix_statistics():
    gen = torch.Generator().manual_seed(0)
    blocks = [torch.randn(40, 3, 5, dtype=torch.float64, generator=gen) + 2.0,
              torch.randn(40, 3, dtype=torch.float64, generator=gen)]
    G = torch.cat([b.reshape(40, -1) for b in blocks], dim=1)
    B = torch.randn(G.shape[1], 4, dtype=torch.float64, generator=gen)
    var_m, C_m = BN._stats_from_matrix(G, B)
    var_b, C_b = BN._stats_from_blocks(blocks, B)
    ref_var = torch.var_mean(G, 0, correction=0)[0]
    P = G @ B
    ref_C = torch.cov(P.T, correction=0)
    for got, ref in ((var_m, ref_var), (var_b, ref_var), (C_m, ref_C), (C_b, ref_C)):
        torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12 * float(ref.abs().max()))
    assert BN._stats_from_blocks(blocks, B, variance=False)[0] is None


def test_a_file_that_is_not_a_benchmark_result_is_refused_before_any_work(tmp_path, capsys):
    out = tmp_path / "notes.json"
    out.write_text(json.dumps({"mine": 1}), encoding="utf-8")
    assert BN.main(["--out", str(out)]) == 2
    assert "error" in capsys.readouterr().err
    assert json.loads(out.read_text(encoding="utf-8")) == {"mine": 1}


def test_reader_without_optional_libraries_keeps_the_ensemble_and_loop_headlines():
    res = C.load(C.RESULTS_DIR / "bench_nets.json")
    assert res is not None
    for row in res["per_sample_covariance"]:
        row["ratios"] = {k: v for k, v in row["ratios"].items() if not k.startswith("backpack")}
    for row in res["top_eigenvalue"]["results"]:
        row.pop("pyhessian_over_ours_cpu", None)
    heads = C.headlines("bench_nets", res)
    assert heads and all("BackPACK" not in h.label and "PyHessian" not in h.label for h in heads)
    assert sum("per-sample loop" in h.label for h in heads) == len(res["per_sample_covariance"])
