"""Networking: each Service has ready endpoints, the Ingress routes every configured host and has a load-balancer
address, and the TLS certificate is ready."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mt_verify.config import Deployment, Kubernetes
from mt_verify.kube.access import NotFound, Target
from mt_verify.kube.checks import certificate_problem, ingress_problems, lb_addresses
from mt_verify.outcome import fail

pytestmark = [pytest.mark.deployment, pytest.mark.gate, pytest.mark.area("Ingress/Certificate")]


def test_service_has_ready_endpoints(service_deployment: Deployment, services: dict[str, Any],
                                     service_endpoints: Callable[[str], tuple[list[str], list[str]]],
                                     env_name: str, kube_target: Target) -> None:
    svc = str(service_deployment.service)
    where = f"{kube_target.namespace}/Service/{svc}"
    if svc not in services:
        fail(env_name, where, "the Service to exist", "not found",
             details=f"Services: {', '.join(sorted(services)) or 'none'}",
             next_step=kube_target.kubectl("get services"))
    ready, not_ready = service_endpoints(svc)
    if not ready:
        selector = ((services[svc].get("spec") or {}).get("selector")) or {}
        fail(env_name, where, "at least one ready endpoint", f"{len(ready)} ready, {len(not_ready)} not ready",
             details=f"selector {selector}" + (f"; not ready: {', '.join(not_ready)}" if not_ready else
                                              "; it selects no pod"),
             next_step=f"{kube_target.kubectl(f'get endpointslices -l kubernetes.io/service-name={svc}')}; "
                       f"compare the selector with {kube_target.kubectl('get pods --show-labels')}")


def test_ingress_routes_configured_hosts(ingress: dict[str, Any] | None, kube_settings: Kubernetes, env_name: str,
                                         kube_target: Target, note: Callable[[str], None]) -> None:
    assert kube_settings.ingress is not None
    name, hosts = kube_settings.ingress.name, kube_settings.ingress.hosts
    where = f"{kube_target.namespace}/Ingress/{name}"
    if ingress is None:
        fail(env_name, where, "the Ingress to exist", "not found", next_step=kube_target.kubectl("get ingress"))
    problems = ingress_problems(ingress, hosts)
    if problems:
        fail(env_name, where, f"hosts {', '.join(hosts)} and a load-balancer address", "; ".join(problems),
             next_step=kube_target.kubectl(f"describe ingress/{name}"))
    note(f"[{env_name}] {where}: {len(hosts)} hosts on {', '.join(lb_addresses(ingress))}")


def test_tls_certificate_ready(certificate: dict[str, Any] | NotFound, kube_settings: Kubernetes, env_name: str,
                               kube_target: Target) -> None:
    assert kube_settings.certificate is not None
    kind, name = kube_settings.certificate.kind, kube_settings.certificate.name
    label = {"gke-managed": "ManagedCertificate", "cert-manager": "Certificate"}[kind]
    where = f"{kube_target.namespace}/{label}/{name}"
    resource = {"gke-managed": "managedcertificate", "cert-manager": "certificate"}[kind]
    if isinstance(certificate, NotFound):
        crd = "could not find the requested resource" in certificate.message
        fail(env_name, where, f"a {kind} certificate", "its CRD is not installed" if crd else "not found",
             details=certificate.message,
             next_step=kube_target.kubectl(f"get {resource}s") if not crd else
             f"kubectl get crd | grep -i {resource}; check kubernetes.certificate.kind in the environment file")
    problem = certificate_problem(kind, certificate)
    if problem:
        expected = "certificateStatus Active" if kind == "gke-managed" else "condition Ready=True"
        fail(env_name, where, expected, problem, next_step=kube_target.kubectl(f"describe {resource}/{name}"))
