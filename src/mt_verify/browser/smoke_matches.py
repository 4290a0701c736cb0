"""The add-match journey's data through the API: look-ups by name, finding the match the UI created,
deleting it safely, and sweeping leftovers of earlier runs.

The UI cannot set ``external_match_id``, so a UI-created smoke match is identified by date + teams +
``created_by`` (the smoke user). Its date is far in the future (from :data:`FAR_FUTURE` on, a random day
among ten years), so it collides with no real fixture and a leftover is recognisable for the sweep.
Deletion follows contract §1.9: ``GET /api/matches/{id}`` first, ``DELETE`` only on 200 (a DELETE of a
missing match answers 500 and pages the on-call). No journey ever sets a score.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from mt_verify.config import Smoke
from mt_verify.lookup import by_name, get_list
from mt_verify.outcome import fail
from mt_verify.probe import ApiClient

#: UI-created smoke matches are scheduled on or after this day.
FAR_FUTURE = date(2090, 1, 1)
SPREAD_DAYS = 3650
SMOKE_PREFIX = "SMOKE-"


def pick_match_date() -> date:
    return FAR_FUTURE + timedelta(days=secrets.randbelow(SPREAD_DAYS))


@dataclass(frozen=True)
class SmokeIds:
    age_group_id: int
    match_type_id: int
    home_id: int
    away_id: int
    user_id: str


def _list(api: ApiClient, path: str, token: str, env: str, params: dict[str, Any] | None = None) -> list[Any]:
    # The journey times the browser; these look-ups only find and clean up its data.
    return get_list(api, path, token, env, params, check_latency=False)


def user_id(api: ApiClient, token: str, env: str) -> str:
    ex = api.get("/api/auth/me", token=token, check_latency=False)
    body = ex.json_object() if ex.status == 200 else {}
    uid = (body.get("user") or {}).get("id") if isinstance(body.get("user"), dict) else None
    if not isinstance(uid, str) or not uid:
        fail(env, f"GET {ex.url}", "HTTP 200 with user.id", f"HTTP {ex.status} {ex.text[:120]!r}")
    return uid


def resolve(api: ApiClient, token: str, smoke: Smoke, env: str) -> SmokeIds:
    """Ids of the smoke teams, age group and match type, by name (prod ids differ from the seed)."""
    assert smoke.teams is not None
    # The three look-ups that need only the token go out together (each is still read and judged below).
    api.probe.prefetch([(api.url(path), token, None) for path in ("/api/age-groups", "/api/match-types",
                                                                  "/api/auth/me")])
    age = by_name(_list(api, "/api/age-groups", token, env), smoke.age_group, "an age group", env,
                  api.url("/api/age-groups"))
    mtype = by_name(_list(api, "/api/match-types", token, env), smoke.match_type, "a match type", env,
                    api.url("/api/match-types"))
    teams = _list(api, "/api/teams", token, env, {"match_type_id": mtype["id"], "age_group_id": age["id"]})
    url = api.url(f"/api/teams?match_type_id={mtype['id']}&age_group_id={age['id']}")
    home = by_name(teams, smoke.teams.home, "a team", env, url)
    away = by_name(teams, smoke.teams.away, "a team", env, url)
    return SmokeIds(age["id"], mtype["id"], home["id"], away["id"], user_id(api, token, env))


def find_ui_matches(api: ApiClient, token: str, ids: SmokeIds, match_date: date, env: str,
                    season_id: int | None = None) -> list[dict[str, Any]]:
    """The smoke user's matches between the smoke teams on ``match_date``."""
    params: dict[str, Any] = {"team_id": ids.home_id, "age_group_id": ids.age_group_id,
                              "start_date": match_date.isoformat(), "end_date": match_date.isoformat()}
    if season_id is not None:
        params["season_id"] = season_id
    rows = _list(api, "/api/matches", token, env, params)
    return [r for r in rows if isinstance(r, dict) and r.get("match_date", "")[:10] == match_date.isoformat()
            and r.get("home_team_id") == ids.home_id and r.get("away_team_id") == ids.away_id
            and r.get("created_by") == ids.user_id]


