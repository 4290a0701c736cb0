"""The one bounded wait: read, judge, pause with back-off, on a monotonic deadline.

Used wherever the suite waits for the world to settle (the served release while a rollout lands, Deployments
still rolling out). Never a bare sleep: every pause is bounded by what is left of the deadline, and the pause is
an ``Event.wait`` (interruptible by a signal handler), so a cancelled run ends at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

#: How often a long wait says where it stands (seconds).
PROGRESS_EVERY_S = 10.0


@dataclass
class Polled(Generic[T]):
    """The last value read, whether it satisfied the wait, and what the wait cost."""

    value: T
    met: bool
    waited_s: float
    polls: int
    #: The first value read (what had to be waited for).
    first: T


def wait_until(
    read: Callable[[], T],
    done: Callable[[T], bool],
    deadline_s: float,
    *,
    stop: Callable[[T], bool] | None = None,
    first_pause: float = 0.2,
    max_pause: float = 2.0,
    factor: float = 1.6,
    progress: Callable[[float, float, T], Any] | None = None,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], Any] | None = None,
) -> Polled[T]:
    """Call ``read()`` until ``done(value)`` holds, ``stop(value)`` says waiting is pointless, or ``deadline_s``
    passes; return the last value either way (the caller turns an unmet wait into a failed check).

    ``progress(waited_s, deadline_s, value)`` is called at least every :data:`PROGRESS_EVERY_S` seconds of waiting
    (a pause never runs past the next progress line), and a few times in a wait shorter than that (every third of
    ``deadline_s``, at least a second apart), so that a long wait is never silent.
    """
    pause = pause or threading.Event().wait  # an Event nobody sets: a timed pause
    every = progress_every(deadline_s)
    started = clock()
    interval = first_pause
    value = read()
    polls = 1
    first = value
    said = started
    while True:
        if done(value):
            return Polled(value, True, clock() - started, polls, first)
        now = clock()
        left = started + deadline_s - now
        if left <= 0 or (stop is not None and stop(value)):
            return Polled(value, False, now - started, polls, first)
        step = min(interval, left)
        if progress is not None:
            step = min(step, max(said + every - now, 0.0))
        pause(step)
        interval = min(interval * factor, max_pause)
        value = read()
        polls += 1
        now = clock()
        if progress is not None and now - said >= every and now - started < deadline_s and not done(value):
            said = now
            progress(now - started, deadline_s, value)


def progress_every(deadline_s: float) -> float:
    """How often a wait of ``deadline_s`` says where it stands."""
    return min(PROGRESS_EVERY_S, max(deadline_s / 3, 1.0))


def progress_line(env: str, what: str, waited_s: float, deadline_s: float, setting: str, last: str) -> str:
    """``[env] still waiting for <what>: 12 s so far, deadline 300 s (setting); last seen: <state>``."""
    return (f"[{env}] still waiting for {what}: {waited_s:.0f} s so far, deadline {deadline_s:g} s ({setting}); "
            f"last seen: {last}")
