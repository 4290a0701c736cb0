"""Receivers for the notification and metrics selftests: a local webhook (http.server) and a real Prometheus
Pushgateway (Debian's ``prometheus-pushgateway``), both on 127.0.0.1 and free ports.

The oracle of those tests is what these receive, parsed here independently of ``mt_verify``."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PUSHGATEWAY = "prometheus-pushgateway"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Webhook:
    """Answers each POST with the next status of ``script`` (then ``default``); ``hang`` never answers."""

    url: str
    received: list[Received] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    default: int = 200
    hang: threading.Event | None = None
    arrived: threading.Event = field(default_factory=threading.Event)


@contextmanager
def webhook(path: str = "/hooks/T000/B000/s3cr3t-token") -> Iterator[Webhook]:
    hook = Webhook(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hook.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            hook.arrived.set()
            if hook.hang is not None:
                hook.hang.wait(30)
                return
            status = hook.script.pop(0) if hook.script else hook.default
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hook.url = f"http://127.0.0.1:{server.server_port}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        if hook.hang is not None:
            hook.hang.set()
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def pushgateway(timeout_s: float = 20.0) -> Iterator[str]:
    """A real Pushgateway on 127.0.0.1; yields its base URL once ``/-/ready`` answers 200."""
    binary = shutil.which(PUSHGATEWAY)
    assert binary, (f"{PUSHGATEWAY} is not installed: bash scripts/setup.sh --install-only "
                    f"(or apt-get install -y {PUSHGATEWAY})")
    port = free_port()
    proc = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        pause = threading.Event()
        while True:
            try:
                with urllib.request.urlopen(base + "/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, f"{PUSHGATEWAY} exited {proc.returncode}: {proc.stderr.read()!r}"  # type: ignore[union-attr]
            assert time.monotonic() < deadline, f"{PUSHGATEWAY} not ready on {base} within {timeout_s:g} s"
            pause.wait(0.05)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(base: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample the Pushgateway exposes on ``/metrics``: (name, labels, value)."""
    with urllib.request.urlopen(base + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return parse(text)


def parse(text: str) -> list[tuple[str, dict[str, str], float]]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"not an exposition line: {line!r}"
        labels = {k: v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
                  for k, v in _LABEL.findall(m.group(2) or "")}
        out.append((m.group(1), labels, float(m.group(3))))
    return out
