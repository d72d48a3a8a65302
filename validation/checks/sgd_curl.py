"""Non-zero curl, measured (SC.A1, SC.B1.counter): real minibatch SGD on a 2-D per-sample quadratic
whose noise covariance D = Σ does not commute with the Hessian H, judged on the evidence of
:func:`validation.evidence.experiments.experiment_evidence` for ``sgd_curl`` (the committed record of
the largest device, metrics re-derived by :func:`validation.experiments.sgd_curl.compare`; the small
preset run live beside it). The report section renders the same evidence.

* ``SC.A1`` — the consequence of dropping zero curl: SGD's stationary histogram follows the
  Fokker–Planck non-equilibrium steady state (TV within 0.02 beyond its sampling error) and is
  measurably farther from the best zero-curl density ``exp(−½θᵀKθ)``.
* ``SC.B1.counter`` — no J = 0 steady state: the probability current measured from the chains
  (midpoint-binned displacements / λ) is non-zero and matches the solver's J (circulation within
  ``CIRCULATION_REL_TOL`` and field correlation ≥ ``MIN_CORRELATION``).
"""
from __future__ import annotations

from validation.evidence import experiments as E
from validation.ledger import Verdict, check

#: the measured circulation ⟨θ₁j₂ − θ₂j₁⟩ must match the solver's within this relative error
CIRCULATION_REL_TOL = 0.10
#: and the measured flux field must correlate with −J at least this well (90 %-mass cells)
MIN_CORRELATION = 0.9
#: the circulation must differ from zero by at least this many standard errors
MIN_Z = 5.0


@check("SC.A1", name="sgd_curl_stationary_law_vs_fp_and_zero_curl")
def sgd_curl_stationary_law_vs_fp_and_zero_curl():
    """TV(SGD histogram, FP steady state) within tolerance beyond sampling; the best zero-curl
    density measurably farther."""
    ev = E.experiment_evidence("sgd_curl")
    m, cfg = ev.metrics, ev.config
    tv = m["tv"]
    metrics = {"source": ev.source, "T": m["T"], "tv": {k: round(v, 4) for k, v in tv.items()},
               "sampling_tv": round(m["sampling_tv"], 4),
               "tv_excess_over_sampling": {k: round(v, 4) for k, v in m["tv_excess_over_sampling"].items()},
               "tolerance": m["tv_tolerance"], "commutator_norm_HD_minus_DH": round(m["commutator_norm"], 4),
               "fp_current_relative": round(m["fp_current_relative"], 4), "converged": m["converged"],
               "live_small_tv": E.live_part(ev, lambda live: {k: round(v, 4) for k, v in live["tv"].items()})}
    agrees = bool(m["fp_within_tolerance"] and m["fp_closer_than_zero_curl"] and m["converged"])
    detail = (f"SGD on ½θᵀHθ + x·θ, H = diag({cfg.h1:g}, {cfg.h2:g}), Cov x = [[1, {cfg.c:g}], [{cfg.c:g}, 1]] "
              f"(‖HD − DH‖ = {m['commutator_norm']:.2f}; T = {m['T']:g}; {ev.source}): TV to the FP steady state "
              f"{tv['sgd_vs_fp']:.4f} (sampling {m['sampling_tv']:.4f}), to the best zero-curl density "
              f"{tv['sgd_vs_zero_curl']:.4f}, to the density with the curl dropped {tv['sgd_vs_symmetric_part']:.4f}")
    return Verdict.measured(detail, metrics=metrics, agrees=agrees)


@check("SC.B1.counter", name="sgd_curl_current_measured")
def sgd_curl_current_measured():
    """The measured probability current is non-zero and matches the FP solver's J."""
    ev = E.experiment_evidence("sgd_curl")
    m = ev.metrics
    c = m["current"]
    rel = abs(c["circulation_measured"] - c["circulation_predicted"]) / abs(c["circulation_predicted"])
    metrics = {"source": ev.source, "circulation_measured": c["circulation_measured"],
               "circulation_se": c["circulation_se"], "circulation_predicted": c["circulation_predicted"],
               "circulation_relative_error": round(rel, 4), "circulation_z_vs_zero": round(c["circulation_z_vs_zero"], 1),
               "flux_relative_l2_error": round(c["relative_l2_error"], 4),
               "flux_relative_l2_sampling": round(c["relative_l2_sampling"], 4),
               "flux_correlation": round(c["correlation"], 4), "cells": c["cells"],
               "tolerances": {"circulation_rel": CIRCULATION_REL_TOL, "min_correlation": MIN_CORRELATION, "min_z": MIN_Z},
               "live_small_circulation": E.live_part(ev, lambda live: [live["current"]["circulation_measured"],
                                                                        live["current"]["circulation_predicted"]])}
    agrees = bool(abs(c["circulation_z_vs_zero"]) >= MIN_Z and rel <= CIRCULATION_REL_TOL
                  and c["correlation"] >= MIN_CORRELATION)
    detail = (f"probability current of SGD measured from the chains (displacement/λ binned at step midpoints; "
              f"{ev.source}): circulation {c['circulation_measured']:.5g} ± {c['circulation_se']:.2g} "
              f"({abs(c['circulation_z_vs_zero']):.0f} SE from zero) vs the FP solver's {c['circulation_predicted']:.5g} "
              f"({100 * rel:.2f} % apart); flux field correlation {c['correlation']:.3f}, relative L2 error "
              f"{c['relative_l2_error']:.3f} (sampling {c['relative_l2_sampling']:.3f})")
    return Verdict.measured(detail, metrics=metrics, agrees=agrees)
