"""Temperature derivatives of basin averages and of the mixture test loss (RND sec. 6, App. F).

Basin weights (RND.eq20, normaliser RND eq. 23)::

    w_k = exp(−2 ṽ_k / T − ã_k + ℓ_k) / Z,     ℓ_k = ½ log(|D̃_k| / |C̃_k|),

with ṽ_k, ã_k, ℓ_k *independent of T*. For any basin quantity f_k (RND.eq24 / App. F eq. 66)::

    ∂_T ⟨f⟩ = (2/T²) Cov_w(ṽ, f) + ⟨∂_T f⟩

(the last term vanishes for T-independent f_k, which is RND.eq24 as printed). In the inverse
temperature β = 1/T the correct intermediate steps are ∂_β w_k = 2 w_k (⟨ṽ⟩ − ṽ_k) and
∂_β ⟨f⟩ = −2 Cov_w(ṽ, f); App. F eqs. 62 and 64 print both with the opposite sign (the slips
cancel in eq. 66).

Mixture test loss (RND eq. 6 = SC.eq4), with RND's bias convention ``b_k = μ_k − θ̃_k``::

    L_e(T) = Σ_k w_k [U_k + ½ Tr(C_k Σ_k) + ½ (b_k + s_k)ᵀ C_k (b_k + s_k)],
    Σ_k = (T/2) C̃_k⁻¹ D̃_k   (RND eq. 22),     b_k = −(T/2) C̃_k⁻¹ (∂·D̃)_k   (RND eq. 21).

Functions take plain SymPy expressions / matrices (or numbers) and return expressions; basins are
given as equal-length sequences.
"""
from __future__ import annotations

from collections.abc import Sequence

import sympy as sp
from .coordinates import as_expr, as_matrix

__all__ = [
    "BasinSpecError",
    "log_prefactor",
    "weights",
    "basin_average",
    "basin_covariance",
    "d_dT_average",
    "d_dbeta_weights",
    "mixture_test_loss",
    "dT_test_loss_eq25_printed",
    "leading_dT_test_loss",
    "one_basin_dT_test_loss_corrected",
    "two_basin_covariance",
    "two_basin_sign_product",
    "test_loss_improves_with_T",
]


class BasinSpecError(ValueError):
    """Per-basin inputs are inconsistent (different numbers of basins, none, wrong shapes)."""


def _as_list(x, name: str) -> list:
    if type(x).__name__ == "ndarray" and getattr(x, "ndim", 0) == 1:
        x = x.tolist()
    if isinstance(x, (str, bytes, bytearray)):
        as_expr(x, name=name)  # the typed refusal of strings (never evaluated)
    if isinstance(x, sp.MatrixBase) or not isinstance(x, Sequence):
        raise BasinSpecError(f"{name} must be a list/tuple with one entry per basin; got "
                             f"{type(x).__name__}")
    if len(x) == 0:
        raise BasinSpecError(f"{name} is empty: give at least one basin")
    return [as_matrix(x_k, name=f"{name}[{k}]") if isinstance(x_k, (sp.MatrixBase, list, tuple))
            else as_expr(x_k, name=f"{name}[{k}]") for k, x_k in enumerate(x)]


def _same_length(**named) -> int:
    lengths = {k: len(v) for k, v in named.items()}
    if len(set(lengths.values())) != 1:
        raise BasinSpecError(f"every per-basin list needs the same number of basins; got {lengths}")
    return next(iter(lengths.values()))


def log_prefactor(D_train, C_train) -> sp.Expr:
    """RND.eq20 prefactor in log form: ``ℓ_k = ½ log(|D̃_k| / |C̃_k|)`` (Matrix or scalar inputs)."""
    Dm, Cm = as_matrix(D_train, name="D_train"), as_matrix(C_train, name="C_train")
    if Dm.shape != Cm.shape or Dm.shape[0] != Dm.shape[1]:
        raise BasinSpecError(f"D̃ and C̃ must be square of equal size; got {Dm.shape}, {Cm.shape}")
    return sp.log(Dm.det() / Cm.det()) / 2


