"""Checks of the temperature-derivative claims (RND sec. 6, App. F): RND.eq24–27 and RND.2basin."""
from __future__ import annotations

import mpmath
import numpy as np
import sympy as sp

from theory.fokker_planck import ou_stationary_covariance
from theory.identity import check_identity, check_zero
from theory.temperature import (
    basin_average,
    basin_covariance,
    d_dbeta_weights,
    d_dT_average,
    leading_dT_test_loss,
    log_prefactor,
    mixture_test_loss,
    one_basin_dT_test_loss_corrected,
    dT_test_loss_eq25_printed,
    two_basin_covariance,
    two_basin_sign_product,
    weights,
)
from validation.checks._zero_curl import zero_curl_at_minimum_means_commuting
from validation.ledger import Finding, Verdict, check

T = sp.Symbol("T", positive=True)


def _zero_with_exp_atoms(expr):
    """Exact zero test for expressions rational in exponentials: replace every ``exp(·)`` atom by
    an independent positive symbol and ``cancel``. A zero rational function of independent
    symbols is zero for any values of them, so 0 here is a proof; otherwise fall back to
    :func:`check_zero` (simplify + spot-check) on the original expression."""
    e = sp.expand(expr)
    atoms = sorted(e.atoms(sp.exp), key=sp.default_sort_key)
    reps = dict(zip(atoms, sp.symbols(f"_E0:{len(atoms)}", positive=True)))
    if sp.cancel(sp.together(e.xreplace(reps))) == 0:
        return check_zero(sp.Integer(0))
    return check_zero(expr)


def _basin_symbols(K):
    v = sp.symbols(f"v0:{K}", real=True)
    a = sp.symbols(f"a0:{K}", real=True)
    lp = sp.symbols(f"l0:{K}", real=True)
    return v, a, lp


# ------------------------------------------------------------------------------------ RND.eq24
@check("RND.eq24")
def temperature_derivative_of_basin_average():
    """∂_T⟨f⟩ = (2/T²)Cov_w(ṽ,f) for K = 2, 3 basins, symbolic ṽ_k, ã_k, ℓ_k, f_k; Var corollary."""
    proofs = []
    for K in (2, 3):
        v, a, lp = _basin_symbols(K)
        f = sp.symbols(f"f0:{K}", real=True)
        w = weights(v, a, lp, T)
        direct = sp.diff(basin_average(f, w), T)
        formula = 2 / T**2 * basin_covariance(v, f, w)
        res = check_identity(direct, formula)
        proofs.append((K, res))
        if not res.holds:
            return Verdict.fails(f"∂_T⟨f⟩ ≠ (2/T²)Cov(ṽ,f) for K={K}",
                                 counterexample=res.counterexample or {"residual": str(res.residual)})
    # corollary: f = ṽ in the proven identity gives ∂_T⟨ṽ⟩ = (2/T²)Cov(ṽ,ṽ); for any weights summing
    # to one Cov(ṽ,ṽ) = Σ w_k (ṽ_k − ⟨ṽ⟩)² (a polynomial identity after w_K = 1 − Σ_{k<K} w_k),
    # a non-negative sum of squares
    v, _a, _lp = _basin_symbols(3)
    ws = sp.symbols("w0:2", positive=True)
    w = [ws[0], ws[1], 1 - ws[0] - ws[1]]
    var_sos = basin_average([(v_k - basin_average(v, w)) ** 2 for v_k in v], w)
    cor = check_zero(sp.expand(basin_covariance(v, v, w) - var_sos))
    if not cor.holds:
        return Verdict.fails("∂_T⟨ṽ⟩ is not (2/T²)Var(ṽ)", counterexample=cor.counterexample)
    methods = "; ".join(f"K={K}: {r.method}" for K, r in proofs)
    return Verdict.holds(
        "direct symbolic ∂_T of Σw_k f_k with RND.eq20 weights equals (2/T²)Cov_w(ṽ,f) "
        f"({methods}); ∂_T⟨ṽ⟩ = (2/T²)Σ w_k(ṽ_k−⟨ṽ⟩)² ≥ 0 ({cor.method}), so ⟨ṽ⟩ never decreases")


