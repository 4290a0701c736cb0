"""The SPA shell (contract §2.1): nginx answers 200 with index.html for ANY path, so a bare 200
proves nothing; the page must be the app shell and its scripts must be scripts."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

TITLE = "<title>Missing Table</title>"
_SCRIPT = re.compile(r"<script\b[^>]*\bsrc=[\"']([^\"']+)[\"']", re.IGNORECASE)
JS_TYPES = ("text/javascript", "application/javascript", "application/x-javascript")




def shell_problems(content_type: str, html: str) -> list[str]:
    problems = []
    if content_type != "text/html":
        problems.append(f"content type {content_type or 'none'!r}, not text/html")
    if TITLE not in html:
        problems.append(f"no {TITLE}")
    if not re.search(r"""id=["']app["']""", html):
        problems.append('no element with id="app"')
    return problems


def script_urls(page_url: str, html: str) -> list[str]:
    """Scripts the page loads from its own origin (third-party scripts are not ours to check)."""
    origin = urlsplit(page_url).netloc
    urls = []
    for src in _SCRIPT.findall(html):
        url = urljoin(page_url + "/", src)
        if urlsplit(url).netloc == origin and url not in urls:
            urls.append(url)
    return urls
