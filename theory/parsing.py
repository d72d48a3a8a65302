"""Safe parsing of user-typed formulas (DESIGN.md: nothing user-given is ``eval``-ed).

:func:`parse_expression` accepts a formula only if every name in it is on a whitelist (the
symbols you pass plus a fixed set of elementary functions and constants) and it uses only
arithmetic syntax; then it is handed to SymPy's ``parse_expr`` with a namespace that holds nothing
but those names. Attribute access, indexing, keywords, strings, lambdas and dunder names are refused
before anything is evaluated.

Numbers are bounded too, so a formula cannot hang the process (``9**9**9``, ``1e999999``,
``gamma(10**6)``): the text is first parsed *without evaluation*, the unevaluated tree is checked
(number literals of at most 300 significant digits and decimal exponents within ±1000, numeric
exponents of at most 1000 in magnitude, numeric sub-expressions below 10**10000, nested powers of
total degree at most 10000), and only then is the formula evaluated.

>>> import sympy as sp
>>> x = sp.Symbol('x')
>>> parse_expression('exp(-x**2/2) + 3*x', symbols=[x])
3*x + exp(-x**2/2)
"""
from __future__ import annotations

import io
import keyword
import math
import re
import tokenize

import sympy as sp
from sympy.core.parameters import evaluate as _evaluate
from sympy.parsing.sympy_parser import parse_expr, standard_transformations

__all__ = ["ALLOWED_FUNCTIONS", "UnsafeExpressionError", "parse_expression"]

#: Elementary functions and constants a formula may use.
ALLOWED_FUNCTIONS: dict[str, object] = {
    "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "sin": sp.sin, "cos": sp.cos, "tan": sp.tan,
    "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh, "atan": sp.atan, "Abs": sp.Abs,
    "erf": sp.erf, "gamma": sp.gamma, "pi": sp.pi, "E": sp.E,
}

_ALLOWED_OPS = {"+", "-", "*", "/", "**", "(", ")", ","}
_MAX_LENGTH = 2000
#: Bounds that keep parsing and evaluation fast (see the module docstring).
MAX_LITERAL_DIGITS = 300
MAX_LITERAL_EXPONENT = 1000
MAX_EXPONENT = 1000
MAX_MAGNITUDE_DIGITS = 10_000
MAX_DEGREE = 10_000

_NUMBER = re.compile(r"^(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$")
#: Functions whose value grows like exp(|x|) (log10 of the value ≈ 0.4343 |x|).
_EXPONENTIAL = (sp.exp, sp.sinh, sp.cosh)
#: Functions bounded by a constant for real arguments (the bound only has to be generous).
_BOUNDED = (sp.sin, sp.cos, sp.tanh, sp.atan, sp.erf)


class UnsafeExpressionError(ValueError):
    """The text is not a plain arithmetic formula over whitelisted names."""


def _check_number_literal(token: str) -> None:
    """Refuse number literals with absurd magnitude or precision (``1e999999``, 10**400 digits)."""
    m = _NUMBER.match(token.replace("_", ""))
    if m is None:
        raise UnsafeExpressionError(f"unsupported number literal {token!r}")
    whole, frac, exp = m.group(1), m.group(2) or "", m.group(3)
    digits = (whole + frac).lstrip("0")
    if len(digits) > MAX_LITERAL_DIGITS:
        raise UnsafeExpressionError(
            f"number literal with {len(digits)} significant digits (at most {MAX_LITERAL_DIGITS}): "
            f"{token[:40]}...")
    if not digits:
        return  # zero
    e10 = int(exp) if exp is not None and len(exp.lstrip("+-")) <= 8 else None
    if exp is not None and (e10 is None or abs(e10) > 10 * MAX_LITERAL_EXPONENT):
        raise UnsafeExpressionError(f"number literal {token[:40]!r}: exponent out of range "
                                    f"(|exponent| ≤ {MAX_LITERAL_EXPONENT})")
    lead = len(whole.lstrip("0")) - 1 if whole.lstrip("0") else -(len(frac) - len(frac.lstrip("0")) + 1)
    magnitude = lead + (e10 or 0)
    if abs(magnitude) > MAX_LITERAL_EXPONENT:
        raise UnsafeExpressionError(
            f"number literal {token[:40]!r} has magnitude 10^{magnitude} (allowed: "
            f"10^-{MAX_LITERAL_EXPONENT} … 10^{MAX_LITERAL_EXPONENT})")


def _log10_abs(n: sp.Number) -> float:
    """Bound on |log10 |n|| for a SymPy number (0 for 0)."""
    if n == 0:
        return 0.0
    if isinstance(n, sp.Rational):
        return max(math.log10(abs(int(n.p))), math.log10(int(n.q)))
    return abs(float(sp.log(abs(n), 10).evalf(15))) if isinstance(n, sp.Float) else 1.0


def _pow10(L: float) -> float:
    return math.inf if L > 300 else 10.0 ** L


