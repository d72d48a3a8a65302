"""DT ledger checks (validation.checks.escape) are sensitive to the formula they test."""
import math

import pytest

from validation.checks import escape as esc


def test_valley_probability_check_passes_with_small_log_odds_error():
    v = esc.valley_probabilities_match_exact_stationary_mass()
    assert v.verdict == "measured"
    m = v.metrics
    # the exact log-odds log(M1/M2) of the tilted well grows like 2ΔU_12/T (ΔU_12 ≈ 0.2)
    assert m["exact_log_odds_constant_noise"] == pytest.approx([3.7923, 7.8153, 15.8178], abs=2e-4)
    # Kramers' prefactor error is O(T): it halves with T
    errs = m["log_odds_err_constant_noise"]
    assert 0 < errs[2] < 0.5 * errs[1] < 0.25 * errs[0] < 0.05
    assert abs(m["log_odds_err_state_dependent_noise"][-1]) < 1e-4


def test_valley_probability_check_fails_for_a_doubled_kramers_exponent(monkeypatch):
    """Regression: the metric used to be the relative error of P(V1) ≈ 1, which a doubled exponent
    exp(2ΔL/D) left below 1e-6; the log-odds metric catches it."""
    real = esc.kramers_escape_time

    def doubled(Ha, Hb, dL, D, **kw):
        return real(Ha, Hb, dL, D / 2, **kw)

    monkeypatch.setattr(esc, "kramers_escape_time", doubled)
    esc.kramers_vs_exact_sweep.cache_clear()  # the sweep is cached; never keep doubled rows
    try:
        v = esc.valley_probabilities_match_exact_stationary_mass()
    finally:
        esc.kramers_vs_exact_sweep.cache_clear()
    assert v.verdict == "fails"
    assert abs(v.metrics["log_odds_err_constant_noise"][-1]) > 10
    assert math.isfinite(v.metrics["log_odds_err_constant_noise"][0])
