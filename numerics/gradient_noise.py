"""Per-sample gradients of real PyTorch models and the statistics of minibatch gradient noise.

Used to measure DT.fig1 (is SGD noise across minibatches Gaussian?) and the SGD step cumulants of
SC.eq23: the minibatch-mean gradient of B i.i.d. samples has cumulants ω_γ / B^{|γ|−1}, so its
standardized skewness falls as B^{−1/2} and its excess kurtosis as B^{−1} (central limit theorem,
with the exact finite-B rate).

Conventions: per-sample gradients ``G`` are an (N, p) tensor; the minibatch noise of batch size B is
``ξ = (1/B) Σ_{i∈batch} g_i − ḡ`` with the batch drawn uniformly *with replacement* (the i.i.d. model
of the theory; without replacement only adds a finite-population factor (N−B)/(N−1) to the variance).
:func:`per_sample_gradient_blocks` returns the same gradients per parameter, ``(N, *param.shape)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = [
    "AUTO_CHUNK_BYTES",
    "per_sample_gradients",
    "per_sample_gradient_blocks",
    "gradient_mean_variance",
    "GradientMoments",
    "per_sample_gradient_moments",
    "minibatch_noise",
    "gaussian_reference_noise",
    "standardized_moments",
    "principal_directions",
]


# Elementwise (or row-wise) parameter-free modules the Linear-stack path runs as they are: on a batch
# each row of their output depends only on the same row of their input, so the batched forward is
# the per-sample forward row by row.
_ROWWISE = (torch.nn.Identity, torch.nn.Tanh, torch.nn.ReLU, torch.nn.ReLU6, torch.nn.Sigmoid,
            torch.nn.GELU, torch.nn.SiLU, torch.nn.Mish, torch.nn.Softplus, torch.nn.ELU, torch.nn.CELU,
            torch.nn.SELU, torch.nn.LeakyReLU, torch.nn.Hardtanh, torch.nn.Hardswish, torch.nn.Hardsigmoid,
            torch.nn.LogSigmoid, torch.nn.Tanhshrink, torch.nn.Softsign)

# Memory the vmap path may use for its per-sample intermediates before it works in chunks
# (``chunk_size="auto"``); about three (chunk, p) tensors live at once.
AUTO_CHUNK_BYTES = 2**30

_METHODS = ("auto", "linear", "vmap")

# N·p up to which per_sample_gradient_moments on the Linear-stack route writes every per-sample
# gradient into one (N, p) matrix (the blocks are views of its column ranges) and takes ḡ and D from
# it by a few whole-matrix operations: for small problems the ~8 operations per layer of the delta
# formula cost more in dispatch than in arithmetic. Measured (one thread, float64, 2-layer tanh MLPs
# and logistic regression): the matrix is faster up to N·p ≈ 1e5 (logistic regression of
# benchmarks/bench_nets.py, N·p = 35 278: 7 % less time), slower from ≈ 1.7e5 on (cache-sized
# temporaries; 1.8× at 1.8e5, 6× at 2e6).
_MATRIX_MOMENTS_MAX = 2**16


def per_sample_gradients(model: torch.nn.Module, loss_fn, X: torch.Tensor, y: torch.Tensor, *,
                         method: str = "auto", chunk_size: int | str | None = "auto",
                         out: torch.Tensor | None = None) -> torch.Tensor:
    r"""(N, p) matrix of the per-sample gradients ``G[i] = ∂_θ U(x_i, θ)``, flattened over the
    trainable parameters in ``model.named_parameters()`` order.

    ``U(x_i, θ) = loss_fn(model(x_i[None]), y_i[None])``: each sample is a batch of one, so a loss
    with ``reduction="mean"`` or ``"sum"`` gives the same rows.

    The routes give the same matrix (float64: equal to a per-sample autograd loop to ~1e-15
    relative):

    * ``method="linear"`` — an ``nn.Sequential`` (nested ones too) of ``nn.Linear`` layers and
      parameter-free elementwise activations (``Tanh``, ``ReLU``, ``GELU``, … and ``Flatten``):
      one batched forward and one batched backward give the deltas ``δ_l = ∂U_i/∂z_l`` at every
      layer output ``z_l = a_{l−1} W_lᵀ + b_l``; then ``∂U_i/∂W_l = δ_l,i ⊗ a_{l−1},i`` and
      ``∂U_i/∂b_l = δ_l,i`` are written straight into the (N, p) result (BackPACK's ``BatchGrad``
      construction, without per-parameter tensors to concatenate afterwards). Cross-entropy and MSE
      losses are evaluated batched with ``reduction="none"``; other losses per sample by ``vmap``.
      Plain cross-entropy on int64 class labels (no class weight, no label smoothing, no ignored
      label) is not evaluated at all: its output delta is ``softmax(z_L) − e_y`` in closed form, and
      autograd runs only through the layers below the output (none for logistic regression).
    * ``method="vmap"`` — any model: ``torch.func.vmap(grad(U))`` over the samples, in chunks of
      ``chunk_size`` samples (``"auto"``: none when the ~3 (N, p) intermediates fit in
      :data:`AUTO_CHUNK_BYTES`, else the largest chunk that does; ``None``: never chunk).
    * ``method="auto"`` (default) takes ``"linear"`` when the model qualifies, else ``"vmap"``.

    ``out``: an optional contiguous (N, p) tensor of the result's dtype and device to write into
    (repeated calls then skip allocating and first-touching N·p numbers, which is most of the time
    of the Linear route on a CPU); it is returned.

    :func:`per_sample_gradient_blocks` gives the same numbers per parameter, ``{name: (N, *shape)}``
    (BackPACK's ``grad_batch`` form), without assembling the matrix.
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}")
    positive_int = isinstance(chunk_size, int) and not isinstance(chunk_size, bool) and chunk_size >= 1
    if not (chunk_size is None or positive_int or (isinstance(chunk_size, str) and chunk_size == "auto")):
        raise ValueError(f"chunk_size must be 'auto', None or a positive int; got {chunk_size!r}")
    names = [k for k, v in model.named_parameters() if v.requires_grad]
    if not names:
        raise ValueError("model has no trainable parameters")
    if method != "vmap":
        layers, why = _linear_stack(model)
        if layers is not None:
            G = _linear_stack_gradients(layers, loss_fn, X, y, out=out)
            if G is not None:
                return G
            why = "an nn.Linear layer received an input that is not (N, features)"
        if method == "linear":
            raise TypeError(f"method='linear' needs an nn.Sequential of nn.Linear layers and parameter-free "
                            f"elementwise activations; {why}. Use method='vmap' (any model) or 'auto'.")
    return _vmap_gradients(model, loss_fn, X, y, chunk_size=chunk_size, out=out)