def weights(v_tilde, a_tilde, log_prefactors, T) -> list:
    """RND.eq20 basin weights ``w_k = exp(−2ṽ_k/T − ã_k + ℓ_k) / Z`` (Z = their sum, RND eq. 23).

    ``log_prefactors`` are ``ℓ_k = ½ log(|D̃_k|/|C̃_k|)`` (see :func:`log_prefactor`). Convention:
    the factor 2 in ``exp(−2ṽ/T)`` is SC's (steady state ``ρ ∝ exp(−2v/T)``).
    """
    v = _as_list(v_tilde, "v_tilde")
    a = _as_list(a_tilde, "a_tilde")
    lp = _as_list(log_prefactors, "log_prefactors")
    _same_length(v_tilde=v, a_tilde=a, log_prefactors=lp)
    T = as_expr(T, name="T")
    unnorm = [sp.exp(-2 * v_k / T - a_k + l_k) for v_k, a_k, l_k in zip(v, a, lp)]
    Z = sp.Add(*unnorm)
    return [u / Z for u in unnorm]


def basin_average(f, weights) -> sp.Expr:
    """``⟨f⟩ = Σ_k w_k f_k`` (RND eq. 6 notation: brackets average over the basin weights)."""
    fl = _as_list(f, "f")
    wl = _as_list(weights, "weights")
    _same_length(f=fl, weights=wl)
    return sp.Add(*[w_k * f_k for w_k, f_k in zip(wl, fl)])


def basin_covariance(g, f, weights) -> sp.Expr:
    """``Cov_w(g, f) = ⟨g f⟩ − ⟨g⟩⟨f⟩`` under the basin weights (assumed to sum to one)."""
    gl, fl, wl = _as_list(g, "g"), _as_list(f, "f"), _as_list(weights, "weights")
    _same_length(g=gl, f=fl, weights=wl)
    return (basin_average([g_k * f_k for g_k, f_k in zip(gl, fl)], wl)
            - basin_average(gl, wl) * basin_average(fl, wl))


def d_dT_average(f, *, v_tilde, weights, T) -> sp.Expr:
    """RND.eq24 generalised: ``∂_T⟨f⟩ = (2/T²) Cov_w(ṽ, f) + ⟨∂_T f⟩``.

    Valid for weights of the RND.eq20 form with T-independent ṽ_k, ã_k, ℓ_k. For T-independent
    ``f_k`` the second term is 0 and this is RND.eq24 as printed; T-dependent ``f_k`` (e.g.
    Tr(C_kΣ_k) with Σ_k ∝ T) need it (RND.eq25).
    """
    T = as_expr(T, name="T")
    fl = _as_list(f, "f")
    return (2 / T**2 * basin_covariance(v_tilde, fl, weights)
            + basin_average([sp.diff(f_k, T) for f_k in fl], weights))


def d_dbeta_weights(v_tilde, weights) -> list:
    """``∂_β w_k = 2 w_k (⟨ṽ⟩ − ṽ_k)`` for RND.eq20 weights, β = 1/T (App. F eq. 62, sign fixed:
    the paper prints ``−2 w_k (⟨ṽ⟩ − ṽ_k)``)."""
    vl, wl = _as_list(v_tilde, "v_tilde"), _as_list(weights, "weights")
    _same_length(v_tilde=vl, weights=wl)
    mean_v = basin_average(vl, wl)
    return [2 * w_k * (mean_v - v_k) for w_k, v_k in zip(wl, vl)]


# ------------------------------------------------------------------- mixture test loss (RND eq. 6)
def _quad(x: sp.Matrix, C: sp.Matrix) -> sp.Expr:
    return (x.T * C * x)[0, 0]


