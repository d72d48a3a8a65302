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


# --------------------------------------------------------------------------------------------------
# generated code: small integer powers as products, CSE only where it pays
# --------------------------------------------------------------------------------------------------
def _source(f):
    import inspect

    return inspect.getsource(f._fn)


POWERS = [(x - y) ** 3, x ** 5 - 2 * y ** 4, (x + 3) ** -2, 1 / (x ** 2 + 1) ** 3, x ** 8, (x * y) ** -8]


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("k", range(len(POWERS)))
def test_small_integer_powers_are_products_and_agree_with_evalf(backend, k):
    e = POWERS[k]
    f = compile_expr(e, [x, y], backend=backend, device="cpu")
    from numerics.compile import FAST_EXPONENTS

    src = _source(f)
    for n in set(range(-8, 9)) - FAST_EXPONENTS[backend]:  # no general pow, whatever the printer
        assert f"**{n}" not in src and f"**({n}" not in src and f", {n})" not in src, src
    xs, ys = _points(seed=k)
    xs = xs + 0.5 * np.sign(xs)  # |x| >= 0.5: (x*y)**-8 stays far from overflow
    got = np.asarray(f(xs, ys), dtype=float)
    ref = np.array([float(e.subs({x: a, y: b}).evalf(30)) for a, b in zip(xs, ys)])
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=0)


def test_power_expansion_limits_and_kept_powers():
    from numerics.compile import codegen_plan

    # n = 9 is over the default limit of 8: left to pow; squares and reciprocals stay (fast paths)
    assert "**9" in _source(compile_expr(x ** 9, [x]))
    src = _source(compile_expr((x - 2 * y) ** 2 + 1 / (x + y), [x, y], cse=False))
    assert "(x - 2*y)**2" in src and "(x + y)**(-1" in src and "pb0" not in src, src
    assert "**3" in _source(compile_expr(x ** 3, [x], expand_pow=0))
    assert "x*x*x" in _source(compile_expr(x ** 3, [x]))
    # torch cubes and inverts squares by fast kernels: those stay pow(); a 4th power does not
    tsrc = _source(compile_expr((x - y) ** 3 + (x - y) ** -2 + x ** 4, [x, y], backend="torch", device="cpu"))
    assert ", 3)" in tsrc and ", -2)" in tsrc and "x*x*x*x" in tsrc, tsrc
    with pytest.raises(CompileError, match="backend"):
        codegen_plan([x], backend="jax")
    # a compound base is computed once, bound to a temporary
    _, repl, red = codegen_plan([(x - y) ** 3 + (x - y) ** 4], cse=False)
    assert [rhs for _, rhs in repl] == [x - y]
    with pytest.raises(CompileError, match="expand_pow"):
        compile_expr(x, [x], expand_pow=-1)
    with pytest.raises(CompileError, match="expand_pow"):
        compile_expr(x, [x], expand_pow=2.5)


def test_cse_is_chosen_only_where_it_pays():
    from numerics.compile import CSE_MIN_SAVING, codegen_plan, operation_cost

    nothing_repeated = 36 * x ** 4 - 48 * x ** 2 + 124
    assert compile_expr(nothing_repeated, [x]).cse is False
    shared = [sp.exp(-(x - 1) ** 2) * sp.sin(x * y), sp.exp(-(x - 1) ** 2) * sp.cos(x * y) + sp.sin(x * y)]
    assert compile_expr(shared, [x, y]).cse is True
    # forced either way, and the same numbers
    a, b = compile_expr(shared, [x, y], cse=False), compile_expr(nothing_repeated, [x], cse=True)
    assert a.cse is False and b.cse is True
    xs, ys = _points(5)
    np.testing.assert_allclose(a(xs, ys), compile_expr(shared, [x, y])(xs, ys), rtol=1e-14)
    # the rule: CSE iff it cuts the weighted operation count by >= CSE_MIN_SAVING
    for e in (shared, [nothing_repeated], [sp.exp(x) + sp.exp(x) * y], [x * y + (x * y) ** 2]):
        use, _, _ = codegen_plan(e)
        _, r0, e0 = codegen_plan(e, cse=False)
        _, r1, e1 = codegen_plan(e, cse=True)
        c0 = operation_cost([v for _, v in r0] + e0)
        c1 = operation_cost([v for _, v in r1] + e1)
        assert use == (c1 <= (1 - CSE_MIN_SAVING) * c0), (e, c0, c1)
    with pytest.raises(CompileError, match="cse must be"):
        compile_expr(x, [x], cse="yes")


def test_operation_cost_weights():
    from numerics.compile import operation_cost

    assert operation_cost(sp.exp(x) + x * x) == 12      # exp 10, one mul, one add
    assert operation_cost(x ** 3) == 10                  # a general pow
    assert operation_cost(sp.sqrt(2) * x) == 1           # constants cost nothing
    assert operation_cost(sp.sqrt(x)) == 2 and operation_cost(x ** 2) == 1 and operation_cost(1 / x) == 1
    assert operation_cost(sp.Abs(x)) == 1 and operation_cost(sp.erf(x)) == 10
    assert operation_cost([sp.exp(x), sp.exp(x)]) == 20  # a repeated subtree counts each time
    assert operation_cost(sp.Integer(3)) == 0 and operation_cost(x) == 0


def test_generated_names_never_shadow_arguments():
    x0, x1, pb0 = sp.Symbol("x0", real=True), sp.Symbol("x1"), sp.Symbol("pb0", positive=True)
    e = [sp.exp(x0 + pb0) * (x0 - x1) ** 3, sp.exp(x0 + pb0) + (x1 - pb0) ** 4, sp.exp(x0 + pb0)]
    f = compile_expr(e, [x0, x1, pb0])
    assert f.cse is True
    got = f(0.3, -0.7, 1.1)
    ref = [float(v.subs({x0: 0.3, x1: -0.7, pb0: 1.1})) for v in e]
    np.testing.assert_allclose(got, ref, rtol=1e-14)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_result_never_aliases_an_input(backend):
    """A scalar result that is already a fresh array is returned without a copy; one that is an
    input (``x``) or a view of it (``re(x)``) is copied."""
    for e in (x, sp.re(x), 2 * x):
        f = compile_expr(e, [x], backend=backend, device="cpu")
        a = np.array([1.0, 2.0, 3.0]) if backend == "numpy" else torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
        out = f(a)
        out[0] = 99.0
        assert float(a[0]) == 1.0, e
    b = np.array([1.0, 2.0])
    out = compile_expr(x + y, [x, y])(b, np.array([[1.0], [2.0]]))
    assert out.shape == (2, 2) and not np.shares_memory(out, b)


def test_package_api_is_lazy_and_complete():
    """``import numerics`` does not import torch; every name of ``numerics.__all__`` resolves to the
    object of the submodule the package map names."""
    import importlib
    import subprocess
    import sys

    import numerics

    code = "import sys, numerics; numerics.compile_expr; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    for name in numerics.__all__:
        home = importlib.import_module(f"numerics.{numerics._WHERE[name]}")
        assert getattr(numerics, name) is getattr(home, name)
        assert name in home.__all__, f"numerics.{name} is not in its module's __all__"
    for module in numerics._API:
        assert f":mod:`numerics.{module}`" in numerics.__doc__
