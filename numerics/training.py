"""Real minibatch SGD on small PyTorch networks: the data, the model, the training loop and the
sharpness of the minimum found — the numerics behind the trained-network experiments
(``validation.experiments``: SC.fig5 / RND.fig1 / TF.4.1 temperature scan, SC.fig1-3 shift-curvature,
TF.4.3 memorisation, DT.fig1 / SC.eq23 gradient noise).

- :func:`digits_split` — scikit-learn's ``digits`` images (8×8, shipped with the package, so the
  experiments run offline), standardised with the training subset's statistics, split into a
  training subset of ``n_train`` images and the rest as test set;
- :func:`digits_shuffled` — all ``digits`` images, standardised and shuffled;
- :func:`mlp` — the 3-layer tanh MLP of DT Fig. 1 (float64);
- :func:`cnn1d` — a small 1-D tanh CNN for signals given as feature rows (e.g. MNIST-1D's 40-sample
  signals; float64), trained in ensembles by the ``vmap`` route of :func:`train_sgd_ensemble`;
- :func:`train_sgd` — plain minibatch SGD (sampling without replacement, reshuffled every epoch),
  the discrete process whose diffusion limit has temperature T = λ/B (SC.eq10);
- :func:`sharpness` — the top eigenvalue of the Hessian of the full loss (TF.4.1's sharpness),
  by power iteration on Hessian-vector products.

Bad arguments raise :class:`TrainingError` (a ``ValueError``) naming the argument and what to pass.
"""
from __future__ import annotations

import math
from numbers import Integral, Real

__all__ = ["TrainingError", "digits_split", "digits_shuffled", "mlp", "cnn1d", "train_sgd", "sharpness", "sgd_index_stream",
           "train_sgd_ensemble", "sharpness_ensemble"]

#: number of images in scikit-learn's ``digits`` data set
N_DIGITS = 1797


class TrainingError(ValueError):
    """An argument of a training helper is invalid; the message names it and says what to pass."""


def _int(value, name: str, *, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TrainingError(f"{name} must be a whole number; got {value!r} ({type(value).__name__})")
    v = int(value)
    if v < low or (high is not None and v > high):
        rng = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise TrainingError(f"{name} must be {rng}; got {v}")
    return v


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)) or value <= 0:
        raise TrainingError(f"{name} must be a finite number > 0; got {value!r}")
    return float(value)


def digits_split(n_train: int, seed: int):
    """``(X_train, y_train, X_test, y_test)``: a random training subset of ``n_train`` ``digits``
    images (permutation drawn by ``numpy.random.default_rng(seed)``) and the remaining images as the
    test set; features standardised with the training subset's mean and standard deviation; float64
    features, int64 labels (10 classes), on the CPU."""
    import numpy as np
    import torch
    from sklearn.datasets import load_digits

    n_train = _int(n_train, "n_train", low=2, high=N_DIGITS - 1)
    seed = _int(seed, "seed", low=0)
    d = load_digits()
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(d.data))
    tr, te = perm[:n_train], perm[n_train:]
    mu, sd = d.data[tr].mean(0), d.data[tr].std(0) + 1e-8
    X = torch.tensor((d.data - mu) / sd, dtype=torch.float64)
    y = torch.tensor(d.target, dtype=torch.long)
    return X[tr], y[tr], X[te], y[te]


def digits_shuffled(seed: int):
    """``(X, y)``: every ``digits`` image, standardised over the whole set, in the order of the
    permutation drawn by ``numpy.random.default_rng(seed)`` (float64 features, int64 labels)."""
    import numpy as np
    import torch
    from sklearn.datasets import load_digits

    seed = _int(seed, "seed", low=0)
    d = load_digits()
    X = (d.data - d.data.mean(0)) / (d.data.std(0) + 1e-8)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(X))
    return torch.tensor(X[perm], dtype=torch.float64), torch.tensor(d.target[perm], dtype=torch.long)


