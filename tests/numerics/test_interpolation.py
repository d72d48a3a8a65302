"""numerics.interpolation: the SC §3 / App. F protocol (SC.fig1-3, SC.eq3) — same numbers as the
shift_curvature experiment, the exact quadratic form against exact Hessians, typed errors."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from numerics import interpolation as I
from numerics.gradstats import exact_hessian


def _tiny(seed=0, n=40):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    X = torch.randn(n, 3, dtype=torch.float64)
    y = (X[:, 0] > 0).long()
    return model, X, y


def exp_fit(alphas, values, centre, side, *, width=1.0):
    """The shift_curvature experiment's fit as committed before it moved here (bc6b76d), verbatim
    maths: the kept points and their mirror images, least squares on (1, ½d²)."""
    a, y = np.asarray(alphas, dtype=float), np.asarray(values, dtype=float)
    d = a - centre
    keep = (d <= 1e-12) & (d >= -width - 1e-12) if side == "left" else (d >= -1e-12) & (d <= width + 1e-12)
    dd = np.concatenate([d[keep], -d[keep]])
    yy = np.concatenate([y[keep], y[keep]])
    (y0, kappa), *_ = np.linalg.lstsq(np.column_stack([np.ones_like(dd), 0.5 * dd**2]), yy, rcond=None)
    return float(y0), float(kappa)


def test_symmetrised_fit_is_the_experiment_fit():
    from validation.experiments import shift_curvature


    rng = np.random.default_rng(1)
    a = np.linspace(-1, 2, 31)
    for _ in range(5):
        y = rng.random() + rng.random() * (a - 1) ** 2 + 0.05 * rng.standard_normal(a.size)
        for centre, side, width in ((1.0, "left", 1.0), (0.0, "left", 1.0), (1.0, "left", 0.5), (0.0, "right", 1)):
            mine, theirs = I.symmetrised_quadratic_fit(a, y, centre, side, width=width), exp_fit(a, y, centre, side,
                                                                                                width=width)
            np.testing.assert_allclose(tuple(mine), theirs, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(shift_curvature.symmetrised_quadratic_fit(a, y, centre, side, width=width),
                                       theirs, rtol=1e-12, atol=1e-12)  # the experiment's (re-exported) fit
    with pytest.raises(I.InterpolationError, match="side"):
        I.symmetrised_quadratic_fit(a, y, 1.0, "up")
    with pytest.raises(I.InterpolationError, match="fewer than 3"):
        I.symmetrised_quadratic_fit(a[:3], y[:3], 1.0, "right")
    with pytest.raises(I.InterpolationError, match="same length"):
        I.symmetrised_quadratic_fit(a, y[:-1], 1.0, "left")


def test_line_fit_reproduces_the_experiment_arithmetic():
    rng = np.random.default_rng(2)
    a = np.linspace(-1, 2, 31)
    runs = []
    for j in range(3):
        te = 0.4 + 0.5 * (1 + j) * (a - 1) ** 2 + 0.02 * (a - 1) ** 4 + 0.01 * rng.standard_normal(a.size)
        tr = 0.1 + 0.5 * 2.0 * a**2 + 0.01 * rng.standard_normal(a.size)
        runs.append({"T": 0.01 * (j + 1), "seed": 0, "shift_norm": 1.0 + j, "alphas": a.tolist(),
                     "train_loss_line": tr.tolist(), "test_loss_line": te.tolist()})
    for r in runs:
        a, tr, te = np.asarray(r["alphas"]), r["train_loss_line"], r["test_loss_line"]
        _, k_test = exp_fit(a, te, 1.0, "left")
        _, k_train = exp_fit(a, tr, 0.0, "left")
        _, k_local = exp_fit(a, te, 1.0, "left", width=0.5)
        u_tr, u_min = te[10], te[20]  # α = 0 and α = 1 on this grid
        want = {"kappa_train": k_train, "kappa_test": k_test, "kappa_test_local": k_local,
                "shift_curvature": 0.5 * k_test, "test_loss_at_train_min": u_tr, "test_loss_at_test_min": u_min,
                "train_loss_at_train_min": tr[10], "eq3_prediction": u_min + 0.5 * k_test,
                "eq3_relative_error": abs(u_tr - u_min - 0.5 * k_test) / abs(u_tr),
                "eq3_relative_error_local": abs(u_tr - u_min - 0.5 * k_local) / abs(u_tr),
                "shift_curvature_share": 0.5 * k_test / (u_tr - u_min)}
        f = I.line_fit(r["alphas"], tr, te)
        for key, value in want.items():
            assert getattr(f, key) == pytest.approx(value, rel=1e-12, abs=1e-12), key
    with pytest.raises(I.InterpolationError, match="α = 0"):
        I.line_fit(np.linspace(0.05, 2, 31), runs[0]["train_loss_line"], runs[0]["test_loss_line"])


def _line_losses(model, loss_fn, theta_a, theta_b, alphas, data):
    """The shift_curvature experiment's line losses as committed before they moved here (bc6b76d)."""
    from torch.nn.utils import vector_to_parameters

    Xtr, ytr, Xte, yte = data
    tr, te = [], []
    with torch.no_grad():
        for a in alphas:
            vector_to_parameters(theta_a + float(a) * (theta_b - theta_a), model.parameters())
            tr.append(float(loss_fn(model(Xtr), ytr)))
            te.append(float(loss_fn(model(Xte), yte)))
    return tr, te


