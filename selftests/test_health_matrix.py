"""The health tier's fault matrix: no fault passes everything; each fault fails exactly its checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from selftests.suite import run_suite

HEALTH_FAULTS: dict[str, set[str]] = {
    "health-down": {"test_health_endpoint_healthy[api]", "test_health_endpoint_healthy[site]"},
    "health-full-degraded": {"test_health_full_all_checks_healthy"},
    "database-unhealthy": {"test_health_full_all_checks_healthy"},
    "slow-health-full": {"test_health_full_all_checks_healthy"},
    "version-drift": {"test_served_version_is_expected_release"},
    "version-wrong-environment": {"test_version_fields_well_formed"},
    "site-api-routing-broken": {"test_version_same_through_site"},
    "standings-empty": {"test_standings_add_up"},
    "standings-arithmetic": {"test_standings_add_up"},
    "front-page-broken": {"test_front_page_serves_app_shell[127.0.0.1]", "test_front_page_serves_app_shell[localhost]",
                          "test_front_page_scripts_load[127.0.0.1]", "test_front_page_scripts_load[localhost]"},
    "assets-missing": {"test_front_page_scripts_load[127.0.0.1]", "test_front_page_scripts_load[localhost]"},
    "auth-disabled": {"test_standings_require_auth"},
    "tls-near-expiry": {"test_tls_certificate_valid[localhost]"},
    # An expired certificate also breaks the https front page: a browser would refuse it too.
    "tls-expired": {"test_tls_certificate_valid[localhost]", "test_front_page_serves_app_shell[localhost]",
                    "test_front_page_scripts_load[localhost]"},
    "http-no-redirect": {"test_http_redirects_to_https[127.0.0.1]"},
}

#: Faults under which everything passes, with a warning.
WARNING_ONLY = {"tls-expiring-soon": "within min_days"}


def health(tmp_path: Path, *faults: str) -> object:
    args = ["--env", "sandbox", "-m", "health"]
    for fault in faults:
        args += ["--sandbox-fault", fault]
    return run_suite(tmp_path, *args)


def test_healthy_sandbox_passes_every_health_check(tmp_path: Path) -> None:
    run = health(tmp_path)
    assert run.returncode == 0, run.output
    assert run.outcomes and not run.failed and not run.errors
    assert len(run.with_outcome("passed")) >= 14, run.outcomes


@pytest.mark.parametrize("fault", sorted(HEALTH_FAULTS))
def test_fault_fails_exactly_its_checks(tmp_path: Path, fault: str) -> None:
    run = health(tmp_path, fault)
    assert run.failed == HEALTH_FAULTS[fault], run.output
    assert not run.errors, run.output
    assert run.returncode == 1


@pytest.mark.parametrize("fault", sorted(WARNING_ONLY))
def test_warning_fault_passes_with_a_warning(tmp_path: Path, fault: str) -> None:
    run = health(tmp_path, fault)
    assert run.returncode == 0, run.output
    assert WARNING_ONLY[fault] in run.output


def test_every_health_check_has_a_fault(tmp_path: Path) -> None:
    """A check that no fault can break is a defect."""
    run = health(tmp_path)
    broken = {name.split("[")[0] for names in HEALTH_FAULTS.values() for name in names}
    checks = {name.split("[")[0] for name in run.outcomes}
    unbreakable = checks - broken - {"test_endpoint_check"}  # declared endpoints: see test_endpoints
    assert not unbreakable, f"checks without a fault: {sorted(unbreakable)}"


def test_failure_message_names_environment_resource_expected_actual(tmp_path: Path) -> None:
    run = health(tmp_path, "version-drift")
    line = next(ln for ln in run.output.splitlines() if ln.startswith("[sandbox]") and "release" in ln)
    assert "/api/version" in line and "expected release 1.29.2.1360" in line and "got 1.28.0.1299" in line
    assert "polled for" in run.output
