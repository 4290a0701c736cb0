"""A fresh sandbox and a Chromium page signed in to it as the smoke user, for selftests that drive the SPA
themselves (the Add Match form and its page object). Function-scoped: each test gets its own database, so
what one test schedules cannot be seen by the next. Skips, with the reason, when Chromium is missing.

The sign-in is written out with the SPA's own test ids rather than through the page objects, so the tests
that judge a page object do not rest on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.server import Sandbox, start

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 10_000


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    sb = start(tmp_path / "state", layout=None)
    yield sb
    sb.stop()


@pytest.fixture
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@pytest.fixture
def signed_in(chromium: Any, sandbox: Sandbox) -> Any:
    """A page on the sandbox site, signed in, with the user menu showing."""
    ctx = chromium.new_context(service_workers="block", locale="en-US")
    ctx.set_default_timeout(TIMEOUT_MS)
    page = ctx.new_page()
    page.goto(sandbox.urls["MT_SANDBOX_SITE_URL"])
    page.click("[data-testid='nav-login-button']")
    page.fill("#username", sandbox.urls["MT_SMOKE_USERNAME"])
    page.fill("#password", sandbox.urls["MT_SMOKE_PASSWORD"])
    page.click("[data-testid='login-button']")
    page.wait_for_selector("[data-testid='user-menu']")
    return page
