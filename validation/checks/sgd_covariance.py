"""The stationary covariance and offset of real SGD around a strict minimum (SC.B2.cov, SC.B2.bias), and
the test-loss average over its iterates (SC.eq4), measured on ℓ2-regularised logistic regression (breast
cancer, p = 31) and judged on the evidence of
:func:`validation.evidence.experiments.experiment_evidence` for ``sgd_covariance`` (the committed record
of the largest device, metrics re-derived by :func:`validation.experiments.sgd_covariance.compare`; the
small preset run live beside it). The symbolic checks of ``laplace.py`` stay; these add the measurement.

* ``SC.B2.cov`` — the measured covariance is the OU/Lyapunov covariance at leading order in T (the form
  ``Σ = (T/2)(∂²v)⁻¹`` takes; it equals the printed ``(T/2)C⁻¹D`` iff C and D commute, which the
  zero-curl Assumption SC.A1 implies). On this real model C and D do not commute — a finding with the
  printed form's measured error.
* ``SC.B2.bias`` — no measured check: the printed b is the offset of the *mode* of the zero-curl
  steady state (RND App. B's μ_k minimises g̃), which three moments do not resolve here. What the runs
  do measure — the mean of the iterates, θ^tr − E θ (the b that SC.eq4's test-loss cross term uses),
  is O(T) but moves by ½C⁻¹∂³U:Σ, not by the printed b — is reported as findings on the SC.B2.cov
  check (:func:`sgd_covariance_offsets`), with the mode estimate and its leading-order prediction
  (``numerics.lyapunov.mode_offset``).
* ``SC.eq4`` — the held-out loss averaged over the same iterates against U^test(θ^test) + ½Tr[ΣC^test] +
  ½(s + b)ᵀC^test(s + b): its T-dependent part, with the measured Σ and b (the verdict), the Lyapunov Σ,
  the printed b; the third-order term and the expansion about θ^tr locate a miss
  (:func:`sgd_covariance_test_loss_decomposition`).

Agreement rules: :mod:`validation.experiments.sgd_covariance` (fixed before the FULL record).
"""
from __future__ import annotations

from validation.evidence import experiments as _E
from validation.ledger import Finding, Verdict, check


def _r(x, n=4):
    return None if x is None else round(float(x), n)


