"""What the run knows before any fixture: the loaded environment and the expected release,
kept on the pytest config so that collection (parametrization) can use them too."""

from __future__ import annotations

import pytest

from mt_verify.config import Environment
from mt_verify.release import ExpectedRelease

ENV_KEY = pytest.StashKey[Environment]()
EXPECTED_KEY = pytest.StashKey[ExpectedRelease | None]()


def environment_of(config: pytest.Config) -> Environment | None:
    return config.stash.get(ENV_KEY, None)


def host_ids(urls: list[str]) -> list[str]:
    """Test ids for per-host checks: the host name (ports vary between sandbox runs)."""
    from urllib.parse import urlsplit

    ids: list[str] = []
    for url in urls:
        host = (urlsplit(url).hostname if "//" in url else url.rsplit(":", 1)[0]) or url
        ids.append(host if host not in ids else f"{host}-{len(ids) + 1}")
    return ids
