"""The one place where Playwright's errors become verdicts.

A page that does not answer, resets, or never shows what a journey waits for is the application failing the
journey: a Playwright error raised while a journey (or the sign-in it depends on) runs becomes a
:class:`~mt_verify.errors.CheckFailed` whose first line names the environment, the action and what was seen. A
browser that cannot start is the suite's problem, raised as :class:`~mt_verify.errors.BrowserError` where it is
launched, before any journey runs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from mt_verify.errors import CheckFailed
from mt_verify.session import ENV_KEY


def _playwright_error(exc: BaseException) -> bool:
    """Without importing Playwright: if it was never imported, nothing it raised can be here."""
    api = sys.modules.get("playwright.sync_api")
    return api is not None and isinstance(exc, api.Error)


def describe(env: str, exc: BaseException) -> str:
    """``[env] browser <action>: expected the page to answer within the smoke timeout, got <what>`` + call log."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    first = lines[0] if lines else type(exc).__name__
    action, _, what = first.partition(": ")
    call_log = [ln.lstrip("- ") for ln in lines[1:] if ln != "Call log:"][:4]
    text = f"[{env}] browser {action or 'action'}: expected the page to answer within the smoke timeout, " \
           f"got {what or first}"
    return text + ("\n" + "\n".join(call_log) if call_log else "")


@contextmanager
def browser_failures(item: pytest.Item) -> Iterator[None]:
    """Around a smoke test's setup and call: a Playwright error is the journey's failure."""
    try:
        yield
    except Exception as exc:
        if not _playwright_error(exc):
            raise
        env = item.config.stash.get(ENV_KEY, None)
        raise CheckFailed(describe(env.name if env else "?", exc)) from exc
