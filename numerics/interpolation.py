"""The train→test interpolation protocol of SC §3 / App. F, for any ``nn.Module`` (SC.fig1-3, SC.eq3).

SC measures the shift-curvature decomposition on a trained network in four steps, each a function
here (the experiment ``validation.experiments.shift_curvature`` and the user entry point
``validation.bench`` both call them):

1. **low-temperature descent** (:func:`polish`): from the SGD end point, full-batch gradient descent
   with a small step on the *train* set → θ^tr, and from the same point on the *test* set →
   θ^test (the "extremely low temperature" phases of SC App. F); a divergence raises
   :class:`PolishDivergedError`;
2. **the shift** ``s = θ^test − θ^tr`` (SC.eq2) and **losses on the line**
   ``θ(α) = θ_a + α (θ_b − θ_a)`` (:func:`line_losses`; θ_a = θ^tr, θ_b = θ^test, so α = 0 is the
   train minimum and α = 1 the test minimum);
3. **symmetrised quadratic fits** (:func:`symmetrised_quadratic_fit`, SC App. F): the points on one
   side of a minimum, mirrored about it, fitted by ``y = y₀ + ½ κ (α − α₀)²``; κ is the curvature
   along the line in α units, ``κ = sᵀ C s`` for a quadratic loss with Hessian C, so ``½ κ_test``
   is the shift-curvature ``½ sᵀ C^test s`` (:func:`line_fit` bundles the fits of one line);
4. **the shift-curvature from the exact Hessian** ``sᵀ C s`` by one Hessian-vector product
   (:func:`hessian_quadratic_form`, :class:`numerics.gradstats.HessianOperator`), and SC.eq3 with
   the bias dropped, ``U^test(θ^tr) ≈ U^test(θ^test) + ½ sᵀ C^test s``
   (:func:`shift_curvature_prediction`: theory's ``theory.shift_curvature.test_loss_terms`` for one
   direction, compiled — the formula is not retyped here).

Parameter vectors are ``torch.nn.utils.parameters_to_vector(model.parameters())`` (every parameter,
in ``model.parameters()`` order), as in the experiment; the Hessian quadratic form acts on the
trainable entries (``requires_grad``) and refuses a shift in frozen ones.

Errors are typed (:class:`InterpolationError`, a ``ValueError``; :class:`PolishDivergedError`, also a
``FloatingPointError``) and say what to change.
"""
from __future__ import annotations

import copy
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = [
    "InterpolationError",
    "PolishDivergedError",
    "QuadraticFit",
    "LineFit",
    "flat_parameters",
    "with_parameters",
    "polish",
    "line_losses",
    "symmetrised_quadratic_fit",
    "line_fit",
    "hessian_quadratic_form",
    "shift_curvature_prediction",
]


class InterpolationError(ValueError):
    """Bad input to the interpolation protocol; the message says what to change."""


class PolishDivergedError(InterpolationError, FloatingPointError):
    """Full-batch gradient descent (the low-temperature phase) produced a non-finite loss."""


# --------------------------------------------------------------------------------------------
# parameter vectors
# --------------------------------------------------------------------------------------------
def _check_model(model) -> None:
    import torch

    if not isinstance(model, torch.nn.Module):
        raise InterpolationError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if not any(True for _ in model.parameters()):
        raise InterpolationError("the model has no parameters; there is no line to interpolate on")


def flat_parameters(model):
    """θ = ``parameters_to_vector(model.parameters())`` (every parameter), detached and cloned."""
    from torch.nn.utils import parameters_to_vector

    _check_model(model)
    return parameters_to_vector(model.parameters()).detach().clone()


def _check_vector(theta, model, name: str):
    import torch

    n = sum(p.numel() for p in model.parameters())
    if not isinstance(theta, torch.Tensor):
        raise InterpolationError(f"{name} must be a torch tensor (a flat parameter vector); got {type(theta).__name__}")
    if theta.ndim != 1 or theta.numel() != n:
        raise InterpolationError(f"{name} must be a flat vector of the model's {n} parameters "
                                 f"(parameters_to_vector(model.parameters())); got shape {tuple(theta.shape)}")
    return theta


def with_parameters(model, theta):
    """A deep copy of ``model`` with its parameters set to the flat vector ``theta``."""
    from torch.nn.utils import vector_to_parameters

    _check_model(model)
    theta = _check_vector(theta, model, "theta")
    m = copy.deepcopy(model)
    vector_to_parameters(theta.detach().to(next(m.parameters()).device), m.parameters())
    return m


