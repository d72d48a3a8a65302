"""The README's example network: a small tanh MLP trained briefly by SGD at temperature T = λ/B.

``trained_mlp()`` returns ``(model, loss_fn, train, test, T)`` ready for
``validation.bench(model, loss_fn, train, test, T=T)``; ``factory`` is the same training for the
command line, ``python -m validation bench --model examples.digits_mlp:factory --data digits``
(any data set of :func:`numerics.datasets.load_dataset`: the input and output sizes follow the data).
A few seconds on a CPU.
"""
from __future__ import annotations

__all__ = ["LEARNING_RATE", "BATCH_SIZE", "T", "trained_mlp", "factory"]

#: SGD step λ and batch size B of the example; T = λ/B (SC.eq10)
LEARNING_RATE = 0.1
BATCH_SIZE = 10
T = LEARNING_RATE / BATCH_SIZE


def factory(data, *, hidden: int = 32, steps: int = 800, seed: int = 0):
    """Train ``numerics.training.mlp(hidden, …)`` on ``data`` (a :class:`numerics.datasets.Dataset`) with
    ``steps`` SGD steps of size :data:`LEARNING_RATE` and batch :data:`BATCH_SIZE` (seeded); returns
    ``(model, loss_fn, T)`` — the triple ``python -m validation bench`` expects from a factory."""
    import torch

    from numerics.devices import cpu_threads
    from numerics.training import mlp, train_sgd

    torch.manual_seed(seed)
    model = mlp(hidden, data.n_features, data.n_classes)
    loss_fn = torch.nn.functional.cross_entropy
    with cpu_threads("cpu"):  # one intra-op thread: a small MLP gains nothing from more
        bad = train_sgd(model, loss_fn, data.X_train, data.y_train, lr=LEARNING_RATE, batch_size=BATCH_SIZE,
                        steps=steps, generator=torch.Generator().manual_seed(seed))
    if bad is not None:
        raise FloatingPointError(f"the example's SGD diverged at step {bad}; lower LEARNING_RATE")
    return model.eval(), loss_fn, T


def trained_mlp(*, n_train: int = 512, hidden: int = 32, steps: int = 800, seed: int = 0):
    """``(model, loss_fn, (X_train, y_train), (X_test, y_test), T)``: :func:`factory` on scikit-learn's
    ``digits`` (``n_train`` training images, the rest for testing)."""
    from numerics.datasets import load_dataset

    data = load_dataset("digits", n_train=n_train, seed=seed)
    model, loss_fn, temperature = factory(data, hidden=hidden, steps=steps, seed=seed)
    return model, loss_fn, (data.X_train, data.y_train), (data.X_test, data.y_test), temperature
