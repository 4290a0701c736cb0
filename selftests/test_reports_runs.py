"""The reports of real runs of the suite against the sandbox: a passing run, a run with warnings only, a failing
run, a run that could not check, and a gate decision added afterwards."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mt_verify.reporting.areas import AREAS
from mt_verify.reporting.summary import SCHEMA_VERSION, add_gate_section

ROOT = Path(__file__).resolve().parents[1]

#: Health-tier files whose checks pass on a healthy sandbox whatever the other tiers are doing.
STABLE = ["tests/health/test_backend_health.py", "tests/health/test_version.py", "tests/health/test_tls.py",
          "tests/health/test_standings.py"]


@dataclass
class ReportRun:
    returncode: int
    output: str
    run_dir: Path

    @property
    def summary(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "summary.json").read_text(encoding="utf-8"))

    @property
    def markdown(self) -> str:
        return (self.run_dir / "summary.md").read_text(encoding="utf-8")

    def area(self, name: str) -> dict[str, Any]:
        return next(a for a in self.summary["areas"] if a["name"] == name)

    def tests(self, **match: Any) -> list[dict[str, Any]]:
        return [t for t in self.summary["tests"] if all(t.get(k) == v for k, v in match.items())]


def run_reports(tmp: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300,
                run_name: str = "run") -> ReportRun:
    """``pytest *args`` in the repository, as an operator runs it, with the run folder ``tmp/<run_name>``."""
    run_dir = tmp / run_name
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("MT_SANDBOX_", "PYTEST_XDIST", "MT_REPORTS", "GITHUB_STEP_SUMMARY"))}
    environ.pop("PYTEST_ADDOPTS", None)
    environ["MT_REPORTS_DIR"] = str(run_dir)
    environ.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", *args], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return ReportRun(proc.returncode, proc.stdout + proc.stderr, run_dir)


def _check_common(run: ReportRun) -> None:
    s = run.summary
    assert s["schema_version"] == SCHEMA_VERSION
    assert [a["name"] for a in s["areas"]][: len(AREAS)] == list(AREAS)
    for t in s["tests"]:
        assert set(t) >= {"nodeid", "area", "tier", "gate", "outcome", "mt_verdict", "status", "reason", "warnings",
                          "flaky", "duration_s", "evidence"}, t
    assert (run.run_dir / "junit.xml").is_file()
    ET.parse(run.run_dir / "junit.xml")
    assert any((run.run_dir / "allure-results").glob("*-result.json"))
    assert "mt-verify summary" in run.output  # the terminal shows it


@pytest.fixture(scope="module")
def passing(tmp_path_factory: pytest.TempPathFactory) -> ReportRun:
    # This run is about the reports of a passing run. On a loaded CI machine one request can take over the
    # sandbox's 0.5 s soft budget, which is a correct warning but not this test's subject: the soft budget is 5 s.
    return run_reports(tmp_path_factory.mktemp("passing"), "--env", "sandbox", "-n", "2", *STABLE,
                       env={"MT_SANDBOX_LATENCY_WARN": "5"})


@pytest.fixture(scope="module")
def warning_only(tmp_path_factory: pytest.TempPathFactory) -> ReportRun:
    return run_reports(tmp_path_factory.mktemp("warning"), "--env", "sandbox", "-n", "2",
                       "--sandbox-fault", "tls-expiring-soon", *STABLE)


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> ReportRun:
    tmp = tmp_path_factory.mktemp("failing")
    return run_reports(tmp, "--env", "sandbox", "--sandbox-fault", "health-down", *STABLE,
                       env={"GITHUB_STEP_SUMMARY": str(tmp / "step-summary.md")})


def test_passing_run_is_green_everywhere_it_ran(passing: ReportRun) -> None:
    assert passing.returncode == 0, passing.output
    _check_common(passing)
    s = passing.summary
    assert s["verdict"] == "passed" and s["gate_verdict"] == "passed"
    assert s["counts"]["failed"] == s["counts"]["error"] == 0
    assert s["run"]["workers"] == 2 and s["run"]["exit_status"] == 0
    for name in ("Health", "Version", "TLS", "Standings"):
        assert passing.area(name)["light"] == "green", passing.area(name)
    login = passing.area("Login")
    assert login["light"] == "grey" and login["status"] == "not_run" and login["reason"].startswith("not run")
    v = s["version"]
    assert v["expected"] and v["served"] and v["matches"] is True, v
    assert s["environment"]["name"] == "sandbox" and s["environment"]["namespace"] == "missing-table"
    tls = passing.tests(area="TLS")
    assert tls and all(t["tier"] == "health" and t["gate"] and t["mt_verdict"] == "passed" for t in tls)
    assert "🟢 PASSED" in passing.markdown and "| TLS | 🟢 passed |" in passing.markdown


def test_warning_only_run_passes_yellow(warning_only: ReportRun) -> None:
    assert warning_only.returncode == 0, warning_only.output
    _check_common(warning_only)
    s = warning_only.summary
    assert s["verdict"] == "passed_with_warnings"
    tls = warning_only.area("TLS")
    assert tls["light"] == "yellow" and tls["status"] == "warning"
    assert "within min_days" in tls["reason"]
    [test] = warning_only.tests(area="TLS")
    assert test["mt_verdict"] == "passed" and test["status"] == "warning" and test["warnings"], test
    assert s["counts"]["warnings"] >= 1 and s["counts"]["failed"] == 0
    assert warning_only.area("Health")["light"] == "green"
    assert "🟡 PASSED WITH WARNINGS" in warning_only.markdown
    assert "CheckWarning" in warning_only.output  # pytest's own warnings summary still shows it


def test_failing_run_is_red_with_reasons_and_evidence(failing: ReportRun) -> None:
    assert failing.returncode == 1, failing.output
    _check_common(failing)
    s = failing.summary
    assert s["verdict"] == "failed" and s["gate_verdict"] == "failed"
    health = failing.area("Health")
    assert health["light"] == "red" and health["status"] == "failed"
    assert "/health" in health["reason"] and "503" in health["reason"], health
    failed = failing.tests(mt_verdict="failed")
    assert {t["nodeid"].rsplit("::", 1)[-1] for t in failed} == {
        "test_health_endpoint_healthy[api]", "test_health_endpoint_healthy[site]"}
    for t in failed:
        assert t["outcome"] == "failed" and t["gate"] and t["reason"].startswith("[sandbox]")
        assert t["evidence"], t
        text = (failing.run_dir / t["evidence"][0]).read_text(encoding="utf-8")
        assert "GET http" in text and "HTTP 503" in text
    assert failing.area("Version")["light"] == "green"
    md = failing.markdown
    assert "🔴 FAILED" in md and "| Health | 🔴 failed |" in md
    step = (failing.run_dir.parent / "step-summary.md").read_text(encoding="utf-8")
    assert step.strip() == md.strip()


def _unreachable_env(tmp: Path) -> Path:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    data = {"name": "unreachable", "site": {"url": f"http://127.0.0.1:{port}"},
            "api": {"url": f"http://127.0.0.1:{port}", "via_site": False}}
    path = tmp / "unreachable.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_run_that_could_not_check_is_an_error_not_a_failure(tmp_path: Path) -> None:
    env = _unreachable_env(tmp_path)
    run = run_reports(tmp_path, f"--env={env}", "tests/health/test_backend_health.py", "tests/health/test_version.py")
    assert run.returncode == 1, run.output
    s = run.summary
    assert s["verdict"] == "error" and s["counts"]["failed"] == 0 and s["counts"]["error"] >= 3
    assert all(t["mt_verdict"] == "error" for t in s["tests"] if t["status"] != "skipped")
    health = run.area("Health")
    assert health["light"] == "red" and health["status"] == "error"
    assert "no configured host can be reached" in health["reason"]
    assert "could not check" in run.markdown and "⛔" in run.markdown


def test_gate_section_records_rollback_and_verdict_after(failing: ReportRun, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    step = tmp_path / "step.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    run_dir = tmp_path / "copy"
    run_dir.mkdir()
    for name in ("summary.json", "summary.md"):
        (run_dir / name).write_bytes((failing.run_dir / name).read_bytes())
    gate = {"decision": "rollback", "reason": "2 gating check(s) failed and were confirmed",
            "rollback_command": ["helm", "rollback", "missing-table", "3", "-n", "missing-table", "--wait"],
            "rollback_exit_code": 0, "verdict_after_rollback": "passed", "after_run": str(run_dir / "after-rollback"),
            "exit_code": 1, "flaky": [],
            "confirmed_failures": ["tests/health/test_backend_health.py::test_health_endpoint_healthy[api]"]}
    add_gate_section(run_dir, gate)
    add_gate_section(run_dir, gate)  # idempotent: the section is replaced, not repeated
    s = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    g = s["gate"]
    assert g["decision"] == "rollback" and g["rollback_exit_code"] == 0
    assert g["rollback_command"] == "helm rollback missing-table 3 -n missing-table --wait"
    assert g["verdict_after_rollback"] == "passed" and g["details"]["exit_code"] == 1
    assert s["verdict"] == "failed" and s["tests"] == failing.summary["tests"]  # the run's own results unchanged
    md = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert md.count("### Gate") == 1
    assert "| Decision | **rollback** |" in md and "`helm rollback missing-table 3" in md
    assert "| Verdict after rollback | 🟢 PASSED |" in md and "Confirmed failures" in md
    assert step.read_text(encoding="utf-8").count("### Gate") == 2  # appended per call


def test_allure_results_validate(failing: ReportRun) -> None:
    results = failing.run_dir / "allure-results"
    cases = [json.loads(p.read_text(encoding="utf-8")) for p in results.glob("*-result.json")]
    assert len(cases) == len(failing.summary["tests"])
    for case in cases:
        labels = {(lb["name"], lb["value"]) for lb in case["labels"]}
        names = {n for n, _ in labels}
        assert {"epic", "feature", "severity"} <= names, case["name"]
        assert ("epic", "health tier") in labels and ("severity", "blocker") in labels  # every health test gates
        assert any(link["name"].startswith("Runbook: Post-Deployment Verification") for link in case["links"])
        assert all(link["url"].startswith("https://") and link.get("name") for link in case["links"])
    failed = [c for c in cases if c["status"] == "failed"]
    assert len(failed) == 2
    for case in failed:
        assert case["statusDetails"]["message"]
        http = [a for a in case.get("attachments", []) if a["name"].startswith("HTTP GET")]
        assert http, case
        assert all((results / a["source"]).is_file() for a in http)
        assert "HTTP 503" in (results / http[-1]["source"]).read_text(encoding="utf-8")
    props = dict(line.split("=", 1) for line in
                 (results / "environment.properties").read_text(encoding="utf-8").splitlines())
    assert {"environment", "site.url", "api.url", "version.expected", "version.served", "kubernetes.namespace",
            "kubernetes.release", "suite.version"} <= set(props)
    categories = json.loads((results / "categories.json").read_text(encoding="utf-8"))
    assert [c["name"].split(" ")[0] for c in categories] == ["Flaky", "Application", "Could"]
