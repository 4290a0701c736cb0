"""One HTTP request delivered with a total deadline and a bounded number of retries (webhooks, Pushgateway).

Why not httpx's timeouts alone: they bound each phase of inactivity, not the whole delivery, so a receiver that
drips bytes could hold a run for ever. Each attempt runs in a daemon thread joined for what is left of the
deadline; an attempt still running then is abandoned (it dies with the process) and the delivery has failed.

Retried: connection errors, timeouts, HTTP 429 (honouring ``Retry-After`` when it fits the deadline) and 5xx.
Not retried: other 4xx (the receiver refused the message; sending it again will not help). The back-off doubles
from ``backoff_s``. Error texts never contain the URL, a header or the body: a webhook URL is a secret.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx


@dataclass
class Outcome:
    ok: bool
    attempts: int
    duration_s: float
    status: int | None = None
    #: One line, no URL: ``HTTP 500``, ``timed out``, ``ConnectError``, ``deadline of 10 s reached``.
    error: str = ""


def _attempt(method: str, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> tuple[int | None,
                                                                                                       str, str]:
    """(status, Retry-After, error) of one request; error is empty on an answer."""
    try:
        with httpx.Client(timeout=httpx.Timeout(timeout_s), follow_redirects=False, trust_env=False) as client:
            response = client.request(method, url, content=body, headers=dict(headers))
            return response.status_code, response.headers.get("retry-after", ""), ""
    except httpx.TimeoutException:
        return None, "", "timed out"
    except httpx.HTTPError as exc:  # the message may carry the URL: name the kind only
        return None, "", type(exc).__name__
    except Exception as exc:  # a malformed URL, say: still never the URL itself
        return None, "", type(exc).__name__


def send(method: str, url: str, body: bytes, headers: Mapping[str, str], *, timeout_s: float, retries: int,
         backoff_s: float, wait: Callable[[float], object] | None = None) -> Outcome:
    """Deliver one request within ``timeout_s`` in total; never raises."""
    wait = wait or threading.Event().wait
    started = time.monotonic()
    deadline = started + timeout_s
    attempts = 0
    error = ""
    status: int | None = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            error = error or f"deadline of {timeout_s:g} s reached"
            break
        attempts += 1
        box: list[tuple[int | None, str, str]] = []
        worker = threading.Thread(target=lambda b=box, t=left: b.append(_attempt(method, url, body, headers, t)),
                                  name="mt-verify-delivery", daemon=True)
        worker.start()
        worker.join(left)
        if not box:
            error = f"no answer within the deadline of {timeout_s:g} s"
            break
        status, retry_after, error = box[0]
        if status is not None and 200 <= status < 300:
            return Outcome(True, attempts, time.monotonic() - started, status)
        if status is not None:
            error = f"HTTP {status}"
        retryable = status is None or status == 429 or status >= 500
        if not retryable or attempts > retries:
            break
        pause = backoff_s * 2 ** (attempts - 1)
        if status == 429 and retry_after.strip().isdigit():
            pause = max(pause, float(retry_after.strip()))
        if time.monotonic() + pause >= deadline:
            error += f"; no time left for another attempt within {timeout_s:g} s"
            break
        wait(pause)
    return Outcome(False, attempts, time.monotonic() - started, status, error)
