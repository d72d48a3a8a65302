"""Your own network on the bench: ``validation.bench(model, loss_fn, train, test, T=...)``.

One call measures, at the parameters the model has (the user trains it; nothing is trained here
except the two low-temperature polishes of the line), what the papers' theory says about that
network, each part with a plot:

* **spectra** — the top-k Hessian eigenvalues of the train loss (C in SC's notation, H in DT's;
  Lanczos on Hessian-vector products, :func:`numerics.gradstats.top_hessian_eigenpairs`) and the
  top-k eigenvalues of the per-sample gradient covariance D (from the Gram matrix of the centred
  per-sample gradients, :func:`numerics.gradient_noise.per_sample_gradients`), plus D in the
  Hessian eigenbasis ``D_k = Uᵀ D U``;
* **DT.eq7** — D against H in the top-k Hessian eigenbasis (:func:`numerics.noise_curvature.noise_hessian_alignment`):
  DT.eq7 says the minibatch noise covariance is ``C_B ≈ H/B``; with minibatches drawn with
  replacement ``C_B = D/B``, so the statement is ``D ≈ c H`` with c = 1 and **the batch size
  cancels**: bench asks for none. Reported: the fitted constant c, the Pearson correlation of
  ``uᵢᵀ D uᵢ`` with λᵢ, the relative residual;
* **curl (SC.A1)** — :func:`numerics.curl.minimum_curl`: the normalised commutator ‖[D, H]‖ in the
  top-k Hessian subspace and in random k-subspaces, with its bootstrap noise floor (D⁻¹H symmetric
  iff D and H commute, the zero-curl condition at a minimum);
* **SC.B2.cov** — the predicted stationary covariance ``(T/2) C⁻¹ D`` of SGD at temperature T in the
  top-k subspace and the Lyapunov solution of ``CΣ + ΣC = T D`` (:func:`numerics.noise_curvature.stationary_covariance`;
  absent, with the reason, when a top-k eigenvalue is ≤ 0);
* **the train→test line** (SC §3 / App. F, :mod:`numerics.interpolation`): full-batch descent from
  θ on the train set → θ^tr and on the test set → θ^test, shift ``s = θ^test − θ^tr``, losses on
  ``θ^tr + α s`` for α ∈ [−1, 2], symmetrised quadratic fits (κ_train, κ_test) and the exact
  ``sᵀ C s`` by Hessian-vector products;
* **SC.eq4** (one basin, no bias, no covariance term: SC.eq3) — ``U^test(θ^tr) ≈ U^test(θ^test) + ½ sᵀ C^test s``
  with C^test the test-loss Hessian at θ^test, evaluated by the compiled
  ``theory.shift_curvature.test_loss_terms`` (:func:`numerics.interpolation.shift_curvature_prediction`).

``T`` is the SGD temperature λ/B the model was trained at (SC.eq10's normalisation: D is the
per-sample gradient covariance). ``params``: None = every trainable parameter; a list of parameter
names (``model.named_parameters()``) or parameter tensors restricts every measurement to that
subspace (the others stay fixed, also in the polishes). The model is never modified (a deep copy
is measured); it runs on the device of the model's parameters, and the data must be there too.

Bad inputs raise :class:`BenchError` (a ``ValueError``) saying what to change: a non-scalar loss,
parameters that need no grad, mismatched shapes (X vs y, X vs the model's input), data on another
device than the model, a NaN loss, T ≤ 0, empty data. A model in training mode with dropout or batch
norm raises :class:`numerics.gradstats.TrainModeError` (call ``model.eval()``).
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import numpy as np

__all__ = ["BenchError", "Spectra", "NoiseVsCurvature", "Curl", "StationaryCovariancePart", "Line",
           "TestLossDecomposition", "BenchResult", "bench", "summary_table", "load_factory", "OUTPUT_FILES",
           "run_cli", "add_parser", "SMALL_MODEL_P"]


#: largest number of measured parameters for which ``threads="auto"`` measures with one CPU thread
SMALL_MODEL_P = 100_000


class BenchError(ValueError):
    """Bad input to :func:`bench`; the message says what to change."""


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _pair(data, name):
    import torch

    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise BenchError(f"{name} must be a pair (X, y) of torch tensors; got {type(data).__name__}")
    X, y = data
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise BenchError(f"{name} must be a pair (X, y) of torch tensors; got ({type(X).__name__}, "
                         f"{type(y).__name__})")
    if X.ndim < 1 or X.shape[0] == 0:
        raise BenchError(f"{name} is empty (X has shape {tuple(X.shape)}); pass at least 2 samples")
    if y.ndim < 1 or X.shape[0] != y.shape[0]:
        raise BenchError(f"{name}: X and y must have as many rows; got X {tuple(X.shape)} and y {tuple(y.shape)}")
    if X.shape[0] < 2:
        raise BenchError(f"{name} holds {X.shape[0]} sample; a gradient covariance needs at least 2")
    return X, y


def _temperature(T) -> float:
    """T as a float (:func:`numerics.stationary.check_temperature`), its error re-raised as BenchError."""
    from numerics.stationary import TemperatureError, check_temperature

    try:
        return check_temperature(T)
    except TemperatureError as exc:
        raise BenchError(str(exc)) from None


def _int(value, name, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise BenchError(f"{name} must be a whole number ≥ {low}; got {value!r}")
    return int(value)


def _select(model, params):
    """A deep copy of ``model`` whose trainable parameters are exactly the selected ones; their names."""
    import torch

    if not isinstance(model, torch.nn.Module):
        raise BenchError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    named = list(model.named_parameters())
    if not named:
        raise BenchError("the model has no parameters; nothing to measure")
    if params is None:
        chosen = [n for n, p in named if p.requires_grad]
        if not chosen:
            raise BenchError("no parameter of the model needs a gradient (requires_grad=False everywhere); "
                             "unfreeze the parameters to measure, or pass params=[...] naming trainable ones")
    else:
        if isinstance(params, (str, torch.Tensor)) or not hasattr(params, "__iter__"):
            raise BenchError("params must be a list of parameter names or parameter tensors (or None for all)")
        by_id = {id(p): n for n, p in named}
        by_name = dict(named)
        chosen = []
        for item in params:
            if isinstance(item, str):
                if item not in by_name:
                    raise BenchError(f"params: the model has no parameter named {item!r}; its names are "
                                     f"{[n for n, _ in named][:12]}")
                name = item
            elif isinstance(item, torch.Tensor):
                if id(item) not in by_id:
                    raise BenchError("params: a tensor is not a parameter of this model; pass "
                                     "model.named_parameters() entries or their names")
                name = by_id[id(item)]
            else:
                raise BenchError(f"params entries must be names or parameter tensors; got {type(item).__name__}")
            if not by_name[name].requires_grad:
                raise BenchError(f"params: {name!r} has requires_grad=False (a parameter that needs no grad); "
                                 f"call .requires_grad_(True) on it or leave it out")
            if name not in chosen:
                chosen.append(name)
        if not chosen:
            raise BenchError("params is empty; pass None for every trainable parameter")
    m = copy.deepcopy(model)
    for n, p in m.named_parameters():
        p.requires_grad_(n in chosen)
    return m, tuple(chosen)


def _check_inputs(m, loss_fn, Xtr, ytr, Xte, yte):
    """Device, shapes, a scalar finite loss — typed errors before any measurement."""
    import torch

    if not callable(loss_fn):
        raise BenchError(f"loss_fn must be callable, loss_fn(model(X), y) → scalar; got {type(loss_fn).__name__}")
    dev = next(m.parameters()).device
    for name, t in (("train X", Xtr), ("train y", ytr), ("test X", Xte), ("test y", yte)):
        if t.device != dev:
            raise BenchError(f"the model is on {dev} but {name} is on {t.device}; move the data (X.to({str(dev)!r})) "
                             f"or the model so that both live on one device")
    if Xtr.shape[1:] != Xte.shape[1:]:
        raise BenchError(f"train and test inputs differ in shape: {tuple(Xtr.shape[1:])} vs {tuple(Xte.shape[1:])}")
    losses = {}
    for name, X, y in (("train", Xtr, ytr), ("test", Xte, yte)):
        try:
            with torch.no_grad():
                out = m(X)
        except RuntimeError as exc:
            raise BenchError(f"the model cannot take the {name} inputs X of shape {tuple(X.shape)} and dtype "
                             f"{X.dtype}: {str(exc).splitlines()[0]} — check the model's input size and dtype "
                             f"(e.g. model.double() for float64 data)") from exc
        try:
            with torch.no_grad():
                value = loss_fn(out, y)
        except (RuntimeError, ValueError, IndexError) as exc:
            raise BenchError(f"loss_fn(model(X), y) fails on the {name} set (output {tuple(out.shape)}, y "
                             f"{tuple(y.shape)}): {str(exc).splitlines()[0]} — check the targets against the "
                             f"model's output") from exc
        if not isinstance(value, torch.Tensor) or value.ndim != 0:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise BenchError(f"loss_fn(model(X), y) must return a scalar tensor, the mean over the batch "
                             f"(reduction='mean'); got {shape}")
        if not torch.isfinite(value):
            raise BenchError(f"the {name} loss at the model's parameters is {float(value)}; the model has "
                             f"diverged or the data hold NaN/inf — measure at a finite point")
        losses[name] = float(value)
    return dev, losses


# --------------------------------------------------------------------------------------------
# result parts (each with a plot)
# --------------------------------------------------------------------------------------------
def _axes(ax):
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.6))
    return fig, fig.add_subplot()


@dataclass(frozen=True)
class Spectra:
    """Top-k eigenvalues of the train-loss Hessian (``hessian``, descending, with Lanczos
    ``residuals``) and of the per-sample gradient covariance D (``noise``), and D in the Hessian
    eigenbasis: ``noise_in_hessian_basis`` = diag(UᵀDU)."""

    hessian: np.ndarray
    residuals: np.ndarray
    noise: np.ndarray
    noise_in_hessian_basis: np.ndarray

    def plot(self, ax=None):
        fig, ax = _axes(ax)
        i = np.arange(1, len(self.hessian) + 1)
        ax.semilogy(i, np.abs(self.hessian), "o-", label="Hessian |λᵢ| (C)")
        ax.semilogy(i, np.clip(self.noise, 1e-300, None), "s-", label="gradient covariance D")
        ax.semilogy(i, np.clip(np.abs(self.noise_in_hessian_basis), 1e-300, None), "^--", label="uᵢᵀ D uᵢ")
        ax.set_xlabel("index i")
        ax.set_ylabel("eigenvalue")
        ax.set_title("spectra (top k)")
        ax.legend(fontsize=7)
        return fig


@dataclass(frozen=True)
class NoiseVsCurvature:
    """DT.eq7 in the top-k Hessian eigenbasis: D ≈ c H (c = 1 is DT.eq7; B cancels). ``constant``,
    ``pearson`` (uᵢᵀDuᵢ vs λᵢ), ``relative_residual``, ``off_diagonal_share``, and the points."""

    constant: float
    pearson: float
    relative_residual: float
    off_diagonal_share: float
    hessian_eigenvalues: np.ndarray
    noise_diagonal: np.ndarray

    def plot(self, ax=None):
        fig, ax = _axes(ax)
        lam, d = self.hessian_eigenvalues, self.noise_diagonal
        ax.plot(lam, d, "o", label=f"Pearson {self.pearson:.3f}")
        lo, hi = float(min(lam.min(), 0)), float(lam.max())
        xs = np.linspace(lo, hi, 2)
        ax.plot(xs, xs, "k:", label="D = H (DT.eq7)")
        ax.plot(xs, self.constant * xs, "r-", label=f"fit D = {self.constant:.3g} H")
        ax.set_xlabel("Hessian eigenvalue λᵢ")
        ax.set_ylabel("uᵢᵀ D uᵢ")
        ax.set_title("DT.eq7: noise vs curvature")
        ax.legend(fontsize=7)
        return fig


@dataclass(frozen=True)
class Curl:
    """SC.A1 at θ read as a minimum (:class:`numerics.curl.MinimumCurl` condensed): the normalised
    commutator in the top-k Hessian subspace (``top``, its ``top_stderr`` and ``top_noise_floor``,
    ``top_consistent_with_zero``) and averaged over random k-subspaces (``random`` …), and the
    gradient norm ratio ‖∂U‖ / rms‖gᵢ − ḡ‖ (≪ 1 near a minimum, where the reduction holds)."""

    top: float
    top_stderr: float
    top_noise_floor: float
    top_consistent_with_zero: bool
    random: float
    random_stderr: float
    random_noise_floor: float
    random_consistent_with_zero: bool
    gradient_norm_ratio: float

    def plot(self, ax=None):
        fig, ax = _axes(ax)
        xs = np.arange(2)
        ax.bar(xs - 0.18, [self.top, self.random], 0.36, yerr=[2 * self.top_stderr, 2 * self.random_stderr],
               label="‖[D, H]‖ / (‖D‖‖H‖)")
        ax.bar(xs + 0.18, [self.top_noise_floor, self.random_noise_floor], 0.36, label="sampling-noise floor")
        ax.set_xticks(xs, ["top-k Hessian", "random k"])
        ax.set_ylabel("normalised commutator")
        ax.set_title("SC.A1: curl at θ")
        ax.legend(fontsize=7)
        return fig


@dataclass(frozen=True)
class StationaryCovariancePart:
    """SC.B2.cov in the top-k Hessian subspace at temperature T: ``laplace`` (T/2)C⁻¹D (symmetric part),
    ``lyapunov`` (CΣ + ΣC = T D), their ``relative_difference`` and the ``asymmetry`` of C⁻¹D;
    ``available`` False (with ``reason``) when the subspace has curvature ≤ 0."""

    available: bool
    reason: str
    laplace: np.ndarray | None = None
    lyapunov: np.ndarray | None = None
    relative_difference: float = float("nan")
    asymmetry: float = float("nan")

    def plot(self, ax=None):
        fig, ax = _axes(ax)
        if not self.available:
            ax.text(0.5, 0.5, f"SC.B2 not available:\n{self.reason[:80]}", ha="center", va="center", fontsize=7,
                    transform=ax.transAxes, wrap=True)
            ax.set_axis_off()
            return fig
        i = np.arange(1, self.laplace.shape[0] + 1)
        ax.semilogy(i, np.abs(np.diag(self.lyapunov)), "o-", label="Lyapunov Σᵢᵢ")
        ax.semilogy(i, np.abs(np.diag(self.laplace)), "x--", label="(T/2)C⁻¹D ᵢᵢ")
        ax.set_xlabel("Hessian eigen-direction i")
        ax.set_ylabel("stationary variance")
        ax.set_title(f"SC.B2: rel. diff {self.relative_difference:.2g}")
        ax.legend(fontsize=7)
        return fig


@dataclass(frozen=True)
class Line:
    """The train→test line (SC App. F): ``alphas``, ``train_loss``, ``test_loss`` on θ^tr + α s,
    ``shift_norm`` ‖s‖, where each loss is lowest on the grid (``train_argmin_alpha``, ideally 0;
    ``test_argmin_alpha``, ideally 1 — else the polishes stopped short of the minima: raise
    ``polish_steps``), the full-batch gradient norms at θ^tr and θ^test, the fits (:class:`numerics.interpolation.LineFit` as ``fit``) and the exact
    forms ``quadratic_form_test`` = sᵀC^test s (test Hessian at θ^test) and ``quadratic_form_train`` =
    sᵀC^tr s (train Hessian at θ^tr)."""

    alphas: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray
    shift_norm: float
    train_argmin_alpha: float
    test_argmin_alpha: float
    gradient_norm_train: float
    gradient_norm_test: float
    fit: object
    quadratic_form_test: float
    quadratic_form_train: float

    def plot(self, ax=None):
        fig, ax = _axes(ax)
        a = self.alphas
        ax.plot(a, self.train_loss, "-", label="train loss")
        ax.plot(a, self.test_loss, "-", label="test loss")
        f = self.fit
        ax.plot(a, f.test_loss_at_test_min + 0.5 * f.kappa_test * (a - 1) ** 2, ":",
                label=f"fit κ_test = {f.kappa_test:.3g}")
        ax.plot(a, f.train_loss_at_train_min + 0.5 * f.kappa_train * a**2, ":",
                label=f"fit κ_train = {f.kappa_train:.3g}")
        lo = min(np.min(self.train_loss), np.min(self.test_loss))
        hi = max(self.train_loss[np.abs(a) <= 1.0].max(), self.test_loss[np.abs(a - 1) <= 1.0].max())
        ax.set_ylim(lo - 0.05 * (hi - lo + 1e-12), hi + 0.1 * (hi - lo + 1e-12))
        ax.axvline(0, color="grey", lw=0.5)
        ax.axvline(1, color="grey", lw=0.5)
        ax.set_xlabel("α (0: train min, 1: test min)")
        ax.set_ylabel("loss")
        ax.set_title(f"train→test line, ‖s‖ = {self.shift_norm:.3g}; minima at α = {self.train_argmin_alpha:.2g}, "
                     f"{self.test_argmin_alpha:.2g}", fontsize=9)
        ax.legend(fontsize=7)
        return fig


@dataclass(frozen=True)
class TestLossDecomposition:
    """SC.eq4 (one basin, b = 0, no covariance term = SC.eq3) at θ^tr: ``measured`` U^test(θ^tr),
    ``depth`` U^test(θ^test), ``shift_curvature`` ½sᵀC^test s (exact Hessian), ``predicted`` their sum,
    ``relative_error``; the same from the line fit: ``shift_curvature_fit`` (½κ_test),
    ``predicted_fit``, ``relative_error_fit``."""

    __test__ = False

    measured: float
    depth: float
    shift_curvature: float
    predicted: float
    relative_error: float
    shift_curvature_fit: float
    predicted_fit: float
    relative_error_fit: float

    def plot(self, ax=None):
        fig, ax = _axes(ax)
        xs = np.arange(3)
        ax.bar(xs, [self.depth] * 3, 0.5, label="U_test(θ_test) (depth)")
        ax.bar(xs[1:], [self.shift_curvature, self.shift_curvature_fit], 0.5, bottom=[self.depth] * 2,
               label="½ sᵀC_test s")
        ax.axhline(self.measured, color="k", ls="--", label="measured U_test(θ_tr)")
        ax.set_xticks(xs, ["depth", "+ Hessian", "+ line fit"])
        ax.set_ylabel("test loss")
        ax.set_title(f"SC.eq4: rel. err {self.relative_error:.2g} / {self.relative_error_fit:.2g}")
        ax.legend(fontsize=7)
        return fig


def _jsonable(obj):
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        return obj.item()
    if isinstance(obj, (list, tuple)):
        return [_jsonable(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    return obj


@dataclass(frozen=True)
class BenchResult:
    """Everything :func:`bench` measured. ``plot()`` draws all parts; ``to_dict()`` is JSON-ready;
    ``table()`` a short text summary."""

    T: float
    k: int
    p: int
    n_train: int
    n_test: int
    parameters: tuple
    device: str
    train_loss: float
    test_loss: float
    spectra: Spectra
    dt_eq7: NoiseVsCurvature
    curl: Curl
    sc_b2: StationaryCovariancePart
    line: Line
    sc_eq4: TestLossDecomposition
    wall_time_s: float
    settings: dict = field(default_factory=dict)

    def plot(self):
        """A matplotlib Figure with six panels (spectra, DT.eq7, SC.A1, SC.B2, the line, SC.eq4)."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(15, 8.5), layout="constrained")
        axes = fig.subplots(2, 3).ravel()
        for part, ax in zip((self.spectra, self.dt_eq7, self.curl, self.sc_b2, self.line, self.sc_eq4), axes):
            part.plot(ax)
        fig.suptitle(f"bench: p = {self.p}, k = {self.k}, T = {self.T:g}, N = {self.n_train}/{self.n_test}")
        return fig

    def to_dict(self) -> dict:
        return _jsonable(self)

    def table(self) -> str:
        return summary_table(self.to_dict())


