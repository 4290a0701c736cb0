"""Redaction, proven: a failing run of the whole suite against the sandbox, with a known smoke password, leaves
neither the password nor any token in anything it wrote (reports, Allure results and attachments, JUnit,
summaries, evidence, traces unzipped, and the run's own output)."""

from __future__ import annotations

import re

import pytest

from mt_verify.redact import MASK
from selftests.suite import every_blob
from selftests.test_reports_runs import run_reports

PASSWORD = "Kn0wn-Sm0ke-Pa55word-7f3c"  # long and unique: a hit can only be a leak
#: The sandbox's tokens are JWT-shaped (three base64url parts), like Supabase's.
JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
#: Faults that make checks fail while logged in (standings) and without (health).
FAULTS = ["standings-arithmetic", "health-down"]


@pytest.fixture(scope="module")
def leaky_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("redaction")
    args = ["--env", "sandbox", "-n", "2", "-p", "no:randomly"]
    for fault in FAULTS:
        args += ["--sandbox-fault", fault]
    run = run_reports(tmp, *args, env={"MT_SMOKE_PASSWORD": PASSWORD, "GITHUB_STEP_SUMMARY": str(tmp / "step.md")},
                      timeout=600)
    (tmp / "output.log").write_text(run.output, encoding="utf-8")
    return run, tmp


def test_run_failed_while_logged_in(leaky_run) -> None:  # type: ignore[no-untyped-def]
    run, _ = leaky_run
    assert run.returncode == 1, run.output
    failed = {t["nodeid"].rsplit("::", 1)[-1] for t in run.summary["tests"] if t["mt_verdict"] == "failed"}
    assert "test_standings_add_up" in failed, run.output
    [standings] = [t for t in run.summary["tests"] if t["nodeid"].endswith("::test_standings_add_up")]
    evidence = (run.run_dir / standings["evidence"][0]).read_text(encoding="utf-8")
    # The exchange was recorded with its credentials, and they were masked.
    assert "/api/table" in evidence and f"authorization: {MASK}" in evidence.lower()


def test_no_file_the_run_wrote_holds_the_password_or_a_token(leaky_run) -> None:  # type: ignore[no-untyped-def]
    run, tmp = leaky_run
    files = 0
    leaks = []
    for name, data in every_blob(tmp):
        files += 1
        if PASSWORD.encode() in data:
            leaks.append(f"{name}: the smoke password")
        match = JWT.search(data)
        if match:
            leaks.append(f"{name}: a token {match.group()[:12].decode()}...")
    assert files > 20, f"only {files} files: did the run write its reports?"
    assert (tmp / "step.md").is_file() and (run.run_dir / "junit.xml").is_file()
    assert not leaks, "\n".join(leaks)
    # ...and not thanks to the plugin's last-resort scrub of the run folder: nothing needed masking after the fact.
    assert "mt-verify: masked" not in run.output, run.output
