"""What the simulated cluster holds: releases rolled out over time, and the objects Kubernetes would show for them.

The state is small (rollouts, Helm revisions, Argo CD syncs, faults, Leases); every request renders the objects
from it, so Deployments, ReplicaSets, Pods, Services, Endpoints, Events and the Helm release Secrets always agree.
Timestamps are fixed when things happen (a rollout, a fault switched on), never "now" at render time, except where
Kubernetes itself moves them (``reconciledAt``).
"""

from __future__ import annotations

import copy
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox import faults as fault_table
from sandbox.kube.helm import secret_data_value
from sandbox.release import Release

NAMESPACE = "missing-table"
RELEASE = "missing-table"
ARGO_NAMESPACE = "argocd"
CHART_NAME = "missing-table"
CHART_VERSION = "0.1.0"
CHART_APP_VERSION = "1.4.0"
#: Documentation range (RFC 5737): an address to show, never one to connect to.
LB_IP = "203.0.113.10"
NODE = "sandbox-node-1"
#: How long the ``rollout-progressing`` fault's rollout takes, from the first request that sees it.
PROGRESS_SECONDS = 2.0
REPO_URL = "https://github.com/silverbeer/missing-table"
OBJ = dict[str, Any]

#: The simulated cluster's faults: names and descriptions from the one fault table (sandbox/faults.py).
FAULTS: dict[str, str] = dict(fault_table.CLUSTER_DESCRIPTIONS)
assert f"{PROGRESS_SECONDS:g} s" in FAULTS["rollout-progressing"], "the table says how long the rollout takes"

#: The component that pod and deployment faults hit.
FAULTED = "backend"


@dataclass(frozen=True)
class Component:
    name: str
    container: str
    #: Image repository (a release's tag is appended), or the full image when it does not follow the release.
    image: str
    replicas: int
    port: int | None
    follows_release: bool = True

    @property
    def deployment(self) -> str:
        return f"{RELEASE}-{self.name}"


_BACKEND = "ghcr.io/silverbeer/missing-table-backend"
_FRONTEND = "ghcr.io/silverbeer/missing-table-frontend"
COMPONENTS: dict[str, tuple[Component, ...]] = {
    "helm": (
        Component("backend", "backend", _BACKEND, 2, 8000),
        Component("frontend", "frontend", _FRONTEND, 2, 8080),
        Component("celery-worker", "celery-worker", _BACKEND, 2, None),
    ),
    "argocd": (
        Component("backend", "backend", _BACKEND, 1, 8000),
        Component("frontend", "frontend", _FRONTEND, 1, 8080),
        Component("redis", "redis", "redis:7-alpine", 1, 6379, follows_release=False),
    ),
}
HOSTS: dict[str, tuple[str, ...]] = {
    "helm": ("sandbox.missingtable.local", "api.sandbox.missingtable.local"),
    "argocd": ("sandbox.missingtable.local", "www.sandbox.missingtable.local", "api.sandbox.missingtable.local"),
}


def ts(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def uid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def short_hash(*parts: str, n: int = 10) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    digest = hashlib.sha1("/".join(parts).encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:n])


def git_revision(release: Release) -> str:
    """The ``chore: Update image tags`` commit Argo CD syncs for a release."""
    return hashlib.sha1(f"chore: Update image tags to {release.sha7}".encode()).hexdigest()


@dataclass
class Rollout:
    release: Release
    at: float


@dataclass
class HelmRevision:
    number: int
    release: Release
    status: str
    at: float
    description: str


@dataclass
class ArgoSync:
    id: int
    release: Release
    at: float


@dataclass
class _Rs:
    """One ReplicaSet of a Deployment: a distinct pod template."""

    key: str
    release: Release
    hash: str
    revision: int
    created: float
    #: When it was last scaled up (its pods' creation).
    scaled_at: float
    #: When the release rollout that made it current happened (``scaled_at`` moves with ``rollout-progressing``).
    rolled_at: float = 0.0

    def name(self, c: Component) -> str:
        return f"{c.deployment}-{self.hash}"


