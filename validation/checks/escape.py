"""Ledger checks for the escape-time theory (DT paper: eq. 7, Thm 3.1, Thm 3.2, Rule 1, Prop. 1).

Reference numbers come from the EXACT 1-D mean first-passage / exit times of the Itô diffusion
(:func:`numerics.first_passage.mean_first_passage_time_1d`, scale-function quadrature) and from exact
stationary basin masses (mpmath quadrature); the formulas under test are evaluated from
:mod:`theory.escape`.

Which exact time matches Kramers? The Kramers time counts a full crossing of the saddle (flux over
population). The exact MFPT to a point well beyond the saddle (here: the other minimum) tends to
it with an O(T) relative error. Twice the MFPT to the saddle top also tends to it, but with an
extra odd (√T) term from the asymmetry of the top (U'''(b) ≠ 0), so the far-point comparison is
the one the verdict uses; both are recorded.
"""
from __future__ import annotations

import functools
import math

import mpmath
import sympy as sp

from numerics.first_passage import (
    laplace_escape_time_1d,
    mean_exit_time_interval_1d,
    mean_first_passage_time_1d,
    path_exponent_1d,
    sgd_path_parameter,
)
from theory.coordinates import gradient, hessian
from theory.escape import (
    dt_diffusion_from_sc,
    escape_rate_parallel,
    hessian_noise_covariance,
    kramers_escape_time,
    sgd_escape_time_printed,
    valley_probabilities,
)
from theory.identity import check_identity
from validation.ledger import Verdict, check

x = sp.Symbol("theta", real=True)

#: Tilted quartic double well used by several checks (minima ≈ −1.047, 0.946; top ≈ 0.101).
TILTED_WELL = x**4 / 4 - x**2 / 2 + x / 10
#: Symmetric quartic double well (minima ±1, H_a = 2; top 0, H_b = −1; ΔU = 1/4).
SYMMETRIC_WELL = (x**2 - 1) ** 2 / 4
#: Hessian-like noise shape for the symmetric well: equals |U''| at the minima and at the top
#: (2 at ±1, 1 at 0) and stays positive in between (|U''| itself vanishes at ±1/√3).
SMOOTH_NOISE_SHAPE = 1 + x**2

TEMPERATURES = (0.2, 0.1, 0.05, 0.025, 0.0125)
KAPPAS = (0.05, 0.025, 0.0125, 0.00625)  # κ = η/(2B): DT noise D_DT = κ h(θ)


@functools.lru_cache(maxsize=None)
def critical_points(U):
    """Sorted real roots of U' for a polynomial U (minimum, top, minimum for a double well)."""
    roots = sp.Poly(sp.diff(U, x), x).nroots(n=30)
    return tuple(sorted(float(sp.re(r)) for r in roots if abs(sp.im(r)) < 1e-20))


def _val(expr, at):
    return float(expr.subs(x, at))


def _pearson(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(xs, ys))
    sxx = sum((a - mx) ** 2 for a in xs)
    syy = sum((b - my) ** 2 for b in ys)
    return sxy / math.sqrt(sxx * syy)


# ------------------------------------------------------------------------------------------
# DT.eq7
# ------------------------------------------------------------------------------------------
def _gaussian_expectation(expr, data_var, mean, std):
    """E over x ~ N(mean, std²) of a polynomial in the data variable (exact, via z-moments)."""
    z = sp.Symbol("z")
    poly = sp.Poly(sp.expand(expr.subs(data_var, mean + std * z)), z)
    total = 0
    for (k,), c in poly.terms():
        total += c * (0 if k % 2 else sp.factorial2(k - 1))
    return sp.simplify(total)


def per_sample_gradient_stats(loss, data_var, params, mean, std, at):
    """(Cov[∂ℓ], E[∂²ℓ]) of a per-sample loss ℓ(x, θ) for x ~ N(mean, std²), evaluated at θ=at."""
    g = gradient(loss, params)
    Hs = hessian(loss, params)
    sub = dict(zip(list(params), at))
    Eg = sp.Matrix([_gaussian_expectation(gi, data_var, mean, std) for gi in g])
    Egg = sp.Matrix(len(g), len(g), lambda i, j: _gaussian_expectation(g[i] * g[j], data_var,
                                                                       mean, std))
    cov = (Egg - Eg * Eg.T).subs(sub)
    EH = Hs.applyfunc(lambda e: _gaussian_expectation(e, data_var, mean, std)).subs(sub)
    return cov.applyfunc(sp.simplify), EH.applyfunc(sp.simplify)