# --------------------------------------------------------------------------------------------
# 1. low-temperature descent
# --------------------------------------------------------------------------------------------
def polish(model, loss_fn, X, y, *, lr: float, steps: int, generator=None, name: str = "train"):
    """Full-batch gradient descent from the model's parameters: the low-temperature phase of SC App. F.

    Runs ``steps`` steps of size ``lr`` of :func:`numerics.training.train_sgd` with the batch equal to
    the whole of ``(X, y)`` on a *deep copy* of ``model`` (the given model is not changed; frozen
    parameters stay frozen) and returns the end point as a flat vector (:func:`flat_parameters`).
    ``generator``: the ``torch.Generator`` train_sgd draws its (full-batch) permutations from — pass
    the run's own generator to reproduce a run draw for draw; default a fresh one seeded 0 on
    ``X``'s device. ``name`` names the data set in the error.

    Raises :class:`PolishDivergedError` when the loss becomes non-finite (lower ``lr``) and
    :class:`InterpolationError` for a non-positive ``lr``, negative ``steps`` or empty data.
    """
    import torch

    from numerics.training import TrainingError, train_sgd

    _check_model(model)
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise InterpolationError(f"X and y must be torch tensors; got {type(X).__name__}, {type(y).__name__}")
    if X.shape[0] < 1 or X.shape[0] != y.shape[0]:
        raise InterpolationError(f"the {name} set must hold ≥ 1 sample with as many targets as inputs; got "
                                 f"X {tuple(X.shape)}, y {tuple(y.shape)}")
    if generator is None:
        generator = torch.Generator(device=X.device).manual_seed(0)
    m = copy.deepcopy(model)
    try:
        bad = train_sgd(m, loss_fn, X, y, lr=lr, batch_size=X.shape[0], steps=steps, generator=generator)
    except TrainingError as exc:
        raise InterpolationError(f"polish on the {name} set: {exc}") from exc
    if bad is not None:
        raise PolishDivergedError(f"gradient descent on the {name} set diverged (step {bad}, lr = {lr}); "
                                  f"lower the polish learning rate")
    return flat_parameters(m)


# --------------------------------------------------------------------------------------------
# 2. losses on the line
# --------------------------------------------------------------------------------------------
def line_losses(model, loss_fn, theta_a, theta_b, alphas, data: Mapping) -> dict:
    """Losses on the line ``θ(α) = θ_a + α (θ_b − θ_a)`` (SC §3 / App. F).

    ``data``: a mapping name → ``(X, y)``; returns name → list of ``float(loss_fn(model(X), y))``
    at each α of ``alphas`` (computed in a deep copy of ``model``; no gradients). With θ_a = θ^tr and
    θ_b = θ^test, α = 0 is the train minimum and α = 1 the test minimum.
    """
    import torch
    from torch.nn.utils import vector_to_parameters

    _check_model(model)
    theta_a = _check_vector(theta_a, model, "theta_a")
    theta_b = _check_vector(theta_b, model, "theta_b")
    if not isinstance(data, Mapping) or not data:
        raise InterpolationError("data must be a non-empty mapping name → (X, y), e.g. {'train': (X, y)}")
    a = np.asarray(alphas, dtype=float).reshape(-1)
    if a.size < 1 or not np.all(np.isfinite(a)):
        raise InterpolationError("alphas must hold at least one finite number")
    m = copy.deepcopy(model)
    out = {k: [] for k in data}
    with torch.no_grad():
        for al in a:
            vector_to_parameters(theta_a + float(al) * (theta_b - theta_a), m.parameters())
            for k, (X, y) in data.items():
                out[k].append(float(loss_fn(m(X), y)))
    return out


# --------------------------------------------------------------------------------------------
# 3. symmetrised quadratic fits
# --------------------------------------------------------------------------------------------
class QuadraticFit(NamedTuple):
    """``y = y0 + ½ kappa (α − centre)²`` (a tuple: ``y0, kappa = fit``)."""

    y0: float
    kappa: float