def test_line_losses_are_the_experiment_losses():
    model, X, y = _tiny()
    ta = I.flat_parameters(model)
    tb = ta + 0.1 * torch.randn(ta.shape, dtype=ta.dtype, generator=torch.Generator().manual_seed(3))
    alphas = np.linspace(-1, 2, 13)
    loss = torch.nn.functional.cross_entropy
    mine = I.line_losses(model, loss, ta, tb, alphas, {"train": (X[:20], y[:20]), "test": (X[20:], y[20:])})
    tr, te = _line_losses(copy.deepcopy(model), loss, ta, tb, alphas, (X[:20], y[:20], X[20:], y[20:]))
    np.testing.assert_allclose(mine["train"], tr, rtol=1e-12, atol=0)
    np.testing.assert_allclose(mine["test"], te, rtol=1e-12, atol=0)
    assert torch.equal(I.flat_parameters(model), ta)  # the model is not changed
    with pytest.raises(I.InterpolationError, match="flat vector"):
        I.line_losses(model, loss, ta[:-1], tb, alphas, {"train": (X, y)})
    with pytest.raises(I.InterpolationError, match="mapping"):
        I.line_losses(model, loss, ta, tb, alphas, {})


def test_hessian_quadratic_form_matches_the_exact_hessian_and_the_line_curvature():
    model, X, y = _tiny()
    loss = torch.nn.functional.cross_entropy
    theta = I.flat_parameters(model)
    s = torch.randn(theta.shape, dtype=theta.dtype, generator=torch.Generator().manual_seed(4))
    H = exact_hessian(model, loss, X, y)
    assert I.hessian_quadratic_form(model, loss, X, y, theta, s) == pytest.approx(float(s @ H @ s), rel=1e-10)
    # frozen parameters: the shift must not move them
    model[0].bias.requires_grad_(False)
    with pytest.raises(I.InterpolationError, match="frozen"):
        I.hessian_quadratic_form(model, loss, X, y, theta, s)
    s2 = s.clone()
    s2[12:16] = 0  # Linear(3, 4): weight 12 entries, then the 4 bias entries
    H_tr = exact_hessian(model, loss, X, y)
    mask = torch.ones_like(s, dtype=torch.bool)
    mask[12:16] = False
    assert I.hessian_quadratic_form(model, loss, X, y, theta, s2) == pytest.approx(
        float(s2[mask] @ H_tr @ s2[mask]), rel=1e-10)


def test_line_curvature_is_the_quadratic_form_at_a_minimum():
    """A quadratic per-sample loss (numerics.curl.QuadraticModel) at its minimum: the line is an exact
    parabola, so the symmetrised fit's κ (α units) is sᵀHs."""
    from numerics.curl import QuadraticModel, quadratic_loss

    g = torch.Generator().manual_seed(5)
    A = torch.randn(4, 4, dtype=torch.float64, generator=g)
    H = A @ A.T + 0.5 * torch.eye(4, dtype=torch.float64)
    c = torch.randn(30, 4, dtype=torch.float64, generator=g)
    model = QuadraticModel(H, theta=c.mean(0))
    theta = I.flat_parameters(model)
    s = torch.randn(4, dtype=torch.float64, generator=g)
    alphas = np.linspace(-1, 2, 31)
    lines = I.line_losses(model, quadratic_loss, theta, theta + s, alphas, {"d": (c, c)})
    _, kappa = I.symmetrised_quadratic_fit(alphas, lines["d"], 0.0, "right")
    q = I.hessian_quadratic_form(model, quadratic_loss, c, c, theta, s)
    assert q == pytest.approx(float(s @ H @ s), rel=1e-12)
    assert kappa == pytest.approx(q, rel=1e-10)


def test_polish_descends_copies_and_reports_divergence():
    model, X, y = _tiny()
    loss = torch.nn.functional.cross_entropy
    before = I.flat_parameters(model)
    theta = I.polish(model, loss, X, y, lr=0.5, steps=50)
    assert torch.equal(I.flat_parameters(model), before)
    with torch.no_grad():
        assert float(loss(I.with_parameters(model, theta)(X), y)) < float(loss(model(X), y)) - 1e-3
    lin = torch.nn.Linear(3, 1).double()
    with pytest.raises(I.PolishDivergedError, match="lower the polish learning rate"):
        I.polish(lin, torch.nn.functional.mse_loss, X, X[:, :1], lr=1e3, steps=200, name="test")
    with pytest.raises(I.InterpolationError, match="lr"):
        I.polish(model, loss, X, y, lr=-1.0, steps=5)
    with pytest.raises(I.InterpolationError, match="at least|≥ 1"):
        I.polish(model, loss, X[:0], y[:0], lr=0.1, steps=5)


def test_shift_curvature_prediction_is_theory_compiled():
    pred, half = I.shift_curvature_prediction(0.3, 0.8)
    assert pred == pytest.approx(0.7, abs=1e-15) and half == pytest.approx(0.4, abs=1e-15)
    pred, half = I.shift_curvature_prediction(np.array([0.1, 0.2]), np.array([1.0, 2.0]))
    np.testing.assert_allclose(pred, [0.6, 1.2], rtol=1e-14)
