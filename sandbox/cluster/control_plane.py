"""A real Kubernetes control plane on 127.0.0.1: kine (etcd API over SQLite), kube-apiserver (TLS, RBAC,
service-account tokens), kube-controller-manager, kube-scheduler and kwok (fake nodes; it plays the kubelet).

    cp = ControlPlane(state_dir, binaries)
    cp.start()             # each process waited for with a deadline; logs in state_dir/logs/
    cp.admin_kubeconfig    # token of system:masters (what the sandbox itself and its helm use)
    cp.stop()              # SIGTERM, then SIGKILL; children also die with this process (PR_SET_PDEATHSIG)

Every listener binds 127.0.0.1 on a free port; controller-manager and scheduler serve nothing (--secure-port=0).
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import trustme
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.cluster.binaries import Binaries

HOST = "127.0.0.1"
SERVICE_CIDR = "10.0.0.0/24"
#: kwok hands out pod IPs from here; nothing ever listens on them (no traffic is sent to pods).
POD_CIDR = "10.244.0.0/16"
ADMIN_USER = "mt-sandbox-admin"
START_DEADLINE = 90.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the sandbox process dies, however it dies."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    os.setsid()


def _remove_stale_databases(parent: Path) -> None:
    """Databases of sandboxes that were killed before they could clean up (their owner process is gone)."""
    for d in parent.glob("mt-kine-*"):
        try:
            pid = int((d / "owner.pid").read_text(encoding="utf-8"))
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (OSError, ValueError):  # no marker yet (starting), or another user's
            continue


class StartError(RuntimeError):
    """A piece did not come up: names it, and ends with the last lines of its log."""


class ControlPlane:
    def __init__(self, state_dir: Path, binaries: Binaries) -> None:
        self.dir = state_dir / "cluster"
        self.logs = self.dir / "logs"
        self.bin = binaries
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.kine_port = free_port()
        self.port = free_port()
        self.url = f"https://{HOST}:{self.port}"
        self.admin_token = secrets.token_hex(24)
        self.timings: dict[str, float] = {}

    # -- files ---------------------------------------------------------------------------------------

    def _pki(self) -> None:
        pki = self.dir / "pki"
        pki.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA(organization_name="mt-verify sandbox cluster CA")
        leaf = ca.issue_cert(HOST, "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                             "kubernetes.default.svc.cluster.local", "10.0.0.1")
        self.ca_file = pki / "ca.crt"
        ca.cert_pem.write_to_path(str(self.ca_file))
        self.tls_cert, self.tls_key = pki / "apiserver.crt", pki / "apiserver.key"
        leaf.cert_chain_pems[0].write_to_path(str(self.tls_cert))
        leaf.private_key_pem.write_to_path(str(self.tls_key))
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.sa_key = pki / "sa.key"
        self.sa_key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
        self.sa_pub = pki / "sa.pub"
        self.sa_pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                              serialization.PublicFormat.SubjectPublicKeyInfo))
        self.tokens = pki / "tokens.csv"
        self.tokens.write_text(f'{self.admin_token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n', encoding="utf-8")
        for f in (self.tls_key, self.sa_key, self.tokens):
            f.chmod(0o600)

    def kubeconfig(self, path: Path, users: dict[str, str], contexts: dict[str, tuple[str, str | None]],
                   current: str) -> Path:
        """A kubeconfig for this cluster: ``users`` name -> token; ``contexts`` name -> (user, namespace)."""
        import base64

        ca = base64.b64encode(self.ca_file.read_bytes()).decode()
        config = {
            "apiVersion": "v1", "kind": "Config", "preferences": {}, "current-context": current,
            "clusters": [{"name": "sandbox-real", "cluster": {"server": self.url, "certificate-authority-data": ca}}],
            "users": [{"name": u, "user": {"token": t}} for u, t in users.items()],
            "contexts": [{"name": c, "context": {"cluster": "sandbox-real", "user": u,
                                                 **({"namespace": ns} if ns else {})}}
                         for c, (u, ns) in contexts.items()],
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        tmp.chmod(0o600)
        tmp.replace(path)
        return path

    # -- processes -----------------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "wb")
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    preexec_fn=_die_with_parent, cwd=self.dir)
        finally:
            log.close()
        self.procs.append((name, proc))
        return proc

    def _tail(self, name: str, lines: int = 12) -> str:
        try:
            text = (self.logs / f"{name}.log").read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])

    def _wait(self, name: str, ready: Callable[[], bool], deadline_s: float = START_DEADLINE) -> None:
        """Poll ``ready`` until it holds, the process exits, or the deadline passes (then StartError)."""
        proc = dict(self.procs)[name]
        deadline = time.monotonic() + deadline_s
        pause = 0.05
        while True:
            if proc.poll() is not None:
                raise StartError(f"{name} exited with {proc.returncode} while starting; its log "
                                 f"({self.logs / (name + '.log')}) ends:\n{self._tail(name)}")
            try:
                if ready():
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise StartError(f"{name} not ready after {deadline_s:g} s{self._why_not_ready(name)}; its log "
                                 f"ends:\n{self._tail(name)}")
            time.sleep(pause)  # a poll with a deadline, not a bare sleep
            pause = min(pause * 1.5, 0.5)

    def _why_not_ready(self, name: str) -> str:
        if name != "kube-apiserver":
            return ""
        try:
            _code, body = self.get("/readyz?verbose", timeout=3.0)
        except OSError as exc:
            return f" (/readyz: {exc})"
        failed = [ln.strip() for ln in body.decode(errors="replace").splitlines() if ln.startswith("[-]")]
        return f" (/readyz: {'; '.join(failed)[:400]})" if failed else ""

    def _port_open(self, port: int) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            return s.connect_ex((HOST, port)) == 0

    def _ssl(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {self.admin_token}"})
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self._ssl()) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def _api_ready(self) -> bool:
        code, _ = self.get("/readyz", timeout=2.0)
        return code == 200

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        self._pki()
        # The database lives in memory-backed /dev/shm where there is one: every API write is an SQLite commit,
        # and fsync on a loaded 2-core VM's disk made the API server's own start-up take minutes.
        shm = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
        _remove_stale_databases(shm or Path(tempfile.gettempdir()))
        self.db_dir = Path(tempfile.mkdtemp(prefix="mt-kine-", dir=shm))
        (self.db_dir / "owner.pid").write_text(str(os.getpid()), encoding="utf-8")
        # kine's own default parameters (a DSN of ours replaces them all): without _busy_timeout and
        # _txlock=immediate, concurrent writes fail with SQLITE_BUSY and the API server loses creates at start-up.
        db = (f"sqlite://{self.db_dir / 'state.db'}?_journal_mode=WAL&_busy_timeout=30000&_synchronous=NORMAL"
              "&_txlock=immediate&_stmt_cache_size=20&cache=shared")
        self._spawn("kine", [str(self.bin.kine), "--endpoint", db, "--datastore-poll-interval", "100ms",
                             "--listen-address", f"{HOST}:{self.kine_port}", "--metrics-bind-address", "0"])
        self._wait("kine", lambda: self._port_open(self.kine_port))
        self.timings["kine"] = time.monotonic() - t0
        self._spawn("kube-apiserver", [
            str(self.bin.apiserver),
            f"--etcd-servers=http://{HOST}:{self.kine_port}",
            f"--bind-address={HOST}", f"--advertise-address={HOST}", f"--secure-port={self.port}",
            f"--tls-cert-file={self.tls_cert}", f"--tls-private-key-file={self.tls_key}",
            f"--client-ca-file={self.ca_file}", f"--token-auth-file={self.tokens}",
            "--authorization-mode=RBAC", "--anonymous-auth=false",
            f"--service-account-issuer={self.url}", f"--service-account-key-file={self.sa_pub}",
            f"--service-account-signing-key-file={self.sa_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}", "--allow-privileged=true",
            "--disable-admission-plugins=ServiceAccount", "--endpoint-reconciler-type=none",
            "--enable-priority-and-fairness=false", "--profiling=false",
            f"--cert-dir={self.dir / 'pki'}",
        ])
        self._wait("kube-apiserver", self._api_ready)
        self.timings["kube-apiserver"] = time.monotonic() - t0
        self.admin_kubeconfig = self.kubeconfig(self.dir / "admin.kubeconfig", {ADMIN_USER: self.admin_token},
                                                {"admin": (ADMIN_USER, None)}, "admin")
        kc = str(self.admin_kubeconfig)
        self._spawn("kube-controller-manager", [
            str(self.bin.controller_manager), f"--kubeconfig={kc}", "--secure-port=0", "--leader-elect=false",
            f"--root-ca-file={self.ca_file}", f"--service-account-private-key-file={self.sa_key}",
            "--use-service-account-credentials=false", "--kube-api-qps=500", "--kube-api-burst=1000",
            f"--service-cluster-ip-range={SERVICE_CIDR}", "--controllers=*,-nodeipam,-cloud-node-lifecycle",
            "--concurrent-deployment-syncs=5", "--node-monitor-grace-period=2m",
        ])
        self._spawn("kube-scheduler", [str(self.bin.scheduler), f"--kubeconfig={kc}", "--secure-port=0",
                                       "--leader-elect=false", "--kube-api-qps=500", "--kube-api-burst=1000"])
        self.kwok_port = free_port()
        self._spawn("kwok", [str(self.bin.kwok), f"--kubeconfig={kc}",
                             "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                             f"--config={self.kwok_config()}", f"--server-address={HOST}:{self.kwok_port}",
                             f"--cidr={POD_CIDR}", "--node-ip=10.240.0.1"])
        # The other three have no port to poll: they are up when they have not died and the API sees them act
        # (the bootstrap waits for the default ServiceAccount and for Ready nodes, each with a deadline).
        for name in ("kube-controller-manager", "kube-scheduler", "kwok"):
            proc = dict(self.procs)[name]
            if proc.poll() is not None:
                raise StartError(f"{name} exited with {proc.returncode}; its log ends:\n{self._tail(name)}")
        self.timings["processes"] = time.monotonic() - t0

    def kwok_config(self) -> Path:
        from sandbox.cluster.stages import write_config

        return write_config(self.dir / "kwok.yaml")

    def alive(self) -> dict[str, int | None]:
        return {name: proc.poll() for name, proc in self.procs}

    def stop(self, timeout: float = 3.0) -> None:
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for _name, proc in reversed(self.procs):
            try:
                proc.wait(max(deadline - time.monotonic(), 0.05))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(2)
        self.procs = []
        if getattr(self, "db_dir", None) is not None:
            shutil.rmtree(self.db_dir, ignore_errors=True)
