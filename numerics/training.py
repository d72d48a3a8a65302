"""Real minibatch SGD on small PyTorch networks: the data, the model, the training loop and the
sharpness of the minimum found — the numerics behind the trained-network experiments
(``validation.experiments``: SC.fig5 / RND.fig1 / TF.4.1 temperature scan, SC.fig1-3 shift-curvature,
TF.4.3 memorisation, DT.fig1 / SC.eq23 gradient noise).

- :func:`digits_split` — scikit-learn's ``digits`` images (8×8, shipped with the package, so the
  experiments run offline), standardised with the training subset's statistics, split into a
  training subset of ``n_train`` images and the rest as test set;
- :func:`digits_shuffled` — all ``digits`` images, standardised and shuffled;
- :func:`mlp` — the 3-layer tanh MLP of DT Fig. 1 (float64);
- :func:`train_sgd` — plain minibatch SGD (sampling without replacement, reshuffled every epoch),
  the discrete process whose diffusion limit has temperature T = λ/B (SC.eq10);
- :func:`sharpness` — the top eigenvalue of the Hessian of the full loss (TF.4.1's sharpness),
  by power iteration on Hessian-vector products.

Bad arguments raise :class:`TrainingError` (a ``ValueError``) naming the argument and what to pass.
"""
from __future__ import annotations

import math
from numbers import Integral, Real

__all__ = ["TrainingError", "digits_split", "digits_shuffled", "mlp", "train_sgd", "sharpness"]

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


def train_sgd(model, loss_fn, X, y, *, lr: float, batch_size: int, steps: int, generator) -> int | None:
    """Plain minibatch SGD for ``steps`` steps of size ``lr`` (sampling without replacement,
    reshuffled each epoch with ``generator``; ``batch_size ≥ n`` is full-batch gradient descent):
    the process whose diffusion limit has temperature T = λ/B (SC.eq10).

    Returns ``None``, or the step at which the minibatch loss became non-finite (training stops
    there: a divergence is a data point of a scan, not a crash). Raises :class:`TrainingError` for a
    non-positive ``lr``, a ``batch_size`` < 1 or ``steps`` < 0."""
    import torch

    lr = _positive(lr, "lr")
    B = _int(batch_size, "batch_size", low=1)
    steps = _int(steps, "steps", low=0)
    n = X.shape[0]
    if n < 1:
        raise TrainingError("X holds no samples; pass a data set with at least one row")
    B = min(B, n)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
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
