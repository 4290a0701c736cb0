"""Pods of each Deployment's current ReplicaSet (by owner reference and pod-template-hash, not by name): running,
ready, not restarting. Pods of older ReplicaSets are not this release's and do not count."""

from __future__ import annotations

from typing import Any

import pytest

from mt_verify.config import Deployment, Kubernetes
from mt_verify.kube.access import Target
from mt_verify.kube.checks import name_of, pod_problems, pod_restarts, restart_count
from mt_verify.outcome import fail

pytestmark = [pytest.mark.deployment, pytest.mark.gate, pytest.mark.area("Pods")]

OBJ = dict[str, Any]


def _current(deployment: Deployment, current_sets: dict[str, tuple[OBJ | None, list[OBJ]]], env_name: str,
             kube_target: Target) -> tuple[OBJ, list[OBJ]]:
    rs, pods = current_sets[deployment.name]
    where = f"{kube_target.namespace}/Deployment/{deployment.name}"
    if rs is None:
        fail(env_name, where, "a current ReplicaSet owned by the Deployment", "none found",
             next_step=kube_target.kubectl(f"describe deployment/{deployment.name}"))
    return rs, pods


def test_deployment_pods_running_and_ready(deployment: Deployment, current_sets: dict[str, Any], env_name: str,
                                           kube_target: Target) -> None:
    rs, pods = _current(deployment, current_sets, env_name, kube_target)
    where = f"{kube_target.namespace}/ReplicaSet/{name_of(rs)} (Deployment {deployment.name})"
    if not pods and deployment.replicas > 0:
        fail(env_name, where, f"{deployment.replicas} pods Running and Ready", "no pods",
             next_step=kube_target.kubectl(f"describe replicaset/{name_of(rs)}"))
    bad = {name_of(p): problems for p in pods if (problems := pod_problems(p))}
    if bad:
        first = next(iter(bad))
        fail(env_name, where, "every pod Running and Ready",
             "; ".join(f"{pod}: {', '.join(problems)}" for pod, problems in bad.items()),
             details=f"{len(pods) - len(bad)} of {len(pods)} pods fine",
             next_step=f"{kube_target.kubectl(f'describe pod/{first}')}; "
                       f"{kube_target.kubectl(f'logs pod/{first} --all-containers --previous')}")


def test_deployment_pods_not_restarting(deployment: Deployment, current_sets: dict[str, Any],
                                        kube_settings: Kubernetes, env_name: str, kube_target: Target) -> None:
    rs, pods = _current(deployment, current_sets, env_name, kube_target)
    limit = kube_settings.max_restarts
    over = {name_of(p): pod_restarts(p) for p in pods if restart_count(p) > limit}
    if over:
        first = next(iter(over))
        fail(env_name, f"{kube_target.namespace}/ReplicaSet/{name_of(rs)} (Deployment {deployment.name})",
             f"at most {limit} restarts per pod since the rollout",
             "; ".join(f"{pod}: {', '.join(texts)}" for pod, texts in over.items()),
             next_step=f"{kube_target.kubectl(f'logs pod/{first} --all-containers --previous')}; "
                       f"{kube_target.kubectl(f'describe pod/{first}')}")
