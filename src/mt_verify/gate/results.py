"""One pytest run of the gate, read back from the ``summary.json`` its reports plugin wrote (``SCHEMA.md``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Outcome = Literal["passed", "failed", "error", "skipped"]
_OUTCOMES: tuple[Outcome, ...] = ("passed", "failed", "error", "skipped")

#: pytest's exit codes (``pytest.ExitCode``), named here so that the wrapper need not import pytest.
PYTEST_EXIT = {0: "all tests passed", 1: "some tests failed", 2: "interrupted", 3: "internal error",
               4: "usage error", 5: "no tests collected"}


@dataclass(frozen=True)
class TestResult:
    __test__ = False

    nodeid: str
    #: What pytest says: ``failed`` (the test body failed) or ``error`` (setup/teardown/collection failed).
    outcome: Outcome
    #: What it means for the gate: ``failed`` = the application is unhealthy; ``error`` = the suite could not check.
    verdict: Outcome
    markers: frozenset[str] = frozenset()
    message: str = ""
    duration_s: float = 0.0
    #: Skipped, but a check the environment asks for (summary status ``not_verified``): the gate cannot vouch.
    not_verified: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"nodeid": self.nodeid, "outcome": self.outcome, "verdict": self.verdict,
                "not_verified": self.not_verified,
                "markers": sorted(self.markers), "message": self.message, "duration_s": round(self.duration_s, 3)}


@dataclass
class Attempt:
    """One pytest run: its purpose, exit code, and every test's result."""

    name: str
    returncode: int
    run_dir: Path
    results: list[TestResult] = field(default_factory=list)
    duration_s: float = 0.0
    #: Set when pytest could not be run, did not finish (timeout, cancelled) or wrote no summary.
    problem: str | None = None

    def with_verdict(self, verdict: Outcome) -> list[TestResult]:
        return [r for r in self.results if r.verdict == verdict]

    @property
    def failed(self) -> list[TestResult]:
        return self.with_verdict("failed")

    @property
    def errors(self) -> list[TestResult]:
        return self.with_verdict("error")

    @property
    def not_verified(self) -> list[TestResult]:
        return [r for r in self.results if r.not_verified]

    def unverified_problem(self) -> str | None:
        """Why this run left checks the environment asks for unverified (a tier it turns off skips plainly)."""
        if not self.not_verified:
            return None
        names = ", ".join(r.nodeid for r in self.not_verified[:5]) + (" ..." if len(self.not_verified) > 5 else "")
        first = self.not_verified[0].message
        return f"{len(self.not_verified)} check(s) could not run (not verified): {names}" + (
            f"; first: {first}" if first else "")

    def suite_problem(self) -> str | None:
        """Why this run cannot be trusted to judge the application, or None."""
        if self.problem:
            return self.problem
        if self.returncode not in (0, 1):
            return f"pytest exited {self.returncode} ({PYTEST_EXIT.get(self.returncode, 'unknown exit code')})"
        if self.errors:
            names = ", ".join(r.nodeid for r in self.errors[:5]) + (" ..." if len(self.errors) > 5 else "")
            first = self.errors[0].message.removeprefix("SUITE ERROR (nothing was checked): ")
            return f"{len(self.errors)} test(s) could not check (suite error): {names}" + (
                f"; first: {first}" if first else "")
        if self.returncode == 1 and not self.failed:
            return "pytest exited 1 but its summary names no failed test"
        if not self.results:
            return "pytest reported no test results"
        return None

    def to_json(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.verdict] = counts.get(r.verdict, 0) + 1
        return {"name": self.name, "returncode": self.returncode, "dir": str(self.run_dir),
                "duration_s": round(self.duration_s, 3), "problem": self.problem, "counts": counts,
                "tests": [r.to_json() for r in self.results]}


def read_summary(run_dir: Path) -> list[TestResult] | None:
    """Every test of a run's ``summary.json``; None when there is none (pytest did not get that far)."""
    try:
        data = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    results: list[TestResult] = []
    for t in data.get("tests") or ():
        if not isinstance(t, dict) or not isinstance(t.get("nodeid"), str):
            continue
        outcome = _outcome(t.get("outcome"))
        verdict = _outcome(t.get("mt_verdict"))
        markers = frozenset(str(m) for m in t.get("markers") or ())
        results.append(TestResult(t["nodeid"], outcome, verdict, markers, str(t.get("reason") or "")[:300],
                                  float(t.get("duration_s") or 0.0), t.get("status") == "not_verified"))
    return results


def _outcome(value: object) -> Outcome:
    for known in _OUTCOMES:
        if value == known:
            return known
    return "error"


def gating(results: Collection[TestResult], predicate: Callable[[Collection[str]], bool]) -> list[TestResult]:
    return [r for r in results if predicate(r.markers)]
