"""DT.sec4 (−log γ linear in 1/k, B, 1/η for real SGD on Styblinski–Tang) and DT.thm3.2 (the
diffusion-theory escape time) measured by ``validation.experiments.escape_rates``, judged on the
evidence of :func:`validation.evidence.experiments.escape_rates_evidence` — the committed record of
the largest device (DT's 10-D setting; metrics and prediction re-derived from its raw sweep points),
with the small 1-D version run live beside it and reported. The report section renders the same
evidence."""
from __future__ import annotations

import functools

from validation.evidence import experiments as _E
from validation.evidence.experiments import escape_rates_evidence
from validation.ledger import Verdict, check


def _rounded(values, nd=2):
    return [round(v, nd) for v in values]


@check("DT.sec4")
def sgd_escape_log_rate_is_linear():
    """Pearson r of −log γ (γ = 1/mean escape iterations) against 1/k, B and 1/η: DT says > 0.99."""
    ev = escape_rates_evidence()
    met, cfg = ev.metrics, ev.config
    sweeps = met["sweeps"]
    metrics = {
        "source": ev.source,
        "pearson_r": {n: round(m["measured"]["pearson_r"], 4) for n, m in sweeps.items()},
        "slope": {f"{n} (per {m['regressor']})": round(m["measured"]["slope"], 4)
                  for n, m in sweeps.items()},
        "neg_log_gamma": {n: _rounded(m["neg_log_gamma"]) for n, m in sweeps.items()},
        "pearson_r_vs_two_thirds_power": {n: round(m["pearson_r_two_thirds_power"], 4)
                                          for n, m in sweeps.items()},
        "tolerance": met["pearson_tolerance"],
        "n_runs_per_point": cfg.n_runs,
        "live_small_pearson_r": _E.live_part(ev, lambda live: {n: round(m["measured"]["pearson_r"], 4)
                                                              for n, m in live["sweeps"].items()}),
    }
    worst = min(m["measured"]["pearson_r"] for m in sweeps.values())
    detail = (f"real minibatch SGD on the {cfg.dim}-D Styblinski–Tang per-sample loss "
              f"f(√kθ − x), x ∼ N(0, 1) fresh each step ({ev.source}); {cfg.n_runs} runs per point; "
              f"lowest Pearson r = {worst:.4f} (linear fits; the 2/3-power law of escape by one large "
              f"gradient kick fits comparably over these short ranges)")
    return Verdict.measured(detail, metrics=metrics, agrees=bool(met["all_linear"]))


@functools.lru_cache(maxsize=1)
def _diffusion_regime_case():
    """Control: SGD with light-tailed (Gaussian) per-sample gradients, L = θ²/2 + 4xθ, η = 0.01,
    B = 1, escape 0 → 0.6: measured mean iterations vs the exact MFPT (boundary shifted by
    Siegmund's 0.5826 × step s.d. for discrete monitoring)."""
    import math

    import sympy as sp

    from numerics.sgd_escape import separable_gradient, simulate_escape
    from numerics.first_passage import mean_first_passage_time_1d

    x, th = sp.symbols("x theta", real=True)
    sigma, lr, b = 4.0, 0.01, 0.6
    res = simulate_escape(separable_gradient(th ** 2 / 2 + sigma * x * th, x, th), [0.0], lr=lr,
                          batch_size=1, n_runs=1000, max_steps=100_000, upper=b, seed=3)
    mean, se = res.mean_escape_steps()
    pred = mean_first_passage_time_1d(th ** 2 / 2, sigma ** 2, th, 0.0, b + 0.5826 * lr * sigma,
                                      lr) / lr
    return {"measured_steps": round(mean, 1), "se": round(se, 1), "predicted_steps": round(pred, 1),
            "ratio": round(mean / pred, 3), "agrees": abs(mean - pred) < 4 * se + 0.03 * pred}


@check("DT.thm3.2", name="sgd_escape_time_vs_diffusion_theory")
def sgd_escape_time_vs_diffusion_theory():
    """Measured SGD escape iterations vs the exact diffusion-limit MFPT (the quantity whose
    low-noise asymptotics DT.thm3.2 gives, in its corrected Itô form). Agreement = within a factor 3
    and slopes within 50 %. Holds for light-tailed gradient noise (control case); fails by orders of
    magnitude on DT's own Styblinski–Tang setting, where SGD escapes by single heavy-tailed kicks."""
    ev = escape_rates_evidence()
    sweeps = ev.metrics["sweeps"]
    log10_ratio = {n: _rounded(m["log10_ratio_measured_over_predicted"], 1) for n, m in sweeps.items()}
    slope_ratio = {n: round(m["slope_ratio_measured_over_predicted"], 3) for n, m in sweeps.items()}
    worst = max(abs(v) for vs in log10_ratio.values() for v in vs)
    st_ok = worst < 0.48 and all(0.5 < v < 1.5 for v in slope_ratio.values())
    control = _diffusion_regime_case()
    metrics = {"source": ev.source,
               "styblinski_tang_log10_measured_over_predicted_steps": log10_ratio,
               "styblinski_tang_slope_ratio_measured_over_predicted": slope_ratio,
               "control_gaussian_noise": control,
               "tolerance": "|log10 ratio| < 0.48 (factor 3), slope ratio in (0.5, 1.5); control 4 SE + 3 %",
               "prediction": ev.prediction["model"],
               "live_small_log10_measured_over_predicted_steps": _E.live_part(ev, lambda live: {
                   n: _rounded(m["log10_ratio_measured_over_predicted"], 1)
                   for n, m in live["sweeps"].items()})}
    detail = ("real SGD escape iterations vs the exact mean first-passage time of the diffusion limit "
              f"(T = η/B, D = Var_x ∂L; {ev.source}). Gaussian-noise control: ratio {control['ratio']}; DT's "
              f"Styblinski–Tang setting (x ∼ N(0,1), ∂L cubic in x): worst |log10 ratio| = {worst:.1f}, "
              "escapes by rare large per-sample gradients, outside the small-step diffusion regime")
    if control["agrees"] and st_ok:
        return Verdict.measured(detail, metrics=metrics)
    if control["agrees"]:
        return Verdict.holds_if(
            detail,
            condition="SGD is in the diffusion regime: per-step noise η·sqrt(D/B) small against the "
                      "valley and light-tailed per-sample gradients; DT's §4 Styblinski–Tang runs are not",
            counterexample={"log10_measured_over_predicted_steps": log10_ratio,
                            "slope_ratio_measured_over_predicted": slope_ratio},
            **metrics)
    return Verdict.measured(detail, metrics=metrics, agrees=False)
