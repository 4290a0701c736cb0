"""The reporting plugin on its own (pytester): what travels from xdist workers, warnings, areas, file locations;
and the summary's rules on synthetic results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mt_verify.outcome import TestOutcome
from mt_verify.redact import MASK, register_secret
from mt_verify.reporting import summary as summ
from mt_verify.reporting.areas import derive_area, tier_of
from mt_verify.reporting.evidence import slug
from mt_verify.reporting.plugin import scrub_tree

pytest_plugins = ["pytester"]

SAMPLE = '''
import pytest
from mt_verify.outcome import warn

pytestmark = pytest.mark.health

def test_version_ok():
    pass

@pytest.mark.area("TLS")
@pytest.mark.gate
def test_cert_warns():
    warn("env", "certificate of x", "15.0 days left, within min_days 21")

@pytest.mark.gate
def test_health_fails():
    pytest.fail("[env] GET /health: expected HTTP 200, got HTTP 503", pytrace=False)

@pytest.mark.area("Login")
def test_login_skips():
    pytest.skip("smoke user credentials not set")

@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")

@pytest.mark.area("Pods")
def test_pods_error(broken):
    pass
'''


@pytest.fixture
def sample(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    pytester.makepyfile(test_sample=SAMPLE)
    pytester.makeini("[pytest]\nmarkers =\n    area(name): row\n    health: tier\n    gate: gating\n")
    run_dir = pytester.path / "run"
    monkeypatch.setenv("MT_REPORTS_DIR", str(run_dir))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return run_dir


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_plugin_summarises_every_outcome(pytester: pytest.Pytester, sample: Path, workers: list[str]) -> None:
    result = pytester.runpytest_subprocess("-p", "mt_verify.plugin", "-p", "mt_verify.reporting.plugin",
                                           "-p", "no:cacheprovider", *workers)
    result.assert_outcomes(passed=2, failed=1, skipped=1, errors=1, warnings=1)
    data = json.loads((sample / "summary.json").read_text(encoding="utf-8"))
    tests = {t["nodeid"].rsplit("::", 1)[-1]: t for t in data["tests"]}
    assert tests["test_version_ok"]["area"] == "Version" and tests["test_version_ok"]["tier"] == "health"
    cert = tests["test_cert_warns"]
    assert cert["area"] == "TLS" and cert["status"] == "warning" and cert["gate"] is True
    assert cert["warnings"] == ["[env] certificate of x: 15.0 days left, within min_days 21"]
    fails = tests["test_health_fails"]
    assert fails["outcome"] == "failed" and fails["reason"] == "[env] GET /health: expected HTTP 200, got HTTP 503"
    assert tests["test_login_skips"]["reason"] == "smoke user credentials not set"
    err = tests["test_pods_error"]
    assert err["outcome"] == "error" and err["mt_verdict"] == "error" and "fixture exploded" in err["reason"]
    rows = {a["name"]: a for a in data["areas"]}
    assert rows["TLS"]["light"] == "yellow" and rows["Health"]["light"] == "red"
    assert rows["Pods"]["status"] == "error" and rows["Login"]["status"] == "skipped"
    assert rows["Footer"]["status"] == "not_run"
    assert data["verdict"] == "failed" and data["gate_verdict"] == "failed"
    assert data["run"]["workers"] == (2 if workers else 0)
    assert (sample / "junit.xml").is_file()
    cases = [json.loads(p.read_text()) for p in (sample / "allure-results").glob("*-result.json")]
    assert len(cases) == 5
    [cert_case] = [c for c in cases if c["name"] == "test_cert_warns"]
    assert any(s["name"].startswith("Warning: [env] certificate of x") for s in cert_case["steps"])
    assert ("severity", "blocker") in {(lb["name"], lb["value"]) for lb in cert_case["labels"]}
    result.stdout.fnmatch_lines(["*CheckWarning*", "*mt-verify summary*", "*| TLS | 🟡 warning |*"])


def test_explicit_alluredir_and_junitxml_are_respected(pytester: pytest.Pytester, sample: Path) -> None:
    elsewhere = pytester.path / "elsewhere"
    result = pytester.runpytest_subprocess("-p", "mt_verify.plugin", "-p", "mt_verify.reporting.plugin",
                                           f"--alluredir={elsewhere}",
                                           f"--junitxml={elsewhere / 'j.xml'}", "-k", "version_ok")
    result.assert_outcomes(passed=1)
    assert (elsewhere / "j.xml").is_file() and any(elsewhere.glob("*-result.json"))
    assert (sample / "junit.xml").is_file(), "the run folder keeps its own junit.xml beside --junitxml"
    assert not (sample / "allure-results").exists()
    assert (sample / "summary.json").is_file()
    assert (elsewhere / "environment.properties").is_file()


def test_step_summary_is_appended(pytester: pytest.Pytester, sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    step = pytester.path / "step.md"
    step.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    pytester.runpytest_subprocess("-p", "mt_verify.plugin", "-p", "mt_verify.reporting.plugin", "-k", "version_ok")
    text = step.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n") and "## mt-verify" in text and "| Version | 🟢 passed |" in text


def test_without_a_run_folder_nothing_is_written(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    monkeypatch.delenv("MT_REPORTS_DIR", raising=False)
    result = pytester.runpytest_subprocess("-p", "mt_verify.plugin", "-p", "mt_verify.reporting.plugin")
    result.assert_outcomes(passed=1)
    assert not list(pytester.path.rglob("summary.json"))
    assert "mt-verify summary" not in result.stdout.str()


# -- areas --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("tier", "name", "area"), [
    ("health", "test_tls_certificate_valid[localhost]", "TLS"),
    ("health", "test_served_version_is_expected_release", "Version"),
    ("health", "test_standings_add_up", "Standings"),
    ("health", "test_health_full_all_checks_healthy", "Health"),
    ("deployment", "test_backend_rollout_complete", "Deployments"),
    ("deployment", "test_pods_not_restarted", "Pods"),
    ("deployment", "test_images_match_release", "Pods"),
    ("deployment", "test_ingress_has_hosts", "Ingress/Certificate"),
    ("deployment", "test_certificate_ready", "Ingress/Certificate"),
    ("deployment", "test_no_warning_events", "Events"),
    ("deployment", "test_argocd_application_synced", "Helm/Argo CD"),
    ("deployment", "test_helm_release_deployed", "Helm/Argo CD"),
    ("deployment", "test_report_something", "Deployments"),  # "report" is not "pod"
    ("smoke", "test_login_shows_user_menu", "Login"),
    ("smoke", "test_logout_clears_token", "Login"),
    ("smoke", "test_standings_match_api", "Standings"),
    ("smoke", "test_add_match_round_trip", "Add match"),
    ("smoke", "test_footer_shows_served_version", "Footer"),
    ("smoke", "test_anonymous_front_page", "Health"),
    (None, "test_anything", "Other"),
])
def test_area_derived_from_tier_and_name(tier: str | None, name: str, area: str) -> None:
    assert derive_area(tier, name) == area


def test_tier_from_marker_else_folder() -> None:
    assert tier_of({"smoke", "gate"}, "tests/health/test_x.py") == "smoke"
    assert tier_of(set(), "tests/deployment/test_x.py") == "deployment"
    assert tier_of(set(), "selftests/test_x.py") is None


# -- summary rules ------------------------------------------------------------------------------------


def _rec(nodeid: str, area: str, **kw: object) -> TestOutcome:
    rec = TestOutcome(nodeid, area=area, tier="health", gate=True)
    rec.phases = {"setup": "passed", "call": "passed", "teardown": "passed"}
    for key, value in kw.items():
        setattr(rec, key, value)
    return rec


def _build(*records: TestOutcome, reruns: dict[str, int] | None = None) -> dict[str, object]:
    return summ.build(records, environment={"name": "x"}, version={}, run={"duration_s": 1.0}, reruns=reruns)


def test_flaky_pass_is_yellow_and_failed_beats_error() -> None:
    data = _build(
        _rec("a::flaky", "Health"),
        _rec("b::bad", "Version", phases={"setup": "passed", "call": "failed"}, verdict="failed", reason="r1"),
        _rec("c::err", "Version", phases={"setup": "failed"}, verdict="error", reason="SUITE ERROR (nothing "
             "was checked): down"),
        reruns={"a::flaky": 1},
    )
    rows = {a["name"]: a for a in data["areas"]}  # type: ignore[union-attr]
    assert rows["Health"]["light"] == "yellow" and "flaky" in rows["Health"]["reason"]
    assert rows["Version"]["status"] == "failed" and rows["Version"]["reason"] == "r1 (+1 more)"
    assert data["verdict"] == "failed" and data["counts"]["flaky"] == 1  # type: ignore[index]


def test_fail_inside_a_fixture_is_an_error_outcome_but_a_failed_verdict() -> None:
    rec = _rec("a::t", "Version", phases={"setup": "failed"}, verdict="failed", reason="[x] /api/version: ...")
    entry = summ.test_entry(rec)
    assert entry["outcome"] == "error" and entry["mt_verdict"] == "failed" and entry["status"] == "failed"


def test_all_skipped_area_is_grey_with_its_reason() -> None:
    data = _build(_rec("a::t", "Login", phases={"setup": "skipped"}, verdict="skipped",
                       skip_reason="credentials not set"))
    row = next(a for a in data["areas"] if a["name"] == "Login")  # type: ignore[union-attr]
    assert row["light"] == "grey" and row["status"] == "skipped" and row["reason"] == "credentials not set"
    assert data["verdict"] == "no_tests"


def test_a_check_that_could_not_run_is_yellow_not_verified_never_grey() -> None:
    unverified = TestOutcome("tests/health/test_version.py::test_served_version_is_expected_release",
                             tier="health", area="Version", verdict="skipped", not_verified=True,
                             skip_reason="[env] the served release not verified: no expected release given")
    ok = TestOutcome("tests/health/test_version.py::test_version_fields_well_formed", tier="health", area="Version")
    data = summ.build([unverified, ok], environment={"name": "env"}, version={}, run={})
    row = next(a for a in data["areas"] if a["name"] == "Version")
    assert (row["light"], row["status"]) == ("yellow", "not_verified")
    assert row["reason"].startswith("[env] the served release not verified")
    assert data["verdict"] == "not_verified" and data["counts"]["not_verified"] == 1
    assert {t["status"] for t in data["tests"]} == {"not_verified", "passed"}
    md = summ.render_markdown(data)
    assert "🟡 NOT VERIFIED" in md and "| Version | 🟡 not verified | 1/2 not verified |" in md
    assert "1 not verified" in md


def test_markdown_fits_one_screen_and_escapes_pipes() -> None:
    recs = [_rec(f"t::x{i}", "Health", phases={"call": "failed"}, verdict="failed", reason="a | b " * 80)
            for i in range(40)]
    md = summ.render_markdown(_build(*recs))
    assert len(md.splitlines()) < 45
    assert "a \\| b" in md


def test_reasons_are_redacted_and_one_line() -> None:
    register_secret("hunter2-known-secret")
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    line = summ.one_line(f"\n  login as bob with hunter2-known-secret got {jwt}\nsecond line")
    assert "hunter2" not in line and "eyJ" not in line and MASK in line and "second" not in line


def test_gate_section_without_summary_still_records_decision(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    summ.add_gate_section(tmp_path, {"decision": "error", "reason": "pytest did not finish"})
    data = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert data["gate"]["decision"] == "error" and data["verdict"] == "error"
    assert "### Gate" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="decision"):
        summ.add_gate_section(tmp_path, {"reason": "no decision"})


def test_scrub_masks_secrets_left_in_text_files(tmp_path: Path) -> None:
    register_secret("s3cret-password-for-scrub")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x-result.json").write_text('{"message": "pw s3cret-password-for-scrub"}', encoding="utf-8")
    (tmp_path / "a" / "ok.txt").write_text("nothing here", encoding="utf-8")
    (tmp_path / "a" / "shot.png").write_bytes(b"\x89PNG s3cret-password-for-scrub")
    assert scrub_tree(tmp_path) == 2  # binary files too (issue 11: every byte of the run folder)
    assert "s3cret" not in (tmp_path / "a" / "x-result.json").read_text(encoding="utf-8")
    assert b"s3cret" not in (tmp_path / "a" / "shot.png").read_bytes()
    assert (tmp_path / "a" / "ok.txt").read_text(encoding="utf-8") == "nothing here"


def test_evidence_slug_is_safe_and_bounded() -> None:
    assert slug("tests/health/test_site.py::test_x[127.0.0.1]") == "tests-health-test_site.py--test_x-127.0.0.1"
    long = slug("tests/x.py::test_" + "y" * 300)
    assert len(long) <= 96 and long != slug("tests/x.py::test_" + "y" * 299)


ATTACHING = '''
from pathlib import Path
from mt_verify.reporting.attach import attach_file, attach_text, step

def test_journey(request, tmp_path):
    with step("log in as smoke with password hunter2-Zq7vK-w9x"):
        attach_text("deployment backend", "image: x\\ntoken: Bearer abc.def.ghi", nodeid=request.node.nodeid,
                    filename="backend.yaml")
    shot = tmp_path / "page.png"
    shot.write_bytes(b"\\x89PNG fake")
    attach_file(shot, name="screenshot", nodeid=request.node.nodeid)
    assert False, "journey failed"
'''


def test_attach_helpers_save_redacted_evidence(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_attaching=ATTACHING)
    pytester.makeconftest("from mt_verify.redact import register_secret\nregister_secret('hunter2-Zq7vK-w9x')\n")
    run_dir = pytester.path / "run"
    monkeypatch.setenv("MT_REPORTS_DIR", str(run_dir))
    result = pytester.runpytest_subprocess("-p", "mt_verify.plugin", "-p", "mt_verify.reporting.plugin")
    result.assert_outcomes(failed=1)
    [test] = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))["tests"]
    assert sorted(Path(p).name for p in test["evidence"]) == ["backend.yaml", "page.png"]
    saved = (run_dir / next(p for p in test["evidence"] if p.endswith(".yaml"))).read_text(encoding="utf-8")
    assert "abc.def" not in saved and MASK in saved
    [case] = [json.loads(p.read_text()) for p in (run_dir / "allure-results").glob("*-result.json")]
    [outer] = case["steps"]
    assert "hunter2" not in outer["name"] and MASK in outer["name"]
    assert [a["name"] for a in outer["attachments"]] == ["deployment backend"]
    assert [a["name"] for a in case["attachments"]] == ["screenshot"]


CHAINED = '''
import pytest

def test_chained():
    try:
        int("x")
    except ValueError as exc:
        raise AssertionError("[env] GET /api/version: expected a JSON body, got 'x'") from exc
'''


def test_a_failure_after_chained_exceptions_says_its_one_line_first(pytester: pytest.Pytester,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_chained=CHAINED)
    monkeypatch.setenv("MT_REPORTS_DIR", str(pytester.path / "run"))
    result = pytester.runpytest_subprocess("-p", "mt_verify.plugin", "-p", "mt_verify.reporting.plugin",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    lines = result.stdout.lines
    header = next(i for i, line in enumerate(lines) if line.strip("_ ") == "test_chained")
    assert lines[header + 1] == "[env] GET /api/version: expected a JSON body, got 'x'", lines[header:header + 4]
    assert any("The above exception was the direct cause" in line for line in lines)  # the details stay, after


@pytest.mark.parametrize(("reason", "obj"), [
    ("[s] ns/Deployment/missing-table-backend: expected rollout complete, got 1 ready",
     "Deployment missing-table-backend"),
    ("[s] ns/ReplicaSet/missing-table-backend-96lgfchcd7 (Deployment missing-table-backend): expected every pod Ready",
     "Deployment missing-table-backend"),
    ("[s] ns/Events: expected no Warning events, got 1: BackOff pod/missing-table-backend-96lgfchcd7-h2bjj: Back-off",
     "Deployment missing-table-backend"),
    ("[s] http://127.0.0.1:1/health: expected HTTP 200, got HTTP 503", None),
])
def test_the_object_a_red_line_is_about(reason: str, obj: str | None) -> None:
    assert summ.object_of(reason) == obj


def test_red_checks_on_one_object_are_one_line_in_the_summary() -> None:
    def red(name: str, reason: str) -> TestOutcome:
        return TestOutcome(f"tests/deployment/test_x.py::{name}", tier="deployment", area="Pods", verdict="failed",
                           reason=reason)

    data = summ.build([
        red("test_rollout", "[s] ns/Deployment/backend: expected rollout complete, got 1 ready"),
        red("test_ready", "[s] ns/ReplicaSet/backend-96lgfchcd7 (Deployment backend): expected Ready, got not"),
        red("test_events", "[s] ns/Events: expected none, got BackOff pod/backend-96lgfchcd7-h2bjj: Back-off"),
        red("test_other", "[s] ns/Deployment/frontend: expected 2 replicas, got 1"),
    ], environment={"name": "s"}, version={}, run={})
    assert [t["object"] for t in data["tests"]].count("Deployment backend") == 3
    md = summ.render_markdown(data)
    assert "- 🔴 **Deployment backend**: 3 red checks, one object (" in md
    assert md.count("\n- 🔴") == 2  # backend's three as one line, frontend's one on its own
