"""The simulated cluster (in-process) through the official client, and the tier's access layer against it:
kubeconfig resolution, suite errors, selectors, deploy and rollback coherence, Lease writes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config as kconfig

from mt_verify.config import Kubernetes
from mt_verify.kube import checks
from mt_verify.kube.access import ClusterAccessError, Forbidden, Kube, connect, resolve
from sandbox.kube import FAULTS, LAYOUTS, KubeHandle, start
from sandbox.release import CURRENT, PREVIOUS, Release

NS = "missing-table"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KubeHandle]:
    handle = start(state_dir=tmp_path, release=CURRENT, previous=PREVIOUS, faults=set(), layout="helm")
    yield handle
    handle.stop()


def settings(handle: KubeHandle, **extra: Any) -> Kubernetes:
    data: dict[str, Any] = {"kubeconfig": str(handle.kubeconfig), "context": handle.context, "namespace": NS,
                            "release": "missing-table", "deployments": [{"name": "missing-table-backend"}],
                            "request_timeout": 2}
    data.update(extra)
    return Kubernetes.model_validate(data)


def kube(handle: KubeHandle, **extra: Any) -> Kube:
    return connect(resolve("sandbox", settings(handle, **extra), environ={}))


def api(handle: KubeHandle) -> k8s.ApiClient:
    return kconfig.new_client_from_config(str(handle.kubeconfig), handle.context)


# -- kubeconfig resolution ----------------------------------------------------------------------------

def test_kubeconfig_precedence(tmp_path: Path) -> None:
    files = {n: tmp_path / n for n in ("opt", "yaml", "env")}
    for f in files.values():
        f.write_text("{}")
    k = Kubernetes.model_validate({"kubeconfig": str(files["yaml"]), "context": "ctx", "namespace": NS,
                                   "release": "r", "deployments": []})
    env = {"KUBECONFIG": str(files["env"])}
    assert resolve("e", k, kubeconfig=str(files["opt"]), environ=env).kubeconfig == str(files["opt"])
    assert resolve("e", k, environ=env).kubeconfig == str(files["yaml"])
    bare = k.model_copy(update={"kubeconfig": None, "context": None})
    assert resolve("e", bare, environ=env).kubeconfig == str(files["env"])
    assert resolve("e", k, context="other", environ=env).context == "other"
    assert resolve("e", k, environ=env).context == "ctx"


def test_in_cluster_when_no_kubeconfig_file_inside_a_pod(tmp_path: Path) -> None:
    k = Kubernetes.model_validate({"kubeconfig": str(tmp_path / "absent"), "namespace": NS, "release": "r",
                                   "deployments": []})
    target = resolve("e", k, environ={"KUBERNETES_SERVICE_HOST": "10.0.0.1"})
    assert target.in_cluster and "in-cluster service account" in target.where()
    with pytest.raises(ClusterAccessError, match=r"\[e\] kubeconfig not found: .*absent \(namespace missing-table\)"):
        resolve("e", k, environ={})


def test_unknown_context_is_a_suite_error(cluster: KubeHandle) -> None:
    with pytest.raises(ClusterAccessError, match=r"cannot load Kubernetes credentials .*context nope"):
        kube(cluster, context="nope")


def test_missing_namespace_is_a_suite_error(cluster: KubeHandle) -> None:
    with pytest.raises(ClusterAccessError, match=r"\[sandbox\] namespace missing-table-prod does not exist \("
                                                 r"context sandbox, namespace missing-table-prod"):
        kube(cluster, namespace="missing-table-prod").probe()


def test_probe_reads_the_namespace_once(cluster: KubeHandle) -> None:
    client = kube(cluster)
    client.probe()
    assert client.requests == 1


@pytest.mark.parametrize(("fault", "error", "text"), [
    ("kube-forbidden", Forbidden, "forbidden: list deployments in namespace missing-table"),
    ("kube-unauthorized", ClusterAccessError, "rejected the suite's credentials (HTTP 401"),
    ("kube-unreachable", ClusterAccessError, "cannot reach the Kubernetes API at https://127.0.0.1:"),
])
def test_access_faults_raise_suite_errors(cluster: KubeHandle, fault: str, error: type[Exception], text: str) -> None:
    cluster.set_faults({fault})
    with pytest.raises(error) as info:
        kube(cluster).probe()
    assert text in str(info.value)
    assert "Next: " in str(info.value) and "Authorization" not in str(info.value)


def test_unreachable_fault_rewrites_the_kubeconfig_and_back(cluster: KubeHandle) -> None:
    cluster.set_faults({"kube-unreachable"})
    assert cluster.url not in cluster.kubeconfig.read_text()
    cluster.set_faults(set())
    assert cluster.url in cluster.kubeconfig.read_text()
    kube(cluster).probe()


# -- the simulated API -----------------------------------------------------------------------------------

def names(items: list[Any]) -> list[str]:
    return sorted(i.metadata.name for i in items)


def test_label_selectors(cluster: KubeHandle) -> None:
    core = k8s.CoreV1Api(api(cluster))

    def pods(selector: str) -> set[str]:
        return {p.metadata.labels["app.kubernetes.io/component"]
                for p in core.list_namespaced_pod(NS, label_selector=selector).items}

    assert pods("app.kubernetes.io/component=backend") == {"backend"}
    assert pods("app.kubernetes.io/component==backend,app.kubernetes.io/instance=missing-table") == {"backend"}
    assert pods("app.kubernetes.io/component!=backend") == {"frontend", "celery-worker"}
    assert pods("app.kubernetes.io/component in (backend, frontend)") == {"backend", "frontend"}
    assert pods("app.kubernetes.io/component notin (backend,frontend)") == {"celery-worker"}
    assert pods("pod-template-hash") == {"backend", "frontend", "celery-worker"}
    assert pods("!pod-template-hash") == set()
    secrets = core.list_namespaced_secret(NS, label_selector="owner=helm,name=missing-table")
    assert names(secrets.items) == ["sh.helm.release.v1.missing-table.v1", "sh.helm.release.v1.missing-table.v2"]


def test_field_selectors_lists_and_status_objects(cluster: KubeHandle) -> None:
    core = k8s.CoreV1Api(api(cluster))
    pods = core.list_namespaced_pod(NS, field_selector="status.phase=Running")
    assert len(pods.items) == 6 and pods.metadata.resource_version
    assert core.list_namespaced_pod(NS, field_selector="status.phase!=Running").items == []
    with pytest.raises(k8s.ApiException) as info:
        core.read_namespaced_pod("nope", NS)
    body = json.loads(info.value.body)
    assert (info.value.status, body["kind"], body["reason"]) == (404, "Status", "NotFound")
    with pytest.raises(k8s.ApiException) as info:
        core.list_namespaced_pod(NS, field_selector="spec.bogus=1")
    assert info.value.status == 400
    with pytest.raises(k8s.ApiException) as info:  # no cert-manager CRD in the helm layout
        k8s.CustomObjectsApi(api(cluster)).list_namespaced_custom_object("cert-manager.io", "v1", NS,
                                                                         "certificates")
    assert info.value.status == 404


def test_objects_parse_with_the_typed_client_models(cluster: KubeHandle) -> None:
    """Every object carries the fields the official client's models require."""
    client = api(cluster)
    core, apps = k8s.CoreV1Api(client), k8s.AppsV1Api(client)
    for listing in (core.list_namespaced_pod, core.list_namespaced_service, core.list_namespaced_endpoints,
                    core.list_namespaced_event, core.list_namespaced_secret, apps.list_namespaced_deployment,
                    apps.list_namespaced_replica_set, k8s.DiscoveryV1Api(client).list_namespaced_endpoint_slice,
                    k8s.NetworkingV1Api(client).list_namespaced_ingress):
        assert listing(NS).items, listing
    events = core.list_namespaced_event(NS).items
    assert {e.type for e in events} == {"Normal", "Warning"}  # one Warning predates the rollout