def mlp(hidden: int, n_in: int, n_out: int):
    """The 3-layer tanh MLP ``n_in → hidden → hidden → n_out`` in float64 (DT Fig. 1's architecture,
    small), initialised by PyTorch's default from the global torch seed."""
    import torch.nn as nn

    hidden = _int(hidden, "hidden", low=1)
    n_in = _int(n_in, "n_in", low=1)
    n_out = _int(n_out, "n_out", low=1)
    return nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                         nn.Linear(hidden, n_out)).double()


def cnn1d(channels: int, n_in: int, n_out: int):
    """A small 1-D convolutional net for signals of ``n_in`` samples given as feature rows ``(N, n_in)``
    (MNIST-1D's 40-sample signals; the SC.fig5 / TF.4.1 / TF.4.3 scans' second architecture), float64::

        (N, n_in) → (N, 1, n_in) → Conv1d(1, C, 5, stride 2, padding 2) → tanh
                  → Conv1d(C, C, 3, stride 2, padding 1) → tanh → flatten → Linear(C·L₂, n_out)

    with C = ``channels`` and L₂ = ⌈⌈n_in/2⌉/2⌉ the length after the two stride-2 convolutions; tanh
    (as in :func:`mlp`) keeps the loss smooth, so the Hessian sharpness is defined everywhere.
    Initialised by PyTorch's default from the global torch seed. Not a ``Linear`` stack, so
    :func:`train_sgd_ensemble` trains it by its ``vmap`` route (``torch.func.functional_call``) and
    :func:`sharpness_ensemble` member by member. Raises :class:`TrainingError` for a non-integer or
    non-positive size, or ``n_in`` < 4."""
    import torch.nn as nn

    channels = _int(channels, "channels", low=1)
    n_in = _int(n_in, "n_in", low=4)
    n_out = _int(n_out, "n_out", low=1)
    l1 = (n_in + 2 * 2 - 5) // 2 + 1
    l2 = (l1 + 2 * 1 - 3) // 2 + 1
    return nn.Sequential(nn.Unflatten(1, (1, n_in)),
                         nn.Conv1d(1, channels, 5, stride=2, padding=2), nn.Tanh(),
                         nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.Tanh(),
                         nn.Flatten(), nn.Linear(channels * l2, n_out)).double()


def _weight_decay(value) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)) or value < 0:
        raise TrainingError(f"weight_decay must be a finite number >= 0 (the ℓ2 coefficient); got {value!r}")
    return float(value)


def train_sgd(model, loss_fn, X, y, *, lr: float, batch_size: int, steps: int, generator,
              weight_decay: float = 0.0) -> int | None:
    """Plain minibatch SGD for ``steps`` steps of size ``lr`` (sampling without replacement,
    reshuffled each epoch with ``generator``; ``batch_size ≥ n`` is full-batch gradient descent):
    the process whose diffusion limit has temperature T = λ/B (SC.eq10). ``weight_decay`` = μ ≥ 0
    adds ℓ2 regularisation: the step is θ ← θ − λ(∇L_B(θ) + μθ), SGD on L + (μ/2)‖θ‖² (PyTorch's
    ``SGD(weight_decay=μ)``; the overparametrized remedy of SC.eq13).

    Returns ``None``, or the step at which the minibatch loss became non-finite (training stops
    there: a divergence is a data point of a scan, not a crash). Raises :class:`TrainingError` for a
    non-positive ``lr``, a ``batch_size`` < 1 or ``steps`` < 0."""
    import torch

    lr = _positive(lr, "lr")
    B = _int(batch_size, "batch_size", low=1)
    steps = _int(steps, "steps", low=0)
    weight_decay = _weight_decay(weight_decay)
    n = X.shape[0]
    if n < 1:
        raise TrainingError("X holds no samples; pass a data set with at least one row")
    B = min(B, n)
    opt = torch.optim.SGD(model.parameters(), lr=lr, weight_decay=weight_decay)
    perm, pos = torch.randperm(n, generator=generator, device=X.device), 0
    for step in range(steps):
        if pos + B > n:
            perm, pos = torch.randperm(n, generator=generator, device=X.device), 0
        idx = perm[pos:pos + B]
        pos += B
        opt.zero_grad()
        loss = loss_fn(model(X[idx]), y[idx])
        if not torch.isfinite(loss):
            return step
        loss.backward()
        opt.step()
    return None


