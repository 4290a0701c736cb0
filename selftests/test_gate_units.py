"""The gate's parts without a sandbox: marker expressions, reading a run's summary, the decision table, Helm target
choice, the CLI's help."""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mt_verify.gate import EXIT_MEANINGS, GateExit
from mt_verify.gate.decide import DecideOptions, decide
from mt_verify.gate.results import Attempt, TestResult, read_summary
from mt_verify.kube.helm import decode_release
from mt_verify.markexpr import MarkerExpressionError, compile_markers
from mt_verify.release import ExpectedRelease
from mt_verify.rollback import RollbackRefused, ToolMissing, find_binary
from mt_verify.rollback.helm import Revision, choose_target, revision_of

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("expr", "markers", "expected"), [
    ("gate", {"gate", "health"}, True),
    ("gate", {"health"}, False),
    ("gate and not slow", {"gate", "slow"}, False),
    ("(health or smoke) and gate", {"smoke", "gate"}, True),
    ("not gate", set(), True),
    ("gate or smoke and login", {"login"}, False),
])
def test_marker_expression_matches_like_pytest(expr: str, markers: set[str], expected: bool) -> None:
    assert compile_markers(expr)(markers) is expected


@pytest.mark.parametrize("expr", ["", "gate and", "(gate", "gate)", "and", "gate $"])
def test_marker_expression_rejects_nonsense(expr: str) -> None:
    with pytest.raises(MarkerExpressionError):
        compile_markers(expr)


SUMMARY = {"tests": [
    {"nodeid": "tests/health/test_a.py::test_ok", "outcome": "passed", "mt_verdict": "passed",
     "markers": ["gate", "health"], "reason": ""},
    {"nodeid": "tests/health/test_a.py::test_bad[x]", "outcome": "failed", "mt_verdict": "failed",
     "markers": ["gate"], "reason": "[sandbox] /health: expected HTTP 200, got HTTP 503"},
    {"nodeid": "tests/deployment/test_k.py::test_pods", "outcome": "error", "mt_verdict": "error",
     "markers": ["gate"], "reason": "SUITE ERROR (nothing was checked): forbidden"},
    {"nodeid": "tests/health/test_a.py::test_setup_check", "outcome": "error", "mt_verdict": "failed",
     "markers": [], "reason": "[sandbox] /api/version answered 500"},
    {"nodeid": "tests/smoke/test_s.py::test_skipped", "outcome": "skipped", "mt_verdict": "skipped",
     "markers": ["smoke"], "reason": ""},
    {"nodeid": "tests/smoke/test_s.py::test_unverified", "outcome": "skipped", "mt_verdict": "skipped",
     "status": "not_verified", "markers": ["smoke"], "reason": "[sandbox] checks as the smoke user not verified"},
]}


def _summary_dir(tmp_path: Path, data: dict[str, object]) -> Path:
    (tmp_path / "summary.json").write_text(json.dumps(data), encoding="utf-8")
    return tmp_path


def test_summary_results_carry_verdict_markers_and_first_line(tmp_path: Path) -> None:
    found = read_summary(_summary_dir(tmp_path, SUMMARY))
    assert found is not None
    results = {r.nodeid: r for r in found}
    bad = results["tests/health/test_a.py::test_bad[x]"]
    assert (bad.outcome, bad.verdict, bad.markers) == ("failed", "failed", frozenset({"gate"}))
    assert bad.message == "[sandbox] /health: expected HTTP 200, got HTTP 503"
    assert results["tests/deployment/test_k.py::test_pods"].verdict == "error"
    # An assertion in a fixture is a failed check (the app answered wrongly), though pytest calls it an error.
    setup = results["tests/health/test_a.py::test_setup_check"]
    assert (setup.outcome, setup.verdict) == ("error", "failed")
    assert results["tests/smoke/test_s.py::test_skipped"].verdict == "skipped"
    assert not results["tests/smoke/test_s.py::test_skipped"].not_verified
    assert results["tests/smoke/test_s.py::test_unverified"].not_verified
    assert read_summary(tmp_path / "nowhere") is None


def test_attempt_with_an_error_is_a_suite_problem(tmp_path: Path) -> None:
    attempt = Attempt("attempt 1", 1, tmp_path, read_summary(_summary_dir(tmp_path, SUMMARY)) or [])
    assert "could not check" in (attempt.suite_problem() or "")
    assert "usage error" in (Attempt("x", 4, tmp_path, []).suite_problem() or "")
    assert "interrupted" in (Attempt("x", 2, tmp_path, []).suite_problem() or "")


# -- decide(): the gate's conclusions as a table ---------------------------------------------------------

def _r(name: str, verdict: str, *markers: str) -> TestResult:
    outcome = {"failed": "failed", "error": "error"}.get(verdict, verdict)
    return TestResult(f"tests/health/test_x.py::{name}", outcome, verdict, frozenset(markers))  # type: ignore[arg-type]


