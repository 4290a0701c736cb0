"""A simulated Kubernetes API server holding one Missing Table release, for the deployment tier.

    handle = start(state_dir=dir, release=CURRENT, previous=PREVIOUS, faults={"crash-loop"}, layout="helm")
    handle.kubeconfig, handle.context, handle.namespace   # what the suite is pointed at
    handle.deploy(new_release, set())                        # ship a release (new Helm revision, new ReplicaSets)
    handle.rollback(None)                                    # Helm-style rollback to the previous revision
    handle.stop()

Layouts: ``helm`` (the runbook's: Helm release Secrets, backend/frontend/celery-worker at 2 replicas, a GKE
ManagedCertificate) and ``argocd`` (prod today, contract section 3: backend/frontend/redis at 1 replica,
cert-manager Certificate, an Argo CD Application, no Helm release). Read-only for clients except Leases.
Never imported by the suite itself: the suite talks to it over HTTP with the official client.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import yaml

from sandbox.kube.api import TOKEN, Cluster, handler_for
from sandbox.kube.world import ARGO_NAMESPACE, FAULTS, NAMESPACE, RELEASE, World
from sandbox.listener import HOST, Server, serve
from sandbox.release import Release

__all__ = ["FAULTS", "LAYOUTS", "NAMESPACE", "RELEASE", "KubeHandle", "start"]

LAYOUTS = ("helm", "argocd")
CONTEXT = "sandbox"


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class KubeHandle:
    def __init__(self, cluster: Cluster, server: Server, kubeconfig: Path, layout: str) -> None:
        self._cluster = cluster
        self._server = server
        self.layout = layout
        self.url = f"http://{HOST}:{server.server_port}"
        self.kubeconfig = kubeconfig
        self.context = CONTEXT
        self.namespace = NAMESPACE
        self.release_name = RELEASE
        self.argocd_namespace = ARGO_NAMESPACE
        self._closed: int | None = None
        self._write_kubeconfig()

    @property
    def world(self) -> World:
        return self._cluster.world

    def _write_kubeconfig(self) -> None:
        server = self.url
        if "kube-unreachable" in self.world.faults:
            if self._closed is None:
                self._closed = _closed_port()
            server = f"http://{HOST}:{self._closed}"
        config = {
            "apiVersion": "v1", "kind": "Config", "preferences": {}, "current-context": CONTEXT,
            "clusters": [{"name": "sandbox-cluster", "cluster": {"server": server}}],
            "users": [{"name": "mt-verify-readonly", "user": {"token": TOKEN}}],
            "contexts": [{"name": CONTEXT, "context": {"cluster": "sandbox-cluster", "user": "mt-verify-readonly",
                                                       "namespace": NAMESPACE}}],
        }
        tmp = self.kubeconfig.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        tmp.replace(self.kubeconfig)

    def set_faults(self, faults: set[str]) -> None:
        """Switch the cluster's faults to exactly these (faults of the rest of the sandbox are ignored)."""
        with self._cluster.lock:
            self.world.set_faults(set(faults))
            self._write_kubeconfig()

    def deploy(self, release: Release, faults: set[str]) -> None:
        with self._cluster.lock:
            self.world.deploy(release, set(faults))
            self._write_kubeconfig()

    def rollback(self, revision: int | None = None) -> int:
        with self._cluster.lock:
            return self.world.rollback(revision)

    def helm_history(self) -> list[dict[str, Any]]:
        with self._cluster.lock:
            return self.world.helm_history()

    def argocd_history(self) -> list[dict[str, Any]]:
        with self._cluster.lock:
            return self.world.argocd_history()

    def current_release(self) -> Release:
        with self._cluster.lock:
            return self.world.current_release()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def start(*, state_dir: Path, release: Release, previous: Release, faults: set[str], layout: str) -> KubeHandle:
    """Start the simulated API server on 127.0.0.1 (a free port) and write ``state_dir/kubeconfig``."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown cluster layout {layout!r}; known: {', '.join(LAYOUTS)}")
    state_dir.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(World(layout, release, previous, set(faults)))
    server = serve(Server((HOST, 0), handler_for(cluster)), "sandbox-kube")
    return KubeHandle(cluster, server, state_dir / "kubeconfig", layout)
