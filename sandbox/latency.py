"""Latency profiles: the sandbox answering as slowly as the real app does.

The stand-in answers in microseconds, so a benchmark against it measures the suite's own overhead and nothing a
gate waits for against a real deploy. With a profile on, every backend route and the static files wait a
per-endpoint delay (with jitter) before answering, taken from the contract's timings of the real app on a quiet
machine (``missing-table-contract.md`` §2.8: ``/health`` and ``/api/version`` ~2 ms; login, ``/api/table``,
``/api/matches`` and the other reads ~70 ms; ``/health/full`` ~100 ms; nginx's static files ~1 ms). A UI sign-in
then costs about what the contract says (1-1.5 s to a filled standings table), because the SPA makes the same
calls.

Switched on with ``python -m sandbox serve --latency contract`` or ``MT_SANDBOX_LATENCY=contract`` (the variable
reaches a sandbox that ``pytest --env sandbox`` starts). ``off`` (the default) keeps the microsecond answers the
fault matrices are built on. Every delayed answer says what it waited in ``X-Sandbox-Delay-Ms`` (selftests read
that, never a clock).
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass

ENV_VAR = "MT_SANDBOX_LATENCY"


@dataclass(frozen=True)
class Delay:
    """A delay of ``mean_s`` ± ``jitter`` (a fraction of the mean), uniform."""

    mean_s: float
    jitter: float = 0.3

    def sample(self, rng: random.Random) -> float:
        spread = self.mean_s * self.jitter
        return max(0.0, rng.uniform(self.mean_s - spread, self.mean_s + spread))


@dataclass(frozen=True)
class Profile:
    name: str
    #: (method or "*", path regex, delay), first match wins.
    rules: tuple[tuple[str, re.Pattern[str], Delay], ...]
    default_api: Delay
    static: Delay

    def delay_for(self, method: str, path: str, *, backend: bool) -> Delay:
        if not backend:
            return self.static
        for m, rx, delay in self.rules:
            if (m == "*" or m == method) and rx.match(path):
                return delay
        return self.default_api


def _rule(method: str, pattern: str, mean_ms: float) -> tuple[str, re.Pattern[str], Delay]:
    return method, re.compile(f"^{pattern}$"), Delay(mean_ms / 1000)


#: The real app, quiet machine (contract §2.8).
CONTRACT = Profile(
    name="contract",
    rules=(
        _rule("GET", "/health", 2),
        _rule("GET", "/api/version", 2),
        _rule("GET", "/health/full", 100),
        _rule("POST", "/api/auth/login", 70),
        _rule("GET", "/api/table", 70),
        _rule("GET", r"/api/matches(/.*)?", 70),
        _rule("POST", "/api/matches", 70),
        _rule("DELETE", r"/api/matches/\d+", 70),
        _rule("GET", "/api/csrf-token", 5),
        _rule("POST", "/api/auth/logout", 30),
    ),
    default_api=Delay(0.070),  # every other read: seasons, age groups, teams, auth/me, ...
    static=Delay(0.001),
)

PROFILES = {"contract": CONTRACT}


def profile_named(name: str | None) -> Profile | None:
    """The profile called ``name`` (``None``, ``""`` or ``off``: no profile); an unknown name is a ValueError."""
    if not name or name == "off":
        return None
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown latency profile {name!r}; known: off, {', '.join(PROFILES)}") from None


def from_environment() -> str:
    return os.environ.get(ENV_VAR, "off")
