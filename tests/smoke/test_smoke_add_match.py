"""A team manager schedules a friendly through the Add Match form; the API has exactly that match; it is deleted."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from mt_verify.browser import selectors as sel
from mt_verify.browser.checks import ui_check
from mt_verify.browser.pages import AddMatchForm, AppShell, SubmitResult
from mt_verify.browser.smoke_matches import SmokeIds, delete_match, find_ui_matches, pick_match_date
from mt_verify.config import Environment
from mt_verify.notes import note
from mt_verify.outcome import check, fail
from mt_verify.probe import ApiClient

pytestmark = [pytest.mark.smoke]


@pytest.fixture
def writes_allowed(environment: Environment) -> None:
    smoke = environment.smoke
    if not smoke.writes:
        pytest.skip(f"[{environment.name}] smoke.writes is false: the add-match journey writes a match and is off")
    if smoke.teams is None:
        pytest.skip(f"[{environment.name}] smoke.teams is not set: no teams to schedule a smoke match between")


def test_add_match_schedules_a_friendly(writes_allowed: None, signed_in_page: Page, api: ApiClient, smoke_token: str,
                                        smoke_ids: SmokeIds, environment: Environment, smoke_timeout_ms: float,
                                        request: pytest.FixtureRequest) -> None:
    env, smoke, site = environment.name, environment.smoke, environment.site.url
    assert smoke.teams is not None
    app, form = AppShell(signed_in_page, smoke_timeout_ms), AddMatchForm(signed_in_page, smoke_timeout_ms)
    match_date = pick_match_date()

    def cleanup() -> None:  # registered before anything is written; runs however the journey ends
        for row in find_ui_matches(api, smoke_token, smoke_ids, match_date, env):
            delete_match(api, smoke_token, int(row["id"]), env)

    request.addfinalizer(cleanup)
    ui_check(env, f"{site}/ signed-in view", "the user menu (session restored)", app.wait_signed_in,
             app.signed_in_view_seen)
    app.open_tab(sel.TAB_ADD_MATCH)
    ui_check(env, f"{site}/ Add Match", "the match form", form.wait_loaded, lambda: "no match form")
    season_id = form.selected_season_id()
    what = (f"{smoke.match_type} {smoke.age_group} {smoke.teams.home} v {smoke.teams.away} on "
            f"{match_date.isoformat()}")
    results: list[SubmitResult] = []
    ui_check(env, f"{site}/ Add Match: {what}", "a settled form with both teams picked, submitted",
             lambda: results.append(form.schedule(age_group=smoke.age_group, match_type=smoke.match_type,
                                                  home=smoke.teams.home, away=smoke.teams.away,
                                                  match_date=match_date.isoformat())),
             lambda: f"team fetches in flight: {len(form.team_fetches.in_flight)}; options: {form.team_options()}",
             next_step="open Add Match by hand: the team lists come from GET /api/teams?match_type_id=... "
                       "(their order is in this test's trace)")
    result = results[0]
    for text in (*result.refetched, *result.repicked):
        note("select-repicked" if text in result.repicked else "team-list-refetched", text)
    if not result.sent:
        fail(env, f"{site}/ Add Match: {what}", "the submit to send GET /api/check-match, then POST /api/matches",
             result.why_not_sent(), details=f"team selects picked again {len(result.repicked)} time(s)",
             next_step="the form clears both team selects after every GET /api/teams answer: compare the order of "
                       "those answers in the trace with the picks")
    messages: list[str] = []
    ui_check(env, f"{site}/ Add Match: {what}", repr(sel.MSG_MATCH_SCHEDULED),
             lambda: messages.append(form.wait_message()), lambda: "no message in [data-testid='message']",
             next_step="the form sent the match: look at GET /api/check-match, GET /api/csrf-token and POST "
                       "/api/matches in the trace")
    check(messages[0] == sel.MSG_MATCH_SCHEDULED, env, f"{site}/ Add Match: {what}", repr(sel.MSG_MATCH_SCHEDULED),
          repr(messages[0]), next_step="the form shows 'Error submitting match' for any API failure (403 and 409 "
          "too): look at POST /api/matches in the trace and the backend log")
    found = find_ui_matches(api, smoke_token, smoke_ids, match_date, env,
                            season_id=int(season_id) if season_id.isdigit() else None)
    if len(found) != 1:
        fail(env, f"GET {api.url('/api/matches')} for {what} created by the smoke user",
             "exactly one match (the one the form scheduled)", f"{len(found)}",
             next_step="the form said it was scheduled: the backend did not store it (or stored it twice)")
    row = found[0]
    check(row.get("match_status") in (None, "scheduled"), env, f"match {row.get('id')}", "status scheduled",
          row.get("match_status"))
