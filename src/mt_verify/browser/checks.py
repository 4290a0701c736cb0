"""Browser expectations as one-line failures (``[env] resource: expected X, got Y``, :mod:`mt_verify.outcome`).

Playwright's ``expect`` retries until its timeout; on a miss, the failure names what the user would have
seen, read from the page after the wait, instead of Playwright's call log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mt_verify.outcome import fail


def ui_check(env: str, resource: str, expected: Any, wait: Callable[[], object], actual: Callable[[], Any], *,
             next_step: str | None = None) -> None:
    """Run ``wait`` (an ``expect(...)`` call or a page-object wait); if it times out or its assertion fails,
    fail with ``actual()`` (read after the wait) as what was seen."""
    __tracebackhide__ = True
    from playwright.sync_api import Error as PlaywrightError

    try:
        wait()
    except (AssertionError, PlaywrightError):
        try:
            seen = actual()
        except PlaywrightError as exc:
            seen = f"(could not read the page: {str(exc).splitlines()[0]})"
        fail(env, resource, expected, seen, next_step=next_step)


def text_or_none(read: Callable[[], str | None]) -> Callable[[], str]:
    """``actual`` for :func:`ui_check`: the element's text, or 'nothing' when it is not there."""

    def reader() -> str:
        value = read()
        return repr(" ".join(value.split())) if value else "nothing"

    return reader
