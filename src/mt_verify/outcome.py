"""How a check reports, and the one record of what came of each test.

A failure is one line naming environment, resource, expected and actual, then details and the next step
(:func:`fail`, raising :class:`~mt_verify.errors.CheckFailed`); a warning passes the check but is shown in every
report (:func:`warn`). What a test was and how it ended is one :class:`TestOutcome`, kept in ``item.stash`` by the
plugin's makereport hook and sent to the xdist controller once, with the teardown report.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, NoReturn

import pytest

from mt_verify.errors import CheckFailed, SuiteError, Verdict

__all__ = ["CheckFailed", "CheckWarning", "NotVerified", "SuiteError", "TestOutcome", "check", "fail", "message",
           "not_verified", "warn"]


class NotVerified(pytest.skip.Exception):  # type: ignore[name-defined]  # pytest.skip.Exception is Skipped
    """A check the environment asks for could not run (no smoke credentials, no expected release): pytest skips
    it, but it is *not verified*, never a grey "skipped" that reads as fine: a yellow row in a plain run, and an
    error (exit 4) in ``mt-verify gate``. A check the environment turns off explicitly skips plainly instead."""

    __module__ = "builtins"  # as pytest's own Skipped: the report reads "NotVerified: ...", not a module path


def not_verified(env: str, what: str, why: str) -> NoReturn:
    """Skip this check as not verified: ``[env] <what> not verified: <why>``."""
    __tracebackhide__ = True
    raise NotVerified(f"[{env}] {what} not verified: {why}")


class CheckWarning(UserWarning):
    """A check passed, but an operator should look (certificate expiring, latency over the soft budget)."""


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
    raise CheckFailed(message(env, resource, expected, actual, details=details, next_step=next_step))


def check(
    ok: bool,
    env: str,
    resource: str,
    expected: Any,
    actual: Any,
    *,
    details: str | None = None,
    next_step: str | None = None,
) -> None:
    """Fail unless ``ok``."""
    if not ok:
        fail(env, resource, expected, actual, details=details, next_step=next_step)


def warn(env: str, resource: str, text: str) -> None:
    warnings.warn(CheckWarning(f"[{env}] {resource}: {text}"), stacklevel=2)


_RANK: dict[str, int] = {"passed": 0, "skipped": 1, "error": 2, "failed": 3}


@dataclass
class TestOutcome:
    """Everything the reports and the gate learn about one test, filled phase by phase on the process that ran it.

    ``verdict`` is what it means for the gate (:func:`mt_verify.errors.verdict_of`): ``failed`` the application is
    wrong, ``error`` the suite could not check, else ``passed`` / ``skipped``. ``phases`` is pytest's own word per
    phase (``setup``/``call``/``teardown`` → ``passed``/``failed``/``skipped``).
    """

    __test__ = False  # not a pytest test class

    nodeid: str
    tier: str | None = None
    area: str = "Other"
    gate: bool = False
    markers: list[str] = field(default_factory=list)
    phases: dict[str, str] = field(default_factory=dict)
    verdict: Verdict = "passed"
    reason: str = ""
    skip_reason: str = ""
    warnings: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)
    served: dict[str, str] | None = None
    duration_s: float = 0.0
    #: Skipped by :func:`not_verified`: a check the environment asks for could not run.
    not_verified: bool = False

    def record_phase(self, when: str, outcome: str, verdict: Verdict, reason: str, duration: float) -> None:
        """One phase ended. A failed check outranks a suite error (the application was seen to be wrong, whatever
        broke afterwards), which outranks a skip; the first red reason is kept."""
        self.phases[when] = outcome
        self.duration_s += duration
        if verdict == "skipped":
            if self.verdict == "passed":
                self.verdict = "skipped"
                self.skip_reason = self.skip_reason or reason
        elif verdict in ("failed", "error"):
            if _RANK[verdict] > _RANK[self.verdict]:
                self.verdict = verdict
            self.reason = self.reason or reason

    @property
    def outcome(self) -> str:
        """pytest's word: ``failed`` (the test body), ``error`` (setup/teardown), ``skipped``, ``passed``."""
        if self.phases.get("call") == "failed":
            return "failed"
        if "failed" in self.phases.values():
            return "error"
        if "skipped" in self.phases.values():
            return "skipped"
        return "passed"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TestOutcome:
        data = json.loads(text)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)