@check("RND.eq24", name="inverse_temperature_steps_of_appendix_F")
def appendix_f_beta_derivatives():
    """RND eq. 24 as printed (App. F eq. 66, the chain rule from β = 1/T) against direct
    differentiation, and App. F's intermediate steps eqs. 62/64 separately. The printed eq. 24
    decides the verdict; the β-derivatives carry the opposite sign to the printed ones and the
    chain-rule step drops its sign — two slips that cancel — recorded as a derivation-slip finding."""
    beta = sp.Symbol("beta", positive=True)
    K = 3
    v, a, lp = _basin_symbols(K)
    f = sp.symbols(f"f0:{K}", real=True)
    wT = weights(v, a, lp, T)
    wb = [x.subs(T, 1 / beta) for x in wT]
    dw_direct = [sp.diff(x, beta) for x in wb]
    mean_v = basin_average(v, wb)
    printed_dw = [-2 * x * (mean_v - v_k) for x, v_k in zip(wb, v)]
    derived_dw = d_dbeta_weights(v, wb)
    ok_derived = all(_zero_with_exp_atoms(d - e).holds for d, e in zip(dw_direct, derived_dw))
    dmean_direct = sp.diff(basin_average(f, wb), beta)
    ok_mean = _zero_with_exp_atoms(dmean_direct + 2 * basin_covariance(v, f, wb)).holds
    # the printed result, eq. 24 = eq. 66: ∂_T⟨f⟩ = (2/T²)Cov(ṽ, f), directly in T
    eq66 = _zero_with_exp_atoms(sp.diff(basin_average(f, wT), T) - 2 / T**2 * basin_covariance(v, f, wT))
    # numbers: ṽ = (0, 1, 2), ã = ℓ = 0, f = ṽ, β = 1
    pt = {**{v[k]: k for k in range(K)}, **{a[k]: 0 for k in range(K)}, **{lp[k]: 0 for k in range(K)},
          **{f[k]: k for k in range(K)}, beta: 1}
    direct_num = float(dw_direct[0].subs(pt))
    printed_num = float(printed_dw[0].subs(pt))
    dmean_num = float(dmean_direct.subs(pt))
    printed_mean = float((2 * basin_covariance(v, f, wb)).subs(pt))
    if not (ok_derived and ok_mean):
        return Verdict.fails("could not confirm the β-derivatives of the weights",
                             counterexample={"dw0_direct": direct_num, "dw0_printed": printed_num})
    numbers = {"v_tilde": [0, 1, 2], "a_tilde": 0, "log_prefactor": 0, "f": "ṽ", "beta": 1,
               "d_beta_w0_direct": direct_num, "d_beta_w0_printed": printed_num,
               "d_beta_mean_f_direct": dmean_num, "d_beta_mean_f_printed": printed_mean}
    if not eq66.holds:
        return Verdict.corrected(
            "direct ∂_T of the RND.eq20 weights (K = 3) differs from the printed (2/T²)Cov(ṽ, f)",
            printed="∂_T⟨f⟩ = (2/T²) Cov(ṽ, f)  (RND eq. 24 = App. F eq. 66)",
            corrected="∂_T⟨f⟩ = −T⁻² ∂_β⟨f⟩ with ∂_β⟨f⟩ = −2 Cov(ṽ, f) (proven above)",
            counterexample=numbers)
    findings = []
    if abs(direct_num - printed_num) > 1e-12:
        findings.append(Finding(
            "derivation-slip",
            "RND App. F eqs. 62 and 64 print ∂_β w_k and ∂_β⟨f⟩ with the wrong sign (direct ∂_β of the "
            "RND.eq20 weights, β = 1/T, K = 3, proves the opposite), and eq. 66 then drops the chain-rule "
            "sign ∂_T = −T⁻²∂_β: the two slips cancel, so eq. 24 = eq. 66 itself is right",
            printed="∂_β w_k = −2 w_k(⟨ṽ⟩ − ṽ_k);  ∂_β⟨f⟩ = 2 Cov(ṽ, f);  ∂_T⟨f⟩ = +T⁻² ∂_β⟨f⟩",
            corrected="∂_β w_k = 2 w_k(⟨ṽ⟩ − ṽ_k);  ∂_β⟨f⟩ = −2 Cov(ṽ, f);  ∂_T⟨f⟩ = −T⁻² ∂_β⟨f⟩",
            evidence=numbers))
    return Verdict.holds(
        f"the printed result ∂_T⟨f⟩ = (2/T²)Cov(ṽ, f) (eq. 24 = App. F eq. 66) equals direct ∂_T of the "
        f"RND.eq20 weights exactly (K = 3, {eq66.method}); App. F's β-derivatives proven separately "
        f"(∂_β w_k = 2w_k(⟨ṽ⟩−ṽ_k), ∂_β⟨f⟩ = −2Cov(ṽ,f)) — "
        + ("they differ from the printed intermediate steps (finding)" if findings
           else "they agree with the printed intermediate steps"),
        findings=findings)