def _linear_stack(model):
    """The flat module list of a qualifying Linear stack, or (None, reason)."""
    from torch.nn.modules import module as _module

    if any(getattr(_module, h, None) for h in ("_global_forward_hooks", "_global_forward_pre_hooks",
                                                  "_global_backward_hooks", "_global_backward_pre_hooks")):
        return None, "global module hooks are registered"
    layers, seen = [], set()

    def walk(m):
        if m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks:
            return f"{type(m).__name__} has hooks"
        if type(m) is torch.nn.Sequential:
            for c in m:
                r = walk(c)
                if r:
                    return r
            return None
        if id(m) in seen:
            return f"the module {type(m).__name__} is used twice (shared parameters)"
        seen.add(id(m))
        if type(m) is torch.nn.Linear:
            layers.append(m)
            return None
        if type(m) in _ROWWISE or (type(m) is torch.nn.Flatten and m.start_dim == 1 and m.end_dim == -1):
            if next(m.parameters(recurse=True), None) is not None or next(m.buffers(), None) is not None:
                return f"{type(m).__name__} has parameters or buffers"
            layers.append(m)
            return None
        if type(m) is torch.nn.Dropout and (not m.training or m.p == 0):
            return None
        return f"it contains {type(m).__name__}"

    why = walk(model)
    if why is None and not any(type(m) is torch.nn.Linear for m in layers):
        why = "it has no nn.Linear layer"
    return (None, why) if why else (layers, None)


