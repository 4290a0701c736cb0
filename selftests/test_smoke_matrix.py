"""The smoke tier's fault matrix: no fault passes every journey; each fault fails exactly its journey (journeys
that need the signed-in user skip when the sign-in itself is broken); serial and ``-n 2`` agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import faults
from sandbox.faults import ADD_MATCH, ANONYMOUS, FOOTER, JOURNEYS, STANDINGS
from selftests.suite import Run, run_suite

#: fault -> the journeys it must fail (sandbox/faults.py is the one table).
SMOKE_FAULTS: dict[str, frozenset[str]] = {f.name: faults.expected_failures(f.name, "smoke")
                                           for f in faults.in_matrix("smoke")}


def _pending(name: str) -> list[pytest.MarkDecorator]:
    """The lead removes this skip on merge, with the per-host reachability change."""
    reason = faults.BY_NAME[name].pending
    return [pytest.mark.skip(reason=reason)] if reason else []


def smoke_cases(*, slow: bool = False) -> list[object]:
    extra = [pytest.mark.slow] if slow else []
    return [pytest.param(name, marks=[*extra, *_pending(name)]) for name in sorted(SMOKE_FAULTS)]


def smoke(tmp: Path, *args: str) -> Run:
    return run_suite(tmp, "--env", "sandbox", "-m", "smoke", "-p", "no:randomly", *args, timeout=300)


def fault_args(fault: str | None) -> list[str]:
    return ["--sandbox-fault", fault] if fault else []


def expected_outcomes(fault: str | None) -> dict[str, str]:
    failing = faults.expected_failures(fault, "smoke") if fault else frozenset()
    skipped = faults.expected_skips(fault, "smoke") if fault else frozenset()
    return {name: "failed" if name in failing else "skipped" if name in skipped else "passed" for name in JOURNEYS}


def test_healthy_sandbox_passes_every_journey(tmp_path: Path) -> None:
    run = smoke(tmp_path)
    assert run.returncode == 0, run.output
    assert run.outcomes == expected_outcomes(None), run.output


def test_healthy_sandbox_passes_every_journey_on_two_workers(tmp_path: Path) -> None:
    run = smoke(tmp_path, "-n", "2")
    assert run.returncode == 0, run.output
    assert run.outcomes == expected_outcomes(None), run.output


@pytest.mark.parametrize("fault", smoke_cases())
def test_fault_fails_exactly_its_journey(tmp_path: Path, fault: str) -> None:
    run = smoke(tmp_path, *fault_args(fault))
    assert run.outcomes == expected_outcomes(fault), run.output
    assert run.returncode == 1
    if fault in CONSOLE_FAULTS:
        assert_named_by_its_own_check(run, fault)


#: The console-policy faults of issue 14 -> what the front page's failure must name (and the other two must not):
#: each fails only the front-page journey, by its own check, serially and on two workers.
CONSOLE_FAULTS = {
    "api-5xx-on-load": ("no 5xx answer", "/api/matches/live: HTTP 500"),
    "asset-404": ("first-party scripts and stylesheets", "/assets/app.css: HTTP 404"),
    "console-error-unlisted": ("browser console", "sandbox fault console-error-unlisted"),
}


def _front_page_failure(run: Run) -> str:
    return next(ln for ln in run.output.splitlines() if ln.startswith("[sandbox]") and "expected" in ln)


def assert_named_by_its_own_check(run: Run, fault: str) -> None:
    line = _front_page_failure(run)
    for name, (check_words, actual) in CONSOLE_FAULTS.items():
        if name == fault:
            assert check_words in line and actual in line, line
        else:
            assert actual not in line, line


@pytest.mark.parametrize("fault", sorted(CONSOLE_FAULTS))
def test_console_fault_fails_only_the_front_page_by_its_own_check_on_two_workers(tmp_path: Path,
                                                                                  fault: str) -> None:
    assert faults.expected_failures(fault, "smoke") == {ANONYMOUS}
    run = smoke(tmp_path, "-n", "2", *fault_args(fault))
    assert run.outcomes == expected_outcomes(fault), run.output
    assert_named_by_its_own_check(run, fault)


@pytest.mark.parametrize("fault", smoke_cases())
def test_fault_fails_exactly_its_journey_on_two_workers(tmp_path: Path, fault: str) -> None:
    run = smoke(tmp_path, "-n", "2", *fault_args(fault))
    assert run.outcomes == expected_outcomes(fault), run.output


def test_login_rejected_on_two_workers_skips_the_same_journeys(tmp_path: Path) -> None:
    """Each worker signs in on its own: a broken sign-in skips the same journeys as a serial run."""
    run = smoke(tmp_path, "-n", "2", *fault_args("login-rejected"))
    assert run.outcomes == expected_outcomes("login-rejected"), run.output


def test_every_journey_has_a_fault(tmp_path: Path) -> None:
    """A journey that no fault can break is a defect: every journey pytest collects is broken by some fault."""
    run = run_suite(tmp_path, "--env", "sandbox", "-m", "smoke", "tests/smoke", "--collect-only")
    collected = {line.split("::", 1)[1].split("[", 1)[0] for line in run.output.splitlines()
                 if line.startswith("tests/smoke/") and "::" in line}
    assert collected, run.output
    broken = set().union(*SMOKE_FAULTS.values())
    assert collected - broken == set(), f"journeys without a fault: {sorted(collected - broken)}"


def test_failure_names_environment_resource_expected_actual(tmp_path: Path) -> None:
    run = smoke(tmp_path, *fault_args("footer-wrong-version"))
    line = next(ln for ln in run.output.splitlines() if ln.startswith("[sandbox]") and "whats-new-trigger" in ln)
    assert "expected 1.29.2.1360 (GET /api/version)" in line and "got 1.0.0.1" in line


def test_failed_journey_keeps_screenshot_trace_and_console_log(tmp_path: Path) -> None:
    run = smoke(tmp_path, *fault_args("standings-rows-disagree"))
    [folder] = [p for p in (tmp_path / "reports").rglob("evidence/*") if STANDINGS in p.name]
    names = {p.name for p in folder.iterdir()}
    assert {"screenshot.png", "trace.zip", "browser-console.log"} <= names, (names, run.output)
    assert not any(p.name.endswith("storage-state.json") for p in (tmp_path / "reports").rglob("*"))
    # The passing journeys kept nothing.
    kept = {p.name for p in (tmp_path / "reports").rglob("evidence/*")}
    assert all(STANDINGS in name for name in kept), kept


def test_writes_off_skips_the_add_match_journey(tmp_path: Path) -> None:
    env_file = tmp_path / "sandbox-readonly.yaml"
    source = (Path(__file__).resolve().parents[1] / "environments" / "sandbox.yaml").read_text(encoding="utf-8")
    env_file.write_text(source.replace("writes: true", "writes: false"), encoding="utf-8")
    run = run_suite(tmp_path, f"--env={env_file}", "-m", "smoke", "-p", "no:randomly", "-k", "add_match",
                    timeout=300)
    assert run.outcomes == {ADD_MATCH: "skipped"}, run.output
    assert "smoke.writes is false" in run.output


def test_missing_credentials_skip_the_tier_naming_the_variables(tmp_path: Path) -> None:
    env_file = tmp_path / "sandbox-optional.yaml"
    source = (Path(__file__).resolve().parents[1] / "environments" / "sandbox.yaml").read_text(encoding="utf-8")
    env_file.write_text(source.replace("required: true", "required: false").replace(
        "username_env: MT_SMOKE_USERNAME", "username_env: MT_SELFTEST_NO_SUCH_USER"), encoding="utf-8")
    run = run_suite(tmp_path, f"--env={env_file}", "-m", "smoke", "-p", "no:randomly", "-rs", timeout=300)
    assert set(run.outcomes.values()) == {"skipped"} and set(run.outcomes) == JOURNEYS, run.output
    assert "MT_SELFTEST_NO_SUCH_USER" in run.output


def test_failed_journey_keeps_its_video_when_ffmpeg_is_there(tmp_path: Path) -> None:
    ffmpeg = Path("/usr/bin/ffmpeg")
    if not ffmpeg.exists():
        pytest.skip("no ffmpeg on this machine: video recording cannot be shown")
    import json

    import playwright

    spec = Path(playwright.__file__).parent / "driver" / "package" / "browsers.json"
    rev = next(b["revision"] for b in json.loads(spec.read_text())["browsers"] if b["name"] == "ffmpeg")
    browsers = tmp_path / "ms-playwright"
    (browsers / f"ffmpeg-{rev}").mkdir(parents=True)
    (browsers / f"ffmpeg-{rev}" / "ffmpeg-linux").symlink_to(ffmpeg)
    run = run_suite(tmp_path, "--env", "sandbox", "-m", "smoke", "-p", "no:randomly", "--sandbox-fault",
                    "footer-wrong-version", env={"PLAYWRIGHT_BROWSERS_PATH": str(browsers)}, timeout=300)
    videos = list((tmp_path / "reports").rglob("evidence/*/video.webm"))
    assert [v.parent.name for v in videos] and all(FOOTER in v.parent.name for v in videos), run.output
