"""numerics.datasets: shipped data sets, one split/standardisation, typed errors."""
import numpy as np
import pytest
import torch

from numerics.datasets import DATASETS, DatasetError, dataset_size, load_dataset
from numerics.training import digits_split


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "wine"])
def test_split_shapes_and_standardisation(name):
    d = load_dataset(name, n_train=120, seed=3)
    assert d.n_train == 120 and d.X_test.shape[0] == dataset_size(name) - 120
    assert d.X_train.dtype == torch.float64 and d.y_train.dtype == torch.long
    np.testing.assert_allclose(d.X_train.mean(0).numpy(), 0.0, atol=1e-9)
    # constant features (digits' blank pixels) stay 0; the others have unit training std
    sd = d.X_train.std(0, unbiased=False).numpy()
    assert np.all((np.abs(sd - 1) < 1e-5) | (sd < 1e-6))  # sd + 1e-8 in the divisor
    assert int(torch.cat([d.y_train, d.y_test]).max()) + 1 == d.n_classes


def test_digits_is_digits_split():
    a = load_dataset("digits", n_train=300, seed=7).tensors()
    b = digits_split(300, 7)
    for u, v in zip(a, b):
        torch.testing.assert_close(u, v, rtol=1e-12, atol=1e-12)


def test_seed_changes_the_split_and_default_n_train():
    a, b = load_dataset("wine", seed=0), load_dataset("wine", seed=1)
    assert a.n_train == int(0.7 * 178)
    assert not torch.equal(a.y_train, b.y_train)


def test_mnist1d_generated_locally_and_global_rng_untouched():
    pytest.importorskip("mnist1d")
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    d = load_dataset("mnist1d", n_train=1000, seed=0)
    assert np.random.random() == pytest.approx(before, abs=0.0, rel=1e-15)
    assert d.n_features == 40 and d.n_classes == 10 and d.n_train == 1000
    assert torch.isfinite(d.X_train).all()


@pytest.mark.parametrize("kw", [dict(name="iris"), dict(name="wine", n_train=1), dict(name="wine", n_train=178),
                                dict(name="wine", n_train=10.0), dict(name="wine", seed=-1),
                                dict(name="wine", n_train=True), dict(name="__import__('os')")])
def test_bad_arguments_are_typed(kw):
    with pytest.raises(DatasetError):
        load_dataset(**kw)


def test_names():
    assert set(DATASETS) == {"digits", "breast_cancer", "wine", "mnist1d"}
