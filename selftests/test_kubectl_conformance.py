"""The real ``kubectl`` against the SIMULATED API server: where they disagree, the simulation is wrong.

Cases found so far, each fixed in ``sandbox/kube`` and kept here:
- plain ``http://`` with a bearer token: client-go sends tokens only over TLS, so kubectl got 401 on every call;
  the simulated API serves TLS now, with its CA in the kubeconfig;
- no discovery documents (``/api``, ``/apis``, ``/apis/G/V``): kubectl could not map ``deployments`` to a path;
- ``watch`` answered 405: ``kubectl rollout status`` watches the Deployment until the rollout completes;
- lists instead of server-side printed Tables: ``kubectl get`` showed NAME and AGE only;
- RBAC's refusal named neither the object nor the real ServiceAccount of ``deploy/rbac-readonly.yaml``.
The same commands run against the real cluster in ``test_real_cluster.py``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mt_verify import config as cfg
from mt_verify import launcher

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
NS = "missing-table"
FORBIDDEN_UNDO = ('deployments.apps "missing-table-backend" is forbidden: User '
                  '"system:serviceaccount:missing-table:mt-verify" cannot patch resource "deployments" in API group '
                  '"apps" in the namespace "missing-table"')

pytestmark = pytest.mark.skipif(not Path(KUBECTL).exists(), reason="kubectl is not installed")


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    faults = list(getattr(request, "param", []))
    path, raw = cfg.load_raw("sandbox")
    launched = launcher.launch(cfg.Sandbox.model_validate(raw["sandbox"]), faults, file=path)
    try:
        yield launched.env
    finally:
        launched.stop()


def kubectl(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KUBECTL, "--kubeconfig", env["MT_SANDBOX_KUBECONFIG"], "--context",
                           env["MT_SANDBOX_KUBE_CONTEXT"], "-n", NS, *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_kubeconfig_is_tls_with_the_clusters_ca(sim: dict[str, str]) -> None:
    text = Path(sim["MT_SANDBOX_KUBECONFIG"]).read_text()
    assert "server: https://127.0.0.1:" in text and "certificate-authority-data:" in text
    who = kubectl(sim, "version", "-o", "json")
    assert who.returncode == 0 and '"gitVersion"' in who.stdout, who.stderr


def test_get_prints_the_columns_a_real_server_gives(sim: dict[str, str]) -> None:
    deps = kubectl(sim, "get", "deployments")
    assert deps.returncode == 0, deps.stderr
    header, *rows = deps.stdout.splitlines()
    assert header.split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert {r.split()[0] for r in rows} == {"missing-table-backend", "missing-table-frontend",
                                           "missing-table-celery-worker"}
    assert all(r.split()[1] == "2/2" for r in rows)
    pods = kubectl(sim, "get", "pods", "-l", "app.kubernetes.io/component=backend")
    assert pods.stdout.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], pods.stderr
    assert len(pods.stdout.splitlines()) == 3 and "Running" in pods.stdout
    as_json = kubectl(sim, "get", "deploy/missing-table-backend", "-o", "jsonpath={.spec.replicas}")
    assert as_json.stdout == "2", as_json.stderr


def test_rollout_status_of_a_complete_rollout(sim: dict[str, str]) -> None:
    done = kubectl(sim, "rollout", "status", "deployment/missing-table-backend", "--timeout=20s")
    assert done.returncode == 0, done.stderr
    assert 'deployment "missing-table-backend" successfully rolled out' in done.stdout


@pytest.mark.parametrize("sim", [["rollout-progressing"]], indirect=True)
def test_rollout_status_watches_a_rollout_until_it_completes(sim: dict[str, str]) -> None:
    done = kubectl(sim, "rollout", "status", "deployment/missing-table-backend", "--timeout=30s")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Waiting for deployment" in done.stdout and "successfully rolled out" in done.stdout


@pytest.mark.parametrize("sim", [["rollout-stuck"]], indirect=True)
def test_rollout_status_of_a_stuck_rollout_fails(sim: dict[str, str]) -> None:
    done = kubectl(sim, "rollout", "status", "deployment/missing-table-backend", "--timeout=20s")
    assert done.returncode == 1
    assert 'deployment "missing-table-backend" exceeded its progress deadline' in done.stderr


def test_rollout_undo_as_the_readonly_identity_is_forbidden_as_rbac_says_it(sim: dict[str, str]) -> None:
    undo = kubectl(sim, "rollout", "undo", "deployment/missing-table-backend")
    assert undo.returncode == 1
    assert FORBIDDEN_UNDO in undo.stderr, undo.stderr