def _sc_eq6_example(T_val, *, dps=30, weights="sc6"):
    """1-D tilted double well with state-dependent D; SC.eq6 weights at temperature ``T_val``.

    U = (θ²−1)² − 0.15θ, D = 1.2 + 0.4θ + 0.3θ² (> 0); ṽ = ∫₀^θ U'/D, ã = log D, v = ṽ + (T/2)ã.
    μ_k solves U' + (T/2)D' = 0 near the train minima; w_k ∝ exp(−2v(μ_k,T)/T)·v''(μ_k,T)^{−1/2}
    with v''(μ) = (U'' + (T/2)D'')/D at a zero of U' + (T/2)D'. ``weights="rnd20"``: the RND.eq20
    weights of the same landscape instead, w_k ∝ exp(−2ṽ_k/T − ã_k)·sqrt(D_k/C_k) at the train minima
    θ_k (per-basin quantities independent of T, the setting RND App. F differentiates).
    """
    mp = mpmath.mp
    with mpmath.workdps(dps):
        U1 = lambda x: 4 * x**3 - 4 * x - mp.mpf("0.15")  # noqa: E731
        U2 = lambda x: 12 * x**2 - 4  # noqa: E731
        D = lambda x: mp.mpf("1.2") + mp.mpf("0.4") * x + mp.mpf("0.3") * x**2  # noqa: E731
        D1 = lambda x: mp.mpf("0.4") + mp.mpf("0.6") * x  # noqa: E731
        D2 = mp.mpf("0.6")
        vt = lambda x: mp.quad(lambda y: U1(y) / D(y), [0, x])  # noqa: E731
        T_ = mp.mpf(T_val) if not isinstance(T_val, str) else mp.mpf(T_val)
        mus = [mp.findroot(lambda x: U1(x) + T_ / 2 * D1(x), x0) for x0 in (-1, 1)]
        thetas = [mp.findroot(U1, x0) for x0 in (-1, 1)]
        if weights == "rnd20":
            logw = [-2 * vt(t) / T_ - mp.log(D(t)) + mp.log(D(t) / U2(t)) / 2 for t in thetas]
        else:
            logw = [-2 * (vt(m) + T_ / 2 * mp.log(D(m))) / T_ - mp.log((U2(m) + T_ / 2 * D2) / D(m)) / 2
                    for m in mus]
        top = max(logw)
        un = [mp.e ** (lw - top) for lw in logw]
        w = [u / sum(un) for u in un]
        v_train = [vt(t) for t in thetas]
        return w, v_train


def _eq24_rows(weights):
    """(T, exact d⟨f⟩/dT, (2/T²)Cov_w(ṽ_k, f), relative error) on the 1-D example, f = right-basin
    indicator (⟨f⟩ = w_1); central difference at 30 digits (error O(h²) ~ 1e-20)."""
    f = [0, 1]
    rows = []
    with mpmath.workdps(30):
        for T_val in ("0.05", "0.1", "0.2"):
            w, v_train = _sc_eq6_example(T_val, weights=weights)
            h = mpmath.mpf("1e-10")
            exact = (_sc_eq6_example(mpmath.mpf(T_val) + h, weights=weights)[0][1]
                     - _sc_eq6_example(mpmath.mpf(T_val) - h, weights=weights)[0][1]) / (2 * h)
            cov = sum(wk * vk * fk for wk, vk, fk in zip(w, v_train, f)) - \
                sum(wk * vk for wk, vk in zip(w, v_train)) * sum(wk * fk for wk, fk in zip(w, f))
            formula = 2 / mpmath.mpf(T_val) ** 2 * cov
            rows.append((float(T_val), float(exact), float(formula), float(abs(formula / exact - 1))))
    return rows


