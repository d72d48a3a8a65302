"""Gradient-noise statistics and curvature of any ``nn.Module`` at its current parameters.

For a model, a loss and data ``(X, y)`` (torch tensors), with ``U(θ) = (1/N) Σ_i U_i(θ)`` the
full-batch loss and ``g_i = ∂U_i`` the per-sample gradients, this module measures

* the gradient covariance ``D(θ) = (1/N) Σ_i (g_i − ḡ)(g_i − ḡ)ᵀ`` (the per-sample noise
  covariance C of DT.eq7; the diffusion matrix of SC.eq10 up to the factor η/2B that T = λ/B absorbs),
  in full for small p or projected ``Bᵀ D B`` onto a k-dimensional subspace for large p
  (:func:`gradient_covariance`);
* Hessian-vector products ``H v`` of U (:class:`HessianOperator`: forward-over-reverse
  ``jvp(grad U)`` or double backward);
* the top Hessian eigenpairs by Lanczos (ARPACK ``eigsh`` on a float64 ``LinearOperator`` of HVPs),
  with the residual norms ``‖H u − λ u‖`` (:func:`top_hessian_eigenpairs`);
* ``Tr H`` by Hutchinson's estimator with its standard error (:func:`hutchinson_trace`);
* the exact Hessian for small p (:func:`exact_hessian`, ``torch.func.hessian``).

Per-sample gradients are those of :func:`numerics.gradient_noise.per_sample_gradients` (its
Linear-stack route for MLPs, vmap otherwise). Everything runs on the device of ``device=``
(:func:`numerics.devices.resolve_device`; ``None`` keeps the model's device): the same functions
run the CPU tests and CUDA measurements.

Conventions. ``loss_fn(model(X), y)`` must be the *mean* over the batch of the per-sample losses
``loss_fn(model(x_i[None]), y_i[None])`` (``reduction="mean"``, the PyTorch default): then ``ḡ = ∂U``
and H is the Hessian of the same U whose gradients make D. The parameter vector θ is the
concatenation of the trainable parameters in ``model.named_parameters()`` order (the order of the
columns of the per-sample gradient matrix).

Typed errors (:class:`GradStatsError` and subclasses) say what to change: a model in training mode
with dropout or batch normalisation is refused (:class:`TrainModeError`: its loss is random or
batch-coupled, so "the" per-sample gradient is undefined — call ``model.eval()``); a non-finite loss
is :class:`NonFiniteLossError`; a p too large for a dense p×p matrix is
:class:`HessianTooLargeError` / :class:`CovarianceTooLargeError`, naming the subspace alternative.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from numerics.gradient_noise import per_sample_gradients

__all__ = [
    "GradStatsError",
    "TrainModeError",
    "NonFiniteLossError",
    "HessianTooLargeError",
    "CovarianceTooLargeError",
    "EXACT_HESSIAN_MAX_P",
    "HVP_METHODS",
    "FULL_COVARIANCE_MAX_P",
    "HessianOperator",
    "GradientCovariance",
    "Eigenpairs",
    "TraceEstimate",
    "hessian_operator",
    "gradient_covariance",
    "top_hessian_eigenpairs",
    "hutchinson_trace",
    "exact_hessian",
    "random_subspace",
    "projected_hessian",
]

#: Hessian-vector product methods of :class:`HessianOperator` (the first is the default)
HVP_METHODS = ("kept_graph", "jvp", "double_backward")
#: largest p for which :func:`exact_hessian` forms the dense p×p Hessian (p² float64 numbers and
#: p HVP-sized reverse passes; 4096² × 8 B = 128 MiB)
EXACT_HESSIAN_MAX_P = 4096
#: largest p for which :func:`gradient_covariance` forms the full p×p covariance
FULL_COVARIANCE_MAX_P = 8192


class GradStatsError(ValueError):
    """Bad input to a gradient-statistics function; the message says what to change."""


class TrainModeError(GradStatsError):
    """The model is in training mode and has dropout or batch-norm layers (random or batch-coupled
    loss); call ``model.eval()`` first."""


class NonFiniteLossError(GradStatsError, FloatingPointError):
    """The loss (or a gradient) at the given parameters is NaN or infinite."""


class HessianTooLargeError(GradStatsError, MemoryError):
    """p is too large for a dense p×p Hessian; use HVP-based routines instead."""


class CovarianceTooLargeError(GradStatsError, MemoryError):
    """p is too large for a full p×p gradient covariance; project onto a k-subspace instead."""


_STOCHASTIC = (torch.nn.modules.dropout._DropoutNd, torch.nn.modules.batchnorm._NormBase)


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _check_model(model) -> None:
    if not isinstance(model, torch.nn.Module):
        raise GradStatsError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if model.training:
        bad = sorted({type(m).__name__ for m in model.modules() if isinstance(m, _STOCHASTIC)
                      and not (isinstance(m, torch.nn.modules.dropout._DropoutNd) and m.p == 0)})
        if bad:
            raise TrainModeError(
                f"the model is in training mode and contains {', '.join(bad)}: in training mode its loss "
                f"is random (dropout) or couples the samples of a batch (batch norm), so per-sample "
                f"gradients, D and H are not defined. Call model.eval() before measuring.")
    if not any(p.requires_grad for p in model.parameters()):
        raise GradStatsError("the model has no parameter with requires_grad=True; nothing to differentiate")


def _check_data(X, y) -> None:
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise GradStatsError(f"X and y must be torch tensors; got {type(X).__name__}, {type(y).__name__}")
    if X.shape[0] != y.shape[0]:
        raise GradStatsError(f"X and y must have the same number of samples (first dimension); got "
                             f"{X.shape[0]} and {y.shape[0]}")
    if X.shape[0] < 2:
        raise GradStatsError(f"need at least 2 samples for a covariance; got {X.shape[0]}")


def _positive_int(value, name: str, *, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise GradStatsError(f"{name} must be an integer ≥ {low}; got {value!r}")
    return int(value)


def _to_device(model, X, y, device):
    """``(device, X, y)`` with the data on the model's device (``device=None``) or on ``device``
    (then the model must already live there: moving a user's model silently is a surprise)."""
    from numerics.devices import resolve_device

    params = [p for p in model.parameters()]
    model_dev = params[0].device if params else torch.device("cpu")
    dev = model_dev if device is None else resolve_device(device)
    if dev.type != model_dev.type or (dev.index is not None and model_dev.index is not None
                                      and dev.index != model_dev.index):
        raise GradStatsError(f"the model's parameters are on {model_dev} but device={dev}; move the model "
                             f"first (model.to({str(dev)!r})) or pass device=None")
    return dev, X.to(dev), y.to(dev)


def _trainable(model):
    return {k: v for k, v in model.named_parameters() if v.requires_grad}


def _flat(params: dict) -> torch.Tensor:
    return torch.cat([v.detach().reshape(-1) for v in params.values()])


def _unflatten(theta: torch.Tensor, params: dict) -> dict:
    out, i = {}, 0
    for k, v in params.items():
        n = v.numel()
        out[k] = theta[i:i + n].view_as(v)
        i += n
    return out


# --------------------------------------------------------------------------------------------
# Hessian-vector products
# --------------------------------------------------------------------------------------------
class HessianOperator:
    """The Hessian of ``U(θ) = loss_fn(model(X), y)`` at the model's current θ as an operator.

    ``matvec(v)``: ``H v`` for a (p,) tensor, or ``H V`` for a (p, m) one (column by column).
    ``method="kept_graph"`` (default) builds ``g = ∂U`` with its graph once and takes every product as
    one reverse pass ``∂(g·v)/∂θ`` through that kept graph (PyHessian's way; the graph's memory is held
    while the operator lives); ``"jvp"`` differentiates ``grad U`` forward-mode (``torch.func.jvp``);
    ``"double_backward"`` takes ``∂(∂U·v)/∂θ`` by two fresh reverse passes each time. All are exact to
    round-off; per product on the 64-256-10 benchmark MLP the kept graph is ~2× double_backward and
    ~3.5× jvp (benchmarks/bench_nets.py).
    Build it with :func:`hessian_operator`. ``n_matvec`` counts the products taken.
    """

    def __init__(self, model, loss_fn, X, y, *, method: str = "kept_graph", device=None):
        if method not in HVP_METHODS:
            raise GradStatsError(f"method must be one of {', '.join(map(repr, HVP_METHODS))}; got {method!r}")
        _check_model(model)
        _check_data(X, y)
        self.device, self.X, self.y = _to_device(model, X, y, device)
        self.model, self.loss_fn, self.method = model, loss_fn, method
        self._params = _trainable(model)
        self.theta = _flat(self._params)
        self.p = int(self.theta.numel())
        self.dtype = self.theta.dtype
        self.n_matvec = 0
        self._kept = None  # (θ leaf, ∂U with its graph) for method="kept_graph", built on the first product
        # the loss at θ: finite and scalar, or a typed error now rather than a NaN eigenvalue later
        value = self.loss(self.theta)
        if value.ndim != 0:
            raise GradStatsError(f"loss_fn(model(X), y) must return a scalar (reduction='mean'); got shape "
                                 f"{tuple(value.shape)}")
        if not torch.isfinite(value):
            raise NonFiniteLossError(f"the loss at the model's parameters is {float(value)}; the parameters "
                                     f"have diverged or the data hold NaN/inf — measure at a finite point")
        self.value = float(value)

    def loss(self, theta: torch.Tensor) -> torch.Tensor:
        """U at the flat parameter vector ``theta`` (differentiable in it)."""
        from torch.func import functional_call

        return self.loss_fn(functional_call(self.model, _unflatten(theta, self._params), (self.X,)), self.y)

    def gradient(self) -> torch.Tensor:
        """∂U at θ, a (p,) tensor."""
        from torch.func import grad

        return grad(self.loss)(self.theta).detach()

    def _hvp(self, v: torch.Tensor) -> torch.Tensor:
        if self.method == "jvp":
            from torch.func import grad, jvp

            return jvp(grad(self.loss), (self.theta,), (v,))[1].detach()
        if self.method == "kept_graph":
            # H v = ∂(g·v)/∂θ = the vector-Jacobian product of g = ∂U with v, through g's kept graph
            if self._kept is None:
                th = self.theta.clone().requires_grad_(True)
                with torch.enable_grad():
                    (g,) = torch.autograd.grad(self.loss(th), th, create_graph=True)
                self._kept = (th, g)
            th, g = self._kept
            (hv,) = torch.autograd.grad(g, th, grad_outputs=v, retain_graph=True)
            return hv.detach()
        th = self.theta.clone().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(self.loss(th), th, create_graph=True)
            (hv,) = torch.autograd.grad(g @ v, th)
        return hv.detach()

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        v = torch.as_tensor(v, dtype=self.dtype, device=self.device)
        if v.shape[0] != self.p or v.ndim not in (1, 2):
            raise GradStatsError(f"v must have shape ({self.p},) or ({self.p}, m); got {tuple(v.shape)}")
        if v.ndim == 1:
            self.n_matvec += 1
            return self._hvp(v)
        self.n_matvec += v.shape[1]
        return torch.stack([self._hvp(v[:, j]) for j in range(v.shape[1])], dim=1)

    __matmul__ = matvec

    def as_linear_operator(self):
        """A float64 ``scipy.sparse.linalg.LinearOperator`` (NumPy in and out; HVPs on the device)."""
        from scipy.sparse.linalg import LinearOperator

        def mv(x):
            x = np.asarray(x, dtype=np.float64).reshape(-1)
            hv = self.matvec(torch.from_numpy(x).to(self.device, self.dtype))
            return hv.to("cpu", torch.float64).numpy()

        return LinearOperator((self.p, self.p), matvec=mv, dtype=np.float64)


def hessian_operator(model, loss_fn, X, y, *, method: str = "kept_graph", device=None) -> HessianOperator:
    """The :class:`HessianOperator` of ``U = loss_fn(model(X), y)`` at the model's parameters.

    Raises :class:`TrainModeError`, :class:`NonFiniteLossError` or :class:`GradStatsError` (non-scalar
    loss, mismatched X/y, model on another device than ``device``).
    """
    return HessianOperator(model, loss_fn, X, y, method=method, device=device)


def _operator(op_or_model, loss_fn, X, y, device) -> HessianOperator:
    if isinstance(op_or_model, HessianOperator):
        return op_or_model
    if loss_fn is None or X is None or y is None:
        raise GradStatsError("pass a HessianOperator, or a model together with loss_fn, X and y")
    return HessianOperator(op_or_model, loss_fn, X, y, device=device)


# --------------------------------------------------------------------------------------------
# exact Hessian, Lanczos, Hutchinson
# --------------------------------------------------------------------------------------------
def exact_hessian(model, loss_fn, X, y, *, device=None, max_p: int = EXACT_HESSIAN_MAX_P) -> torch.Tensor:
    """The dense (p, p) Hessian of ``U = loss_fn(model(X), y)`` (``torch.func.hessian``), symmetrised.

    Raises :class:`HessianTooLargeError` when p > ``max_p`` (use :func:`top_hessian_eigenpairs`,
    :func:`hutchinson_trace` or :func:`projected_hessian` instead).
    """
    from torch.func import hessian

    op = model if isinstance(model, HessianOperator) else None
    if op is None:
        _check_model(model)
        n = sum(p.numel() for p in model.parameters() if p.requires_grad)
        if n > max_p:
            raise HessianTooLargeError(
                f"the model has p = {n} trainable parameters; a dense Hessian needs p² = {n * n:.3g} numbers "
                f"(max_p = {max_p}). Use top_hessian_eigenpairs (Lanczos on HVPs), hutchinson_trace, or "
                f"projected_hessian on a k-dimensional basis; or raise max_p if you have the memory.")
        op = HessianOperator(model, loss_fn, X, y, device=device)
    elif op.p > max_p:
        raise HessianTooLargeError(f"p = {op.p} > max_p = {max_p}; use top_hessian_eigenpairs, "
                                   f"hutchinson_trace or projected_hessian instead")
    H = hessian(op.loss)(op.theta).detach()
    if not bool(torch.isfinite(H).all()):
        raise NonFiniteLossError("the Hessian has NaN/inf entries at these parameters")
    return 0.5 * (H + H.T)


def projected_hessian(op_or_model, basis: torch.Tensor, loss_fn=None, X=None, y=None, *, device=None
                      ) -> torch.Tensor:
    """``Bᵀ H B`` (k, k) for a (p, k) basis B, from k HVPs (symmetrised)."""
    op = _operator(op_or_model, loss_fn, X, y, device)
    B = _check_basis(basis, op.p, op.dtype, op.device)
    HB = op.matvec(B)
    M = B.T @ HB
    return 0.5 * (M + M.T)


@dataclass(frozen=True)
class Eigenpairs:
    """Top Hessian eigenpairs (descending eigenvalues).

    ``values`` (k,), ``vectors`` (p, k) orthonormal columns (float64 NumPy), ``residuals`` (k,):
    ``‖H u − λ u‖₂`` recomputed with fresh HVPs, ``n_matvec``: HVPs taken by Lanczos, ``which``.
    """

    values: np.ndarray
    vectors: np.ndarray
    residuals: np.ndarray
    n_matvec: int
    which: str


def top_hessian_eigenpairs(op_or_model, k: int = 1, loss_fn=None, X=None, y=None, *, which: str = "LA",
                           tol: float = 1e-10, maxiter: int | None = None, ncv: int | None = None, seed: int = 0,
                           device=None) -> Eigenpairs:
    """Top-k eigenpairs of the Hessian by implicitly restarted Lanczos (ARPACK ``eigsh``, float64).

    ``which="LA"``: largest algebraic (the top of the spectrum; at a minimum also the largest in
    size); ``"LM"``: largest magnitude (negative curvature counts). ``op_or_model``: a
    :class:`HessianOperator`, or a model with ``loss_fn, X, y``. The start vector is drawn from
    ``numpy.random.default_rng(seed)`` (deterministic). Raises :class:`GradStatsError` for k ≥ p
    (ARPACK needs k < p: use :func:`exact_hessian`).
    """
    from scipy.sparse.linalg import ArpackNoConvergence, eigsh

    if which not in ("LA", "LM"):
        raise GradStatsError(f"which must be 'LA' (largest algebraic) or 'LM' (largest magnitude); got {which!r}")
    op = _operator(op_or_model, loss_fn, X, y, device)
    k = _positive_int(k, "k")
    if k >= op.p:
        raise GradStatsError(f"k = {k} eigenpairs of a p = {op.p} Hessian: Lanczos needs k < p; use "
                             f"exact_hessian and numpy.linalg.eigh for the whole spectrum")
    start = op.n_matvec
    v0 = np.random.default_rng(seed).standard_normal(op.p)
    try:
        vals, vecs = eigsh(op.as_linear_operator(), k=k, which=which, tol=tol, v0=v0, maxiter=maxiter, ncv=ncv)
    except ArpackNoConvergence as exc:
        raise GradStatsError(f"Lanczos did not converge to tol={tol} ({len(exc.eigenvalues)} of {k} "
                             f"eigenpairs); raise maxiter or ncv, or loosen tol") from exc
    n_mv = op.n_matvec - start
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    U = torch.from_numpy(np.ascontiguousarray(vecs)).to(op.device, op.dtype)
    HV = op.matvec(U).to("cpu", torch.float64).numpy()
    res = np.linalg.norm(HV - vecs * vals, axis=0)
    if not np.all(np.isfinite(vals)):
        raise NonFiniteLossError("Lanczos returned non-finite eigenvalues: the HVPs are NaN/inf at these parameters")
    return Eigenpairs(values=vals, vectors=vecs, residuals=res, n_matvec=n_mv, which=which)


@dataclass(frozen=True)
class TraceEstimate:
    """Hutchinson estimate of Tr H: ``value`` = mean of ``zᵀ H z`` over ``n_probes`` Rademacher
    probes, ``stderr`` = their standard deviation / √n_probes, ``samples``: the probe values."""

    value: float
    stderr: float
    n_probes: int
    samples: np.ndarray


def hutchinson_trace(op_or_model, n_probes: int = 100, loss_fn=None, X=None, y=None, *,
                     generator: torch.Generator | None = None, device=None) -> TraceEstimate:
    """``Tr H ≈ (1/m) Σ_j z_jᵀ H z_j`` with Rademacher z (unbiased; variance 2 Σ_{i≠j} H_ij²), with its
    standard error. ``generator``: a CPU ``torch.Generator`` (probes are drawn on the CPU, then moved).
    """
    op = _operator(op_or_model, loss_fn, X, y, device)
    n_probes = _positive_int(n_probes, "n_probes", low=2)
    vals = np.empty(n_probes)
    for j in range(n_probes):
        z = (torch.randint(0, 2, (op.p,), generator=generator) * 2 - 1).to(op.device, op.dtype)
        vals[j] = float(z @ op.matvec(z))
    if not np.all(np.isfinite(vals)):
        raise NonFiniteLossError("Hutchinson probes gave non-finite zᵀHz: the HVPs are NaN/inf here")
    return TraceEstimate(value=float(vals.mean()), stderr=float(vals.std(ddof=1) / math.sqrt(n_probes)),
                         n_probes=n_probes, samples=vals)


# --------------------------------------------------------------------------------------------
# gradient covariance
# --------------------------------------------------------------------------------------------
def random_subspace(p: int, k: int, *, generator: torch.Generator | None = None, dtype=torch.float64,
                    device="cpu") -> torch.Tensor:
    """A (p, k) orthonormal basis of a uniformly random k-dimensional subspace (QR of a Gaussian)."""
    p, k = _positive_int(p, "p"), _positive_int(k, "k")
    if k > p:
        raise GradStatsError(f"k = {k} > p = {p}: a subspace cannot have more dimensions than the space")
    A = torch.randn(p, k, generator=generator, dtype=torch.float64)
    Q, R = torch.linalg.qr(A)
    Q = Q * torch.sign(torch.diagonal(R))  # Haar-distributed
    return Q.to(device=device, dtype=dtype)


def _check_basis(basis, p: int, dtype, device) -> torch.Tensor:
    B = torch.as_tensor(basis)
    if B.ndim != 2 or B.shape[0] != p:
        raise GradStatsError(f"basis must be a (p, k) = ({p}, k) matrix of column vectors; got shape {tuple(B.shape)}")
    B = B.to(device=device, dtype=dtype)
    gram = B.T @ B
    if not torch.allclose(gram, torch.eye(B.shape[1], dtype=dtype, device=device), atol=1e-6):
        raise GradStatsError("basis columns must be orthonormal (BᵀB = I); orthonormalise it, e.g. with "
                             "torch.linalg.qr(basis).Q")
    return B


@dataclass(frozen=True)
class GradientCovariance:
    """The per-sample gradient covariance, full or projected.

    ``matrix``: ``D`` (p, p) or ``Bᵀ D B`` (k, k), float64 tensor on the CPU, with
    ``D = (1/N) Σ_i (g_i − ḡ)(g_i − ḡ)ᵀ``; ``mean_gradient``: ``ḡ`` (= ∂U) or ``Bᵀ ḡ``;
    ``basis``: B (p, k) or None (full); ``projected_gradients``: the (N, k) matrix ``G B`` (or the
    (N, p) G when full) — kept for bootstrap resampling; ``p``, ``n_samples``.
    """

    matrix: torch.Tensor
    mean_gradient: torch.Tensor
    basis: torch.Tensor | None
    projected_gradients: torch.Tensor
    p: int
    n_samples: int


def gradient_covariance(model, loss_fn, X, y, *, basis=None, k: int | None = None, subspace: str = "full",
                        generator: torch.Generator | None = None, sample_chunk: int | None = None, device=None,
                        method: str = "auto") -> GradientCovariance:
    """The gradient covariance ``D(θ)`` at the model's parameters (DT.eq7's C; SC.eq10's D up to η/2B).

    * ``subspace="full"`` (default, no ``basis``): the (p, p) matrix; :class:`CovarianceTooLargeError`
      when p > :data:`FULL_COVARIANCE_MAX_P`.
    * ``basis=B`` (p, k) orthonormal: ``Bᵀ D B``.
    * ``subspace="random"`` with ``k``: a random k-subspace (:func:`random_subspace`, ``generator``).
    * ``subspace="hessian"`` with ``k``: the top-k Hessian eigenvectors (:func:`top_hessian_eigenpairs`).

    Projected covariances never form the (N, p) per-sample gradient matrix at once when
    ``sample_chunk`` is given: gradients of ``sample_chunk`` samples at a time are projected and
    kept as (N, k). ``method``: the per-sample gradient route of
    :func:`numerics.gradient_noise.per_sample_gradients`.
    """
    _check_model(model)
    _check_data(X, y)
    dev, X, y = _to_device(model, X, y, device)
    p = sum(v.numel() for v in _trainable(model).values())
    dtype = next(iter(_trainable(model).values())).dtype
    if subspace not in ("full", "random", "hessian"):
        raise GradStatsError(f"subspace must be 'full', 'random' or 'hessian'; got {subspace!r}")
    if basis is None and subspace != "full":
        if k is None:
            raise GradStatsError(f"subspace={subspace!r} needs k (the subspace dimension)")
        k = _positive_int(k, "k")
        if subspace == "random":
            basis = random_subspace(p, k, generator=generator, dtype=dtype, device=dev)
        else:
            eig = top_hessian_eigenpairs(HessianOperator(model, loss_fn, X, y), k)
            basis = torch.from_numpy(np.ascontiguousarray(eig.vectors))
    if basis is None and p > FULL_COVARIANCE_MAX_P:
        raise CovarianceTooLargeError(
            f"p = {p}: the full covariance needs p² = {p * p:.3g} numbers (FULL_COVARIANCE_MAX_P = "
            f"{FULL_COVARIANCE_MAX_P}). Pass basis=B (p×k), or subspace='random'/'hessian' with k.")
    B = None if basis is None else _check_basis(basis, p, dtype, dev)
    N = X.shape[0]
    chunk = N if sample_chunk is None else _positive_int(sample_chunk, "sample_chunk")
    blocks = []
    for s in range(0, N, chunk):
        G = per_sample_gradients(model, loss_fn, X[s:s + chunk], y[s:s + chunk], method=method)
        blocks.append(G if B is None else G @ B)
    P = torch.cat(blocks).to("cpu", torch.float64)
    if not bool(torch.isfinite(P).all()):
        raise NonFiniteLossError("per-sample gradients are NaN/inf at these parameters (a per-sample loss "
                                 "is not finite); measure at a finite point or check the data")
    mean = P.mean(0)
    Pc = P - mean
    D = Pc.T @ Pc / N
    return GradientCovariance(matrix=0.5 * (D + D.T), mean_gradient=mean,
                              basis=None if B is None else B.to("cpu", torch.float64),
                              projected_gradients=P, p=p, n_samples=N)