@check("DT.eq7")
def hessian_noise_is_sc_diffusion_with_fisher_equal_hessian():
    """D_DT = ηH/(2B) is SC's T·D_SC/2 with T = η/B and D_SC = H (symbolic, 2×2 matrix)."""
    lr, B = sp.symbols("eta B", positive=True)
    H = sp.Matrix(2, 2, sp.symbols("h11 h12 h12 h22"))
    noise = hessian_noise_covariance(H, B, lr)
    mapped = dt_diffusion_from_sc(H, lr / B)
    res_D = check_identity(noise.diffusion, mapped)
    res_C = check_identity(noise.diffusion, lr * noise.covariance / 2)
    if res_D.exact and res_C.exact:
        return Verdict.holds("hessian_noise_covariance: C = H/B, D_DT = ηC/2 = ηH/(2B), equal to "
                             "SC's T·D_SC/2 with T = η/B, D_SC = H (symbolic 2×2, simplify)")
    return Verdict.fails("the DT.eq7 noise does not map to SC's diffusion",
                         counterexample={"D_DT - T D_SC/2": str(res_D.residual),
                                         "D - ηC/2": str(res_C.residual)})


@check("DT.eq7")
def fisher_equals_hessian_only_at_true_parameter():
    """Per-sample gradient covariance = expected Hessian for the Gaussian log-likelihood
    ℓ = (x−μ)²/(2σ²) + log σ, θ = (μ, σ), exactly at the true parameter; not away from it and
    not for a misspecified model."""
    xd = sp.Symbol("x", real=True)
    mu, sig = sp.symbols("mu sigma", positive=True)
    m0, s0 = sp.symbols("m0 s0", positive=True)
    loss = (xd - mu) ** 2 / (2 * sig**2) + sp.log(sig)
    params = sp.Matrix([mu, sig])
    cov, EH = per_sample_gradient_stats(loss, xd, params, m0, s0, (m0, s0))
    at_truth = check_identity(cov, EH)
    # away from the truth (μ = m0 + 1/2, σ = 2 s0 with s0 = 1, m0 = 0): numbers
    cov_off, EH_off = per_sample_gradient_stats(loss, xd, params, 0, 1, (sp.Rational(1, 2), 2))
    # misspecified: model with σ fixed to 1, data N(0, 4), at the best μ = 0
    loss_mis = (xd - mu) ** 2 / 2
    cov_mis, EH_mis = per_sample_gradient_stats(loss_mis, xd, sp.Matrix([mu]), 0, 2, (0,))
    off_differs = not check_identity(cov_off, EH_off).holds
    mis_differs = not check_identity(cov_mis, EH_mis).holds
    if at_truth.exact and off_differs and mis_differs:
        return Verdict.holds_if(
            "Gaussian (μ, σ) log-likelihood: Cov[∂ℓ] = E[∂²ℓ] = diag(1/σ², 2/σ²) exactly at the "
            "true parameter (symbolic); the identity behind C ≈ H/B fails away from it and for a "
            "misspecified noise model",
            condition="θ at (or near) the true parameter of a well-specified log-likelihood "
                      "model, and gradient mean ≪ spread (near a critical point)",
            counterexample={
                "off_truth (data N(0,1), θ=(1/2, 2))": {"Cov[∂ℓ]": str(cov_off.tolist()),
                                                        "E[∂²ℓ]": str(EH_off.tolist())},
                "misspecified (model σ=1, data N(0,4), μ=0)": {"Cov[∂ℓ]": str(cov_mis[0]),
                                                               "E[∂²ℓ]": str(EH_mis[0])},
            })
    return Verdict.fails("Fisher ≠ expected Hessian at the true parameter of the Gaussian model",
                         counterexample={"Cov": str(cov.tolist()), "E[H]": str(EH.tolist())})