@check("RND.eq24", name="temperature_derivative_with_T_dependent_weights")
def temperature_derivative_with_sc_eq6_weights():
    """RND eq. 24 is stated for the RND.eq20 weights (App. F: "w_k changes with temperature as
    specified by Eq. 20"): checked numerically on a 1-D landscape with state-dependent D, where it
    is exact; with the SC.eq6 weights (T-dependent μ_k and ∂²v), beyond the printed setting, the
    identity holds only to leading order — a finding, not a condition on the printed claim."""
    printed_rows = _eq24_rows("rnd20")
    rows = _eq24_rows("sc6")
    printed_err = max(r[3] for r in printed_rows)
    rel = [r[3] for r in rows]
    slope = float(np.polyfit(np.log([r[0] for r in rows]), np.log(rel), 1)[0])
    detail = ("1-D double well U=(θ²−1)²−0.15θ, D=1.2+0.4θ+0.3θ²: exact d⟨f⟩/dT (f = basin indicator, central "
              "difference at 30 digits) vs (2/T²)Cov_w(ṽ_k,f). With the RND.eq20 weights (the printed setting) "
              f"the largest relative error at T = 0.05, 0.1, 0.2 is {printed_err:.1e}")
    if printed_err > 1e-12:
        return Verdict.fails(detail + ": eq. 24 fails with the weights it is stated for",
                             counterexample={"rows(T, exact, formula, rel_err)": printed_rows})
    if rel[0] < 1e-12:
        return Verdict.holds(detail + "; exact also with the T-dependent SC.eq6 weights")
    if not (rel[0] < rel[-1] and slope > 1.5):
        return Verdict.fails(detail + "; with the SC.eq6 weights the error does not vanish as T → 0",
                             counterexample={"rows(T, exact, formula, rel_err)": rows})
    return Verdict.holds(
        detail + " (exact)",
        findings=[Finding(
            "note",
            "beyond the printed setting: with the SC.eq6 weights (T-dependent modes μ_k(T) and curvatures "
            "v''(μ_k, T)) eq. 24 holds only to leading order — relative error "
            f"{', '.join(f'{r:.2e}' for r in rel)} at T = 0.05, 0.1, 0.2, log-log slope {slope:.2f} (O(T²))",
            evidence={"rows(T, exact, formula, rel_err)": rows, "slope": slope})],
        rows_rnd20=printed_rows)


# ------------------------------------------------------------------------------ RND.eq25 / eq26
def _two_basin_matrix_model(p=2, K=2):
    """Symbolic K-basin, p-dim model: Σ_k = (T/2)M_k (M_k = C̃⁻¹D̃), b_k = Tβ_k, symmetric C_k."""
    v, a, lp = _basin_symbols(K)
    U = sp.symbols(f"U0:{K}", real=True)
    C, M, beta, s = [], [], [], []
    for k in range(K):
        c = sp.symbols(f"C{k}_0:{p * p}", real=True)
        C.append(sp.Matrix(p, p, lambda i, j: c[min(i, j) * p + max(i, j)]))
        M.append(sp.Matrix(p, p, sp.symbols(f"M{k}_0:{p * p}", real=True)))
        beta.append(sp.Matrix(sp.symbols(f"beta{k}_0:{p}", real=True)))
        s.append(sp.Matrix(sp.symbols(f"s{k}_0:{p}", real=True)))
    return dict(v=v, a=a, lp=lp, U=U, C=C, M=M, beta=beta, s=s,
                Sigma=[T / 2 * m for m in M], b=[T * bb for bb in beta])


@check("RND.eq25")
def full_temperature_derivative_of_test_loss():
    """Differentiate RND eq. 6 with RND.eq20 weights, Σ ∝ T, b ∝ T; compare with printed eq. 25."""
    m = _two_basin_matrix_model()
    w = weights(m["v"], m["a"], m["lp"], T)
    L = mixture_test_loss(w, m["U"], m["C"], m["Sigma"], m["b"], m["s"])
    direct = sp.diff(L, T)
    printed = dT_test_loss_eq25_printed(w, m["v"], m["U"], m["C"], m["Sigma"], m["b"], m["s"], T)
    res = _zero_with_exp_atoms(direct - printed)
    if res.holds:
        return Verdict.holds(
            "∂_T of Σ_k w_k[U_k + ½Tr(C_kΣ_k) + ½(b_k+s_k)ᵀC_k(b_k+s_k)] (K = 2, p = 2, symmetric "
            "symbolic C_k, Σ_k = (T/2)M_k, b_k = Tβ_k, RND.eq20 weights) equals printed eq. 25 "
            f"term by term ({res.method}; exp factors as independent symbols, then cancel)")
    # locate a counterexample in numbers
    pt = {s_: sp.Rational(k % 5 + 1, 7) for k, s_ in enumerate(sorted((direct - printed).free_symbols,
                                                                       key=lambda x: x.name))}
    return Verdict.fails("printed eq. 25 differs from the derivative of eq. 6",
                         counterexample={"point": {str(k): float(v) for k, v in pt.items()},
                                         "difference": float((direct - printed).subs(pt))})


