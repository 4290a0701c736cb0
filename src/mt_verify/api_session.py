"""The health tier's API session: ended when the run ends (issue 11.7), so a run leaves no live session behind."""

from __future__ import annotations

from typing import Any

import pytest


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
