"""Per-sample gradients of real PyTorch models and the statistics of minibatch gradient noise.

Used to measure DT.fig1 (is SGD noise across minibatches Gaussian?) and the SGD step cumulants of
SC.eq23: the minibatch-mean gradient of B i.i.d. samples has cumulants ω_γ / B^{|γ|−1}, so its
standardized skewness falls as B^{−1/2} and its excess kurtosis as B^{−1} (central limit theorem,
with the exact finite-B rate).

Conventions: per-sample gradients ``G`` are an (N, p) tensor; the minibatch noise of batch size B is
``ξ = (1/B) Σ_{i∈batch} g_i − ḡ`` with the batch drawn uniformly *with replacement* (the i.i.d. model
of the theory; without replacement only adds a finite-population factor (N−B)/(N−1) to the variance).
"""
from __future__ import annotations

import math

import torch

__all__ = [
    "per_sample_gradients",
    "minibatch_noise",
    "gaussian_reference_noise",
    "standardized_moments",
    "principal_directions",
]


def per_sample_gradients(model: torch.nn.Module, loss_fn, X: torch.Tensor, y: torch.Tensor, *,
                         chunk_size: int = 1024) -> torch.Tensor:
    """(N, p) matrix of ∂_θ U(x_i, θ), flattened over all trainable parameters (torch.func)."""
    from torch.func import functional_call, grad, vmap

    params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    if not params:
        raise ValueError("model has no trainable parameters")

    def sample_loss(p, xi, yi):
        out = functional_call(model, p, (xi.unsqueeze(0),))
        return loss_fn(out, yi.unsqueeze(0))

    g = vmap(grad(sample_loss), in_dims=(None, 0, 0), chunk_size=chunk_size)(params, X, y)
    return torch.cat([g[k].reshape(X.shape[0], -1) for k in params], dim=1)


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
