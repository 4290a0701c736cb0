"""What a page may say in the browser console, per environment (``smoke.console.allow``, contract §2.8).

The real app logs first-party noise on every healthy page load (a CSP ``<meta>`` with ``frame-ancestors``, a
security-event POST to a route the backend does not have, the Add Match form's 401 from ``/api/check-match``),
and its Google Fonts fail wherever the network is closed. A suite that fails on "any console error" fails every
healthy run; one that ignores the console misses a broken release. So:

===============================================  ===============================================================
always red (no entry can allow it)               an uncaught page error; a first-party script or stylesheet that
                                                 did not load; a first-party 5xx
red unless an entry allows it                    a first-party console error
yellow (``warn`` + ``note("third-party")``)      a third-party request or console error no entry allows
forgiven (``note("console-forgiven")``)          any line an entry allows (errors and warnings), counted
===============================================  ===============================================================

Every entry's matches are counted per process into the run folder (:mod:`mt_verify.allowlist_usage`); the
summary reports an entry no process matched in the whole run as stale (the app was fixed: the list can shrink).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mt_verify import allowlist_usage
from mt_verify.config import ConsoleAllow
from mt_verify.notes import note
from mt_verify.outcome import warn

#: The name of this allow-list in the run's usage files and stale notes.
LIST_NAME = "smoke.console.allow"
#: Resource types whose failure to load breaks the page (never allowable).
ASSET_TYPES = ("script", "stylesheet")
#: A request the browser itself cancelled (the page navigated or closed): nothing failed.
ABORTED = "net::ERR_ABORTED"

EventKind = Literal["console", "pageerror", "requestfailed", "response"]


@dataclass(frozen=True)
class BrowserEvent:
    """One thing a page did that the policy judges (recorded by :class:`~mt_verify.browser.recorder.Recorder`)."""

    kind: EventKind
    #: The text judged: a console line, a page error, a request's failure (``net::ERR_...``), ``HTTP 404``.
    text: str
    #: Where it comes from: the script that logged it, or the request's URL ("" when unknown).
    url: str = ""
    #: Console message type (``error``, ``warning``, ...); empty for other kinds.
    level: str = ""
    #: Playwright's resource type of a request (``script``, ``stylesheet``, ``fetch``, ...).
    resource_type: str = ""
    status: int | None = None
    method: str = ""

    def line(self) -> str:
        """The event as one line of the console log (``[error] text (url)``)."""
        if self.kind == "console":
            where = f" ({self.url})" if self.url else ""
            return f"[{self.level}] {self.text}{where}"
        if self.kind == "pageerror":
            return f"[pageerror] {self.text}"
        return f"{self.method} {self.url}: {self.text}".strip()


@dataclass
class Review:
    """What a page did, judged. The four red lists fail the check in this order; the rest never fails."""

    page_errors: list[str] = field(default_factory=list)
    broken_assets: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    third_party: list[str] = field(default_factory=list)
    #: ``(entry index, line)`` of every line an entry allowed.
    forgiven: list[tuple[int, str]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.page_errors or self.broken_assets or self.server_errors or self.console_errors)


class ConsolePolicy:
    """``smoke.console.allow`` of one environment and the hosts that are first-party."""

    def __init__(self, allow: Sequence[ConsoleAllow], is_first_party: Callable[[str], bool]) -> None:
        self.allow = list(allow)
        self.is_first_party = is_first_party
        self._compiled = [(re.compile(a.pattern), re.compile(a.source) if a.source else None) for a in self.allow]

    def entry_for(self, event: BrowserEvent) -> int | None:
        """The index of the first entry allowing ``event``, or None."""
        for i, (pattern, source) in enumerate(self._compiled):
            if pattern.search(event.text) and (source is None or source.search(event.url)):
                return i
        return None

    def label(self, index: int) -> str:
        return self.allow[index].reason

    def review(self, events: Iterable[BrowserEvent]) -> Review:
        out = Review()
        for ev in events:
            first_party = not ev.url or self.is_first_party(ev.url)
            line = ev.line()
            if ev.kind == "pageerror":
                out.page_errors.append(line)
                continue
            if ev.kind in ("requestfailed", "response"):
                failed = ev.kind == "requestfailed" or (ev.status or 0) >= 400
                if not failed or ev.text == ABORTED:
                    continue
                if first_party:
                    if ev.resource_type in ASSET_TYPES:
                        out.broken_assets.append(line)
                    elif (ev.status or 0) >= 500:
                        out.server_errors.append(line)
                    # Any other first-party failure is judged by the console line the browser logs for it.
                    continue
                self._forgive_or(out, ev, line, out.third_party)
                continue
            if ev.level == "error":
                self._forgive_or(out, ev, line, out.console_errors if first_party else out.third_party)
            elif ev.level == "warning":
                entry = self.entry_for(ev)
                if entry is not None:
                    out.forgiven.append((entry, line))
        return out

    def _forgive_or(self, out: Review, ev: BrowserEvent, line: str, bucket: list[str]) -> None:
        entry = self.entry_for(ev)
        if entry is None:
            bucket.append(line)
        else:
            out.forgiven.append((entry, line))


def usage_counts(policy: ConsolePolicy, review: Review) -> Counter[int]:
    """How many lines each entry forgave in ``review`` (every entry present, zero included)."""
    counts: Counter[int] = Counter({i: 0 for i in range(len(policy.allow))})
    counts.update(i for i, _ in review.forgiven)
    return counts


def summarize(lines: Sequence[str], limit: int = 3) -> str:
    """A few lines for a failure message: ``a; b; c (+2 more)``."""
    shown = "; ".join(" ".join(x.split()) for x in lines[:limit])
    return shown + (f" (+{len(lines) - limit} more)" if len(lines) > limit else "")


class Ledger:
    """This process's matches per entry over the whole run, written to the run folder after every journey
    (:mod:`mt_verify.allowlist_usage` merges the processes' files and finds the stale entries)."""

    def __init__(self, policy: ConsolePolicy) -> None:
        self.policy = policy
        self.counts: Counter[int] = Counter({i: 0 for i in range(len(policy.allow))})

    def add(self, review: Review) -> None:
        self.counts.update(usage_counts(self.policy, review))

    def write(self, run_dir: Path | None) -> None:
        if run_dir is None or not self.policy.allow:
            return
        allowlist_usage.write(run_dir, LIST_NAME, {f"{i}:{self.policy.label(i)}": (self.policy.label(i), n)
                                                   for i, n in sorted(self.counts.items())})


def account(policy: ConsolePolicy, ledger: Ledger, events: Iterable[BrowserEvent], env: str,
            run_dir: Path | None) -> Review:
    """After a journey: every forgiven line a ``console-forgiven`` note, every third-party failure a warning and
    a ``third-party`` note (never red), the entries' counts into the run folder. Returns the review."""
    review = policy.review(events)
    for index, line in review.forgiven:
        note("console-forgiven", f"{line} (smoke.console.allow: {policy.label(index)})")
    for line in dict.fromkeys(review.third_party):
        note("third-party", line)
        warn(env, "third-party resource", f"{line} (not the site's; add a smoke.console.allow entry with a reason "
                                          "if it is known and harmless)")
    ledger.add(review)
    ledger.write(run_dir)
    return review
