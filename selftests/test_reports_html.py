"""The HTML report: Allure 3 renders a run, carries the history of earlier runs of the environment over, and
makes a single self-contained file on request. Skipped where Node or Allure is not installed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mt_verify.reporting import html
from selftests.test_reports_runs import run_reports

pytestmark = pytest.mark.skipif(
    not html.available(),
    reason="Allure 3 or Node is not installed (bash scripts/install-allure.sh; needs node and npm)",
)

RUNS = ["sandbox-20260101T000000.000000Z", "sandbox-20260101T000100.000000Z", "sandbox-20260101T000200.000000Z"]


def _history_lines(run_dir: Path) -> int:
    path = run_dir / "history" / "history.jsonl"
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    base = tmp_path_factory.mktemp("reports")
    out = []
    for name in RUNS:
        run = run_reports(base, "--env", "sandbox", "tests/health/test_version.py", run_name=name)
        assert run.returncode == 0, run.output
        out.append(run.run_dir)
    return out


def test_report_renders_and_history_accumulates(runs: list[Path]) -> None:
    first, second, third = runs
    index = html.render(first, single_file=False, previous=None)
    assert index == first / "allure-report" / "index.html" and index.is_file()
    assert _history_lines(first) == 1
    # The second run was never rendered: rendering the third catches it up from its results.
    index3 = html.render(third, single_file=False, previous=second)
    assert index3.is_file() and _history_lines(third) == 3
    # Rendering again starts again from the earlier runs: this run is not counted twice.
    html.render(third, single_file=False, previous=second)
    assert _history_lines(third) == 3
    summary = json.loads((third / "allure-report" / "summary.json").read_text(encoding="utf-8"))
    assert summary["stats"] == {"total": 3, "passed": 3}, summary
    assert summary["newTests"] == [], summary  # Allure knows these tests from the carried-over history


def test_single_file_report_is_self_contained(runs: list[Path], tmp_path: Path) -> None:
    index = html.render(runs[1], single_file=True, previous=runs[0])
    assert index.parent.name == html.SINGLE_DIR and index.stat().st_size > 100_000
    text = index.read_text(encoding="utf-8")
    assert "<html" in text.lower() and 'src="app-' not in text  # scripts inlined, not loaded from files
    moved = tmp_path / "report.html"
    shutil.copyfile(index, moved)  # still a whole report on its own
    assert moved.read_text(encoding="utf-8") == text


def test_missing_results_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(html.ReportError, match="no Allure results"):
        html.render(tmp_path, single_file=False, previous=None)
