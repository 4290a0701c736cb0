"""What the gate concludes from its pytest runs: a pure function, tested as a table of cases.

``decide(first, None, options)`` after the first attempt, then ``decide(first, confirmation, options)`` once the
failed gating tests ran again. :mod:`mt_verify.gate` acts on the answer (spawns, locks, rolls back, verifies).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal

from mt_verify.gate.results import Attempt, TestResult, gating


class GateExit(IntEnum):
    """The gate's exit codes."""

    PASSED = 0
    ROLLED_BACK = 1
    NOT_ROLLED_BACK = 2
    ROLLBACK_FAILED = 3
    ERROR = 4

    @property
    def meaning(self) -> str:
        return EXIT_MEANINGS[self]


EXIT_MEANINGS = {
    GateExit.PASSED: "passed: every gating check passed (flaky and non-gating failures are reported)",
    GateExit.ROLLED_BACK: "failed and rolled back; the verification after the rollback passed",
    GateExit.NOT_ROLLED_BACK: "failed, not rolled back (rollback disabled, dry run, or refused: nothing to roll "
                              "back to, release mid-operation, another rollback in progress, Argo CD auto-sync on)",
    GateExit.ROLLBACK_FAILED: "failed; a rollback was attempted but it, or the verification after it, failed "
                              "(or the gate was cancelled after it started)",
    GateExit.ERROR: "error: the suite could not verify (bad configuration, cluster unreachable or forbidden, "
                    "browser missing, a tier the environment asks for could not run, pytest usage error, "
                    "interrupted) or the rollback tool is missing; "
                    "nothing was rolled back",
}

Action = Literal["finish", "confirm", "rollback"]


@dataclass(frozen=True)
class DecideOptions:
    is_gating: Callable[[Collection[str]], bool]
    #: ``--rollback`` given and the environment's strategy is not ``none``.
    rollback: bool
    #: Why there will be no rollback (shown when ``rollback`` is False).
    no_rollback_reason: str = "rollback disabled (--no-rollback)"


@dataclass(frozen=True)
class Decision:
    """``finish`` with ``exit``; or ``confirm`` the ``failing`` gating tests; or ``rollback`` (confirmed)."""

    action: Action
    exit: GateExit = GateExit.ERROR
    verdict: str = "error"
    reason: str = ""
    failing: list[TestResult] = field(default_factory=list)
    flaky: list[str] = field(default_factory=list)
    non_gating: list[str] = field(default_factory=list)


def _finish(exit: GateExit, verdict: str, reason: str, *, failing: list[TestResult] | None = None,
            flaky: list[str] | None = None, non_gating: list[str] | None = None) -> Decision:
    return Decision("finish", exit, verdict, reason, failing or [], flaky or [], non_gating or [])


def decide(first: Attempt, confirmation: Attempt | None, options: DecideOptions) -> Decision:
    problem = first.suite_problem()
    if problem:
        return _finish(GateExit.ERROR, "error", f"the suite could not verify: {problem}")
    failed_gating = gating(first.failed, options.is_gating)
    non_gating = [r.nodeid for r in first.failed if r not in failed_gating]
    unverified = first.unverified_problem()
    if unverified and not failed_gating:
        # A tier the environment asks for could not run: not a pass (a failure elsewhere is still confirmed).
        return _finish(GateExit.ERROR, "error", f"the suite could not verify: {unverified}", non_gating=non_gating)
    if not failed_gating:
        return _finish(GateExit.PASSED, "passed", "every gating check passed", non_gating=non_gating)
    if confirmation is None:
        return Decision("confirm", failing=failed_gating, non_gating=non_gating)
    problem = confirmation.suite_problem() if confirmation.returncode != 0 or confirmation.problem else None
    if problem:
        return _finish(GateExit.ERROR, "error", f"the suite could not confirm the failures: {problem}",
                       failing=failed_gating, non_gating=non_gating)
    seen = {r.nodeid for r in confirmation.results}
    missing = [r.nodeid for r in failed_gating if r.nodeid not in seen]
    if missing:
        return _finish(GateExit.ERROR, "error", f"the confirmation did not run {', '.join(missing)}",
                       failing=failed_gating, non_gating=non_gating)
    again = {r.nodeid for r in confirmation.failed}
    flaky = [r.nodeid for r in failed_gating if r.nodeid not in again]
    confirmed = [r for r in failed_gating if r.nodeid in again]
    if not confirmed:
        if unverified:
            return _finish(GateExit.ERROR, "error", f"the suite could not verify: {unverified}", flaky=flaky,
                           non_gating=non_gating)
        return _finish(GateExit.PASSED, "passed", f"{len(failed_gating)} gating failure(s) did not repeat (flaky)",
                       flaky=flaky, non_gating=non_gating)
    if not options.rollback:
        return _finish(GateExit.NOT_ROLLED_BACK, "failed",
                       f"{len(confirmed)} gating check(s) failed twice; {options.no_rollback_reason}",
                       failing=confirmed, flaky=flaky, non_gating=non_gating)
    return Decision("rollback", GateExit.ROLLBACK_FAILED, "failed",
                    f"{len(confirmed)} gating check(s) failed twice", failing=confirmed, flaky=flaky,
                    non_gating=non_gating)