def summary_table(d: dict) -> str:
    """The short text table of a :meth:`BenchResult.to_dict` summary."""
    def f(x):
        return "n/a" if x is None else f"{x:.4g}" if isinstance(x, float) else str(x)

    e7, cu, b2, eq4, ln = d["dt_eq7"], d["curl"], d["sc_b2"], d["sc_eq4"], d["line"]
    rows = [
        ("parameters p / k / T", f"{d['p']} / {d['k']} / {d['T']:g}"),
        ("train / test loss at θ", f"{f(d['train_loss'])} / {f(d['test_loss'])}"),
        ("top Hessian eigenvalue", f(d["spectra"]["hessian"][0])),
        ("top D eigenvalue", f(d["spectra"]["noise"][0])),
        ("DT.eq7: D ≈ c·H, c", f(e7["constant"])),
        ("DT.eq7: Pearson(uᵀDu, λ)", f(e7["pearson"])),
        ("SC.A1: commutator top-k (floor)", f"{f(cu['top'])} ({f(cu['top_noise_floor'])})"),
        ("SC.A1: commutator random (floor)", f"{f(cu['random'])} ({f(cu['random_noise_floor'])})"),
        ("SC.B2: ‖Laplace − Lyapunov‖/‖Lyapunov‖", f(b2["relative_difference"]) if b2["available"] else
         f"n/a ({b2['reason'][:40]})"),
        ("shift ‖s‖", f(ln["shift_norm"])),
        ("line minima at α (want 0, 1)", f"{f(ln['train_argmin_alpha'])}, {f(ln['test_argmin_alpha'])}"),
        ("κ_test fit / sᵀC_test s", f"{f(ln['fit']['kappa_test'])} / {f(ln['quadratic_form_test'])}"),
        ("SC.eq4: U_test(θ_tr) measured", f(eq4["measured"])),
        ("SC.eq4: depth + ½sᵀCs (Hessian)", f"{f(eq4['predicted'])} (rel. err {f(eq4['relative_error'])})"),
        ("SC.eq4: depth + ½κ_test (fit)", f"{f(eq4['predicted_fit'])} (rel. err {f(eq4['relative_error_fit'])})"),
    ]
    w = max(len(r[0]) for r in rows)
    return "\n".join(f"{a:<{w}}  {b}" for a, b in rows)


