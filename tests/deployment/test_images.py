"""Running images: every release container of the current pods carries the expected release's tag, and the pod
template's ``rollout/commitSha`` / ``rollout/buildId`` annotations name the same release."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mt_verify.config import Deployment, Environment
from mt_verify.kube.access import Target
from mt_verify.kube.checks import image_mismatches, name_of
from mt_verify.kube.wait import Waited
from mt_verify.outcome import fail
from mt_verify.release import ReleaseIdentity

pytestmark = [pytest.mark.deployment, pytest.mark.gate, pytest.mark.area("Pods")]


def test_deployment_runs_release_images(release_deployment: Deployment, current_sets: dict[str, Any],
                                        rollouts: Waited, release_identity: ReleaseIdentity,
                                        environment: Environment, kube_target: Target,
                                        note: Callable[[str], None]) -> None:
    name = release_deployment.name
    where = f"{kube_target.namespace}/Deployment/{name}"
    rs, pods = current_sets[name]
    if rs is None:
        fail(environment.name, where, "a current ReplicaSet with the release's pods", "none found",
             next_step=kube_target.kubectl(f"describe deployment/{name}"))
    tag = release_identity.tag(environment.release.image_tag)
    problems = image_mismatches(pods, release_deployment.release_containers, tag)
    spec = (rollouts.deployments.get(name) or {}).get("spec") or {}
    template = spec.get("template") or {}
    selector = ",".join(f"{k}={v}" for k, v in ((spec.get("selector") or {}).get("matchLabels") or {}).items())
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    sha = annotations.get("rollout/commitSha")
    if sha is not None and not release_identity.sha_matches(sha):
        problems.append(f"pod template annotation rollout/commitSha {sha}, expected {release_identity.sha}")
    build = annotations.get("rollout/buildId")
    if build is not None and release_identity.build_id and str(build) != release_identity.build_id:
        problems.append(f"pod template annotation rollout/buildId {build}, expected {release_identity.build_id}")
    if problems:
        fail(environment.name, f"{where} (ReplicaSet {name_of(rs)})",
             f"containers {', '.join(release_deployment.release_containers)} on tag {tag} "
             f"({release_identity.source})", "; ".join(problems),
             next_step=kube_target.kubectl(
                 f"get pods -l {selector} -o custom-columns=POD:.metadata.name,IMAGES:.spec.containers[*].image"))
    note(f"[{environment.name}] {where}: {len(pods)} pods on tag {tag}")
