"""Marker expressions as ``pytest -m`` reads them (``gate``, ``gate and not slow``, ``(health or smoke) and gate``),
evaluated against a test's marker names without importing pytest.

Grammar::

    expr     := and_expr ("or" and_expr)*
    and_expr := not_expr ("and" not_expr)*
    not_expr := "not" not_expr | "(" expr ")" | NAME
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

_TOKEN = re.compile(r"\s*(\(|\)|[\w:+\-.\[\]\\/]+)")

Predicate = Callable[[Collection[str]], bool]


class MarkerExpressionError(ValueError):
    pass


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise MarkerExpressionError(f"marker expression {text!r}: unexpected character at column {pos + 1}")
        out.append(m.group(1))
        pos = m.end()
    return out


def compile_markers(text: str) -> Predicate:
    """Compile ``text`` into a predicate over a collection of marker names; raise :class:`MarkerExpressionError`."""
    tokens = _tokens(text)
    if not tokens:
        raise MarkerExpressionError("marker expression is empty")
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise MarkerExpressionError(f"marker expression {text!r}: unexpected end")
        pos += 1
        return tokens[pos - 1]

    def expr() -> Predicate:
        terms = [and_expr()]
        while peek() == "or":
            take()
            terms.append(and_expr())
        return terms[0] if len(terms) == 1 else (lambda names: any(t(names) for t in terms))

    def and_expr() -> Predicate:
        terms = [not_expr()]
        while peek() == "and":
            take()
            terms.append(not_expr())
        return terms[0] if len(terms) == 1 else (lambda names: all(t(names) for t in terms))

    def not_expr() -> Predicate:
        token = take()
        if token == "not":
            inner = not_expr()
            return lambda names: not inner(names)
        if token == "(":
            inner = expr()
            if take() != ")":
                raise MarkerExpressionError(f"marker expression {text!r}: expected ')'")
            return inner
        if token in (")", "and", "or"):
            raise MarkerExpressionError(f"marker expression {text!r}: unexpected {token!r}")
        return lambda names: token in names

    result = expr()
    if pos != len(tokens):
        raise MarkerExpressionError(f"marker expression {text!r}: unexpected {tokens[pos]!r}")
    return result
