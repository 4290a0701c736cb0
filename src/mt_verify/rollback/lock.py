"""One rollback at a time per release: a ``coordination.k8s.io/v1`` Lease ``mt-verify-rollback-<release>`` in the
release's namespace, holding the holder's identity and an expiry. A second gate finding it held (and not expired)
refuses to roll back. The lease is short (:data:`DURATION_S`) and renewed every :data:`RENEW_EVERY_S` while the gate
holds it, so a gate that died (SIGKILL, a lost runner) stops renewing and its Lease is taken over a few seconds later
(the takeover is reported), never minutes later."""

from __future__ import annotations

import os
import socket
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from mt_verify.config import Kubernetes
from mt_verify.kube.access import Conflict, Kube, NotFound
from mt_verify.rollback import RollbackRefused

PREFIX = "mt-verify-rollback-"
#: How long a Lease stays valid without renewal, and how often its holder renews it.
DURATION_S = 30
RENEW_EVERY_S = 10.0


def lease_name(release: str) -> str:
    return PREFIX + release


def holder_identity() -> str:
    run = os.environ.get("GITHUB_RUN_ID")
    where = f"github-run-{run}" if run else socket.gethostname()
    return f"mt-verify-gate/{where}/{os.getpid()}"


class ReleaseLock:
    """``with ReleaseLock(settings, kube):`` -- raises :class:`RollbackRefused` when held."""

    def __init__(self, kube: Kubernetes, client: Kube, *, duration_s: float = DURATION_S, holder: str | None = None,
                 renew_every_s: float = RENEW_EVERY_S) -> None:
        from kubernetes import client as k8s

        self.kube = kube
        self.client = client
        self.api = k8s.CoordinationV1Api(client.api)
        self.name = lease_name(kube.release)
        self.holder = holder or holder_identity()
        self.duration_s = max(int(duration_s), 1)
        self.renew_every_s = renew_every_s
        self.acquired = False
        #: Set when acquiring took over a Lease its holder stopped renewing: who held it and when it expired.
        self.took_over: str | None = None
        #: Renewals that failed (the Lease may lapse: reported, never fatal to a rollback under way).
        self.renew_errors: list[str] = []
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    @property
    def where(self) -> str:
        return f"{self.kube.namespace}/Lease/{self.name}"

    def _body(self, resource_version: str | None = None, transitions: int = 0) -> Any:
        from kubernetes import client as k8s

        now = datetime.now(UTC)
        return k8s.V1Lease(
            metadata=k8s.V1ObjectMeta(name=self.name, namespace=self.kube.namespace, resource_version=resource_version,
                                      labels={"app.kubernetes.io/managed-by": "mt-verify",
                                              "app.kubernetes.io/instance": self.kube.release}),
            spec=k8s.V1LeaseSpec(holder_identity=self.holder, lease_duration_seconds=self.duration_s,
                                 acquire_time=now, renew_time=now, lease_transitions=transitions))

    def acquire(self) -> None:
        timeout = self.kube.request_timeout
        try:
            with self.client.translated(f"create {self.where}"):
                self.api.create_namespaced_lease(self.kube.namespace, self._body(), _request_timeout=timeout)
            self.acquired = True
            return
        except Conflict:
            pass
        with self.client.translated(f"read {self.where}"):
            current = self.api.read_namespaced_lease(self.name, self.kube.namespace, _request_timeout=timeout)
        spec = current.spec
        holder = spec.holder_identity if spec else None
        expiry = _expiry(spec)
        if holder and holder != self.holder and expiry is not None and expiry > datetime.now(UTC):
            raise RollbackRefused(f"another rollback of release {self.kube.release} is in progress: {self.where} is "
                                  f"held by {holder} until {expiry.isoformat(timespec='seconds')}")
        transitions = (spec.lease_transitions or 0) + 1 if spec else 1
        try:
            with self.client.translated(f"take over {self.where}"):
                self.api.replace_namespaced_lease(self.name, self.kube.namespace,
                                                  self._body(_version(current), transitions),
                                                  _request_timeout=timeout)
        except Conflict:
            raise RollbackRefused(f"another gate took {self.where} at the same moment; not rolling back") from None
        if holder and holder != self.holder:
            when = expiry.isoformat(timespec="seconds") if expiry is not None else "an unknown time"
            self.took_over = (f"took over {self.where} from {holder}, which stopped renewing it "
                              f"(expired {when})")
        self.acquired = True

    def start_renewing(self) -> None:
        """Renew the Lease in the background until :meth:`release` (a daemon thread: it dies with the gate)."""
        if self._renewer is not None or not self.acquired:
            return
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew_loop, name="mt-verify-lease-renewer", daemon=True)
        self._renewer.start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.renew_every_s):
            try:
                self.renew()
            except Exception as exc:  # a renewal that failed is reported; the next one may work
                self.renew_errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")

    def renew(self) -> None:
        """Move the renew time to now (only while this gate still holds the Lease)."""
        timeout = self.kube.request_timeout
        with self.client.translated(f"renew {self.where}"):
            current = self.api.read_namespaced_lease(self.name, self.kube.namespace, _request_timeout=timeout)
            if current.spec is None or current.spec.holder_identity != self.holder:
                return
            body = self._body(_version(current), current.spec.lease_transitions or 0)
            body.spec.acquire_time = current.spec.acquire_time
            self.api.replace_namespaced_lease(self.name, self.kube.namespace, body, _request_timeout=timeout)

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=self.kube.request_timeout + 5)
            self._renewer = None
        if not self.acquired:
            return
        from kubernetes import client as k8s

        try:
            with self.client.translated(f"delete {self.where}"):
                current = self.api.read_namespaced_lease(self.name, self.kube.namespace,
                                                         _request_timeout=self.kube.request_timeout)
                if current.spec is None or current.spec.holder_identity == self.holder:
                    self.api.delete_namespaced_lease(
                        self.name, self.kube.namespace, _request_timeout=self.kube.request_timeout,
                        body=k8s.V1DeleteOptions(preconditions=k8s.V1Preconditions(
                            resource_version=_version(current))))
        except NotFound:
            pass
        self.acquired = False

    def __enter__(self) -> ReleaseLock:
        self.acquire()
        self.start_renewing()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _version(obj: Any) -> str | None:
    """An object's resourceVersion (for optimistic concurrency), if it has metadata."""
    return obj.metadata.resource_version if obj.metadata is not None else None


def _expiry(spec: Any) -> datetime | None:
    if spec is None or spec.lease_duration_seconds is None:
        return None
    renewed = spec.renew_time or spec.acquire_time
    if renewed is None:
        return None
    if isinstance(renewed, str):
        renewed = datetime.fromisoformat(renewed.replace("Z", "+00:00"))
    if renewed.tzinfo is None:
        renewed = renewed.replace(tzinfo=UTC)
    return renewed + timedelta(seconds=spec.lease_duration_seconds)