def delete_match(api: ApiClient, token: str, match_id: int, env: str) -> bool:
    """Delete one match by primary key; False when it is already gone. A refused delete fails."""
    got = api.get(f"/api/matches/{match_id}", token=token, check_latency=False)
    if got.status == 404:
        return False
    if got.status != 200:
        fail(env, f"GET {got.url} before deleting", "HTTP 200 or 404", f"HTTP {got.status} {got.text[:120]!r}")
    gone = api.delete(f"/api/matches/{match_id}", token=token, check_latency=False)
    if gone.status != 200:
        fail(env, f"DELETE {gone.url} (smoke match cleanup)", "HTTP 200", f"HTTP {gone.status} {gone.text[:120]!r}",
             next_step=f"delete match {match_id} by hand; it is a smoke test's leftover")
    return True


def _created(row: dict[str, Any]) -> datetime | None:
    value = row.get("created_at")
    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def is_smoke_match(row: dict[str, Any], ids: SmokeIds) -> bool:
    """A smoke journey's match: ``SMOKE-`` external id, or UI-created by the smoke user on the smoke teams far in
    the future."""
    if str(row.get("match_id") or "").startswith(SMOKE_PREFIX):
        return True
    teams = {ids.home_id, ids.away_id}
    return (row.get("created_by") == ids.user_id and row.get("home_team_id") in teams
            and row.get("away_team_id") in teams and str(row.get("match_date", ""))[:10] >= FAR_FUTURE.isoformat())


def is_leftover(row: dict[str, Any], ids: SmokeIds, older_than: datetime) -> bool:
    """A smoke match of an earlier run (:func:`is_smoke_match`) created before ``older_than`` (a concurrent run's
    match is left alone)."""
    created = _created(row)
    if created is None or created > older_than:
        return False
    return is_smoke_match(row, ids)


def sweep(api: ApiClient, token: str, ids: SmokeIds, env: str, older_than_s: float) -> list[str]:
    """Delete leftover smoke matches on the smoke teams; returns a line per deleted match."""
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    seen: dict[int, dict[str, Any]] = {}
    for team in (ids.home_id, ids.away_id):
        for row in _list(api, "/api/matches", token, env, {"team_id": team}):
            if isinstance(row, dict) and isinstance(row.get("id"), int):
                seen[row["id"]] = row
    deleted: list[str] = []
    for mid, row in sorted(seen.items()):
        if is_leftover(row, ids, cutoff) and delete_match(api, token, mid, env):
            deleted.append(f"match {mid} ({row.get('match_id') or 'UI-created'}, {row.get('match_date')}, "
                           f"created {row.get('created_at')})")
        elif not is_leftover(row, ids, cutoff) and is_smoke_match(row, ids):
            report_young_leftover(env, mid, row, older_than_s)
    return deleted


def report_young_leftover(env: str, match_id: int, row: dict[str, Any], sweep_after_s: float) -> None:
    """A smoke match too young to sweep (issue 11.7): say whose it is and when it goes, so nobody wonders.

    Before this run writes, a young smoke match is another run's: one that was killed before its cleanup (kept by
    design until ``smoke.sweep_after``, since a concurrent run may still be using it) or one still running."""
    from mt_verify.notes import note

    created = _created(row)
    when = (created + timedelta(seconds=sweep_after_s)).strftime("%Y-%m-%d %H:%M UTC") if created else "?"
    note("leftover", f"[{env}] smoke match {match_id} ({row.get('match_id') or 'UI-created'}, "
                     f"{str(row.get('match_date', ''))[:10]}, created {row.get('created_at')}): left by an "
                     f"interrupted run (or one still running), will be swept after {when} "
                     f"(smoke.sweep_after {sweep_after_s:g} s)")
