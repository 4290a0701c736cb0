"""Start the whole stand-in world on free 127.0.0.1 ports: the site, the API host, an https
listener, an http->https redirector, the simulated cluster, and a control port through which
``python -m sandbox deploy`` and the stand-in ``helm`` change the world."""

from __future__ import annotations

import json
import os
import secrets
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox import app, tls
from sandbox.db import SMOKE_USERNAME, Database
from sandbox.faults import OUTAGES
from sandbox.latency import profile_named
from sandbox.listener import HOST, Handler, Server, serve
from sandbox.release import CURRENT, PREVIOUS, Release


class TlsServer(Server):
    context: ssl.SSLContext

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        sock.settimeout(10)
        return self.context.wrap_socket(sock, server_side=True), addr

    def handle_error(self, request: Any, client_address: Any) -> None:  # failed handshakes are expected
        pass


def _serve(server: Server) -> Server:
    return serve(server, "sandbox")


def all_faults() -> dict[str, str]:
    try:
        from sandbox import kube
    except ImportError:  # the simulated cluster is not built yet
        return dict(app.FAULTS)
    from sandbox.cluster.world import FAULTS as REAL_FAULTS

    return {**app.FAULTS, **REAL_FAULTS, **kube.FAULTS}


def real_cluster_unsupported(faults: set[str]) -> set[str]:
    """Cluster faults the simulated cluster has but the real one cannot cause (they must not pass unnoticed)."""
    from sandbox import kube
    from sandbox.cluster.world import FAULTS as REAL_FAULTS

    return {f for f in faults if f in kube.FAULTS and f not in REAL_FAULTS}


@dataclass
class Outlet:
    """A listener an outage fault can close (connections refused, as from a stopped process) and a rollback
    reopen on the same port."""

    make: Callable[[int], Server]
    server: Server | None
    port: int = 0

    def __post_init__(self) -> None:
        if self.server is not None:
            self.port = self.server.server_port

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def open(self) -> None:
        if self.server is None:
            self.server = _serve(self.make(self.port))


#: Which outlets each outage fault closes.
OUTAGE_OUTLETS = {"api-down": ("api",), "site-down": ("site", "https", "redirect")}
assert set(OUTAGE_OUTLETS) == set(OUTAGES), "every outage fault of sandbox/faults.py closes listeners"