@check("SC.B2.cov", name="sgd_covariance_stationary_covariance")
def sgd_covariance_stationary_covariance():
    """Measured SGD covariance vs the Lyapunov solutions and the printed (T/2)C⁻¹D."""
    ev = _E.experiment_evidence("sgd_covariance")
    m = ev.metrics
    runs = m["runs"]
    cold = min((o for o in runs if o["batch_size"] == m["T_sweep"]["batch_size"]), key=lambda o: o["T"])
    e, fl = cold["cov_relative_error"], cold["cov_sampling_floor"]
    per_run = [{"lr": o["lr"], "B": o["batch_size"], "T": o["T"],
                **{k: _r(v) for k, v in o["cov_relative_error"].items()}, "floor": _r(o["cov_sampling_floor"])}
               for o in runs]
    ls = m["lambda_sweep"]
    metrics = {"source": ev.source, "commutator_relative": _r(m["commutator_relative"]), "coldest_T": m["coldest_T"],
               "relative_error_at_coldest_T": {k: _r(v) for k, v in e.items()}, "sampling_floor": _r(fl),
               "tolerance": m["cov_tolerance"], "excess_error_slope_in_T": _r(m["T_sweep"]["cov_excess_slope_in_T_discrete"], 3),
               "runs": per_run,
               "lambda_sweep": {"T": ls["T"], "lr": ls["lr"], "continuous": [_r(v) for v in ls["lyapunov_continuous"]],
                                "discrete": [_r(v) for v in ls["lyapunov_discrete"]]},
               "live_small_discrete_error": _E.live_part(ev, lambda live: [
                   _r(o["cov_relative_error"]["lyapunov_discrete"]) for o in live["runs"]])}
    mlp = m.get("mlp_runs") or []
    metrics["mlp_top_k"] = [{"lr": o["lr"], "B": o["batch_size"], "T": o["T"],
                             **{k: _r(v) for k, v in o["cov_relative_error"].items()}, "floor": _r(o["cov_sampling_floor"])}
                            for o in mlp]
    metrics["mlp_commutator_relative_subspace"] = _r(m.get("mlp_commutator_relative_subspace"))
    agrees = bool(m["discrete_lyapunov_within_tolerance_at_coldest_T"]
                  and m["continuous_lyapunov_within_tolerance_at_coldest_T"] and m["cov_error_vanishes_with_T"]
                  and m.get("mlp_discrete_lyapunov_within_tolerance_at_coldest_T") is not False)
    hot = max(runs, key=lambda o: o["T"])
    mlp_txt = ""
    if mlp:
        mc = min(mlp, key=lambda o: o["T"])
        mlp_txt = (f"; MLP top-k subspace at T = {mc['T']:g}: {mc['cov_relative_error']['lyapunov_discrete']:.3f} from the "
                   f"discrete Lyapunov solution, {mc['cov_relative_error']['printed']:.3f} from the printed form")
    detail = (f"SGD on ℓ2 logistic regression (breast cancer, p = 31, {ev.source}): at T = {cold['T']:g} the measured "
              f"stationary covariance is {e['lyapunov_discrete']:.3f} (relative Frobenius) from the discrete Lyapunov "
              f"solution and {e['lyapunov_continuous']:.3f} from the continuous one CΣ + ΣC = TD (sampling floor "
              f"{fl:.3f}), but {e['printed']:.3f} from the printed (T/2)C⁻¹D ({e['printed_symmetric']:.3f} from its "
              f"symmetric part); the error beyond the floor grows with T (slope "
              f"{m['T_sweep']['cov_excess_slope_in_T_discrete']:.2f}, {hot['cov_relative_error']['lyapunov_discrete']:.3f} "
              f"at T = {hot['T']:g}: O(T) anharmonic terms){mlp_txt}")
    findings = [Finding(
        "stated-assumption",
        f"On a real model C̃ and D̃ need not commute: here ‖CD − DC‖/(‖C‖‖D‖) = {m['commutator_relative']:.3f}, so SC.A1 "
        f"fails at the minimum and the printed (T/2)C̃⁻¹D̃ (RND eq. 22) is {e['printed']:.2f} off the measured covariance "
        f"(symmetrised {e['printed_symmetric']:.2f}) while the Lyapunov solution is within {e['lyapunov_continuous']:.3f}",
        printed="Σ_k ≈ (T/2) C̃_k⁻¹ D̃_k", corrected="C̃_k Σ_k + Σ_k C̃_k = T D̃_k (Lyapunov; SGD's discrete map: "
        "Σ = (I − λC)Σ(I − λC) + λ²D/B)", evidence={"coldest_T": per_run[runs.index(cold)]}),
        Finding("note", "At fixed T = {:g} the continuous Lyapunov error grows with λ ({}) while the discrete one stays "
                "({}): SGD's time step adds an O(λ) error the discrete Lyapunov solution removes".format(
                    ls["T"], ", ".join(f"{v:.3f}" for v in ls["lyapunov_continuous"]),
                    ", ".join(f"{v:.3f}" for v in ls["lyapunov_discrete"])),
                evidence={"lr": ls["lr"], "sampling_floor": [_r(v) for v in ls["sampling_floor"]]})]
    if mlp:
        mc = min(mlp, key=lambda o: o["T"])
        findings.append(Finding(
            "note", f"MLP (wine, tanh, ℓ2) in its top-{len(ev.prediction['mlp']['eigenvalues'])} Hessian subspace: at "
            f"T = {mc['T']:g} the measured covariance is {mc['cov_relative_error']['lyapunov_discrete']:.3f} from the "
            f"discrete Lyapunov solution (floor {mc['cov_sampling_floor']:.3f}) and "
            f"{mc['cov_relative_error']['printed']:.3f} from the printed (T/2)Λ⁻¹VᵀDV (subspace commutator "
            f"{m['mlp_commutator_relative_subspace']:.3f}); the error grows with T: "
            + ", ".join(f"{o['cov_relative_error']['lyapunov_discrete']:.3f} at T = {o['T']:g}" for o in mlp),
            evidence=metrics["mlp_top_k"]))
    summary = (f"measured SGD covariance = Lyapunov solution within {e['lyapunov_continuous']:.3f} at T = {cold['T']:g}; "
               f"printed (T/2)C⁻¹D off by {e['printed']:.2f} (C, D do not commute: SC.A1 fails on this model)")
    offsets = sgd_covariance_offsets()
    findings += [Finding(f.kind, "[SC.B2.bias / SC.eq4, from the same runs] " + f.summary, printed=f.printed,
                         corrected=f.corrected, evidence=f.evidence) for f in offsets.findings]
    return Verdict.measured(detail, metrics=metrics, agrees=agrees, findings=findings, summary=summary)