def _basin_terms(U, C, Sigma, b, s):
    Ul, Cl, Sl, bl, sl = (_as_list(U, "U"), _as_list(C, "C"), _as_list(Sigma, "Sigma"),
                          _as_list(b, "b"), _as_list(s, "s"))
    _same_length(U=Ul, C=Cl, Sigma=Sl, b=bl, s=sl)
    Cl = [sp.Matrix(c) if isinstance(c, sp.MatrixBase) else sp.Matrix([[c]]) for c in Cl]
    Sl = [sp.Matrix(c) if isinstance(c, sp.MatrixBase) else sp.Matrix([[c]]) for c in Sl]
    bl = [sp.Matrix(c) if isinstance(c, sp.MatrixBase) else sp.Matrix([c]) for c in bl]
    sl = [sp.Matrix(c) if isinstance(c, sp.MatrixBase) else sp.Matrix([c]) for c in sl]
    for k, (c, S, bb, ss) in enumerate(zip(Cl, Sl, bl, sl)):
        p = c.shape[0]
        if c.shape != (p, p) or S.shape != (p, p) or bb.shape != (p, 1) or ss.shape != (p, 1):
            raise BasinSpecError(f"basin {k}: C, Sigma must be p×p and b, s p×1; got "
                                 f"{c.shape}, {S.shape}, {bb.shape}, {ss.shape}")
    return Ul, Cl, Sl, bl, sl


def mixture_test_loss(weights, U, C, Sigma, b, s) -> sp.Expr:
    """RND eq. 6 / SC.eq4: ``Σ_k w_k [U_k + ½Tr(C_kΣ_k) + ½(b_k+s_k)ᵀC_k(b_k+s_k)]``.

    ``U, C`` are test depths/curvatures, ``Sigma`` basin covariances, ``b`` biases (RND sign
    ``b = μ − θ̃``), ``s`` shifts ``θ̃ − θ`` (all per basin; scalars allowed for p = 1).
    """
    Ul, Cl, Sl, bl, sl = _basin_terms(U, C, Sigma, b, s)
    per_basin = [U_k + (C_k * S_k).trace() / 2 + _quad(b_k + s_k, C_k) / 2
                 for U_k, C_k, S_k, b_k, s_k in zip(Ul, Cl, Sl, bl, sl)]
    return basin_average(per_basin, weights)


def dT_test_loss_eq25_printed(weights, v_tilde, U, C, Sigma, b, s, T) -> sp.Expr:
    """RND.eq25 exactly as printed::

        (2/T²)Cov(ṽ,U) + (1/T²)Cov(ṽ,Tr(CΣ)) + (1/T²)Cov(ṽ,(b+s)ᵀC(b+s))
          + ½⟨∂_T Tr(CΣ)⟩ + ½⟨∂_T(bᵀCb) + sᵀC ∂_T b + (∂_T b)ᵀ C s⟩

    with ``Sigma``, ``b`` given as explicit functions of ``T`` (U, C, s T-independent).
    """
    T = as_expr(T)
    Ul, Cl, Sl, bl, sl = _basin_terms(U, C, Sigma, b, s)
    tr = [(C_k * S_k).trace() for C_k, S_k in zip(Cl, Sl)]
    q = [_quad(b_k + s_k, C_k) for b_k, s_k, C_k in zip(bl, sl, Cl)]
    bias = [sp.diff(_quad(b_k, C_k), T) + (s_k.T * C_k * b_k.diff(T))[0, 0]
            + (b_k.diff(T).T * C_k * s_k)[0, 0] for b_k, s_k, C_k in zip(bl, sl, Cl)]
    return (2 / T**2 * basin_covariance(v_tilde, Ul, weights)
            + basin_covariance(v_tilde, tr, weights) / T**2
            + basin_covariance(v_tilde, q, weights) / T**2
            + basin_average([sp.diff(t, T) for t in tr], weights) / 2
            + basin_average(bias, weights) / 2)


def leading_dT_test_loss(weights, v_tilde, U, C, s, T) -> sp.Expr:
    """RND.eq26 leading term ``T⁻²[2 Cov(ṽ,U) + Cov(ṽ, sᵀCs)]`` (the O(1/T) rest dropped).

    Equals ``(2/T²) Cov(ṽ, U + ½ sᵀCs)``: the ½ of the shift-curvature term in RND eq. 6 and the 2
    of RND.eq24 combine to the printed unit coefficient.
    """
    T = as_expr(T)
    Ul, Cl = _as_list(U, "U"), _as_list(C, "C")
    sl = _as_list(s, "s")
    _same_length(U=Ul, C=Cl, s=sl)
    Cl = [sp.Matrix(c) if isinstance(c, sp.MatrixBase) else sp.Matrix([[c]]) for c in Cl]
    sl = [sp.Matrix(c) if isinstance(c, sp.MatrixBase) else sp.Matrix([c]) for c in sl]
    q = [_quad(s_k, C_k) for s_k, C_k in zip(sl, Cl)]
    return (2 * basin_covariance(v_tilde, Ul, weights) + basin_covariance(v_tilde, q, weights)) / T**2


