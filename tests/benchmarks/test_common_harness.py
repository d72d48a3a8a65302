"""benchmarks._common: the interleaved timing harness and its table (shared by bench_sgd and
bench_sgd_escape)."""
import pytest

from benchmarks import _common as C


def test_interleaved_times_every_variant_each_repetition_and_keeps_outputs():
    calls_made = []

    def variant(name, units):
        def call():
            calls_made.append(name)
            return units, name.upper()
        return call

    m = C.interleaved({"a": variant("a", 10), "b": variant("b", 20)}, repeat=3, seed=1)
    assert calls_made.count("a") == 4 and calls_made.count("b") == 4  # warm-up + 3 repetitions
    assert set(m.rates) == {"a", "b"} and all(len(r) == 3 for r in m.rates.values())
    assert all(r > 0 for rs in m.rates.values() for r in rs)
    for v, units in (("a", 10), ("b", 20)):
        for r, s in zip(m.rates[v], m.seconds[v]):
            assert r * s == pytest.approx(units, rel=1e-9)
        assert m.median[v] == pytest.approx(C.median(m.rates[v]), rel=1e-12)
    assert m.outputs == {"a": (10, "A"), "b": (20, "B")}
    assert m.wall_s > 0 and len(m.load_before) == 3
    ld = m.load(torch_threads=1)
    assert ld["torch_threads"] == 1 and len(ld["getloadavg_after"]) == 3


def test_interleaved_refuses_fewer_than_three_repetitions():
    with pytest.raises(ValueError, match="repeat must be >= 3"):
        C.interleaved({"a": lambda: (1, None)}, repeat=2, seed=0)


def test_rate_table_ratios():
    rows = C.rate_table({"sim": 4e6, "loop": 2e6}, ref="sim", column="sim ×", ref_over_variant=True)
    assert rows[0] == "| variant | chain-steps/s (median) | sim × |"
    assert rows[2] == "| sim | 4 M | 1× |" and rows[3] == "| loop | 2 M | 2× |"
    rows = C.rate_table({"base": 1e6, "new": 3e6}, ref="base", column="× base")
    assert rows[3] == "| new | 3 M | 3× |"