def symmetrised_quadratic_fit(alphas, values, centre: float, side: str, *, width: float = 1.0) -> QuadraticFit:
    """Fit ``y = y₀ + ½ κ (α − centre)²`` to the points on one ``side`` of ``centre`` ("left": α ≤ centre,
    "right": α ≥ centre) within distance ``width``, mirrored about ``centre`` (SC App. F).

    Least squares on the kept points and their mirror images (so the fit has no linear term).
    Returns :class:`QuadraticFit` ``(y₀, κ)``. Raises :class:`InterpolationError` for an unknown
    ``side``, mismatched or non-finite inputs, or fewer than 3 points on that side.
    """
    a = np.asarray(alphas, dtype=float)
    y = np.asarray(values, dtype=float)
    if a.ndim != 1 or a.shape != y.shape:
        raise InterpolationError(f"alphas and values must be 1-D of the same length; got {a.shape} and {y.shape}")
    if side not in ("left", "right"):
        raise InterpolationError(f"side must be 'left' or 'right'; got {side!r}")
    if not (math.isfinite(float(centre)) and float(width) > 0):
        raise InterpolationError(f"centre must be finite and width > 0; got {centre!r}, {width!r}")
    d = a - centre
    keep = (d <= 1e-12) & (d >= -width - 1e-12) if side == "left" else (d >= -1e-12) & (d <= width + 1e-12)
    if keep.sum() < 3:
        raise InterpolationError(f"symmetrised_quadratic_fit: fewer than 3 points on the {side} of α = {centre} "
                                 f"within {width}; use a finer α grid")
    if not np.all(np.isfinite(y[keep])):
        raise InterpolationError("the losses to fit hold NaN/inf (a point on the line diverged)")
    dd = np.concatenate([d[keep], -d[keep]])
    yy = np.concatenate([y[keep], y[keep]])
    A = np.column_stack([np.ones_like(dd), 0.5 * dd**2])
    (y0, kappa), *_ = np.linalg.lstsq(A, yy, rcond=None)
    return QuadraticFit(float(y0), float(kappa))


@functools.lru_cache(maxsize=1)
def _eq3_terms():
    """Compiled SC.eq4 per-basin term of ``theory.shift_curvature.test_loss_terms`` along one
    direction (p = 1, bias 0, covariance 0): (U_min, c, s) ↦ (total, shift-curvature ½ c s²)."""
    import sympy as sp

    from numerics.compile import compile_expr
    from theory.shift_curvature import test_loss_terms

    U, c, s = sp.symbols("U_test_min c s", real=True)
    terms = test_loss_terms(U, sp.Matrix([[c]]), sp.Matrix([s]), sp.Matrix([0]), sp.Matrix([[0]]))
    return compile_expr([terms.total, terms.shift_curvature], [U, c, s])


def shift_curvature_prediction(test_loss_at_test_min, quadratic_form):
    """SC.eq3 with b = 0 (the SC.eq4 per-basin term without covariance or bias):
    ``U^test(θ^tr) ≈ U^test(θ^test) + ½ sᵀ C^test s``.

    ``quadratic_form``: ``sᵀ C^test s`` (= κ_test from the line fit, or :func:`hessian_quadratic_form`).
    Evaluated by the compiled ``theory.shift_curvature.test_loss_terms``; returns
    ``(prediction, shift_curvature)`` as floats (or arrays, for array inputs).
    """
    out = _eq3_terms()(np.asarray(test_loss_at_test_min, dtype=float), np.asarray(quadratic_form, dtype=float),
                       1.0)
    total, half = out[..., 0], out[..., 1]
    if np.ndim(total) == 0:
        return float(total), float(half)
    return total, half


@dataclass(frozen=True)
class LineFit:
    """The SC App. F fits of one train→test line (α = 0 train minimum, α = 1 test minimum).

    ``kappa_train``: train-loss curvature about α = 0 (points α ∈ [−1, 0], mirrored);
    ``kappa_test``: test-loss curvature about α = 1 (points α ∈ [0, 1]); ``kappa_test_local``: the same
    from α ∈ [0.5, 1] only (the point predicted is not among the fitted ones);
    ``shift_curvature`` = ½ κ_test; ``test_loss_at_train_min`` / ``test_loss_at_test_min`` /
    ``train_loss_at_train_min``: the line values at α = 0 and 1; ``eq3_prediction`` =
    U^test(θ^test) + ½ κ_test; ``eq3_relative_error`` = |U^test(θ^tr) − prediction| / |U^test(θ^tr)|
    (``eq3_relative_error_local`` with κ_test_local); ``shift_curvature_share`` =
    ½ κ_test / (U^test(θ^tr) − U^test(θ^test)) (NaN when the two are equal).
    """

    kappa_train: float
    kappa_test: float
    kappa_test_local: float
    shift_curvature: float
    test_loss_at_train_min: float
    test_loss_at_test_min: float
    train_loss_at_train_min: float
    eq3_prediction: float
    eq3_relative_error: float
    eq3_relative_error_local: float
    shift_curvature_share: float