# --------------------------------------------------------------------------------------------
# the entry point
# --------------------------------------------------------------------------------------------
def bench(model, loss_fn, train, test, *, T, params=None, k: int = 8, n_random: int = 2,
          n_bootstrap: int = 50, polish_lr=0.05, polish_steps: int = 1500, line_points: int = 31,
          seed: int = 0, threads="auto") -> BenchResult:
    """Measure the SGD theory's quantities on ``model`` as given (module docstring).

    Parameters
    ----------
    model : a ``torch.nn.Module`` (any: ``model(X)`` must accept the inputs); measured on a deep copy,
        at its current parameters, on the device of its parameters; put it in ``eval()`` mode if it
        has dropout or batch norm.
    loss_fn : ``loss_fn(model(X), y)`` → the *mean* loss over the batch (a scalar tensor).
    train, test : ``(X, y)`` tensor pairs (on the model's device).
    T : the SGD temperature λ/B the model was trained at (> 0); scales SC.B2.
    params : None (every trainable parameter) or a list of parameter names / tensors: the subspace.
    k : subspace dimension (top-k Hessian eigenpairs; must be < p); ``n_random`` random subspaces
        and ``n_bootstrap`` bootstrap replicates for the curl; ``polish_lr``, ``polish_steps``: the
        full-batch descents to θ^tr and θ^test (:func:`numerics.interpolation.polish`; defaults: those of
        the ``shift_curvature`` experiment, 0.05 × 1500; ``polish_lr="auto"`` takes 1/λ_max of the train
        Hessian at θ, half the stability limit of gradient descent). How far the polishes go changes the
        line's numbers — a deeper test polish on a net that can fit its test set drives U^test(θ^test)
        and C^test towards 0 — so ``line.train_argmin_alpha``/``test_argmin_alpha`` and the gradient norms
        are reported with them;
        ``line_points`` (3j + 1) on α ∈ [−1, 2]; ``seed`` for Lanczos, subspaces and bootstrap.
    threads : CPU intra-op threads while measuring (restored afterwards; ignored on a GPU): ``"auto"``
        uses one thread for models up to :data:`SMALL_MODEL_P` parameters (small models gain nothing
        from more, and oversubscribed cores make them much slower), an integer that many, None leaves
        torch's setting alone.

    Returns a frozen :class:`BenchResult`. Raises :class:`BenchError` for bad inputs,
    :class:`numerics.interpolation.PolishDivergedError` when a polish diverges (lower polish_lr).
    """
    t0 = time.perf_counter()
    T = _temperature(T)
    Xtr, ytr = _pair(train, "train")
    Xte, yte = _pair(test, "test")
    k = _int(k, "k", 1)
    n_random = _int(n_random, "n_random", 1)
    n_bootstrap = _int(n_bootstrap, "n_bootstrap", 2)
    polish_steps = _int(polish_steps, "polish_steps", 0)
    line_points = _int(line_points, "line_points", 4)
    seed = _int(seed, "seed", 0)
    if (line_points - 1) % 3:
        raise BenchError(f"line_points must be 3j + 1 (so that α = 0 and α = 1 lie on the grid); got {line_points}")
    if not (isinstance(polish_lr, str) and polish_lr == "auto") and (
            isinstance(polish_lr, (str, bytes, bool)) or not (isinstance(polish_lr, (int, float)) and polish_lr > 0
                                                             and math.isfinite(polish_lr))):
        raise BenchError(f"polish_lr must be 'auto' or a positive number; got {polish_lr!r}")
    m, names = _select(model, params)
    dev, losses = _check_inputs(m, loss_fn, Xtr, ytr, Xte, yte)
    p = sum(q.numel() for q in m.parameters() if q.requires_grad)
    if k >= p:
        raise BenchError(f"k = {k} must be smaller than the number of measured parameters p = {p}")
    if threads == "auto":
        n_threads = 1 if p <= SMALL_MODEL_P else None
    elif threads is None:
        n_threads = None
    else:
        n_threads = _int(threads, "threads", 1)
    settings = {"n_random": n_random, "n_bootstrap": n_bootstrap, "polish_lr": polish_lr,
                "polish_steps": polish_steps, "line_points": line_points, "seed": seed}
    if n_threads is None or dev.type != "cpu":
        return _measure(m, names, loss_fn, Xtr, ytr, Xte, yte, dev, losses, p, T, k, settings, t0)
    from numerics.devices import cpu_threads

    with cpu_threads(dev, n_threads):
        return _measure(m, names, loss_fn, Xtr, ytr, Xte, yte, dev, losses, p, T, k, settings, t0)