def _per_sample_losses(loss_fn, out, y):
    """Vector of ``loss_fn(out[i:i+1], y[i:i+1])`` (differentiable in ``out``).

    The common losses are evaluated batched with ``reduction="none"`` where that is the same
    per-sample value; any other callable goes through ``torch.func.vmap``.
    """
    F = torch.nn.functional
    ce = mse = None
    if loss_fn is F.cross_entropy:
        ce = {}
    elif type(loss_fn) is torch.nn.CrossEntropyLoss and loss_fn.weight is None and \
            loss_fn.reduction in ("mean", "sum"):
        ce = {"ignore_index": loss_fn.ignore_index, "label_smoothing": loss_fn.label_smoothing}
    elif loss_fn is F.mse_loss:
        mse = "mean"
    elif type(loss_fn) is torch.nn.MSELoss and loss_fn.reduction in ("mean", "sum"):
        mse = loss_fn.reduction
    if ce is not None and out.ndim == 2:
        if (y.ndim == 1 and not y.is_floating_point()
                and not bool((y == ce.get("ignore_index", -100)).any())) or \
                (y.shape == out.shape and y.is_floating_point()):
            return F.cross_entropy(out, y, reduction="none", **ce)
    if mse is not None and y.shape == out.shape:
        sq = F.mse_loss(out, y, reduction="none").reshape(out.shape[0], -1)
        return sq.mean(1) if mse == "mean" else sq.sum(1)
    from torch.func import vmap

    return vmap(lambda o, t: loss_fn(o.unsqueeze(0), t.unsqueeze(0)))(out, y)


def _linear_stack_deltas(layers, loss_fn, X, y):
    """``(linears, inputs, deltas)`` of a Linear stack — the trainable ``nn.Linear`` layers, their
    inputs ``a_{l−1}`` and the per-sample deltas ``δ_l = ∂U_i/∂z_l`` from one batched forward and one
    batched backward — or None when a layer's input is not (N, features)."""
    F = torch.nn.functional
    linears, inputs, zs = [], [], []
    with torch.enable_grad():
        a = X
        for m in layers:
            if type(m) is torch.nn.Linear:
                if a.ndim != 2:
                    return None
                trainable = m.weight.requires_grad or (m.bias is not None and m.bias.requires_grad)
                z = F.linear(a, m.weight.detach(), None if m.bias is None else m.bias.detach())
                if not z.requires_grad:  # the first layer: nothing before it needs a gradient
                    z.requires_grad_(True)
                if trainable:
                    linears.append(m)
                    inputs.append(a.detach())
                    zs.append(z)
                a = z
            else:  # an in-place activation must not overwrite z_l, whose gradient is the delta
                a = m(a.clone()) if getattr(m, "inplace", False) else m(a)
        head = _cross_entropy_output_delta(loss_fn, a, y)
        if head is None:
            losses = _per_sample_losses(loss_fn, a, y)
            if losses.shape != (X.shape[0],):
                raise ValueError(f"loss_fn must return a scalar for a batch of one sample; got shape "
                                 f"{tuple(losses.shape[1:])} per sample")
            deltas = torch.autograd.grad(losses.sum(), zs)
        else:  # the output delta in closed form; autograd only through the layers below it
            last = [head] if zs[-1] is a else []
            below = zs[:len(zs) - len(last)]
            deltas = (tuple(torch.autograd.grad(a, below, grad_outputs=head)) if below else ()) + tuple(last)
    return linears, inputs, deltas


def _cross_entropy_output_delta(loss_fn, out, y):
    """``∂U_i/∂out_i = softmax(out_i) − e_{y_i}`` — the per-sample cross-entropy's gradient in its
    logits, in closed form — for plain cross-entropy with int64 class labels (no class weight, no
    label smoothing, no ignored label); else None (the caller then differentiates the loss)."""
    F = torch.nn.functional
    if loss_fn is F.cross_entropy:
        ignore = -100
    elif type(loss_fn) is torch.nn.CrossEntropyLoss and loss_fn.weight is None and \
            loss_fn.reduction in ("mean", "sum") and loss_fn.label_smoothing == 0:
        ignore = loss_fn.ignore_index
    else:
        return None
    if out.ndim != 2 or y.ndim != 1 or y.dtype != torch.int64 or y.shape[0] != out.shape[0] or \
            y.device != out.device or bool((y == ignore).any()):
        return None
    d = torch.log_softmax(out.detach(), 1).exp_()  # softmax; ~1.5× faster than torch.softmax on a CPU
    return d.scatter_add_(1, y.unsqueeze(1), torch.full((out.shape[0], 1), -1.0, dtype=d.dtype, device=d.device))


