"""The benchmark section sets each benchmark's fresh headline numbers beside the committed ones."""
from __future__ import annotations

import json
import shutil

import pytest

from benchmarks import _common as C
from validation.sections import numerics_benchmark as S


@pytest.mark.parametrize("stem", C.BENCHMARKS)
def test_every_committed_result_has_headlines(stem):
    res = C.load(C.RESULTS_DIR / f"{stem}.json")
    assert res is not None, f"benchmarks/results/{stem}.json is missing or not a benchmark result"
    heads = C.headlines(stem, res)
    assert heads and all(h.benchmark == stem for h in heads)
    assert all(h.value == h.value and h.value > 0 for h in heads)  # finite, positive ratios and seconds


def test_without_fresh_results_the_table_says_so(tmp_path):
    table = S.headline_table(fresh_dir=tmp_path)
    for stem in C.BENCHMARKS:
        assert f"| {stem} |" in table
    assert "no fresh run" in table
    assert "— drift" not in table


def test_a_fresh_result_is_set_beside_the_committed_one_and_drift_is_flagged(tmp_path):
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copy(C.RESULTS_DIR / "bench_compile.json", fresh / "bench_compile.json")   # same numbers
    res = json.loads((C.RESULTS_DIR / "bench_sgd_escape.json").read_text(encoding="utf-8"))
    res["ratios_of_medians"]["simulate_escape_over_baseline"] /= 3.0                  # a slower fresh run
    res["provenance"]["date_utc"] = "2030-01-01T00:00:00Z"
    (fresh / "bench_sgd_escape.json").write_text(json.dumps(res), encoding="utf-8")
    rows = S.headline_table(fresh_dir=fresh).splitlines()
    sgd = next(r for r in rows if "simulate_escape vs the previous simulator" in r)
    assert "2030-01-01" in sgd and "— drift" in sgd
    q = float(sgd.split("|")[6].split()[0])
    assert q == pytest.approx(1 / 3, rel=1e-2)
    committed = C.headlines("bench_sgd_escape", C.load(C.RESULTS_DIR / "bench_sgd_escape.json"))[0]
    if committed.value / 3 < 5.0:
        assert "✗ (target missed) (2030-01-01" in sgd
    same = [r for r in rows if r.startswith("| bench_compile |")]
    assert same and all(r.split("|")[6].strip() == "1" for r in same)


def test_unknown_benchmark_and_old_format_are_named():
    with pytest.raises(KeyError, match="known: bench_compile"):
        C.headlines("bench_nothing", {})
    with pytest.raises(KeyError):
        C.headlines("bench_sgd_escape", {"benchmark": "x", "provenance": {}})


def test_meets_respects_the_sense():
    assert C.Headline("b", "x", 2.0, 1.0).meets is True
    assert C.Headline("b", "x", 2.0, 1.0, "<=").meets is False
    assert C.Headline("b", "x", 2.0).meets is None