def _measure(m, names, loss_fn, Xtr, ytr, Xte, yte, dev, losses, p, T, k, settings, t0) -> BenchResult:
    import torch

    from numerics import interpolation as I
    from numerics.curl import minimum_curl
    from numerics.gradient_noise import per_sample_gradients
    from numerics.gradstats import HessianOperator, top_hessian_eigenpairs
    from numerics.noise_curvature import (NotAStrictMinimumError, noise_hessian_alignment,
                                          stationary_covariance)

    seed, n_random, n_bootstrap = settings["seed"], settings["n_random"], settings["n_bootstrap"]
    polish_lr, polish_steps, line_points = settings["polish_lr"], settings["polish_steps"], settings["line_points"]

    # --- spectra, DT.eq7, SC.B2 at θ (train loss) ---
    op = HessianOperator(m, loss_fn, Xtr, ytr)
    eig = top_hessian_eigenpairs(op, k, seed=seed)
    G = per_sample_gradients(m, loss_fn, Xtr, ytr).to(torch.float64)
    Gc = G - G.mean(0)
    N = G.shape[0]
    gram = (Gc @ Gc.T) / N if N <= p else (Gc.T @ Gc) / N
    noise = np.sort(torch.linalg.eigvalsh(gram).cpu().numpy())[::-1][:k].copy()
    U = torch.from_numpy(np.ascontiguousarray(eig.vectors)).to(G.device, torch.float64)
    P = Gc @ U
    Dk = (P.T @ P / N).cpu().numpy()
    Dk = 0.5 * (Dk + Dk.T)
    Hk = np.diag(eig.values)
    spectra = Spectra(hessian=eig.values.copy(), residuals=eig.residuals.copy(), noise=noise,
                      noise_in_hessian_basis=np.diag(Dk).copy())
    al = noise_hessian_alignment(Dk, Hk)
    dt = NoiseVsCurvature(constant=al.constant, pearson=al.pearson, relative_residual=al.relative_residual,
                          off_diagonal_share=al.off_diagonal_share, hessian_eigenvalues=al.hessian_eigenvalues,
                          noise_diagonal=al.noise_diagonal)
    try:
        sc = stationary_covariance(Hk, Dk, T)
        b2 = StationaryCovariancePart(available=True, reason="", laplace=sc.laplace_symmetric, lyapunov=sc.lyapunov,
                                      relative_difference=sc.relative_difference, asymmetry=sc.asymmetry)
    except NotAStrictMinimumError as exc:
        b2 = StationaryCovariancePart(available=False, reason=str(exc))
    del G, Gc, P

    # --- curl (SC.A1) ---
    mc = minimum_curl(m, loss_fn, Xtr, ytr, k=k, n_random=n_random, n_bootstrap=n_bootstrap, seed=seed)
    curl = Curl(top=mc.top.value, top_stderr=mc.top.stderr, top_noise_floor=mc.top.noise_floor,
                top_consistent_with_zero=mc.top.consistent_with_zero, random=mc.random.value,
                random_stderr=mc.random.stderr, random_noise_floor=mc.random.noise_floor,
                random_consistent_with_zero=mc.random.consistent_with_zero,
                gradient_norm_ratio=mc.gradient_norm_ratio)

    # --- the train→test line (SC App. F) and SC.eq4 ---
    gen = torch.Generator(device=dev).manual_seed(seed)
    if polish_lr == "auto":
        if not eig.values[0] > 0:
            raise BenchError(f"the train Hessian at θ has no positive eigenvalue (λ_max = {eig.values[0]:.3g}): "
                             f"pass polish_lr explicitly")
        polish_lr = 1.0 / float(eig.values[0])
        settings = {**settings, "polish_lr": polish_lr}
    th_tr = I.polish(m, loss_fn, Xtr, ytr, lr=polish_lr, steps=polish_steps, generator=gen, name="train")
    th_te = I.polish(m, loss_fn, Xte, yte, lr=polish_lr, steps=polish_steps, generator=gen, name="test")
    alphas = np.linspace(-1.0, 2.0, line_points)
    lines = I.line_losses(m, loss_fn, th_tr, th_te, alphas, {"train": (Xtr, ytr), "test": (Xte, yte)})
    fit = I.line_fit(alphas, lines["train"], lines["test"])
    s = th_te - th_tr
    q_test = I.hessian_quadratic_form(m, loss_fn, Xte, yte, th_te, s)
    q_train = I.hessian_quadratic_form(m, loss_fn, Xtr, ytr, th_tr, s)
    tr_line, te_line = np.asarray(lines["train"]), np.asarray(lines["test"])

    def grad_norm(theta, X, y):
        return float(torch.linalg.vector_norm(HessianOperator(I.with_parameters(m, theta), loss_fn, X, y).gradient()))

    line = Line(alphas=alphas, train_loss=tr_line, test_loss=te_line, shift_norm=float(s.norm()),
                train_argmin_alpha=float(alphas[int(np.argmin(tr_line))]),
                test_argmin_alpha=float(alphas[int(np.argmin(te_line))]),
                gradient_norm_train=grad_norm(th_tr, Xtr, ytr), gradient_norm_test=grad_norm(th_te, Xte, yte), fit=fit, quadratic_form_test=q_test, quadratic_form_train=q_train)
    predicted, half = I.shift_curvature_prediction(fit.test_loss_at_test_min, q_test)
    meas = fit.test_loss_at_train_min
    eq4 = TestLossDecomposition(measured=meas, depth=fit.test_loss_at_test_min, shift_curvature=half,
                                predicted=predicted, relative_error=abs(meas - predicted) / abs(meas) if meas else
                                float("nan"), shift_curvature_fit=fit.shift_curvature,
                                predicted_fit=fit.eq3_prediction, relative_error_fit=fit.eq3_relative_error)
    return BenchResult(T=T, k=k, p=p, n_train=int(Xtr.shape[0]), n_test=int(Xte.shape[0]), parameters=names,
                       device=str(dev), train_loss=losses["train"], test_loss=losses["test"], spectra=spectra,
                       dt_eq7=dt, curl=curl, sc_b2=b2, line=line, sc_eq4=eq4,
                       wall_time_s=time.perf_counter() - t0, settings=settings)


