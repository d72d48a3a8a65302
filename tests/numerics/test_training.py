"""numerics.training: digits data, the MLP, plain minibatch SGD and the Hessian sharpness."""
import math

import pytest
import torch

from numerics.training import (
    TrainingError,
    digits_shuffled,
    digits_split,
    mlp,
    sharpness,
    train_sgd,
)


def test_digits_split_sizes_standardisation_and_determinism():
    Xtr, ytr, Xte, yte = digits_split(100, 3)
    assert Xtr.shape == (100, 64) and Xte.shape == (1797 - 100, 64)
    assert ytr.dtype == torch.long and Xtr.dtype == torch.float64
    # standardised with the training subset's statistics: mean 0 there (constant pixels stay 0)
    assert float(Xtr.mean(0).abs().max()) < 1e-10
    again = digits_split(100, 3)
    assert torch.equal(again[0], Xtr) and torch.equal(again[3], yte)
    other = digits_split(100, 4)
    assert not torch.equal(other[1], ytr)


def test_digits_shuffled_is_a_permutation():
    X, y = digits_shuffled(0)
    assert X.shape == (1797, 64)
    assert sorted(y.tolist()) == sorted(digits_shuffled(1)[1].tolist())


@pytest.mark.parametrize("args, name", [((0, 0), "n_train"), ((1797, 0), "n_train"), ((10.5, 0), "n_train"),
                                        (("100", 0), "n_train"), ((100, -1), "seed"), ((100, True), "seed")])
def test_digits_split_refuses_bad_arguments(args, name):
    with pytest.raises(TrainingError, match=name):
        digits_split(*args)


def test_mlp_shape_and_refusals():
    model = mlp(5, 64, 10)
    assert model(torch.zeros(3, 64, dtype=torch.float64)).shape == (3, 10)
    assert sum(p.numel() for p in model.parameters()) == 64 * 5 + 5 + 5 * 5 + 5 + 5 * 10 + 10
    with pytest.raises(TrainingError, match="hidden"):
        mlp(0, 64, 10)
    with pytest.raises(TrainingError, match="n_out"):
        mlp(4, 64, "10")


def _quadratic_problem():
    """Least squares y = w·x with a known Hessian 2 XᵀX/n (a linear 'model')."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(40, 3, generator=g, dtype=torch.float64)
    w = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    y = X @ w
    model = torch.nn.Linear(3, 1, bias=False).double()
    with torch.no_grad():
        model.weight.zero_()

    def loss_fn(out, target):
        return ((out[:, 0] - target) ** 2).mean()

    return model, loss_fn, X, y, w


def test_full_batch_gradient_descent_converges_and_sgd_is_reproducible():
    model, loss_fn, X, y, w = _quadratic_problem()
    assert train_sgd(model, loss_fn, X, y, lr=0.1, batch_size=10_000, steps=500,
                     generator=torch.Generator().manual_seed(1)) is None
    assert torch.allclose(model.weight[0], w, atol=1e-6)
    finals = []
    for _ in range(2):
        m, loss_fn, X, y, _ = _quadratic_problem()
        train_sgd(m, loss_fn, X, y, lr=0.05, batch_size=4, steps=37, generator=torch.Generator().manual_seed(7))
        finals.append(m.weight.detach().clone())
    assert torch.allclose(finals[0], finals[1], rtol=0, atol=1e-15)


def test_divergence_is_reported_as_the_step():
    model, loss_fn, X, y, _ = _quadratic_problem()
    step = train_sgd(model, loss_fn, X, y, lr=1e3, batch_size=40, steps=10_000,
                     generator=torch.Generator().manual_seed(0))
    assert step is not None and 0 < step < 10_000


@pytest.mark.parametrize("kwargs, name", [(dict(lr=0.0), "lr"), (dict(lr=math.inf), "lr"), (dict(lr="0.1"), "lr"),
                                          (dict(batch_size=0), "batch_size"), (dict(steps=-1), "steps"),
                                          (dict(steps=1.5), "steps")])
def test_train_sgd_refuses_bad_arguments(kwargs, name):
    model, loss_fn, X, y, _ = _quadratic_problem()
    args = dict(lr=0.1, batch_size=4, steps=3, generator=torch.Generator())
    args.update(kwargs)
    with pytest.raises(TrainingError, match=name):
        train_sgd(model, loss_fn, X, y, **args)


def test_sharpness_is_the_top_hessian_eigenvalue():
    model, loss_fn, X, y, _ = _quadratic_problem()
    H = 2 * X.T @ X / X.shape[0]
    top = float(torch.linalg.eigvalsh(H)[-1])
    lam = sharpness(model, loss_fn, X, y, iterations=200, generator=torch.Generator().manual_seed(0))
    assert lam == pytest.approx(top, rel=1e-8)
    with pytest.raises(TrainingError, match="iterations"):
        sharpness(model, loss_fn, X, y, iterations=0, generator=torch.Generator())
