"""Conditions over a JSON body, in the spirit of Gatus: one line each, shown pass/fail.

    $.status == healthy          a value at a path equals a literal
    $.checks.database.status != unhealthy
    len($.standings) > 0         the length of a list, object or string
    $.items[0].id >= 1           comparisons on numbers
    $.has_qop_data == false      true, false and null are literals; "quoted strings" too
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt,
}
_CONDITION = re.compile(r"^\s*(?P<lhs>len\(\s*\$[^)]*\)|\$\S*)\s*(?P<op>==|!=|<=|>=|<|>)\s*(?P<rhs>.+?)\s*$")
_STEP = re.compile(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]")
MISSING = object()


class ConditionError(ValueError):
    pass


@dataclass(frozen=True)
class Condition:
    text: str
    path: str
    length: bool
    op: str
    expected: Any

    @classmethod
    def parse(cls, text: str) -> Condition:
        m = _CONDITION.match(text)
        if not m:
            raise ConditionError(f"condition {text!r}: expected '<$.path | len($.path)> <op> <value>'")
        lhs = m["lhs"]
        length = lhs.startswith("len(")
        path = lhs[4:-1].strip() if length else lhs
        _steps(path, text)
        return cls(text, path, length, m["op"], _literal(m["rhs"]))

    def evaluate(self, body: Any) -> tuple[bool, Any]:
        """(holds, the actual value it was judged on)."""
        value = resolve(body, self.path)
        if value is MISSING:
            return False, f"{self.path} missing"
        if self.length:
            if not isinstance(value, list | dict | str):
                return False, f"len() of a {type(value).__name__}"
            value = len(value)
        try:
            return bool(_OPS[self.op](value, self.expected)), value
        except TypeError:
            return False, value


def _steps(path: str, text: str) -> list[str | int]:
    if not path.startswith("$"):
        raise ConditionError(f"condition {text!r}: a path starts with $")
    rest, steps = path[1:], []
    while rest:
        m = _STEP.match(rest)
        if not m:
            raise ConditionError(f"condition {text!r}: cannot read path at {rest!r}")
        steps.append(m[1] if m[1] is not None else int(m[2]))
        rest = rest[m.end():]
    return steps


def resolve(body: Any, path: str) -> Any:
    value = body
    for step in _steps(path, path):
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return MISSING
        elif not isinstance(value, dict) or step not in value:
            return MISSING
        value = value[step]
    return value


def _literal(text: str) -> Any:
    if text in ("true", "false", "null"):
        return json.loads(text)
    if text[:1] in "\"'" and text[-1:] == text[:1] and len(text) >= 2:
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        return text