def deployments(handle: KubeHandle) -> dict[str, Any]:
    client = kube(handle)
    return {checks.name_of(d): d for d in client.items("deployments", client.apps.list_namespaced_deployment, NS)}


def current_pods(handle: KubeHandle, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    client = kube(handle)
    sets = client.items("rs", client.apps.list_namespaced_replica_set, NS)
    pods = client.items("pods", client.core.list_namespaced_pod, NS)
    rs = checks.current_replica_set(deployments(handle)[name], sets)
    assert rs is not None
    return rs, checks.pods_of(rs, pods)


def test_deploy_and_rollback_keep_the_world_coherent(cluster: KubeHandle) -> None:
    first_rs, _ = current_pods(cluster, "missing-table-backend")
    new = Release.make("1.29.3", 1361)
    cluster.deploy(new, set())
    history = cluster.helm_history()
    assert [(h["revision"], h["status"]) for h in history] == [(1, "superseded"), (2, "superseded"), (3, "deployed")]
    rs, pods = current_pods(cluster, "missing-table-backend")
    assert rs["metadata"]["labels"]["pod-template-hash"] != first_rs["metadata"]["labels"]["pod-template-hash"]
    assert {checks.image_tag(p["spec"]["containers"][0]["image"]) for p in pods} == {new.sha7}
    dep = deployments(cluster)["missing-table-backend"]
    assert checks.rollout_state(dep, 2).complete and dep["metadata"]["generation"] == 3
    client = kube(cluster)
    old = [s for s in client.items("rs", client.apps.list_namespaced_replica_set, NS)
           if s["metadata"]["name"] == first_rs["metadata"]["name"]]
    assert old and old[0]["spec"]["replicas"] == 0

    revision = cluster.rollback(None)
    assert revision == 4 and cluster.current_release() == CURRENT
    assert cluster.helm_history()[-1]["status"] == "deployed" and cluster.helm_history()[-2]["status"] == "superseded"
    rs, pods = current_pods(cluster, "missing-table-backend")
    assert rs["metadata"]["name"] == first_rs["metadata"]["name"]  # the old ReplicaSet is scaled up again
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"
    assert {checks.image_tag(p["spec"]["containers"][0]["image"]) for p in pods} == {CURRENT.sha7}
    began = checks.rollout_began([(rs, pods)])
    assert began is not None and began > checks.parse_time(rs["metadata"]["creationTimestamp"])  # type: ignore[operator]


def test_argocd_layout_has_an_application_and_no_helm_release(tmp_path: Path) -> None:
    handle = start(state_dir=tmp_path, release=CURRENT, previous=PREVIOUS, faults=set(), layout="argocd")
    try:
        client = api(handle)
        secrets = k8s.CoreV1Api(client).list_namespaced_secret(NS, label_selector="owner=helm")
        assert secrets.items == []
        app = k8s.CustomObjectsApi(client).get_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd",
                                                                        "applications", "missing-table")
        assert app["status"]["sync"]["status"] == "Synced" and len(app["status"]["history"]) == 2
        new_id = handle.rollback(None)
        assert new_id == 2 and handle.current_release() == PREVIOUS and handle.helm_history() == []
    finally:
        handle.stop()


