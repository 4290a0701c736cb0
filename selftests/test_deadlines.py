"""No run without an end: a tier that outlives ``http.tier_budget`` fails its remaining checks fast, naming the
budget, and the run's summary is still written."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from selftests.suite import ROOT, run_suite


def test_a_tier_past_its_budget_fails_the_rest_fast_and_still_writes_the_summary(tmp_path: Path) -> None:
    raw = yaml.safe_load((ROOT / "environments" / "sandbox.yaml").read_text(encoding="utf-8"))
    raw.setdefault("http", {})["tier_budget"] = 0.001
    path = tmp_path / "sandbox-tiny-budget.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    run = run_suite(tmp_path, f"--env={path}", "-m", "health", "-p", "no:randomly")
    assert run.returncode == 1, run.output
    too_slow = {name for name, case in run.cases.items() if "http.tier_budget" in case.message}
    ran = [c for c in run.cases.values() if c.verdict == "passed"]
    assert len(ran) <= 1 and len(too_slow) >= 10, run.output  # only the first check ran
    assert all(run.cases[n].verdict == "failed" for n in too_slow)
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text(encoding="utf-8"))
    assert summary["verdict"] == "failed"
