"""Command-line options of the smoke tier (no Playwright import here: start-up stays fast)."""

from __future__ import annotations

import os

import pytest

VIDEO_ENV = "MT_BROWSER_VIDEO"
TRACE_SCREENSHOTS_ENV = "MT_TRACE_SCREENSHOTS"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("mt-verify")
    group.addoption("--browser-path", dest="mt_browser_path", metavar="PATH",
                    help="Chromium executable (default: $MT_CHROMIUM, the environment's smoke.browser_path, "
                         "Playwright's own browser, else /usr/bin/chromium-headless-shell or /usr/bin/chromium)")
    group.addoption("--headed", dest="mt_headed", action="store_true", help="show the browser")
    group.addoption("--slowmo", dest="mt_slowmo", type=float, default=0, metavar="MS",
                    help="slow each browser action down by MS milliseconds")
    group.addoption("--browser-video", dest="mt_browser_video", default=os.environ.get(VIDEO_ENV, "auto"),
                    choices=("auto", "off", "retain-on-failure"),
                    help="record each journey and keep the video of a failed one: auto (when Playwright's ffmpeg "
                         "is installed), off, retain-on-failure (insist) (default: $MT_BROWSER_VIDEO or auto)")
    group.addoption("--trace-screenshots", dest="mt_trace_screenshots", action="store_true",
                    default=os.environ.get(TRACE_SCREENSHOTS_ENV, "") not in ("", "0", "false", "no"),
                    help="give each journey's Playwright trace a filmstrip (screencast frames) besides its DOM "
                         "snapshots; a failed journey keeps its screenshot either way. Off by default: the frames "
                         "cost ~1 s of CPU per run, which -n 2 on two cores pays in wall time "
                         "(default: $MT_TRACE_SCREENSHOTS or off)")
