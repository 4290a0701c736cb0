"""The API sessions a run makes: their tokens read out of a sign-in's answer, and each ended when the run ends
(issue 11.7), so a run leaves no live session behind."""

from __future__ import annotations

from typing import Any

import pytest


def session_tokens(login: Any) -> tuple[str | None, str | None]:
    """``(access_token, refresh_token)`` of a ``POST /api/auth/login`` exchange; each None unless the API answered
    200 with a non-empty string for it. A 200 whose body is no JSON object fails the check (``json_object``)."""
    if login.status != 200:
        return None, None
    body = login.json_object()
    access, refresh = body.get("access_token"), body.get("refresh_token")
    return (access if isinstance(access, str) and access else None,
            refresh if isinstance(refresh, str) and refresh else None)


def log_out_api(api: Any, token: str, env: str) -> bool:
    """``POST /api/auth/logout`` with the run's token; True when the API said so.

    Never raises: the run's verdict is decided by then. A logout that did not work (unreachable, refused) becomes a
    note in the summary; the token then lives until it expires (1 h for Supabase)."""
    from mt_verify.notes import note

    try:
        ex = api.post("/api/auth/logout", None, token=token, check_latency=False)
    except (Exception, pytest.fail.Exception) as exc:  # fail() raises an OutcomeException, not an Exception
        note("logout-failed", f"[{env}] POST /api/auth/logout at the end of the run: {str(exc).splitlines()[0]}"[:300])
        return False
    if ex.status != 200:
        note("logout-failed", f"[{env}] POST {ex.url} at the end of the run: HTTP {ex.status}; the API session "
                              "lives until its token expires")
        return False
    return True
