"""Run the verification suite the way an operator does (a pytest subprocess) and read its outcomes.

The oracle is our own: pytest's JUnit file, parsed here and keyed by full node id, never the product's readers.
pytest calls a test whose *setup* raised an "error"; whether that was the application failing or the suite unable to
check is read from the first line of the message: a failed check starts with ``[<environment>]`` (the documented
format of every failure), anything else (``SUITE ERROR ...``, a Python exception) is the suite's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Case:
    """One ``<testcase>``: pytest's word for it, what it means, and the first line of its message."""

    nodeid: str
    outcome: str  # passed / failed / error / skipped (pytest's word)
    verdict: str  # passed / failed (the application) / error (the suite) / skipped
    message: str


@dataclass
class Run:
    returncode: int
    outcomes: dict[str, str]  # short test id -> verdict: passed / failed / error / skipped
    output: str
    junit: Path

    reports: Path | None = None

    @property
    def cases(self) -> dict[str, Case]:
        """Every test by full node id."""
        return read_cases(self.junit)

    def report_disagreements(self) -> list[str]:
        """Tests on which Allure, ``summary.json`` and this oracle do not tell the same story (empty: they agree).

        Allure's ``failed`` is the application, ``broken`` the suite; summary.json's ``mt_verdict`` must say the same,
        and so must JUnit read by :func:`read_cases`."""
        if self.reports is None or not (self.reports / "summary.json").is_file():
            return []
        summary = json.loads((self.reports / "summary.json").read_text(encoding="utf-8"))
        verdicts = {t["nodeid"]: t["mt_verdict"] for t in summary.get("tests", [])}
        allure: dict[str, str] = {}
        results = Path((summary.get("run") or {}).get("allure_results") or self.reports / "allure-results")
        for path in results.glob("*-result.json"):
            data = json.loads(path.read_text(encoding="utf-8"))
            module = data.get("fullName", "").split("#", 1)[0].replace(".", "/")
            allure[f"{module}.py::{data.get('name', '')}"] = ALLURE_VERDICT.get(data.get("status", ""), "?")
        out = []
        for nodeid, case in self.cases.items():
            told = {"junit": case.verdict, "summary": verdicts.get(nodeid, "missing"),
                    "allure": allure.get(nodeid, "missing")}
            if len(set(told.values())) > 1:
                out.append(f"{nodeid}: {told}")
        return out

    def with_outcome(self, outcome: str) -> set[str]:
        return {name for name, got in self.outcomes.items() if got == outcome}

    @property
    def failed(self) -> set[str]:
        return self.with_outcome("failed")

    @property
    def errors(self) -> set[str]:
        return self.with_outcome("error")


def run_suite(tmp: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300,
              cache: Path | None = None) -> Run:
    """``pytest *args`` in the repository, with a JUnit file in ``tmp`` and reports under ``tmp``; pytest's cache
    (``--lf``) in ``cache`` (default ``tmp``), never the repository's own."""
    junit = tmp / "junit.xml"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MT_SANDBOX_", "PYTEST_XDIST", "MT_REPORTS"))}
    environ.pop("PYTEST_ADDOPTS", None)
    environ["MT_REPORTS_DIR"] = str(tmp / "reports")
    environ.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", f"--junitxml={junit}", "-q",
         "-o", f"cache_dir={cache or tmp / 'pytest-cache'}", *args],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )
    run = Run(proc.returncode, _outcomes(junit), proc.stdout + proc.stderr, junit, tmp / "reports")
    disagree = run.report_disagreements()
    assert not disagree, "Allure, summary.json and JUnit disagree:\n" + "\n".join(disagree)
    return run


_RANK = {"passed": 0, "skipped": 1, "error": 2, "failed": 3}
ALLURE_VERDICT = {"passed": "passed", "failed": "failed", "broken": "error", "skipped": "skipped"}


def read_cases(junit: Path) -> dict[str, Case]:
    """pytest's JUnit file -> cases by node id (a test reported twice, call then teardown, keeps the worse)."""
    try:
        root = ET.parse(junit).getroot()
    except (OSError, ET.ParseError):
        return {}
    cases: dict[str, Case] = {}
    for tc in root.iter("testcase"):
        module = tc.get("classname", "").replace(".", "/")
        nodeid = f"{module}.py::{tc.get('name', '')}" if module else tc.get("name", "")
        kinds = {child.tag: child for child in tc if child.tag in ("failure", "error", "skipped")}
        if "failure" in kinds:
            outcome, element = "failed", kinds["failure"]
        elif "error" in kinds:
            outcome, element = "error", kinds["error"]
        elif "skipped" in kinds:
            outcome, element = "skipped", kinds["skipped"]
        else:
            outcome, element = "passed", None
        message = (element.get("message", "") if element is not None else "")
        for prefix in ('failed on setup with "', 'failed on teardown with "'):
            message = message.removeprefix(prefix)
        first = message.strip().splitlines()[0] if message.strip() else ""
        verdict = outcome
        if outcome == "error":
            verdict = "failed" if first.startswith("[") else "error"
        elif outcome == "failed" and first.startswith("SUITE ERROR"):
            verdict = "error"
        case = Case(nodeid, outcome, verdict, first)
        old = cases.get(nodeid)
        if old is None or _RANK[case.verdict] > _RANK[old.verdict]:
            cases[nodeid] = case
    return cases


def _outcomes(junit: Path) -> dict[str, str]:
    return {nodeid.rsplit("::", 1)[-1]: case.verdict for nodeid, case in read_cases(junit).items()}


def every_blob(root: Path) -> Iterator[tuple[str, bytes]]:
    """Every file under ``root`` as bytes, and every member of every zip (Playwright traces) too."""
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        yield str(path.relative_to(root)), path.read_bytes()
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    yield f"{path.relative_to(root)}!{member}", archive.read(member)


@contextmanager
def shipped_sandbox() -> Iterator[dict[str, str]]:
    """The sandbox that ``environments/sandbox.yaml`` declares, started through the suite's own launcher (as a
    run with ``--env sandbox`` would start it); yields its exported variables and stops it however the block ends."""
    from mt_verify import config as cfg
    from mt_verify import launcher

    path, raw = cfg.load_raw("sandbox")
    spec = cfg.sandbox_spec(raw, path)
    assert spec is not None
    launched = launcher.launch(spec, [], file=path)
    try:
        yield launched.env
    finally:
        launched.stop()


def sandbox_tokens(env: dict[str, str]) -> int:
    """Sessions the sandbox's database holds now (a login adds one, a logout removes it)."""
    import sqlite3

    db = sqlite3.connect(Path(env["MT_SANDBOX_STATE_DIR"]) / "missing-table.sqlite")
    try:
        return int(db.execute("SELECT count(*) FROM tokens").fetchone()[0])
    finally:
        db.close()
