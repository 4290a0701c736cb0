"""The standings table a signed-in user sees is the one the API serves."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from mt_verify.browser import selectors as sel
from mt_verify.browser.checks import text_or_none, ui_check
from mt_verify.browser.pages import AppShell, StandingsView
from mt_verify.config import Environment
from mt_verify.lookup import by_name
from mt_verify.outcome import check, fail
from mt_verify.probe import ApiClient

pytestmark = [pytest.mark.smoke, pytest.mark.gate]


def test_standings_table_matches_api(signed_in_page: Page, api: ApiClient, smoke_token: str,
                                     environment: Environment, smoke_timeout_ms: float) -> None:
    env, spec, site = environment.name, environment.standings, environment.site.url
    # The age groups' ids are needed only at the end; their answer arrives while the page loads.
    api.probe.prefetch([(api.url("/api/age-groups"), smoke_token, None)], once=True)
    app, view = AppShell(signed_in_page, smoke_timeout_ms), StandingsView(signed_in_page, smoke_timeout_ms)
    ui_check(env, f"{site}/ signed-in view", "the user menu (session restored)", app.wait_signed_in,
             app.signed_in_view_seen)
    app.open_tab(sel.TAB_TABLE)
    view.choose(age_group=spec.age_group, league=spec.league, division=spec.division, season=spec.season)
    resource = f"{site}/ standings ({spec.age_group}, {spec.league}, {spec.division})"
    ui_check(env, resource, "loading to end with the standings table shown", view.wait_settled,
             lambda: "still loading" if view.loading.is_visible() else "no table")
    ui_check(env, resource, "no table error", lambda: expect(view.error).to_have_count(0),
             text_or_none(lambda: view.error.first.text_content()))
    ui_check(env, resource, "no loading indicator", lambda: expect(view.loading).to_have_count(0),
             lambda: "the loading indicator")

    # The filters as the page ended up (fetches are not cancelled): ask the API the same question.
    season_id, division_id = view.selected_ids()
    ages = api.get("/api/age-groups", token=smoke_token, check_latency=False)
    age = by_name(ages.json() if ages.status == 200 else [], spec.age_group, "an age group", env, ages.url)
    ex = api.get("/api/table", token=smoke_token, check_latency=False,
                 params={"season_id": season_id, "age_group_id": age["id"], "division_id": division_id})
    if ex.status != 200:
        fail(env, f"GET {ex.url}", "HTTP 200", f"HTTP {ex.status} {ex.text[:120]!r}")
    body = ex.json_object()
    rows = body.get("standings")
    if not isinstance(rows, list):
        fail(env, f"GET {ex.url}", "a 'standings' list", type(rows).__name__)

    columns = [*sel.STANDINGS_COLUMNS, *([sel.QOP_COLUMN] if body.get("has_qop_data") else [])]
    headers = view.header_texts()
    check([h.casefold() for h in headers] == [c.casefold() for c in columns], env, f"{resource}: headers in order",
          columns, headers)
    check(bool(rows), env, f"{resource} and GET {ex.url}", "standings with rows (the environment's standings filter "
          "is one known to have data)", "no rows", next_step="check /api/table for these ids and the DAO cache "
          "(an empty result is cached for 24 h)")
    ui_check(env, resource, f"{len(rows)} rows, as GET /api/table", lambda: expect(view.rows).to_have_count(len(rows)),
             lambda: f"{view.rows.count()} rows")
    want_teams = [str(r.get("team")) for r in rows]
    want_points = [str(r.get("points")) for r in rows]

    def first_difference() -> str:
        shown = view.read_rows()
        for n, (got, team, pts) in enumerate(zip(shown, want_teams, want_points, strict=False), start=1):
            if (got.team, got.points) != (team, pts):
                return f"row {n}: {got.team!r} with {got.points} pts (API: {team!r} with {pts})"
        return f"{len(shown)} rows shown"

    ui_check(env, f"{resource}: team (td3) and Pts (td11) per row", "the API's team and points in every row",
             lambda: (expect(view.team_cells).to_have_text(want_teams),
                      expect(view.points_cells).to_have_text(want_points)), first_difference)