@dataclass
class Sandbox:
    state_dir: Path
    world: app.World
    servers: list[Server] = field(default_factory=list)
    #: The listeners outage faults close and reopen, by name (site, https, redirect, api).
    outlets: dict[str, Outlet] = field(default_factory=dict)
    kube: Any = None
    urls: dict[str, str] = field(default_factory=dict)
    tls_server: TlsServer | None = None
    #: Faults the last deploy shipped (a rollback removes them).
    release_faults: set[str] = field(default_factory=set)

    def set_faults(self, faults: set[str]) -> None:
        """The world's faults, all of them (those a deploy shipped included)."""
        with self.world.lock:
            self._apply(set(faults))
            self.release_faults = set()

    def _apply(self, faults: set[str]) -> None:
        unknown = faults - set(all_faults())
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        if getattr(self.kube, "layout", None) == "real" and real_cluster_unsupported(faults):
            raise ValueError(f"not a fault of the real cluster: {', '.join(sorted(real_cluster_unsupported(faults)))}")
        tls_changed = {f for f in faults ^ self.world.faults if f.startswith("tls-")}
        self.world.faults = faults
        if tls_changed and self.tls_server is not None:
            self.tls_server.context, _ = tls.server_context(self.state_dir, faults)
        if self.kube is not None:
            self.kube.set_faults(faults)
        self._apply_outages()

    def _apply_outages(self) -> None:
        closed = {name for fault in OUTAGES & self.world.faults for name in OUTAGE_OUTLETS[fault]}
        for name, outlet in self.outlets.items():
            if name in closed:
                outlet.close()
            else:
                outlet.open()
                if name == "https":
                    self.tls_server = outlet.server  # type: ignore[assignment]

    def deploy(self, release: Release, faults: set[str]) -> None:
        """Ship a release; its faults come with it (the world's own faults, an outage say, stay)."""
        with self.world.lock:
            base = self.world.faults - self.release_faults
            self._apply(base | faults)
            self.release_faults = set(faults)
            self.world.release = release
            if self.kube is not None:
                self.kube.deploy(release, faults)

    def served(self, release: Release) -> None:
        """The real cluster's backend now runs ``release`` (a rollout completed, e.g. after a real ``helm
        rollback``): the app serves it, without the faults the replaced release brought."""
        with self.world.lock:
            if release == self.world.release:
                return
            self.world.release = release
            self.world.faults = self.world.faults - self.release_faults
            self.release_faults = set()

    def rollback(self, revision: int | None) -> dict[str, Any]:
        with self.world.lock:
            if self.kube is None:
                raise ValueError("no simulated cluster in this sandbox")
            new_revision = self.kube.rollback(revision)
            self.world.release = self.kube.current_release()
            # A rollback replaces the bad release: its faults go with it; the world's own stay.
            self._apply(self.world.faults - self.release_faults)
            self.release_faults = set()
            return {"revision": new_revision, "release": self.world.release.to_json()}

    def state(self) -> dict[str, Any]:
        return {
            "release": self.world.release.to_json(),
            "served": self.world.served_release().to_json(),
            "faults": sorted(self.world.faults),
            "latency": self.world.latency.name if self.world.latency else "off",
            "logins": dict(self.world.logins),
            "helm_history": self.kube.helm_history() if self.kube is not None else [],
            "smoke_matches": self.world.db.all(
                "SELECT id, match_id, match_date, created_at FROM matches WHERE match_id LIKE 'SMOKE-%'"
                " OR source='manual'"),
        }

    def stop(self) -> None:
        for outlet in self.outlets.values():
            outlet.close()
        for s in self.servers:
            s.shutdown()
            s.server_close()
        if self.kube is not None:
            self.kube.stop()


