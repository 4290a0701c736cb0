"""Loaded into the gate's pytest runs (``-p mt_verify.gate.plugin``): puts on every JUnit ``<testcase>`` what the
gate needs to decide, as properties:

- ``mt_nodeid``: the node id, to run exactly that test again;
- ``mt_markers``: the test's marker names, matched against ``gate.markers``;
- ``mt_verdict``: ``failed`` (a check found the application unhealthy) or ``error`` (the suite could not check),
  copied from the report where the root conftest's makereport hook records it. JUnit writes only the properties
  present when the test's last report is made, so the verdict is copied onto the item here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.user_properties.append(("mt_nodeid", item.nodeid))
        names = sorted({mark.name for mark in item.iter_markers()})
        item.user_properties.append(("mt_markers", ",".join(names)))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    for name, value in report.user_properties:
        if name == "mt_verdict" and (name, value) not in item.user_properties:
            item.user_properties.append((name, value))
    if report.failed and not any(name == "mt_verdict" for name, _ in report.user_properties):
        # No classification from the suite (another conftest): a failed assertion is a failed check,
        # anything else the suite's own trouble.
        exc = call.excinfo.value if call.excinfo is not None else None
        verdict = "failed" if isinstance(exc, AssertionError | pytest.fail.Exception) else "error"
        item.user_properties.append(("mt_verdict", verdict))
    return report