def _attempt(returncode: int, *results: TestResult, problem: str | None = None) -> Attempt:
    return Attempt("a", returncode, Path("."), list(results), problem=problem)


GATING = compile_markers("gate")
OK = _r("test_ok", "passed", "gate")
BAD = _r("test_bad", "failed", "gate")
BAD2 = _r("test_bad2", "failed", "gate")
INFO = _r("test_info", "failed")
ERR = _r("test_err", "error", "gate")
#: Skipped because a check the environment asks for could not run (no smoke credentials): not verified.
UNVERIFIED = TestResult("tests/smoke/test_s.py::test_login", "skipped", "skipped", frozenset({"smoke", "gate"}),
                        "[sandbox] checks as the smoke user not verified: credentials not set", not_verified=True)
#: Skipped because the environment turns the check off (smoke.enabled: false, no kubernetes section).
TURNED_OFF = _r("test_off", "skipped", "gate")


@pytest.mark.parametrize(("first", "confirm", "rollback", "action", "exit", "flaky"), [
    # a suite problem is never a reason to act
    (_attempt(1, BAD, ERR), None, True, "finish", GateExit.ERROR, []),
    (_attempt(4), None, True, "finish", GateExit.ERROR, []),
    (_attempt(0, OK, problem="pytest did not finish"), None, True, "finish", GateExit.ERROR, []),
    # green, or only non-gating failures
    (_attempt(0, OK), None, True, "finish", GateExit.PASSED, []),
    (_attempt(1, OK, INFO), None, True, "finish", GateExit.PASSED, []),
    # a check the environment asks for that could not run is an error; one it turns off is a plain skip
    (_attempt(0, OK, UNVERIFIED), None, True, "finish", GateExit.ERROR, []),
    (_attempt(0, OK, TURNED_OFF), None, True, "finish", GateExit.PASSED, []),
    (_attempt(1, OK, INFO, UNVERIFIED), None, True, "finish", GateExit.ERROR, []),
    # ... but a gating failure beside it is still confirmed, and rolled back when it repeats
    (_attempt(1, BAD, UNVERIFIED), None, True, "confirm", GateExit.ERROR, []),
    (_attempt(1, BAD, UNVERIFIED), _attempt(1, BAD), True, "rollback", GateExit.ROLLBACK_FAILED, []),
    (_attempt(1, BAD, UNVERIFIED), _attempt(0, _r("test_bad", "passed", "gate")), True, "finish", GateExit.ERROR,
     ["tests/health/test_x.py::test_bad"]),
    # a gating failure is confirmed first
    (_attempt(1, OK, BAD), None, True, "confirm", GateExit.ERROR, []),
    # the confirmation: passed again = flaky; failed again = rollback (or 2 without it); broken = error
    (_attempt(1, OK, BAD), _attempt(0, _r("test_bad", "passed", "gate")), True, "finish", GateExit.PASSED,
     ["tests/health/test_x.py::test_bad"]),
    (_attempt(1, BAD, BAD2), _attempt(1, BAD, _r("test_bad2", "passed", "gate")), True, "rollback",
     GateExit.ROLLBACK_FAILED, ["tests/health/test_x.py::test_bad2"]),
    (_attempt(1, BAD), _attempt(1, BAD), False, "finish", GateExit.NOT_ROLLED_BACK, []),
    (_attempt(1, BAD), _attempt(1, ERR), True, "finish", GateExit.ERROR, []),
    (_attempt(1, BAD), _attempt(0, OK), True, "finish", GateExit.ERROR, []),  # did not run test_bad again
    (_attempt(1, BAD), _attempt(2), True, "finish", GateExit.ERROR, []),
])
def test_gate_decides_from_its_attempts(first: Attempt, confirm: Attempt | None, rollback: bool, action: str,
                                        exit: GateExit, flaky: list[str]) -> None:
    got = decide(first, confirm, DecideOptions(GATING, rollback=rollback))
    assert got.action == action
    if action == "finish":
        assert got.exit is exit
    assert got.flaky == flaky
    if action == "rollback":
        assert [r.nodeid for r in got.failing] == ["tests/health/test_x.py::test_bad"]


def _secret_value(release: dict[str, object]) -> str:
    helm = base64.b64encode(gzip.compress(json.dumps(release).encode()))
    return base64.b64encode(helm).decode()  # the API's own base64 of Secret data


def test_helm_release_secret_decodes_to_a_revision() -> None:
    release = {"name": "missing-table", "version": 3, "info": {"status": "deployed", "description": "Upgrade complete"},
               "chart": {"metadata": {"name": "missing-table", "version": "0.1.0", "appVersion": "1.4.0"}},
               "config": {"version": "1.29.2", "buildId": "1360", "commitSha": "bfcfcb0" + "0" * 33}}
    rev = revision_of(decode_release(_secret_value(release)))
    assert (rev.number, rev.status, rev.version, rev.chart) == (3, "deployed", "1.29.2.1360", "missing-table-0.1.0")


