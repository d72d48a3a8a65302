import numpy as np
import pytest
import sympy as sp

from theory.coordinates import as_expr
from theory.parsing import UnsafeExpressionError, parse_expression

x, y = sp.symbols("x y")


def test_parses_arithmetic_over_whitelisted_names():
    e = parse_expression("exp(-x**2/2) + 3*x*y - log(1 + y)/2", symbols=[x, y])
    assert sp.simplify(e - (sp.exp(-x**2 / 2) + 3 * x * y - sp.log(1 + y) / 2)) == 0
    assert parse_expression("2.5*pi", symbols=[]) == sp.Float(2.5) * sp.pi


@pytest.mark.parametrize("text", [
    "__import__('os').system('true')", "x.__class__", "x[0]", "lambda: 1", "open('f')",
    "z + 1", "x if y else 1", "'abc'", "x; y", "exp.__doc__", "0x1f",
])
def test_rejects_anything_but_plain_formulas(text):
    with pytest.raises(UnsafeExpressionError):
        parse_expression(text, symbols=[x, y])


def test_bad_argument_types():
    with pytest.raises(TypeError):
        parse_expression(3, symbols=[x])
    with pytest.raises(TypeError):
        parse_expression("x", symbols=["x"])


def test_as_expr_refuses_strings_and_accepts_numbers():
    with pytest.raises(TypeError, match="never evaluated"):
        as_expr("x + 1")
    assert as_expr(np.float64(1.5)) == sp.Float(1.5)
    assert as_expr(2) == 2 and as_expr(x) == x


def test_theory_entry_points_refuse_strings():
    from theory.effective_potential import effective_potential
    from theory.laplace import gaussian_mixture

    with pytest.raises(TypeError):
        effective_potential("x**2", 1, x, sp.Symbol("T", positive=True))
    with pytest.raises(TypeError):
        gaussian_mixture("x**2", x, [0], sp.Rational(1, 10))
