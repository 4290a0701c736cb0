"""Whose fault is it? The probe against small hostile servers on 127.0.0.1 (no sandbox): a host that refuses while
another answers, a TLS handshake that hangs, plain HTTP on the https port, a body that drips past the deadline,
and one slow sample on a busy runner."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mt_verify import config as cfg
from mt_verify import notes
from mt_verify.errors import CheckFailed, TargetUnreachable
from mt_verify.probe import Probe


class _Handler(BaseHTTPRequestHandler):
    slow: list[float] = []  # per request: seconds to wait before answering (popped), shared per server class

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/drip":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                if self.server.stop.wait(0.5):  # type: ignore[attr-defined]
                    return
            return
        delays = type(self).slow
        if delays:
            self.server.stop.wait(delays.pop(0))  # type: ignore[attr-defined]
        body = b'{"status": "healthy"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def http_server() -> Iterator[ThreadingHTTPServer]:
    class Handler(_Handler):
        slow = []

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.stop = threading.Event()  # type: ignore[attr-defined]
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.stop.set()  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Accepts TCP connections and never says a word (a TLS handshake hangs)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env(site: str, api: str, *, timeout: float = 2.0, budget: float = 1.0) -> cfg.Environment:
    return cfg.validate({"name": "probe-test", "site": {"url": site}, "api": {"url": api},
                         "http": {"timeout": timeout, "latency_budget": budget}}, Path("probe-test.yaml"))


def test_api_refusing_while_the_site_answers_is_the_applications_failure(http_server: ThreadingHTTPServer) -> None:
    site = f"http://127.0.0.1:{http_server.server_port}"
    api = f"http://127.0.0.1:{closed_port()}"
    with Probe(env(site, api)) as probe, pytest.raises(CheckFailed) as caught:
        probe.get(api + "/health")
    first = str(caught.value).splitlines()[0]
    assert first.startswith("[probe-test] GET " + api + "/health: expected a connection to the API")
    assert "while the site" in first and "the API is down" in first
    with Probe(env(site, api)) as probe:
        assert probe.get(site + "/health").status == 200  # the site's checks do not depend on the API


def test_nothing_answering_is_a_suite_error() -> None:
    site, api = f"http://127.0.0.1:{closed_port()}", f"http://127.0.0.1:{closed_port()}"
    with Probe(env(site, api)) as probe, pytest.raises(TargetUnreachable, match="no configured host can be reached"):
        probe.get(api + "/health")


def test_a_tls_handshake_that_hangs_is_the_applications_failure(http_server: ThreadingHTTPServer,
                                                               silent_port: int) -> None:
    site = f"http://127.0.0.1:{http_server.server_port}"
    api = f"https://127.0.0.1:{silent_port}"
    started = time.monotonic()
    with Probe(env(site, api, timeout=1.0)) as probe, pytest.raises(CheckFailed, match="handshake that hung"):
        probe.get(api + "/health")
    assert time.monotonic() - started < 5


def test_plain_http_on_the_https_port_is_the_applications_failure(http_server: ThreadingHTTPServer) -> None:
    url = f"https://127.0.0.1:{http_server.server_port}"
    with Probe(env(url, url)) as probe, pytest.raises(CheckFailed, match="after the TCP connection was made"):
        probe.get(url + "/health")


def test_a_dripping_body_ends_at_the_total_deadline(http_server: ThreadingHTTPServer) -> None:
    url = f"http://127.0.0.1:{http_server.server_port}"
    started = time.monotonic()
    with Probe(env(url, url, timeout=1.5)) as probe, pytest.raises(CheckFailed, match="still arriving"):
        probe.get(url + "/drip")
    took = time.monotonic() - started
    # The body drips for 50 s; the 1.5 s deadline cut it (slack for a loaded runner's scheduling, not for I/O).
    assert took < 5, f"the check took {took:.2f} s: the 1.5 s total deadline did not cut the 50 s body"


def test_one_slow_sample_is_measured_again_and_noted(http_server: ThreadingHTTPServer) -> None:
    url = f"http://127.0.0.1:{http_server.server_port}"
    http_server.RequestHandlerClass.slow = [0.6]  # type: ignore[attr-defined]
    notes.drain()
    with Probe(env(url, url, budget=0.3)) as probe:
        assert probe.get(url + "/health").status == 200
    taken = notes.drain()
    assert [n.kind for n in taken] == ["latency-remeasured"] and "median" in taken[0].text


def test_a_slow_endpoint_fails_on_the_median_listing_every_sample(http_server: ThreadingHTTPServer) -> None:
    url = f"http://127.0.0.1:{http_server.server_port}"
    http_server.RequestHandlerClass.slow = [0.5, 0.5, 0.5]  # type: ignore[attr-defined]
    with Probe(env(url, url, budget=0.3)) as probe, pytest.raises(CheckFailed) as caught:
        probe.get(url + "/health")
    first = str(caught.value).splitlines()[0]
    assert "latency budget" in first and "median of 3 sample(s)" in first


def test_a_host_known_to_hang_fails_its_next_checks_at_once(silent_port: int) -> None:
    url = f"http://127.0.0.1:{silent_port}"
    said: list[str] = []
    with Probe(env(url, url, timeout=1.0)) as probe:
        probe.say = said.append
        with pytest.raises(CheckFailed, match="no answer after"):
            probe.get(url + "/health")
        started = time.monotonic()
        for path in ("/api/version", "/health/full"):
            with pytest.raises(CheckFailed) as caught:
                probe.get(url + path)
            first = str(caught.value).splitlines()[0]
            assert f"127.0.0.1:{silent_port} already hung this run (GET {url}/health: no answer in" in first
        assert time.monotonic() - started < 0.5
    assert len(said) == 1 and "its remaining checks fail at once" in said[0]