def start(
    state_dir: Path,
    *,
    faults: set[str] = frozenset(),  # type: ignore[assignment]
    layout: str | None = "helm",
    release: Release = CURRENT,
    previous: Release = PREVIOUS,
    smoke_password: str | None = None,
    smoke_username: str | None = None,
    latency: str | None = None,
) -> Sandbox:
    profile_named(latency)  # an unknown profile is refused before anything starts
    state_dir.mkdir(parents=True, exist_ok=True)
    known = all_faults()
    unknown = set(faults) - set(known)
    if unknown:
        raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    password = smoke_password or secrets.token_urlsafe(12)
    username = smoke_username or SMOKE_USERNAME
    db = Database(state_dir / "missing-table.sqlite", password, username)
    world = app.World(db=db, release=release, faults=set(faults), latency=profile_named(latency))
    sb = Sandbox(state_dir, world)

    handler = type("Handler", (app.AppHandler,), {"world": world})
    site_handler = type("SiteHandler", (app.AppHandler,), {"world": world, "role": "site"})

    def make_tls(port: int) -> TlsServer:
        server = TlsServer((HOST, port), site_handler)
        server.context, _ = tls.server_context(state_dir, set(world.faults))
        return server

    site = _serve(Server((HOST, 0), site_handler))
    api = _serve(Server((HOST, 0), handler))
    tls_server = TlsServer((HOST, 0), site_handler)
    tls_server.context, ca_file = tls.server_context(state_dir, set(faults))
    _serve(tls_server)
    sb.tls_server = tls_server
    https_url = f"https://localhost:{tls_server.server_port}"

    class Redirect(Handler):
        def do_GET(self) -> None:
            if "http-no-redirect" in world.faults:
                self.reply(200, b"<html><title>Missing Table</title></html>", "text/html")
            else:
                self.reply(301, b"", "text/plain", {"Location": https_url + self.path})

    redirect = _serve(Server((HOST, 0), Redirect))
    control = _serve(Server((HOST, 0), _control_handler(sb)))
    sb.servers = [control]
    sb.outlets = {
        "site": Outlet(lambda port: Server((HOST, port), site_handler), site),
        "api": Outlet(lambda port: Server((HOST, port), handler), api),
        "https": Outlet(make_tls, tls_server),
        "redirect": Outlet(lambda port: Server((HOST, port), Redirect), redirect),
    }
    sb._apply_outages()

    if layout == "real":
        import sys

        from sandbox.cluster.world import RealCluster

        if real_cluster_unsupported(set(faults)):
            sb.stop()
            raise ValueError(f"not a fault of the real cluster: {', '.join(sorted(real_cluster_unsupported(faults)))}")
        try:
            sb.kube = RealCluster.start(state_dir, release=release, previous=previous, faults=set(faults),
                                        on_served=sb.served)
        except BaseException:
            sb.stop()
            raise
        print(f"sandbox: real cluster up in {sb.kube.timings['total_s']:.1f} s ({sb.kube.timings})", file=sys.stderr,
              flush=True)
    elif layout is not None:
        from sandbox import kube

        sb.kube = kube.start(state_dir=state_dir, release=release, previous=previous, faults=set(faults),
                             layout=layout)

    sb.urls = {
        "MT_SANDBOX_SITE_URL": f"http://{HOST}:{site.server_port}",
        "MT_SANDBOX_API_URL": f"http://{HOST}:{api.server_port}",
        "MT_SANDBOX_HTTPS_URL": https_url,
        "MT_SANDBOX_TLS_HOST": f"localhost:{tls_server.server_port}",
        "MT_SANDBOX_REDIRECT_URL": f"http://{HOST}:{redirect.server_port}/",
        "MT_SANDBOX_CA": str(ca_file),
        "MT_SANDBOX_CONTROL": f"http://{HOST}:{control.server_port}",
        "MT_SANDBOX_RELEASE": f"{release.version}+{release.sha7}",
        "MT_SANDBOX_STATE_DIR": str(state_dir),
        # The stand-in helm (environments/sandbox.yaml: rollback.binary), so a rollback needs no PATH edit.
        "MT_SANDBOX_HELM": str(Path(__file__).resolve().parent / "bin" / "helm"),
        "MT_SMOKE_USERNAME": username,
        "MT_SMOKE_PASSWORD": password,
    }
    if sb.kube is not None:
        sb.urls.update({
            "MT_SANDBOX_KUBECONFIG": str(sb.kube.kubeconfig),
            "MT_SANDBOX_KUBE_CONTEXT": sb.kube.context,
        })
    if layout == "real":
        sb.urls.update({
            "MT_SANDBOX_KUBE_ADMIN_CONTEXT": sb.kube.admin_context,
            "MT_SANDBOX_HELM": str(sb.kube.bin.helm),
            "MT_SANDBOX_CLUSTER_STARTUP_S": str(sb.kube.timings.get("total_s", "")),
        })
    (state_dir / "sandbox.json").write_text(json.dumps({"pid": os.getpid(), "env": _public(sb.urls)}))
    return sb


def _public(urls: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in urls.items() if k != "MT_SMOKE_PASSWORD"}


def _control_handler(sb: Sandbox) -> type[Handler]:
    class Control(Handler):
        def _reply(self, status: int, payload: Any) -> None:
            self.reply_json(status, payload)

        def do_GET(self) -> None:
            if self.path == "/state":
                self._reply(200, sb.state())
            else:
                self._reply(404, {"error": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path == "/faults":
                    sb.set_faults(set(body.get("faults", [])))
                    self._reply(200, sb.state())
                elif self.path == "/deploy":
                    semver, _, build = body["version"].rpartition(".")
                    sb.deploy(Release.make(semver, build), set(body.get("faults", [])))
                    self._reply(200, sb.state())
                elif self.path == "/rollback":
                    self._reply(200, sb.rollback(body.get("revision")))
                else:
                    self._reply(404, {"error": "not found"})
            except (ValueError, KeyError) as exc:
                self._reply(400, {"error": str(exc)})

    return Control