# --------------------------------------------------------------------------------------------
# python -m validation bench
# --------------------------------------------------------------------------------------------
#: the files ``python -m validation bench`` writes into ``--out``
OUTPUT_FILES = ("bench.json", "bench.png")


def load_factory(spec: str):
    """The callable named by ``"package.module:function"`` — dotted Python identifiers only (each part
    ``str.isidentifier()`` and not a keyword), imported with :func:`importlib.import_module`; nothing is
    evaluated. Raises :class:`BenchError` naming what to pass."""
    import importlib
    import keyword

    if not isinstance(spec, str) or spec.count(":") != 1:
        raise BenchError(f"--model must look like package.module:factory (one colon); got {spec!r}")
    mod_name, attr = spec.split(":")
    parts = mod_name.split(".") + attr.split(".")
    if not all(p.isidentifier() and not keyword.iskeyword(p) for p in parts):
        raise BenchError(f"--model {spec!r}: the module path and the factory must be dotted Python identifiers "
                         f"(e.g. examples.digits_mlp:factory); nothing else is accepted")
    try:
        obj = importlib.import_module(mod_name)
    except ImportError as exc:
        raise BenchError(f"--model {spec!r}: cannot import {mod_name!r} ({exc}); run from the folder that holds it "
                         f"or install it") from exc
    for a in attr.split("."):
        if not hasattr(obj, a):
            raise BenchError(f"--model {spec!r}: {mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, a)
    if not callable(obj):
        raise BenchError(f"--model {spec!r} is not callable; name a function factory(data) → model")
    return obj


def _unpack_factory_result(out, T_arg):
    import torch

    loss_fn, T = torch.nn.functional.cross_entropy, None
    if isinstance(out, torch.nn.Module):
        model = out
    elif isinstance(out, tuple) and 2 <= len(out) <= 3 and isinstance(out[0], torch.nn.Module):
        model, loss_fn = out[0], out[1]
        T = out[2] if len(out) == 3 else None
    else:
        raise BenchError("the factory must return a model, (model, loss_fn) or (model, loss_fn, T); got "
                         f"{type(out).__name__}")
    T = T_arg if T_arg is not None else T
    if T is None:
        raise BenchError("the SGD temperature T = λ/B the model was trained at is unknown: pass --T, or return "
                         "(model, loss_fn, T) from the factory")
    return model, loss_fn, T


def run_cli(args) -> int:
    """``python -m validation bench``: factory → trained model on ``--data`` → :func:`bench` → JSON + PNG."""
    import os
    import tempfile
    from pathlib import Path

    from numerics.datasets import load_dataset

    from ._io import check_output_dir, check_output_file, write_json_atomic
    from .records import provenance

    folder = check_output_dir(args.out, force=args.force, example="runs/bench")
    paths = [check_output_file(folder / name, force=args.force, example=f"runs/bench/{name}")
             for name in OUTPUT_FILES]
    factory = load_factory(args.model)
    data = load_dataset(args.data, n_train=args.n_train, seed=args.seed)
    model, loss_fn, T = _unpack_factory_result(factory(data), args.T)
    dev = next(model.parameters()).device
    train = (data.X_train.to(dev), data.y_train.to(dev))
    test = (data.X_test.to(dev), data.y_test.to(dev))
    result = bench(model, loss_fn, train, test, T=T, k=args.k, polish_steps=args.polish_steps, seed=args.seed)
    summary = {"bench": {"model": args.model, "data": args.data, "n_train": data.n_train, "seed": args.seed},
               **result.to_dict(),
               "provenance": provenance(device=str(dev), seed=args.seed, wall_time_s=result.wall_time_s)}
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(summary, paths[0])
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".bench.png.", suffix=".tmp")
    os.close(fd)
    try:
        result.plot().savefig(tmp, format="png", dpi=90)
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # as open() would give, not mkstemp's 0o600
        os.replace(tmp, paths[1])
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    print(result.table())
    print(f"wrote {Path(args.out) / OUTPUT_FILES[0]} and {Path(args.out) / OUTPUT_FILES[1]}")
    return 0


