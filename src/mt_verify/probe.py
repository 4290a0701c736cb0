"""HTTP probes: every request has explicit timeouts, is timed against its latency budget, and
is remembered (redacted) so that a failed check can show the exchange.

A target that cannot be connected to at all is a :class:`~mt_verify.outcome.SuiteError`
(the suite could not look), never a failed check; anything the server answers badly,
including a read timeout after it accepted the connection, is a failed check.
"""

from __future__ import annotations

import json
import ssl
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from mt_verify.config import Environment
from mt_verify.outcome import SuiteError, check, fail, warn
from mt_verify.redact import redact_headers, redact_text
from mt_verify.release import ServedRelease

#: Cap on a body kept for a report or read for JSON: a hostile target cannot exhaust memory.
MAX_BODY = 2 * 1024 * 1024


@dataclass
class Exchange:
    """One request and its answer, timed."""

    env: str
    method: str
    url: str
    status: int
    headers: httpx.Headers
    body: bytes
    elapsed: float
    request_headers: dict[str, str] = field(default_factory=dict)
    truncated: bool = False

    @property
    def status_code(self) -> int:
        return self.status

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        """The body as JSON; a body that is not JSON fails the check, saying what came instead."""
        if self.truncated:
            fail(self.env, f"{self.method} {self.url}", f"a JSON body under {MAX_BODY} bytes",
                 "a body larger than that")
        try:
            return json.loads(self.body)
        except ValueError:
            what = f"{self.content_type or 'no content type'} body {self.text[:80]!r}" if self.body else "an empty body"
            fail(self.env, f"{self.method} {self.url}", "a JSON body", what,
                 details=f"HTTP {self.status}, {len(self.body)} bytes")

    def json_object(self) -> dict[str, Any]:
        data = self.json()
        if not isinstance(data, dict):
            fail(self.env, f"{self.method} {self.url}", "a JSON object", type(data).__name__)
        return data

    def describe(self) -> str:
        """The exchange as text for a report, with credentials redacted."""
        req = "\n".join(f"{k}: {v}" for k, v in redact_headers(self.request_headers).items())
        res = "\n".join(f"{k}: {v}" for k, v in redact_headers(dict(self.headers)).items())
        return (
            f"{self.method} {self.url}\n{req}\n\n"
            f"HTTP {self.status} ({self.elapsed * 1000:.0f} ms)\n{res}\n\n{redact_text(self.text[:4000])}"
        )