# ------------------------------------------------------------------------------------------
# DT.thm3.1 — Kramers vs exact MFPT
# ------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def kramers_vs_exact_sweep(U=TILTED_WELL, temperatures=TEMPERATURES, D_sc=1):
    """For each well of the double well ``U`` and each T (SC's SDE, constant D_SC): Kramers time
    (DT.thm3.1 with D_DT = T D_SC/2), exact MFPT to the other minimum, exact MFPT to the top."""
    a1, b, a2 = critical_points(U)
    H = sp.diff(U, x, 2)
    rows = []
    for a, other in ((a1, a2), (a2, a1)):
        for T in temperatures:
            tau_k = float(kramers_escape_time(_val(H, a), _val(H, b), _val(U, b) - _val(U, a),
                                              dt_diffusion_from_sc(D_sc, T)))
            far = mean_first_passage_time_1d(U, D_sc, x, a, other, T)
            top = mean_first_passage_time_1d(U, D_sc, x, a, b, T)
            rows.append({"minimum": a, "T": T, "kramers": tau_k, "mfpt_far": far,
                         "mfpt_top": top, "rel_err_far": tau_k / far - 1,
                         "rel_err_2top": tau_k / (2 * top) - 1})
    return tuple(rows)


@check("DT.thm3.1")
def kramers_time_matches_exact_mfpt_1d():
    rows = kramers_vs_exact_sweep()
    ok = True
    metrics = {}
    for a in sorted({r["minimum"] for r in rows}):
        errs = [abs(r["rel_err_far"]) for r in rows if r["minimum"] == a]
        shrinking = all(e2 < e1 for e1, e2 in zip(errs, errs[1:]))
        ok &= shrinking and errs[-1] < 0.10
        metrics[f"rel_err_far(min {a:.3f}) over T={list(TEMPERATURES)}"] = [round(e, 4) for e in errs]
        metrics[f"rel_err_2xtop(min {a:.3f})"] = [round(abs(r["rel_err_2top"]), 4)
                                                  for r in rows if r["minimum"] == a]
    metrics["tolerance"] = "|τ_K/τ_exact − 1| < 0.10 at the lowest T and decreasing as T → 0"
    return Verdict.measured(
        "1-D tilted double well U = θ⁴/4 − θ²/2 + θ/10, SC noise sqrt(T)dW (D_DT = T/2): "
        "Kramers τ vs exact MFPT to the other minimum, both wells; error ∝ T",
        metrics=metrics, agrees=ok)


@check("DT.thm3.1")
def kramers_determinant_ratio_2d():
    """2-D check of the sqrt(−det H_b / det H_a) factor: U = (x²−1)²/4 + (1 + c x²) y²/2 has a
    transverse curvature that differs between minimum (1+c) and saddle (1), so the determinant
    ratio is not 1. Exact MFPT from (−1, 0) to the line x = 0.6 by a reversible finite-volume
    solve of the backward equation, compared with DT.thm3.1. The grid (h = 0.01 × 0.02) is
    converged to < 0.1% (checked against 521×161); the remaining error is the O(D/ΔL) Kramers
    correction, halving with D."""
    import numpy as np

    from numerics.first_passage import mean_first_passage_time_grid_2d

    c = 3.0
    def U_fn(X, Y):
        return (X**2 - 1) ** 2 / 4 + (1 + c * X**2) * Y**2 / 2

    Ha = sp.Matrix([[2, 0], [0, 1 + c]])
    Hb = sp.Matrix([[-1, 0], [0, 1]])
    out = {}
    errs = []
    for D_dt in (0.05, 0.025, 0.0125):
        xs, ys, tau = mean_first_passage_time_grid_2d(U_fn, D_dt, xlim=(-2.0, 0.6), ylim=(-1.2, 1.2),
                                                      nx=261, ny=121, absorb_x=0.6 - 1e-9)
        i = int(np.argmin(abs(xs + 1)))
        j = int(np.argmin(abs(ys)))
        tk = float(kramers_escape_time(Ha, Hb, sp.Rational(1, 4), D_dt))
        t1d = float(kramers_escape_time(2, -1, sp.Rational(1, 4), D_dt))
        errs.append(float(tk / tau[i, j] - 1))
        out[f"D_DT={D_dt}"] = {"exact": float(tau[i, j]), "kramers_nd": tk,
                               "kramers_without_det_ratio": t1d}
    ok = abs(errs[-1]) < 0.10 and all(abs(e2) < abs(e1) for e1, e2 in zip(errs, errs[1:]))
    return Verdict.measured(
        "2-D well with position-dependent transverse curvature (c = 3): Kramers with "
        "sqrt(−det H_b/det H_a) vs exact MFPT (finite volumes 261×121)",
        metrics={"rel_err": [round(e, 4) for e in errs], **out,
                 "tolerance": "< 0.10 at the lower D and shrinking"}, agrees=ok)