def sharpness(model, loss_fn, X, y, *, iterations: int, generator) -> float:
    """Top eigenvalue of the Hessian of the full loss ``loss_fn(model(X), y)`` at the model's
    parameters (TF.4.1's sharpness): ``iterations`` power-iteration steps on Hessian-vector
    products from a random start drawn with ``generator`` (at a minimum the Hessian is positive
    semi-definite, so the dominant eigenvalue is the largest). 0.0 when the Hessian annihilates the
    iterate. Raises :class:`TrainingError` for ``iterations`` < 1."""
    import torch

    iterations = _int(iterations, "iterations", low=1)
    params = [p for p in model.parameters() if p.requires_grad]
    loss = loss_fn(model(X), y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    v = [torch.randn(p.shape, generator=generator, dtype=p.dtype, device=p.device) for p in params]
    norm = torch.sqrt(sum((a * a).sum() for a in v))
    v = [a / norm for a in v]
    lam = 0.0
    for _ in range(iterations):
        Hv = torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)
        lam = float(sum((a * b).sum() for a, b in zip(Hv, v)))
        norm = torch.sqrt(sum((a * a).sum() for a in Hv))
        if float(norm) == 0.0:
            return 0.0
        v = [a / norm for a in Hv]
    return lam


# --------------------------------------------------------------------------------------------
# ensembles: many small networks trained at once


def sgd_index_stream(n: int, batch_size: int, steps: int, generator, *, device=None):
    """The minibatch indices :func:`train_sgd` uses, as a ``(steps, min(batch_size, n))`` tensor.

    Sampling without replacement, reshuffled each epoch: a permutation ``torch.randperm(n,
    generator=generator)`` is drawn at the start and again whenever fewer than B unused indices are
    left, so each permutation gives ⌊n/B⌋ batches. The draws are those of :func:`train_sgd` with the
    same generator, in the same order, and the generator ends in the same state (one permutation
    at the start even for ``steps = 0``). Raises :class:`TrainingError` for ``n`` < 1,
    ``batch_size`` < 1 or ``steps`` < 0."""
    import torch

    n = _int(n, "n", low=1)
    B = min(_int(batch_size, "batch_size", low=1), n)
    steps = _int(steps, "steps", low=0)
    per_perm = n // B
    # train_sgd draws 1 permutation up front and one more every per_perm steps after the first
    n_perms = 1 + max(steps - 1, 0) // per_perm
    perms = [torch.randperm(n, generator=generator, device=device)[:per_perm * B] for _ in range(n_perms)]
    return torch.cat(perms).reshape(-1, B)[:steps]


#: steps of minibatch indices :func:`train_sgd_ensemble` gathers into one padded tensor at a time
_CHUNK = 256


def _elementwise_types():
    """Parameter-free elementwise modules the batched-matmul forward applies as they are."""
    import torch.nn as nn

    return (nn.Tanh, nn.ReLU, nn.Sigmoid, nn.GELU, nn.SiLU, nn.ELU, nn.LeakyReLU, nn.Softplus, nn.Identity)


def _bmm_plan(model):
    """The layers of a ``Sequential`` of ``Linear`` and elementwise modules, for the batched forward;
    ``None`` when the model is of another form."""
    import torch.nn as nn

    if not isinstance(model, nn.Sequential):
        return None
    plan = []
    for layer in model:
        if isinstance(layer, nn.Linear):
            plan.append(("linear", layer.bias is not None))
        elif isinstance(layer, _elementwise_types()):
            plan.append(("act", layer))
        else:
            return None
    return plan


