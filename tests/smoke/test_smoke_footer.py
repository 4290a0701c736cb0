"""The version footer of a signed-in user shows the release the backend serves."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from mt_verify.browser.checks import ui_check
from mt_verify.browser.pages import AppShell, VersionFooter
from mt_verify.config import Environment
from mt_verify.outcome import check
from mt_verify.release import ExpectedRelease, ServedRelease

pytestmark = [pytest.mark.smoke]


def test_footer_shows_served_version(signed_in_page: Page, served_release: ServedRelease,
                                     expected_release: ExpectedRelease | None, environment: Environment,
                                     smoke_timeout_ms: float) -> None:
    env, site = environment.name, environment.site.url
    app, footer = AppShell(signed_in_page, smoke_timeout_ms), VersionFooter(signed_in_page, smoke_timeout_ms)
    ui_check(env, f"{site}/ signed-in view", "the user menu (session restored)", app.wait_signed_in,
             app.signed_in_view_seen)
    shown: list[str] = []
    ui_check(env, f"{site}/ whats-new-trigger", "a version", lambda: shown.append(footer.version_text()),
             lambda: "no version shown")
    version = shown[0]
    check(version == served_release.version, env, f"{site}/ whats-new-trigger",
          f"{served_release.version} (GET /api/version)", version,
          next_step="the frontend reads /api/version on mount: check the ingress sends /api to this backend")
    if expected_release is not None and expected_release.version is not None:
        check(expected_release.version_matches(version), env, f"{site}/ whats-new-trigger",
              f"the release being verified, {expected_release.version}", version)
