"""Classification data sets that ship inside packages (no download at run time), split and
standardised the same way for every trained-network experiment (SC.fig1-3, SC.fig5, TF.4.1, TF.4.3,
DT.eq7, SC.B2, SC.A1).

=================  ========  ========  =======  ===============================================
name               samples   features  classes  source
=================  ========  ========  =======  ===============================================
``digits``         1797      64        10       scikit-learn ``load_digits`` (8×8 images)
``breast_cancer``  569       30        2        scikit-learn ``load_breast_cancer``
``wine``           178       13        3        scikit-learn ``load_wine``
``mnist1d``        5000      40        10       ``mnist1d.data.make_dataset`` (generated locally
                                                from its templates with the package's default
                                                arguments and ``seed``; never its download path)
=================  ========  ========  =======  ===============================================

:func:`load_dataset` returns a :class:`Dataset`: a random training subset of ``n_train`` samples
(permutation by ``numpy.random.default_rng(seed)``) and the rest as test set, features standardised
with the *training* subset's mean and standard deviation, float64 features and int64 labels on the
CPU (move them with ``.to(device)``). For ``digits`` it is exactly
:func:`numerics.training.digits_split` (same permutation, same numbers).

Bad arguments raise :class:`DatasetError` (a ``ValueError``) naming the argument; a missing
optional package (``mnist1d``) raises :class:`DatasetUnavailableError` (an ``ImportError``) naming
the ``pip install`` that provides it.

Examples
--------
>>> from numerics.datasets import load_dataset
>>> d = load_dataset("wine", n_train=100, seed=0)
>>> tuple(d.X_train.shape), tuple(d.X_test.shape), d.n_classes
((100, 13), (78, 13), 3)
>>> abs(float(d.X_train.mean())) < 1e-12
True
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral

__all__ = ["DATASETS", "Dataset", "DatasetError", "DatasetUnavailableError", "dataset_size", "load_dataset"]

#: names accepted by :func:`load_dataset`
DATASETS = ("digits", "breast_cancer", "wine", "mnist1d")

_SIZES = {"digits": 1797, "breast_cancer": 569, "wine": 178, "mnist1d": 5000}


class DatasetError(ValueError):
    """An argument of :func:`load_dataset` is invalid; the message names it and says what to pass."""


class DatasetUnavailableError(ImportError):
    """The package that provides a data set is not installed; the message names the install."""


@dataclass(frozen=True)
class Dataset:
    """A standardised train/test split (float64 features, int64 labels, CPU tensors)."""

    name: str
    X_train: object
    y_train: object
    X_test: object
    y_test: object
    n_classes: int
    seed: int

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_train(self) -> int:
        return int(self.X_train.shape[0])

    def tensors(self):
        """``(X_train, y_train, X_test, y_test)`` — the tuple of :func:`numerics.training.digits_split`."""
        return self.X_train, self.y_train, self.X_test, self.y_test


def _name(name) -> str:
    if not isinstance(name, str) or name not in DATASETS:
        raise DatasetError(f"name must be one of {', '.join(DATASETS)}; got {name!r}")
    return name


def dataset_size(name: str) -> int:
    """Number of samples in data set ``name`` (train + test)."""
    return _SIZES[_name(name)]


def _raw(name: str):
    """``(X, y)`` as NumPy arrays (float64, int64) in the source's order."""
    import numpy as np

    if name == "mnist1d":
        try:
            from mnist1d.data import get_dataset_args, make_dataset
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise DatasetUnavailableError(
                "data set 'mnist1d' needs the mnist1d package: pip install mnist1d "
                "(it is in the dev extra: pip install -e '.[dev]')") from exc
        import random

        args = get_dataset_args()
        # the package's defaults (5000 samples, 40 features, its seed 42); generated, never
        # downloaded. make_dataset seeds NumPy's and Python's global generators: restore them.
        np_state, py_state = np.random.get_state(), random.getstate()
        try:
            raw = make_dataset(args)
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)
        X = np.concatenate([raw["x"], raw["x_test"]]).astype(np.float64)
        y = np.concatenate([raw["y"], raw["y_test"]]).astype(np.int64)
        return X, y
    from sklearn import datasets as skd

    loader = {"digits": skd.load_digits, "breast_cancer": skd.load_breast_cancer, "wine": skd.load_wine}[name]
    d = loader()
    return np.asarray(d.data, dtype=np.float64), np.asarray(d.target, dtype=np.int64)


_CACHE: dict = {}


def load_dataset(name: str, n_train: int | None = None, seed: int = 0) -> Dataset:
    """Data set ``name`` split into ``n_train`` training samples and the rest as test set.

    Parameters
    ----------
    name : one of :data:`DATASETS`.
    n_train : training-set size, ``2 ≤ n_train ≤ size − 1``; ``None`` takes 70 % of the samples.
    seed : the permutation's seed (``numpy.random.default_rng(seed)``), ``≥ 0``.

    Returns
    -------
    Dataset
        Features standardised with the training subset's mean and standard deviation (``+1e-8``).

    Examples
    --------
    >>> d = load_dataset("breast_cancer", n_train=400, seed=1)
    >>> d.n_classes, d.n_features, d.n_train, int(d.X_test.shape[0])
    (2, 30, 400, 169)
    """
    import numpy as np
    import torch

    name = _name(name)
    size = _SIZES[name]
    if n_train is None:
        n_train = int(math.floor(0.7 * size))
    if isinstance(n_train, bool) or not isinstance(n_train, Integral) or not 2 <= int(n_train) <= size - 1:
        raise DatasetError(f"n_train must be a whole number in [2, {size - 1}] for {name!r}; got {n_train!r}")
    if isinstance(seed, bool) or not isinstance(seed, Integral) or int(seed) < 0:
        raise DatasetError(f"seed must be a whole number >= 0; got {seed!r}")
    n_train, seed = int(n_train), int(seed)
    if name not in _CACHE:
        _CACHE[name] = _raw(name)
    X, y = _CACHE[name]
    perm = np.random.default_rng(seed).permutation(len(X))
    tr, te = perm[:n_train], perm[n_train:]
    mu, sd = X[tr].mean(0), X[tr].std(0) + 1e-8
    Xs = torch.tensor((X - mu) / sd, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.long)
    return Dataset(name=name, X_train=Xs[tr], y_train=yt[tr], X_test=Xs[te], y_test=yt[te],
                   n_classes=int(y.max()) + 1, seed=seed)