def _bmm_forward(plan, params, x):
    """Forward pass of M stacked ``Sequential`` MLPs: ``x`` (M, B, in), params [W (M, out, in),
    b (M, out), …] in ``model.parameters()`` order → (M, B, out)."""
    import torch

    i = 0
    for kind, extra in plan:
        if kind == "linear":
            W = params[i]
            if extra:  # x Wᵀ + b, one batched GEMM per layer for all members
                x = torch.baddbmm(params[i + 1].unsqueeze(1), x, W.transpose(1, 2))
                i += 2
            else:
                x = torch.bmm(x, W.transpose(1, 2))
                i += 1
        else:
            x = extra(x)
    return x


def train_sgd_ensemble(models, loss_fn, X, y, *, lrs, batch_sizes, steps, generators=None, index_streams=None,
                       per_sample_loss=None, method: str = "auto", weight_decay: float = 0.0) -> list:
    """Train M small networks at once: plain minibatch SGD (:func:`train_sgd`) for each ``models[m]``
    with its own step size ``lrs[m]``, batch size ``batch_sizes[m]``, number of steps ``steps[m]``
    and minibatch stream — the SC.eq10 process at temperature ``T_m = λ_m/B_m`` for every member.

    Members are trained as stacked models: parameters stacked along a leading member axis, one
    forward pass for all members, the member losses summed (their gradients stay separate: member
    m's loss depends only on its own parameters) and one SGD update ``θ_m ← θ_m − λ_m ∇L_m`` for
    all. Inside a stack the members are ordered by number of steps, so at any step the members still
    training are a prefix of the stack: a member that has done its steps is frozen (left out of the
    forward pass and of the update). Without ``per_sample_loss`` there is one stack per batch size
    (equal shapes; ``loss_fn`` is applied to each member's minibatch under ``vmap``). With
    ``per_sample_loss(outputs, targets)`` — the per-sample losses whose mean is ``loss_fn`` (e.g.
    ``cross_entropy(..., reduction="none")``) — all members form one stack, minibatches padded to
    the largest batch size and the padding masked out of each member's mean: fewer, larger steps
    (faster for small networks, whose steps cost mostly overhead: ``benchmarks/bench_ensemble.py``).

    Minibatches: ``generators[m]`` draws member m's stream exactly as :func:`train_sgd` does with
    that generator (:func:`sgd_index_stream`: same permutations, same order, same final generator
    state), so a member's result equals ``train_sgd`` with the same model, data, λ, B, steps and a
    generator in the same state — up to floating-point rounding of the batched matrix products (to
    ~1e-12 relative in float64 over hundreds of steps; chaotic training amplifies it slowly).
    Alternatively ``index_streams[m]`` is member m's stream itself, a ``(steps[m], B_m)`` integer
    tensor (B_m = min(batch_size, n)).

    ``method``: ``"bmm"`` (batched matrix products; the model must be an ``nn.Sequential`` of
    ``Linear`` and parameter-free elementwise activations, like :func:`mlp`), ``"vmap"``
    (``torch.func.functional_call`` under ``vmap``, any module without buffers), or ``"auto"`` (bmm
    when the model allows, vmap otherwise — e.g. :func:`cnn1d`). Every member must have the
    architecture of ``models[0]``. The trained parameters are written back into ``models`` (in place).
    ``weight_decay`` = μ ≥ 0 is ℓ2 regularisation for every member, as in :func:`train_sgd`:
    θ_m ← θ_m − λ_m(∇L_m + μθ_m).

    Returns one entry per member: ``None``, or the step at which its minibatch loss became
    non-finite (that member stops there, its parameters left as they were at that step — as
    :func:`train_sgd` does; the other members go on). Raises :class:`TrainingError` for lists of
    unequal lengths, a non-positive ``lr``, a ``batch_size`` < 1, ``steps`` < 0, models of
    different architectures, an index stream of the wrong shape, neither or both of
    ``generators``/``index_streams``, or an unknown ``method``."""
    import torch

    models = list(models)
    M = len(models)
    if M == 0:
        raise TrainingError("models is empty; pass at least one model")
    lrs, batch_sizes, steps = list(lrs), list(batch_sizes), list(steps)
    for name, seq in (("lrs", lrs), ("batch_sizes", batch_sizes), ("steps", steps)):
        if len(seq) != M:
            raise TrainingError(f"{name} has {len(seq)} entries for {M} models; pass one per model")
    if (generators is None) == (index_streams is None):
        raise TrainingError("pass exactly one of generators (one torch.Generator per model) or index_streams")
    lrs = [_positive(v, f"lrs[{m}]") for m, v in enumerate(lrs)]
    n = X.shape[0]
    if n < 1:
        raise TrainingError("X holds no samples; pass a data set with at least one row")
    Bs = [min(_int(v, f"batch_sizes[{m}]", low=1), n) for m, v in enumerate(batch_sizes)]
    steps = [_int(v, f"steps[{m}]", low=0) for m, v in enumerate(steps)]
    weight_decay = _weight_decay(weight_decay)
    if method not in ("auto", "bmm", "vmap"):
        raise TrainingError(f"method must be 'auto', 'bmm' or 'vmap'; got {method!r}")
    shapes = [tuple(p.shape) for p in models[0].parameters()]
    for m, model in enumerate(models):
        if [tuple(p.shape) for p in model.parameters()] != shapes or type(model) is not type(models[0]):
            raise TrainingError(f"models[{m}] has another architecture than models[0]; every member must have "
                                f"the same layers and parameter shapes")
    plan = _bmm_plan(models[0])
    if method == "bmm" and plan is None:
        raise TrainingError("method='bmm' needs an nn.Sequential of Linear layers and elementwise activations; "
                            "use method='vmap' for other models")
    use_bmm = plan is not None and method != "vmap"
    if index_streams is not None:
        index_streams = list(index_streams)
        if len(index_streams) != M:
            raise TrainingError(f"index_streams has {len(index_streams)} entries for {M} models")
        for m, s in enumerate(index_streams):
            if tuple(s.shape) != (steps[m], Bs[m]):
                raise TrainingError(f"index_streams[{m}] has shape {tuple(s.shape)}; pass a (steps, batch size) = "
                                    f"{(steps[m], Bs[m])} tensor")
    else:
        generators = list(generators)
        if len(generators) != M:
            raise TrainingError(f"generators has {len(generators)} entries for {M} models; pass one per model")
        index_streams = [sgd_index_stream(n, Bs[m], steps[m], generators[m], device=X.device) for m in range(M)]

    if per_sample_loss is not None and not callable(per_sample_loss):
        raise TrainingError("per_sample_loss must be a callable (outputs, targets) -> per-sample losses, or None")
    result = [None] * M
    groups = {}
    for m in range(M):  # one stack for all when the batch sizes can be padded, else one per batch size
        groups.setdefault(0 if per_sample_loss is not None else Bs[m], []).append(m)
    for members in groups.values():
        members = sorted(members, key=lambda m: -steps[m])
        bad = _train_group([models[m] for m in members], loss_fn, X, y, [lrs[m] for m in members],
                           [steps[m] for m in members], [index_streams[m] for m in members],
                           plan if use_bmm else None, per_sample_loss, weight_decay)
        for m, b in zip(members, bad):
            result[m] = b
    return result