# ------------------------------------------------------------------------------------------
# DT.thm3.2 — SGD escape time
# ------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def sgd_vs_exact_sweep(kappas=KAPPAS):
    """Symmetric well, DT noise D_DT = κ(1 + θ²) (Hessian-shaped at a and b): exact MFPT to the
    other minimum, DT's printed Thm 3.2 (with the exact-exponent s), and the Itô Laplace form."""
    U, h = SYMMETRIC_WELL, SMOOTH_NOISE_SHAPE
    s = sgd_path_parameter(U, h, x, -1, 0)
    rows = []
    for k in kappas:
        T = 2 * k  # SC form with D = h: T·h = 2 κ h
        exact = mean_first_passage_time_1d(U, h, x, -1, 1, T)
        printed = float(sgd_escape_time_printed(2, -1, sp.Rational(1, 4), 1, 2 * k, s))  # η/(2B) = κ
        laplace = laplace_escape_time_1d(U, h, x, -1, 0, T)
        rows.append({"kappa": k, "exact": exact, "printed": printed, "laplace_ito": laplace,
                     "printed_over_exact": printed / exact, "ito_over_exact": laplace / exact})
    return s, tuple(rows)


@check("DT.thm3.2")
def sgd_escape_time_prefactor():
    s, rows = sgd_vs_exact_sweep()
    pr = [r["printed_over_exact"] for r in rows]
    co = [r["ito_over_exact"] for r in rows]
    Ha, Hb = 2.0, 1.0
    printed_off = abs(pr[-1] - Ha / Hb) < abs(pr[0] - Ha / Hb) and abs(pr[-1] - 1) > 0.5
    corrected_ok = abs(co[-1] - 1) < 0.10 and abs(co[-1] - 1) < abs(co[0] - 1)
    if printed_off and corrected_ok:
        return Verdict.corrected(
            "1-D, U = (θ²−1)²/4, DT noise D_DT = κ(1+θ²) (= κ|U''| at the minimum and the top), "
            f"s = {s:.4f} from the exact exponent: the exact MFPT (Itô, DT eq. 3–4) has prefactor "
            "2π/H_ae; the printed 2π/|H_be| is off by H_ae/|H_be| = 2 as κ → 0 (it is the "
            "answer for the ∂·(D∂P) Fokker–Planck form that DT's proof uses when it drops ∇D)",
            printed="τ = 2π |H_be|^{-1} exp[(2BΔL/η)(s/H_ae + (1−s)/|H_be|)]",
            corrected="1-D: τ = 2π H_ae^{-1} exp[(2BΔL/η)(s/H_ae + (1−s)/|H_be|)]; general: "
                      "τ = 2π sqrt(D_b/(D_a H_a |H_b|)) exp(∫_a^b L'/D_DT dθ)",
            counterexample={"kappa": [r["kappa"] for r in rows],
                            "exact": [r["exact"] for r in rows],
                            "printed/exact": [round(v, 4) for v in pr],
                            "corrected/exact": [round(v, 4) for v in co]})
    return Verdict.measured("SGD escape time vs exact MFPT",
                            metrics={"printed/exact": pr, "corrected/exact": co,
                                     "tolerance": "corrected within 10%"},
                            agrees=corrected_ok and not printed_off)


