"""Read-only, proven on the REAL cluster: the deployment tier runs as the ServiceAccount of
``deploy/rbac-readonly.yaml`` against real RBAC, and every rule of the manifest is needed. Each case takes one rule
away (``kubectl replace`` of the Role), waits until RBAC says no (``kubectl auth can-i --as``), and runs the tier:
a named check becomes a SUITE ERROR whose message names the verb and the resource. The rule is put back after.

The one exception is the ClusterRole that lets the tier ``get`` its Namespace: the tier's first probe uses it, and
falls back to listing Deployments when it is refused, so without it the tier still works (asserted here too).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from mt_verify import config as cfg
from selftests.realcluster import ROOT, RealWorld

pytestmark = [pytest.mark.realcluster, pytest.mark.xdist_group("realcluster")]

MANIFEST = ROOT / "deploy" / "rbac-readonly.yaml"
SA = "system:serviceaccount:missing-table:mt-verify"
HELM = "test_helm_release_deployed"

#: (Role namespace, apiGroup, first resource of the rule) -> (environment variant, check that errors, verb, resource)
CASES: dict[tuple[str, str, str], tuple[str, str, str, str]] = {
    ("missing-table", "", "pods"): ("plain", "test_deployment_pods_running_and_ready[missing-table-backend]",
                                    "list", "pods"),
    ("missing-table", "", "secrets"): ("plain", HELM, "list", "secrets"),
    ("missing-table", "apps", "deployments"): ("plain", "test_deployment_rollout_complete[missing-table-backend]",
                                               "list", "deployments"),
    ("missing-table", "batch", "jobs"): ("plain", "test_cache_flush_job_not_failed", "list", "jobs"),
    ("missing-table", "discovery.k8s.io", "endpointslices"): (
        "plain", "test_service_has_ready_endpoints[missing-table-backend]", "list", "endpointslices"),
    ("missing-table", "networking.k8s.io", "ingresses"): ("plain", "test_ingress_routes_configured_hosts", "get",
                                                          "ingresses"),
    ("missing-table", "cert-manager.io", "certificates"): ("plain", "test_tls_certificate_ready", "get",
                                                           "certificates"),
    ("missing-table", "networking.gke.io", "managedcertificates"): ("gke-cert", "test_tls_certificate_ready", "get",
                                                                    "managedcertificates"),
    ("argocd", "argoproj.io", "applications"): ("argocd", "test_argocd_application_synced", "get", "applications"),
}


def documents() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]


def test_every_rule_of_the_manifest_has_a_case() -> None:
    rules = {(d["metadata"]["namespace"], r["apiGroups"][0], r["resources"][0])
             for d in documents() if d["kind"] == "Role" for r in d["rules"]}
    assert rules == set(CASES)
    verbs = {v for d in documents() if d["kind"] in ("Role", "ClusterRole") for r in d["rules"] for v in r["verbs"]}
    assert verbs <= {"get", "list", "watch"}, "the read-only identity must not be able to change anything"


def env_variant(tmp: Path, variant: str) -> str:
    if variant == "plain":
        return "sandbox-real"
    _, raw = cfg.load_raw("sandbox-real")
    if variant == "gke-cert":
        raw["kubernetes"]["certificate"] = {"kind": "gke-managed", "name": "missing-table-tls"}
    else:
        raw["kubernetes"].update(manager="argocd", argocd={"application": "missing-table", "namespace": "argocd"})
    path = tmp / f"sandbox-real-{variant}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def can_i(world: RealWorld, verb: str, resource: str, namespace: str) -> bool:
    proc = world.kubectl("auth", "can-i", verb, resource, "-n", namespace, "--as", SA)
    return proc.stdout.strip() == "yes"


def wait_for(what: str, check: Any, deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {deadline_s:g} s waiting for {what}")
        time.sleep(0.2)  # a poll with a deadline


def replace(world: RealWorld, doc: dict[str, Any], tmp: Path) -> None:
    path = tmp / f"{doc['kind']}-{doc['metadata'].get('namespace', 'cluster')}.yaml"
    path.write_text(yaml.safe_dump(doc))
    proc = world.kubectl("replace", "-f", str(path))
    assert proc.returncode == 0, proc.stderr


@contextmanager
def without(world: RealWorld, tmp: Path, kind: str, namespace: str | None, keep: Any, probe: tuple[str, str, str]
            ) -> Iterator[None]:
    """The manifest's ``kind`` (in ``namespace``) with only the rules ``keep`` accepts, for the block."""
    original = next(d for d in documents() if d["kind"] == kind and d["metadata"].get("namespace") == namespace)
    reduced = {**original, "rules": [r for r in original["rules"] if keep(r)]}
    verb, resource, ns = probe
    replace(world, reduced, tmp)
    try:
        wait_for(f"RBAC to refuse {verb} {resource}", lambda: not can_i(world, verb, resource, ns))
        yield
    finally:
        replace(world, original, tmp)
        wait_for(f"RBAC to allow {verb} {resource} again", lambda: can_i(world, verb, resource, ns))


@pytest.mark.parametrize("rule", sorted(CASES), ids=["/".join(k) for k in sorted(CASES)])
def test_removing_a_rule_makes_its_check_a_suite_error(healthy: RealWorld, tmp_path: Path,
                                                       rule: tuple[str, str, str]) -> None:
    namespace, group, first = rule
    variant, check, verb, resource = CASES[rule]
    env_file = env_variant(tmp_path, variant)
    qualified = f"{resource}.{group}" if group else resource
    with without(healthy, tmp_path, "Role", namespace,
                 lambda r: not (r["apiGroups"][0] == group and r["resources"][0] == first),
                 (verb, qualified, namespace)):
        run = healthy.suite(tmp_path, "-m", "deployment", "tests/deployment", "-rA", env_file=env_file)
    assert run.outcomes.get(check) == "error", run.output
    assert f'cannot {verb} resource "{resource}" in API group "{group}"' in run.output, run.output
    assert SA in run.output and "SUITE ERROR" in run.output


def test_without_the_namespace_rule_the_probe_falls_back(healthy: RealWorld, tmp_path: Path) -> None:
    with without(healthy, tmp_path, "ClusterRole", None, lambda r: False, ("get", "namespaces/missing-table", "")):
        run = healthy.suite(tmp_path, "-m", "deployment", "tests/deployment", "-rA")
    assert run.returncode == 0 and not run.errors, run.output


def test_the_readonly_identity_cannot_change_anything(healthy: RealWorld) -> None:
    for verb, resource in (("patch", "deployments"), ("create", "pods"), ("delete", "secrets"),
                           ("update", "leases"), ("create", "jobs")):
        assert not can_i(healthy, verb, resource, "missing-table"), (verb, resource)
    undo = healthy.kubectl("rollout", "undo", "deployment/missing-table-backend", "-n", "missing-table",
                           context=healthy.env["MT_SANDBOX_KUBE_CONTEXT"])
    assert undo.returncode == 1
    from selftests.test_kubectl_conformance import FORBIDDEN_UNDO

    # The same refusal, word for word, as the simulated API gives (test_kubectl_conformance.py).
    assert FORBIDDEN_UNDO in undo.stderr, undo.stderr
