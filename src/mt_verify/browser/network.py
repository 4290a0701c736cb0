"""Waiting for a page's requests to be over, from Playwright's request events (never by sleeping).

The app's fetches are not cancelled and its watchers act after each answer (contract §2.8), so "the form has
settled" means: no request of the kind that feeds it is in flight, and none started while the page ran one more
turn of its event loop. :class:`RequestTracker` counts requests from ``request`` / ``requestfinished`` /
``requestfailed`` events, registered when the tracker is made (make it before the action that sends them).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from playwright.sync_api import Page, Request
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

#: How long one wait for a ``requestfinished`` event lasts before the tracker looks again (a request that fails
#: ends with ``requestfailed``, which that wait does not see). Bounds a re-check, not the whole wait.
RECHECK_MS = 250
#: One more turn of the page's event loop: a frame, then a task (answers just received have been handled).
_SETTLE_TICK = "() => new Promise(resolve => requestAnimationFrame(() => setTimeout(() => resolve(null), 0)))"


class RequestTracker:
    """Requests of one page for which ``matches(request)`` holds: how many started, which are in flight."""

    def __init__(self, page: Page, matches: Callable[[Request], bool]) -> None:
        self.page = page
        self.matches = matches
        self.in_flight: set[Request] = set()
        self.started = 0
        self.urls: list[str] = []
        page.on("request", self._on_request)
        page.on("requestfinished", self._on_done)
        page.on("requestfailed", self._on_done)

    def _on_request(self, request: Request) -> None:
        if self.matches(request):
            self.in_flight.add(request)
            self.started += 1
            self.urls.append(request.url)

    def _on_done(self, request: Request) -> None:
        self.in_flight.discard(request)

    def wait_idle(self, timeout_ms: float) -> bool:
        """Return True once no matching request is in flight and none started during one more event-loop turn
        of the page; False when ``timeout_ms`` ran out first."""
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            while self.in_flight:
                remaining_ms = (deadline - time.monotonic()) * 1000
                if remaining_ms <= 0:
                    return False
                try:
                    self.page.wait_for_event("requestfinished", predicate=self.matches,
                                             timeout=max(1.0, min(remaining_ms, RECHECK_MS)))
                except PlaywrightTimeoutError:
                    pass  # still in flight, or it failed (requestfailed): look again
            started = self.started
            self.page.evaluate(_SETTLE_TICK)
            if self.started == started and not self.in_flight:
                return True