@check("RND.eq26")
def leading_order_temperature_derivative():
    """T²∂_T L_e − [2Cov(ṽ,U) + Cov(ṽ,sᵀCs)] is T × (polynomial in T) at fixed weights."""
    m = _two_basin_matrix_model()
    w0 = sp.Symbol("w0", positive=True)
    w = [w0, 1 - w0]
    f = [m["U"][k] + (m["C"][k] * m["Sigma"][k]).trace() / 2
         + ((m["b"][k] + m["s"][k]).T * m["C"][k] * (m["b"][k] + m["s"][k]))[0, 0] / 2 for k in range(2)]
    dL = d_dT_average(f, v_tilde=m["v"], weights=w, T=T)  # general eq. 24 + ⟨∂_T f⟩ (proven above)
    lead = leading_dT_test_loss(w, m["v"], m["U"], m["C"], m["s"], T)
    rem = sp.expand(T**2 * (dL - lead))
    poly = sp.Poly(rem, T)
    lowest = min(mon[0] for mon in poly.monoms()) if not rem == 0 else None
    coeff1 = sp.expand(rem.coeff(T, 1))
    trCM = [(m["C"][k] * m["M"][k]).trace() for k in range(2)]
    sCb = [(m["s"][k].T * m["C"][k] * m["beta"][k])[0, 0] for k in range(2)]
    predicted1 = basin_covariance(m["v"], trCM, w) / 2 + 2 * basin_covariance(m["v"], sCb, w)
    c1 = check_zero(sp.expand(coeff1 - predicted1))  # polynomial: expand to 0 is a proof
    # factor check: leading term = (2/T²) Cov(ṽ, U + ½ sᵀCs)
    sCs = [(m["s"][k].T * m["C"][k] * m["s"][k])[0, 0] for k in range(2)]
    half = check_zero(sp.expand(T**2 * lead - 2 * basin_covariance(
        m["v"], [m["U"][k] + sCs[k] / 2 for k in range(2)], w)))
    if lowest is not None and lowest >= 1 and c1.holds and half.holds:
        return Verdict.holds(
            "at fixed weights, T²∂_T L_e − [2Cov(ṽ,U) + Cov(ṽ,sᵀCs)] is a polynomial in T with no "
            f"T⁰ term (lowest power T^{lowest}); its T¹ coefficient is ½Cov(ṽ,Tr(C C̃⁻¹D̃)) + "
            f"2Cov(ṽ,sᵀCβ) with b = Tβ ({c1.method}); the printed unit coefficient of Cov(ṽ,sᵀCs) "
            "is (2/T²)·½ from eq. 24 and eq. 6")
    return Verdict.fails("the T⁻² coefficient of ∂_T L_e is not the printed bracket",
                         counterexample={"lowest_power": lowest, "T1_coeff_ok": c1.holds,
                                         "residual": str(rem)[:200]})


def _eq26_numbers(T_val):
    """Exact ∂_T L_e and the eq. 26 leading term for a 1-D two-basin model (RND.eq20 weights)."""
    v = [0, sp.Rational(1, 2000)]
    U = [0, sp.Rational(1, 2000)]
    Ct = [4, 1]           # train curvature = test curvature
    Dt = [1, 2]           # basin-wise gradient variance
    s = [sp.Rational(1, 10)] * 2
    lp = [log_prefactor(Dt[k], Ct[k]) for k in range(2)]
    w = weights(v, [0, 0], lp, T)
    Sigma = [T / 2 * sp.Rational(Dt[k], Ct[k]) for k in range(2)]
    L = mixture_test_loss(w, U, Ct, Sigma, [0, 0], s)
    exact = sp.diff(L, T).subs(T, T_val)
    lead = leading_dT_test_loss(w, v, U, Ct, s, T).subs(T, T_val)
    return float(exact), float(lead), [float(x.subs(T, T_val)) for x in w]