@check("DT.thm3.2")
def sgd_path_parameter_needs_positive_noise_along_path():
    """s ∈ (0,1) iff ∫_a^b L'/h lies between ΔL/H_ae and ΔL/|H_be|. With D ∝ |U''| (DT.eq7 used
    along the whole path, floor-clipped) it does not: |U''| vanishes at the inflection point."""
    U = SYMMETRIC_WELL
    s_smooth = sgd_path_parameter(U, SMOOTH_NOISE_SHAPE, x, -1, 0)
    floors = (0.5, 0.2, 0.1, 0.05)
    s_clip = [sgd_path_parameter(U, sp.Max(sp.Abs(3 * x**2 - 1), f), x, -1, 0) for f in floors]
    phis = [path_exponent_1d(U, sp.Max(sp.Abs(3 * x**2 - 1), f), x, -1, 0) for f in floors]
    # exact MFPT with the floor-clipped noise vs the largest DT value over s ∈ [0, 1] (s = 0)
    kappa, f = 0.025, 0.1
    exact = mean_first_passage_time_1d(U, sp.Max(sp.Abs(3 * x**2 - 1), f), x, -1, 1, 2 * kappa)
    best_dt = max(float(sgd_escape_time_printed(2, -1, sp.Rational(1, 4), 1, 2 * kappa, s))
                  for s in (0, 1))
    growing = all(p2 > p1 for p1, p2 in zip(phis, phis[1:]))
    if 0 < s_smooth < 1 and all(s < 0 for s in s_clip) and growing and exact > 10 * best_dt:
        return Verdict.holds_if(
            f"exponent of DT.thm3.2 with s = {s_smooth:.4f} ∈ (0,1) is exact for noise shape "
            "h = 1+θ² (positive, Hessian-valued at a and b); with h = max(|U''|, floor) s < 0 "
            "and the exponent ∫L'/h grows like log(1/floor) (→ ∞ for D ∝ |U''|: the noise vanishes "
            "at the inflection point, where the drift points back, so the escape time is infinite)",
            condition="the noise along the escape path stays positive and between its values at the "
                      "minimum and the saddle in the sense ΔL/H_ae < ∫_a^b L'/h dθ < ΔL/|H_be| "
                      "(h = D_DT·2B/η); DT.eq7 (D ∝ H) must not be applied between the critical points",
            counterexample={"floors": list(floors), "s_from_exact_exponent": [round(s, 4) for s in s_clip],
                            "Phi=∫L'/h": [round(p, 4) for p in phis],
                            "DT_range_of_Phi": [0.125, 0.25],
                            "kappa": kappa, "floor": f, "exact_mfpt": exact,
                            "max_DT_time_over_s_in_[0,1]": best_dt})
    return Verdict.fails("path parameter analysis did not come out as derived",
                         counterexample={"s_smooth": s_smooth, "s_clip": s_clip, "phi": phis})


@check("DT.thm3.2")
def neg_log_rate_linear_in_inverse_noise_and_sharpness():
    """−log γ (γ = 1/τ, exact MFPT) against 1/κ = 2B/η (i.e. linear in B and in 1/η) and against
    1/k for the rescaled landscape L_k(θ) = L(√k θ) with noise D_DT = κ k h(√k θ)."""
    U, h = SYMMETRIC_WELL, SMOOTH_NOISE_SHAPE
    inv_kappa, nlg = [], []
    for k in (0.05, 0.035, 0.025, 0.0175, 0.0125):
        tau = mean_first_passage_time_1d(U, h, x, -1, 1, 2 * k, log=True)
        inv_kappa.append(1 / k)
        nlg.append(tau)
    slope = (nlg[-1] - nlg[0]) / (inv_kappa[-1] - inv_kappa[0])
    r_kappa = _pearson(inv_kappa, nlg)
    kappa = 0.02
    inv_k, nlg_k = [], []
    for ks in (0.5, 0.75, 1.0, 1.5, 2.0):
        Uk = U.subs(x, sp.sqrt(ks) * x)
        hk = ks * h.subs(x, sp.sqrt(ks) * x)
        a = -1 / math.sqrt(ks)
        inv_k.append(1 / ks)
        nlg_k.append(mean_first_passage_time_1d(Uk, hk, x, a, -a, 2 * kappa, log=True))
    r_k = _pearson(inv_k, nlg_k)
    phi = path_exponent_1d(U, h, x, -1, 0)
    ok = r_kappa > 0.99 and r_k > 0.99 and abs(slope / phi - 1) < 0.1
    return Verdict.measured(
        "exact −log γ vs 1/κ (κ = η/2B) and vs 1/k (sharpness rescaling), symmetric well, "
        "D_DT = κ(1+θ²)",
        metrics={"pearson_vs_1/kappa": round(r_kappa, 6), "pearson_vs_1/k": round(r_k, 6),
                 "slope_vs_1/kappa": slope, "predicted_slope_Phi": phi,
                 "tolerance": "Pearson > 0.99 (the criterion of DT.sec4); slope within 10% of Φ"},
        agrees=ok)


