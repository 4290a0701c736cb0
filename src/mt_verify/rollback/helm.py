"""``helm rollback``, the runbook's way, for releases Helm manages (not prod: Argo CD renders the chart there).

The target revision is read from the release Secrets (``sh.helm.release.v1.<release>.v<N>``, labels ``owner=helm``,
``name=<release>``): the newest revision older than the current one whose status is ``superseded`` or ``deployed``,
whose version differs from the failed release, and that passed its gate (the gates' verdicts:
:mod:`mt_verify.rollback.record`). Refused when there is none (none passed), when the newest revision is
``pending-*`` (an install, upgrade or rollback is in progress), or when the newest revision is not the release under
verification (rolling back would then undo someone else's release)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mt_verify.config import Environment
from mt_verify.kube.access import Kube, client_for
from mt_verify.kube.helm import HelmDecodeError, HelmRevision, decode_release
from mt_verify.release import ExpectedRelease
from mt_verify.rollback import Execution, Plan, RollbackError, RollbackRefused, run_command

if TYPE_CHECKING:
    from mt_verify.rollback.record import Verdict

GOOD_STATUSES = ("superseded", "deployed")


@dataclass(frozen=True)
class Revision:
    number: int
    status: str
    #: ``<semver>.<build_id>`` from the values (``version`` + ``buildId``), else the chart's appVersion.
    version: str | None
    commit_sha: str | None
    chart: str | None
    description: str = ""

    def label(self) -> str:
        return f"revision {self.number} ({self.status}, {self.version or 'version unknown'})"


def revision_of(release: dict[str, Any]) -> Revision:
    """A decoded release (:func:`mt_verify.kube.helm.decode_release`) -> what the target choice needs."""
    rev = HelmRevision.of(release)
    return Revision(number=rev.number, status=rev.status, version=rev.release_version or rev.app_version,
                    commit_sha=rev.commit_sha, chart=rev.chart, description=rev.description)


def choose_target(revisions: list[Revision], failed: ExpectedRelease, to_revision: int | None,
                  release: str, verdicts: Mapping[int, Verdict] | None = None,
                  where: str = "") -> tuple[Revision, Revision]:
    """(current, target), or :class:`RollbackRefused` with the reason.

    ``verdicts`` (the gates' records, :mod:`mt_verify.rollback.record`): the target must be a revision that passed
    its gate, and ``--to-revision`` may not name one that failed it. None: no records consulted (unit use)."""
    if not revisions:
        raise RollbackRefused(f"release {release} has no Helm release Secrets: it is not a Helm release here "
                              "(an Argo CD-rendered release has none; use rollback.strategy argocd)")
    ordered = sorted(revisions, key=lambda r: r.number, reverse=True)
    current = ordered[0]
    if current.status.startswith("pending-"):
        raise RollbackRefused(f"release {release} is mid-operation: {current.label()}; not rolling back while Helm "
                              "is installing, upgrading or rolling back")
    comparable = failed.version is not None or current.commit_sha is not None
    if current.version is not None and comparable and not failed.matches(current.version, current.commit_sha):
        raise RollbackRefused(f"release {release}'s newest {current.label()} is not the release under "
                              f"verification ({failed}); rolling back would undo another release")

    def is_failed(r: Revision) -> bool:
        return r.version is not None and failed.matches(r.version, r.commit_sha)

    if to_revision is not None:
        chosen = next((r for r in ordered if r.number == to_revision), None)
        if chosen is None:
            known = ", ".join(str(r.number) for r in reversed(ordered))
            raise RollbackRefused(f"--to-revision {to_revision}: release {release} has no such revision "
                                  f"(revisions: {known})")
        if chosen.number == current.number:
            raise RollbackRefused(f"--to-revision {to_revision} is the current revision of release {release}")
        if is_failed(chosen):
            raise RollbackRefused(f"--to-revision {to_revision} runs the failed release {failed} too")
        record = (verdicts or {}).get(chosen.number)
        if record is not None and not record.passed:
            raise RollbackRefused(f"--to-revision {to_revision}: {record.label()} ({record.version}) in {where}; "
                                  "choose a revision that passed")
        return current, chosen
    candidates = [r for r in ordered[1:] if r.status in GOOD_STATUSES and r.version is not None and not is_failed(r)]
    if verdicts is None:
        if candidates:
            return current, candidates[0]
    else:
        passed = [r for r in candidates if r.number in verdicts and verdicts[r.number].passed]
        if passed:
            return current, passed[0]
        if candidates:
            seen = "; ".join(f"revision {r.number} ({r.version}): "
                             + (verdicts[r.number].verdict if r.number in verdicts else "no verdict recorded")
                             for r in candidates[:6])
            raise RollbackRefused(f"release {release} has no earlier revision that passed its gate ({seen}; "
                                  f"verdicts in {where}); roll back by hand to a release known to be good: "
                                  f"mt-verify gate --rollback --to-revision N, or helm rollback {release} N")
    listed = "; ".join(r.label() for r in ordered[:6])
    raise RollbackRefused(f"release {release} has no earlier superseded or deployed revision with another version "
                          f"than {failed} to roll back to ({listed})")


class HelmStrategy:
    name = "helm"

    def __init__(self, env: Environment, binary: str) -> None:
        assert env.kubernetes is not None
        self.env = env
        self.kube = env.kubernetes
        self.binary = binary

    def history(self, kube: Kube | None = None) -> list[Revision]:
        kube = kube or client_for(self.kube, self.env.name)
        ns, selector = self.kube.namespace, f"owner=helm,name={self.kube.release}"
        secrets = kube.items(f"list secrets -l {selector} in namespace {ns}", kube.core.list_namespaced_secret, ns,
                             label_selector=selector)
        out: list[Revision] = []
        for secret in secrets:
            data = (secret.get("data") or {}).get("release")
            if not data:
                continue
            try:
                out.append(revision_of(decode_release(data)))
            except HelmDecodeError as exc:
                name = (secret.get("metadata") or {}).get("name", "?")
                raise RollbackError(f"{self.kube.namespace}/Secret/{name}: cannot decode the Helm "
                                    f"release ({exc})") from None
        return out

    def command(self, revision: int) -> list[str]:
        cmd = [self.binary, "rollback", self.kube.release, str(revision), "-n", self.kube.namespace,
               "--wait", "--timeout", f"{int(self.env.rollback.timeout)}s"]
        if self.kube.kubeconfig:
            cmd += ["--kubeconfig", self.kube.kubeconfig]
        if self.kube.context:
            cmd += ["--kube-context", self.kube.context]
        return cmd

    def plan(self, failed: ExpectedRelease, to_revision: int | None) -> Plan:
        from mt_verify.rollback.record import VerdictStore

        kube = client_for(self.kube, self.env.name)
        store = VerdictStore(self.kube, kube)
        verdicts = store.read()
        current, target = choose_target(self.history(kube), failed, to_revision, self.kube.release, verdicts,
                                        store.where)
        record = verdicts.get(target.number)
        notes = [record.label() if record else f"revision {target.number}: no gate verdict recorded "
                 "(chosen with --to-revision)"]
        return Plan(self.name, [self.command(target.number)], target.version,
                    f"helm rollback of release {self.kube.release} from {current.label()} to {target.label()}",
                    target_revision=target.number, notes=notes)

    def execute(self, plan: Plan) -> list[Execution]:
        # helm waits itself (--wait --timeout); the subprocess gets a little more than that.
        return [run_command(plan.commands[0], timeout_s=self.env.rollback.timeout + 30)]
