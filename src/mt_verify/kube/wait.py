"""Waiting for rollouts still in progress: bounded polling with back-off on a monotonic deadline.

A Deployment whose rollout is under way (observedGeneration behind, or Progressing=True with a rolling reason) is
read again until it completes, stalls (Progressing=False fails at once: no point waiting for a deadline the
controller has already given up on), or ``kubernetes.rollout_timeout`` passes. Polling rather than a watch: one
list call per round for all Deployments, and no long-lived connection through proxies.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mt_verify.kube.checks import rollout_state
from mt_verify.wait import wait_until

FIRST_PAUSE_S = 0.2
MAX_PAUSE_S = 2.0


@dataclass
class Waited:
    """The Deployments as last read, and how long the tier waited for them."""

    deployments: dict[str, dict[str, Any]]
    waited_s: float = 0.0
    polls: int = 1
    #: Deployments still in progress when the deadline passed.
    timed_out: set[str] = field(default_factory=set)
    #: Deployments that were in progress at the first read (each waited for).
    waited_for: set[str] = field(default_factory=set)


def wait_for_rollouts(
    read: Callable[[], dict[str, dict[str, Any]]],
    want: Mapping[str, int],
    deadline_s: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], Any] | None = None,
    progress: Callable[[float, float, str], Any] | None = None,
) -> Waited:
    """``read()`` returns the Deployments by name; ``want`` maps each configured name to its replica count.
    ``progress(waited_s, deadline_s, state)`` hears where the wait stands (see :func:`mt_verify.wait.wait_until`),
    the state naming each Deployment still rolling out and what it lacks."""

    def pending(deployments: dict[str, dict[str, Any]]) -> set[str]:
        return {name for name, replicas in want.items()
                if name in deployments and rollout_state(deployments[name], replicas).in_progress}

    def state(deployments: dict[str, dict[str, Any]]) -> str:
        parts = []
        for name in sorted(pending(deployments)):
            problems = rollout_state(deployments[name], want[name]).problems
            parts.append(f"{name}: {', '.join(problems) or 'in progress'}")
        return "; ".join(parts) or "complete"

    def said(waited: float, deadline: float, deployments: dict[str, dict[str, Any]]) -> None:
        if progress is not None:
            progress(waited, deadline, state(deployments))

    got = wait_until(read, lambda d: not pending(d), deadline_s, first_pause=FIRST_PAUSE_S,
                     max_pause=MAX_PAUSE_S, clock=clock, pause=pause, progress=said if progress else None)
    return Waited(got.value, waited_s=got.waited_s, polls=got.polls,
                  timed_out=set() if got.met else pending(got.value), waited_for=pending(got.first))