# ------------------------------------------------------------------------------------------
# DT.rule1
# ------------------------------------------------------------------------------------------
@check("DT.rule1")
def parallel_escape_paths_add_rates():
    """A well at 0 with two exits over barriers of different heights: U = θ²/2 − θ⁴/4 + θ/200.
    Exact mean exit time from (l, r) (both absorbing, beyond the barriers) vs 1/(γ_L + γ_R)."""
    U = x**2 / 2 - x**4 / 4 + x / 200
    cps = critical_points(U)
    bL, a, bR = cps
    H = sp.diff(U, x, 2)
    l, r = bL - 0.6, bR + 0.6
    errs, single = [], []
    for T in (0.1, 0.05, 0.025):
        D_dt = dt_diffusion_from_sc(1, T)
        rates = [1 / kramers_escape_time(_val(H, a), _val(H, b), _val(U, b) - _val(U, a), D_dt)
                 for b in (bL, bR)]
        tau_rule = float(1 / escape_rate_parallel(rates))
        tau_one = float(1 / max(rates, key=float))
        exact = mean_exit_time_interval_1d(U, 1, x, a, l, r, T)
        errs.append(tau_rule / exact - 1)
        single.append(tau_one / exact - 1)
    ok = abs(errs[-1]) < 0.10 and abs(errs[-1]) < abs(errs[0]) and abs(single[-1]) > 0.2
    return Verdict.measured(
        "two-exit well U = θ²/2 − θ⁴/4 + θ/200, T ∈ (0.1, 0.05, 0.025): 1/(γ_L+γ_R) (Kramers "
        "rates) vs exact two-sided exit time; the faster path alone is far off",
        metrics={"rel_err_rule1": [round(e, 4) for e in errs],
                 "rel_err_single_path": [round(e, 4) for e in single],
                 "tolerance": "< 0.10 at the lowest T, shrinking"}, agrees=ok)


# ------------------------------------------------------------------------------------------
# DT.prop1
# ------------------------------------------------------------------------------------------
@check("DT.prop1")
def valley_probability_ratio_is_laplace_mass_ratio():
    """Symbolic: with a common saddle, τ_1/τ_2 from DT.thm3.1 equals the Laplace (Gibbs) mass
    ratio sqrt(det H_2/det H_1) exp(−(L_1 − L_2)/D) exactly (any dimension)."""
    L1, L2, Lb, D, d1, d2, db, hb = sp.symbols("L1 L2 Lb D d1 d2 d_b h_b", positive=True)
    tau1 = kramers_escape_time(d1, -db, Lb - L1, D, escape_eigenvalue=-hb)
    tau2 = kramers_escape_time(d2, -db, Lb - L2, D, escape_eigenvalue=-hb)
    p1, p2 = valley_probabilities([tau1, tau2])
    mass_ratio = sp.sqrt(d2 / d1) * sp.exp(-(L1 - L2) / D)
    res = check_identity(p1 / p2, mass_ratio)
    if res.exact:
        return Verdict.holds("P(V1)/P(V2) = τ1/τ2 = sqrt(det H2/det H1) e^{−(L1−L2)/D} — the "
                             "Laplace mass ratio of exp(−L/D) (symbolic, simplify)")
    return Verdict.fails("valley probabilities ≠ Laplace mass ratio",
                         counterexample={"residual": str(res.residual)})