def ssl_context(ca_file: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()


class Probe:
    """A client bound to one environment: ``probe.get(url)`` returns a checked :class:`Exchange`."""

    def __init__(self, environment: Environment, *, transport: httpx.BaseTransport | None = None) -> None:
        self.env = environment
        http = environment.http
        self.history: list[Exchange] = []
        self._client = httpx.Client(
            timeout=httpx.Timeout(http.timeout, connect=min(http.timeout, 5.0)),
            verify=ssl_context(http.ca_file),
            follow_redirects=False,
            headers={"User-Agent": "mt-verify"},
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def budget(self, url: str) -> float:
        return self.env.http.budget_for(urlsplit(url).path or "/")

    def request(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        budget: float | None = None,
        check_latency: bool = True,
    ) -> Exchange:
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        name = self.env.name
        start = time.perf_counter()
        try:
            with self._client.stream(method, url, params=params, json=json_body, headers=hdrs) as resp:
                body, truncated = _read_capped(resp)
                elapsed = time.perf_counter() - start
                full_url = str(resp.request.url)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            tls_error = _tls_verify_error(exc)
            if tls_error:
                fail(name, f"{method} {url}", "a certificate that verifies", tls_error,
                     next_step="check the certificate (expiry, hosts, issuer): the TLS check says more")
            raise SuiteError(
                f"[{name}] cannot connect to {url}: {_reason(exc)}. The target is unreachable from here "
                "(network, DNS, VPN or a wrong URL in the environment file); nothing was checked."
            ) from None
        except httpx.TimeoutException:
            fail(name, f"{method} {url}", f"an answer within {self.env.http.timeout:g} s",
                 "no answer (read timed out)")
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            fail(name, f"{method} {url}", "a well-formed HTTP answer", f"{type(exc).__name__}: {_reason(exc)}")
        ex = Exchange(name, method, full_url, resp.status_code, resp.headers, body, elapsed,
                      request_headers={**dict(resp.request.headers)}, truncated=truncated)
        self.history.append(ex)
        if check_latency:
            self.check_latency(ex, budget)
        return ex

    def get(self, url: str, **kwargs: Any) -> Exchange:
        return self.request("GET", url, **kwargs)

    def check_latency(self, ex: Exchange, budget: float | None = None) -> None:
        limit = budget if budget is not None else self.budget(ex.url)
        if ex.elapsed > limit:
            fail(self.env.name, f"{ex.method} {ex.url}", f"an answer within {limit:g} s (latency budget)",
                 f"{ex.elapsed:.2f} s", next_step="look at backend latency (pod CPU, DB round trips) "
                 "or raise http.latency for this path if the budget is wrong")
        soft = self.env.http.latency_warn
        if soft is not None and ex.elapsed > soft:
            warn(self.env.name, f"{ex.method} {ex.url}",
                 f"answered in {ex.elapsed:.2f} s, over the soft budget {soft:g} s")


def _read_capped(resp: httpx.Response) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    for chunk in resp.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY:
            return b"".join(chunks)[:MAX_BODY], True
    return b"".join(chunks), False


def _tls_verify_error(exc: BaseException) -> str | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen.verify_message or str(seen)
        seen = seen.__cause__ or seen.__context__
    return None


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


def expect_status(ex: Exchange, status: int, *, next_step: str | None = None) -> None:
    check(ex.status == status, ex.env, f"{ex.method} {ex.url}", f"HTTP {status}",
          f"HTTP {ex.status} {ex.text[:120]!r}", next_step=next_step)


def served_release_of(api: ApiClient, env_name: str) -> ServedRelease:
    """What ``/api/version`` says is running; an answer that is not a release fails the check."""
    ex = api.get("/api/version")
    if ex.status != 200:
        fail(env_name, ex.url, "HTTP 200 with the served release", f"HTTP {ex.status}")
    body = ex.json_object()
    if not isinstance(body.get("version"), str):
        fail(env_name, ex.url, "a 'version' string", body.get("version"))

    def opt(value: object) -> str | None:
        return value if isinstance(value, str) and value else None

    return ServedRelease(version=body["version"], build_id=opt(body.get("build_id")),
                         commit_sha=opt(body.get("commit_sha")), environment=opt(body.get("environment")),
                         build_date=opt(body.get("build_date")))


class ApiClient:
    """The backend, addressed by path: ``api.get("/api/table", params=..., token=...)``."""

    def __init__(self, probe: Probe, base_url: str) -> None:
        self.probe = probe
        self.base_url = base_url.rstrip("/")

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def get(self, path: str, **kwargs: Any) -> Exchange:
        return self.probe.request("GET", self.url(path), **kwargs)

    def post(self, path: str, json_body: Any = None, **kwargs: Any) -> Exchange:
        return self.probe.request("POST", self.url(path), json_body=json_body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Exchange:
        return self.probe.request("DELETE", self.url(path), **kwargs)


def require_reachable(env: Environment, urls: list[str]) -> None:
    """One TCP connect per host before the checks: an unreachable target is one clear suite error,
    not a row of failed checks (and never a reason to roll back)."""
    import socket

    seen: set[tuple[str, int]] = set()
    for url in urls:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
        if (host, port) in seen:
            continue
        seen.add((host, port))
        try:
            socket.create_connection((host, port), timeout=min(env.http.timeout, 5.0)).close()
        except OSError as exc:
            raise SuiteError(
                f"[{env.name}] cannot connect to {host}:{port} ({url}): {exc.strerror or exc}. The target is "
                "unreachable from here (network, DNS, VPN or a wrong URL in the environment file); nothing was checked."
            ) from None
