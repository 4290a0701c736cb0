"""How a check reports: a failure is one line naming environment, resource, expected and actual,
then details and the next step; a warning passes the check but is shown in every report."""

from __future__ import annotations

import warnings
from typing import Any, NoReturn

import pytest

#: Conditions evaluated by this process (the benchmark compares it with a curl script's).
assertions = 0


def count_conditions(conditions: int = 1) -> None:
    """Record conditions that held or failed (the benchmark compares the count with a curl script's)."""
    global assertions
    assertions += conditions


class CheckWarning(UserWarning):
    """A check passed, but an operator should look (certificate expiring, latency over the soft budget)."""


class SuiteError(Exception):
    """The suite could not do its job (unreachable target, forbidden, bad config) -- not a failed check.

    Raised from fixtures, so pytest reports an ERROR and the gate never rolls back on it.
    """


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def message(
    env: str,
    resource: str,
    expected: Any,
    actual: Any,
    *,
    details: str | None = None,
    next_step: str | None = None,
) -> str:
    line = f"[{env}] {resource}: expected {_short(expected)}, got {_short(actual)}"
    parts = [line]
    if details:
        parts.append(details.rstrip())
    if next_step:
        parts.append(f"Next: {next_step}")
    return "\n".join(parts)


def fail(
    env: str,
    resource: str,
    expected: Any,
    actual: Any,
    *,
    details: str | None = None,
    next_step: str | None = None,
) -> NoReturn:
    count_conditions()
    pytest.fail(message(env, resource, expected, actual, details=details, next_step=next_step), pytrace=False)


def check(
    ok: bool,
    env: str,
    resource: str,
    expected: Any,
    actual: Any,
    *,
    details: str | None = None,
    next_step: str | None = None,
    conditions: int = 1,
) -> None:
    """Fail unless ``ok``; ``conditions`` says how many conditions ``ok`` stands for (for the benchmark's count)."""
    if not ok:
        fail(env, resource, expected, actual, details=details, next_step=next_step)
    count_conditions(conditions)


def warn(env: str, resource: str, text: str) -> None:
    warnings.warn(CheckWarning(f"[{env}] {resource}: {text}"), stacklevel=2)


def suite_error(text: str) -> NoReturn:
    raise SuiteError(text)
