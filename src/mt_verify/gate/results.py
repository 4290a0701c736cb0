"""One pytest run of the gate, read back from its JUnit XML (with the properties of :mod:`mt_verify.gate.plugin`)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Outcome = Literal["passed", "failed", "error", "skipped"]

#: pytest's exit codes (``pytest.ExitCode``), named here so that the wrapper need not import pytest.
PYTEST_EXIT = {0: "all tests passed", 1: "some tests failed", 2: "interrupted", 3: "internal error",
               4: "usage error", 5: "no tests collected"}


@dataclass(frozen=True)
class TestResult:
    nodeid: str
    #: What pytest says: ``failed`` (the test body failed) or ``error`` (setup/teardown/collection failed).
    outcome: Outcome
    #: What it means for the gate: ``failed`` = the application is unhealthy; ``error`` = the suite could not check.
    verdict: Outcome
    markers: frozenset[str] = frozenset()
    message: str = ""
    duration_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"nodeid": self.nodeid, "outcome": self.outcome, "verdict": self.verdict,
                "markers": sorted(self.markers), "message": self.message, "duration_s": round(self.duration_s, 3)}


@dataclass
class Attempt:
    """One pytest run: its purpose, exit code, and every test's result."""

    name: str
    returncode: int
    junit: Path
    results: list[TestResult] = field(default_factory=list)
    duration_s: float = 0.0
    #: Set when pytest could not be run or did not finish (timeout).
    problem: str | None = None

    def with_verdict(self, verdict: Outcome) -> list[TestResult]:
        return [r for r in self.results if r.verdict == verdict]

    @property
    def failed(self) -> list[TestResult]:
        return self.with_verdict("failed")

    @property
    def errors(self) -> list[TestResult]:
        return self.with_verdict("error")

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
            return "pytest exited 1 but its JUnit report names no failed test"
        if not self.results:
            return "pytest reported no test results"
        return None

    def to_json(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.verdict] = counts.get(r.verdict, 0) + 1
        return {"name": self.name, "returncode": self.returncode, "junit": str(self.junit),
                "duration_s": round(self.duration_s, 3), "problem": self.problem, "counts": counts,
                "tests": [r.to_json() for r in self.results]}


_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


def read_junit(path: Path) -> list[TestResult]:
    """Every ``<testcase>`` of a pytest JUnit file; an unreadable file yields no results."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return []
    results: dict[str, TestResult] = {}
    for case in root.iter("testcase"):
        props = [(p.get("name", ""), p.get("value", "")) for p in case.iter("property")]
        nodeid = next((v for n, v in props if n == "mt_nodeid"), "") or _nodeid_from(case)
        markers = frozenset(m for n, v in props if n == "mt_markers" for m in v.split(",") if m)
        kinds = {child.tag: child for child in case if child.tag in ("failure", "error", "skipped")}
        if "error" in kinds:
            outcome: Outcome = "error"
        elif "failure" in kinds:
            outcome = "failed"
        elif "skipped" in kinds:
            outcome = "skipped"
        else:
            outcome = "passed"
        verdicts = [v for n, v in props if n == "mt_verdict" and v in ("failed", "error")]
        if outcome in ("failed", "error"):
            verdict: Outcome = max(verdicts, key=_RANK.__getitem__) if verdicts else outcome  # type: ignore[assignment]
        else:
            verdict = outcome
        element = kinds.get("error") if verdict == "error" and "error" in kinds else None
        element = element if element is not None else kinds.get("failure", kinds.get("error"))
        message = _first_line(element.get("message", "") if element is not None else "")
        try:
            duration = float(case.get("time", "0") or 0)
        except ValueError:
            duration = 0.0
        result = TestResult(nodeid, outcome, verdict, markers, message, duration)
        # A case can appear twice (call failure, then teardown error): the worse one counts.
        old = results.get(nodeid)
        if old is None or _RANK[result.verdict] > _RANK[old.verdict]:
            results[nodeid] = result
    return list(results.values())


def _nodeid_from(case: ET.Element) -> str:
    classname = case.get("classname", "")
    name = case.get("name", "")
    return f"{classname.replace('.', '/')}.py::{name}" if classname else name


def _first_line(text: str) -> str:
    for prefix in ("failed on setup with \"", "failed on teardown with \"", "Failed: "):
        text = text.removeprefix(prefix)
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:300]


def gating(results: Collection[TestResult], predicate: Callable[[Collection[str]], bool]) -> list[TestResult]:
    return [r for r in results if predicate(r.markers)]
