"""What each deployment check decides, as pure functions over the API's JSON objects (camelCase dicts).

Nothing here talks to the cluster: fixtures fetch (one list per kind), these functions judge, tests report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mt_verify.config import EventAllow

OBJ = dict[str, Any]

#: Container waiting reasons that mean the pod is not going to serve.
BAD_WAITING = {"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
               "CreateContainerError", "InvalidImageName", "RunContainerError", "ContainerCannotRun"}
#: Progressing reasons while a rollout is under way.
ROLLING = {"ReplicaSetUpdated", "NewReplicaSetCreated", "FoundNewReplicaSet"}


def name_of(obj: OBJ) -> str:
    return str((obj.get("metadata") or {}).get("name", "?"))


def condition(obj: OBJ, kind: str) -> OBJ | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return None


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


# -- Deployments --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RolloutState:
    in_progress: bool
    stuck: str | None
    problems: list[str]

    @property
    def complete(self) -> bool:
        return not self.problems


def rollout_state(dep: OBJ, want_replicas: int) -> RolloutState:
    meta, spec, st = dep.get("metadata") or {}, dep.get("spec") or {}, dep.get("status") or {}
    replicas = spec.get("replicas", 1)
    generation, observed = meta.get("generation", 0), st.get("observedGeneration", 0)
    updated, ready = st.get("updatedReplicas", 0), st.get("readyReplicas", 0)
    available, total = st.get("availableReplicas", 0), st.get("replicas", 0)
    progressing = condition(dep, "Progressing")
    problems: list[str] = []
    if replicas != want_replicas:
        problems.append(f"spec.replicas is {replicas}, the environment expects {want_replicas}")
    if observed < generation:
        problems.append(f"observedGeneration {observed} < generation {generation} (the controller has not caught up)")
    if not (updated == ready == available == total == want_replicas):
        problems.append(f"{want_replicas} replicas wanted: {total} total, {updated} updated, {ready} ready, "
                        f"{available} available")
    stuck = None
    if progressing is not None and progressing.get("status") == "False":
        stuck = f"Progressing=False ({progressing.get('reason')}: {progressing.get('message', '')})"
        problems.append(stuck)
    failure = condition(dep, "ReplicaFailure")
    if failure is not None and failure.get("status") == "True":
        problems.append(f"ReplicaFailure ({failure.get('reason')}: {str(failure.get('message', ''))[:200]})")
    rolling = progressing is not None and progressing.get("status") == "True" and progressing.get("reason") in ROLLING
    in_progress = bool(problems) and stuck is None and (
        observed < generation or rolling or (progressing is None and updated < replicas))
    return RolloutState(in_progress=in_progress, stuck=stuck, problems=problems)


def _template_without_hash(template: OBJ) -> OBJ:
    meta = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != "pod-template-hash"}
    meta["labels"] = labels
    meta = {k: v for k, v in meta.items() if v not in (None, {}, [])}
    return {"metadata": meta, "spec": template.get("spec") or {}}


REVISION = "deployment.kubernetes.io/revision"


def replica_sets_of(dep: OBJ, replicasets: Iterable[OBJ]) -> list[OBJ]:
    """The one way to find a Deployment's ReplicaSets: owned by it (owner uid), newest revision first."""
    uid = (dep.get("metadata") or {}).get("uid")
    owned = [rs for rs in replicasets
             if any(ref.get("uid") == uid and ref.get("kind") == "Deployment"
                    for ref in (rs.get("metadata") or {}).get("ownerReferences") or [])]

    def revision(rs: OBJ) -> int:
        text = ((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0")
        return int(text) if str(text).isdigit() else 0

    return sorted(owned, key=revision, reverse=True)


def current_replica_set(dep: OBJ, replicasets: Iterable[OBJ]) -> OBJ | None:
    """The Deployment's current ReplicaSet: owned by it (uid), with the Deployment's revision annotation, else
    the one whose pod template equals the Deployment's (as the controller decides)."""
    owned = replica_sets_of(dep, replicasets)
    revision = ((dep.get("metadata") or {}).get("annotations") or {}).get("deployment.kubernetes.io/revision")
    if revision is not None:
        for rs in owned:
            if ((rs.get("metadata") or {}).get("annotations") or {}).get(
                    "deployment.kubernetes.io/revision") == revision:
                return rs
    want = _template_without_hash((dep.get("spec") or {}).get("template") or {})
    for rs in owned:
        if _template_without_hash((rs.get("spec") or {}).get("template") or {}) == want:
            return rs
    return None


def pods_of(rs: OBJ, pods: Iterable[OBJ]) -> list[OBJ]:
    """Pods owned by the ReplicaSet (owner uid) carrying its pod-template-hash; terminating pods excluded."""
    meta = rs.get("metadata") or {}
    uid, pod_hash = meta.get("uid"), (meta.get("labels") or {}).get("pod-template-hash")
    out = []
    for pod in pods:
        pmeta = pod.get("metadata") or {}
        if pmeta.get("deletionTimestamp"):
            continue
        if not any(ref.get("uid") == uid for ref in pmeta.get("ownerReferences") or []):
            continue
        if pod_hash is not None and (pmeta.get("labels") or {}).get("pod-template-hash") != pod_hash:
            continue
        out.append(pod)
    return out


# -- Pods ---------------------------------------------------------------------------------------------

def _statuses(pod: OBJ) -> list[OBJ]:
    st = pod.get("status") or {}
    return list(st.get("initContainerStatuses") or []) + list(st.get("containerStatuses") or [])


def pod_problems(pod: OBJ) -> list[str]:
    """Why a pod is not serving: phase, waiting reasons, OOM kills, readiness. Empty when it is fine."""
    st = pod.get("status") or {}
    phase = st.get("phase", "Unknown")
    problems: list[str] = []
    if st.get("reason") == "Evicted":
        problems.append(f"Evicted ({str(st.get('message', ''))[:160]})")
    for cs in _statuses(pod):
        state, last = cs.get("state") or {}, cs.get("lastState") or {}
        waiting = state.get("waiting") or {}
        if waiting.get("reason") in BAD_WAITING:
            problems.append(f"container {cs.get('name')} {waiting['reason']}"
                            + (f" ({str(waiting.get('message'))[:160]})" if waiting.get("message") else ""))
        for term in ((state.get("terminated") or {}), (last.get("terminated") or {})):
            if term.get("reason") == "OOMKilled":
                problems.append(f"container {cs.get('name')} OOMKilled")
                break
    if phase != "Running" and not problems:
        scheduled = condition(pod, "PodScheduled")
        why = ""
        if scheduled is not None and scheduled.get("status") == "False":
            why = f" ({scheduled.get('reason')}: {str(scheduled.get('message', ''))[:160]})"
        else:
            waits = [f"{cs.get('name')} {(cs.get('state') or {}).get('waiting', {}).get('reason')}"
                     for cs in _statuses(pod) if (cs.get("state") or {}).get("waiting")]
            why = f" ({', '.join(waits)})" if waits else ""
        problems.append(f"phase {phase}{why}")
    elif phase != "Running":
        problems.append(f"phase {phase}")
    ready = condition(pod, "Ready")
    if ready is None or ready.get("status") != "True":
        problems.append("not Ready")
    return problems


def pod_restarts(pod: OBJ) -> list[str]:
    """``container backend: 2 restarts (last: Error, exit 1 at ...)`` per container that restarted."""
    out = []
    for cs in _statuses(pod):
        count = int(cs.get("restartCount") or 0)
        if count:
            term = (cs.get("lastState") or {}).get("terminated") or {}
            last = (f" (last: {term.get('reason', '?')}, exit {term.get('exitCode', '?')} at "
                    f"{term.get('finishedAt', '?')})" if term else "")
            out.append(f"container {cs.get('name')}: {count} restarts{last}")
    return out


def restart_count(pod: OBJ) -> int:
    return sum(int(cs.get("restartCount") or 0) for cs in _statuses(pod))


# -- Images -------------------------------------------------------------------------------------------

def image_tag(image: str) -> str | None:
    """``repo/name:tag`` -> ``tag``; a digest reference (``@sha256:...``) or no tag -> None."""
    if "@" in image:
        image = image.split("@", 1)[0]
    last = image.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else None


def image_mismatches(pods: Iterable[OBJ], containers: Iterable[str], expected_tag: str) -> list[str]:
    """Release containers (spec and, once running, status) whose image tag is not ``expected_tag``, grouped:
    ``container backend runs repo:old in pods a, b``."""
    wrong: dict[tuple[str, str], list[str]] = {}
    missing: list[str] = []
    wanted = list(containers)
    for pod in pods:
        pname = name_of(pod)
        spec = {c.get("name"): c for c in (pod.get("spec") or {}).get("containers") or []}
        running = {c.get("name"): c for c in (pod.get("status") or {}).get("containerStatuses") or []}
        for name in wanted:
            if name not in spec:
                missing.append(f"pod {pname}: no container {name!r} (containers: {', '.join(map(str, spec))})")
                continue
            images = [spec[name].get("image", "")]
            status_image = (running.get(name) or {}).get("image")
            if status_image and status_image != images[0]:
                images.append(status_image)
            bad = next((image for image in images if image_tag(image) != expected_tag), None)
            if bad is not None:
                wrong.setdefault((name, bad), []).append(pname)
    out = [f"container {name} runs {image} in pod{'s' if len(names) > 1 else ''} {', '.join(names)}"
           for (name, image), names in wrong.items()]
    return out + missing


# -- Services, Ingress, Certificate ---------------------------------------------------------------------

def slice_endpoints(service: str, slices: Iterable[OBJ]) -> tuple[list[str], list[str]]:
    """(ready, not ready) endpoint addresses of a Service from its EndpointSlices (``endpoints`` may be null)."""
    ready: list[str] = []
    not_ready: list[str] = []
    for sl in slices:
        if ((sl.get("metadata") or {}).get("labels") or {}).get("kubernetes.io/service-name") != service:
            continue
        for ep in sl.get("endpoints") or []:
            cond = ep.get("conditions") or {}
            target = (ep.get("targetRef") or {}).get("name") or ",".join(ep.get("addresses") or [])
            # The API's rule: a nil "ready" means ready.
            (ready if cond.get("ready") is not False and not cond.get("terminating") else not_ready).append(target)
    return ready, not_ready


def legacy_endpoints(obj: OBJ | None) -> tuple[list[str], list[str]]:
    """(ready, not ready) from a v1 Endpoints object (clusters without EndpointSlices)."""
    ready: list[str] = []
    not_ready: list[str] = []
    for subset in (obj or {}).get("subsets") or []:
        for addr in subset.get("addresses") or []:
            ready.append((addr.get("targetRef") or {}).get("name") or addr.get("ip", "?"))
        for addr in subset.get("notReadyAddresses") or []:
            not_ready.append((addr.get("targetRef") or {}).get("name") or addr.get("ip", "?"))
    return ready, not_ready


def ingress_problems(ing: OBJ, hosts: Iterable[str]) -> list[str]:
    rules = (ing.get("spec") or {}).get("rules") or []
    have = [r.get("host") for r in rules if r.get("host")]
    problems = []
    missing = [h for h in hosts if h not in have]
    if missing:
        problems.append(f"hosts {missing} not in the rules (rules: {have})")
    lb = ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if not any(e.get("ip") or e.get("hostname") for e in lb):
        problems.append("no load-balancer address in status.loadBalancer.ingress")
    return problems


def lb_addresses(ing: OBJ) -> list[str]:
    lb = ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [str(e.get("ip") or e.get("hostname")) for e in lb if e.get("ip") or e.get("hostname")]


def certificate_problem(kind: str, cert: OBJ) -> str | None:
    """None when ready; else what is wrong. ``gke-managed``: status.certificateStatus Active; ``cert-manager``:
    condition Ready=True."""
    st = cert.get("status") or {}
    if kind == "gke-managed":
        status = st.get("certificateStatus")
        if status == "Active":
            return None
        domains = ", ".join(f"{d.get('domain')}={d.get('status')}" for d in st.get("domainStatus") or [])
        return f"certificateStatus {status or '(none)'}" + (f" (domains: {domains})" if domains else "")
    ready = condition(cert, "Ready")
    if ready is not None and ready.get("status") == "True":
        return None
    if ready is None:
        return "no Ready condition"
    return f"Ready={ready.get('status')} ({ready.get('reason')}: {str(ready.get('message', ''))[:200]})"


# -- Events -------------------------------------------------------------------------------------------

def event_time(ev: OBJ) -> datetime | None:
    """When the event last happened (series, lastTimestamp, eventTime, firstTimestamp, creation)."""
    series = ev.get("series") or {}
    for text in (series.get("lastObservedTime"), ev.get("lastTimestamp"), ev.get("eventTime"),
                 ev.get("firstTimestamp"), (ev.get("metadata") or {}).get("creationTimestamp")):
        t = parse_time(text)
        if t is not None:
            return t
    return None


def event_object(ev: OBJ) -> str:
    inv = ev.get("involvedObject") or ev.get("regarding") or {}
    return f"{str(inv.get('kind', '?')).lower()}/{inv.get('name', '?')}"


def allowed(ev: OBJ, allow: Iterable[EventAllow]) -> bool:
    for rule in allow:
        if rule.reason is not None and ev.get("reason") != rule.reason:
            continue
        if rule.object is not None and not re.fullmatch(rule.object, event_object(ev), re.IGNORECASE):
            continue
        if rule.message is not None and not re.search(rule.message, str(ev.get("message") or ev.get("note") or "")):
            continue
        return True
    return False


def warnings_since(events: Iterable[OBJ], since: datetime, allow: Iterable[EventAllow] = ()) -> list[OBJ]:
    allow = list(allow)
    out = []
    for ev in events:
        if ev.get("type") != "Warning":
            continue
        t = event_time(ev)
        if t is not None and t < since:
            continue
        if allowed(ev, allow):
            continue
        out.append(ev)
    return sorted(out, key=lambda e: event_time(e) or since)


def describe_event(ev: OBJ) -> str:
    count = ev.get("count") or (ev.get("series") or {}).get("count") or 1
    when = event_time(ev)
    return (f"{ev.get('reason')} {event_object(ev)}: {str(ev.get('message') or ev.get('note') or '')[:200]}"
            f" (x{count}, last {when.isoformat(timespec='seconds') if when else '?'})")


def rollout_began(current_sets: Iterable[tuple[OBJ, list[OBJ]]]) -> datetime | None:
    """When this release's rollout began: the earliest creation among the current ReplicaSets' pods (a
    ReplicaSet reused by a rollback keeps its old creation time, its new pods do not), else the ReplicaSet's."""
    times = []
    for rs, pods in current_sets:
        parsed = [parse_time((p.get("metadata") or {}).get("creationTimestamp")) for p in pods]
        stamps = [t for t in parsed if t is not None]
        t = min(stamps) if stamps else parse_time((rs.get("metadata") or {}).get("creationTimestamp"))
        if t is not None:
            times.append(t)
    return min(times) if times else None


# -- Argo CD ------------------------------------------------------------------------------------------

def argo_error_conditions(app: OBJ) -> list[str]:
    return [f"{c.get('type')}: {str(c.get('message', ''))[:200]}"
            for c in (app.get("status") or {}).get("conditions") or [] if "Error" in str(c.get("type", ""))]


def argo_unhealthy_resources(app: OBJ) -> list[str]:
    out = []
    for res in (app.get("status") or {}).get("resources") or []:
        health = (res.get("health") or {}).get("status")
        if health not in (None, "Healthy"):
            msg = (res.get("health") or {}).get("message")
            out.append(f"{res.get('kind')}/{res.get('name')} {health}" + (f" ({msg})" if msg else ""))
    return out


def argo_out_of_sync_resources(app: OBJ) -> list[str]:
    return [f"{r.get('kind')}/{r.get('name')}" for r in (app.get("status") or {}).get("resources") or []
            if r.get("status") not in (None, "Synced")]