@check("RND.eq26", name="leading_order_sign_needs_T_below_shift_squared")
def leading_term_decides_sign_only_for_small_T():
    """The stated regime T < |ε_η| ~ |s| is not enough for the bracket to set the sign of ∂_T L_e."""
    big = _eq26_numbers(sp.Rational(1, 20))     # T = 0.05 < |s| = 0.1
    small = _eq26_numbers(sp.Rational(1, 2000))  # T = 0.0005 ≪ |Δ(sᵀCs)| = 0.03
    detail = ("1-D, two basins (ṽ = U = 0, 0.0005; C = C̃ = 4, 1; D̃ = 1, 2; s = 0.1 each, b = 0; "
              "RND.eq20 weights): the eq. 26 bracket 2Cov(ṽ,U)+Cov(ṽ,sᵀCs) is < 0 (predicts "
              f"improvement); at T = 0.05 (< |s|) exact ∂_T L_e = {big[0]:.4g} vs leading "
              f"{big[1]:.4g} (opposite signs; the O(1) term ¼⟨Tr(C C̃⁻¹D̃)⟩ wins); at T = 0.0005 exact "
              f"{small[0]:.4g} vs leading {small[1]:.4g}")
    if np.sign(big[0]) != np.sign(big[1]) and np.sign(small[0]) == np.sign(small[1]):
        return Verdict.holds_if(
            detail,
            condition="the T⁻² term must dominate the rest: T·[½|Cov(ṽ,Tr(C C̃⁻¹D̃)) + "
                      "4Cov(ṽ,sᵀCβ)| + T·¼⟨Tr(C C̃⁻¹D̃)⟩] ≪ |2Cov(ṽ,U) + Cov(ṽ,sᵀCs)|, i.e. T below "
                      "the shift-curvature scale |Δ(sᵀCs)| ~ |s|²C (not merely T < |ε_η| ~ |s|) while "
                      "the basins are still mixed (Cov ∝ w₁(1−w₁) is exponentially small once "
                      "T ≪ |ṽ₁−ṽ₀|, and then ¼⟨Tr(C C̃⁻¹D̃)⟩ > 0 decides the sign)",
            counterexample={"T": 0.05, "|s|": 0.1, "v_tilde": [0, 0.0005], "exact_dT_Le": big[0], "leading_eq26": big[1],
                            "weights": big[2]})
    if np.sign(big[0]) == np.sign(big[1]):
        return Verdict.holds(detail + "; leading term has the right sign here")
    return Verdict.fails(detail + "; leading term has the wrong sign even at small T",
                         counterexample={"T": 0.002, "exact": small[0], "leading": small[1]})


# ------------------------------------------------------------------------------------ RND.eq27
@check("RND.eq27")
def one_basin_temperature_derivative():
    """One basin: ½∂_T Tr(CΣ) with Σ = (T/2)C̃⁻¹D̃ is ¼Tr(C C̃⁻¹D̃), not Tr(C C̃⁻¹D̃)."""
    p = 2
    c = sp.symbols("c0:4", real=True)
    C = sp.Matrix(2, 2, lambda i, j: c[min(i, j) * p + max(i, j)])
    ct, dt = sp.symbols("ct0:4", real=True), sp.symbols("dt0:4", real=True)
    Ct, Dt = sp.Matrix(2, 2, ct), sp.Matrix(2, 2, dt)
    M = Ct.inv() * Dt
    beta = sp.Matrix(sp.symbols("beta0:2", real=True))
    s = sp.Matrix(sp.symbols("s0:2", real=True))
    L = mixture_test_loss([1], [sp.Symbol("U0")], [C], [T / 2 * M], [T * beta], [s])
    dL = sp.diff(L, T)
    derived = one_basin_dT_test_loss_corrected(C, Ct, Dt)
    bias_part = (beta.T * C * s)[0, 0] + T * (beta.T * C * beta)[0, 0]
    res = check_identity(dL, derived + bias_part)
    printed = (C * M).trace()
    # numbers: C = diag(1, 2), C̃ = D̃ = I, s = b = 0 ⇒ L_e = U + (T/4)·3
    num = {c[0]: 1, c[1]: 0, c[2]: 0, c[3]: 2, ct[0]: 1, ct[1]: 0, ct[2]: 0, ct[3]: 1,
           dt[0]: 1, dt[1]: 0, dt[2]: 0, dt[3]: 1, T: sp.Rational(1, 10),
           **{x: 0 for x in list(beta) + list(s)}}
    d_num, p_num = float(dL.subs(num)), float(printed.subs(num))
    if not res.holds:
        return Verdict.fails("∂_T L_e for one basin is not ¼Tr(C C̃⁻¹D̃) + bias terms",
                             counterexample=res.counterexample or {"residual": str(res.residual)})
    if abs(d_num - p_num) < 1e-12:
        return Verdict.holds("one-basin ∂_T L_e equals the printed Tr(C C̃⁻¹D̃)")
    return Verdict.corrected(
        "for one basin (p = 2, symbolic C, C̃, D̃, b = Tβ, s) ∂_T L_e = ¼Tr(C C̃⁻¹D̃) + βᵀCs + "
        f"TβᵀCβ exactly ({res.method}); dropping the shift/bias terms leaves ¼Tr(C C̃⁻¹D̃) — "
        "½∂_T Tr(CΣ) with Σ = (T/2)C̃⁻¹D̃ gives ½·½ = ¼, the printed right-hand side is 4× too big",
        printed="∂_T L_e ≈ ½⟨∂_T Tr(CΣ)⟩ = Tr(C C̃⁻¹ D̃)",
        corrected="∂_T L_e ≈ ½ ∂_T Tr(CΣ) = ¼ Tr(C C̃⁻¹ D̃)",
        counterexample={"C": "diag(1, 2)", "C_train": "I", "D_train": "I", "s": 0, "b": 0,
                        "dT_Le_exact": d_num, "printed": p_num})