def test_lease_is_the_only_writable_kind(cluster: KubeHandle) -> None:
    coord = k8s.CoordinationV1Api(api(cluster))
    body = k8s.V1Lease(metadata=k8s.V1ObjectMeta(name="mt-verify-rollback-missing-table"),
                       spec=k8s.V1LeaseSpec(holder_identity="a", lease_duration_seconds=30))
    made = coord.create_namespaced_lease(NS, body)
    with pytest.raises(k8s.ApiException) as info:
        coord.create_namespaced_lease(NS, body)
    assert info.value.status == 409
    stale = made.metadata.resource_version
    made.spec.holder_identity = "b"
    updated = coord.replace_namespaced_lease(made.metadata.name, NS, made)
    assert updated.spec.holder_identity == "b"
    made.metadata.resource_version = stale
    with pytest.raises(k8s.ApiException) as info:
        coord.replace_namespaced_lease(made.metadata.name, NS, made)
    assert info.value.status == 409
    with pytest.raises(k8s.ApiException) as info:
        coord.delete_namespaced_lease(made.metadata.name, NS, body=k8s.V1DeleteOptions(
            preconditions=k8s.V1Preconditions(resource_version=stale)))
    assert info.value.status == 409
    coord.delete_namespaced_lease(made.metadata.name, NS)
    assert coord.list_namespaced_lease(NS).items == []
    with pytest.raises(k8s.ApiException) as info:
        k8s.CoreV1Api(api(cluster)).delete_namespaced_pod("anything", NS)
    assert info.value.status == 403


def test_faults_of_the_rest_of_the_sandbox_are_ignored(cluster: KubeHandle) -> None:
    cluster.set_faults({"health-down", "crash-loop"})
    assert cluster.world.faults == {"crash-loop"}
    assert set(LAYOUTS) == {"helm", "argocd"} and all(FAULTS.values())


def test_concurrent_reads_during_deploys(cluster: KubeHandle) -> None:
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            core = k8s.CoreV1Api(api(cluster))
            for _ in range(10):
                core.list_namespaced_pod(NS, _request_timeout=5)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(6)]
    for t in threads:
        t.start()
    for i in range(5):
        cluster.deploy(Release.make("1.30.0", 1400 + i), set())
    for t in threads:
        t.join(30)
    assert not errors
    assert cluster.helm_history()[-1]["revision"] == 7