def line_fit(alphas, train_loss_line, test_loss_line, *, local_width: float = 0.5) -> LineFit:
    """The fits and SC.eq3 errors of one line (:class:`LineFit`), the same arithmetic as the
    ``shift_curvature`` experiment's compare. ``alphas`` must contain 0 and 1 (to 1e-9) with points
    on [−1, 1]."""
    a = np.asarray(alphas, dtype=float)
    tr = np.asarray(train_loss_line, dtype=float)
    te = np.asarray(test_loss_line, dtype=float)
    if a.ndim != 1 or a.shape != tr.shape or a.shape != te.shape:
        raise InterpolationError(f"alphas and the two loss lines must be 1-D of one length; got {a.shape}, "
                                 f"{tr.shape}, {te.shape}")
    i0, i1 = int(np.argmin(np.abs(a))), int(np.argmin(np.abs(a - 1)))
    if abs(a[i0]) > 1e-9 or abs(a[i1] - 1) > 1e-9:
        raise InterpolationError("alphas must contain α = 0 (train minimum) and α = 1 (test minimum); use a grid "
                                 "such as numpy.linspace(-1, 2, 3k + 1)")
    _, k_test = symmetrised_quadratic_fit(a, te, 1.0, "left")
    _, k_train = symmetrised_quadratic_fit(a, tr, 0.0, "left")
    _, k_local = symmetrised_quadratic_fit(a, te, 1.0, "left", width=local_width)
    u_at_tr, u_min = float(te[i0]), float(te[i1])
    predicted, half = shift_curvature_prediction(u_min, k_test)
    predicted_local, _ = shift_curvature_prediction(u_min, k_local)
    rel = abs(u_at_tr - predicted) / abs(u_at_tr) if u_at_tr != 0 else float("nan")
    rel_local = abs(u_at_tr - predicted_local) / abs(u_at_tr) if u_at_tr != 0 else float("nan")
    return LineFit(kappa_train=k_train, kappa_test=k_test, kappa_test_local=k_local, shift_curvature=half,
                   test_loss_at_train_min=u_at_tr, test_loss_at_test_min=u_min,
                   train_loss_at_train_min=float(tr[i0]), eq3_prediction=predicted, eq3_relative_error=rel,
                   eq3_relative_error_local=rel_local,
                   shift_curvature_share=half / (u_at_tr - u_min) if u_at_tr != u_min else float("nan"))


# --------------------------------------------------------------------------------------------
# 4. the exact quadratic form
# --------------------------------------------------------------------------------------------
def _trainable_mask(model):
    import torch

    return torch.cat([torch.full((p.numel(),), bool(p.requires_grad)) for p in model.parameters()])


def hessian_quadratic_form(model, loss_fn, X, y, theta, s, *, method: str = "jvp") -> float:
    """``sᵀ H(θ) s`` for the loss ``U = loss_fn(model(X), y)`` at the flat parameter vector ``theta``
    (SC.eq3's ``sᵀ C s`` with C the Hessian of that loss), by one Hessian-vector product
    (:class:`numerics.gradstats.HessianOperator`).

    ``theta`` and ``s`` are full vectors (:func:`flat_parameters` layout); s must vanish on frozen
    parameters (``requires_grad=False``: H is taken over the trainable ones only), else
    :class:`InterpolationError`. Errors of the HVP (non-scalar or NaN loss, train-mode dropout,
    mismatched X/y, another device) are :class:`numerics.gradstats.GradStatsError`.
    """
    import torch

    from numerics.gradstats import HessianOperator

    _check_model(model)
    theta = _check_vector(theta, model, "theta")
    s = _check_vector(s, model, "s")
    mask = _trainable_mask(model).to(s.device)
    if not bool(mask.any()):
        raise InterpolationError("the model has no parameter with requires_grad=True; nothing to differentiate")
    if bool((s[~mask] != 0).any()):
        raise InterpolationError("the shift moves frozen parameters (requires_grad=False); the Hessian is taken "
                                 "over the trainable ones — unfreeze them or zero those entries")
    m = with_parameters(model, theta)
    op = HessianOperator(m, loss_fn, X, y, method=method)
    v = s[mask].to(op.device, op.dtype)
    return float(v @ op.matvec(v))
