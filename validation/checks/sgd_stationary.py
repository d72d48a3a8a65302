"""SC.eq5 / RND.eq19 (the stationary law with a non-constant D(θ)), SC.eq6 / RND.eq20 (basin
weights) and SC.eq10 (only T = λ/B matters) measured on real minibatch SGD by
``validation.experiments.sgd_stationary``, judged on :func:`validation.evidence.experiments.
experiment_evidence` of that experiment (the committed record of the largest device, its metrics
re-derived by the experiment's pure ``compare``; the live small run when no record is committed).
The report section ``validation/sections/sgd_stationary.py`` renders the same evidence.

Sampling error: every total-variation (TV) distance is read against its sampling floor — the TV a
perfect prediction would show with the run's effective sample size (the smallest ESS of the
simulator's chain-group diagnostics) — and its standard error; runs whose diagnostics say "not
converged" are never counted as measurements."""
from __future__ import annotations

from validation.evidence import experiments as _E
from validation.ledger import Finding, Verdict, check


def _r(v, nd=3):
    return None if v is None else round(float(v), nd)


def _rl(vs, nd=3):
    return [_r(v, nd) for v in vs]


def _lam(v):
    return "none in range" if v is None else _r(v)


def _evidence():
    return _E.experiment_evidence("sgd_stationary")


