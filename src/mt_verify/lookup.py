"""Names in the environment file -> ids in this deployment (prod ids differ from the seed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mt_verify.config import Standings
from mt_verify.outcome import fail
from mt_verify.probe import ApiClient


@dataclass(frozen=True)
class StandingsIds:
    season_id: int
    age_group_id: int
    division_id: int
    league_id: int

    def params(self) -> dict[str, int]:
        return {"season_id": self.season_id, "age_group_id": self.age_group_id, "division_id": self.division_id}


def get_list(api: ApiClient, path: str, token: str, env: str, params: dict[str, Any] | None = None, *,
             check_latency: bool = True) -> list[Any]:
    """A list endpoint's rows; anything but HTTP 200 with a JSON list fails the check."""
    ex = api.get(path, token=token, params=params, check_latency=check_latency)
    if ex.status != 200:
        fail(env, f"GET {ex.url}", "HTTP 200 with a list", f"HTTP {ex.status} {ex.text[:120]!r}")
    data = ex.json()
    if not isinstance(data, list):
        fail(env, f"GET {ex.url}", "a JSON list", type(data).__name__)
    return data


def by_name(rows: list[Any], name: str, what: str, env: str, url: str) -> dict[str, Any]:
    for row in rows:
        if isinstance(row, dict) and row.get("name") == name:
            return row
    names = ", ".join(str(r.get("name")) for r in rows if isinstance(r, dict))[:200]
    fail(env, url, f"{what} named {name!r}", f"only: {names or 'none'}",
         next_step="fix the name in the environment file, or check the reference data")


#: The look-ups :func:`standings_ids` makes, none waiting on another: a caller may send them ahead together.
LOOKUPS = ("/api/seasons", "/api/age-groups", "/api/leagues", "/api/divisions")


def standings_ids(api: ApiClient, token: str, spec: Standings, env: str) -> StandingsIds:
    return ids_from({path: get_list(api, path, token, env) for path in LOOKUPS}, spec, env, api.url)


def ids_from(lists: dict[str, list[Any]], spec: Standings, env: str, url: Callable[[str], str]) -> StandingsIds:
    """The standings filter's ids from the look-ups' rows (``LOOKUPS`` path -> rows); a name that is not there
    fails the check (``url(path)`` names the look-up)."""
    seasons = lists["/api/seasons"]
    if spec.season:
        season = by_name(seasons, spec.season, "a season", env, url("/api/seasons"))
    else:
        current = [s for s in seasons if isinstance(s, dict) and s.get("is_current")]
        if len(current) != 1:
            fail(env, url("/api/seasons"), "exactly one is_current season", f"{len(current)}")
        season = current[0]
    age = by_name(lists["/api/age-groups"], spec.age_group, "an age group", env, url("/api/age-groups"))
    league = by_name(lists["/api/leagues"], spec.league, "a league", env, url("/api/leagues"))
    # Every division, filtered here by the league's id (each row carries its league_id, contract §1.6), so this
    # read does not wait on the leagues' answer: the four look-ups go out together (LOOKUPS).
    divisions = [r for r in lists["/api/divisions"] if isinstance(r, dict) and r.get("league_id") == league["id"]]
    division = by_name(divisions, spec.division, f"a division of league {spec.league!r}", env, url("/api/divisions"))
    return StandingsIds(season["id"], age["id"], division["id"], league["id"])
