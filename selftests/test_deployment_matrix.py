"""The deployment tier's fault matrix: the healthy simulated cluster passes every check; each cluster fault fails
exactly the checks it should (the symptoms Kubernetes itself would show), and access faults end as suite ERRORS,
never as failed checks. Both cluster layouts: ``sandbox`` (Helm, runbook) and ``sandbox-argocd`` (prod today)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import faults as fault_table
from sandbox.faults import ARGO_HEALTH, ARGO_SYNC, HELM_STATUS, HELM_VALUES
from selftests.suite import Run, run_suite

ACCESS = fault_table.ACCESS
#: environment -> fault -> the checks it must fail (sandbox/faults.py is the one table, the real cluster's too).
LAYOUT_ENVS = {fault_table.LAYOUT_ENVS[layout]: fault_table.layout_matrix("deployment", layout)
               for layout in ("helm", "argocd")}
CASES = [(env, fault) for env, table in LAYOUT_ENVS.items() for fault in sorted(table)]


def deployment(tmp_path: Path, env: str, *faults: str) -> Run:
    args = ["--env", env, "-m", "deployment", "tests/deployment", "-rA"]
    for fault in faults:
        args += ["--sandbox-fault", fault]
    return run_suite(tmp_path, *args, timeout=180)


@pytest.mark.parametrize("env", sorted(LAYOUT_ENVS))
def test_healthy_cluster_passes_every_deployment_check(tmp_path: Path, env: str) -> None:
    run = deployment(tmp_path, env)
    assert run.returncode == 0, run.output
    assert not run.failed and not run.errors, run.output
    passed, skipped = run.with_outcome("passed"), run.with_outcome("skipped")
    assert passed and set(run.outcomes) == passed | skipped, sorted(run.outcomes)
    if env == "sandbox":
        assert skipped == {ARGO_SYNC, ARGO_HEALTH}
        assert "Argo CD is not applicable" in run.output
    else:
        assert skipped == {HELM_STATUS, HELM_VALUES}
        assert "Helm release status is not applicable" in run.output


@pytest.mark.parametrize(("env", "fault"), CASES, ids=[f"{e}:{f}" for e, f in CASES])
def test_fault_fails_exactly_its_checks(tmp_path: Path, env: str, fault: str) -> None:
    run = deployment(tmp_path, env, fault)
    expected = LAYOUT_ENVS[env][fault]
    assert run.failed == expected, run.output
    assert not run.errors, run.output
    assert run.returncode == (1 if expected else 0), run.output


@pytest.mark.parametrize("fault", ACCESS)
def test_cluster_access_fault_is_a_suite_error(tmp_path: Path, fault: str) -> None:
    run = deployment(tmp_path, "sandbox", fault)
    assert not run.failed, run.output
    assert run.errors == set(run.outcomes) - run.with_outcome("skipped"), run.output
    assert run.errors, run.output
    assert "SUITE ERROR (nothing was checked): [sandbox]" in run.output
    assert "namespace missing-table" in run.output and "context sandbox" in run.output
    wording = {"kube-unreachable": "cannot reach the Kubernetes API", "kube-forbidden": "forbidden:",
               "kube-unauthorized": "rejected the suite's credentials"}[fault]
    assert wording in run.output


def test_rollout_in_progress_is_waited_for_and_reported(tmp_path: Path) -> None:
    run = deployment(tmp_path, "sandbox", "rollout-progressing")
    assert run.returncode == 0, run.output
    assert "missing-table-backend: rollout was in progress; waited" in run.output


def test_failure_names_environment_resource_expected_actual_and_next_step(tmp_path: Path) -> None:
    run = deployment(tmp_path, "sandbox", "image-drift")
    line = next(ln for ln in run.output.splitlines() if ln.startswith("[sandbox] missing-table/Deployment/"))
    assert "missing-table-backend" in line and "expected containers backend on tag" in line
    assert "got container backend runs ghcr.io/silverbeer/missing-table-backend:" in line
    assert "in pod missing-table-backend-" in line
    assert "Next: kubectl --context sandbox get pods -l" in run.output and "-n missing-table" in run.output


def test_stuck_rollout_fails_at_once(tmp_path: Path) -> None:
    run = deployment(tmp_path, "sandbox", "rollout-stuck")
    assert "Progressing=False (ProgressDeadlineExceeded" in run.output
    assert "waited" not in run.output.split("deployment tier")[-1]


def test_environment_without_kubernetes_skips_the_tier(tmp_path: Path) -> None:
    env = tmp_path / "no-kube.yaml"
    env.write_text("name: no-kube\nsite: {url: 'http://127.0.0.1:9'}\napi: {url: 'http://127.0.0.1:9'}\n")
    run = run_suite(tmp_path, "--env", str(env), "-m", "deployment", "tests/deployment", "-rs")
    assert run.outcomes and set(run.outcomes.values()) == {"skipped"}, run.output
    assert "no 'kubernetes' section: the deployment tier does not apply" in run.output