@check("SC.eq5", "RND.eq19", name="sgd_histogram_matches_nonconstant_d_law")
def sgd_histogram_matches_nonconstant_d_law():
    """SGD's measured stationary histogram vs ρ ∝ exp(−2v/T) with v from the per-sample D(θ).

    Agreement: at the smallest λ of every invariance temperature (the diffusion regime, symmetric
    per-sample gradients) TV(measured, SC.eq5 law) − floor ≤ 0.02; and at every temperature of the
    law runs the non-constant-D law is closer than the constant-D Boltzmann law. Where the diffusion
    approximation breaks (larger λ, skewed per-sample gradients) the distance is recorded with the
    discrete-time chain's distance beside it (findings)."""
    ev = _evidence()
    met, cfg = ev.metrics, ev.config
    tol = met["tv_tolerance"]
    regime = met["diffusion_regime"]
    sym, skw = met["law"]["symmetric"], met["law"]["skewed"]
    regime_ok = bool(regime) and all(r["within_tolerance"] for r in regime)
    closer_ok = sym["diffusion_closer_than_boltzmann_all"] and skw["diffusion_closer_than_boltzmann_all"]
    enough_T = sym["n_usable"] >= 5
    metrics = {
        "source": ev.source,
        "diffusion_regime": [{"T": _r(r["T"], 4), "lr": r["lr"], "B": r["batch"], "tv_sc_eq5": _r(r["tv_diffusion"]),
                              "tv_floor": _r(r["tv_floor"]), "tv_chain": _r(r["tv_chain"]),
                              "tv_boltzmann": _r(r["tv_boltzmann"])} for r in regime],
        "law_runs_T": _rl(sym["T"], 4),
        "law_lr": cfg.law_lr,
        "symmetric_tv_sc_eq5": _rl(sym["tv_diffusion"]),
        "symmetric_tv_boltzmann_constant_D": _rl(sym["tv_boltzmann"]),
        "symmetric_tv_discrete_chain": _rl(sym["tv_chain"]),
        "symmetric_tv_modified_equation": _rl(sym["tv_modified"]),
        "symmetric_tv_floor": _rl(sym["tv_floor"]),
        "skewed_tv_sc_eq5": _rl(skw["tv_diffusion"]),
        "skewed_tv_boltzmann_constant_D": _rl(skw["tv_boltzmann"]),
        "skewed_tv_discrete_chain": _rl(skw["tv_chain"]),
        "skewed_tv_floor": _rl(skw["tv_floor"]),
        "unconverged_T": {"symmetric": sym["unconverged"], "skewed": skw["unconverged"]},
        "tolerance": f"TV − floor ≤ {tol} in the diffusion regime; SC.eq5 closer than constant-D Boltzmann at every T",
        "n_chains": cfg.n_chains,
    }
    findings = []
    if sym["max_tv_diffusion_beyond_floor"] is not None and sym["max_tv_diffusion_beyond_floor"] > tol:
        findings.append(Finding(
            "note", f"at λ = {cfg.law_lr} the SC.eq5 law misses SGD's histogram by up to TV "
                    f"{max(v for v in sym['tv_diffusion'] if v is not None):.3f} (floor ≈ "
                    f"{max(v for v in sym['tv_floor'] if v is not None):.3f}): the O(λ) discretisation error; the "
                    f"exact discrete-time chain is at TV ≤ {max(v for v in sym['tv_chain'] if v is not None):.3f}",
            evidence={"tv_sc_eq5": metrics["symmetric_tv_sc_eq5"], "tv_chain": metrics["symmetric_tv_discrete_chain"]}))
    if skw["n_usable"]:
        findings.append(Finding(
            "note", "skewed per-sample gradients (data skewness "
                    f"{met['skew']['skewed']['data_skewness']:.2f}): SGD's histogram is TV "
                    f"{min(v for v in skw['tv_diffusion'] if v is not None):.3f}–"
                    f"{max(v for v in skw['tv_diffusion'] if v is not None):.3f} from the SC.eq5 law at the same T "
                    "(the third cumulant of the noise, dropped by the diffusion limit, shifts the basin log-odds by "
                    f"{', '.join(f'{v:+.2f}' for v in met['skew']['skewed']['log_odds_error_diffusion'])} at T = "
                    f"{', '.join(f'{t:.3g}' for t in met['skew']['skewed']['T'])}; symmetric data: "
                    f"{', '.join(f'{v:+.2f}' for v in met['skew']['symmetric']['log_odds_error_diffusion'])}); the "
                    f"discrete-time chain is at TV ≤ {max(v for v in skw['tv_chain'] if v is not None):.3f}",
            evidence={"tv_sc_eq5": metrics["skewed_tv_sc_eq5"], "tv_chain": metrics["skewed_tv_discrete_chain"],
                      "tv_floor": metrics["skewed_tv_floor"]}))
    chain_ok = sym["chain_within_sampling_all"] and skw["chain_within_sampling_all"]
    if not chain_ok:
        findings.append(Finding(
            "note", "the discrete-time chain is outside 3 standard errors of the sampling floor at some law run",
            evidence={"symmetric": metrics["symmetric_tv_discrete_chain"], "skewed": metrics["skewed_tv_discrete_chain"],
                      "floors": [metrics["symmetric_tv_floor"], metrics["skewed_tv_floor"]]}))
    worst_regime = max((r["tv_diffusion"] - r["tv_floor"] for r in regime), default=float("nan"))
    detail = (f"real minibatch SGD ({cfg.n_chains} chains per run, {ev.source}) on a tilted double well whose "
              f"per-sample gradient variance D(θ) differs ≈ 9× between the basins: in the diffusion regime "
              f"(λ = {', '.join(str(r['lr']) for r in regime)}) TV(SGD, SC.eq5 law) exceeds its sampling floor by at "
              f"most {worst_regime:.3f} (tolerance {tol}); at every T the SC.eq5 law is at TV "
              f"{min(v for v in sym['tv_diffusion'] if v is not None):.3f}–"
              f"{max(v for v in sym['tv_diffusion'] if v is not None):.3f} while constant-D Boltzmann is at "
              f"{min(v for v in sym['tv_boltzmann'] if v is not None):.2f}–"
              f"{max(v for v in sym['tv_boltzmann'] if v is not None):.2f} (it puts the mass in the other basin)")
    return Verdict.measured(detail, metrics=metrics, agrees=bool(regime_ok and closer_ok and enough_T),
                            findings=tuple(findings))


