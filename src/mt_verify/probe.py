"""HTTP probes: every request has explicit per-phase timeouts and a total deadline, is timed against its
latency budget, and is remembered (redacted) so that a failed check can show the exchange.

The one boundary where httpx's errors become verdicts. Reachability is judged per host and per check:

- the host answered badly (an HTTP error status, garbage, a reset, a read that hangs or drips past the deadline,
  a TLS handshake that fails or hangs after the TCP connection was made, plain HTTP on the https port):
  the application's failure;
- the host refuses or drops the connection while another configured host of the environment answers (the
  runner evidently has a network): the application's failure too ("the API is down");
- no configured host can be reached at all (DNS fails for every host, or every connect does):
  :class:`~mt_verify.errors.TargetUnreachable`, a suite error (the runner cannot look; never a rollback).

A request over its latency budget is measured again (at most twice, with a short back-off) and fails only when the
median of its samples is over budget; a re-measured pass is a note (:mod:`mt_verify.notes`).
"""

from __future__ import annotations

import json
import socket
import ssl
import statistics
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import httpx

from mt_verify import nextsteps
from mt_verify.config import Environment
from mt_verify.errors import TargetUnreachable
from mt_verify.notes import note
from mt_verify.outcome import check, fail, warn
from mt_verify.redact import redact_headers, redact_text
from mt_verify.release import ServedRelease

#: Cap on a body kept for a report or read for JSON: a hostile target cannot exhaust memory.
MAX_BODY = 2 * 1024 * 1024
#: A request over its latency budget is measured this many more times; the median decides.
REMEASURE = 2
#: Pauses before each extra sample (seconds): a busy runner gets a moment to breathe.
REMEASURE_BACKOFF = (0.1, 0.3)
#: Methods that may be sent again to re-measure (the others are judged on their one sample, as a warning).
IDEMPOTENT = ("GET", "HEAD", "OPTIONS")
#: At most this many prefetched requests in flight at once (one client, one connection pool).
PREFETCH_CONCURRENCY = 8

#: A request a tier sends ahead: (url, token, params); always a GET.
Ahead = tuple[str, "str | None", "dict[str, Any] | None"]


def _key(method: str, url: str, token: str | None, params: dict[str, Any] | None,
         json_body: Any = None) -> tuple[Any, ...]:
    body = None if json_body is None else json.dumps(json_body, sort_keys=True)
    return method, url, token, tuple(sorted((params or {}).items())), body


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


class Reachability:
    """Which of the environment's hosts accept a TCP connection, asked when a connection fails.

    ``roles`` names each host:port for messages ("the API", "the site")."""

    def __init__(self, environment: Environment) -> None:
        self.env = environment
        self.timeout = min(environment.http.timeout, 5.0)
        self.roles: dict[tuple[str, int], str] = {}
        for url in (environment.site.url, *environment.site.extra_urls, *environment.site.redirects):
            self.roles.setdefault(_host_port(url), "the site")
        self.roles.setdefault(_host_port(environment.api.url), "the API")
        for host in environment.tls.hosts:
            name, _, port = host.partition(":")
            self.roles.setdefault((name, int(port) if port.isdigit() else environment.tls.port), "the site")

    def connects(self, host: str, port: int) -> str | None:
        """None when a TCP connection to ``host:port`` opens, else why not (one line)."""
        try:
            socket.create_connection((host, port), timeout=self.timeout).close()
            return None
        except OSError as exc:
            return _os_reason(exc)

    def other_answering(self, host: str, port: int) -> tuple[str, int] | None:
        """Another configured host:port that accepts a connection now, or None."""
        for other in self.roles:
            if other != (host, port) and self.connects(*other) is None:
                return other
        return None

    def role(self, host: str, port: int) -> str:
        return self.roles.get((host, port), f"{host}:{port}")

    def require_any(self) -> None:
        """A suite error when no configured host can be reached at all: nothing can be checked from here."""
        reasons: list[str] = []
        for host, port in self.roles:
            why = self.connects(host, port)
            if why is None:
                return
            reasons.append(f"{host}:{port} ({why})")
        raise TargetUnreachable(
            f"[{self.env.name}] no configured host can be reached: {'; '.join(reasons)}. The runner has no route "
            "to the environment (network, DNS, VPN or wrong URLs in the environment file); nothing was checked.")


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return f"DNS: {exc.strerror or exc}"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "connect timed out"
    return exc.strerror or str(exc) or type(exc).__name__


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


