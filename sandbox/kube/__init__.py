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

import base64
import socket
import ssl
from pathlib import Path
from typing import Any

import trustme
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


class TlsApiServer(Server):
    """The simulated API server speaks TLS, like every real one: client-go (kubectl, the official clients) sends a
    bearer token only over TLS, so a plain-http kubeconfig gets 401 from real kubectl."""

    context: ssl.SSLContext

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        sock.settimeout(30)
        # The handshake happens in the handler's thread, on first read: a slow client never blocks accept().
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request: Any, client_address: Any) -> None:  # failed handshakes, dropped watches
        pass


def _tls_context(state_dir: Path) -> tuple[ssl.SSLContext, bytes]:
    ca = trustme.CA(organization_name="mt-verify sandbox cluster CA")
    leaf = ca.issue_cert(HOST, "localhost", "kubernetes.default.svc")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(ctx)
    ca.cert_pem.write_to_path(str(state_dir / "kube-ca.pem"))
    return ctx, ca.cert_pem.bytes()


class KubeHandle:
    def __init__(self, cluster: Cluster, server: Server, kubeconfig: Path, layout: str, ca_pem: bytes) -> None:
        self._cluster = cluster
        self._server = server
        self.layout = layout
        self.url = f"https://{HOST}:{server.server_port}"
        self.ca_pem = ca_pem
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
            server = f"https://{HOST}:{self._closed}"
        ca = base64.b64encode(self.ca_pem).decode()
        config = {
            "apiVersion": "v1", "kind": "Config", "preferences": {}, "current-context": CONTEXT,
            "clusters": [{"name": "sandbox-cluster", "cluster": {"server": server,
                                                                 "certificate-authority-data": ca}}],
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
    server = TlsApiServer((HOST, 0), handler_for(cluster))
    server.context, ca_pem = _tls_context(state_dir)
    serve(server, "sandbox-kube")
    return KubeHandle(cluster, server, state_dir / "kubeconfig", layout, ca_pem)
