"""What the suite tells Allure beyond allure-pytest's defaults: labels and runbook links per test (as markers,
so they cost nothing when Allure is off), ``environment.properties``, ``categories.json`` and ``executor.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from mt_verify.reporting.areas import RUNBOOK_MAIN, RUNBOOK_SECTIONS, RUNBOOK_URL

#: Allure's categories, first match wins. The status alone says which side a test is on, as the exception's type
#: decided it (:mod:`mt_verify.errors`): ``failed`` = a CheckFailed (the application), ``broken`` = a SuiteError or
#: any other exception (the suite could not check) -- the same verdicts as summary.json and the gate.
CATEGORIES: list[dict[str, Any]] = [
    {
        "name": "Flaky (passed after a retry, or alternating between runs)",
        "matchedStatuses": ["failed", "broken", "passed"],
        "flaky": True,
    },
    {
        "name": "Application failure (a check found the release unhealthy)",
        "matchedStatuses": ["failed"],
    },
    {
        "name": "Could not check (suite error: unreachable, forbidden, no browser, bad config, suite defect; "
                "never a reason to roll back)",
        "matchedStatuses": ["broken"],
    },
]


def runbook_url() -> str:
    return os.environ.get("MT_RUNBOOK_URL", RUNBOOK_URL)


def marks_for(area: str, tier: str | None, gate: bool) -> list[pytest.MarkDecorator]:
    """allure-pytest's own markers (``allure_label``/``allure_link``), read by its listener at setup."""
    label = pytest.mark.allure_label
    link = pytest.mark.allure_link
    base = runbook_url()
    marks = [
        label(f"{tier or 'other'} tier", label_type="epic"),
        label(area, label_type="feature"),
        label("blocker" if gate else "normal", label_type="severity"),
    ]
    # The pytest markers (health, gate, ...) already become Allure tags.
    title, anchor = RUNBOOK_MAIN
    marks.append(link(f"{base}#{anchor}", link_type="link", name=f"Runbook: {title}"))
    own = RUNBOOK_SECTIONS.get(area)
    if own and own[1] != anchor:
        marks.append(link(f"{base}#{own[1]}", link_type="link", name=f"Runbook: {own[0]}"))
    return marks


def _prop_escape(text: str, *, key: bool = False) -> str:
    """Java properties escaping (Allure parses the file that way): separators only matter in keys."""
    text = text.replace("\\", "\\\\").replace("\n", "\\n")
    if key:
        text = text.replace("=", "\\=").replace(":", "\\:").replace(" ", "\\ ")
    return text


def write_metadata(results: Path, properties: Mapping[str, str | None], executor: Mapping[str, Any]) -> None:
    """``environment.properties``, ``categories.json`` and ``executor.json`` in the Allure results folder."""
    results.mkdir(parents=True, exist_ok=True)
    lines = [f"{_prop_escape(k, key=True)}={_prop_escape(str(v))}"
             for k, v in properties.items() if v not in (None, "")]
    (results / "environment.properties").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (results / "categories.json").write_text(json.dumps(CATEGORIES, indent=2) + "\n", encoding="utf-8")
    (results / "executor.json").write_text(json.dumps(dict(executor), indent=2) + "\n", encoding="utf-8")
