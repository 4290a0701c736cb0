"""``argocd app rollback APP ID`` -- how prod can be rolled back (its chart is rendered by Argo CD, so there is no
Helm release to ``helm rollback``). Argo CD refuses a rollback while the Application syncs automatically, and
self-heal would undo any other kind, so the plan is blocked until auto-sync is switched off by a person
(``argocd app set APP --sync-policy none``); a revert commit of ``values-prod.yaml`` is the other way back."""

from __future__ import annotations

from typing import Any

from mt_verify.config import Environment
from mt_verify.kube.access import client_for
from mt_verify.release import ExpectedRelease
from mt_verify.rollback import Execution, Plan, RollbackRefused, run_command


class ArgoCdStrategy:
    name = "argocd"

    def __init__(self, env: Environment, binary: str) -> None:
        assert env.kubernetes is not None
        self.env = env
        self.kube = env.kubernetes
        self.binary = binary
        argo = self.kube.argocd
        self.app = argo.application if argo else self.kube.release
        self.app_namespace = argo.namespace if argo else "argocd"

    def application(self) -> dict[str, Any]:
        kube = client_for(self.kube, self.env.name)
        return kube.call(f"get Application {self.app} in namespace {self.app_namespace}",
                         kube.custom.get_namespaced_custom_object, "argoproj.io", "v1alpha1", self.app_namespace,
                         "applications", self.app)

    def plan(self, failed: ExpectedRelease, to_revision: int | None) -> Plan:
        app = self.application()
        history = sorted((app.get("status") or {}).get("history") or [], key=lambda h: int(h.get("id", 0)))
        if to_revision is not None:
            if not any(int(h.get("id", -1)) == to_revision for h in history):
                known = ", ".join(str(h.get("id")) for h in history) or "none"
                raise RollbackRefused(f"--to-revision {to_revision}: Application {self.app} has no such history id "
                                      f"(ids: {known})")
            target = to_revision
        elif len(history) < 2:
            raise RollbackRefused(f"Application {self.app} has no earlier sync in status.history to roll back to")
        else:
            target = int(history[-2]["id"])
        entry = next(h for h in history if int(h.get("id", -1)) == target)
        automated = ((app.get("spec") or {}).get("syncPolicy") or {}).get("automated")
        blocker = None
        notes = ["Argo CD rollback requires auto-sync to be off; turn it back on only after the fix is in git"]
        if automated is not None:
            blocker = (f"Application {self.app} has automated sync (selfHeal: {bool(automated.get('selfHeal'))}): "
                       f"Argo CD refuses a rollback and would re-sync to git. Switch it off first "
                       f"(argocd app set {self.app} --sync-policy none), or revert values-prod.yaml in git")
        cmd = [self.binary, "app", "rollback", self.app, str(target), "--app-namespace", self.app_namespace,
               "--timeout", str(int(self.env.rollback.timeout))]
        return Plan(self.name, [cmd], None,
                    f"argocd rollback of Application {self.app} to history id {target} "
                    f"(git revision {str(entry.get('revision', '?'))[:12]})",
                    target_revision=target, notes=notes, blocker=blocker)

    def execute(self, plan: Plan) -> list[Execution]:
        return [run_command(plan.commands[0], timeout_s=self.env.rollback.timeout + 30)]
