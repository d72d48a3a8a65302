"""benchmarks/bench_sgd.py: the exact rejection decoder, the torch.randint modulo check, the
any-stream roofline on synthetic rates, and one tiny run of the whole benchmark (issue 11
acceptance 5: the cap that drawing B indices, gathering and averaging puts on "≥ 10× the loops")."""
from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks import _common as C
from benchmarks import bench_sgd as BS


def test_reject10_draws_in_range_and_uniform():
    n = 200_000
    out = BS.draw_reject10(np.random.SFC64(3), n)
    assert out.dtype == np.uint16 and out.shape == (n,)
    assert int(out.max()) < BS.N_DATA
    counts = np.bincount(out, minlength=BS.N_DATA)
    e = n / BS.N_DATA
    chi2 = float(((counts - e) ** 2 / e).sum())
    dof = BS.N_DATA - 1
    # a fixed seed: a 6-sigma band of the chi-square statistic (mean dof, sd sqrt(2 dof))
    assert abs(chi2 - dof) < 6 * math.sqrt(2 * dof)


def test_reject10_keeps_the_accepted_lanes_and_refills_the_rejected():
    """Positions whose first lane is accepted hold that lane: the decoder only replaces rejections."""
    n = 10_000
    lanes = np.random.SFC64(7).random_raw(-(-n // 4)).view(np.uint16)[:n] & BS.LANE_MASK
    out = BS.draw_reject10(np.random.SFC64(7), n)
    kept = lanes < BS.N_DATA
    assert 0 < int((~kept).sum()) < n // 10
    np.testing.assert_array_equal(out[kept], lanes[kept])
    assert int(out[~kept].max()) < BS.N_DATA


def test_torch_randint_is_one_32_bit_word_mod_n_and_its_bias():
    assert BS.torch_randint_is_modulo(seed=1, k=2048)
    assert BS.torch_randint_modulo_bias(1000) == pytest.approx(1.0 / 4_294_967, rel=1e-12)
    assert BS.torch_randint_modulo_bias(1024) == pytest.approx(0.0, abs=1e-300)


def test_information_floor_words():
    assert BS.INFO_BITS == pytest.approx(10 * math.log2(1000), rel=1e-12)
    assert BS.raw_words_per_step(100_000) == math.ceil(100_000 * BS.INFO_BITS / 64)


def _synthetic_medians(*, loop_ns, raw_ns, stream_ns, gather_ns, update_ns=0.5):
    """Median chain-steps/s for every variant the roofline reads, from ns per chain-step."""
    med = {"simulator": 1e9 / 60, "torch_loop": 1e9 / loop_ns, "numpy_loop": 0.5e9 / loop_ns, "bound_rng": 1e9 / 40,
           "update_elementwise": 1e9 / update_ns, "floor_pipeline": 1e9 / (stream_ns + gather_ns + 3)}
    for v in BS.STREAMS:
        med[v] = 1e9 / (stream_ns if BS.STREAMS[v][0] else 40)
    for v in BS.RAW_FLOORS:
        med[v] = 1e9 / raw_ns
    for v in BS.GATHER_MEANS:
        med[v] = 1e9 / gather_ns
    return med


def test_roofline_any_stream_caps_and_verdicts():
    # torch loop 100 ns, NumPy loop 200 ns; stream 16 + gather 10 + update 0.5 → caps 100 / 26.5, 200 / 26.5
    r = BS.roofline(_synthetic_medians(loop_ns=100, raw_ns=3, stream_ns=16, gather_ns=10))
    a, info = r["any_exact_stream"], r["information_floor"]
    assert a["floor_ns_per_chain_step"] == pytest.approx(26.5, rel=1e-9)
    assert a["max_simulator_over_torch_loop"] == pytest.approx(100 / 26.5, rel=1e-9)
    assert a["max_simulator_over_numpy_loop"] == pytest.approx(200 / 26.5, rel=1e-9)
    assert not r["ten_x_with_any_measured_exact_stream"]
    assert info["max_simulator_over_torch_loop"] == pytest.approx(100 / 3, rel=1e-9)
    assert r["ten_x_at_the_information_floor"] is True  # raw bits alone: 33× and 67×
    g = info["with_gather_mean_and_update"]  # raw bits + gather + update: 100 / 13.5 < 10
    assert g["max_simulator_over_torch_loop"] == pytest.approx(100 / 13.5, rel=1e-9)
    assert not g["ten_x_over_naive_loops_possible"] and "whatever the stream" in r["note"]
    r_ok = BS.roofline(_synthetic_medians(loop_ns=300, raw_ns=3, stream_ns=16, gather_ns=10))
    assert r_ok["ten_x_at_the_information_floor"] and r_ok["ten_x_with_any_measured_exact_stream"]
    assert "within reach" in r_ok["note"]
    # the information floor alone below 10×: impossible with any stream
    r_no = BS.roofline(_synthetic_medians(loop_ns=25, raw_ns=3, stream_ns=16, gather_ns=10))
    assert not r_no["ten_x_at_the_information_floor"] and "impossible" in r_no["note"]
    # the torch streams are flagged inexact and never chosen as the cheapest exact one
    assert r["streams"]["bound_rng"]["exact"] is False
    assert BS.STREAMS[a["cheapest_exact_stream"]][0]


def test_roofline_without_the_floor_keeps_the_rng_bound_keys():
    med = {"simulator": 1e7, "torch_loop": 8e6, "numpy_loop": 4e6, "bound_rng": 2.2e7}
    r = BS.roofline(med)
    assert r["max_simulator_over_torch_loop_at_the_rng_bound"] == pytest.approx(2.75, rel=1e-12)
    assert "streams" not in r and not r["ten_x_over_naive_loops_possible"]


def test_tiny_run_has_every_variant_and_the_headlines(tmp_path):
    res = BS.run_benchmark(chains=400, steps=2, repeat=3, torch_compile=False)
    rates = res["chain_steps_per_s"]
    for v in (*BS.STREAMS, *BS.RAW_FLOORS, *BS.GATHER_MEANS, "update_elementwise", "floor_pipeline",
              "simulator", "torch_loop", "numpy_loop"):
        assert rates[v]["median"] > 0
    roof = res["roofline"]
    assert set(roof["streams"]) == set(BS.STREAMS)
    assert isinstance(roof["ten_x_at_the_information_floor"], bool)
    assert res["stream_exactness"]["torch_randint_is_32_bit_word_mod_n"] is True
    heads = C.headlines("bench_sgd", res)
    assert any("cap" in h.label for h in heads)
    assert "information floor" in BS.format_table(res)
