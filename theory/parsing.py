"""Safe parsing of user-typed formulas (DESIGN.md: nothing user-given is ``eval``-ed).

:func:`parse_expression` accepts a formula only if every name in it is on a whitelist (the
symbols you pass plus a fixed set of elementary functions and constants) and it uses only
arithmetic syntax; then it is handed to SymPy's ``parse_expr`` with a namespace that holds nothing
but those names. Attribute access, indexing, keywords, strings, lambdas and dunder names are refused
before anything is evaluated.

>>> import sympy as sp
>>> x = sp.Symbol('x')
>>> parse_expression('exp(-x**2/2) + 3*x', symbols=[x])
3*x + exp(-x**2/2)
"""
from __future__ import annotations

import io
import keyword
import tokenize

import sympy as sp
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


class UnsafeExpressionError(ValueError):
    """The text is not a plain arithmetic formula over whitelisted names."""


def parse_expression(text: str, *, symbols=(), functions: dict | None = None) -> sp.Expr:
    """Parse ``text`` into a SymPy expression over ``symbols`` (Symbols, matched by name).

    Raises :class:`UnsafeExpressionError` naming the offending token when the text contains an
    unknown name, a keyword, attribute access, indexing or any non-arithmetic syntax.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    if len(text) > _MAX_LENGTH:
        raise UnsafeExpressionError(f"formula longer than {_MAX_LENGTH} characters")
    allowed = dict(ALLOWED_FUNCTIONS if functions is None else functions)
    for s in symbols:
        if not isinstance(s, sp.Symbol):
            raise TypeError(f"symbols must be SymPy Symbols; got {s!r}")
        allowed[s.name] = s
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError) as exc:
        raise UnsafeExpressionError(f"cannot tokenize formula: {exc}") from exc
    for tok in tokens:
        if tok.type in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT,
                        tokenize.DEDENT):
            continue
        if tok.type == tokenize.NUMBER:
            if any(c in tok.string.lower() for c in "jx_") and not tok.string.replace("_", "").isdigit():
                raise UnsafeExpressionError(f"unsupported number literal {tok.string!r}")
            continue
        if tok.type == tokenize.NAME:
            if keyword.iskeyword(tok.string) or tok.string.startswith("_") or tok.string not in allowed:
                raise UnsafeExpressionError(
                    f"name {tok.string!r} is not allowed; allowed names: {sorted(allowed)}")
            continue
        if tok.type == tokenize.OP and tok.string in _ALLOWED_OPS:
            continue
        raise UnsafeExpressionError(f"token {tok.string!r} is not allowed in a formula")
    namespace = {"Integer": sp.Integer, "Float": sp.Float, "Rational": sp.Rational, "Symbol": sp.Symbol}
    return parse_expr(text, local_dict=allowed, global_dict=namespace,
                      transformations=standard_transformations, evaluate=True)
