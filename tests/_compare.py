"""Tolerance-aware comparison of nested JSON-like results (records, metrics).

Floating-point results are not bit-identical across CPUs, BLAS kernels and library versions, so a
re-derived metric is compared with a relative tolerance, never with ``==``. Strings, booleans and
``None`` must match exactly; numbers match to ``rtol`` (plus ``atol`` for values near zero).
"""
from __future__ import annotations

import math
from numbers import Number

__all__ = ["assert_tree_close"]


def assert_tree_close(actual, expected, *, rtol: float = 1e-9, atol: float = 1e-12, path: str = "$",
                      rtol_by_key=None):
    """Assert that two nested dict/list/number trees agree, naming the first differing path.

    ``rtol_by_key``: a looser ``rtol`` for the values under named dict keys whose computation is
    known to be reproducible only to that precision (e.g. a relaxation time −1/log|λ₂| from an
    iterative eigen-solve of a non-normal matrix, whose relative error is ~1e-9/(1 − |λ₂|)).

    >>> assert_tree_close({"a": [1.0, 2.0 + 1e-14]}, {"a": [1, 2.0]})
    """
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected a dict, got {type(actual).__name__}"
        assert set(actual) == set(expected), (
            f"{path}: keys differ: only in actual {sorted(set(actual) - set(expected))}, "
            f"only in expected {sorted(set(expected) - set(actual))}")
        for k in expected:
            r = (rtol_by_key or {}).get(k, rtol)
            assert_tree_close(actual[k], expected[k], rtol=r, atol=atol, path=f"{path}.{k}", rtol_by_key=rtol_by_key)
    elif isinstance(expected, (list, tuple)):
        assert isinstance(actual, (list, tuple)), f"{path}: expected a list, got {type(actual).__name__}"
        assert len(actual) == len(expected), f"{path}: length {len(actual)} != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_tree_close(a, e, rtol=rtol, atol=atol, path=f"{path}[{i}]", rtol_by_key=rtol_by_key)
    elif isinstance(expected, bool) or expected is None or isinstance(expected, str):
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"
    elif isinstance(expected, Number):
        assert isinstance(actual, Number) and not isinstance(actual, bool), (
            f"{path}: expected a number, got {actual!r}")
        a, e = float(actual), float(expected)
        if math.isnan(e):
            assert math.isnan(a), f"{path}: {a!r} is not NaN"
        elif math.isinf(e):
            assert a == e, f"{path}: {a!r} != {e!r}"
        else:
            assert math.isclose(a, e, rel_tol=rtol, abs_tol=atol), (
                f"{path}: {a!r} differs from {e!r} by {abs(a - e):.3g} (rtol {rtol:g}, atol {atol:g})")
    else:
        raise TypeError(f"{path}: cannot compare values of type {type(expected).__name__}")