def _rational_matrix(x, digits=6):
    """Exact rational Matrix from a float array rounded to ``digits`` decimals (symmetrised)."""
    x = np.round((np.asarray(x) + np.asarray(x).T) / 2, digits)
    return sp.Matrix(x.shape[0], x.shape[1], lambda i, j: sp.Rational(repr(float(x[i, j]))))


def _spd(rng, p, cond):
    q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    return q @ np.diag(np.geomspace(1.0, cond, p)) @ q.T


@check("RND.eq27", name="one_basin_nonnegativity")
def one_basin_derivative_sign():
    """Tr(C C̃⁻¹D̃) ≥ 0 needs C̃D̃ = D̃C̃, which the zero-curl condition RND states for its steady state
    (App. B) implies at the minimum; the printed reason (C, D positive semidefinite) is not enough.
    Seeded search for a negative, which must then violate zero curl."""
    rng = np.random.default_rng(20240527)
    found = None
    for trial in range(2000):
        C, Ct, Dt = (_spd(rng, 2, 50.0) for _ in range(3))
        val = float(np.trace(C @ np.linalg.solve(Ct, Dt)))
        if val < 0:
            found = (trial, C, Ct, Dt, val)
            break
    # commuting C̃, D̃: C̃⁻¹D̃ symmetric PSD ⇒ Tr(C·C̃⁻¹D̃) ≥ 0; confirm on random samples
    worst_commuting = np.inf
    for _ in range(500):
        q, _r = np.linalg.qr(rng.standard_normal((3, 3)))
        Ct = q @ np.diag(rng.uniform(0.1, 10, 3)) @ q.T
        Dt = q @ np.diag(rng.uniform(0.0, 10, 3)) @ q.T
        C = _spd(rng, 3, 100.0)
        worst_commuting = min(worst_commuting, float(np.trace(C @ np.linalg.solve(Ct, Dt))))
    if found is None:
        return Verdict.holds(f"no negative Tr(C C̃⁻¹D̃) in 2000 random PD triples; commuting min "
                             f"{worst_commuting:.3g}")
    trial, C, Ct, Dt, val = found
    Cr, Ctr, Dtr = (_rational_matrix(x) for x in (C, Ct, Dt))
    exact_val = float(one_basin_dT_test_loss_corrected(Cr, Ctr, Dtr) * 4)
    Sig1 = ou_stationary_covariance(Ctr, Dtr, 1)  # C̃Σ + ΣC̃ = D̃: the true linearised covariance / T
    lyap = float((Cr * Sig1).trace() / 2)
    jac = Dtr.inv() * Ctr  # Jacobian of the drift D̃⁻¹∂Ũ at the minimum
    curl = float(jac[0, 1] - jac[1, 0])
    equivalence = zero_curl_at_minimum_means_commuting()
    numbers = {"C": np.round(C, 6).tolist(), "C_train": np.round(Ct, 6).tolist(),
               "D_train": np.round(Dt, 6).tolist(), "Tr(C C_train^-1 D_train)": exact_val,
               "curl of D_train^-1 C_train theta at the minimum": curl,
               "half_dT_Tr(C Sigma_lyapunov)": lyap}
    detail = ("seeded search (2×2 SPD, condition ≤ 50) found Tr(C C̃⁻¹D̃) < 0 at trial "
              f"{trial}: {exact_val:.4g}, but there the drift D̃⁻¹C̃θ has curl {curl:.3g} ≠ 0; with commuting "
              f"C̃, D̃ — what zero curl at the minimum means ({equivalence.method}) — the minimum over 500 random "
              f"3×3 cases is {worst_commuting:.3g} ≥ 0")
    if equivalence.holds and abs(curl) > 1e-9 and worst_commuting >= 0:
        return Verdict.holds(
            detail + ", so under the zero-curl condition RND states for its steady state (App. B) the printed "
                     "sign holds",
            findings=[Finding(
                "stated-assumption",
                "RND eq. 27's reason — C and D positive semidefinite — does not give Tr(C C̃⁻¹D̃) ≥ 0: it needs "
                "C̃D̃ = D̃C̃ (C̃⁻¹D̃ then a symmetric PSD covariance), which the zero-curl condition implies at the "
                "minimum but the text does not invoke. For non-commuting matrices (curl ≠ 0, no J = 0 steady "
                "state) the sign fails, while the Lyapunov covariance (C̃Σ+ΣC̃ = TD̃) still gives "
                f"½∂_T Tr(CΣ) = {lyap:.4g} ≥ 0",
                printed="Tr(C C̃⁻¹D̃) ≥ 0 since C and D are positive semidefinite",
                corrected="Tr(C C̃⁻¹D̃) ≥ 0 when C̃D̃ = D̃C̃ (zero curl at the minimum)",
                evidence=numbers)])
    return Verdict.holds_if(
        detail,
        condition="C̃_k and D̃_k commute (so C̃⁻¹D̃ is a symmetric PSD covariance)",
        counterexample=numbers)


