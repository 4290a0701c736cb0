"""Each gate's verdict, kept where the next gate reads it: roll back only to a release that passed its gate.

"The newest earlier revision" can be a release that failed its own gate (a gate run without ``--rollback``, a
refused rollback, a dry run): rolling back to it swaps one bad release for another. So every gate that reached a
verdict records it per Helm revision, and the helm strategy rolls back to the newest earlier revision whose recorded
verdict is ``passed``; when there is none it refuses and says so (exit 2).

Where: one ConfigMap the gate owns, ``mt-verify-gate-<release>`` in the release's namespace (labels
``app.kubernetes.io/managed-by=mt-verify``, ``app.kubernetes.io/instance=<release>``), one data key per revision::

    v7: {"revision": 7, "verdict": "failed", "version": "1.29.3.1361", "commit_sha": "abc1234...",
         "exit_code": 2, "at": "2026-12-02T06:01:02Z", "reason": "2 gating check(s) failed twice; ..."}

A ConfigMap, not annotations on the Helm release Secrets: the gate then needs no write access to Secrets (which
hold the chart's values), ``helm`` never rewrites it, and the read-only tier needs nothing new. The gate needs
``get``, ``create`` and ``update`` on ``configmaps`` in the release namespace (``deploy/README.md``). Writes are
optimistic (``resourceVersion``), retried on a conflict with another gate; only the newest :data:`KEEP` records
are kept.

What is recorded (never in a dry run, never for a gate that could not verify):

- the revision the gate verified (the newest one, when it carries the expected release): ``passed`` when every
  gating check passed (flaky ones included), ``failed`` when a gating failure was confirmed;
- after a rollback verified green, the new revision Helm made for it: ``passed``.

Recording never changes the gate's exit code: a failure to record is printed and kept in the gate's notes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from mt_verify import config as cfg
from mt_verify.config import Environment, Kubernetes
from mt_verify.kube.access import ClusterAccessError, Conflict, Kube, NotFound, client_for
from mt_verify.release import ExpectedRelease, ReleaseError
from mt_verify.rollback import RollbackError

PREFIX = "mt-verify-gate-"
#: Records kept (Helm keeps 10 revisions by default).
KEEP = 30
#: Attempts of a write that meets another gate's write.
WRITE_ATTEMPTS = 4
PASSED, FAILED = "passed", "failed"


def _version(obj: dict[str, Any] | None) -> str | None:
    """A ConfigMap's ``metadata.resourceVersion`` (raw JSON), if any."""
    meta = (obj or {}).get("metadata")
    version = meta.get("resourceVersion") if isinstance(meta, dict) else None
    return str(version) if version else None


def _data(obj: dict[str, Any] | None) -> dict[str, str]:
    """A ConfigMap's ``data`` (raw JSON); none or not a mapping: empty."""
    data = (obj or {}).get("data")
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def configmap_name(release: str) -> str:
    return (PREFIX + release)[:253]


@dataclass(frozen=True)
class Verdict:
    revision: int
    verdict: str  # passed | failed
    version: str | None = None
    commit_sha: str | None = None
    exit_code: int | None = None
    at: str = ""
    reason: str = ""

    @property
    def passed(self) -> bool:
        return self.verdict == PASSED

    def label(self) -> str:
        return f"revision {self.revision} {self.verdict} its gate" + (f" at {self.at}" if self.at else "")


def _key(revision: int) -> str:
    return f"v{revision}"


def parse(data: Mapping[str, str] | None) -> dict[int, Verdict]:
    """The ConfigMap's data -> verdict per revision (entries that do not parse are ignored: never trusted)."""
    out: dict[int, Verdict] = {}
    for key, text in (data or {}).items():
        if not key.startswith("v") or not key[1:].isdigit():
            continue
        try:
            raw = json.loads(text)
            verdict = Verdict(revision=int(raw["revision"]), verdict=str(raw["verdict"]),
                              version=raw.get("version"), commit_sha=raw.get("commit_sha"),
                              exit_code=raw.get("exit_code"), at=str(raw.get("at") or ""),
                              reason=str(raw.get("reason") or ""))
        except (ValueError, KeyError, TypeError):
            continue
        if verdict.revision == int(key[1:]) and verdict.verdict in (PASSED, FAILED):
            out[verdict.revision] = verdict
    return out


