"""The smoke user's browser session: the once-per-worker UI sign-in and the secrets it yields."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mt_verify.browser import selectors as sel
from mt_verify.redact import register_secret

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from mt_verify.browser.pages import AppShell, LoginAttempt
    from mt_verify.browser.recorder import Recorder


@dataclass
class UiLogin:
    """The once-per-worker sign-in through the UI, and what it showed."""

    attempt: LoginAttempt | None
    page: Page
    recorder: Recorder
    storage_state: Path | None = None
    token: str | None = None
    #: Why the sign-in could not even be tried (page did not load, modal did not open), else None.
    broken: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.attempt is not None and self.attempt.signed_in and self.storage_state is not None


def remember_session(app: AppShell) -> str | None:
    """Register the signed-in page's tokens as secrets (every report masks them); returns the access token."""
    token = app.local_storage(sel.STORAGE_AUTH_TOKEN)
    for value in (token, app.local_storage(sel.STORAGE_REFRESH_TOKEN)):
        register_secret(value)
    return token


def register_password(password: str) -> None:
    """Mask the password as typed and as it appears inside a JSON body."""
    register_secret(password)
    register_secret(json.dumps(password)[1:-1])