def _linear_stack_gradients(layers, loss_fn, X, y, *, out=None):
    """Per-sample gradients of a Linear stack from batched deltas; None when an input is not 2-D."""
    found = _linear_stack_deltas(layers, loss_fn, X, y)
    if found is None:
        return None
    linears, _, deltas = found
    p = sum(m.weight.numel() * m.weight.requires_grad
            + (0 if m.bias is None else m.bias.numel() * m.bias.requires_grad) for m in linears)
    G = _result_buffer(out, X.shape[0], p, deltas[0].dtype, deltas[0].device)
    _write_linear_gradients(found, G)
    return G


def _write_linear_gradients(found, G):
    """Write ``∂U_i/∂W_l = δ_l,i ⊗ a_{l−1},i`` and ``∂U_i/∂b_l = δ_l,i`` of the Linear-stack
    ``found = (linears, inputs, deltas)`` into the columns of the (N, p) ``G``, layer by layer, weight
    before bias (``named_parameters()`` order of the stack); returns ``{id(param): first column}``."""
    N, col, where = G.shape[0], 0, {}
    for m, a_in, d in zip(*found):
        n_out, n_in = m.weight.shape
        if m.weight.requires_grad:
            torch.mul(d.unsqueeze(2), a_in.unsqueeze(1), out=G[:, col:col + n_out * n_in].view(N, n_out, n_in))
            where[id(m.weight)] = col
            col += n_out * n_in
        if m.bias is not None and m.bias.requires_grad:
            G[:, col:col + n_out].copy_(d)
            where[id(m.bias)] = col
            col += n_out
    return where


def per_sample_gradient_blocks(model: torch.nn.Module, loss_fn, X: torch.Tensor, y: torch.Tensor, *,
                               method: str = "auto", chunk_size: int | str | None = "auto") -> dict:
    r"""The per-sample gradients of :func:`per_sample_gradients` one parameter at a time: a dict
    ``{name: (N, *param.shape) tensor}`` over the trainable parameters in
    ``model.named_parameters()`` order — the form of BackPACK's ``BatchGrad`` (``param.grad_batch``),
    with no (N, p) matrix assembled (issue 9 point 5, the like-for-like comparison with BackPACK).

    ``blocks[name][i] = ∂U(x_i, θ)/∂param`` with ``U(x_i, θ) = loss_fn(model(x_i[None]), y_i[None])``;
    ``torch.cat([b.reshape(N, -1) for b in blocks.values()], 1)`` is ``per_sample_gradients(...)``
    (to round-off; float64: ~1e-15 relative to a per-sample autograd loop). ``method`` and
    ``chunk_size`` as in :func:`per_sample_gradients`: the Linear-stack route forms each
    ``∂U_i/∂W_l = δ_l,i ⊗ a_{l−1},i`` as its own (N, out, in) tensor and ``∂U_i/∂b_l = δ_l,i``; the
    vmap route returns ``vmap(grad(U))``'s per-parameter tensors as they are.
    """
    return _blocks_and_deltas(model, loss_fn, X, y, method, chunk_size)[0]