def _train_group(models, loss_fn, X, y, lrs, steps, streams, plan, per_sample_loss=None, weight_decay=0.0):
    """One stack of :func:`train_sgd_ensemble`: members sorted by steps (descending); equal batch sizes,
    or with ``per_sample_loss`` any batch sizes (padded to the largest, padding masked out)."""
    import torch

    M = len(models)
    S = steps[0] if steps else 0
    if S == 0:
        return [None] * M
    with torch.no_grad():
        params = [torch.stack([p.detach() for p in ps]).clone() for ps in zip(*(m.parameters() for m in models))]
    Bs = [s.shape[1] for s in streams]
    Bmax = max(Bs)
    streams = [s.to(device=X.device, dtype=torch.long) for s in streams]
    dtype, dev = params[0].dtype, params[0].device
    lr = torch.tensor(lrs, dtype=dtype, device=dev)
    padded = per_sample_loss is not None
    if padded:
        # member m's loss is the mean of the per-sample losses over its own B_m samples:
        # L_m = Σ_j w_mj ℓ_mj with w_mj = 1/B_m on its B_m slots and 0 on the padding
        valid = torch.arange(Bmax, device=dev)[None, :] < torch.tensor(Bs, device=dev)[:, None]
        weight = valid.to(dtype) / torch.tensor(Bs, dtype=dtype, device=dev)[:, None]
    bad = [None] * M
    stopped = []  # members stopped at this step: zeroed after the update
    n_active = M
    if plan is None:
        from torch.func import functional_call, grad_and_value, vmap

        base = models[0]
        names = [name for name, _ in base.named_parameters()]

        if padded:
            def member_loss(ps, xb, yb, vb, wb):
                ell = per_sample_loss(functional_call(base, dict(zip(names, ps)), (xb,)), yb)
                return (torch.where(vb, ell, 0.0) * wb).sum()
        else:
            def member_loss(ps, xb, yb):
                return loss_fn(functional_call(base, dict(zip(names, ps)), (xb,)), yb)

        batched = vmap(grad_and_value(member_loss))
    elif not padded:
        batched_loss = torch.func.vmap(loss_fn)
    for t in range(S):
        while n_active and steps[n_active - 1] <= t:
            n_active -= 1  # the member with the fewest steps left has finished: frozen from now on
        k = n_active
        if t % _CHUNK == 0:  # the next _CHUNK steps' indices of all members, padded (bounded memory)
            chunk = torch.zeros((min(_CHUNK, S - t), M, Bmax), dtype=torch.long, device=X.device)
            for m, s in enumerate(streams[:k]):
                chunk[:max(min(steps[m] - t, _CHUNK), 0), m, :Bs[m]] = s[t:t + _CHUNK]
        # padded stacks: only up to the largest batch size among the members still training
        bk = max(Bs[:k]) if padded else Bmax
        ii = chunk[t % _CHUNK, :k, :bk]
        xb, yb = X[ii], y[ii]
        if plan is None:
            extra = (valid[:k, :bk], weight[:k, :bk]) if padded else ()
            grads, losses = batched([p[:k] for p in params], xb, yb, *extra)
        else:
            act = [p[:k].detach().requires_grad_(True) for p in params]
            out = _bmm_forward(plan, act, xb)
            if padded:
                ell = per_sample_loss(out.reshape((k * bk,) + out.shape[2:]),
                                      yb.reshape((k * bk,) + yb.shape[2:])).reshape(k, bk)
                losses = (torch.where(valid[:k, :bk], ell, 0.0) * weight[:k, :bk]).sum(1)
            else:
                losses = batched_loss(out, yb)
        finite = torch.isfinite(losses)
        all_finite = bool(finite.all())
        if not all_finite:
            for j in torch.nonzero(~finite).flatten().tolist():
                if bad[j] is None:  # first non-finite loss of member j: stop it at step t
                    bad[j] = t
                    _write_member(models[j], params, j)
                    stopped.append(j)
            lr[[j for j in range(M) if bad[j] is not None]] = 0.0
        if plan is not None:
            total = losses.sum() if all_finite else torch.where(finite, losses, 0.0).sum()
            grads = torch.autograd.grad(total, act)
        with torch.no_grad():
            lr_k = lr[:k]
            for p, g in zip(params, grads):
                g = torch.nan_to_num(g) if stopped else g
                if weight_decay:  # as torch.optim.SGD: d = g + μθ, then θ − λd
                    g = g.add(p[:k], alpha=weight_decay)
                p[:k].sub_(g * lr_k.reshape((-1,) + (1,) * (g.dim() - 1)))
            for j in stopped:  # a stopped member: harmless zeros and learning rate 0 from now on
                for p in params:
                    p[j].zero_()
            stopped = []
    with torch.no_grad():
        for j, model in enumerate(models):
            if bad[j] is None:
                _write_member(model, params, j)
    return bad


