"""The release manager's view: the Helm release (manager ``helm``: its latest revision is deployed and its values
name the expected release) or the Argo CD Application (manager ``argocd``: Synced and Healthy). The other one is
reported as not applicable (skipped with that reason), never as passed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mt_verify.config import Environment, Kubernetes
from mt_verify.kube.access import Target
from mt_verify.kube.checks import (
    argo_error_conditions,
    argo_out_of_sync_resources,
    argo_unhealthy_resources,
)
from mt_verify.kube.helm import HelmDecodeError, HelmRevision, revisions
from mt_verify.outcome import fail
from mt_verify.release import ExpectedRelease, ReleaseIdentity

pytestmark = [pytest.mark.deployment, pytest.mark.gate, pytest.mark.area("Helm/Argo CD")]


def _helm_history(kube_target: Target, release: str) -> str:
    ctx = f" --kube-context {kube_target.context}" if kube_target.context else ""
    return f"helm history {release} -n {kube_target.namespace}{ctx}"


def _latest(secrets: list[dict[str, Any]], kube_settings: Kubernetes, env_name: str,
            kube_target: Target) -> HelmRevision:
    where = f"{kube_target.namespace}/HelmRelease/{kube_settings.release}"
    if not secrets:
        fail(env_name, where, "Helm release Secrets (sh.helm.release.v1.*)", "none",
             details="no Helm release of that name in the namespace (an Argo CD-rendered release has none: "
                     "set kubernetes.manager: argocd)",
             next_step=kube_target.kubectl(f"get secrets -l owner=helm,name={kube_settings.release}"))
    try:
        return revisions(secrets)[-1]
    except HelmDecodeError as exc:
        fail(env_name, where, "decodable Helm release Secrets", str(exc),
             next_step=_helm_history(kube_target, kube_settings.release))


def test_helm_release_deployed(helm_secrets: list[dict[str, Any]], kube_settings: Kubernetes, env_name: str,
                               kube_target: Target, note: Callable[[str], None]) -> None:
    latest = _latest(helm_secrets, kube_settings, env_name, kube_target)
    where = f"{kube_target.namespace}/HelmRelease/{kube_settings.release} revision {latest.number}"
    if latest.status != "deployed":
        hint = ("an install, upgrade or rollback is in progress or was interrupted"
                if latest.status.startswith("pending-") else "the last upgrade failed")
        fail(env_name, where, "status deployed", f"status {latest.status}",
             details=f"{hint}; description: {latest.description[:200]}",
             next_step=f"{_helm_history(kube_target, kube_settings.release)}; "
                       f"{kube_target.kubectl(f'get secret {latest.secret} --show-labels')}")
    note(f"[{env_name}] {where}: deployed, chart {latest.chart}, release {latest.release_version or '?'}")


def test_helm_release_values_match_release(helm_secrets: list[dict[str, Any]], kube_settings: Kubernetes,
                                           release_identity: ReleaseIdentity, environment: Environment,
                                           expected_release: ExpectedRelease | None, kube_target: Target) -> None:
    latest = _latest(helm_secrets, kube_settings, environment.name, kube_target)
    problems = []
    if latest.commit_sha and not release_identity.sha_matches(latest.commit_sha):
        problems.append(f"commitSha {latest.commit_sha}")
    version = latest.release_version
    want_version = expected_release.version if expected_release and expected_release.version else \
        release_identity.version
    if version and want_version and not ExpectedRelease(version=want_version).version_matches(version):
        problems.append(f"version {version}")
    tag = release_identity.tag(environment.release.image_tag)
    problems += [f"{component}.image.tag {got}" for component, got in latest.image_tags().items() if got != tag]
    if problems:
        fail(environment.name, f"{kube_target.namespace}/HelmRelease/{kube_settings.release} revision "
                               f"{latest.number} values",
             f"release {want_version or '?'} (commitSha {release_identity.sha}, image tag {tag}; "
             f"{release_identity.source})", "; ".join(problems),
             next_step=f"helm get values {kube_settings.release} -n {kube_target.namespace} --revision "
                       f"{latest.number}; {_helm_history(kube_target, kube_settings.release)}")


def _application(app: dict[str, Any] | None, kube_settings: Kubernetes, env_name: str,
                 kube_target: Target) -> tuple[str, dict[str, Any]]:
    assert kube_settings.argocd is not None
    ns, name = kube_settings.argocd.namespace, kube_settings.argocd.application
    where = f"{ns}/Application/{name}"
    if app is None:
        fail(env_name, where, "the Argo CD Application to exist", "not found",
             next_step=kube_target.kubectl("get applications.argoproj.io", namespace=ns))
    return where, app


def test_argocd_application_synced(argo_application: dict[str, Any] | None, kube_settings: Kubernetes,
                                   env_name: str, kube_target: Target, note: Callable[[str], None]) -> None:
    where, app = _application(argo_application, kube_settings, env_name, kube_target)
    sync = (app.get("status") or {}).get("sync") or {}
    revision = str(sync.get("revision") or "?")
    errors = argo_error_conditions(app)
    note(f"[{env_name}] {where}: sync {sync.get('status')} at revision {revision}")
    if sync.get("status") != "Synced" or errors:
        out_of_sync = argo_out_of_sync_resources(app)
        fail(env_name, where, "sync status Synced without error conditions",
             f"sync {sync.get('status') or '(none)'} at revision {revision[:12]}"
             + (f"; {'; '.join(errors)}" if errors else ""),
             details=f"out of sync: {', '.join(out_of_sync)}" if out_of_sync else None,
             next_step=f"argocd app diff {name_of_app(app)}; if a sync stalls: " + kube_target.kubectl(
                 f"annotate application {name_of_app(app)} argocd.argoproj.io/refresh=hard --overwrite",
                 namespace=app_namespace(kube_settings)))


def test_argocd_application_healthy(argo_application: dict[str, Any] | None, kube_settings: Kubernetes,
                                    env_name: str, kube_target: Target) -> None:
    where, app = _application(argo_application, kube_settings, env_name, kube_target)
    health = (app.get("status") or {}).get("health") or {}
    if health.get("status") != "Healthy":
        unhealthy = argo_unhealthy_resources(app)
        fail(env_name, where, "health Healthy",
             f"health {health.get('status') or '(none)'}" + (f" ({health['message']})" if health.get("message")
                                                             else ""),
             details=f"unhealthy: {'; '.join(unhealthy)}" if unhealthy else None,
             next_step=f"argocd app get {name_of_app(app)} --show-operation; " + kube_target.kubectl(
                 f"get application {name_of_app(app)} -o yaml", namespace=app_namespace(kube_settings)))


def name_of_app(app: dict[str, Any]) -> str:
    return str((app.get("metadata") or {}).get("name", "?"))


def app_namespace(kube_settings: Kubernetes) -> str:
    return kube_settings.argocd.namespace if kube_settings.argocd else "argocd"
