"""The console policy end to end, judged from the run's summary.json: the sandbox makes the real app's noise, the
shipped allow-list forgives and counts it, an entry nothing matched is listed as stale (only when no xdist worker
matched it), and a third-party failure no entry allows is a warning, never red."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from selftests.suite import Run, run_suite

ROOT = Path(__file__).resolve().parents[1]
ANONYMOUS = "test_anonymous_front_page_loads_cleanly"
NEVER = "an entry for noise the app stopped making long ago"


def env_file(tmp: Path, edit: Any) -> Path:
    raw = yaml.safe_load((ROOT / "environments" / "sandbox.yaml").read_text(encoding="utf-8"))
    edit(raw["smoke"]["console"]["allow"])
    path = tmp / "sandbox-console.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def summary(tmp: Path) -> dict[str, Any]:
    [path] = list((tmp / "reports").rglob("summary.json"))
    return json.loads(path.read_text(encoding="utf-8"))


def smoke(tmp: Path, *args: str) -> Run:
    return run_suite(tmp, "-m", "smoke", "-p", "no:randomly", *args, timeout=300)


def stale_texts(data: dict[str, Any]) -> list[str]:
    return [e["text"] for e in (data["notes"].get("stale-allow-list") or {}).get("examples", [])]


def test_healthy_run_on_two_workers_forgives_the_noise_and_has_no_stale_entry(tmp_path: Path) -> None:
    """Every shipped entry matches something in a full smoke run, whichever worker saw it."""
    run = smoke(tmp_path, "--env", "sandbox", "-n", "2")
    assert run.returncode == 0, run.output
    data = summary(tmp_path)
    assert data["verdict"] == "passed", data["verdict"]
    assert data["notes"]["console-forgiven"]["count"] >= 7, data["notes"]
    assert not stale_texts(data), stale_texts(data)
    usage = list((tmp_path / "reports").rglob("allow-list-usage/*.json"))
    assert {p.name for p in usage} <= {"smoke.console.allow.gw0.json", "smoke.console.allow.gw1.json"}, usage


def test_entry_that_matched_nothing_is_reported_stale_by_its_reason(tmp_path: Path) -> None:
    path = env_file(tmp_path, lambda allow: allow.append({"pattern": "^never printed by anything$",
                                                           "reason": NEVER}))
    run = smoke(tmp_path, f"--env={path}", "-k", "loads_cleanly")
    assert run.outcomes == {ANONYMOUS: "passed"}, run.output
    data = summary(tmp_path)
    stale = stale_texts(data)
    assert any(NEVER in t for t in stale), stale
    assert not any("frame-ancestors" in t for t in stale), stale  # the CSP entry matched on this page
    markdown = next((tmp_path / "reports").rglob("summary.md")).read_text(encoding="utf-8")
    assert NEVER in markdown
    assert data["verdict"] == "passed"  # a stale entry is list hygiene, not a defect of the app


def test_third_party_failure_no_entry_allows_is_a_warning_not_red(tmp_path: Path) -> None:
    path = env_file(tmp_path, lambda allow: allow.__setitem__(
        slice(None), [e for e in allow if "fonts" not in str(e.get("source"))]))
    run = smoke(tmp_path, f"--env={path}", "-k", "loads_cleanly")
    assert run.outcomes == {ANONYMOUS: "passed"}, run.output
    data = summary(tmp_path)
    assert data["verdict"] == "passed_with_warnings", data["verdict"]
    [test] = [t for t in data["tests"] if t["nodeid"].endswith(ANONYMOUS)]
    assert any("fonts.googleapis.com" in w and "third-party" in w for w in test["warnings"]), test["warnings"]
    assert data["notes"]["third-party"]["count"] >= 1
