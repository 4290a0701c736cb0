"""One rollback at a time per release: a ``coordination.k8s.io/v1`` Lease ``mt-verify-rollback-<release>`` in the
release's namespace, holding the holder's identity and an expiry. A second gate finding it held (and not expired)
refuses to roll back; an expired Lease is taken over."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

from mt_verify.config import Kubernetes
from mt_verify.rollback import RollbackRefused
from mt_verify.rollback.kubeapi import Conflict, NotFound, translated

PREFIX = "mt-verify-rollback-"


def lease_name(release: str) -> str:
    return PREFIX + release


def holder_identity() -> str:
    run = os.environ.get("GITHUB_RUN_ID")
    where = f"github-run-{run}" if run else socket.gethostname()
    return f"mt-verify-gate/{where}/{os.getpid()}"


class ReleaseLock:
    """``with ReleaseLock(kube, api_client, duration_s=...):`` -- raises :class:`RollbackRefused` when held."""

    def __init__(self, kube: Kubernetes, client: Any, *, duration_s: float, holder: str | None = None) -> None:
        from kubernetes import client as k8s

        self.kube = kube
        self.api = k8s.CoordinationV1Api(client)
        self.name = lease_name(kube.release)
        self.holder = holder or holder_identity()
        self.duration_s = max(int(duration_s), 1)
        self.acquired = False

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
            with translated(f"create {self.where}"):
                self.api.create_namespaced_lease(self.kube.namespace, self._body(), _request_timeout=timeout)
            self.acquired = True
            return
        except Conflict:
            pass
        with translated(f"read {self.where}"):
            current = self.api.read_namespaced_lease(self.name, self.kube.namespace, _request_timeout=timeout)
        spec = current.spec
        holder = spec.holder_identity if spec else None
        expiry = _expiry(spec)
        if holder and holder != self.holder and expiry is not None and expiry > datetime.now(UTC):
            raise RollbackRefused(f"another rollback of release {self.kube.release} is in progress: {self.where} is "
                                  f"held by {holder} until {expiry.isoformat(timespec='seconds')}")
        transitions = (spec.lease_transitions or 0) + 1 if spec else 1
        try:
            with translated(f"take over {self.where}"):
                self.api.replace_namespaced_lease(self.name, self.kube.namespace,
                                                  self._body(current.metadata.resource_version, transitions),
                                                  _request_timeout=timeout)
        except Conflict:
            raise RollbackRefused(f"another gate took {self.where} at the same moment; not rolling back") from None
        self.acquired = True

    def release(self) -> None:
        if not self.acquired:
            return
        from kubernetes import client as k8s

        try:
            with translated(f"delete {self.where}"):
                current = self.api.read_namespaced_lease(self.name, self.kube.namespace,
                                                         _request_timeout=self.kube.request_timeout)
                if current.spec is None or current.spec.holder_identity == self.holder:
                    self.api.delete_namespaced_lease(
                        self.name, self.kube.namespace, _request_timeout=self.kube.request_timeout,
                        body=k8s.V1DeleteOptions(preconditions=k8s.V1Preconditions(
                            resource_version=current.metadata.resource_version)))
        except NotFound:
            pass
        self.acquired = False

    def __enter__(self) -> ReleaseLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


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
