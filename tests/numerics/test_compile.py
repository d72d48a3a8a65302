"""numerics.compile: compiled expressions agree with SymPy evalf; shapes; CSE; devices; errors."""
import warnings

import numpy as np
import pytest
import sympy as sp
import torch

from numerics.compile import CompileError, DeviceFallbackWarning, compile_expr, resolve_device

x, y = sp.symbols("x y", real=True)
EXPRS = [
    sp.sqrt(2) * sp.exp(-(x - 1) ** 2 / (2 * sp.Rational(1, 10) ** 2)) / sp.pi + sp.Rational(1, 3) * y ** 3,
    sp.log(1 + x ** 2) * sp.cos(y) - sp.Abs(x - y),
    (x ** 2 + y ** 2) ** sp.Rational(3, 2) / (1 + sp.exp(-x * y)),
]


def _points(seed=0, n=7):
    rng = np.random.default_rng(seed)
    return rng.uniform(-2, 2, n), rng.uniform(-2, 2, n)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("k", range(len(EXPRS)))
def test_agrees_with_evalf(backend, k):
    e = EXPRS[k]
    f = compile_expr(e, [x, y], backend=backend, device="cpu")
    xs, ys = _points(seed=k)
    got = np.asarray(f(xs, ys), dtype=float)
    ref = np.array([float(e.subs({x: a, y: b}).evalf(30)) for a, b in zip(xs, ys)])
    assert got.shape == xs.shape
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_cse_on_off_agree(backend):
    e = EXPRS[0] * EXPRS[1] + EXPRS[0] ** 2
    xs, ys = _points(3)
    a = np.asarray(compile_expr(e, [x, y], backend=backend, cse=True, device="cpu")(xs, ys))
    b = np.asarray(compile_expr(e, [x, y], backend=backend, cse=False, device="cpu")(xs, ys))
    np.testing.assert_allclose(a, b, rtol=1e-13, atol=0)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_matrix_and_list_shapes_and_constant_broadcast(backend):
    M = sp.Matrix([[x, 1], [x * y, sp.pi]])
    f = compile_expr(M, [x, y], backend=backend, device="cpu")
    out = f(np.zeros((2, 3)), 1.0)
    assert tuple(out.shape) == (2, 3, 2, 2)
    assert float(out[1, 2, 1, 1]) == pytest.approx(np.pi, abs=1e-15)
    assert float(out[0, 0, 0, 1]) == pytest.approx(1.0, abs=1e-15)
    col = compile_expr(sp.Matrix([x, y]), [x, y], backend=backend, device="cpu")
    assert tuple(col(np.ones(4), 2.0).shape) == (4, 2, 1)
    lst = compile_expr([x, 2, y ** 2], [x, y], backend=backend, device="cpu")
    out = lst([1.0, 2.0], 3.0)
    assert tuple(out.shape) == (2, 3)
    np.testing.assert_allclose(np.asarray(out), [[1, 2, 9], [2, 2, 9]])
    const = compile_expr(sp.Integer(3), [x], backend=backend, device="cpu")
    np.testing.assert_array_equal(np.asarray(const(np.ones(4))), 3.0)


def test_dtype_default_float64_and_at_points():
    f = compile_expr(x * y, [x, y])
    out = f(np.array([1, 2]), np.array([3, 4]))  # integer input → float64
    assert out.dtype == np.float64
    pts = np.array([[1.0, 3.0], [2.0, 4.0]])
    np.testing.assert_array_equal(f.at_points(pts), [3.0, 8.0])
    with pytest.raises(ValueError, match="coordinates"):
        f.at_points(np.ones((2, 3)))


def test_torch_auto_device_and_fallback():
    f = compile_expr(x ** 2, [x], backend="torch", device="auto")
    out = f(torch.tensor([1.0, 2.0]))
    assert out.dtype == torch.float64
    assert out.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.warns(DeviceFallbackWarning):
            dev = resolve_device("cuda")
        assert dev.type == "cpu"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_device("cpu").type == "cpu"


def test_errors():
    with pytest.raises(CompileError, match=r"\['y'\]"):
        compile_expr(x + y, [x])
    with pytest.raises(CompileError, match="backend"):
        compile_expr(x, [x], backend="jax")
    with pytest.raises(CompileError, match="Symbol"):
        compile_expr(x, [x + 1])
    with pytest.raises(CompileError, match="strings"):
        compile_expr("x**2", [x])
    with pytest.raises(CompileError, match="CPU"):
        compile_expr(x, [x], device="cuda")
    f = compile_expr(x + y, [x, y])
    with pytest.raises(TypeError, match="2 argument"):
        f(1.0)
