"""DT.sec4 (−log γ linear in 1/k, B, 1/η for real SGD on Styblinski–Tang) and DT.thm3.2 (the
diffusion-theory escape time) measured live on the small 1-D version of
``validation.experiments.escape_rates``."""
from __future__ import annotations

import functools

from validation.ledger import Verdict, check


@functools.lru_cache(maxsize=1)
def _small_record():
    from validation.experiments.escape_rates import SMALL, run

    return run(SMALL, device="cpu")


def _rounded(values, nd=2):
    return [round(v, nd) for v in values]


@check("DT.sec4")
def sgd_escape_log_rate_is_linear():
    """Pearson r of −log γ (γ = 1/mean escape iterations) against 1/k, B and 1/η: DT says > 0.99."""
    rec = _small_record()
    met = rec["metrics"]
    sweeps = met["sweeps"]
    metrics = {
        "pearson_r": {n: round(m["measured"]["pearson_r"], 4) for n, m in sweeps.items()},
        "slope": {f"{n} (per {m['regressor']})": round(m["measured"]["slope"], 4)
                  for n, m in sweeps.items()},
        "neg_log_gamma": {n: _rounded(m["neg_log_gamma"]) for n, m in sweeps.items()},
        "pearson_r_vs_two_thirds_power": {n: round(m["pearson_r_two_thirds_power"], 4)
                                          for n, m in sweeps.items()},
        "tolerance": met["pearson_tolerance"],
        "n_runs_per_point": rec["config"]["n_runs"],
    }
    worst = min(m["measured"]["pearson_r"] for m in sweeps.values())
    detail = (f"real minibatch SGD on the {rec['config']['dim']}-D Styblinski–Tang per-sample loss "
              f"f(√kθ − x), x ∼ N(0, 1) fresh each step; {rec['config']['n_runs']} runs per point; "
              f"lowest Pearson r = {worst:.4f} (linear fits; the 2/3-power law of escape by one large "
              f"gradient kick fits comparably over these short ranges)")
    return Verdict.measured(detail, metrics=metrics, agrees=bool(met["all_linear"]))


@check("DT.thm3.2", name="sgd_escape_time_vs_diffusion_theory")
def sgd_escape_time_vs_diffusion_theory():
    """Measured escape iterations vs the exact diffusion-limit MFPT (the corrected Itô form the
    DT.thm3.2 asymptotics approximate). Agreement required within a factor 3 and slopes within
    50 %: with x ∼ N(0, 1) this SGD escapes by single heavy-tailed kicks and the check fails."""
    rec = _small_record()
    sweeps = rec["metrics"]["sweeps"]
    log10_ratio = {n: _rounded(m["log10_ratio_measured_over_predicted"], 1) for n, m in sweeps.items()}
    slope_ratio = {n: round(m["slope_ratio_measured_over_predicted"], 3) for n, m in sweeps.items()}
    worst = max(abs(v) for vs in log10_ratio.values() for v in vs)
    ok = worst < 0.48 and all(0.5 < v < 1.5 for v in slope_ratio.values())
    metrics = {"log10_measured_over_predicted_steps": log10_ratio,
               "slope_ratio_measured_over_predicted": slope_ratio,
               "tolerance": "|log10 ratio| < 0.48 (factor 3), slope ratio in (0.5, 1.5)",
               "prediction": rec["prediction"]["model"]}
    detail = ("SGD escape iterations on 1-D Styblinski–Tang (x ∼ N(0,1)) vs the exact mean first-passage "
              f"time of the diffusion limit with T = η/B, D = Var_x ∂L: worst |log10 ratio| = {worst:.1f}; "
              "the measured escapes are driven by rare large per-sample gradients (∂L ∝ x³), far "
              "outside the small-step diffusion regime")
    return Verdict.measured(detail, metrics=metrics, agrees=ok)
