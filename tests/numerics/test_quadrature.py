"""Compiled sympy.Integral nodes (numerics.compile + numerics.quadrature) against mpmath."""
import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp

from numerics.compile import CompileError, compile_expr
from numerics.quadrature import QuadratureWarning, integrate_batch

x, y, s, t = sp.symbols("x y s t", real=True)


def test_variable_limits_and_outer_expression():
    e = 1 + sp.exp(-sp.Integral(sp.sinh(s) / (3 + sp.sin(s)), (s, y, x)))
    f = compile_expr(e, [x, y])
    xs, ys = np.array([0.3, -2.0, 4.0, 1.0]), np.array([0.0, 1.5, -1.0, 1.0])
    got = f(xs, ys)
    ref = [1 + float(mpmath.exp(-mpmath.quad(lambda u: mpmath.sinh(u) / (3 + mpmath.sin(u)), [b, a])))
           for a, b in zip(xs, ys)]
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    assert len(f.integrals) == 1


def test_matrix_output_broadcast_and_torch():
    M = sp.Matrix([sp.Integral(sp.cos(x * s), (s, 0, 1)), x])
    f = compile_expr(M, x)
    xs = np.linspace(0.5, 3, 5).reshape(5, 1)
    got = f(xs)
    assert got.shape == (5, 1, 2, 1)
    np.testing.assert_allclose(got[..., 0, 0], np.sin(xs) / xs, rtol=1e-13)
    ft = compile_expr(M, x, backend="torch", device="cpu")
    np.testing.assert_allclose(ft(xs).numpy(), got, rtol=1e-13)


def test_nested_and_multiple_limits():
    e = sp.Integral(sp.exp(-s * t), (s, 0, t), (t, 0, x))  # inner limit depends on the outer variable
    f = compile_expr(e, x)
    ref = float(mpmath.quad(lambda tt: mpmath.quad(lambda ss: mpmath.exp(-ss * tt), [0, tt]), [0, 1.7]))
    np.testing.assert_allclose(f(1.7), ref, rtol=1e-11)


def test_refusals():
    with pytest.raises(CompileError, match="indefinite"):
        compile_expr(sp.Integral(sp.sin(s) / s, s), s)
    with pytest.raises(CompileError, match="infinite"):
        compile_expr(sp.Integral(sp.exp(-s**2 * x), (s, 0, sp.oo)), x)
    with pytest.raises(CompileError, match="free symbols"):
        compile_expr(sp.Integral(y * s, (s, 0, x)), x)


def test_singular_integrand_warns_and_nan_limits_give_nan():
    with pytest.warns(QuadratureWarning):
        r = integrate_batch(lambda u, rows: 1 / np.sqrt(np.abs(u)), np.array([0.0]), np.array([1.0]),
                            max_panels=16)
    assert abs(r.value[0] - 2) < 5e-2 and not r.converged[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = integrate_batch(lambda u, rows: u, np.array([np.nan, 0.0]), np.array([1.0, 2.0]))
    assert np.isnan(r.value[0]) and abs(r.value[1] - 2) < 1e-14