def sgd_covariance_offsets():
    """Measured offsets of the mean and of the mode of the SGD iterates vs the printed bias and the
    leading-order predictions — NOT a ledger check: the printed b is the offset of the mode μ_k
    (RND App. B defines μ_k as the minimum of g̃), the mean is another quantity, and the mode estimated
    from three moments is not trusted here, so nothing measured here decides the printed claim (the
    symbolic checks of laplace.py judge it). Its findings are attached to the SC.B2.cov check, whose
    experiment measured them; the returned Verdict ("measured" when the mean's offset agrees with the
    printed b, else "fails") describes the mean-offset comparison only."""
    ev = _E.experiment_evidence("sgd_covariance")
    m = ev.metrics
    runs = m["runs"]
    per_run = [{"lr": o["lr"], "B": o["batch_size"], "T": o["T"],
                "mean_norm": _r(o["mean_offset_norm"][0], 6), "mode_norm": _r(o["mode_offset_norm"][0], 6),
                "printed_norm": _r(o["printed_bias_norm"], 6),
                "mean_vs_printed": _r(o["offset_relative_error"]["mean_vs_printed"], 3),
                "mean_vs_prediction": _r(o["offset_relative_error"]["mean_vs_mean_offset_discrete"], 3),
                "mode_vs_printed": _r(o["offset_relative_error"]["mode_vs_printed"], 3),
                "mode_vs_prediction": _r(o["offset_relative_error"]["mode_vs_mode_offset_discrete"], 3),
                "mode_floor": _r(o["offset_sampling_floor"]["mode_vs_mode_offset_discrete"], 3),
                "mean_along_printed": [_r(v, 3) for v in o["offset_projection"]["mean_along_printed"]]}
               for o in runs]
    metrics = {"source": ev.source, "commutator_relative": _r(m["commutator_relative"]),
               "mean_offset_slope_in_T": _r(m["mean_offset_slope_in_T"], 3),
               "mode_offset_slope_in_T": _r(m["mode_offset_slope_in_T"], 3), "slope_band": m["slope_band"],
               "tolerance": m["bias_tolerance"], "runs": per_run,
               "mode_matches_prediction": m["mode_offset_matches_prediction"],
               "mode_matches_printed": m["mode_offset_matches_printed_bias"],
               "mean_matches_prediction": m["mean_offset_matches_prediction"],
               "mean_matches_printed": m["mean_offset_matches_printed_bias"]}
    agrees = bool(m["mean_offset_order_T"] and m["mean_offset_matches_printed_bias"])
    cold = min(runs, key=lambda o: o["T"])
    f = cold["offset_relative_error"]
    detail = (f"θ^tr − E θ of SGD on ℓ2 logistic regression ({ev.source}) scales as T^{m['mean_offset_slope_in_T']:.2f}; "
              f"at T = {cold['T']:g} its size is {cold['mean_offset_norm'][0]:.3g} against |(T/2)C⁻¹∂·D| = "
              f"{cold['printed_bias_norm']:.3g} (relative error {f['mean_vs_printed']:.2f}) and it matches ½C⁻¹∂³U:Σ within "
              f"{f['mean_vs_mean_offset_discrete']:.2f}; the mode (from the first three moments) is "
              f"{f['mode_vs_printed']:.2f} from the printed bias and {f['mode_vs_mode_offset_discrete']:.2f} from the "
              f"leading-order mode offset with curl (sampling floor {cold['offset_sampling_floor']['mode_vs_mode_offset_discrete']:.2f})")
    d_ev = ev.prediction["D_eigenvalues"]
    d_ratio = min(d_ev) / max(d_ev)
    worst_mean = max(o["offset_relative_error"]["mean_vs_mean_offset_discrete"] for o in runs)
    worst_floor = max(o["offset_sampling_floor"]["mean_vs_mean_offset_discrete"] for o in runs)
    findings = [Finding(
        "note",
        "The printed b = (T/2)C⁻¹∂·D is the offset of the mode μ of the zero-curl steady state (RND App. B defines μ_k "
        "as the minimum of g̃); the stationary mean of SGD moves by ½C⁻¹(∂³U : Σ) (E[∂U(θ)] = 0 exactly at "
        "stationarity), another O(T) vector: the Gaussian N(μ_k, Σ_k) puts the mean at the mode and misses the skewness "
        f"term at the same order. Measured |θ^tr − E θ|/|printed b| = {cold['mean_offset_norm'][0] / cold['printed_bias_norm']:.2f} "
        f"at T = {cold['T']:g}; ½C⁻¹∂³U:Σ matches the measured mean offset within {worst_mean:.2f} in every run "
        f"(largest sampling floor {worst_floor:.2f})",
        printed="b_k = θ_k^tr − μ_k ≈ (T/2) C̃⁻¹ ∂·D̃ (the mode's offset)",
        corrected="θ^tr − E[θ] = ½ C̃⁻¹ (∂³U : Σ) + O(T²) (the mean's offset, the one SC.eq4's cross term needs)",
        evidence=per_run),
        Finding("note", "The mode of the iterates estimated from their first three moments (mean − ½κ3:Σ⁻¹) is "
                f"{f['mode_vs_mode_offset_discrete']:.2f} (relative) from its leading-order prediction with curl at "
                f"T = {cold['T']:g} (sampling floor {cold['offset_sampling_floor']['mode_vs_mode_offset_discrete']:.2f}) and "
                f"{f['mode_vs_printed']:.2f} from the printed bias: not resolved here. κ3:Σ⁻¹ weighs the directions of "
                f"nearly singular D (smallest/largest eigenvalue {d_ratio:.1e}), where the cubic expansion behind both "
                "the estimate and the prediction likely needs a far smaller T (a likely cause, not established); the "
                "check does not judge the mode.",
                evidence={"mode_offset_slope_in_T": _r(m["mode_offset_slope_in_T"], 3)})]
    summary = (f"θ^tr − E θ is O(T) (slope {m['mean_offset_slope_in_T']:.2f}) but {f['mean_vs_printed']:.2f} (relative) "
               f"from the printed (T/2)C⁻¹∂·D ({cold['mean_offset_norm'][0] / cold['printed_bias_norm']:.2f}× its size); "
               f"it is ½C⁻¹∂³U:Σ within {f['mean_vs_mean_offset_discrete']:.2f} — the printed b is the mode's offset")
    return Verdict.measured(detail, metrics=metrics, agrees=agrees, findings=findings, summary=summary)


