"""The real-cluster world: a real control plane holding the Missing Table release, installed by the real helm.

    rc = RealCluster.start(state_dir, release=CURRENT, previous=PREVIOUS, faults=set(), on_served=callback)
    rc.kubeconfig, rc.context, rc.admin_context   # read-only ServiceAccount (the suite) and admin (gate, helm)
    rc.set_faults({"crash-loop"})                  # faults as real operations: helm upgrades, kwok Stages, events
    rc.deploy(release, faults)                     # helm upgrade to another release
    rc.rollback(None)                              # helm rollback (the real one)
    rc.stop()

Same handle as the simulated cluster's (``sandbox.kube.KubeHandle``). What no controller of this cluster does, the
sandbox does in their place, like the real ones would: it plays ingress-nginx (the Ingress's load-balancer
address), cert-manager (the Certificate's Ready condition) and, for faults only, the kubelet's Warning events
(kwok writes pod status, not events). It watches the backend Deployment and tells the stand-in app which release
serves (``on_served``) once a rollout is complete: after the gate's real ``helm rollback`` the app serves the older
release because the cluster rolled back, not because anyone told it.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from sandbox import faults as fault_table
from sandbox.cluster.binaries import ROOT, Binaries, find
from sandbox.cluster.control_plane import ControlPlane
from sandbox.release import Release

NAMESPACE = "missing-table"
RELEASE = "missing-table"
ARGO_NAMESPACE = "argocd"
CONTEXT = "sandbox-real"
ADMIN_CONTEXT = "sandbox-real-admin"
SERVICE_ACCOUNT = "mt-verify"
CHART = ROOT / "sandbox" / "cluster" / "chart" / "missing-table"
CRDS = ROOT / "sandbox" / "cluster" / "crds"
RBAC = ROOT / "deploy" / "rbac-readonly.yaml"
NODES = 3
LB_IP = "203.0.113.10"  # documentation range: shown, never connected to
FAULT_ANNOTATION = "mt-verify.sandbox/fault"
HOSTS = ["sandbox.missingtable.local", "www.sandbox.missingtable.local", "api.sandbox.missingtable.local"]
HELM_TIMEOUT = 60
#: How long a fault may take to show (a loaded 2-core CI machine is slow; each wait polls and ends when it shows).
FAULT_DEADLINE = 60
OBJ = dict[str, Any]

#: Faults of the real cluster, each a real operation (see :meth:`RealCluster._apply_fault`); names, operations
#: and the checks each must fail: the one fault table (sandbox/faults.py).
FAULTS: dict[str, str] = dict(fault_table.REAL_DESCRIPTIONS)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ClusterError(RuntimeError):
    pass


def wait_until(what: str, check: Callable[[], bool], deadline_s: float) -> None:
    """Poll ``check`` with a deadline (ClusterError naming ``what`` when it passes)."""
    deadline = time.monotonic() + deadline_s
    pause = 0.05
    while not check():
        if time.monotonic() > deadline:
            raise ClusterError(f"timed out after {deadline_s:g} s waiting for {what}")
        time.sleep(pause)  # a poll with a deadline, not a bare sleep
        pause = min(pause * 1.5, 0.5)


class RealCluster:
    def __init__(self, state_dir: Path, bins: Binaries, release: Release, previous: Release,
                 on_served: Callable[[Release], None] | None) -> None:
        self.state_dir = state_dir
        self.bin = bins
        self.cp = ControlPlane(state_dir, bins)
        self.release, self.previous = release, previous
        self.known: dict[str, Release] = {r.commit_sha: r for r in (release, previous)}
        self.on_served = on_served
        self.faults: set[str] = set()
        #: Every fault of the sandbox (the app's too): a revision installed while none is on passes its gate.
        self.all_faults: set[str] = set()
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self.kubeconfig = state_dir / "kubeconfig"
        self.context = CONTEXT
        self.admin_context = ADMIN_CONTEXT
        self.namespace = NAMESPACE
        self.release_name = RELEASE
        self.layout = "real"
        self.timings: dict[str, float] = {}
        self._thread: threading.Thread | None = None
        self._served: str | None = None

    # -- start --------------------------------------------------------------------------------------

    @classmethod
    def start(cls, state_dir: Path, *, release: Release, previous: Release, faults: set[str],
              on_served: Callable[[Release], None] | None = None) -> RealCluster:
        rc = cls(state_dir, find(), release, previous, on_served)
        t0 = time.monotonic()
        try:
            rc.cp.start()
            rc.timings.update({f"{k}_s": round(v, 2) for k, v in rc.cp.timings.items()})
            rc._bootstrap()
            rc.timings["bootstrap_s"] = round(time.monotonic() - t0, 2)
            # Revision 1 (the rollback target) need not be Ready before revision 2 replaces it; helm still waits
            # for its post-install hook Job.
            rc._helm_upgrade(previous, {}, wait=False)
            rc._helm_upgrade(release, {}, wait=True)
            rc._seed_gate_verdicts({1: previous, 2: release})
            rc.timings["helm_installs_s"] = round(time.monotonic() - t0, 2)
            rc._reconcile_once()
            rc._thread = threading.Thread(target=rc._reconcile_loop, name="real-cluster-reconcile", daemon=True)
            rc._thread.start()
            if faults:
                rc.set_faults(faults)
        except BaseException:
            rc.stop()
            raise
        rc.timings["total_s"] = round(time.monotonic() - t0, 2)
        return rc

    def _client(self) -> Any:
        from kubernetes import config as kconfig

        return kconfig.new_client_from_config(config_file=str(self.cp.admin_kubeconfig))

    def _seed_gate_verdicts(self, revisions: dict[int, Release]) -> None:
        """The world as a gate would have left it: the revisions installed before the suite arrived passed their
        gates (ConfigMap ``mt-verify-gate-<release>``, the format of ``mt_verify.rollback.record``), as the
        simulated cluster seeds it."""
        self._record_passed(revisions)

    def _record_passed(self, revisions: dict[int, Release]) -> None:
        """Record these revisions ``passed`` in the gate's verdict ConfigMap (merged into what is there).

        The sandbox plays the CI pipeline for the revisions it installs itself: a revision installed while no fault
        at all is on is one every gating check passes (the healthy matrix proves it), so it gets the record the
        gate after that deploy would have written. Without it, a gate after a few fault cycles finds only revisions
        no gate ever saw (each fault and each reset is a real ``helm upgrade``, and helm keeps 10 revisions, so the
        seeded ones are pruned) and rightly refuses to roll back to any of them. Revisions installed with a fault
        get no record (no gate passed them). Written here, not with ``mt_verify.rollback.record``: the world must
        not borrow the product's writer, or a bug in it would go unseen."""
        from kubernetes.client.exceptions import ApiException

        name = f"mt-verify-gate-{RELEASE}"
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        data = {f"v{n}": json.dumps({"revision": n, "verdict": "passed", "version": r.version,
                                     "commit_sha": r.commit_sha, "exit_code": 0, "at": at,
                                     "reason": "every gating check passed"}, sort_keys=True)
                for n, r in revisions.items()}
        meta = {"name": name, "labels": {"app.kubernetes.io/managed-by": "mt-verify",
                                         "app.kubernetes.io/instance": RELEASE}}
        for _ in range(4):  # optimistic, as the gate writes it (no gate runs while the sandbox deploys)
            try:
                current = self.core.read_namespaced_config_map(name, NAMESPACE)
            except ApiException as exc:
                if exc.status != 404:
                    raise
                self.core.create_namespaced_config_map(NAMESPACE, {"metadata": meta, "data": data})
                return
            body = {"metadata": {**meta, "resourceVersion": current.metadata.resource_version},
                    "data": {**(current.data or {}), **data}}
            try:
                self.core.replace_namespaced_config_map(name, NAMESPACE, body)
                return
            except ApiException as exc:
                if exc.status != 409:
                    raise
        raise ClusterError(f"could not record revisions {sorted(revisions)} passed in {NAMESPACE}/ConfigMap/{name}")

    def _newest_revision(self) -> int:
        secrets = self.core.list_namespaced_secret(NAMESPACE, label_selector=f"owner=helm,name={RELEASE}").items
        return max(int((s.metadata.labels or {}).get("version", "0")) for s in secrets)

    def _healthy_upgrade(self, release: Release) -> None:
        """A clean ``helm upgrade --wait`` to ``release``; recorded passed when no fault at all is on."""
        self._helm_upgrade(release, {}, wait=True)
        if not self.all_faults:
            self._record_passed({self._newest_revision(): release})

    def _bootstrap(self) -> None:
        from kubernetes import client as k8s
        from kubernetes import utils

        api = self._client()
        self.api = api
        self.core = k8s.CoreV1Api(api)
        self.apps = k8s.AppsV1Api(api)
        self.custom = k8s.CustomObjectsApi(api)
        self.networking = k8s.NetworkingV1Api(api)
        self.batch = k8s.BatchV1Api(api)
        for ns in (NAMESPACE, ARGO_NAMESPACE):
            self.core.create_namespace({"metadata": {"name": ns}})
        for crd in sorted(CRDS.glob("*.yaml")):
            utils.create_from_yaml(api, str(crd))
        for i in range(1, NODES + 1):
            name = f"kwok-node-{i}"
            self.core.create_node({
                "metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake"},
                             "labels": {"type": "kwok", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                        "kubernetes.io/arch": "amd64", "node-role.kubernetes.io/agent": ""}},
                "spec": {"taints": [{"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}]},
                "status": {"allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                           "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"}},
            })
        utils.create_from_yaml(api, str(RBAC))
        # CRDs served, nodes Ready (kwok), the controller-manager acting (it creates the default ServiceAccount).
        wait_until("the CRDs to be served", self._crds_served, FAULT_DEADLINE)
        wait_until(f"{NODES} Ready kwok nodes", self._nodes_ready, FAULT_DEADLINE)
        wait_until("the controller-manager (default ServiceAccount)", self._default_sa, FAULT_DEADLINE)
        token = self.core.create_namespaced_service_account_token(
            SERVICE_ACCOUNT, NAMESPACE, {"spec": {"expirationSeconds": 86400}}).status.token
        self.cp.kubeconfig(self.kubeconfig, {"mt-sandbox-admin": self.cp.admin_token, SERVICE_ACCOUNT: token},
                           {CONTEXT: (SERVICE_ACCOUNT, NAMESPACE), ADMIN_CONTEXT: ("mt-sandbox-admin", NAMESPACE)},
                           CONTEXT)

    def _crds_served(self) -> bool:
        for path, plural in (("/apis/cert-manager.io/v1", b"certificates"),
                             ("/apis/networking.gke.io/v1", b"managedcertificates"),
                             ("/apis/argoproj.io/v1alpha1", b"applications")):
            code, body = self.cp.get(path)
            if code != 200 or plural not in body:
                return False
        return True

    def _nodes_ready(self) -> bool:
        nodes = self.core.list_node().items
        ready = [n for n in nodes if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])]
        return len(ready) >= NODES

    def _default_sa(self) -> bool:
        return any(sa.metadata.name == "default" for sa in self.core.list_namespaced_service_account(NAMESPACE).items)

    # -- helm ---------------------------------------------------------------------------------------

    def helm(self, *args: str, timeout: float = HELM_TIMEOUT + 30,
             check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin.helm), *args, "-n", NAMESPACE, "--kubeconfig", str(self.kubeconfig),
               "--kube-context", ADMIN_CONTEXT]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise ClusterError(f"helm {' '.join(args[:2])} failed (exit {proc.returncode}): "
                               f"{(proc.stderr or proc.stdout).strip()[-600:]}")
        return proc

    def values(self, release: Release, extra: OBJ) -> OBJ:
        """values-prod.yaml as CI stamps it for ``release``, merged with a fault's ``extra`` values."""
        base: OBJ = {"version": release.semver, "buildId": release.build_id, "commitSha": release.commit_sha,
                     "buildDate": release.build_date, "ingress": {"hosts": list(HOSTS)},
                     "backend": {"image": {"tag": release.sha7}}, "frontend": {"image": {"tag": release.sha7}}}
        return _merge(base, extra)

    def _values_file(self, values: OBJ) -> Path:
        path = self.state_dir / "cluster" / f"values-{time.monotonic_ns()}.yaml"
        path.write_text(yaml.safe_dump(values), encoding="utf-8")
        return path

    def _helm_upgrade(self, release: Release, extra: OBJ, *, wait: bool, check: bool = True,
                      timeout: int = HELM_TIMEOUT) -> subprocess.CompletedProcess[str]:
        self.known[release.commit_sha] = release
        args = ["upgrade", "--install", RELEASE, str(CHART), "-f", str(self._values_file(self.values(release, extra))),
                "--timeout", f"{timeout}s"]
        if wait:
            args.append("--wait")
        return self.helm(*args, check=check, timeout=timeout + 30)

    def helm_history(self) -> list[dict[str, Any]]:
        out = self.helm("history", RELEASE, "-o", "json", "--max", "50").stdout
        return [{"revision": r["revision"], "status": r["status"], "app_version": r.get("app_version"),
                 "chart": r.get("chart"), "description": r.get("description"), "updated": r.get("updated")}
                for r in json.loads(out or "[]")]

    # -- what serves ---------------------------------------------------------------------------------

    def _deployment(self, name: str) -> Any:
        return self.apps.read_namespaced_deployment(name, NAMESPACE)

    @staticmethod
    def _complete(dep: Any) -> bool:
        st, want = dep.status, dep.spec.replicas
        return (dep.metadata.generation <= (st.observed_generation or 0)
                and (st.updated_replicas or 0) == (st.ready_replicas or 0) == (st.available_replicas or 0)
                == (st.replicas or 0) == want)

    def current_release(self) -> Release:
        dep = self._deployment(f"{RELEASE}-backend")
        sha = (dep.spec.template.metadata.annotations or {}).get("rollout/commitSha", "")
        return self.known.get(sha, self.release)

    def _reconcile_once(self) -> Release | None:
        """Play ingress-nginx and cert-manager; the release that now serves, when that changed."""
        ing = self.networking.read_namespaced_ingress(f"{RELEASE}-ingress", NAMESPACE)
        if not (ing.status and ing.status.load_balancer and ing.status.load_balancer.ingress):
            self.networking.patch_namespaced_ingress_status(
                f"{RELEASE}-ingress", NAMESPACE, {"status": {"loadBalancer": {"ingress": [{"ip": LB_IP}]}}})
        self._certificate_status(ready="certificate-not-ready" not in self.faults, only_if_missing=True)
        dep = self._deployment(f"{RELEASE}-backend")
        sha = (dep.spec.template.metadata.annotations or {}).get("rollout/commitSha", "")
        if self._complete(dep) and sha != self._served and sha in self.known:
            self._served = sha
            return self.known[sha]
        return None

    def _reconcile_loop(self) -> None:
        while not self._stop.wait(0.5):  # a controller's resync period, not a test's sleep
            try:
                with self.lock:
                    served = self._reconcile_once()
            except Exception:
                continue
            # Outside our lock: the sandbox holds its own lock while it asks us for changes.
            if served is not None and self.on_served is not None:
                self.on_served(served)

    def _certificate_status(self, *, ready: bool, only_if_missing: bool = False) -> None:
        cert = self.custom.get_namespaced_custom_object("cert-manager.io", "v1", NAMESPACE, "certificates",
                                                        "missing-table-tls")
        conds = (cert.get("status") or {}).get("conditions") or []
        if only_if_missing and conds:
            return
        gen = cert["metadata"].get("generation", 1)
        if ready:
            status: OBJ = {"conditions": [{"type": "Ready", "status": "True", "reason": "Ready",
                                           "message": "Certificate is up to date and has not expired",
                                           "lastTransitionTime": _now(), "observedGeneration": gen}],
                           "notBefore": _now(), "notAfter": "2099-01-01T00:00:00Z", "revision": 1}
        else:
            status = {"conditions": [{"type": "Ready", "status": "False", "reason": "DoesNotExist",
                                      "message": "Issuing certificate as Secret does not exist",
                                      "lastTransitionTime": _now(), "observedGeneration": gen}]}
        self.custom.patch_namespaced_custom_object_status("cert-manager.io", "v1", NAMESPACE, "certificates",
                                                          "missing-table-tls", {"status": status})

    # -- faults ---------------------------------------------------------------------------------------

    def _backend_pods(self) -> list[Any]:
        dep = self._deployment(f"{RELEASE}-backend")
        rev = (dep.metadata.annotations or {}).get("deployment.kubernetes.io/revision")
        sets = self.apps.list_namespaced_replica_set(NAMESPACE, label_selector="app.kubernetes.io/component=backend")
        rs = next((r for r in sets.items
                   if (r.metadata.annotations or {}).get("deployment.kubernetes.io/revision") == rev), None)
        if rs is None:
            return []
        pods = self.core.list_namespaced_pod(NAMESPACE, label_selector="app.kubernetes.io/component=backend")
        return [p for p in pods.items if p.metadata.deletion_timestamp is None
                and any(o.uid == rs.metadata.uid for o in p.metadata.owner_references or [])]

    def _waiting(self, reason: str) -> bool:
        return any(cs.state and cs.state.waiting and cs.state.waiting.reason == reason
                   for p in self._backend_pods() for cs in p.status.container_statuses or [])

    def _old_backend_gone(self) -> bool:
        pods = self.core.list_namespaced_pod(NAMESPACE, label_selector="app.kubernetes.io/component=backend").items
        return len(pods) == len(self._backend_pods())

    def event(self, pod: Any, reason: str, message: str, component: str = "kubelet") -> None:
        """A Warning event on a pod, as the kubelet (or another ``component``) posts it."""
        now = datetime.now(UTC)
        self.core.create_namespaced_event(NAMESPACE, {
            "metadata": {"generateName": f"{pod.metadata.name}."},
            "involvedObject": {"kind": "Pod", "namespace": NAMESPACE, "name": pod.metadata.name,
                               "uid": pod.metadata.uid, "apiVersion": "v1", "fieldPath": "spec.containers{backend}"},
            "reason": reason, "message": message, "type": "Warning", "count": 1,
            "firstTimestamp": now, "lastTimestamp": now, "source": {"component": component,
                                                                    "host": pod.spec.node_name or ""},
            "reportingComponent": component, "reportingInstance": pod.spec.node_name or component,
        })

    def _pod_fault(self, name: str) -> OBJ:
        return {"backend": {"podAnnotations": {FAULT_ANNOTATION: name}}}

    def _apply_fault(self, fault: str, release: Release) -> None:
        """One fault as the operation that causes it in a real cluster; returns once it shows."""
        if fault in ("image-pull", "crash-loop", "restarts-current"):
            self._helm_upgrade(release, self._pod_fault(fault), wait=False)
            if fault == "image-pull":
                wait_until("the new backend pod in ImagePullBackOff", lambda: self._waiting("ImagePullBackOff"),
                           FAULT_DEADLINE)
                pod = self._backend_pods()[0]
                image = pod.spec.containers[0].image
                self.event(pod, "Failed", f'Failed to pull image "{image}": not found')
                self.event(pod, "BackOff", f'Back-off pulling image "{image}"')
            elif fault == "crash-loop":
                wait_until("the new backend pod in CrashLoopBackOff, the old one gone",
                           lambda: self._waiting("CrashLoopBackOff") and self._old_backend_gone(), FAULT_DEADLINE)
                self.event(self._backend_pods()[0], "BackOff", "Back-off restarting failed container backend in "
                           "pod")
            else:
                wait_until("the new backend pod restarted, the rollout complete", lambda: any(
                    (cs.restart_count or 0) > 0 for p in self._backend_pods() for cs in p.status.container_statuses
                    or []) and self._complete(self._deployment(f"{RELEASE}-backend")) and self._old_backend_gone(),
                    FAULT_DEADLINE)
        elif fault == "rollout-stuck":
            self._helm_upgrade(release, {"backend": {"nodeSelector": {"mt-verify.sandbox/pool": "none"},
                                                     "progressDeadlineSeconds": 3}}, wait=False)

            def stuck() -> bool:
                dep = self._deployment(f"{RELEASE}-backend")
                return any(c.type == "Progressing" and c.reason == "ProgressDeadlineExceeded"
                           for c in dep.status.conditions or [])

            wait_until("ProgressDeadlineExceeded on the backend Deployment", stuck, FAULT_DEADLINE)
        elif fault == "warning-events":
            self.event(self._backend_pods()[0], "Unhealthy", "Readiness probe failed: HTTP probe failed with "
                       "statuscode: 503")
        elif fault == "no-endpoints":
            self._helm_upgrade(release, {"serviceSelectorExtra": {"backend": {"mt-verify.sandbox/none": "x"}}},
                               wait=True)

            def empty() -> bool:
                from kubernetes import client as k8s

                slices = k8s.DiscoveryV1Api(self.api).list_namespaced_endpoint_slice(
                    NAMESPACE, label_selector=f"kubernetes.io/service-name={RELEASE}-backend").items
                return bool(slices) and all(not s.endpoints for s in slices)

            wait_until("the backend Service's EndpointSlice to empty", empty, FAULT_DEADLINE)
        elif fault == "ingress-host-missing":
            self._helm_upgrade(release, {"ingress": {"hosts": [h for h in HOSTS if not h.startswith("api.")]}},
                               wait=True)
        elif fault == "certificate-not-ready":
            self._certificate_status(ready=False)
        elif fault == "helm-failed":
            proc = self._helm_upgrade(release, {"frontend": {"progressDeadlineSeconds": -1}}, wait=False, check=False)
            if proc.returncode == 0:
                raise ClusterError("helm-failed: the invalid upgrade was accepted")
        elif fault == "helm-pending":
            self._helm_pending(release)
        elif fault == "cache-flush-failed":
            proc = self._helm_upgrade(release, {"cacheFlush": {"backoffLimit": 0,
                                                               "podAnnotations": {FAULT_ANNOTATION: "job-fail"}}},
                                      wait=True, check=False, timeout=30)
            if proc.returncode == 0:
                raise ClusterError("cache-flush-failed: the upgrade succeeded")
        else:
            raise ValueError(f"unknown real-cluster fault {fault!r}")

    def _helm_pending(self, release: Release) -> None:
        """Start an upgrade whose hook never ends, kill helm once the release is pending-upgrade (as a CI job
        cancelled mid-deploy does)."""
        values = self._values_file(self.values(release, {"cacheFlush": {"podAnnotations": {
            FAULT_ANNOTATION: "image-pull"}}}))
        cmd = [str(self.bin.helm), "upgrade", RELEASE, str(CHART), "-f", str(values), "--timeout", "120s", "-n",
               NAMESPACE, "--kubeconfig", str(self.kubeconfig), "--kube-context", ADMIN_CONTEXT]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            def pending() -> bool:
                secrets = self.core.list_namespaced_secret(NAMESPACE, label_selector=f"owner=helm,name={RELEASE}")
                return any((s.metadata.labels or {}).get("status") == "pending-upgrade" for s in secrets.items)

            wait_until("the release to be pending-upgrade", pending, FAULT_DEADLINE)
            wait_until("the cache-flush hook Job", lambda: bool(self.batch.list_namespaced_job(
                NAMESPACE, label_selector="app.kubernetes.io/component=cache-flush-hook").items), FAULT_DEADLINE)
        finally:
            proc.kill()
            proc.wait(10)

    def _reset(self, release: Release) -> None:
        """Back to healthy: no pending release, one clean upgrade, no leftover events or failed hooks."""
        secrets = self.core.list_namespaced_secret(NAMESPACE, label_selector=f"owner=helm,name={RELEASE}")
        for s in secrets.items:
            if (s.metadata.labels or {}).get("status", "").startswith("pending-"):
                self.core.delete_namespaced_secret(s.metadata.name, NAMESPACE)  # the manual fix for a stuck release
        self.batch.delete_collection_namespaced_job(
            NAMESPACE, label_selector="app.kubernetes.io/component=cache-flush-hook", propagation_policy="Background")
        self._healthy_upgrade(release)
        self.core.delete_collection_namespaced_event(NAMESPACE)
        self._certificate_status(ready=True)
        wait_until("the backend rollout to complete with only current pods", lambda: self._complete(
            self._deployment(f"{RELEASE}-backend")) and self._old_backend_gone(), 60)

    def set_faults(self, faults: set[str]) -> None:
        """Switch the cluster's faults to exactly these (other faults of the sandbox are ignored)."""
        mine = {f for f in faults if f in FAULTS}
        with self.lock:
            self.all_faults = set(faults)
            if mine == self.faults:
                return
            release = self.current_release()
            if self.faults:
                self._reset(release)
            self.faults = set()
            for fault in sorted(mine):
                self._apply_fault(fault, release)
                self.faults.add(fault)

    def deploy(self, release: Release, faults: set[str]) -> None:
        """Ship ``release`` (helm upgrade), with the cluster faults it brings."""
        with self.lock:
            if self.faults:
                self._reset(self.current_release())
                self.faults = set()
            self._healthy_upgrade(release)
            self.release = release
            mine = {f for f in faults if f in FAULTS}
            for fault in sorted(mine):
                self._apply_fault(fault, release)
                self.faults.add(fault)

    def rollback(self, revision: int | None = None) -> int:
        with self.lock:
            args = ["rollback", RELEASE] + ([str(revision)] if revision is not None else []) + [
                "--wait", "--timeout", f"{HELM_TIMEOUT}s"]
            self.helm(*args)
            self.faults = set()
            return int(self.helm_history()[-1]["revision"])

    def resource_versions(self) -> dict[str, str]:
        """kind/namespace/name -> resourceVersion of every object the release touches (a dry run must keep them)."""
        out: dict[str, str] = {}
        for kind, fn in (("Deployment", self.apps.list_namespaced_deployment),
                         ("ReplicaSet", self.apps.list_namespaced_replica_set),
                         ("Pod", self.core.list_namespaced_pod), ("Service", self.core.list_namespaced_service),
                         ("Secret", self.core.list_namespaced_secret),
                         ("Ingress", self.networking.list_namespaced_ingress),
                         ("Job", self.batch.list_namespaced_job)):
            for item in fn(NAMESPACE).items:
                out[f"{kind}/{NAMESPACE}/{item.metadata.name}"] = item.metadata.resource_version
        return out

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        self.cp.stop()


def _merge(base: OBJ, extra: OBJ) -> OBJ:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