def add_parser(sub) -> None:
    """The ``bench`` subcommand of ``python -m validation``."""
    import argparse

    from numerics.datasets import DATASETS

    def positive_float(text):
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number; got {text!r}") from None
        if not (math.isfinite(x) and x > 0):
            raise argparse.ArgumentTypeError(f"expected a positive, finite number; got {text!r}")
        return x

    def whole(text):
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number; got {text!r}") from None
        if n < 0:
            raise argparse.ArgumentTypeError(f"expected a whole number ≥ 0; got {n}")
        return n

    b = sub.add_parser(
        "bench", help="measure your own network: spectra, DT.eq7, the curl, SC.B2, the train→test line, SC.eq4",
        description="Call FACTORY(data) (a function in an importable module: it returns the trained model, "
                    "(model, loss_fn) or (model, loss_fn, T)), then measure the model on the data set's train and "
                    "test splits with validation.bench; write OUT/bench.json (summary + provenance) and "
                    "OUT/bench.png, and print a short table.")
    b.add_argument("--model", required=True, metavar="MODULE:FACTORY",
                   help="e.g. examples.digits_mlp:factory — dotted identifiers only; imported, never evaluated.")
    b.add_argument("--data", required=True, choices=sorted(DATASETS), help="The data set (numerics.datasets).")
    b.add_argument("--n-train", type=whole, default=None, help="Training-set size (default: 70 %% of the data).")
    b.add_argument("--seed", type=whole, default=0, help="Split, Lanczos, subspace and bootstrap seed (default 0).")
    b.add_argument("--T", type=positive_float, default=None,
                   help="The SGD temperature λ/B the model was trained at (default: the factory's third value).")
    b.add_argument("--k", type=whole, default=8, help="Subspace dimension (top-k Hessian eigenpairs; default 8).")
    b.add_argument("--polish-steps", type=whole, default=1500,
                   help="Full-batch descent steps (step 0.05) to the train and test minima (default 1500).")
    b.add_argument("--out", default="runs/bench",
                   help="The output folder (default runs/bench); a non-empty folder is written into only with --force.")
    b.add_argument("--force", action="store_true", help="Replace bench.json / bench.png in a non-empty --out.")
    b.set_defaults(func=run_cli)
