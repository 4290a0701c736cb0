"""The deployment checks' decisions on hand-made API objects (no cluster), and the bounded rollout wait."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from mt_verify import release
from mt_verify.config import EventAllow
from mt_verify.kube import checks
from mt_verify.kube.wait import wait_for_rollouts

OBJ = dict[str, Any]


def deployment(*, replicas: int = 2, ready: int = 2, updated: int = 2, total: int = 2, gen: int = 3, obs: int = 3,
               progressing: tuple[str, str] | None = ("True", "NewReplicaSetAvailable")) -> OBJ:
    conditions = [{"type": "Available", "status": "True"}]
    if progressing:
        conditions.append({"type": "Progressing", "status": progressing[0], "reason": progressing[1],
                           "message": "m"})
    return {"metadata": {"name": "d", "uid": "dep-uid", "generation": gen,
                         "annotations": {"deployment.kubernetes.io/revision": "3"}},
            "spec": {"replicas": replicas, "template": {"metadata": {"labels": {"app": "x"}},
                                                        "spec": {"containers": [{"name": "c", "image": "i:1"}]}}},
            "status": {"observedGeneration": obs, "replicas": total, "updatedReplicas": updated,
                       "readyReplicas": ready, "availableReplicas": ready, "conditions": conditions}}


def test_complete_rollout_has_no_problems() -> None:
    state = checks.rollout_state(deployment(), 2)
    assert state.complete and not state.in_progress


@pytest.mark.parametrize(("dep", "want", "in_progress", "text"), [
    (deployment(ready=1), 2, False, "1 ready"),
    (deployment(replicas=3, ready=3, updated=3, total=3), 2, False, "spec.replicas is 3"),
    (deployment(obs=2), 2, True, "observedGeneration 2 < generation 3"),
    (deployment(updated=1, total=3, progressing=("True", "ReplicaSetUpdated")), 2, True, "1 updated"),
    (deployment(updated=1, total=3, progressing=("False", "ProgressDeadlineExceeded")), 2, False,
     "Progressing=False (ProgressDeadlineExceeded"),
    (deployment(updated=1, total=3, progressing=None), 2, True, "1 updated"),
])
def test_incomplete_rollouts(dep: OBJ, want: int, in_progress: bool, text: str) -> None:
    state = checks.rollout_state(dep, want)
    assert not state.complete
    assert state.in_progress is in_progress
    assert any(text in p for p in state.problems), state.problems


def rs(name: str, revision: str, pod_hash: str, owner: str = "dep-uid", image: str = "i:1") -> OBJ:
    return {"metadata": {"name": name, "uid": f"{name}-uid", "labels": {"app": "x", "pod-template-hash": pod_hash},
                         "annotations": {"deployment.kubernetes.io/revision": revision},
                         "ownerReferences": [{"kind": "Deployment", "uid": owner}]},
            "spec": {"template": {"metadata": {"labels": {"app": "x", "pod-template-hash": pod_hash}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}}


def test_current_replica_set_by_revision_then_template() -> None:
    dep = deployment()
    old, cur, foreign = rs("old", "2", "aaa", image="i:0"), rs("cur", "3", "bbb"), rs("x", "3", "ccc", owner="other")
    assert checks.current_replica_set(dep, [foreign, old, cur]) is cur
    dep["metadata"]["annotations"] = {}
    assert checks.current_replica_set(dep, [foreign, old, cur]) is cur  # pod template equality
    assert checks.current_replica_set(dep, [foreign, old]) is None


def pod(name: str, owner: str = "cur-uid", pod_hash: str = "bbb", **status: Any) -> OBJ:
    base = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "c", "image": "i:1", "restartCount": 0, "state": {"running": {}}}]}
    base.update(status)
    return {"metadata": {"name": name, "labels": {"pod-template-hash": pod_hash},
                         "ownerReferences": [{"kind": "ReplicaSet", "uid": owner}]},
            "spec": {"containers": [{"name": "c", "image": "reg:5000/team/app:1"}]}, "status": base}


def test_pods_of_uses_owner_and_hash_not_names_and_skips_terminating() -> None:
    cur = rs("cur", "3", "bbb")
    terminating = pod("d-bbb-3")
    terminating["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    pods = [pod("d-bbb-1"), pod("d-aaa-1", owner="old-uid", pod_hash="aaa"), pod("d-bbb-2", pod_hash="zzz"),
            terminating, pod("unrelated-name")]
    assert [checks.name_of(p) for p in checks.pods_of(cur, pods)] == ["d-bbb-1", "unrelated-name"]


@pytest.mark.parametrize(("status", "text"), [
    ({"containerStatuses": [{"name": "c", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}],
      "conditions": [{"type": "Ready", "status": "False"}]}, "CrashLoopBackOff"),
    ({"phase": "Pending", "containerStatuses": [{"name": "c", "state": {"waiting": {"reason": "ErrImagePull"}}}]},
     "ErrImagePull"),
    ({"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."}, "Evicted"),
    ({"containerStatuses": [{"name": "c", "state": {"running": {}},
                             "lastState": {"terminated": {"reason": "OOMKilled"}}}]}, "OOMKilled"),
    ({"phase": "Pending", "containerStatuses": [],
      "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "cpu"}]},
     "phase Pending (Unschedulable: cpu)"),
    ({"conditions": [{"type": "Ready", "status": "False"}]}, "not Ready"),
])
def test_pod_problems(status: OBJ, text: str) -> None:
    problems = checks.pod_problems(pod("p", **status))
    assert any(text in p for p in problems), problems


def test_healthy_pod_has_no_problems_and_restarts_are_described() -> None:
    p = pod("p", containerStatuses=[{"name": "c", "restartCount": 2, "state": {"running": {}},
                                     "lastState": {"terminated": {"reason": "Error", "exitCode": 1,
                                                                  "finishedAt": "2026-01-01T00:00:00Z"}}}])
    assert checks.pod_problems(p) == []
    assert checks.restart_count(p) == 2
    assert checks.pod_restarts(p) == ["container c: 2 restarts (last: Error, exit 1 at 2026-01-01T00:00:00Z)"]


@pytest.mark.parametrize(("image", "tag"), [
    ("ghcr.io/silverbeer/missing-table-backend:bfcfcb0", "bfcfcb0"),
    ("localhost:5000/app:1.2", "1.2"),
    ("localhost:5000/app", None),
    ("redis", None),
    ("app:1@sha256:abc", "1"),
])
def test_image_tag(image: str, tag: str | None) -> None:
    assert checks.image_tag(image) == tag


def test_image_mismatch_names_pod_container_expected_actual() -> None:
    good, drift, running_old = pod("good"), pod("drift"), pod("running-old")
    for p, spec_image, status_image in ((good, "repo/app:abc1234", "repo/app:abc1234"),
                                        (drift, "repo/app:old0000", "repo/app:old0000"),
                                        (running_old, "repo/app:abc1234", "repo/app:old0000")):
        p["spec"]["containers"][0]["image"] = spec_image
        p["status"]["containerStatuses"][0]["image"] = status_image
    assert checks.image_mismatches([good, drift, running_old], ["c"], "abc1234") == [
        "container c runs repo/app:old0000 in pods drift, running-old"]
    assert checks.image_mismatches([drift], ["c"], "abc1234") == ["container c runs repo/app:old0000 in pod drift"]
    assert "no container 'web'" in checks.image_mismatches([good], ["web"], "abc1234")[0]


def test_endpoints_from_slices_including_a_null_endpoint_list() -> None:
    slices = [
        {"metadata": {"labels": {"kubernetes.io/service-name": "svc"}}, "endpoints": None},
        {"metadata": {"labels": {"kubernetes.io/service-name": "svc"}},
         "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}, "targetRef": {"name": "a"}},
                       {"addresses": ["10.0.0.2"], "conditions": {"ready": False}, "targetRef": {"name": "b"}},
                       {"addresses": ["10.0.0.3"], "conditions": {}}]},
        {"metadata": {"labels": {"kubernetes.io/service-name": "other"}},
         "endpoints": [{"addresses": ["10.0.0.9"], "conditions": {"ready": True}}]},
    ]
    assert checks.slice_endpoints("svc", slices) == (["a", "10.0.0.3"], ["b"])
    assert checks.slice_endpoints("none", slices) == ([], [])
    assert checks.legacy_endpoints({"subsets": [{"addresses": [{"ip": "1.1.1.1"}]}]}) == (["1.1.1.1"], [])


def test_ingress_and_certificate_problems() -> None:
    ing = {"spec": {"rules": [{"host": "a"}]}, "status": {"loadBalancer": {}}}
    problems = checks.ingress_problems(ing, ["a", "b"])
    assert "hosts ['b'] not in the rules" in problems[0] and "no load-balancer address" in problems[1]
    assert checks.certificate_problem("gke-managed", {"status": {"certificateStatus": "Active"}}) is None
    assert "Provisioning" in str(checks.certificate_problem("gke-managed",
                                                            {"status": {"certificateStatus": "Provisioning"}}))
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    assert checks.certificate_problem("cert-manager", ready) is None
    assert checks.certificate_problem("cert-manager", {"status": {}}) == "no Ready condition"


def event(reason: str, name: str, last: str, kind: str = "Pod", message: str = "m") -> OBJ:
    return {"type": "Warning", "reason": reason, "message": message, "lastTimestamp": last, "count": 2,
            "involvedObject": {"kind": kind, "name": name}, "metadata": {"creationTimestamp": last}}


def test_warnings_since_the_rollout_minus_allowed_noise() -> None:
    since = datetime(2026, 8, 20, 14, 0, tzinfo=UTC)
    events = [event("BackOff", "old-pod", "2026-08-20T13:59:59Z"), event("BackOff", "new-pod", "2026-08-20T14:01:00Z"),
              event("FailedGetResourceMetric", "hpa", "2026-08-20T14:02:00Z", kind="HorizontalPodAutoscaler"),
              {**event("Unhealthy", "new-pod", "2026-08-20T14:03:00Z"), "type": "Normal"},
              {**event("Unhealthy", "np", "", message="Readiness probe failed"), "lastTimestamp": None,
               "eventTime": "2026-08-20T14:04:00.123456Z"}]
    allow = [EventAllow(reason="FailedGetResourceMetric", object="horizontalpodautoscaler/.*")]
    found = checks.warnings_since(events, since, allow)
    assert [checks.event_object(e) for e in found] == ["pod/new-pod", "pod/np"]
    assert checks.describe_event(found[0]) == "BackOff pod/new-pod: m (x2, last 2026-08-20T14:01:00+00:00)"
    assert checks.warnings_since(events, since, [EventAllow(message="^Readiness"), EventAllow(reason="BackOff"),
                                                 EventAllow(object="horizontalpodautoscaler/hpa")]) == []


def test_rollout_began_is_the_earliest_new_pod_not_a_reused_replica_set() -> None:
    reused = {"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}}
    pods = [{"metadata": {"creationTimestamp": "2026-08-20T14:00:05Z"}},
            {"metadata": {"creationTimestamp": "2026-08-20T14:00:02Z"}}]
    fresh = {"metadata": {"creationTimestamp": "2026-08-20T14:00:01Z"}}
    assert checks.rollout_began([(reused, pods)]) == datetime(2026, 8, 20, 14, 0, 2, tzinfo=UTC)
    assert checks.rollout_began([(reused, pods), (fresh, [])]) == datetime(2026, 8, 20, 14, 0, 1, tzinfo=UTC)
    assert checks.rollout_began([]) is None


def test_release_identity_and_when_the_served_release_is_needed() -> None:
    assert not release.needs_served("{sha7}", "abc1234", None)
    assert release.needs_served("{sha7}", None, "1.29.2.1360")
    assert release.needs_served("{sha}", "abc1234", None)
    assert not release.needs_served("{version}-{build_id}", "a" * 40, "1.29.2.1360")
    assert release.needs_served("{build_id}", "a" * 40, "1.29.2")
    ident = release.ReleaseIdentity(sha="bfcfcb0", version="1.29.2.1360", build_id="1360", source="s")
    assert ident.tag("{sha7}") == "bfcfcb0" and ident.tag("v{version}") == "v1.29.2.1360"
    assert ident.sha_matches("bfcfcb0199715ed65afe18d1a98397a4284750d1") and not ident.sha_matches("0000000")
    assert release.build_id_of("1.29.2.1360") == "1360" and release.build_id_of("1.29.2") is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def test_wait_polls_with_backoff_until_the_rollout_completes() -> None:
    clock = FakeClock()
    rolling = deployment(updated=1, total=3, progressing=("True", "ReplicaSetUpdated"))

    def read() -> dict[str, OBJ]:
        return {"d": deployment() if clock.now >= 1.5 else rolling}

    result = wait_for_rollouts(read, {"d": 2}, 10, clock=clock, pause=clock.pause)
    assert result.waited_for == {"d"} and not result.timed_out
    assert result.polls == len(clock.pauses) + 1
    assert clock.pauses == sorted(clock.pauses) and clock.pauses[0] == pytest.approx(0.2)
    assert 1.5 <= result.waited_s < 3


def test_wait_gives_up_at_the_deadline() -> None:
    clock = FakeClock()
    rolling = deployment(obs=2)
    result = wait_for_rollouts(lambda: {"d": rolling}, {"d": 2}, 5, clock=clock, pause=clock.pause)
    assert result.timed_out == {"d"}
    assert result.waited_s == pytest.approx(5) and max(clock.pauses) <= 2.0


def test_wait_does_not_wait_for_a_stuck_or_finished_rollout() -> None:
    clock = FakeClock()
    stuck = deployment(updated=1, total=3, progressing=("False", "ProgressDeadlineExceeded"))
    result = wait_for_rollouts(lambda: {"d": stuck, "e": deployment(ready=1)}, {"d": 2, "e": 2, "missing": 1}, 60,
                               clock=clock, pause=clock.pause)
    assert clock.pauses == [] and result.polls == 1 and not result.waited_for