@check("SC.eq6", "RND.eq20", name="sgd_basin_occupancy_vs_exact_and_laplace_weights")
def sgd_basin_occupancy_vs_exact_and_laplace_weights():
    """Measured basin occupancy (fraction of chain-steps right of the barrier) vs the exact weights
    of the SC.eq5 law, the discrete-time chain, and the Laplace weights SC.eq6 / RND.eq20 over T
    (symmetric per-sample gradients). The weights are leading order in T, so agreement: at the
    lowest converged T both Laplace weights within 0.02 + 3 standard errors of the measured
    occupancy, and their deviation there not larger than at the highest T (the deviation at every
    T is reported)."""
    ev = _evidence()
    met = ev.metrics
    sym = met["law"]["symmetric"]
    occ, se, pr = sym["occupancy_right"], sym["occupancy_se"], sym["occupancy_predicted"]
    idx = [i for i, v in enumerate(occ) if v is not None and sym["T"][i] not in sym["unconverged"]]
    dev = {k: [None if pr[k][i] is None else pr[k][i] - occ[i] for i in idx] for k in pr}
    # leading order in T: judged at the lowest converged T, and the deviation must not grow as T falls
    lo = min(range(len(idx)), key=lambda j: sym["T"][idx[j]]) if idx else None
    hi = max(range(len(idx)), key=lambda j: sym["T"][idx[j]]) if idx else None
    ok = {k: lo is not None and dev[k][lo] is not None and abs(dev[k][lo]) <= 0.02 + 3 * se[idx[lo]]
          and abs(dev[k][lo]) <= abs(dev[k][hi]) + 3 * se[idx[lo]]
          for k in ("laplace_SC.eq6", "laplace_RND.eq20")}
    metrics = {"source": ev.source, "T": _rl([sym["T"][i] for i in idx], 4),
               "measured_right_basin": _rl([occ[i] for i in idx], 4), "se": _rl([se[i] for i in idx], 4),
               "exact_sc_eq5": _rl([pr["diffusion"][i] for i in idx], 4),
               "discrete_chain": _rl([pr["chain"][i] for i in idx], 4),
               "laplace_sc_eq6": _rl([pr["laplace_SC.eq6"][i] for i in idx], 4),
               "laplace_rnd_eq20": _rl([pr["laplace_RND.eq20"][i] for i in idx], 4),
               "boltzmann_constant_D": _rl([pr["boltzmann"][i] for i in idx], 4),
               "deviation_from_measured": {k: _rl(v, 4) for k, v in dev.items()},
               "tolerance": "at the lowest T |Laplace − measured| ≤ 0.02 + 3 SE, and not larger than at the highest T "
                            "(the weights are leading order in T)",
               "laplace_ok": ok}
    findings = []
    if idx:
        findings.append(Finding(
            "note", "Laplace weights vs measured occupancy over T (leading order in T): "
                    + "; ".join(f"{k}: {', '.join(f'{d:+.3f}' for d in dev[k])}" for k in ("laplace_SC.eq6",
                                                                                          "laplace_RND.eq20"))
                    + f" at T = {', '.join(f'{t:.3g}' for t in metrics['T'])}; constant-D Boltzmann: "
                    + ", ".join(f"{d:+.3f}" for d in dev["boltzmann"]),
            evidence=metrics["deviation_from_measured"]))
    for k in ("laplace_SC.eq6", "laplace_RND.eq20"):
        if not ok[k]:
            findings.append(Finding("note", f"{k} weights miss the measured occupancy by up to "
                                            f"{max(abs(d) for d in dev[k] if d is not None):.3f}",
                                    evidence={"T": metrics["T"], "deviation": metrics["deviation_from_measured"][k]}))
    detail = (f"right-basin occupancy of SGD over T = {', '.join(f'{t:.3g}' for t in metrics['T'])} "
              f"({ev.source}): measured {', '.join(f'{v:.3f}' for v in metrics['measured_right_basin'])}; "
              f"SC.eq6 Laplace {', '.join(f'{v:.3f}' for v in metrics['laplace_sc_eq6'])}; RND.eq20 "
              f"{', '.join(f'{v:.3f}' for v in metrics['laplace_rnd_eq20'])}; exact SC.eq5 weights "
              f"{', '.join(f'{v:.3f}' for v in metrics['exact_sc_eq5'])}; constant-D Boltzmann "
              f"{', '.join(f'{v:.3f}' for v in metrics['boltzmann_constant_D'])}")
    return Verdict.measured(detail, metrics=metrics, agrees=bool(ok["laplace_SC.eq6"] and ok["laplace_RND.eq20"]),
                            findings=tuple(findings))


