"""Leftovers are visible (issue 11, item 7): a smoke match a killed run left behind, too young to sweep, is named in
the summary with when it will go; and the health tier's API session is logged out when the run ends.

Both run against one sandbox started here and reused by the suite (``MT_SANDBOX_CONTROL``), so that its database
can be looked at after the run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mt_verify import config as cfg
from selftests.suite import run_suite, sandbox_tokens, shipped_sandbox

FAR_DATE = "2095-06-15"  # after browser.smoke_matches.FAR_FUTURE: a smoke match by its date


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[dict[str, str]]:
    with shipped_sandbox() as env:
        yield env




def test_health_tier_logs_its_api_session_out_at_the_end(sandbox: dict[str, str], tmp_path: Path) -> None:
    assert sandbox_tokens(sandbox) == 0
    run = run_suite(tmp_path, "--env", "sandbox", "tests/health/test_standings.py", env=sandbox, timeout=120)
    assert run.outcomes.get("test_standings_add_up") == "passed", run.output  # it logged in through the API
    assert sandbox_tokens(sandbox) == 0, "the run's API token is still live after the run"


def _plant_smoke_match(env: dict[str, str]) -> int:
    """What a run killed mid-journey leaves: a far-future Friendly between the smoke teams, by the smoke user."""
    with httpx.Client(base_url=env["MT_SANDBOX_API_URL"], timeout=10) as api:
        login = api.post("/api/auth/login", json={"username": env["MT_SMOKE_USERNAME"],
                                                  "password": env["MT_SMOKE_PASSWORD"]})
        login.raise_for_status()
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}

        def named(path: str, name: str, **params: object) -> int:
            rows = api.get(path, headers=auth, params=params).raise_for_status().json()
            return next(r["id"] for r in rows if r["name"] == name)

        age, mtype = named("/api/age-groups", "U14"), named("/api/match-types", "Friendly")
        home = named("/api/teams", "TSC A-Team", match_type_id=mtype, age_group_id=age)
        away = named("/api/teams", "TSC B-Team", match_type_id=mtype, age_group_id=age)
        season = api.get("/api/current-season", headers=auth).raise_for_status().json()["id"]
        api.post("/api/matches", headers=auth, json={
            "match_date": FAR_DATE, "home_team_id": home, "away_team_id": away, "home_score": 0, "away_score": 0,
            "season_id": season, "age_group_id": age, "match_type_id": mtype}).raise_for_status()
        rows = api.get("/api/matches", headers=auth, params={"team_id": home, "start_date": FAR_DATE,
                                                             "end_date": FAR_DATE}).raise_for_status().json()
        api.post("/api/auth/logout", headers=auth)
        return int(rows[0]["id"])


def test_young_leftover_is_named_in_the_summary_with_when_it_goes(sandbox: dict[str, str], tmp_path: Path) -> None:
    match_id = _plant_smoke_match(sandbox)
    text = (cfg.ENVIRONMENTS_DIR / "sandbox.yaml").read_text(encoding="utf-8")
    assert "  sweep_after: 0\n" in text
    env_file = tmp_path / "sandbox-dev-sweep.yaml"
    env_file.write_text(text.replace("  sweep_after: 0\n", "  sweep_after: 900\n"), encoding="utf-8")
    run = run_suite(tmp_path, f"--env={env_file}", "-m", "smoke", "-k", "add_match", env=sandbox, timeout=180)
    assert run.outcomes.get("test_add_match_schedules_a_friendly") == "passed", run.output
    summary = (tmp_path / "reports" / "summary.json").read_text(encoding="utf-8")
    line = next((json.loads(f'"{chunk}"') for chunk in summary.split('"') if f"smoke match {match_id} " in chunk),
                None)
    assert line is not None, summary[-3000:]
    assert "left by an interrupted run" in line and "will be swept after" in line and "900 s" in line, line
    assert FAR_DATE in line
    # Still there (too young to sweep, by design), and the journey's own match was removed.
    with httpx.Client(base_url=sandbox["MT_SANDBOX_API_URL"], timeout=10) as api:
        login = api.post("/api/auth/login", json={"username": sandbox["MT_SMOKE_USERNAME"],
                                                  "password": sandbox["MT_SMOKE_PASSWORD"]}).json()
        got = api.get(f"/api/matches/{match_id}", headers={"Authorization": f"Bearer {login['access_token']}"})
    assert got.status_code == 200


@pytest.mark.parametrize(("status", "body", "want"), [
    (200, {"access_token": "aaa.bbb.ccc", "refresh_token": "r-123"}, ("aaa.bbb.ccc", "r-123")),
    (200, {"access_token": "aaa.bbb.ccc"}, ("aaa.bbb.ccc", None)),
    (200, {"access_token": "", "refresh_token": 7}, (None, None)),
    (401, {"detail": "Invalid credentials"}, (None, None)),
])
def test_session_tokens_are_read_out_of_a_sign_in_only_when_they_are_there(status: int, body: object,
                                                                           want: tuple[str | None, str | None]) -> None:
    from mt_verify.api_session import session_tokens
    from mt_verify.probe import Exchange

    ex = Exchange("sandbox", "POST", "http://127.0.0.1:1/api/auth/login", status, httpx.Headers(),
                  json.dumps(body).encode(), 0.07)
    assert session_tokens(ex) == want


def test_a_sign_in_that_answers_no_json_object_fails_the_check() -> None:
    from mt_verify.api_session import session_tokens
    from mt_verify.probe import Exchange

    ex = Exchange("sandbox", "POST", "http://127.0.0.1:1/api/auth/login", 200, httpx.Headers(), b"[1, 2]", 0.07)
    with pytest.raises(AssertionError, match="a JSON object"):
        session_tokens(ex)