def _write_member(model, params, j):
    import torch

    with torch.no_grad():
        for p, stacked in zip(model.parameters(), params):
            p.copy_(stacked[j])


def sharpness_ensemble(models, loss_fn, X, y, *, iterations: int, generators, method: str = "auto") -> list:
    """:func:`sharpness` of M networks at once: the top Hessian eigenvalue of each member's full loss
    ``loss_fn(models[m](X), y)`` (TF.4.1's sharpness), by ``iterations`` power-iteration steps on
    Hessian-vector products computed for all members together (stacked parameters, batched matrix
    products, one double backward per step). Member m's random start is drawn with
    ``generators[m]`` exactly as :func:`sharpness` draws it, so each value equals ``sharpness`` of
    that member with a generator in the same state, up to rounding. A member whose Hessian
    annihilates its iterate gets 0.0 (as in :func:`sharpness`).

    ``method="auto"`` uses the batched route when the models are ``nn.Sequential`` stacks of
    ``Linear`` layers and elementwise activations (like :func:`mlp`), and falls back to calling
    :func:`sharpness` member by member otherwise (``"loop"`` forces that). Raises
    :class:`TrainingError` for ``iterations`` < 1, lists of unequal lengths, models of different
    architectures or an unknown ``method``."""
    import torch

    iterations = _int(iterations, "iterations", low=1)
    models, generators = list(models), list(generators)
    if len(generators) != len(models):
        raise TrainingError(f"generators has {len(generators)} entries for {len(models)} models; pass one per model")
    if method not in ("auto", "loop"):
        raise TrainingError(f"method must be 'auto' or 'loop'; got {method!r}")
    if not models:
        return []
    shapes = [tuple(p.shape) for p in models[0].parameters()]
    for m, model in enumerate(models):
        if [tuple(p.shape) for p in model.parameters()] != shapes or type(model) is not type(models[0]):
            raise TrainingError(f"models[{m}] has another architecture than models[0]; every member must have "
                                f"the same layers and parameter shapes")
    plan = _bmm_plan(models[0])
    if plan is None or method == "loop" or not all(p.requires_grad for p in models[0].parameters()):
        return [sharpness(m, loss_fn, X, y, iterations=iterations, generator=g) for m, g in zip(models, generators)]
    M = len(models)
    params = [torch.stack([p.detach() for p in ps]).requires_grad_(True)
              for ps in zip(*(m.parameters() for m in models))]
    # L(θ_1..θ_M) = Σ_m L_m(θ_m): its gradient and Hessian are block-diagonal over members
    xs = X.unsqueeze(0).expand(M, *X.shape)
    ys = y.unsqueeze(0).expand(M, *y.shape)
    losses = torch.func.vmap(loss_fn)(_bmm_forward(plan, params, xs), ys)
    grads = torch.autograd.grad(losses.sum(), params, create_graph=True)
    # the start vectors: member by member, in the order sharpness draws them
    v = [torch.stack(list(vs)) for vs in zip(*([torch.randn(p.shape, generator=g, dtype=p.dtype, device=p.device)
                                               for p in model.parameters()]
                                              for model, g in zip(models, generators)))]

    def norms(vs):
        return torch.sqrt(sum((a * a).reshape(M, -1).sum(1) for a in vs))

    def scaled(vs, s):
        return [a / s.reshape((-1,) + (1,) * (a.dim() - 1)) for a in vs]

    v = scaled(v, norms(v))
    lam = torch.zeros(M, dtype=params[0].dtype, device=params[0].device)
    done = torch.zeros(M, dtype=torch.bool, device=params[0].device)
    for _ in range(iterations):
        Hv = torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)
        lam = torch.where(done, lam, sum((a * b).reshape(M, -1).sum(1) for a, b in zip(Hv, v)))
        nrm = norms(Hv)
        zero = nrm == 0
        if bool(zero.any()):  # the Hessian annihilates the iterate: that member's sharpness is 0.0
            lam = torch.where(zero & ~done, torch.zeros_like(lam), lam)
            done = done | zero
            nrm = torch.where(zero, torch.ones_like(nrm), nrm)
        v = scaled(Hv, nrm)
        if bool(done.all()):
            break
    return [float(x) for x in lam.detach()]
