"""Deployments: every configured Deployment exists and its rollout is complete (waiting for one in progress)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mt_verify.config import Deployment, Kubernetes
from mt_verify.kube.access import Target
from mt_verify.kube.checks import rollout_state
from mt_verify.kube.wait import Waited
from mt_verify.outcome import fail

pytestmark = [pytest.mark.deployment, pytest.mark.gate, pytest.mark.area("Deployments")]


def test_deployment_rollout_complete(deployment: Deployment, rollouts: Waited, kube_settings: Kubernetes,
                                     kube_target: Target, env_name: str, note: Callable[[str], None]) -> None:
    name, ns = deployment.name, kube_settings.namespace
    where = f"{ns}/Deployment/{name}"
    dep = rollouts.deployments.get(name)
    if dep is None:
        fail(env_name, where, "the Deployment to exist", "not found",
             details=f"Deployments in {ns}: {', '.join(sorted(rollouts.deployments)) or 'none'}",
             next_step=kube_target.kubectl("get deployments"))
    waited = ""
    if name in rollouts.waited_for:
        waited = f"waited {rollouts.waited_s:.1f} s for the rollout ({rollouts.polls} reads)"
        note(f"[{env_name}] {where}: rollout was in progress; {waited}")
    state = rollout_state(dep, deployment.replicas)
    if state.problems:
        if name in rollouts.timed_out:
            why = f"still in progress after {waited} (kubernetes.rollout_timeout {kube_settings.rollout_timeout:g} s)"
        elif state.stuck:
            why = "the controller gave up on this rollout: it will not complete by itself"
        else:
            why = waited or None
        fail(env_name, where, f"rollout complete: {deployment.replicas} replicas updated, ready and available",
             "; ".join(state.problems), details=why,
             next_step=f"{kube_target.kubectl(f'rollout status deployment/{name}')}; "
                       f"{kube_target.kubectl(f'describe deployment/{name}')}")
