"""Notes: things a check forgave on its way to green, so an operator sees a degrading app before it fails.

A note never changes a verdict. It records what the suite had to do or overlook to pass::

    note("latency-remeasured", "GET /health: 2.29 s over the 1 s budget; median of 3 samples 0.04 s")
    note("select-repicked", "Add Match: Home Team was cleared by a late team reset; picked again")
    note("console-forgiven", "frame-ancestors ignored in <meta> (allow-list: csp-meta-frame-ancestors)")

Notes belong to the test that is running; the reporting plugin moves them into that test's record, and the
run's ``summary.json`` / ``summary.md`` show each kind with its count and a few examples.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Kinds an operator will meet in a summary (any other short word works too).
KINDS = {
    "latency-remeasured": "a request over its latency budget was measured again and passed on the median",
    "select-repicked": "a form field the app reset late was picked again before submitting",
    "console-forgiven": "a browser console line matched an allow-list entry",
    "third-party": "a third-party request failed (reported, never red)",
    "team-list-refetched": "a stale team list landed last in Add Match and was asked for again",
    "stale-allow-list": "an allow-list entry matched nothing in the whole run (a run note, not a test's)",
}


@dataclass(frozen=True)
class Note:
    kind: str
    text: str


_pending: list[Note] = []


def note(kind: str, text: str) -> None:
    """Record a note for the test that is running now."""
    _pending.append(Note(kind, " ".join(str(text).split())[:300]))


def drain() -> list[Note]:
    """Take the notes recorded since the last drain (the reporting plugin calls this per test phase)."""
    out = list(_pending)
    _pending.clear()
    return out
