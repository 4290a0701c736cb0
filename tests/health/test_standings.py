"""Auth is on, and the standings table the site shows is complete and adds up."""

from __future__ import annotations

import pytest

from mt_verify.checks.standings import table_problems
from mt_verify.lookup import StandingsIds
from mt_verify.outcome import check
from mt_verify.probe import ApiClient

pytestmark = [pytest.mark.health, pytest.mark.gate, pytest.mark.area("Standings")]


def test_standings_require_auth(api: ApiClient, env_name: str) -> None:
    anonymous = api.get("/api/table")
    check(anonymous.status == 401, env_name, f"GET {anonymous.url} without a token", "HTTP 401",
          f"HTTP {anonymous.status}", next_step="auth is off on the backend: check DISABLE_SECURITY and the auth "
          "dependency; standings must not be public")
    garbage = api.get("/api/table", token="not-a-real-token")
    check(garbage.status == 401, env_name, f"GET {garbage.url} with an invalid token", "HTTP 401",
          f"HTTP {garbage.status}")


def test_standings_add_up(api: ApiClient, api_token: str, standings_filter: StandingsIds, env_name: str) -> None:
    ex = api.get("/api/table", token=api_token, params=standings_filter.params())
    check(ex.status == 200, env_name, f"GET {ex.url}", "HTTP 200", f"HTTP {ex.status} {ex.text[:120]!r}")
    body = ex.json()
    problems = table_problems(body)
    check(not problems, env_name, f"GET {ex.url}", "non-empty standings where played=W+D+L, points=3W+D, "
          "GD=GF-GA, sorted", "; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""),
          next_step="an empty table for a populated season points at the DB or a cached empty result "
                    "(mt:dao:matches:* in Redis); wrong sums at the standings DAO")