@check("SC.eq10", name="sgd_temperature_invariance_and_breaking_point")
def sgd_temperature_invariance_and_breaking_point():
    """At fixed T = λ/B, (λ, B) pairs give the same stationary law (SC.eq10: with t' = λt only T
    remains) "as long as the diffusion approximation holds", and the simple T dependence breaks down
    at large λ (both in SC's text around eq. 10). At fixed T the step cumulants per unit time,
    T^{k−1}κ_k, depend on T only; pairs differ only through the O(λ) terms of the modified equation
    (λU″ …), which the exact chain and the modified equation predict.

    Agreement — a test that can pass or fail, its regime fixed by theory before measuring: at each
    T ∈ ``invariance_test_temperatures`` (≥ 2), ≥ 3 pairs B ∈ ``invariance_test_batches`` (λ = T·B),
    each run as independent replicates; (1) premise: the O(λ) difference the exact chain and the
    modified equation predict between the pairs (the test statistic evaluated on the predicted laws)
    is at most half the sampling resolution (the permutation null's median) — otherwise the test is
    outside its regime and the check does not pass; (2) the k-sample permutation test (largest TV
    between the pairs' mean histograms, replicate labels permuted) does not reject at α; (3) power:
    the same test rejects every control pair (B = ``invariance_test_control_batch``) whose O(λ)
    difference the chain predicts to be ≥ 2× the resolution, and there is at least one; (4) a breaking λ is measured at ≥ 2 temperatures on the 10⁵-chain
    ladders (first λ whose law is TV 0.02 beyond the floor from the smallest-λ law), reported beside
    the modified equation's and the chain's λ*. The strict reading at 10⁵ chains (every pair within
    3 SE of the floor) is reported as a finding: at that resolution the O(λ) dependence is seen."""
    ev = _evidence()
    met, cfg = ev.metrics, ev.config
    inv = met["invariance"]
    tests = met["invariance_test"]
    per_T = {}
    for key, d in inv.items():
        per_T[key] = {
            "pairs": [(p["lr"], p["batch"]) for p in d["points"]],
            "tv_to_smallest_lr": [_r(p.get("tv_to_ref")) for p in d["points"]],
            "floor": [_r(p.get("floor")) for p in d["points"]],
            "agrees": [p.get("agrees") for p in d["points"]],
            "diverged": d["diverged_lrs"],
            "n_agreeing_pairs": d["n_agreeing_pairs"],
            "n_within_tv_tolerance": d["n_within_tolerance"],
            "breaking_lr_measured": _r(d["breaking_lr_measured"]),
            "breaking_lr_modified_equation": _r(d["breaking_lr_modified"]),
            "breaking_lr_discrete_chain": _r(d["breaking_lr_chain"]),
            "predicted_tv_modified_equation": _rl([p["predicted_tv_to_ref_modified"] for p in d["points"]]),
            "predicted_tv_discrete_chain": _rl([p["predicted_tv_to_ref_chain"] for p in d["points"]]),
        }
    test_T = {}
    for key, d in tests.items():
        t = d.get("test", {})
        c = d.get("control", {})
        test_T[key] = {
            "pairs": list(zip(d["lrs"], d["batches"])), "usable_pairs": d["n_usable_pairs"],
            "unusable_lrs": d["unusable"],
            "predicted_statistic": {k: _r(v, 4) for k, v in d["predicted_statistic"].items()},
            "statistic": _r(t.get("statistic"), 4), "resolution": _r(t.get("resolution"), 4),
            "p_value": _r(t.get("p_value"), 4), "premise_holds": d.get("premise_holds"),
            "rejected": d.get("rejected"), "passes": d["passes"],
            "control": {"lr": c.get("lr"), "batch": c.get("batch"), "diverged": c.get("diverged", False),
                        "statistic": _r(c.get("test", {}).get("statistic"), 4),
                        "resolution": _r(c.get("test", {}).get("resolution"), 4),
                        "p_value": _r(c.get("test", {}).get("p_value"), 4),
                        "predicted_chain": _r(c.get("predicted_statistic", {}).get("chain"), 4),
                        "predicted_resolved": c.get("predicted_resolved"), "rejected": c.get("rejected")},
            "has_power": d["has_power"]}
    strict_ok = len(inv) >= 2 and all(d["n_agreeing_pairs"] >= 3 for d in inv.values())
    breaking = [d for d in inv.values() if d["breaking_lr_measured"] is not None]
    powered = [d["has_power"] for d in tests.values() if d["has_power"] is not None]
    ok = (len(tests) >= 2 and all(d["passes"] for d in tests.values()) and bool(powered) and all(powered)
          and len(breaking) >= 2)
    metrics = {"source": ev.source, "invariance_test": test_T, "alpha": cfg.alpha, "per_T": per_T,
               "tolerance": f"per T: predicted O(λ) statistic ≤ ½ the permutation null's median (premise), >= 3 pairs, "
                            f"p >= α = {cfg.alpha:g} (k-sample permutation test, {cfg.replicates} replicates of "
                            f"{cfg.invariance_test_chains // cfg.replicates} chains per pair), every control predicted resolved (≥ 2× resolution) rejected, >= 1 such; "
                            f"breaking λ (TV − floor > {met['tv_tolerance']:g}) measured at >= 2 T",
               "strict_within_sampling_error_3_pairs_per_T_at_full_chains": bool(strict_ok)}
    from validation.experiments.sgd_stationary import _crossing

    for key, d in inv.items():  # the same crossing on the raw TV (no floor subtracted), like the predictions'
        pts = d["points"]
        raw_tv = [p.get("tv_to_ref") if p["usable"] else (1.0 if p["diverged"] else None) for p in pts]
        per_T[key]["breaking_lr_measured_raw_tv"] = _r(_crossing([p["lr"] for p in pts], raw_tv, met["tv_tolerance"]))
    found = breaking
    tol = met["tv_tolerance"]
    findings = []
    for key, d in test_T.items():
        if not d["passes"] or d["has_power"] is False:
            why = ("outside its regime: the predicted O(λ) statistic "
                   f"{max(v for v in d['predicted_statistic'].values() if v is not None):.4f} exceeds half the "
                   f"resolution {d['resolution']}" if d["premise_holds"] is False else
                   f"unusable pairs (burn-in < 6 relaxation times or diverged) at λ = {d['unusable_lrs']}"
                   if d["unusable_lrs"] else f"rejected, p = {d['p_value']} < α = {cfg.alpha:g}"
                   if d["rejected"] else "the control pair, predicted resolved, was not rejected: the test has no "
                   "power here" if d["has_power"] is False else "fewer than 3 usable pairs")
            findings.append(Finding("note", f"invariance test at T = {key}: {why}", evidence=d))
    if not powered:
        findings.append(Finding("note", "no control pair was predicted to be resolved (≥ 2× the resolution): the "
                                        "test's power is not demonstrated", evidence=test_T))
    if not strict_ok:
        findings.append(Finding(
            "note", f"at the full chain count ({cfg.n_chains} chains per pair) the strict reading (equal laws within "
                    "sampling error) does not hold: only "
                    + "; ".join(f"{d['n_agreeing_pairs']} of {len(d['points'])} pairs at T = {d['T']:g}" for d in inv.values())
                    + " agree within 3 SE of the floor (the smallest-λ reference itself): at that resolution SGD's stationary "
                      "law is seen to depend on λ at fixed T at O(λ), as the modified equation and the exact chain "
                      "predict — outside the regime of the invariance test; within TV "
                    + f"{tol:g} beyond the floor: "
                    + "; ".join(f"{d['n_within_tolerance']} pairs at T = {d['T']:g}" for d in inv.values()),
            evidence={k: {"tv_to_smallest_lr": v["tv_to_smallest_lr"], "floor": v["floor"]} for k, v in per_T.items()}))
    if found:
        findings.append(Finding(
            "note", "breaking point of the temperature invariance: "
                    + "; ".join(f"T = {d['T']:g}: λ* ≈ {d['breaking_lr_measured']:.3g} measured (TV − floor > "
                                f"{met['tv_tolerance']:g}; raw TV > {met['tv_tolerance']:g} at "
                                f"{per_T[str(d['T'])]['breaking_lr_measured_raw_tv']}), "
                                f"{'none in range' if d['breaking_lr_modified'] is None else format(d['breaking_lr_modified'], '.3g')} "
                                f"by the modified equation, "
                                f"{'none in range' if d['breaking_lr_chain'] is None else format(d['breaking_lr_chain'], '.3g')} "
                                f"by the discrete chain"
                                + (f" (diverged at λ = {d['diverged_lrs']})" if d['diverged_lrs'] else "")
                                for d in found),
            evidence=per_T))
    for key, d in inv.items():
        ok_pts = [p for p in d["points"] if p.get("tv_to_ref") is not None and p["predicted_tv_to_ref_chain"] is not None]
        if len(ok_pts) >= 3:
            worst_chain = max(abs(p["tv_to_ref"] - p["predicted_tv_to_ref_chain"]) for p in ok_pts)
            findings.append(Finding(
                "note", f"T = {d['T']:g}: the law moves with λ at fixed T — TV to the λ = {ok_pts[0]['lr']:g} law "
                        + ", ".join(f"{p['tv_to_ref']:.3f}" for p in ok_pts[1:]) + " at λ = "
                        + ", ".join(f"{p['lr']:g}" for p in ok_pts[1:]) + "; the exact discrete-time chain predicts "
                        + ", ".join(f"{p['predicted_tv_to_ref_chain']:.3f}" for p in ok_pts[1:])
                        + f" (largest difference {worst_chain:.3f}), the first-order modified equation "
                        + ", ".join("—" if p["predicted_tv_to_ref_modified"] is None else
                                    f"{p['predicted_tv_to_ref_modified']:.3f}" for p in ok_pts[1:]),
                evidence=per_T[key]))
    for key, d in met.get("transients", {}).items():
        pts = [p for p in d["points"] if "time" in p]
        if pts:
            metrics.setdefault("transient_first_passage_time", {})[key] = {
                "lr": [p["lr"] for p in pts], "time": _rl([p["time"] for p in pts]), "se": _rl([p["se"] for p in pts]),
                "chain": _rl([p["chain_time"] for p in pts]), "diffusion": _rl([p["diffusion_time"] for p in pts]),
                "z_vs_smallest_lr": _rl([p["z_vs_smallest_lr"] for p in pts], 1),
                "n_agreeing_pairs": d["n_agreeing_pairs"]}
            findings.append(Finding(
                "note", f"time rescaling λ₁n₁ = λ₂n₂ on a transient at T = {d['T']:g} (first passage over the barrier "
                        "from the left minimum): λ·n̄ = " + ", ".join(f"{p['time']:.3f} ± {p['se']:.3f}" for p in pts)
                        + " at λ = " + ", ".join(f"{p['lr']:g}" for p in pts)
                        + f" ({d['n_agreeing_pairs']} of {len(pts)} within 3 SE of the smallest-λ time); exact chain "
                        + ", ".join("—" if p["chain_time"] is None else f"{p['chain_time']:.3f}" for p in pts)
                        + f"; diffusion limit {pts[0]['diffusion_time']:.3f}",
                evidence=metrics["transient_first_passage_time"][key]))
    detail = ("temperature invariance of SGD's stationary law, tested in the regime where the predicted O(λ) "
              f"difference is below the sampling resolution ({ev.source}; {cfg.replicates} replicates × "
              f"{cfg.invariance_test_chains // cfg.replicates} chains per pair, α = {cfg.alpha:g}): "
              + "; ".join(f"T = {k}: {len(d['pairs'])} pairs λ = {', '.join(f'{lr:g}' for lr, _ in d['pairs'])}, "
                          f"max TV {d['statistic']} vs resolution {d['resolution']} (predicted O(λ) "
                          f"{d['predicted_statistic']['chain']}), p = {d['p_value']}"
                          f"{' — rejected' if d['rejected'] else ''}; control λ = {d['control']['lr']:g}: p = "
                          f"{d['control']['p_value']}{' (rejected)' if d['control']['rejected'] else ' (NOT rejected)'}"
                          for k, d in test_T.items())
              + f". Breaking point at {cfg.n_chains} chains: "
              + "; ".join(f"T = {d['T']:g}: λ* ≈ {_lam(d['breaking_lr_measured'])} measured, modified equation "
                          f"{_lam(d['breaking_lr_modified'])}, chain {_lam(d['breaking_lr_chain'])}" for d in inv.values()))
    return Verdict.measured(detail, metrics=metrics, agrees=bool(ok), findings=tuple(findings))
