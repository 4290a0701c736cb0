"""A visitor who is not signed in: the front page loads cleanly."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from mt_verify.browser.checks import text_or_none, ui_check
from mt_verify.browser.console_policy import ConsolePolicy, summarize
from mt_verify.browser.network import RequestTracker
from mt_verify.browser.pages import AppShell, VersionFooter
from mt_verify.browser.recorder import Recorder
from mt_verify.config import Environment
from mt_verify.outcome import check

pytestmark = [pytest.mark.smoke]


def test_anonymous_front_page_loads_cleanly(page: Page, recorder: Recorder, environment: Environment,
                                            smoke_timeout_ms: float, console_policy: ConsolePolicy) -> None:
    env, site = environment.name, environment.site.url
    app, footer = AppShell(page, smoke_timeout_ms), VersionFooter(page, smoke_timeout_ms)
    loading = RequestTracker(page, lambda _request: True)  # everything the page asks for while it loads
    # The footer asks /api/version on mount; wait for that answer so a failed call has had its say.
    with page.expect_response(lambda r: urlsplit(r.url).path == "/api/version", timeout=smoke_timeout_ms) as version:
        response = app.open(site)
    check(response is not None and response.status == 200, env, f"GET {site}/ (browser)", "HTTP 200",
          f"HTTP {response.status}" if response else "no response")
    ui_check(env, f"{site}/ page title", "'Missing Table'", lambda: expect(page).to_have_title("Missing Table"),
             lambda: repr(page.title()))
    ui_check(env, f"{site}/ hero heading", "h1 \"The table you've been missing.\" visible",
             lambda: expect(app.hero_heading).to_be_visible(), text_or_none(app.first_heading))
    ui_check(env, f"{site}/ nav-login-button", "visible", lambda: expect(app.login_button).to_be_visible(),
             lambda: "not visible")
    app.next_frame()  # the answer has been rendered: a failed call would show the banner now
    banner = footer.api_error_banner.first.text_content() if footer.api_error_banner.is_visible() else None
    check(banner is None, env, f"{site}/ api-error-banner",
          f"not shown (the API answered /api/version HTTP {version.value.status})", repr(banner))
    loading.wait_idle(smoke_timeout_ms)  # every request of the load has ended: its console lines are in
    review = console_policy.review(recorder.events)
    evidence = "open the site with the browser console open; the trace and console log are in this test's evidence"
    check(not review.page_errors, env, f"{site}/ uncaught page errors", "none (never allowed)",
          summarize(review.page_errors), next_step=evidence)
    check(not review.broken_assets, env, f"{site}/ first-party scripts and stylesheets", "all loaded",
          summarize(review.broken_assets), next_step=f"curl -sI {_url_of(review.broken_assets)} (a missing asset "
          "is a broken build, or an index.html cached longer than its assets)")
    check(not review.server_errors, env, f"{site}/ first-party requests", "no 5xx answer",
          summarize(review.server_errors), next_step=f"curl -si {_url_of(review.server_errors)}, then the backend "
          "log around that time (the answer's X-Request-ID is in the trace)")
    check(not review.console_errors, env, f"{site}/ browser console", "no first-party error outside "
          f"smoke.console.allow ({len(console_policy.allow)} entries)", summarize(review.console_errors),
          next_step=f"{evidence}; if the line is known, harmless noise, add a smoke.console.allow entry with its "
          "reason to the environment file")


def _url_of(lines: list[str]) -> str:
    """The URL of the first ``METHOD URL: what`` line (for a next step's command)."""
    if not lines:
        return "''"
    return "'" + lines[0].split(" ", 1)[-1].rsplit(": ", 1)[0] + "'"
