"""Smoke-tier building blocks without a browser: executable choice, header normalisation, leftover sweep
rules, trace redaction, and the options module staying free of Playwright."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mt_verify.browser.launch import NODE_COMPILE_CACHE, choose_executable, launch_args, node_compile_cache
from mt_verify.browser.pages import header_text
from mt_verify.browser.recorder import redact_zip
from mt_verify.browser.smoke_matches import FAR_FUTURE, SmokeIds, is_leftover
from mt_verify.outcome import SuiteError
from mt_verify.redact import MASK, register_secret

ROOT = Path(__file__).resolve().parents[1]


def _exe(tmp: Path, name: str) -> str:
    path = tmp / name
    path.write_text("#!/bin/sh\n")
    return str(path)


def test_executable_precedence_option_then_env_then_config(tmp_path: Path) -> None:
    opt, env, conf, own = (_exe(tmp_path, n) for n in ("opt", "env", "conf", "own"))
    system = Path(_exe(tmp_path, "system"))
    assert choose_executable(opt, conf, own, {"MT_CHROMIUM": env}, system).executable == opt
    assert choose_executable(None, conf, own, {"MT_CHROMIUM": env}, system).executable == env
    assert choose_executable(None, conf, own, {}, system).executable == conf
    assert choose_executable(None, None, own, {}, system).executable is None  # Playwright's own browser
    assert choose_executable(None, None, str(tmp_path / "absent"), {}, system,
                             headless_shell=tmp_path / "no-shell").executable == str(system)


def test_headless_runs_prefer_the_headless_shell(tmp_path: Path) -> None:
    system, shell = Path(_exe(tmp_path, "chromium")), Path(_exe(tmp_path, "chromium-headless-shell"))
    assert choose_executable(None, None, None, {}, system, headless_shell=shell).executable == str(shell)
    assert choose_executable(None, None, None, {}, system, headed=True, headless_shell=shell).executable == str(system)


def test_missing_executable_is_a_suite_error(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="--browser-path"):
        choose_executable(str(tmp_path / "nope"), None, None, {}, tmp_path / "none")
    with pytest.raises(SuiteError, match="no Chromium"):
        choose_executable(None, None, None, {}, tmp_path / "none", headless_shell=tmp_path / "none")


def test_launch_args_headless_by_default(tmp_path: Path) -> None:
    choice = choose_executable(_exe(tmp_path, "c"), None, None, {}, tmp_path / "none")
    assert launch_args(choice, headed=False, slowmo_ms=0) == {"headless": True, "executable_path": choice.executable}
    assert launch_args(choice, headed=True, slowmo_ms=250)["slow_mo"] == 250


@pytest.mark.parametrize(("raw", "want"), [("Pts ▼", "Pts"), (" GP\n", "GP"), ("#", "#"), ("+/-", "+/-"),
                                           ("W ↑", "W"), ("Team", "Team")])
def test_header_text_drops_sort_carets(raw: str, want: str) -> None:
    assert header_text(raw) == want


IDS = SmokeIds(age_group_id=2, match_type_id=3, home_id=101, away_id=102, user_id="u-1")
#: One clock for the table and the check (a long selftest run must not age the "new" row past the cutoff).
NOW = datetime.now(UTC)
OLD = (NOW - timedelta(hours=2)).isoformat()
NEW = NOW.isoformat()


@pytest.mark.parametrize(("row", "leftover"), [
    ({"match_id": "SMOKE-run-1", "created_at": OLD}, True),
    ({"match_id": "SMOKE-run-2", "created_at": NEW}, False),  # a concurrent run's: left alone
    ({"match_id": None, "created_by": "u-1", "home_team_id": 101, "away_team_id": 102,
      "match_date": FAR_FUTURE.isoformat(), "created_at": OLD}, True),
    ({"match_id": None, "created_by": "u-1", "home_team_id": 101, "away_team_id": 102,
      "match_date": "2026-10-04", "created_at": OLD}, False),  # a real date: never swept
    ({"match_id": None, "created_by": "someone-else", "home_team_id": 101, "away_team_id": 102,
      "match_date": FAR_FUTURE.isoformat(), "created_at": OLD}, False),
    ({"match_id": "SEED-1", "created_at": OLD}, False),
])
def test_sweep_takes_only_old_smoke_matches(row: dict[str, object], leftover: bool) -> None:
    assert is_leftover(row, IDS, NOW - timedelta(minutes=15)) is leftover


def test_redact_zip_masks_text_and_binary_members(tmp_path: Path) -> None:
    secret = "Zq-unit-secret-93c1"
    register_secret(secret)
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJlLXNpZw"
    src, dst = tmp_path / "in.zip", tmp_path / "out.zip"
    with zipfile.ZipFile(src, "w") as z:
        z.writestr("trace.network", f'{{"headers":[{{"name":"authorization","value":"Bearer {jwt}"}}],'
                                    f'"postData":"{{\\"password\\":\\"{secret}\\"}}"}}')
        z.writestr("resources/shot.jpeg", b"\xff\xd8\xff" + secret.encode() + b"\x00\xff")
    redact_zip(src, dst)
    with zipfile.ZipFile(dst) as z:
        blobs = {name: z.read(name) for name in z.namelist()}
    for data in blobs.values():
        assert secret.encode() not in data and jwt.encode() not in data
    assert MASK.encode() in blobs["resources/shot.jpeg"]


def test_options_module_does_not_import_playwright() -> None:
    code = ("import sys, mt_verify.browser.options, mt_verify.browser.launch; "
            "sys.exit(1 if any(m.startswith('playwright') for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=60).returncode == 0


def test_playwrights_driver_gets_a_compile_cache_under_the_users_cache(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    folder = node_compile_cache(env)
    assert folder == tmp_path / "mt-verify" / "node-compile-cache" and folder.is_dir()
    assert env[NODE_COMPILE_CACHE] == str(folder)


def test_a_chosen_compile_cache_is_kept_and_an_empty_one_means_none(tmp_path: Path) -> None:
    chosen = {NODE_COMPILE_CACHE: str(tmp_path / "mine"), "XDG_CACHE_HOME": str(tmp_path)}
    assert node_compile_cache(chosen) == tmp_path / "mine" and not (tmp_path / "mt-verify").exists()
    off = {NODE_COMPILE_CACHE: "", "XDG_CACHE_HOME": str(tmp_path)}
    assert node_compile_cache(off) is None and off[NODE_COMPILE_CACHE] == ""


def test_no_compile_cache_where_the_cache_folder_cannot_be_made(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    env = {"XDG_CACHE_HOME": str(blocker)}
    assert node_compile_cache(env) is None and NODE_COMPILE_CACHE not in env
