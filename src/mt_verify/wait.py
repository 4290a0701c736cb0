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

    ``progress(waited_s, deadline_s, value)`` is called about every :data:`PROGRESS_EVERY_S` seconds of waiting.
    """
    pause = pause or threading.Event().wait  # an Event nobody sets: a timed pause
    started = clock()
    interval = first_pause
    value = read()
    polls = 1
    first = value
    said = started
    while True:
        if done(value):
            return Polled(value, True, clock() - started, polls, first)
        left = started + deadline_s - clock()
        if left <= 0 or (stop is not None and stop(value)):
            return Polled(value, False, clock() - started, polls, first)
        pause(min(interval, left))
        interval = min(interval * factor, max_pause)
        value = read()
        polls += 1
        now = clock()
        if progress is not None and now - said >= PROGRESS_EVERY_S:
            said = now
            progress(now - started, deadline_s, value)
