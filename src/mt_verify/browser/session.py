"""The smoke user's browser session: the once-per-run UI sign-in (:mod:`mt_verify.run_session`) and the secrets it
yields."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mt_verify.browser import selectors as sel
from mt_verify.redact import register_secret

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from mt_verify.browser.pages import AppShell, LoginAttempt
    from mt_verify.browser.recorder import Recorder


@dataclass
class UiLogin:
    """The run's sign-in through the UI, and what it showed. ``page`` and ``recorder`` only in the process that
    signed in (another worker knows the sign-in from ``ui-login.json`` and the storage state)."""

    attempt: LoginAttempt | None
    page: Page | None
    recorder: Recorder | None
    storage_state: Path | None = None
    token: str | None = None
    #: Why the sign-in could not even be tried (page did not load, modal did not open), else None.
    broken: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.attempt is not None and self.attempt.signed_in and self.storage_state is not None

    def summary(self) -> dict[str, Any]:
        """What the sign-in showed, for the other workers: no secret (the token stays in its own 0600 file)."""
        a = self.attempt
        return {"broken": self.broken, "attempt": None if a is None else
                {"signed_in": a.signed_in, "error": a.error, "elapsed_s": a.elapsed_s, "status": a.status},
                "storage_state": self.storage_state is not None}

    @classmethod
    def from_summary(cls, data: dict[str, Any], state: Path) -> UiLogin:
        from mt_verify import run_session
        from mt_verify.browser.pages import LoginAttempt

        raw = data.get("attempt")
        attempt = LoginAttempt(bool(raw["signed_in"]), raw.get("error"), float(raw.get("elapsed_s") or 0.0),
                               raw.get("status")) if isinstance(raw, dict) else None
        token = None
        if attempt is not None and attempt.signed_in:
            shared = state.parent
            token = run_session.read_ui_token(shared)
        return cls(attempt=attempt, page=None, recorder=None,
                   storage_state=state if data.get("storage_state") and state.is_file() else None,
                   token=token, broken=data.get("broken"))


def remember_session(app: AppShell) -> str | None:
    """Register the signed-in page's tokens as secrets (every report masks them); returns the access token."""
    token = app.local_storage(sel.STORAGE_AUTH_TOKEN)
    for value in (token, app.local_storage(sel.STORAGE_REFRESH_TOKEN)):
        register_secret(value)
    return token


def register_storage_secrets(state: Path) -> None:
    """A worker that did not sign in itself masks what the storage state carries (the tokens in localStorage,
    the cookies' values) as if it had."""
    try:
        data = json.loads(state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    for origin in data.get("origins", []) if isinstance(data, dict) else []:
        for item in origin.get("localStorage", []) if isinstance(origin, dict) else []:
            if isinstance(item, dict) and item.get("name") in (sel.STORAGE_AUTH_TOKEN, sel.STORAGE_REFRESH_TOKEN):
                register_secret(item.get("value"))
    for cookie in data.get("cookies", []) if isinstance(data, dict) else []:
        if isinstance(cookie, dict):
            register_secret(cookie.get("value"))


def state_with_session(state: Path, dest: Path, access_token: str, refresh_token: str) -> Path:
    """A copy of the storage state ``state`` at ``dest`` (0600) with another session's tokens in ``auth_token``
    and ``refresh_token``: the same user, stored exactly as the app stored the run's session (its profile and
    expiry keys untouched), so a page loaded from it restores that other session (``GET /api/auth/me``)."""
    from mt_verify import run_session

    data = json.loads(state.read_text(encoding="utf-8"))
    swap = {sel.STORAGE_AUTH_TOKEN: access_token, sel.STORAGE_REFRESH_TOKEN: refresh_token}
    for origin in data.get("origins", []):
        for item in origin.get("localStorage", []):
            if item.get("name") in swap:
                item["value"] = swap[item["name"]]
    register_secret(access_token)
    register_secret(refresh_token)
    run_session.write_private(dest, json.dumps(data).encode())
    return dest


def register_password(password: str) -> None:
    """Mask the password as typed and as it appears inside a JSON body."""
    register_secret(password)
    register_secret(json.dumps(password)[1:-1])