def _blocks_and_deltas(model, loss_fn, X, y, method, chunk_size, *, matrix_max=0):
    """``(blocks, deltas, G)``: the per-parameter per-sample gradients, the Linear-stack
    ``(linears, inputs, deltas)`` they were formed from (None on the vmap route), and — on the
    Linear-stack route when N·p ≤ ``matrix_max`` — the (N, p) matrix whose column ranges the blocks
    are views of (else None: each block its own tensor)."""
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}")
    positive_int = isinstance(chunk_size, int) and not isinstance(chunk_size, bool) and chunk_size >= 1
    if not (chunk_size is None or positive_int or (isinstance(chunk_size, str) and chunk_size == "auto")):
        raise ValueError(f"chunk_size must be 'auto', None or a positive int; got {chunk_size!r}")
    named = [(k, v) for k, v in model.named_parameters() if v.requires_grad]
    if not named:
        raise ValueError("model has no trainable parameters")
    if method != "vmap":
        layers, why = _linear_stack(model)
        found = None if layers is None else _linear_stack_deltas(layers, loss_fn, X, y)
        if found is not None:
            N, p = X.shape[0], sum(v.numel() for _, v in named)
            if N * p <= matrix_max:
                d0 = found[2][0]
                G = torch.empty(N, p, dtype=d0.dtype, device=d0.device)
                col = _write_linear_gradients(found, G)
                return {k: G[:, col[id(v)]:col[id(v)] + v.numel()].view(N, *v.shape) for k, v in named}, found, G
            by_id = {}
            for m, a_in, d in zip(*found):
                if m.weight.requires_grad:
                    by_id[id(m.weight)] = torch.mul(d.unsqueeze(2), a_in.unsqueeze(1))
                if m.bias is not None and m.bias.requires_grad:
                    by_id[id(m.bias)] = d
            return {k: by_id[id(v)] for k, v in named}, found, None
        if layers is not None:
            why = "an nn.Linear layer received an input that is not (N, features)"
        if method == "linear":
            raise TypeError(f"method='linear' needs an nn.Sequential of nn.Linear layers and parameter-free "
                            f"elementwise activations; {why}. Use method='vmap' (any model) or 'auto'.")
    g, _, _ = _vmap_blocks(model, loss_fn, X, y, chunk_size=chunk_size)
    return g, None, None


def _result_buffer(out, N, p, dtype, device):
    """``out`` checked, or a new (N, p) result."""
    # Not NumPy's transparent-huge-page allocation: it halves the first touch of back-to-back calls,
    # but on VMs with free-page reporting a first touch after a pause then costs ~1 s (bench MLP).
    if out is None:
        return torch.empty(N, p, dtype=dtype, device=device)
    if tuple(out.shape) != (N, p) or out.dtype != dtype or out.device != torch.device(device) or \
            not out.is_contiguous():
        raise ValueError(f"out must be a contiguous ({N}, {p}) {dtype} tensor on {device}; got "
                         f"{tuple(out.shape)} {out.dtype} on {out.device}")
    return out


def _vmap_blocks(model, loss_fn, X, y, *, chunk_size="auto"):
    """``({name: (N, *shape)}, N, p)`` from ``vmap(grad(U))`` over the samples, chunked as asked."""
    from torch.func import functional_call, grad, vmap

    params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    N = X.shape[0]
    p = sum(v.numel() for v in params.values())
    if chunk_size == "auto":
        itemsize = next(iter(params.values())).element_size()
        fit = AUTO_CHUNK_BYTES // max(1, 3 * p * itemsize)
        chunk_size = None if fit >= N else max(1, int(fit))

    def sample_loss(prm, xi, yi):
        return loss_fn(functional_call(model, prm, (xi.unsqueeze(0),)), yi.unsqueeze(0))

    g = vmap(grad(sample_loss), in_dims=(None, 0, 0), chunk_size=chunk_size)(params, X, y)
    return {k: g[k] for k in params}, N, p


def _vmap_gradients(model, loss_fn, X, y, *, chunk_size="auto", out=None):
    g, N, p = _vmap_blocks(model, loss_fn, X, y, chunk_size=chunk_size)
    blocks = [v.reshape(N, -1) for v in g.values()]
    return torch.cat(blocks, dim=1, out=_result_buffer(out, N, p, blocks[0].dtype, blocks[0].device))