# ---------------------------------------------------------------------------------- RND.2basin
@check("RND.2basin")
def two_basin_covariance_and_sign():
    """Cov(ṽ,f) = w₁(1−w₁)(f₁−f₀)(ṽ₁−ṽ₀) exactly; sign of the leading ∂_T L_e."""
    w1 = sp.Symbol("w1", positive=True)
    v0, v1, f0, f1, U0, U1 = sp.symbols("v0 v1 f0 f1 U0 U1", real=True)
    w = [1 - w1, w1]
    cov = check_identity(basin_covariance([v0, v1], [f0, f1], w), two_basin_covariance(w1, f0, f1, v0, v1))
    q0, q1 = sp.symbols("q0 q1", real=True)  # q_k = s_kᵀC_k s_k
    # leading ∂_T L_e with scalar 'curvature' 1 and 'shift' sqrt(q): build via sᵀCs = q directly
    lead = (2 * basin_covariance([v0, v1], [U0, U1], w) + basin_covariance([v0, v1], [q0, q1], w)) / T**2
    sign = check_identity(lead, w1 * (1 - w1) / T**2 * two_basin_sign_product(v0, v1, U0, U1, q0, q1))
    # cross-check with leading_dT_test_loss on matrices (p = 2) at a numeric point
    rng = np.random.default_rng(7)
    Cs = [_rational_matrix(_spd(rng, 2, 5.0), 4) for _ in range(2)]
    ss = [sp.Matrix([sp.Rational(repr(float(x))) for x in np.round(rng.standard_normal(2) * 0.3, 4)])
          for _ in range(2)]
    pt = {v0: sp.Rational(1, 10), v1: sp.Rational(3, 10), U0: 0, U1: sp.Rational(1, 20),
          w1: sp.Rational(1, 3)}
    lead_m = leading_dT_test_loss(w, [v0, v1], [U0, U1], Cs, ss, T).subs(pt)
    sCs = [(s_.T * c * s_)[0, 0] for s_, c in zip(ss, Cs)]
    prod = two_basin_sign_product(v0, v1, U0, U1, *sCs).subs(pt)
    matrix_ok = check_identity(lead_m, pt[w1] * (1 - pt[w1]) / T**2 * prod).holds
    if cov.holds and sign.holds and matrix_ok:
        return Verdict.holds(
            f"Cov_w(ṽ,f) = w₁(1−w₁)(f₁−f₀)(ṽ₁−ṽ₀) ({cov.method}); leading ∂_T L_e = "
            "w₁(1−w₁)T⁻²(ṽ₁−ṽ₀)[2(U₁−U₀) + (s₁ᵀC₁s₁ − s₀ᵀC₀s₀)] exactly, so for 0 < w₁ < 1 the test "
            "loss falls with T iff the bracket and ṽ₁−ṽ₀ have opposite signs; with U₁ > U₀ and "
            "ṽ₁ > ṽ₀ that is s₀ᵀC₀s₀ − s₁ᵀC₁s₁ > 2(U₁ − U₀) (leading order; see RND.eq26 for when the "
            "O(1/T) rest can flip it)")
    return Verdict.fails("two-basin covariance or sign formula does not hold",
                         counterexample={"cov": cov.counterexample, "sign": sign.counterexample,
                                         "matrix_case": matrix_ok})