@lru_cache(maxsize=8)
def ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """One context per CA file for the process (loading the system roots costs ~20 ms a client)."""
    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()


class Probe:
    """A client bound to one environment: ``probe.get(url)`` returns a checked :class:`Exchange`."""

    def __init__(self, environment: Environment, *, transport: httpx.BaseTransport | None = None) -> None:
        self.env = environment
        http = environment.http
        self.history: list[Exchange] = []
        self.reachability = Reachability(environment)
        #: Hosts (``host:port``) that did not answer a request at all within ``http.timeout``, with what was asked:
        #: later checks against them fail at once instead of each waiting out its own timeout.
        self.hung: dict[str, str] = {}
        #: Told, once per host, that its checks will now fail fast (the plugin's ``announce``).
        self.say: Callable[[str], None] | None = None
        #: Answers sent ahead (:meth:`prefetch`), each taken by the first request that asks the same thing.
        self._ahead: dict[tuple[Any, ...], list[Future[Exchange]]] = {}
        self._ahead_lock = threading.Lock()  # follow-ups (prefetch_post's ``then``) are added from the pool
        self._pool: ThreadPoolExecutor | None = None
        self._client = httpx.Client(
            timeout=httpx.Timeout(http.timeout, connect=min(http.timeout, 5.0)),
            verify=ssl_context(http.ca_file),
            follow_redirects=False,
            headers={"User-Agent": "mt-verify"},
            transport=transport,
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def prefetch(self, requests: Iterable[Ahead], *, once: bool = False,
                 then: Callable[[list[Exchange]], Iterable[Ahead]] | None = None) -> None:
        """Send independent GETs now, at most :data:`PREFETCH_CONCURRENCY` at a time, and return at once.

        Each answer waits for the check that asks for it: the first :meth:`request` with the same method, URL,
        token and params takes it (once; a later one is sent live), appends it to ``history`` then (so a failed
        check's evidence is its own exchanges) and judges it exactly as a live answer: its latency against the
        budget, re-measured live when over; a connection that failed raises the same verdict, in that check. So
        every check still asserts its own answer with its own message, and fails under exactly its fault; only
        the waiting overlaps. ``once``: a GET already waiting to be taken is not sent again. ``then(answers)``:
        the GETs that needed all of these answers (in the order asked), prefetched the moment the last arrives;
        nothing when one failed."""
        pool = self._started_pool()
        batch: list[Future[Exchange]] = []
        for url, token, params in requests:
            key = _key("GET", url, token, params)
            with self._ahead_lock:
                if once and self._ahead.get(key):
                    batch.append(self._ahead[key][0])
                    continue
                future = pool.submit(self._send, "GET", url, token=token, params=params, json_body=None,
                                     headers=None)
                self._ahead.setdefault(key, []).append(future)
            batch.append(future)
        if then is not None and batch:
            self._follow(batch, then)

    def _follow(self, batch: list[Future[Exchange]], then: Callable[[list[Exchange]], Iterable[Ahead]]) -> None:
        """Prefetch ``then(answers)`` once every future of ``batch`` is done (from the thread of the last)."""
        left = [len(batch)]
        lock = threading.Lock()

        def one_done(_: Future[Exchange]) -> None:
            with lock:
                left[0] -= 1
                if left[0]:
                    return
            if any(f.cancelled() or f.exception() is not None for f in batch):
                return  # the checks that take them report it
            try:
                self.prefetch(then([f.result() for f in batch]), once=True)
            except (AssertionError, RuntimeError):  # an answer the follow-up cannot use (fail()), a pool shut
                pass  # down at the end: nothing is sent ahead; the checks send and judge their own requests

        for future in batch:
            future.add_done_callback(one_done)

    def prefetch_post(self, url: str, json_body: Any,
                      then: Callable[[Exchange], Iterable[Ahead]] | None = None) -> None:
        """Send one POST now (a sign-in the tier is certain to make first): taken as :meth:`prefetch`'s GETs are,
        by the first request with the same URL and body; never re-sent (a write is judged on its one sample).
        ``then(answer)``: the GETs that needed this answer (a token), prefetched the moment it arrives; nothing
        when the POST failed."""
        future = self._started_pool().submit(self._send, "POST", url, token=None, params=None,
                                             json_body=json_body, headers=None)
        with self._ahead_lock:
            self._ahead.setdefault(_key("POST", url, None, None, json_body), []).append(future)
        if then is not None:
            follow = then
            self._follow([future], lambda answers: follow(answers[0]))

    def _started_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(PREFETCH_CONCURRENCY, thread_name_prefix="mt-prefetch")
        return self._pool

    def _taken(self, method: str, url: str, token: str | None, params: dict[str, Any] | None,
               json_body: Any, headers: dict[str, str] | None) -> Future[Exchange] | None:
        if headers or not self._ahead:
            return None
        with self._ahead_lock:
            waiting = self._ahead.get(_key(method, url, token, params, json_body))
            return waiting.pop(0) if waiting else None

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
        ahead = self._taken(method, url, token, params, json_body, headers)
        if ahead is not None:
            ex = ahead.result()  # bounded: _send keeps its own total deadline (http.timeout); raises its verdict
        else:
            ex = self._send(method, url, token=token, params=params, json_body=json_body, headers=headers)
        self.history.append(ex)
        if check_latency:
            self.check_latency(ex, budget, again=lambda: self._send(method, url, token=token, params=params,
                                                                     json_body=json_body, headers=headers))
        return ex

    def _send(self, method: str, url: str, *, token: str | None, params: dict[str, Any] | None, json_body: Any,
              headers: dict[str, str] | None) -> Exchange:
        """One request with a total deadline (``http.timeout``) over its per-phase timeouts: a server that drips
        one byte at a time is cut off when the deadline passes."""
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        name = self.env.name
        deadline_s = self.env.http.timeout
        host, port = _host_port(url)
        where = f"{host}:{port}"
        if where in self.hung:
            fail(name, f"{method} {url}", f"an answer within {deadline_s:g} s",
                 f"no answer: {where} already hung this run ({self.hung[where]}); not waited for again",
                 next_step=f"the host accepts connections but does not answer: curl -sv -m {deadline_s:g} {url}; "
                           f"{nextsteps.kubectl(self.env, 'get pods')}")
        expired = threading.Event()
        answered = False
        start = time.perf_counter()
        try:
            with self._client.stream(method, url, params=params, json=json_body, headers=hdrs) as resp:
                answered = True
                def cut() -> None:
                    expired.set()
                    resp.close()

                left = deadline_s - (time.perf_counter() - start)
                timer = threading.Timer(max(left, 0.0), cut)
                timer.daemon = True
                timer.start()
                try:
                    body, truncated = _read_capped(resp)
                finally:
                    timer.cancel()
                elapsed = time.perf_counter() - start
                full_url = str(resp.request.url)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            if isinstance(exc, httpx.ConnectTimeout):
                self._hangs(where, f"{method} {url}: no connection within {time.perf_counter() - start:.1f} s")
            self._connect_failed(method, url, exc)
        except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError,
                httpx.StreamClosed) as exc:
            took = time.perf_counter() - start
            if not answered and isinstance(exc, httpx.TimeoutException):
                self._hangs(where, f"{method} {url}: no answer in {took:.1f} s")
                fail(name, f"{method} {url}", f"an answer within {deadline_s:g} s (http.timeout)",
                     f"no answer after {took:.1f} s (the connection was accepted)",
                     next_step=f"the host accepts connections but does not answer: curl -sv -m {deadline_s:g} {url}")
            if expired.is_set() or took >= deadline_s:
                fail(name, f"{method} {url}", f"a complete answer within {deadline_s:g} s (http.timeout)",
                     f"the body still arriving after {took:.1f} s",
                     next_step=f"the server sends its answer too slowly: curl -sS -o /dev/null -w '%{{time_total}}' "
                               f"{url}")
            if isinstance(exc, httpx.TimeoutException):
                fail(name, f"{method} {url}", f"an answer within {deadline_s:g} s", "no answer (read timed out)")
            fail(name, f"{method} {url}", "a well-formed HTTP answer", f"{type(exc).__name__}: {_reason(exc)}")
        return Exchange(name, method, full_url, resp.status_code, resp.headers, body, elapsed,
                        request_headers={**dict(resp.request.headers)}, truncated=truncated)

    def _hangs(self, where: str, what: str) -> None:
        if where in self.hung:
            return
        self.hung[where] = what
        if self.say is not None:
            self.say(f"[{self.env.name}] {where} did not answer ({what}): its remaining checks fail at once")

    def _connect_failed(self, method: str, url: str, exc: Exception) -> None:
        """A connection that did not get as far as HTTP: whose fault is it? (See the module docstring.)"""
        name = self.env.name
        resource = f"{method} {url}"
        tls_error = _tls_verify_error(exc)
        if tls_error:
            fail(name, resource, "a certificate that verifies", tls_error,
                 next_step="check the certificate (expiry, hosts, issuer): the TLS check says more")
        host, port = _host_port(url)
        reach = self.reachability
        refused = reach.connects(host, port)
        if refused is None:
            # TCP is fine, so the host answered: the TLS handshake (or the protocol spoken) is what broke.
            what = "a TLS handshake that hung" if isinstance(exc, httpx.ConnectTimeout) else \
                f"a failed TLS or HTTP handshake ({_reason(exc)})"
            fail(name, resource, "a TLS handshake and an HTTP answer", what + " after the TCP connection was made",
                 next_step=f"the port answers but not with TLS/HTTP: openssl s_client -connect {host}:{port} "
                           f"-servername {host}; check the ingress/load balancer on that port")
        other = reach.other_answering(host, port)
        if other is None:
            reach.require_any()  # raises TargetUnreachable: nothing answers, the runner cannot look
        role = reach.role(host, port)
        fail(name, resource, f"a connection to {role} at {host}:{port}",
             f"{refused} while {reach.role(*other)} ({other[0]}:{other[1]}) answers: {role} is down"
             if other else refused,
             next_step=f"{role} does not accept connections: "
                       f"{nextsteps.kubectl(self.env, 'get pods,svc,endpoints')}; curl -sv {url}")

    def get(self, url: str, **kwargs: Any) -> Exchange:
        return self.request("GET", url, **kwargs)

    def check_latency(self, ex: Exchange, budget: float | None = None,
                      again: Any = None) -> None:
        """Over budget: measure again (``again()``, at most :data:`REMEASURE` times) and judge the median, so that
        one slow sample on a busy runner is not an outage; the failure lists every sample."""
        limit = budget if budget is not None else self.budget(ex.url)
        soft = self.env.http.latency_warn
        samples = [ex.elapsed]
        if ex.elapsed > limit and again is not None and ex.method in IDEMPOTENT:
            for pause in REMEASURE_BACKOFF[:REMEASURE]:
                threading.Event().wait(pause)  # a bounded back-off between samples
                try:
                    samples.append(again().elapsed)
                except AssertionError:
                    break  # the host stopped answering: judge the samples there are
                if statistics.median(samples) <= limit and len(samples) >= 2:
                    break
        judged = statistics.median(samples)
        shown = ", ".join(f"{s:.2f}" for s in samples) + " s"
        if judged > limit and ex.method not in IDEMPOTENT:
            # One sample of a write (a login, a delete) cannot be re-measured safely: reported, never red.
            warn(self.env.name, f"{ex.method} {ex.url}", f"answered in {judged:.2f} s, over the {limit:g} s budget "
                 "(one sample of a request that is not re-sent)")
            return
        if judged > limit:
            fail(self.env.name, f"{ex.method} {ex.url}", f"an answer within {limit:g} s (latency budget)",
                 f"{judged:.2f} s (median of {len(samples)} sample(s): {shown})" if len(samples) > 1
                 else f"{judged:.2f} s",
                 next_step="look at backend latency (pod CPU, DB round trips) "
                 "or raise http.latency for this path if the budget is wrong")
        if len(samples) > 1:
            note("latency-remeasured", f"{ex.method} {ex.url}: {samples[0]:.2f} s over the {limit:g} s budget; "
                                       f"samples {shown}, median {judged:.2f} s")
        if soft is not None and judged > soft:
            warn(self.env.name, f"{ex.method} {ex.url}",
                 f"answered in {judged:.2f} s, over the soft budget {soft:g} s")


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