def gradient_mean_variance(G: torch.Tensor, *, chunk_rows: int | str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    r"""``(ḡ, diag D)`` of an (N, p) per-sample gradient matrix: the mean gradient
    ``ḡ = (1/N) Σ_i g_i`` and the diagonal of the gradient covariance
    ``D_jj = (1/N) Σ_i (g_ij − ḡ_j)²`` (population normalisation, as :mod:`numerics.gradstats` and
    BackPACK's ``Variance``; DT.eq7's C, SC.eq10's D up to η/2B).

    Two passes, centred (no ``E[g²] − ḡ²`` cancellation): ḡ by a matrix-vector product, then the
    squared deviations of ``chunk_rows`` rows at a time summed by another (``"auto"``: rows of about
    1 MiB together, at least 8) — about 4× less time than ``torch.var_mean(G, 0)`` (a reduction
    across rows) on a CPU for the benchmark MLP's 1797 × 19 210 matrix, with the extra memory of one
    (chunk_rows, p) block. Equal to ``torch.var_mean(G, 0, correction=0)`` to round-off.
    """
    if not isinstance(G, torch.Tensor) or G.ndim != 2 or not G.is_floating_point():
        raise ValueError(f"G must be a floating-point (N, p) tensor of per-sample gradients; got "
                         f"{type(G).__name__} {tuple(getattr(G, 'shape', ()))}")
    if not (isinstance(chunk_rows, str) and chunk_rows == "auto") and (
            isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1):
        raise ValueError(f"chunk_rows must be 'auto' or a positive int; got {chunk_rows!r}")
    N, p = G.shape
    if chunk_rows == "auto":
        chunk_rows = max(8, 2**20 // max(1, p * G.element_size()))
    if N < 1:
        raise ValueError("G has no rows; pass at least one per-sample gradient")
    ones = torch.ones(N, dtype=G.dtype, device=G.device)
    mean = ones @ G / N
    acc = torch.zeros(p, dtype=G.dtype, device=G.device)
    buf = torch.empty(min(chunk_rows, N), p, dtype=G.dtype, device=G.device)
    for s in range(0, N, chunk_rows):
        rows = min(chunk_rows, N - s)
        c = torch.sub(G[s:s + rows], mean, out=buf[:rows])
        c.mul_(c)
        acc.add_(ones[:rows] @ c)
    return mean, acc.div_(N)


@dataclass(frozen=True)
class GradientMoments:
    """Per-sample gradients per parameter with their first two moments (:func:`per_sample_gradient_moments`).

    ``blocks``: ``{name: (N, *param.shape)}`` as :func:`per_sample_gradient_blocks`; ``mean`` (p,):
    ḡ; ``variance`` (p,): the diagonal of D = Cov[g] (1/N), both flat in ``named_parameters()`` order;
    ``centred``: whether the variance was summed from centred deviations.
    """

    blocks: dict
    mean: torch.Tensor
    variance: torch.Tensor
    centred: bool


def per_sample_gradient_moments(model: torch.nn.Module, loss_fn, X: torch.Tensor, y: torch.Tensor, *,
                                centred: bool = True, method: str = "auto",
                                chunk_size: int | str | None = "auto") -> GradientMoments:
    r"""Per-sample gradients per parameter (:func:`per_sample_gradient_blocks`) together with the mean
    gradient ``ḡ`` and the diagonal of the gradient covariance ``D_jj = (1/N) Σ_i (g_ij − ḡ_j)²``
    (DT.eq7's C; BackPACK's ``BatchGrad`` + ``Variance`` in one call).

    ``centred=True`` (default): ḡ and D_jj from each block by :func:`gradient_mean_variance` (two
    passes over the blocks; exact to round-off however large ḡ is). ``centred=False`` on the
    Linear-stack route: from the layer deltas without reading the blocks again — for a weight
    ``ḡ = δᵀa/N`` and ``D = (δ∘δ)ᵀ(a∘a)/N − ḡ∘ḡ`` (two small matrix products; BackPACK's formula),
    for a bias the same with ``a = 1``; its absolute error is ~1e-16·E[g²], so the *relative* error of
    D_jj grows as ḡ_j²/D_jj — use it where the gradient noise is not dwarfed by the mean (as at and
    near minima). The vmap route always centres. ``method``, ``chunk_size``: as in
    :func:`per_sample_gradients`.

    Small Linear stacks (N·p ≤ 65 536): every per-sample gradient is written into one (N, p) matrix,
    the blocks are views of its column ranges (not separate tensors), and ḡ and D come from that
    matrix by the same formulas (``centred=False``: E[g²] − ḡ²; ``centred=True``:
    :func:`gradient_mean_variance`) — a few whole-matrix operations instead of ~8 per layer, equal to
    the per-layer route to ~1e-15 relative (benchmarks/bench_nets.py: logistic regression).
    """
    if not isinstance(centred, bool):
        raise ValueError(f"centred must be True or False; got {centred!r}")
    blocks, deltas, G = _blocks_and_deltas(model, loss_fn, X, y, method, chunk_size,
                                           matrix_max=_MATRIX_MOMENTS_MAX)
    if G is not None:  # a small Linear stack: whole-matrix operations, same formulas
        if centred:
            mean, variance = gradient_mean_variance(G)
        else:
            mean = G.mean(0)
            variance = torch.addcmul((G * G).mean(0), mean, mean, value=-1).clamp_(min=0)
        return GradientMoments(blocks=blocks, mean=mean, variance=variance, centred=centred)
    N = X.shape[0]
    means, variances = [], []
    fast = None if centred else deltas
    if fast is None:
        for b in blocks.values():
            m, v = gradient_mean_variance(b.reshape(N, -1))
            means.append(m)
            variances.append(v)
    else:
        by_id = {}
        for m, a_in, d in zip(*fast):
            if m.weight.requires_grad:
                mean = (d.T @ a_in).div_(N)
                second = ((d * d).T @ (a_in * a_in)).div_(N)
                by_id[id(m.weight)] = (mean.reshape(-1), second.reshape(-1).sub_(mean.reshape(-1) ** 2).clamp_(min=0))
            if m.bias is not None and m.bias.requires_grad:
                mean = d.mean(0)
                by_id[id(m.bias)] = (mean, (d * d).mean(0).sub_(mean * mean).clamp_(min=0))
        for k, v in model.named_parameters():
            if v.requires_grad:
                means.append(by_id[id(v)][0])
                variances.append(by_id[id(v)][1])
    return GradientMoments(blocks=blocks, mean=torch.cat(means), variance=torch.cat(variances),
                           centred=fast is None)


def minibatch_noise(G: torch.Tensor, batch_size: int, n_batches: int, *,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """``n_batches`` samples of the minibatch gradient noise ξ (rows), batches drawn with replacement."""
    if batch_size < 1 or n_batches < 1:
        raise ValueError(f"batch_size and n_batches must be ≥ 1; got {batch_size}, {n_batches}")
    N = G.shape[0]
    idx = torch.randint(0, N, (n_batches, batch_size), generator=generator, device=G.device)
    mean = G.mean(dim=0)
    out = torch.empty(n_batches, G.shape[1], dtype=G.dtype, device=G.device)
    step = max(1, int(2**24 // max(1, batch_size * G.shape[1])))
    for s in range(0, n_batches, step):
        out[s:s + step] = G[idx[s:s + step]].mean(dim=1) - mean
    return out


def gaussian_reference_noise(G: torch.Tensor, batch_size: int, n_samples: int, *,
                             generator: torch.Generator | None = None) -> torch.Tensor:
    """Gaussian samples with exactly the covariance of :func:`minibatch_noise`: Cov[g]/B.

    ``ξ = G_cᵀ z / sqrt(N B)``, z ∼ N(0, I_N), G_c the centred per-sample gradients.
    """
    N = G.shape[0]
    Gc = G - G.mean(dim=0)
    z = torch.randn(n_samples, N, generator=generator, dtype=G.dtype, device=G.device)
    return z @ Gc / math.sqrt(N * batch_size)


def standardized_moments(samples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Column-wise skewness and excess kurtosis of a (M, k) sample matrix."""
    c = samples - samples.mean(dim=0)
    m2 = (c**2).mean(dim=0)
    skew = (c**3).mean(dim=0) / m2**1.5
    kurt = (c**4).mean(dim=0) / m2**2 - 3.0
    return skew, kurt


def principal_directions(G: torch.Tensor, k: int) -> torch.Tensor:
    """Top-k eigenvectors (columns, p×k) of the per-sample gradient covariance D = Cov[g]."""
    Gc = G - G.mean(dim=0)
    if k >= min(Gc.shape) // 2:
        _, _, Vh = torch.linalg.svd(Gc, full_matrices=False)
        return Vh[:k].T.contiguous()
    # Randomized range finder: the top of the spectrum only (far cheaper for p in the thousands).
    _, _, V = torch.svd_lowrank(Gc, q=k + 8, niter=4)
    return V[:, :k].contiguous()