def _exact_log_odds(U, D_shape, T, a1, b, a2):
    """Exact ``log(M1/M2)`` of the stationary masses of the Itô density ∝ exp(−ψ)/D
    (ψ' = 2U'/(T D)) left/right of b (mpmath quadrature, 25 digits)."""
    psi_expr = sp.integrate(sp.cancel(2 * sp.diff(U, x) / D_shape), x) / T
    psi = sp.lambdify(x, psi_expr, "mpmath")
    Df = sp.lambdify(x, D_shape, "mpmath")
    shift = min(psi(a1), psi(a2))
    with mpmath.workdps(25):
        f = lambda y: mpmath.exp(-(psi(y) - shift)) / Df(y)  # noqa: E731
        m1 = mpmath.quad(f, [-mpmath.inf, a1 - 1, a1, b])
        m2 = mpmath.quad(f, [b, a2, a2 + 1, mpmath.inf])
        return float(mpmath.log(m1 / m2))


@check("DT.prop1")
def valley_probabilities_match_exact_stationary_mass():
    """Tilted double well; (i) constant noise: Kramers times → P(V1) vs exact mass of e^{−2U/T};
    (ii) Hessian-shaped noise D_SC = 1 + θ²: exact MFPT ratio vs exact Itô stationary mass.

    The metric is the error of the log-odds ``log(P(V1)/P(V2)) = log(τ1/τ2)`` against the exact
    ``log(M1/M2)`` — equivalently the relative error of the *smaller* well's probability. (The
    dominant well's probability is ≈ 1 − e^{−16} at T = 0.025, so its relative error would hide
    even a doubled Kramers exponent.)"""
    U = TILTED_WELL
    a1, b, a2 = critical_points(U)
    rows = kramers_vs_exact_sweep()
    errs_const, errs_state, log_odds = [], [], []
    for T in (0.1, 0.05, 0.025):
        k1 = next(r["kramers"] for r in rows if r["minimum"] == a1 and r["T"] == T)
        k2 = next(r["kramers"] for r in rows if r["minimum"] == a2 and r["T"] == T)
        p1, p2 = (float(p) for p in valley_probabilities([k1, k2]))
        exact = _exact_log_odds(U, sp.Integer(1), T, a1, b, a2)
        errs_const.append(math.log(p1 / p2) - exact)
        log_odds.append(exact)
    for T in (0.1, 0.05, 0.025):
        t1 = mean_first_passage_time_1d(U, SMOOTH_NOISE_SHAPE, x, a1, a2, T)
        t2 = mean_first_passage_time_1d(U, SMOOTH_NOISE_SHAPE, x, a2, a1, T)
        p1, p2 = (float(p) for p in valley_probabilities([t1, t2]))
        errs_state.append(math.log(p1 / p2) - _exact_log_odds(U, SMOOTH_NOISE_SHAPE, T, a1, b, a2))
    ok = all(abs(e[-1]) < 0.05 and abs(e[-1]) < abs(e[0]) for e in (errs_const, errs_state))
    return Verdict.measured(
        "tilted double well U = θ⁴/4 − θ²/2 + θ/10: log-odds log(P(V1)/P(V2)) = log(τ1/τ2) vs "
        "the exact stationary masses left/right of the top, constant noise (Kramers τ) and "
        "D_SC = 1+θ² (exact MFPTs)",
        metrics={"T": [0.1, 0.05, 0.025],
                 "exact_log_odds_constant_noise": [round(v, 4) for v in log_odds],
                 "log_odds_err_constant_noise": [round(e, 5) for e in errs_const],
                 "log_odds_err_state_dependent_noise": [round(e, 6) for e in errs_state],
                 "tolerance": "|log-odds error| (≈ relative error of the smaller well's "
                              "probability) < 0.05 at the lowest T, shrinking"}, agrees=ok)
