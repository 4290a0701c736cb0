"""``kubectl rollout undo`` for each configured deployment, then ``kubectl rollout status`` on each.

Reverts pod templates only (ConfigMaps and Secrets of the release stay as they are), and Argo CD self-heal undoes it:
for clusters where the Deployments are applied by hand or by a pipeline without a release manager."""

from __future__ import annotations

import re

from mt_verify.config import Environment
from mt_verify.kube.access import ClusterAccessError, client_for
from mt_verify.kube.checks import name_of, replica_sets_of
from mt_verify.release import ExpectedRelease
from mt_verify.rollback import Execution, Plan, RollbackError, RollbackRefused, run_command

_SHA = re.compile(r"^[0-9a-f]{7,40}$")


class KubectlStrategy:
    name = "kubectl"

    def __init__(self, env: Environment, binary: str) -> None:
        assert env.kubernetes is not None
        self.env = env
        self.kube = env.kubernetes
        self.binary = binary

    def _base(self) -> list[str]:
        cmd = [self.binary]
        if self.kube.kubeconfig:
            cmd += ["--kubeconfig", self.kube.kubeconfig]
        if self.kube.context:
            cmd += ["--context", self.kube.context]
        return cmd

    def previous_tag(self) -> str | None:
        """The image tag of the release container in the ReplicaSet ``rollout undo`` goes back to, when readable."""
        dep = next((d for d in self.kube.deployments if d.release_containers), None)
        if dep is None:
            return None
        kube = client_for(self.kube, self.env.name)
        ns = self.kube.namespace
        deployments = {name_of(d): d for d in kube.items(f"list deployments in namespace {ns}",
                                                          kube.apps.list_namespaced_deployment, ns)}
        found = deployments.get(dep.name)
        if found is None:
            raise RollbackRefused(f"deployment/{dep.name} does not exist in namespace {ns}: nothing to undo")
        sets = kube.items(f"list replicasets in namespace {ns}", kube.apps.list_namespaced_replica_set, ns)
        owned = replica_sets_of(found, sets)
        if len(owned) < 2:
            raise RollbackRefused(f"deployment/{dep.name} has no earlier ReplicaSet to undo to")
        template = ((owned[1].get("spec") or {}).get("template") or {}).get("spec") or {}
        for c in template.get("containers") or []:
            image = str(c.get("image") or "")
            if c.get("name") in dep.release_containers and ":" in image:
                return image.rsplit(":", 1)[1]
        return None

    def plan(self, failed: ExpectedRelease, to_revision: int | None) -> Plan:
        if to_revision is not None:
            raise RollbackRefused("--to-revision is for helm and argocd; kubectl rollout undo goes one ReplicaSet back")
        notes: list[str] = []
        target: str | None = None
        try:
            tag = self.previous_tag()
            target = tag if tag and _SHA.match(tag) else None
        except RollbackRefused:
            raise
        except (RollbackError, ClusterAccessError) as exc:
            notes.append(f"previous image tag unknown ({exc}); the verification after the rollback will not pin it")
        ns = self.kube.namespace
        # Only Deployments that change with a release have a ReplicaSet to go back to: one that does not (redis,
        # at a fixed image) has no rollout history, and `kubectl rollout undo` of it fails the whole rollback.
        undo = [d for d in self.kube.deployments if d.release_containers] or list(self.kube.deployments)
        commands = [[*self._base(), "rollout", "undo", f"deployment/{d.name}", "-n", ns] for d in undo]
        commands += [[*self._base(), "rollout", "status", f"deployment/{d.name}", "-n", ns,
                      f"--timeout={int(self.env.rollback.timeout)}s"] for d in self.kube.deployments]
        names = ", ".join(d.name for d in self.kube.deployments)
        return Plan(self.name, commands, target, f"kubectl rollout undo of {names} in namespace {ns}", notes=notes)

    def execute(self, plan: Plan) -> list[Execution]:
        done: list[Execution] = []
        for command in plan.commands:
            result = run_command(command, timeout_s=self.env.rollback.timeout + 30)
            done.append(result)
            if result.returncode != 0:
                break
        return done
