"""Selftests marked ``slow`` (soak-like, minutes) run only when asked for: ``-m slow``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mt_verify import redact


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.getoption("markexpr") or ""):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


@pytest.fixture(autouse=True)
def _forget_registered_secrets() -> Iterator[None]:
    """Secrets registered by one test are not masked in the next one's output (the registry is per process, and
    an xdist worker runs many tests: another test's password would mask this one's expected text)."""
    before = set(redact._known)
    yield
    redact._known.clear()
    redact._known.update(before)


# The real-cluster sandbox (selftests/realcluster.py): one session fixture shared by every -m realcluster module.
from selftests.realcluster import healthy, real_world  # noqa: E402,F401

# A fresh sandbox and a signed-in Chromium page (selftests/signedin.py), for the Add Match form selftests.
from selftests.signedin import chromium, sandbox, signed_in  # noqa: E402,F401
