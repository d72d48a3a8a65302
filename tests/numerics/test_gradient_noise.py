import math
import warnings

import pytest
import torch

from numerics.devices import DeviceFallbackWarning, resolve_device
from numerics.gradient_noise import (gaussian_reference_noise, minibatch_noise, per_sample_gradients,
                                     principal_directions, standardized_moments)


def test_per_sample_gradients_match_autograd_loop():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    X = torch.randn(5, 3, dtype=torch.float64)
    y = torch.tensor([0, 1, 1, 0, 1])
    G = per_sample_gradients(model, torch.nn.functional.cross_entropy, X, y)
    for i in range(5):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(X[i:i + 1]), y[i:i + 1]).backward()
        g = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
        assert torch.allclose(G[i], g, atol=1e-12)


def test_minibatch_noise_covariance_is_D_over_B():
    gen = torch.Generator().manual_seed(1)
    G = torch.randn(200, 3, dtype=torch.float64, generator=gen) * torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    D = torch.cov(G.T, correction=0)
    for B in (1, 8):
        xi = minibatch_noise(G, B, 20000, generator=gen)
        assert torch.allclose(torch.cov(xi.T), D / B, rtol=0.05, atol=0.01 / B)
        ref = gaussian_reference_noise(G, B, 20000, generator=gen)
        assert torch.allclose(torch.cov(ref.T), D / B, rtol=0.05, atol=0.01 / B)


def test_standardized_moments_of_gaussian_and_exponential():
    gen = torch.Generator().manual_seed(2)
    z = torch.randn(200000, 1, dtype=torch.float64, generator=gen)
    s, k = standardized_moments(z)
    assert abs(s.item()) < 0.02 and abs(k.item()) < 0.05
    e = torch.empty(200000, 1, dtype=torch.float64).exponential_(generator=gen)
    s, k = standardized_moments(e)
    assert abs(s.item() - 2) < 0.1 and abs(k.item() - 6) < 0.6


def test_principal_directions_finds_top_axis():
    gen = torch.Generator().manual_seed(3)
    G = torch.randn(500, 40, dtype=torch.float64, generator=gen)
    G[:, 7] *= 10
    v = principal_directions(G, 2)
    assert v.shape == (40, 2) and abs(abs(v[7, 0].item()) - 1) < 1e-3


def test_bad_arguments():
    G = torch.zeros(4, 2)
    with pytest.raises(ValueError):
        minibatch_noise(G, 0, 3)
    with pytest.raises(TypeError):
        resolve_device(3.5)


def test_cuda_request_falls_back_with_warning():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        dev = resolve_device("cuda")
    assert dev.type == "cpu" and any(issubclass(x.category, DeviceFallbackWarning) for x in w)
    assert resolve_device("auto").type == "cpu"
