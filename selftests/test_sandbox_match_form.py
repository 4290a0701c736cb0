"""The sandbox's Add Match form does what the real MatchForm.vue does (contract section 2.8), judged from the
browser: choosing Friendly after the default League sends two team fetches (with the old division, then without),
and the answer that arrives last resets both team selects, even after a person picked them. The test holds the
second answer back with a Playwright route, so the order is the one that fooled the suite on the real app."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit


def team_params(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def test_friendly_fires_two_team_fetches_and_the_late_answer_clears_the_picked_teams(signed_in: Any) -> None:
    page = signed_in
    opening: set[Any] = set()  # the form's own first team fetches, whose answers come back in any order
    page.on("request", lambda r: opening.add(r) if "/api/teams?" in r.url else None)
    page.on("requestfinished", lambda r: opening.discard(r))
    page.on("requestfailed", lambda r: opening.discard(r))
    page.get_by_role("button", name="Add Match", exact=True).click()
    page.locator("#home_team option").nth(1).wait_for(state="attached")
    for _ in range(40):  # bounded: each wait is for one answer (the sandbox delays them by under a second)
        if not opening:
            break
        page.wait_for_event("requestfinished", lambda r: "/api/teams?" in r.url, timeout=5_000)
    assert not opening, f"the form's first team fetches never ended: {[r.url for r in opening]}"
    held: list[Any] = []
    seen: list[dict[str, str]] = []
    releasing: list[bool] = []

    def on_teams(route: Any) -> None:
        params = team_params(route.request.url)
        seen.append(params)
        if "division_id" in params or releasing:
            route.continue_()
        else:
            held.append(route)  # the answer to the second fetch comes back last

    page.route("**/api/teams?*", on_teams)
    with page.expect_response(lambda r: "/api/teams?" in r.url and "division_id=" in r.url) as first, \
            page.expect_request(lambda r: "/api/teams?" in r.url and "division_id=" not in r.url):
        page.select_option("select[data-testid='match-type-select']", label="Friendly")
    # The first answer has been rendered (its teams are the options) before the second is let go: a response
    # event alone does not mean the page has read the body, and on a loaded runner it could render after.
    names = [t["name"] for t in first.value.json()]
    page.wait_for_function("names => JSON.stringify([...document.querySelectorAll('#home_team option')]"
                           ".slice(1).map(o => o.textContent)) === JSON.stringify(names)", arg=names)
    assert [("division_id" in p, p.get("match_type_id")) for p in seen] == [(True, "3"), (False, "3")], seen
    assert len(held) == 1
    # The first answer (the old division) lists no TSC team: pick what a person would, from the second answer's
    # list, which the page does not have yet; so release it, pick, and then show a *late* answer clearing them.
    with page.expect_response(lambda r: "/api/teams?" in r.url and "division_id=" not in r.url):
        held.pop().continue_()
    page.wait_for_function("document.querySelectorAll('#home_team option').length > 2")
    page.select_option("#home_team", label="TSC A-Team")
    page.select_option("#away_team", label="TSC B-Team")
    assert page.input_value("#home_team") != ""
    # A late answer of an uncancelled fetch (an age-group change and back, the second answer held) resets again.
    for label in ("U15", "U14"):
        with page.expect_request(lambda r: "/api/teams?" in r.url):
            page.select_option("select[data-testid='age-group-select']", label=label)
    with page.expect_response(lambda r: "/api/teams?" in r.url and "age_group_id=2" in r.url):
        releasing.append(True)  # a fetch the handler has not seen yet goes straight through
        while held:
            held.pop().continue_()
    page.wait_for_function("document.querySelector('#home_team').value === '' "
                           "&& document.querySelector('#away_team').value === ''")


def test_the_division_leaves_the_form_for_a_friendly(signed_in: Any) -> None:
    page = signed_in
    page.get_by_role("button", name="Add Match", exact=True).click()
    page.locator("[data-testid='division-section']").wait_for(state="attached")
    page.select_option("select[data-testid='match-type-select']", label="Friendly")
    page.locator("[data-testid='division-section']").wait_for(state="detached")
