"""The deployment tier on the REAL cluster (``environments/sandbox-real.yaml``): version-stamped binaries, a healthy
release that passes every check as the read-only ServiceAccount, and the fault matrix with faults caused by real
operations (helm upgrades, kwok Stages, the scheduler and controllers reacting), each failing exactly the checks the
simulated cluster's matrix expects for the same symptom."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sandbox import faults
from sandbox.faults import ARGO_HEALTH, ARGO_SYNC
from selftests.realcluster import RealWorld, skip_unless_built

pytestmark = [pytest.mark.realcluster, pytest.mark.xdist_group("realcluster")]

#: fault -> the checks it must fail on the real cluster (sandbox/faults.py, the one table): one replica each (prod's
#: shape) and a Helm release, so every expectation is a simulated layout's for the same symptom (asserted below).
REAL: dict[str, frozenset[str]] = faults.layout_matrix("deployment", "real")


def test_real_expectations_are_the_simulated_ones() -> None:
    assert REAL, "no real-cluster fault in the table"
    for fault, checks in REAL.items():
        simulated = [faults.BY_NAME[fault].fails.get(f"deployment@{layout}") for layout in ("helm", "argocd")]
        assert checks in simulated, fault


def test_binaries_tell_their_versions() -> None:
    skip_unless_built()
    from sandbox.cluster import binaries

    def out(piece: str, *args: str) -> str:
        proc = subprocess.run([str(binaries.path(piece)), *args], capture_output=True, text=True, timeout=30)
        return proc.stdout + proc.stderr

    kube = binaries.version("kube-apiserver")
    for piece in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        assert out(piece, "--version").strip() == f"Kubernetes {kube}", piece
    assert out("helm", "version", "--short").strip() == binaries.version("helm")
    assert binaries.version("kine") in out("kine", "--version")


def test_healthy_real_cluster_passes_every_deployment_check(healthy: RealWorld, tmp_path: Path) -> None:
    run = healthy.suite(tmp_path, "-m", "deployment", "tests/deployment", "-rA")
    assert run.returncode == 0, run.output
    assert not run.failed and not run.errors, run.output
    passed, skipped = run.with_outcome("passed"), run.with_outcome("skipped")
    assert passed and set(run.outcomes) == passed | skipped, sorted(run.outcomes)
    assert skipped == {ARGO_SYNC, ARGO_HEALTH}


def test_suite_reads_as_the_readonly_service_account(healthy: RealWorld) -> None:
    who = healthy.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}",
                          context=healthy.env["MT_SANDBOX_KUBE_CONTEXT"])
    assert who.stdout == "system:serviceaccount:missing-table:mt-verify", who.stderr
    denied = healthy.kubectl("auth", "can-i", "patch", "deployments", "-n", "missing-table",
                             context=healthy.env["MT_SANDBOX_KUBE_CONTEXT"])
    assert denied.stdout.strip() == "no"


def test_release_was_installed_by_real_helm_at_two_revisions(healthy: RealWorld) -> None:
    history = healthy.state()["helm_history"]
    assert len(history) >= 2
    assert history[0]["description"] == "Install complete"
    assert history[-1]["status"] == "deployed"


@pytest.mark.parametrize("fault", sorted(REAL))
def test_real_fault_fails_exactly_its_checks(healthy: RealWorld, tmp_path: Path, fault: str) -> None:
    real_world = healthy
    real_world.set_faults(fault)
    try:
        run = real_world.suite(tmp_path, "-m", "deployment", "tests/deployment", "-rA")
    finally:
        real_world.set_faults()
    assert run.failed == REAL[fault], run.output
    assert not run.errors, run.output
    assert run.returncode == 1, run.output


def test_kubectl_sees_what_it_sees_on_the_simulated_api(healthy: RealWorld) -> None:
    """The real side of ``test_kubectl_conformance.py``: the same commands, the same shape of answer."""
    ro = healthy.env["MT_SANDBOX_KUBE_CONTEXT"]
    deps = healthy.kubectl("get", "deployments", "-n", "missing-table", context=ro)
    header, *rows = deps.stdout.splitlines()
    assert header.split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], deps.stderr
    assert sorted(r.split()[0] for r in rows) == ["missing-table-backend", "missing-table-frontend",
                                                 "missing-table-redis"]
    assert all(r.split()[1] == "1/1" for r in rows)
    pods = healthy.kubectl("get", "pods", "-n", "missing-table", "-l", "app.kubernetes.io/component=backend",
                           context=ro)
    assert pods.stdout.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], pods.stderr
    assert "Running" in pods.stdout
    done = healthy.kubectl("rollout", "status", "deployment/missing-table-backend", "-n", "missing-table",
                           "--timeout=30s", context=ro)
    assert done.returncode == 0, done.stderr
    assert 'deployment "missing-table-backend" successfully rolled out' in done.stdout