def _bounds(e) -> tuple[float, float]:
    """Walk an *unevaluated* expression; return ``(L, deg)``: a bound on |log10| of the magnitude
    of its numeric content (symbols count as 1) and on its polynomial degree. Raises
    :class:`UnsafeExpressionError` as soon as a bound is exceeded."""
    if isinstance(e, sp.Number):
        return _log10_abs(e), 0.0
    if isinstance(e, sp.Symbol):
        return 0.0, 1.0
    if isinstance(e, (tuple, list, sp.Tuple)):
        parts = [_bounds(a) for a in e]
        return (max((p[0] for p in parts), default=0.0), max((p[1] for p in parts), default=0.0))
    if not isinstance(e, sp.Basic) or not e.args:  # pi, E and other atoms
        return 1.0, 0.0
    parts = [_bounds(a) for a in e.args]
    if isinstance(e, sp.Pow):
        (Lb, db), (Le, de) = parts
        base, ex = e.args
        if ex.free_symbols:
            if Le > math.log10(MAX_EXPONENT) + 1e-12:
                raise UnsafeExpressionError(
                    f"exponent too large in {_short(e)}: numbers in an exponent must be at most "
                    f"{MAX_EXPONENT} in magnitude")
            L, deg = Lb * _pow10(Le), db + de
        else:
            E = float(abs(ex)) if isinstance(ex, sp.Number) else (
                math.inf if Le > math.log10(MAX_EXPONENT) + 1e-12 else 10.0 ** Le)
            if E > MAX_EXPONENT:
                raise UnsafeExpressionError(
                    f"exponent too large in {_short(e)}: numeric exponents must be at most "
                    f"{MAX_EXPONENT} in magnitude")
            L, deg = Lb * max(E, 1.0), db * max(E, 1.0)
    elif isinstance(e, sp.Mul):
        L, deg = sum(p[0] for p in parts), sum(p[1] for p in parts)
    elif isinstance(e, sp.Add):
        L = max(p[0] for p in parts) + math.log10(len(parts))
        deg = max(p[1] for p in parts)
    elif isinstance(e, sp.Function) and len(parts) == 1:
        (La, da), = parts
        arg = e.args[0]
        numeric = not arg.free_symbols
        X = _pow10(La)
        if isinstance(e, _EXPONENTIAL):
            L = 0.4343 * X if numeric else La
        elif isinstance(e, sp.gamma):
            L = X * math.log10(X + 1.0) if numeric else La
        elif isinstance(e, _BOUNDED):
            L = 1.0
        elif isinstance(e, sp.log):
            L = math.log10(2.31 * La + 1.0) + 1.0
        else:
            L = La
        deg = da if da else (1.0 if not numeric else 0.0)
    else:  # user-supplied or multi-argument functions: be conservative
        L, deg = sum(p[0] for p in parts), sum(p[1] for p in parts)
    if L > MAX_MAGNITUDE_DIGITS:
        raise UnsafeExpressionError(
            f"number too large in {_short(e)} (more than about 10^{MAX_MAGNITUDE_DIGITS}); formulas "
            "are limited to numbers a float computation can use")
    if deg > MAX_DEGREE:
        raise UnsafeExpressionError(
            f"nested powers of total degree above {MAX_DEGREE} in {_short(e)}")
    return L, deg


def _short(e, limit: int = 60) -> str:
    try:
        text = sp.sstr(e)
    except Exception:  # pragma: no cover - printing an unevaluated tree should not fail
        text = type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_expression(text: str, *, symbols=(), functions: dict | None = None) -> sp.Expr:
    """Parse ``text`` into a SymPy expression over ``symbols`` (Symbols, matched by name).

    Raises :class:`UnsafeExpressionError` naming the offending token when the text contains an
    unknown name, a keyword, attribute access, indexing or any non-arithmetic syntax, when it is
    empty, and when its numbers are too large to evaluate quickly (``9**9**9``, ``1e999999``:
    see the module docstring for the bounds).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    if len(text) > _MAX_LENGTH:
        raise UnsafeExpressionError(f"formula longer than {_MAX_LENGTH} characters")
    if not text.strip():
        raise UnsafeExpressionError("empty formula: give an expression such as 'x**2/2'")
    allowed = dict(ALLOWED_FUNCTIONS if functions is None else functions)
    for s in symbols:
        if not isinstance(s, sp.Symbol):
            raise TypeError(f"symbols must be SymPy Symbols; got {s!r}")
        allowed[s.name] = s
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError) as exc:
        raise UnsafeExpressionError(f"cannot tokenize formula: {exc}") from exc
    for tok in tokens:
        if tok.type in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT,
                        tokenize.DEDENT):
            continue
        if tok.type == tokenize.NUMBER:
            if any(c in tok.string.lower() for c in "jx_") and not tok.string.replace("_", "").isdigit():
                raise UnsafeExpressionError(f"unsupported number literal {tok.string!r}")
            _check_number_literal(tok.string)
            continue
        if tok.type == tokenize.NAME:
            if keyword.iskeyword(tok.string) or tok.string.startswith("_") or tok.string not in allowed:
                raise UnsafeExpressionError(
                    f"name {tok.string!r} is not allowed; allowed names: {sorted(allowed)}")
            continue
        if tok.type == tokenize.OP and tok.string in _ALLOWED_OPS:
            continue
        raise UnsafeExpressionError(f"token {tok.string!r} is not allowed in a formula")
    namespace = {"Integer": sp.Integer, "Float": sp.Float, "Rational": sp.Rational, "Symbol": sp.Symbol,
                 "Add": sp.Add, "Mul": sp.Mul, "Pow": sp.Pow}
    # 1. parse without evaluating anything (gamma(10**6) stays unevaluated), 2. bound the numbers
    # in the tree, 3. only then parse again with evaluation.
    try:
        with _evaluate(False):
            tree = parse_expr(text, local_dict=dict(allowed), global_dict=dict(namespace),
                              transformations=standard_transformations, evaluate=False)
    except (SyntaxError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise UnsafeExpressionError(f"cannot parse formula {text[:60]!r}: {exc}") from None
    try:
        _bounds(tree)
    except RecursionError:
        raise UnsafeExpressionError("formula nested too deeply") from None
    try:
        return parse_expr(text, local_dict=dict(allowed), global_dict=dict(namespace),
                          transformations=standard_transformations, evaluate=True)
    except (SyntaxError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise UnsafeExpressionError(f"cannot parse formula {text[:60]!r}: {exc}") from None
