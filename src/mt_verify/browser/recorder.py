"""Evidence of one browser context: console log, page errors, failed first-party requests, a Playwright trace
(in chunks: DOM snapshots of every action, and a filmstrip with ``--trace-screenshots``), a screenshot at the end
and, when enabled, a video. Kept only for a failed journey.

Secrets: tracing is paused (:meth:`Recorder.untraced`) while the password is typed and the login answers, and
every kept trace is rewritten with :func:`redact_zip` (known secrets, JWTs, token fields, Bearer headers masked)
before it leaves the private scratch folder. Screenshots show no secrets (the password field is masked by the
browser, tokens are never rendered); the console log is redacted as text.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from mt_verify.browser.console_policy import BrowserEvent
from mt_verify.redact import redact_text

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, ConsoleMessage, Request, Response, WebError

#: Empties every password input of a page (and of its same-origin frames) without events: the app sees nothing.
_CLEAR_PASSWORDS = """() => {
  const clear = (doc) => doc.querySelectorAll('input[type=password]').forEach((el) => { el.value = ''; });
  clear(document);
  for (const frame of document.querySelectorAll('iframe')) {
    try { clear(frame.contentDocument); } catch (e) { /* another origin */ }
  }
}"""

#: Screenshot and trace-export bound (ms) at teardown: evidence must never hang a run.
EVIDENCE_TIMEOUT_MS = 5000


def netloc(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


class Recorder:
    """Attach to a context right after creating it; call :meth:`save_evidence` for a failed journey and
    :meth:`close` at the end (it closes the context)."""

    _ids = itertools.count(1)

    def __init__(self, context: BrowserContext, *, scratch: Path, first_party: set[str], trace: bool = True,
                 video: bool = False, trace_screenshots: bool = False) -> None:
        self.context = context
        #: The trace's filmstrip (screencast frames); its DOM snapshots are always on.
        self.trace_screenshots = trace_screenshots
        self.scratch = scratch / f"context-{next(self._ids)}"
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.first_party = first_party
        self.video = video
        #: Every console message and page error, in order (``[type] text (url:line)``).
        self.log: list[str] = []
        self.console_errors: list[str] = []
        self.failed_requests: list[str] = []
        #: The same, structured, for the console policy (:mod:`mt_verify.browser.console_policy`).
        self.events: list[BrowserEvent] = []
        self._chunks: list[Path] = []
        self._tracing = False
        self._chunk_open = False
        context.on("console", self._on_console)
        context.on("weberror", self._on_weberror)
        context.on("requestfailed", self._on_request_failed)
        context.on("response", self._on_response)
        if trace:
            context.tracing.start(screenshots=self.trace_screenshots, snapshots=True, sources=False)
            self._tracing = self._chunk_open = True

    # -- what the page did ------------------------------------------------------------------------

    def is_first_party(self, url: str) -> bool:
        return urlsplit(url).scheme in ("http", "https") and netloc(url) in self.first_party

    def _on_console(self, msg: ConsoleMessage) -> None:
        loc = msg.location or {}
        where = f" ({loc.get('url')}:{loc.get('lineNumber')})" if loc.get("url") else ""
        line = f"[{msg.type}] {msg.text}{where}"
        self.log.append(line)
        self.events.append(BrowserEvent("console", msg.text, str(loc.get("url") or ""), level=msg.type))
        # A console error raised by a third-party resource (fonts, telemetry) is not the site's.
        if msg.type == "error" and (not loc.get("url") or self.is_first_party(str(loc.get("url")))):
            self.console_errors.append(line)

    def _on_weberror(self, error: WebError) -> None:
        line = f"[pageerror] {error.error}"
        self.log.append(line)
        self.events.append(BrowserEvent("pageerror", str(error.error)))
        self.console_errors.append(line)

    def _on_request_failed(self, request: Request) -> None:
        line = f"{request.method} {request.url}: {request.failure or 'failed'}"
        self.log.append(f"[requestfailed] {line}")
        self.events.append(BrowserEvent("requestfailed", request.failure or "failed", request.url,
                                        resource_type=request.resource_type, method=request.method))
        if self.is_first_party(request.url):
            self.failed_requests.append(line)

    def _on_response(self, response: Response) -> None:
        if response.status >= 400:
            line = f"{response.request.method} {response.url}: HTTP {response.status}"
            self.log.append(f"[response] {line}")
            self.events.append(BrowserEvent("response", f"HTTP {response.status}", response.url,
                                            resource_type=response.request.resource_type,
                                            status=response.status, method=response.request.method))
            if self.is_first_party(response.url):
                self.failed_requests.append(line)

    # -- tracing ----------------------------------------------------------------------------------

    def _stop_chunk(self) -> None:
        if self._chunk_open:
            path = self.scratch / f"trace-{len(self._chunks) + 1}.zip"
            self.context.tracing.stop_chunk(path=str(path))
            self._chunks.append(path)
            self._chunk_open = False

    def _start_chunk(self) -> None:
        if self._tracing and not self._chunk_open:
            self.context.tracing.start_chunk()
            self._chunk_open = True

    @contextmanager
    def untraced(self) -> Iterator[None]:
        """Nothing inside is traced (the password being typed, the login exchange that returns tokens).

        Tracing is stopped altogether, not just between chunks: Playwright's network recorder lives as long as the
        tracing session, and every chunk carries every request made since ``tracing.start()`` (with its body),
        a request made while only a chunk was closed included. A fresh start records only requests made after it.
        Before tracing starts again, password fields are emptied, so that no DOM snapshot holds one."""
        was_tracing = self._tracing
        if was_tracing:
            self._stop_chunk()
            self.context.tracing.stop()
            self._tracing = False
        try:
            yield
        finally:
            if was_tracing:
                self._forget_password_fields()
                self.context.tracing.start(screenshots=self.trace_screenshots, snapshots=True, sources=False)
                self._tracing = self._chunk_open = True

    def _forget_password_fields(self) -> None:
        from playwright.sync_api import Error as PlaywrightError

        for page in self.context.pages:
            try:
                page.evaluate(_CLEAR_PASSWORDS)
            except PlaywrightError:
                pass  # a page that is closing or navigating holds no form to snapshot

    # -- evidence ---------------------------------------------------------------------------------

    def save_evidence(self, dest: Path) -> list[Path]:
        """Screenshots of the open pages, the trace so far (redacted) and the console log, into ``dest``."""
        from playwright.sync_api import Error as PlaywrightError

        dest.mkdir(parents=True, exist_ok=True)
        saved: list[Path] = []
        problems: list[str] = []
        for n, page in enumerate(self.context.pages, start=1):
            path = dest / ("screenshot.png" if n == 1 else f"screenshot-{n}.png")
            try:
                page.screenshot(path=str(path), full_page=True, timeout=EVIDENCE_TIMEOUT_MS)
                saved.append(path)
            except PlaywrightError as exc:
                problems.append(f"screenshot of page {n} failed: {str(exc).splitlines()[0]}")
        if self._tracing:
            try:
                self._stop_chunk()
                self._start_chunk()
            except PlaywrightError as exc:
                problems.append(f"trace export failed: {str(exc).splitlines()[0]}")
        for n, chunk in enumerate(self._chunks, start=1):
            if chunk.exists():
                target = dest / ("trace.zip" if len(self._chunks) == 1 else f"trace-{n}.zip")
                redact_zip(chunk, target)
                saved.append(target)
        log = dest / "browser-console.log"
        body = "\n".join([*self.log, *(f"[mt-verify] {p}" for p in problems)]) or "(no console output)"
        log.write_text(redact_text(body) + "\n", encoding="utf-8")
        saved.append(log)
        return saved

    def close(self, *, keep_video_in: Path | None = None) -> list[Path]:
        """Stop tracing (discarding what was not saved), close the context, keep or drop the video."""
        from playwright.sync_api import Error as PlaywrightError

        pages = list(self.context.pages)
        try:
            if self._tracing:
                if self._chunk_open:
                    self.context.tracing.stop_chunk()
                    self._chunk_open = False
                self.context.tracing.stop()
                self._tracing = False
        except PlaywrightError:
            pass  # the browser is gone: there is nothing left to save
        try:
            self.context.close()
        except PlaywrightError:
            pass
        kept: list[Path] = []
        for n, page in enumerate(pages, start=1):
            video = page.video
            if video is None:
                continue
            try:
                source = Path(video.path())
            except PlaywrightError:
                continue
            if keep_video_in is not None and source.exists():
                target = keep_video_in / ("video.webm" if n == 1 else f"video-{n}.webm")
                keep_video_in.mkdir(parents=True, exist_ok=True)
                shutil.move(str(source), target)
                kept.append(target)
            else:
                source.unlink(missing_ok=True)
        shutil.rmtree(self.scratch, ignore_errors=True)
        return kept


def redact_zip(src: Path, dst: Path) -> None:
    """Copy a trace archive, masking secrets in every member (every encoding: :mod:`mt_verify.redact`)."""
    from mt_verify.redact import redact_zip as redact

    redact(src, dst)