def rev(n: int, status: str, version: str | None) -> Revision:
    return Revision(n, status, version, None, "missing-table-0.1.0")


BAD = ExpectedRelease.parse("1.29.3.1361")
assert BAD is not None


def test_helm_target_is_newest_earlier_good_revision_with_another_version() -> None:
    history = [rev(1, "superseded", "1.29.1.1352"), rev(2, "failed", "1.29.2.1360"),
               rev(3, "superseded", "1.29.3.1361"), rev(4, "deployed", "1.29.3.1361")]
    current, target = choose_target(history, BAD, None, "missing-table")
    assert (current.number, target.number) == (4, 1)


@pytest.mark.parametrize(("history", "reason"), [
    ([rev(1, "superseded", "1.29.2.1360"), rev(2, "pending-upgrade", "1.29.3.1361")], "mid-operation"),
    ([rev(1, "deployed", "1.29.3.1361")], "no earlier"),
    ([rev(1, "failed", "1.29.2.1360"), rev(2, "deployed", "1.29.3.1361")], "no earlier"),
    ([rev(1, "superseded", "1.29.1.1352"), rev(2, "deployed", "1.29.2.1360")], "undo another release"),
    ([], "not a Helm release"),
])
def test_helm_target_refused_with_a_reason(history: list[Revision], reason: str) -> None:
    with pytest.raises(RollbackRefused, match=reason):
        choose_target(history, BAD, None, "missing-table")


def test_helm_to_revision_must_exist_and_not_be_the_failed_release() -> None:
    history = [rev(1, "superseded", "1.29.1.1352"), rev(2, "superseded", "1.29.2.1360"),
               rev(3, "deployed", "1.29.3.1361")]
    assert choose_target(history, BAD, 1, "missing-table")[1].number == 1
    with pytest.raises(RollbackRefused, match="no such revision"):
        choose_target(history, BAD, 9, "missing-table")
    with pytest.raises(RollbackRefused, match="current revision"):
        choose_target(history, BAD, 3, "missing-table")


def test_missing_binary_names_an_install_hint(tmp_path: Path) -> None:
    with pytest.raises(ToolMissing, match="install Helm"):
        find_binary("helm", None, {"PATH": str(tmp_path)})
    with pytest.raises(ToolMissing, match="not an executable"):
        find_binary("kubectl", str(tmp_path / "kubectl"), {"PATH": ""})


def test_gate_help_documents_every_exit_code() -> None:
    out = subprocess.run([sys.executable, "-m", "mt_verify", "gate", "--help"], capture_output=True, text=True,
                         timeout=60, cwd=ROOT, check=True).stdout
    for code in GateExit:
        assert f"  {int(code)}  {EXIT_MEANINGS[code]}" in out


def test_cli_imports_stay_light() -> None:
    code = ("import sys, mt_verify.cli, mt_verify.gate; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('kubernetes', 'playwright', 'pytest')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT,
                         check=True).stdout
    assert out.strip() == "[]"


def _cli(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MT_SANDBOX_", "MT_REPORTS"))}
    env["MT_REPORTS_DIR"] = str(tmp / "reports")
    return subprocess.run([sys.executable, "-m", "mt_verify", *args], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env=env, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("args", [
    ("gate", "--env", "sandbox"),                                            # --expected-version missing
    ("gate", "--env", "sandbox", "--expected-version", "1.2.3", "--tiers", "nope"),
    ("gate", "--env", "no-such-env", "--expected-version", "1.29.3.1361"),
    ("gate", "--env", "sandbox", "--expected-version", "not a version!"),
])
def test_gate_usage_and_config_errors_exit_4(args: tuple[str, ...], tmp_path: Path) -> None:
    proc = _cli(*args, tmp=tmp_path)
    assert proc.returncode == 4, proc.stdout + proc.stderr


def test_run_with_an_unknown_environment_exits_like_pytest_usage_error(tmp_path: Path) -> None:
    proc = _cli("run", "--env", "no-such-env", tmp=tmp_path)
    assert proc.returncode == 4
    assert "unknown environment" in proc.stderr


@pytest.mark.parametrize(("fault", "code"), [(None, 0), ("version-drift", 1)])
def test_run_exits_with_pytests_code_and_writes_its_reports(tmp_path: Path, fault: str | None, code: int) -> None:
    args = ["run", "--env", "sandbox", "--no-html", "--", "tests/health", "-k", "served_version", "-q"]
    if fault:
        args += ["--sandbox-fault", fault]
    proc = _cli(*args, tmp=tmp_path)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert (tmp_path / "reports" / "junit.xml").exists()
    assert f"reports in {tmp_path / 'reports'}" in proc.stdout
