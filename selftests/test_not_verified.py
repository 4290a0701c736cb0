"""A plain run that could not run a check the environment asks for says "not verified" (yellow) in summary.json,
summary.md and on the terminal, never a grey "skipped" that reads as fine."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from mt_verify import config as cfg
from selftests.suite import run_suite


def test_missing_credentials_and_expected_release_are_yellow_not_verified(tmp_path: Path) -> None:
    _, raw = cfg.load_raw("sandbox")
    raw["smoke"].update(required=False, username_env="MT_UNSET_SMOKE_USER", password_env="MT_UNSET_SMOKE_PASSWORD")
    del raw["release"]["expected"]
    env_file = tmp_path / "sandbox.yaml"
    env_file.write_text(yaml.safe_dump(raw), encoding="utf-8")
    run = run_suite(tmp_path, f"--env={env_file}", "-m", "health or smoke")
    assert run.returncode == 0, run.output
    data = json.loads((tmp_path / "reports" / "summary.json").read_text(encoding="utf-8"))
    status = {t["nodeid"].rsplit("::", 1)[-1]: t["status"] for t in data["tests"]}
    assert status["test_served_version_is_expected_release"] == "not_verified"
    assert status["test_login_through_ui_shows_user_menu_and_tabs"] == "not_verified"
    assert status["test_endpoint_check[none]"] == "skipped"  # nothing declared: nothing asked for
    rows = {a["name"]: a for a in data["areas"]}
    assert (rows["Version"]["light"], rows["Version"]["status"]) == ("yellow", "not_verified")
    assert (rows["Login"]["light"], rows["Login"]["status"]) == ("yellow", "not_verified")
    assert data["verdict"] == "not_verified"
    md = (tmp_path / "reports" / "summary.md").read_text(encoding="utf-8")
    assert "| Login | 🟡 not verified |" in md and "MT_UNSET_SMOKE_USER" in md
    assert "| Login | 🟡 not verified |" in run.output and "🟡 NOT VERIFIED" in run.output