_EQ4_LABELS = {"measured_moments": "(a) measured Σ, measured b", "lyapunov_measured_mean": "(b) Lyapunov Σ, measured b",
               "fully_predicted": "(c) Lyapunov Σ, printed b", "lyapunov_discrete_measured_mean": "(b′) discrete Lyapunov Σ",
               "fully_predicted_discrete": "(c′) discrete Lyapunov Σ, printed b",
               "measured_moments_cubic": "(a) + third-order term", "local_expansion": "expansion about θ^tr"}


@check("SC.eq4", name="sgd_covariance_test_loss_decomposition")
def sgd_covariance_test_loss_decomposition():
    """SC.eq4 (RND eq. 5–6, one strict minimum) held against real SGD iterates: the held-out loss
    averaged over the iterates of every run of ``sgd_covariance`` vs ``U_0 + ½Tr[ΣC^test] +
    ½(s + b)ᵀC^test(s + b)``, its T-dependent part compared (the rule: the experiment's module docstring;
    verdict = the form with the measured Σ and b within in every run)."""
    ev = _E.experiment_evidence("sgd_covariance")
    m = ev.metrics
    tl = m.get("test_loss")
    if tl is None:
        raise RuntimeError("the sgd_covariance evidence has no observed test loss (a record written before "
                           "sgd_chain_moments(observe=...)): re-run `python -m validation run sgd_covariance --full --force`")
    runs = m["runs"]
    tol = tl["tolerance"]
    names = list(tl["within_all_runs"])
    per_run = []
    for o in runs:
        t = o["test_loss"]
        per_run.append({"lr": o["lr"], "B": o["batch_size"], "T": o["T"],
                        "E_U_test": [_r(t["measured"][0], 7), _r(t["measured"][1], 7)],
                        "T_part_measured": [_r(t["T_part_measured"][0], 7), _r(t["T_part_measured"][1], 7)],
                        **{k: [_r(t["variants"][k]["T_part_relative_error"][0]), _r(t["variants"][k]["T_part_relative_error"][1])]
                           for k in names}})
    metrics = {"source": ev.source, "tolerance": tol, "shift_norm": _r(tl["shift_norm"]), "n_test": tl["n_test"],
               "taylor_remainder_T_independent": _r(tl["taylor_remainder"], 7),
               "T_part_slope_in_T": _r(tl["T_part_slope_in_T"], 3), "within_all_runs": tl["within_all_runs"],
               "relative_error_of_T_part": per_run,
               "live_small_measured_moments_error": _E.live_part(ev, lambda live: [
                   _r(o["test_loss"]["variants"]["measured_moments"]["T_part_relative_error"][0])
                   for o in live["runs"] if o.get("test_loss")])}
    agrees = bool(tl["within_all_runs"]["measured_moments"])

    def rng(k):
        vals = [o["test_loss"]["variants"][k]["T_part_relative_error"][0] for o in runs]
        return f"{min(vals):+.3f} … {max(vals):+.3f}"

    def worst_se(k):
        return max(o["test_loss"]["variants"][k]["T_part_relative_error"][1] for o in runs)

    cold = min(runs, key=lambda o: o["T"])
    hot = max(runs, key=lambda o: o["T"])
    ratio = [abs(o["test_loss"]["variants"]["measured_moments"]["total_error"][0]) / o["test_loss"]["T_part_measured"][0]
             for o in runs]
    detail = (f"SGD on ℓ2 logistic regression (breast cancer, {ev.source}); U^test = the ℓ2 logistic loss on the "
              f"{tl['n_test']} held-out samples, |s| = |θ^test − θ^tr| = {tl['shift_norm']:.3f}. The T-dependent part "
              f"E[U^test] − U^test(θ^tr) (measured {cold['test_loss']['T_part_measured'][0]:.3g} at T = {cold['T']:g} … "
              f"{hot['test_loss']['T_part_measured'][0]:.3g} at T = {hot['T']:g}, slope in T {tl['T_part_slope_in_T']:.2f}) "
              f"against the form minus its T → 0 limit, relative error (measured − form)/form over the "
              f"{len(runs)} runs: " + "; ".join(f"{_EQ4_LABELS[k]} {rng(k)}" for k in names)
              + f" (tolerance {tol:g} + 2 jackknife SE; largest SE of (a) {worst_se('measured_moments'):.3f}). The "
              f"T-independent part U^test(θ^test) + ½sᵀC^test s misses U^test(θ^tr) by {tl['taylor_remainder']:.2g} "
              f"(the cubic remainder at distance |s|), {min(ratio):.2f}–{max(ratio):.2f}× the T-dependent signal.")
    findings = []
    a_rng, loc_rng, cub_rng = rng("measured_moments"), rng("local_expansion"), rng("measured_moments_cubic")
    sweep_a = tl["T_sweep"]["relative_error"]["measured_moments"]
    trend = ("not shrinking with T — an O(T|s|) term, not O(T²)" if abs(sweep_a[-1]) >= 0.5 * abs(sweep_a[0])
             else "shrinking with T")
    b_ratio = [o["mean_offset_norm"][0] / o["printed_bias_norm"] for o in runs]
    if not agrees:
        findings.append(Finding(
            "stated-assumption",
            "SC.eq4 / RND eq. 5–6 expand U^test to second order about the test minimum θ^test, but the SGD iterates "
            f"sit at distance |s| = {tl['shift_norm']:.2f} from it: with the measured Σ and b of the iterates the form "
            f"misses the T-dependent part of E[U^test] by {a_rng} (relative, all {len(runs)} runs; over the T sweep "
            f"{', '.join(f'{v:+.3f}' for v in sweep_a)}: {trend}). The dropped third-order term −½∂³U^test[s]:Σ is of the same order O(T|s|) as "
            f"the kept cross term sᵀC^test b; adding it moves the error only to {cub_rng} (the series in |s| converges "
            f"slowly here), while the second-order expansion about θ^tr, where the iterates sit, is within {loc_rng}",
            printed="E_ρ[U^test] ≈ U^test(θ^test) + ½Tr[ΣC^test(θ^test)] + ½(s+b)ᵀC^test(θ^test)(s+b)",
            corrected="E_ρ[U^test] ≈ U^test(θ^tr) − ∂U^test(θ^tr)·b + ½Tr[∂²U^test(θ^tr)(Σ + bbᵀ)] (curvature where ρ "
                      "sits; equal to the printed form only to leading order in |s|)",
            evidence={"shift_norm": _r(tl["shift_norm"]), "per_run": per_run}))
    n_within = {k: sum(o["test_loss"]["variants"][k]["within"] for o in runs) for k in names}
    metrics["runs_within"] = n_within
    findings.append(Finding(
        "note",
        f"The fully predicted form (c) (continuous Lyapunov Σ, printed b = (T/2)C⁻¹∂·D) is off by {rng('fully_predicted')} "
        f"(within the rule in {n_within['fully_predicted']} of {len(runs)} runs), (b) (Lyapunov Σ, measured mean) by "
        f"{rng('lyapunov_measured_mean')}: the measured mean offset is {min(b_ratio):.2f}–{max(b_ratio):.2f}× the printed b "
        "(SC.B2.cov's findings), and the printed b's larger cross term sᵀC^test b offsets part of the dropped O(T|s|) curvature term — a "
        "compensation on this model, not SC.eq4's accuracy",
        evidence={"T_sweep": tl["T_sweep"]}))
    summary = (f"E[U^test] over SGD iterates vs SC.eq4: T-dependent part off by {a_rng} with the measured Σ, b "
               f"(|s| = {tl['shift_norm']:.2f}: the expansion about θ^test drops an O(T|s|) term); about θ^tr within {loc_rng}; "
               f"fully predicted {rng('fully_predicted')}")
    return Verdict.measured(detail, metrics=metrics, agrees=agrees, findings=findings, summary=summary)