class VerdictStore:
    """The ConfigMap of one release: read by every gate that plans a helm rollback, written by every gate."""

    def __init__(self, kube: Kubernetes, client: Kube) -> None:
        self.kube = kube
        self.client = client
        self.name = configmap_name(kube.release)

    @property
    def where(self) -> str:
        return f"{self.kube.namespace}/ConfigMap/{self.name}"

    def _current(self) -> dict[str, Any] | None:
        try:
            return self.client.call(f"read {self.where}", self.client.core.read_namespaced_config_map, self.name,
                                    self.kube.namespace)
        except NotFound:
            return None

    def read(self) -> dict[int, Verdict]:
        """Recorded verdicts by revision; none recorded yet: empty."""
        return parse(_data(self._current()))

    def write(self, verdicts: list[Verdict]) -> None:
        """Add or replace these revisions' records (optimistic, retried on a conflict)."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            current = self._current()
            data = dict(_data(current))
            for v in verdicts:
                data[_key(v.revision)] = json.dumps(asdict(v), sort_keys=True)
            kept = sorted(parse(data), reverse=True)[:KEEP]
            data = {_key(n): data[_key(n)] for n in sorted(kept)}
            meta: dict[str, Any] = {"name": self.name, "namespace": self.kube.namespace,
                                    "labels": {"app.kubernetes.io/managed-by": "mt-verify",
                                               "app.kubernetes.io/instance": self.kube.release}}
            version = _version(current)
            if version:
                meta["resourceVersion"] = version
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}
            try:
                if current is None:
                    self.client.call(f"create {self.where}", self.client.core.create_namespaced_config_map,
                                     self.kube.namespace, body)
                else:
                    self.client.call(f"update {self.where}", self.client.core.replace_namespaced_config_map,
                                     self.name, self.kube.namespace, body)
                return
            except Conflict:
                if attempt == WRITE_ATTEMPTS:
                    raise
            # Another gate wrote in between (its create or update won): read again and merge.


def verdicts_for(result: Any, revisions: list[Any], now: str | None = None) -> list[Verdict]:
    """What a finished gate (``GateResult``) says about which revisions (``rollback.helm.Revision``), newest
    first; nothing when it could not verify or the newest revision is not the release it verified."""
    if result.verdict not in (PASSED, FAILED) or not revisions:
        return []
    try:
        expected = ExpectedRelease.parse(result.expected)
    except ReleaseError:
        return []
    if expected is None:
        return []
    at = now or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ordered = sorted(revisions, key=lambda r: r.number, reverse=True)
    reason = " ".join(str(result.reason).split())[:300]
    out: list[Verdict] = []
    after = result.after_rollback or {}
    # Only ``helm rollback`` makes a revision. After ``kubectl rollout undo`` Helm's newest revision is still the
    # release the gate verified (Helm's record drifts from the pods): its verdict goes there.
    helm_rolled_back = bool(after) and result.rollback is not None and result.rollback.get("strategy") == "helm"
    if helm_rolled_back:
        # The newest revision is Helm's copy of the target; the verified release is the newest one before it.
        newest = ordered[0]
        if after.get("passed") and _matches(after.get("expected_version"), newest):
            out.append(Verdict(newest.number, PASSED, newest.version, newest.commit_sha, int(result.exit), at,
                               f"verified after the gate rolled back to it ({reason})"))
        verified = next((r for r in ordered[1:] if _matches_release(expected, r)), None)
    else:
        verified = ordered[0] if _matches_release(expected, ordered[0]) else None
    if verified is not None:
        out.append(Verdict(verified.number, result.verdict, verified.version, verified.commit_sha,
                           int(result.exit), at, reason))
    return out


def _matches_release(expected: ExpectedRelease, revision: Any) -> bool:
    return revision.version is not None and expected.matches(revision.version, revision.commit_sha)


def _matches(version: str | None, revision: Any) -> bool:
    if not version or revision.version is None:
        return False
    try:
        wanted = ExpectedRelease.parse(version)
    except ReleaseError:
        return False
    return wanted is not None and wanted.matches(revision.version, revision.commit_sha)


def record_gate_verdict(env: Environment, options: Any, result: Any, *,
                        say: Callable[[str], None] = print) -> list[Verdict]:
    """Record a finished gate's verdict (``GateOptions``, ``GateResult``) on its Helm release; never raises.

    Called by the gate once its verdict is decided, with the environment it loaded, while its sandbox is still
    up."""
    if getattr(options, "dry_run", False) or result.verdict not in (PASSED, FAILED):
        return []
    try:
        kube = env.kubernetes
        if kube is None or kube.manager != "helm":
            return []  # verdicts are kept per Helm revision; Argo CD keeps its own history
        from mt_verify.rollback.helm import HelmStrategy

        client = client_for(kube, env.name)
        revisions = HelmStrategy(env, "helm").history(client)
        verdicts = verdicts_for(result, revisions)
        if not verdicts:
            result.notes.append("verdict not recorded: the newest Helm revision is not the release verified")
            return []
        store = VerdictStore(kube, client)
        store.write(verdicts)
    except (RollbackError, cfg.ConfigError, ClusterAccessError, Conflict) as exc:
        text = f"could not record the gate's verdict: {exc}"
        result.notes.append(text)
        say(text)
        return []
    except Exception as exc:  # recording must never change what the gate decided
        text = f"could not record the gate's verdict: {type(exc).__name__}: {exc}"
        result.notes.append(text)
        say(text)
        return []
    labels = ", ".join(v.label().split(" at ")[0] for v in verdicts)
    result.notes.append(f"recorded in {store.where}: {labels}")
    say(f"recorded in {store.where}: {labels}")
    return verdicts