def one_basin_dT_test_loss_corrected(C, C_train, D_train) -> sp.Expr:
    """One basin, leading order (RND.eq27 corrected): ``∂_T L_e ≈ ½ ∂_T Tr(CΣ) = ¼ Tr(C C̃⁻¹ D̃)``.

    With Σ = (T/2) C̃⁻¹D̃ (RND eq. 22). The paper prints ``Tr(C C̃⁻¹D̃)`` (a factor 4 too large).
    Non-negative when C ⪰ 0 and C̃⁻¹D̃ is symmetric PSD, i.e. when C̃ and D̃ commute (true at a
    minimum where the zero-curl condition SC.A1 holds); otherwise it can be negative.
    """
    Cm, Ct, Dt = (as_matrix(x, name=n) for x, n in ((C, "C"), (C_train, "C_train"), (D_train, "D_train")))
    if not (Cm.shape == Ct.shape == Dt.shape) or Cm.shape[0] != Cm.shape[1]:
        raise BasinSpecError(f"C, C̃, D̃ must be square of equal size; got {Cm.shape}, {Ct.shape}, "
                             f"{Dt.shape}")
    if Ct.det() == 0:
        raise BasinSpecError("C̃ is singular: the train minimum is not strict (add ℓ2 regularisation, "
                             "SC.eq13)")
    return (Cm * Ct.inv() * Dt).trace() / 4


# ----------------------------------------------------------------------------------- two basins
def two_basin_covariance(w1, f0, f1, v0, v1) -> sp.Expr:
    """RND.2basin: with weights (1 − w₁, w₁), ``Cov(ṽ, f) = w₁(1 − w₁)(f₁ − f₀)(ṽ₁ − ṽ₀)``."""
    w1, f0, f1, v0, v1 = (as_expr(e, name=n) for e, n in
                          ((w1, "w1"), (f0, "f0"), (f1, "f1"), (v0, "v0"), (v1, "v1")))
    return w1 * (1 - w1) * (f1 - f0) * (v1 - v0)


def two_basin_sign_product(v0, v1, U0, U1, sCs0, sCs1) -> sp.Expr:
    """``(ṽ₁ − ṽ₀)·[2(U₁ − U₀) + (s₁ᵀC₁s₁ − s₀ᵀC₀s₀)]``; at leading order (RND.eq26)
    ``∂_T L_e = w₁(1−w₁) T⁻² × this``, so the test loss falls with T iff it is negative."""
    v0, v1, U0, U1, sCs0, sCs1 = (as_expr(e, name=n) for e, n in (
        (v0, "v0"), (v1, "v1"), (U0, "U0"), (U1, "U1"), (sCs0, "sCs0"), (sCs1, "sCs1")))
    return (v1 - v0) * (2 * (U1 - U0) + (sCs1 - sCs0))


def test_loss_improves_with_T(v0, v1, U0, U1, sCs0, sCs1) -> bool:
    """Leading-order RND.2basin sign condition for numbers: True iff ∂_T L_e < 0, i.e. the bracket
    ``2(U₁−U₀) + (s₁ᵀC₁s₁ − s₀ᵀC₀s₀)`` has the sign opposite to ``ṽ₁ − ṽ₀`` (both non-zero)."""
    val = as_expr(two_basin_sign_product(v0, v1, U0, U1, sCs0, sCs1))
    if not val.is_number:
        raise TypeError("test_loss_improves_with_T needs numbers; use two_basin_sign_product for "
                        "symbolic inputs")
    return bool(val < 0)


test_loss_improves_with_T.__test__ = False  # not a pytest test despite its name
