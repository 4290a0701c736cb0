"""The health tier's fault matrix: no fault passes everything; each fault fails exactly its checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import faults
from selftests.suite import run_suite

#: fault -> the health checks it must fail (sandbox/faults.py is the one table).
HEALTH_FAULTS: dict[str, frozenset[str]] = {f.name: faults.expected_failures(f.name, "health")
                                            for f in faults.in_matrix("health")}

#: Faults under which everything passes, with a warning.
WARNING_ONLY = faults.warning_only("health")


def _pending(name: str) -> list[pytest.MarkDecorator]:
    """The lead removes this skip on merge, with the per-host reachability change."""
    reason = faults.BY_NAME[name].pending
    return [pytest.mark.skip(reason=reason)] if reason else []


def health_cases() -> list[object]:
    return [pytest.param(name, marks=_pending(name)) for name in sorted(HEALTH_FAULTS)]


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


@pytest.mark.parametrize("fault", health_cases())
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
