"""No secret leaves the smoke tier: failing journeys run with a known smoke password, then every file the run
wrote (evidence, traces unzipped member by member, Allure results, JUnit, summaries) and its output are searched
for the password and for tokens. Zero hits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from selftests.suite import Run, every_blob, run_suite

PASSWORD = "Sm0ke-Known-Pa55-e41d9c"  # long and unique: any hit is a leak
#: Sandbox tokens are JWT-shaped like Supabase's; refresh tokens are caught by their field names.
JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
TOKEN_FIELD = re.compile(
    rb'(?:auth_token|refresh_token|access_token)\\?"?\s*[:=,]\s*\\?"(?!\*{8})[A-Za-z0-9._~+/-]{16,}')
BEARER = re.compile(rb"Bearer\s+(?!\*{8})[A-Za-z0-9._~+/=-]{16,}")

#: Signed-in journeys failing (traces carry Authorization headers), the login journey failing (its trace spans
#: the sign-in), and the anonymous one; then a rejected password (the modal stays open with the form filled).
RUNS = {
    "signed-in": ["standings-rows-disagree", "footer-wrong-version", "match-not-persisted", "login-slow",
                  "js-error-on-load"],
    "rejected": ["login-rejected"],
}


@pytest.fixture(scope="module", params=sorted(RUNS))
def leaky_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Path]:
    tmp = tmp_path_factory.mktemp(f"smoke-redaction-{request.param}")
    args = ["--env", "sandbox", "-m", "smoke", "-p", "no:randomly", "-n", "2",
            "--alluredir", str(tmp / "allure-results")]
    for fault in RUNS[request.param]:
        args += ["--sandbox-fault", fault]
    run = run_suite(tmp, *args, env={"MT_SMOKE_PASSWORD": PASSWORD, "GITHUB_STEP_SUMMARY": str(tmp / "step.md")})
    (tmp / "output.log").write_text(run.output, encoding="utf-8")
    return run, tmp


def test_journeys_failed_and_kept_traces(leaky_run: tuple[Run, Path]) -> None:
    run, tmp = leaky_run
    assert run.failed, run.output
    traces = list(tmp.rglob("evidence/*/trace*.zip"))
    assert traces, "no trace was kept: the search below would prove nothing"
    assert list(tmp.rglob("allure-results/*-attachment*")), "nothing was attached to Allure"


def test_no_file_holds_the_password_or_a_token(leaky_run: tuple[Run, Path]) -> None:
    _, tmp = leaky_run
    hits: list[str] = []
    for name, data in every_blob(tmp):
        if PASSWORD.encode() in data:
            hits.append(f"{name}: the password")
        for rx, what in ((JWT, "a JWT"), (TOKEN_FIELD, "a token field"), (BEARER, "a Bearer token")):
            found = rx.search(data)
            if found:
                hits.append(f"{name}: {what} {found.group(0)[:40]!r}")
    assert not hits, "\n".join(hits[:20])


def test_traces_recorded_authorised_calls_masked(leaky_run: tuple[Run, Path]) -> None:
    """The signed-in journeys' traces did see API calls with a Bearer header: it was masked, not absent."""
    run, tmp = leaky_run
    if "rejected" in tmp.name:
        pytest.skip("only the signed-in run has authorised calls in its traces")
    masked = [name for name, data in every_blob(tmp) if "trace" in name and b"Bearer ********" in data]
    assert masked, run.output