@dataclass
class World:
    layout: str
    release: Release
    previous: Release
    faults: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.layout not in COMPONENTS:
            raise ValueError(f"unknown cluster layout {self.layout!r}; known: {', '.join(COMPONENTS)}")
        now = time.time()
        self.created = now - 30 * 86400
        first, second = now - 3 * 86400, now - 900
        self.rollouts: list[Rollout] = [Rollout(self.previous, first), Rollout(self.release, second)]
        self.helm: list[HelmRevision] = []
        self.argo: list[ArgoSync] = []
        if self.layout == "helm":
            self.helm = [HelmRevision(1, self.previous, "superseded", first, "Install complete"),
                         HelmRevision(2, self.release, "deployed", second, "Upgrade complete")]
        else:
            self.argo = [ArgoSync(0, self.previous, first), ArgoSync(1, self.release, second)]
        self.fault_at: dict[str, float] = {}
        self.progress_started: float | None = None
        self.leases: dict[tuple[str, str], OBJ] = {}
        self.rv = 1000
        faults, self.faults = set(self.faults), set()
        self.set_faults(faults)

    # -- changes ---------------------------------------------------------------------------------

    def bump(self) -> str:
        self.rv += 1
        return str(self.rv)

    def set_faults(self, faults: set[str]) -> None:
        mine = {f for f in faults if f in FAULTS}
        now = time.time()
        for f in mine - self.faults:
            self.fault_at[f] = now
        if "rollout-progressing" in mine - self.faults:
            self.progress_started = None
        self.faults = mine
        self.bump()

    def observe(self) -> None:
        """A request arrived: a pending ``rollout-progressing`` starts its clock now."""
        if "rollout-progressing" in self.faults and self.progress_started is None:
            self.progress_started = time.time()

    def in_progress(self, now: float) -> bool:
        if "rollout-progressing" not in self.faults:
            return False
        return self.progress_started is None or now < self.progress_started + PROGRESS_SECONDS

    def deploy(self, release: Release, faults: set[str]) -> None:
        now = time.time()
        self.set_faults(faults)
        self.rollouts.append(Rollout(release, now))
        if self.layout == "helm":
            for rev in self.helm:
                if rev.status == "deployed":
                    rev.status = "superseded"
            self.helm.append(HelmRevision(self.helm[-1].number + 1, release, "deployed", now, "Upgrade complete"))
        else:
            self.argo.append(ArgoSync(self.argo[-1].id + 1, release, now))
        self.bump()

    def rollback(self, revision: int | None) -> int:
        now = time.time()
        if self.layout == "helm":
            target_no = revision if revision is not None else self.helm[-1].number - 1
            target = next((r for r in self.helm if r.number == target_no), None)
            if target is None:
                raise ValueError(f"release {RELEASE} has no revision {target_no}")
            for rev in self.helm:
                if rev.status == "deployed":
                    rev.status = "superseded"
            number = self.helm[-1].number + 1
            self.helm.append(HelmRevision(number, target.release, "deployed", now, f"Rollback to {target_no}"))
            release = target.release
        else:
            target_id = revision if revision is not None else self.argo[-2].id if len(self.argo) > 1 else -1
            sync = next((s for s in self.argo if s.id == target_id), None)
            if sync is None:
                raise ValueError(f"Application {RELEASE} has no history id {target_id}")
            number = self.argo[-1].id + 1
            self.argo.append(ArgoSync(number, sync.release, now))
            release = sync.release
        self.rollouts.append(Rollout(release, now))
        self.bump()
        return number

    def current_release(self) -> Release:
        return self.rollouts[-1].release

    def helm_statuses(self) -> list[tuple[HelmRevision, str]]:
        out = [(rev, rev.status) for rev in self.helm]
        if out and ("helm-failed" in self.faults or "cache-flush-failed" in self.faults):
            out[-1] = (out[-1][0], "failed")
        elif out and "helm-pending" in self.faults:
            out[-1] = (out[-1][0], "pending-upgrade")
        return out

    def helm_history(self) -> list[dict[str, Any]]:
        return [{"revision": rev.number, "status": status, "version": rev.release.version,
                 "app_version": CHART_APP_VERSION, "chart": f"{CHART_NAME}-{CHART_VERSION}",
                 "commit_sha": rev.release.commit_sha, "description": rev.description, "updated": ts(rev.at)}
                for rev, status in self.helm_statuses()]

    def argocd_history(self) -> list[dict[str, Any]]:
        return [{"id": s.id, "revision": git_revision(s.release), "version": s.release.version,
                 "deployedAt": ts(s.at)} for s in self.argo]

    # -- rendering -------------------------------------------------------------------------------

    def labels(self, c: Component) -> dict[str, str]:
        return {"app.kubernetes.io/name": CHART_NAME, "app.kubernetes.io/instance": RELEASE,
                "app.kubernetes.io/component": c.name}

    def _meta(self, kind: str, name: str, namespace: str | None, created: float, **extra: Any) -> OBJ:
        meta: OBJ = {"name": name, "uid": uid(kind, namespace or "", name), "resourceVersion": str(self.rv),
                     "creationTimestamp": ts(created)}
        if namespace:
            meta["namespace"] = namespace
        meta.update({k: v for k, v in extra.items() if v is not None})
        return meta

    def _chart_labels(self, c: Component | None = None) -> dict[str, str]:
        labels = {"app.kubernetes.io/name": CHART_NAME, "app.kubernetes.io/instance": RELEASE,
                  "app.kubernetes.io/managed-by": "Helm", "helm.sh/chart": f"{CHART_NAME}-{CHART_VERSION}"}
        if c is not None:
            labels["app.kubernetes.io/component"] = c.name
        return labels

    def _owner_annotations(self) -> dict[str, str]:
        if self.layout == "helm":
            return {"meta.helm.sh/release-name": RELEASE, "meta.helm.sh/release-namespace": NAMESPACE}
        return {"argocd.argoproj.io/tracking-id": f"{RELEASE}:apps/Deployment:{NAMESPACE}/{RELEASE}"}

    def _image(self, c: Component, release: Release) -> str:
        return f"{c.image}:{release.sha7}" if c.follows_release else c.image

    def _template(self, c: Component, release: Release, pod_hash: str | None = None) -> OBJ:
        labels = self.labels(c)
        if pod_hash:
            labels["pod-template-hash"] = pod_hash
        annotations: dict[str, str] = {}
        if c.follows_release:
            annotations = {"rollout/commitSha": release.commit_sha, "rollout/buildId": release.build_id}
            if c.name == "backend":
                annotations["k8s.grafana.com/scrape"] = "true"
        container: OBJ = {"name": c.container, "image": self._image(c, release),
                          "imagePullPolicy": "Always" if not c.follows_release else "IfNotPresent",
                          "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                        "limits": {"cpu": "500m", "memory": "512Mi"}},
                          "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}
        if c.port is not None:
            container["ports"] = [{"name": "http", "containerPort": c.port, "protocol": "TCP"}]
            if c.name == "redis":
                probe: OBJ = {"tcpSocket": {"port": c.port}, "periodSeconds": 10}
            else:
                probe = {"httpGet": {"path": "/health" if c.name == "backend" else "/", "port": c.port,
                                     "scheme": "HTTP"}, "periodSeconds": 5}
            container["readinessProbe"] = probe
            container["livenessProbe"] = {**probe, "periodSeconds": 10}
        if c.name == "celery-worker":
            container["command"] = ["celery", "-A", "celery_app", "worker", "--loglevel=info"]
        return {"metadata": {"labels": labels, "annotations": annotations},
                "spec": {"containers": [container], "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
                         "terminationGracePeriodSeconds": 30, "schedulerName": "default-scheduler"}}

    def _replica_sets(self, c: Component, now: float) -> tuple[list[_Rs], int]:
        """ReplicaSets of one Deployment (current last) and the Deployment's revision number."""
        by_key: dict[str, _Rs] = {}
        order: list[str] = []
        revision = 0
        for ro in self.rollouts:
            key = ro.release.sha7 if c.follows_release else "static"
            if order and order[-1] == key:
                continue
            revision += 1
            at = ro.at if c.follows_release else self.created
            if key in by_key:
                rs = by_key[key]
                rs.revision, rs.scaled_at, rs.rolled_at = revision, at, at
                order.remove(key)
            else:
                by_key[key] = _Rs(key, ro.release, short_hash(c.name, key), revision, at, at, at)
            order.append(key)
        current = by_key[order[-1]]
        if c.name == FAULTED and "rollout-progressing" in self.faults:
            current.scaled_at = self.progress_started or now
        kept = [by_key[k] for k in order[-4:]]  # revisionHistoryLimit 3, plus the current one
        return kept, revision

    def _pod(self, c: Component, rs: _Rs, index: int, *, state: str = "ready", restarts: int = 0,
             image: str | None = None, terminating_since: float | None = None, last_exit: float | None = None) -> OBJ:
        tmpl = self._template(c, rs.release, rs.hash)
        name = f"{rs.name(c)}-{short_hash(rs.hash, str(index), str(rs.scaled_at), n=5)}"
        created = rs.scaled_at + 2 + index
        started = created + 1
        ip = f"10.244.0.{2 + int(hashlib.sha1(name.encode()).hexdigest(), 16) % 250}"
        spec = copy.deepcopy(tmpl["spec"])
        spec["nodeName"] = NODE
        if image is not None:
            spec["containers"][0]["image"] = image
        image = spec["containers"][0]["image"]
        image_id = f"{image.rsplit(':', 1)[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"
        cs: OBJ = {"name": c.container, "image": image, "imageID": image_id, "ready": True, "started": True,
                   "restartCount": restarts, "containerID": f"containerd://{hashlib.sha256(name.encode()).hexdigest()}",
                   "state": {"running": {"startedAt": ts(started)}}, "lastState": {}}
        phase, ready = "Running", True
        pod_conditions_reason: OBJ = {}
        if state == "crash":
            ready = False
            cs.update(ready=False, started=False, state={"waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off 2m40s restarting failed container={c.container} pod={name}"}})
        elif state == "imagepull":
            phase, ready = "Pending", False
            cs.update(ready=False, started=False, imageID="", containerID=None, state={"waiting": {
                "reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}})
        elif state == "unschedulable":
            phase, ready = "Pending", False
            cs = {}
            pod_conditions_reason = {"reason": "Unschedulable",
                                     "message": "0/1 nodes are available: 1 Insufficient cpu."}
            spec.pop("nodeName")
        elif state == "creating":
            phase, ready = "Pending", False
            cs.update(ready=False, started=False, imageID="", containerID=None,
                      state={"waiting": {"reason": "ContainerCreating"}})
        if last_exit is not None:
            cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": ts(started),
                                              "finishedAt": ts(last_exit),
                                              "containerID": cs.get("containerID")}}
            if state == "ready":
                cs["state"] = {"running": {"startedAt": ts(last_exit + 1)}}
        status_ready = "True" if ready else "False"
        conditions = [{"type": "PodScheduled", "status": "True", "lastTransitionTime": ts(created)}]
        if pod_conditions_reason:
            conditions = [{"type": "PodScheduled", "status": "False", "lastTransitionTime": ts(created),
                           **pod_conditions_reason}]
        else:
            conditions += [
                {"type": "Initialized", "status": "True", "lastTransitionTime": ts(created)},
                {"type": "ContainersReady", "status": status_ready, "lastTransitionTime": ts(started + 3)},
                {"type": "Ready", "status": status_ready, "lastTransitionTime": ts(started + 3)},
            ]
        meta = self._meta("Pod", name, NAMESPACE, created, labels=tmpl["metadata"]["labels"],
                          annotations=tmpl["metadata"]["annotations"] or None,
                          ownerReferences=[{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs.name(c),
                                            "uid": uid("ReplicaSet", NAMESPACE, rs.name(c)), "controller": True,
                                            "blockOwnerDeletion": True}])
        if terminating_since is not None:
            meta["deletionTimestamp"] = ts(terminating_since + 30)
            meta["deletionGracePeriodSeconds"] = 30
        status: OBJ = {"phase": phase, "conditions": conditions, "qosClass": "Burstable"}
        if cs:
            status.update(hostIP="10.0.0.5", podIP=ip, podIPs=[{"ip": ip}], startTime=ts(created),
                          containerStatuses=[cs])
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}

    def _component(self, c: Component, now: float, out: dict[str, list[OBJ]]) -> None:
        sets, revision = self._replica_sets(c, now)
        current, old = sets[-1], sets[:-1]
        faulted = c.name == FAULTED
        f = self.faults if faulted else set()
        n = c.replicas
        pods_by_rs: dict[str, list[OBJ]] = {rs.key: [] for rs in sets}
        events: list[OBJ] = []
        dep_name = c.deployment

        def since(fault: str) -> float:
            return max(self.fault_at.get(fault, now), current.scaled_at + 60)

        # Pods of the current ReplicaSet.
        cur_pods = pods_by_rs[current.key]
        progressing = faulted and self.in_progress(now)
        if "rollout-stuck" in f:
            cur_pods.append(self._pod(c, current, 0, state="unschedulable"))
        elif progressing:
            cur_pods.append(self._pod(c, current, 0, state="creating"))
        else:
            count = n - 1 if "replicas-unavailable" in f and n > 0 else n
            for i in range(count):
                kwargs: dict[str, Any] = {}
                if i == 0 and "crash-loop" in f:
                    kwargs = {"state": "crash", "restarts": 4, "last_exit": since("crash-loop")}
                elif i == 0 and "image-pull" in f:
                    kwargs = {"state": "imagepull"}
                elif i == 0 and "restarts-current" in f:
                    kwargs = {"restarts": 2, "last_exit": since("restarts-current")}
                if i == count - 1 and "image-drift" in f:
                    kwargs["image"] = self._image(c, self.previous if current.release != self.previous
                                                  else self.release)
                cur_pods.append(self._pod(c, current, i, **kwargs))
        # Pods of older ReplicaSets still around.
        if old and ("rollout-stuck" in f or progressing):
            prev = old[-1]
            pods_by_rs[prev.key] = [self._pod(c, prev, i) for i in range(n)]
        elif old and "restarts-old" in f:
            prev = old[-1]
            pods_by_rs[prev.key] = [self._pod(c, prev, 0, restarts=5, last_exit=current.scaled_at - 600,
                                              terminating_since=current.scaled_at + 20)]
            events.append(self._event("Pod", pods_by_rs[prev.key][0]["metadata"]["name"], "BackOff",
                                      f"Back-off restarting failed container {c.container} in pod "
                                      f"{pods_by_rs[prev.key][0]['metadata']['name']}",
                                      current.scaled_at - 900, current.scaled_at - 300, count=5))

        all_pods = [p for rs in sets for p in pods_by_rs[rs.key]]
        live = [p for p in all_pods if "deletionTimestamp" not in p["metadata"]]

        def is_ready(p: OBJ) -> bool:
            return any(cd["type"] == "Ready" and cd["status"] == "True" for cd in p["status"]["conditions"])

        ready = sum(1 for p in live if is_ready(p))
        updated = sum(1 for p in cur_pods if "deletionTimestamp" not in p["metadata"])
        max_unavailable = (n * 25) // 100
        conditions = [
            {"type": "Available", "status": "True" if ready >= n - max_unavailable else "False",
             "reason": "MinimumReplicasAvailable" if ready >= n - max_unavailable else "MinimumReplicasUnavailable",
             "message": "Deployment has minimum availability." if ready >= n - max_unavailable
             else "Deployment does not have minimum availability.",
             "lastUpdateTime": ts(current.scaled_at + 5), "lastTransitionTime": ts(current.scaled_at + 5)},
        ]
        rs_name = current.name(c)
        if "rollout-stuck" in f:
            progressing_cond = {"status": "False", "reason": "ProgressDeadlineExceeded",
                                "message": f'ReplicaSet "{rs_name}" has timed out progressing.'}
        elif progressing:
            progressing_cond = {"status": "True", "reason": "ReplicaSetUpdated",
                                "message": f'ReplicaSet "{rs_name}" is progressing.'}
        else:
            progressing_cond = {"status": "True", "reason": "NewReplicaSetAvailable",
                                "message": f'ReplicaSet "{rs_name}" has successfully progressed.'}
        conditions.append({"type": "Progressing", **progressing_cond, "lastUpdateTime": ts(current.scaled_at + 6),
                           "lastTransitionTime": ts(current.scaled_at)})
        if "replicas-unavailable" in f:
            quota = (f'pods "{rs_name}-x" is forbidden: exceeded quota: missing-table-quota, requested: '
                     'requests.cpu=100m, used: requests.cpu=4, limited: requests.cpu=4')
            conditions.append({"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                               "message": quota, "lastUpdateTime": ts(since("replicas-unavailable")),
                               "lastTransitionTime": ts(since("replicas-unavailable"))})
            events.append(self._event("ReplicaSet", rs_name, "FailedCreate", f"Error creating: {quota}",
                                      since("replicas-unavailable"), now - 5, count=12, api="apps/v1",
                                      source="replicaset-controller"))
        template = self._template(c, current.release)
        dep_uid = uid("Deployment", NAMESPACE, dep_name)
        out["deployments"].append({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": self._meta("Deployment", dep_name, NAMESPACE, self.created, generation=revision,
                                   labels=self._chart_labels(c),
                                   annotations={"deployment.kubernetes.io/revision": str(revision),
                                                **self._owner_annotations()}),
            "spec": {"replicas": n, "selector": {"matchLabels": self.labels(c)}, "template": template,
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                     "revisionHistoryLimit": 3, "progressDeadlineSeconds": 600},
            "status": {"observedGeneration": revision, "replicas": len(live), "updatedReplicas": updated,
                       "readyReplicas": ready, "availableReplicas": ready,
                       **({"unavailableReplicas": max(len(live), n) - ready} if max(len(live), n) > ready else {}),
                       "conditions": conditions},
        })
        for rs in sets:
            is_current = rs is current
            rs_pods = [p for p in pods_by_rs[rs.key] if "deletionTimestamp" not in p["metadata"]]
            desired = n if is_current else (len(rs_pods))
            rs_ready = sum(1 for p in rs_pods if is_ready(p))
            status: OBJ = {"replicas": len(rs_pods), "fullyLabeledReplicas": len(rs_pods), "readyReplicas": rs_ready,
                           "availableReplicas": rs_ready, "observedGeneration": 1 if not is_current else 2}
            if is_current and "replicas-unavailable" in f:
                status["conditions"] = [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                                         "lastTransitionTime": ts(since("replicas-unavailable"))}]
            tmpl = self._template(c, rs.release, rs.hash)
            out["replicasets"].append({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": self._meta("ReplicaSet", rs.name(c), NAMESPACE, rs.created,
                                       labels=tmpl["metadata"]["labels"], generation=1 if not is_current else 2,
                                       annotations={"deployment.kubernetes.io/revision": str(rs.revision),
                                                    "deployment.kubernetes.io/desired-replicas": str(n),
                                                    "deployment.kubernetes.io/max-replicas": str(n + 1),
                                                    **self._owner_annotations()},
                                       ownerReferences=[{"apiVersion": "apps/v1", "kind": "Deployment",
                                                         "name": dep_name, "uid": dep_uid, "controller": True,
                                                         "blockOwnerDeletion": True}]),
                "spec": {"replicas": desired,
                         "selector": {"matchLabels": {**self.labels(c), "pod-template-hash": rs.hash}},
                         "template": tmpl},
                "status": status,
            })
        out["pods"].extend(all_pods)

        # Normal events of the rollout, then the faults' warnings.
        at = current.scaled_at
        events.append(self._event("Deployment", dep_name, "ScalingReplicaSet",
                                  f"Scaled up replica set {rs_name} from 0 to {n}", at, at, kind_type="Normal",
                                  api="apps/v1", source="deployment-controller"))
        if old:
            events.append(self._event("Deployment", dep_name, "ScalingReplicaSet",
                                      f"Scaled down replica set {old[-1].name(c)} from {n} to 0", at + 20, at + 20,
                                      kind_type="Normal", api="apps/v1", source="deployment-controller"))
            if faulted:  # an old pod was unhealthy just before the rollout replaced it: not this release's problem
                events.append(self._event("Pod", f"{old[-1].name(c)}-{short_hash('gone', n=5)}", "Unhealthy",
                                          f"Readiness probe failed: Get \"http://10.244.0.9:{c.port}/health\": "
                                          "dial tcp 10.244.0.9:8000: connect: connection refused",
                                          current.rolled_at - 400, current.rolled_at - 120, count=3))
        for pod in cur_pods:
            pname, t0 = pod["metadata"]["name"], at + 2
            events.append(self._event("Pod", pname, "Scheduled",
                                      f"Successfully assigned {NAMESPACE}/{pname} to {NODE}", t0, t0,
                                      kind_type="Normal", source="default-scheduler"))
            if pod["status"]["phase"] == "Running":
                image = pod["spec"]["containers"][0]["image"]
                for reason, msg in (("Pulled", f'Container image "{image}" already present on machine'),
                                    ("Created", f"Created container {c.container}"),
                                    ("Started", f"Started container {c.container}")):
                    events.append(self._event("Pod", pname, reason, msg, t0 + 1, t0 + 1, kind_type="Normal"))
        first = cur_pods[0]["metadata"]["name"] if cur_pods else rs_name
        if "crash-loop" in f:
            events.append(self._event("Pod", first, "BackOff",
                                      f"Back-off restarting failed container {c.container} in pod {first}",
                                      since("crash-loop"), now - 3, count=9))
        if "image-pull" in f:
            image = self._image(c, current.release)
            events.append(self._event("Pod", first, "Failed",
                                      f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to '
                                      f"pull and unpack image: {image}: not found", since("image-pull"), now - 4,
                                      count=4))
            events.append(self._event("Pod", first, "BackOff", f'Back-off pulling image "{image}"',
                                      since("image-pull"), now - 2, count=7))
        if "rollout-stuck" in f:
            events.append(self._event("Pod", first, "FailedScheduling",
                                      "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are "
                                      "available: 1 No preemption victims found for incoming pod.",
                                      since("rollout-stuck"), now - 6, count=15, source="default-scheduler"))
        if "warning-events" in f:
            events.append(self._event("Pod", first, "Unhealthy",
                                      "Readiness probe failed: HTTP probe failed with statuscode: 503",
                                      since("warning-events"), since("warning-events") + 10, count=3))
        out["events"].extend(events)

    def _event(self, kind: str, name: str, reason: str, message: str, first: float, last: float, *,
               count: int = 1, kind_type: str = "Warning", api: str = "v1", source: str = "kubelet") -> OBJ:
        ev_name = f"{name}.{hashlib.sha1(f'{reason}/{first}'.encode()).hexdigest()[:16]}"
        return {
            "apiVersion": "v1", "kind": "Event",
            "metadata": self._meta("Event", ev_name, NAMESPACE, first),
            "involvedObject": {"apiVersion": api, "kind": kind, "name": name, "namespace": NAMESPACE,
                               "uid": uid(kind, NAMESPACE, name)},
            "reason": reason, "message": message, "type": kind_type, "count": count,
            "firstTimestamp": ts(first), "lastTimestamp": ts(last), "eventTime": None,
            "source": {"component": source, **({"host": NODE} if source == "kubelet" else {})},
            "reportingComponent": source, "reportingInstance": NODE if source == "kubelet" else "",
        }

    def _cache_flush(self, out: dict[str, list[OBJ]]) -> None:
        """The post-deploy cache-flush Job: deleted when it succeeds (hook-delete-policy), so only a failed one
        stays, with the job controller's Warning event."""
        if "cache-flush-failed" not in self.faults:
            return
        release = self.current_release()
        name = f"{RELEASE}-cache-flush-{release.sha7}"
        at = self.fault_at.get("cache-flush-failed", time.time())
        labels = {**self._chart_labels(), "app.kubernetes.io/component": "cache-flush-hook"}
        message = "Job has reached the specified backoff limit"
        out["jobs"].append({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": self._meta("Job", name, NAMESPACE, at, labels=labels, generation=1,
                                   annotations={"helm.sh/hook": "post-install,post-upgrade,post-rollback"}),
            "spec": {"backoffLimit": 2, "ttlSecondsAfterFinished": 600, "completions": 1, "parallelism": 1},
            "status": {"failed": 3, "startTime": ts(at), "terminating": 0, "ready": 0,
                       "conditions": [{"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded",
                                       "message": message, "lastProbeTime": ts(at + 40),
                                       "lastTransitionTime": ts(at + 40)},
                                      {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                       "message": message, "lastProbeTime": ts(at + 40),
                                       "lastTransitionTime": ts(at + 40)}]},
        })
        out["events"].append(self._event("Job", name, "BackoffLimitExceeded", message, at + 40, at + 40,
                                         api="batch/v1", source="job-controller"))

    def _services(self, out: dict[str, list[OBJ]]) -> None:
        for i, c in enumerate(COMPONENTS[self.layout]):
            if c.port is None:
                continue
            name = c.deployment
            selector = self.labels(c)
            if c.name == FAULTED and "no-endpoints" in self.faults:
                selector = {**selector, "app.kubernetes.io/component": "api"}
            out["services"].append({
                "apiVersion": "v1", "kind": "Service",
                "metadata": self._meta("Service", name, NAMESPACE, self.created, labels=self._chart_labels(c),
                                       annotations=self._owner_annotations()),
                "spec": {"type": "ClusterIP", "clusterIP": f"10.96.0.{10 + i}", "clusterIPs": [f"10.96.0.{10 + i}"],
                         "selector": selector,
                         "ports": [{"name": "http", "port": c.port, "targetPort": "http", "protocol": "TCP"}]},
                "status": {"loadBalancer": {}},
            })
            selected = [p for p in out["pods"]
                        if all(p["metadata"]["labels"].get(k) == v for k, v in selector.items())
                        and "deletionTimestamp" not in p["metadata"] and p["status"].get("podIP")]

            def ready(p: OBJ) -> bool:
                return any(cd["type"] == "Ready" and cd["status"] == "True" for cd in p["status"]["conditions"])

            def ref(p: OBJ) -> OBJ:
                return {"kind": "Pod", "name": p["metadata"]["name"], "namespace": NAMESPACE,
                        "uid": p["metadata"]["uid"]}

            ready_addr = [{"ip": p["status"]["podIP"], "nodeName": NODE, "targetRef": ref(p)}
                          for p in selected if ready(p)]
            not_ready = [{"ip": p["status"]["podIP"], "nodeName": NODE, "targetRef": ref(p)}
                         for p in selected if not ready(p)]
            subset: OBJ = {"ports": [{"name": "http", "port": c.port, "protocol": "TCP"}]}
            if ready_addr:
                subset["addresses"] = ready_addr
            if not_ready:
                subset["notReadyAddresses"] = not_ready
            out["endpoints"].append({
                "apiVersion": "v1", "kind": "Endpoints",
                "metadata": self._meta("Endpoints", name, NAMESPACE, self.created, labels=self._chart_labels(c)),
                "subsets": [subset] if selected else None,
            })
            endpoints = [{"addresses": [p["status"]["podIP"]],
                          "conditions": {"ready": ready(p), "serving": ready(p), "terminating": False},
                          "nodeName": NODE, "targetRef": ref(p)} for p in selected]
            out["endpointslices"].append({
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": self._meta("EndpointSlice", f"{name}-{short_hash(name, n=5)}", NAMESPACE, self.created,
                                       labels={"kubernetes.io/service-name": name,
                                               "endpointslice.kubernetes.io/managed-by":
                                                   "endpointslice-controller.k8s.io",
                                               **self._chart_labels(c)},
                                       ownerReferences=[{"apiVersion": "v1", "kind": "Service", "name": name,
                                                         "uid": uid("Service", NAMESPACE, name),
                                                         "controller": True, "blockOwnerDeletion": True}]),
                "addressType": "IPv4",
                # Like the API server: an empty slice has "endpoints": null.
                "endpoints": endpoints or None,
                "ports": [{"name": "http", "port": c.port, "protocol": "TCP"}],
            })

    def _ingress(self, out: dict[str, list[OBJ]]) -> None:
        hosts = list(HOSTS[self.layout])
        if "ingress-host-missing" in self.faults:
            hosts = [h for h in hosts if not h.startswith("api.")]

        def backend(svc: str, port: int) -> OBJ:
            return {"service": {"name": f"{RELEASE}-{svc}", "port": {"number": port}}}

        paths = [{"path": "/api", "pathType": "Prefix", "backend": backend("backend", 8000)},
                 {"path": "/health", "pathType": "Prefix", "backend": backend("backend", 8000)},
                 {"path": "/", "pathType": "Prefix", "backend": backend("frontend", 8080)}]
        spec: OBJ = {"rules": [{"host": h, "http": {"paths": paths}} for h in hosts]}
        annotations: dict[str, str] = dict(self._owner_annotations())
        if self.layout == "helm":
            annotations.update({"kubernetes.io/ingress.class": "gce",
                                "networking.gke.io/managed-certificates": "missing-table-cert",
                                "kubernetes.io/ingress.global-static-ip-name": "missing-table-ip"})
        else:
            spec["ingressClassName"] = "nginx"
            spec["tls"] = [{"hosts": hosts, "secretName": "missing-table-tls"}]
            annotations.update({"cert-manager.io/cluster-issuer": "letsencrypt-prod",
                                "nginx.ingress.kubernetes.io/force-ssl-redirect": "true"})
        out["ingresses"].append({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": self._meta("Ingress", f"{RELEASE}-ingress", NAMESPACE, self.created, generation=1,
                                   labels={"app.kubernetes.io/name": CHART_NAME,
                                           "app.kubernetes.io/instance": RELEASE},
                                   annotations=annotations),
            "spec": spec,
            "status": {"loadBalancer": {"ingress": [{"ip": LB_IP}]}},
        })

    def _certificates(self, now: float, out: dict[str, list[OBJ]]) -> None:
        hosts = list(HOSTS[self.layout])
        bad = "certificate-not-ready" in self.faults
        if self.layout == "helm":
            out["managedcertificates"].append({
                "apiVersion": "networking.gke.io/v1", "kind": "ManagedCertificate",
                "metadata": self._meta("ManagedCertificate", "missing-table-cert", NAMESPACE, self.created,
                                       generation=1, labels=self._chart_labels()),
                "spec": {"domains": hosts},
                "status": {"certificateName": "mcrt-" + uid("mcrt")[:13],
                           "certificateStatus": "Provisioning" if bad else "Active",
                           "domainStatus": [{"domain": h, "status": "FailedNotVisible" if bad else "Active"}
                                            for h in hosts],
                           "expireTime": ts(now + 60 * 86400)},
            })
            return
        ready = {"type": "Ready", "status": "True", "reason": "Ready",
                 "message": "Certificate is up to date and has not expired"}
        if bad:
            ready = {"type": "Ready", "status": "False", "reason": "DoesNotExist",
                     "message": "Issuing certificate as Secret does not exist"}
        out["certificates"].append({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": self._meta("Certificate", "missing-table-tls", NAMESPACE, self.created, generation=1,
                                   labels={"app.kubernetes.io/name": CHART_NAME,
                                           "app.kubernetes.io/instance": RELEASE}),
            "spec": {"secretName": "missing-table-tls", "dnsNames": hosts,
                     "issuerRef": {"name": "letsencrypt-prod", "kind": "ClusterIssuer", "group": "cert-manager.io"}},
            "status": {"conditions": [{**ready, "lastTransitionTime": ts(now - 3600), "observedGeneration": 1}],
                       **({} if bad else {"notBefore": ts(now - 30 * 86400), "notAfter": ts(now + 60 * 86400),
                                          "renewalTime": ts(now + 30 * 86400), "revision": 3})},
        })

    def values(self, release: Release) -> OBJ:
        """The chart values a release was installed with (values-prod.yaml after CI stamped it)."""
        def image(repo: str) -> OBJ:
            return {"repository": repo, "tag": release.sha7, "pullPolicy": "IfNotPresent"}

        return {"version": release.semver, "buildId": release.build_id, "commitSha": release.commit_sha,
                "buildDate": release.build_date,
                "backend": {"image": image(_BACKEND), "replicaCount": 2, "env": {"environment": "sandbox"}},
                "frontend": {"image": image(_FRONTEND), "replicaCount": 2, "command": []},
                "celeryWorker": {"enabled": True, "image": image(_BACKEND), "replicaCount": 2},
                "ingress": {"enabled": True, "hosts": [{"host": h} for h in HOSTS[self.layout]]}}

    def helm_release(self, rev: HelmRevision, status: str) -> OBJ:
        release = rev.release
        if "helm-values-stale" in self.faults and rev is self.helm[-1]:
            release = self.previous if rev.release != self.previous else self.release
        return {
            "name": RELEASE, "namespace": NAMESPACE, "version": rev.number,
            "info": {"first_deployed": micro(self.helm[0].at), "last_deployed": micro(rev.at), "deleted": "",
                     "description": "Upgrade \"missing-table\" failed: context deadline exceeded"
                     if status == "failed" else ("Preparing upgrade" if status.startswith("pending") else
                                                 rev.description),
                     "status": status, "notes": "Missing Table is deployed."},
            "chart": {"metadata": {"name": CHART_NAME, "version": CHART_VERSION, "appVersion": CHART_APP_VERSION,
                                   "description": "Missing Table - youth soccer league tables", "apiVersion": "v2",
                                   "type": "application"},
                      "lock": None, "templates": [], "values": {"backend": {"replicaCount": 1}}, "schema": None,
                      "files": []},
            "config": self.values(release),
            "manifest": f"---\n# Source: {CHART_NAME}/templates/backend.yaml\napiVersion: apps/v1\nkind: Deployment\n",
            "hooks": [],
        }

    def _secrets(self, out: dict[str, list[OBJ]]) -> None:
        for rev, status in self.helm_statuses():
            name = f"sh.helm.release.v1.{RELEASE}.v{rev.number}"
            out["secrets"].append({
                "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
                "metadata": self._meta("Secret", name, NAMESPACE, rev.at,
                                       labels={"owner": "helm", "name": RELEASE, "status": status,
                                               "version": str(rev.number), "modifiedAt": str(int(rev.at))}),
                "data": {"release": secret_data_value(self.helm_release(rev, status))},
            })
        out["secrets"].append({
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": self._meta("Secret", "missing-table-secrets", NAMESPACE, self.created,
                                   labels={"app.kubernetes.io/instance": RELEASE}),
            "data": {"SUPABASE_URL": "aHR0cDovLzEyNy4wLjAuMTo1NTMyMQ=="},
        })

    def _application(self, now: float, out: dict[str, list[OBJ]]) -> None:
        current = self.argo[-1]
        source = {"repoURL": REPO_URL, "targetRevision": "main", "path": "helm/missing-table",
                  "helm": {"valueFiles": ["values-prod.yaml"]}}
        destination = {"server": "https://kubernetes.default.svc", "namespace": NAMESPACE}
        synced = "argocd-out-of-sync" not in self.faults
        healthy = "argocd-degraded" not in self.faults
        resources = []
        for c in COMPONENTS[self.layout]:
            res: OBJ = {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": NAMESPACE,
                        "name": c.deployment, "status": "Synced", "health": {"status": "Healthy"}}
            if c.name == FAULTED and not synced:
                res["status"] = "OutOfSync"
            if c.name == FAULTED and not healthy:
                res["health"] = {"status": "Degraded",
                                 "message": f'Deployment "{c.deployment}" exceeded its progress deadline'}
            resources.append(res)
        out["applications"].append({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": self._meta("Application", RELEASE, ARGO_NAMESPACE, self.created, generation=40 + current.id,
                                   finalizers=["resources-finalizer.argocd.argoproj.io"]),
            "spec": {"project": "default", "source": source, "destination": destination,
                     "syncPolicy": {"automated": {"prune": True, "selfHeal": True},
                                    "syncOptions": ["CreateNamespace=true"]}},
            "status": {
                "sync": {"status": "Synced" if synced else "OutOfSync", "revision": git_revision(current.release),
                         "comparedTo": {"source": source, "destination": destination}},
                "health": {"status": "Healthy"} if healthy else {
                    "status": "Degraded", "message": "one or more objects are degraded"},
                "history": [{"id": s.id, "revision": git_revision(s.release), "deployedAt": ts(s.at),
                             "deployStartedAt": ts(s.at - 5), "source": source} for s in self.argo],
                "operationState": {"phase": "Succeeded", "message": "successfully synced (all tasks run)",
                                   "startedAt": ts(current.at - 5), "finishedAt": ts(current.at),
                                   "syncResult": {"revision": git_revision(current.release), "source": source}},
                "reconciledAt": ts(now), "sourceType": "Helm", "resources": resources,
                "summary": {"images": sorted({self._image(c, current.release) for c in COMPONENTS[self.layout]})},
            },
        })

    def namespaces(self) -> list[str]:
        names = ["default", "kube-system", NAMESPACE]
        if self.layout == "argocd":
            names.append(ARGO_NAMESPACE)
        return names

    def render(self, now: float | None = None) -> dict[str, list[OBJ]]:
        """Every object, by resource plural."""
        now = time.time() if now is None else now
        out: dict[str, list[OBJ]] = {k: [] for k in (
            "namespaces", "deployments", "replicasets", "pods", "services", "endpoints", "endpointslices", "events",
            "secrets", "ingresses", "managedcertificates", "certificates", "applications", "leases", "jobs")}
        for name in self.namespaces():
            out["namespaces"].append({"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": self._meta("Namespace", name, None, self.created,
                                                             labels={"kubernetes.io/metadata.name": name}),
                                      "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
        for c in COMPONENTS[self.layout]:
            self._component(c, now, out)
        self._services(out)
        self._cache_flush(out)
        self._ingress(out)
        self._certificates(now, out)
        if self.layout == "helm":
            self._secrets(out)
        else:
            self._application(now, out)
            out["secrets"].append({
                "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "metadata": self._meta("Secret", "missing-table-tls", NAMESPACE, self.created,
                                       annotations={"cert-manager.io/certificate-name": "missing-table-tls"}),
                "data": {"tls.crt": "", "tls.key": ""}})
        out["leases"] = [copy.deepcopy(v) for v in self.leases.values()]
        return out
