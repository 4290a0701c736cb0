"""Run the verification suite the way an operator does (a pytest subprocess) and read its outcomes."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mt_verify.gate.results import read_junit

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Run:
    returncode: int
    outcomes: dict[str, str]  # short test id -> passed/failed/error/skipped
    output: str
    junit: Path

    def with_outcome(self, outcome: str) -> set[str]:
        return {name for name, got in self.outcomes.items() if got == outcome}

    @property
    def failed(self) -> set[str]:
        return self.with_outcome("failed")

    @property
    def errors(self) -> set[str]:
        return self.with_outcome("error")


def run_suite(tmp: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> Run:
    """``pytest *args`` in the repository, with a JUnit file in ``tmp`` and reports under ``tmp``."""
    junit = tmp / "junit.xml"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MT_SANDBOX_", "PYTEST_XDIST", "MT_REPORTS"))}
    environ.pop("PYTEST_ADDOPTS", None)
    environ["MT_REPORTS_DIR"] = str(tmp / "reports")
    environ.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", f"--junitxml={junit}", "-q", *args],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )
    return Run(proc.returncode, _outcomes(junit), proc.stdout + proc.stderr, junit)


def _outcomes(junit: Path) -> dict[str, str]:
    return {result.nodeid.rsplit("::", 1)[-1]: result.outcome for result in read_junit(junit)}


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
