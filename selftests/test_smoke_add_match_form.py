"""The Add Match page object on the form as the real app has it (contract 2.8), with the bad orders forced by
Playwright routes and page scripts instead of hoped for: a stale team list that lands last is asked for again, a
team a late reset cleared is picked again, and a submit the browser blocks is explained by field and by the
browser's own validation message. Judged from the browser and the sandbox's database, not the page object."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mt_verify.browser.pages import AddMatchForm
from sandbox.server import Sandbox
from selftests.signedin import TIMEOUT_MS

HOME, AWAY = "TSC A-Team", "TSC B-Team"


def _params(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def _stored(sandbox: Sandbox, day: date) -> list[dict[str, Any]]:
    return sandbox.world.db.all(
        "SELECT m.*, h.name AS home, a.name AS away FROM matches m JOIN teams h ON h.id=m.home_team_id "
        "JOIN teams a ON a.id=m.away_team_id WHERE m.match_date=?", (day.isoformat(),))


def _open_form(page: Any) -> AddMatchForm:
    form = AddMatchForm(page, TIMEOUT_MS)  # before the tab opens: it must see the form's first fetches
    page.get_by_role("button", name="Add Match", exact=True).click()
    return form


def test_stale_team_list_landing_last_is_asked_for_again(signed_in: Any, sandbox: Sandbox) -> None:
    """Friendly sends a fetch with the old division and one without; the first answer is held until the second
    is in, so the list without the smoke teams is the one shown. The page object must ask again."""
    page = signed_in
    held: list[Any] = []
    released: list[bool] = []

    def on_teams(route: Any) -> None:
        p = _params(route.request.url)
        if p.get("match_type_id") == "3" and "division_id" in p and not released:
            held.append(route)
        else:
            route.continue_()

    def release_after_the_other(request: Any) -> None:
        p = _params(request.url)
        if urlsplit(request.url).path.endswith("/api/teams") and p.get("match_type_id") == "3" \
                and "division_id" not in p and held:
            released.append(True)
            held.pop().continue_()

    page.route("**/api/teams?*", on_teams)
    page.on("requestfinished", release_after_the_other)
    form = _open_form(page)
    day = date(2099, 6, 5)
    result = form.schedule(age_group="U14", match_type="Friendly", home=HOME, away=AWAY, match_date=day.isoformat())
    assert released, "the held answer was never released: the order under test did not happen"
    assert result.sent and len(result.refetched) == 1, result
    assert form.wait_message() == "Match scheduled successfully"
    assert [(r["home"], r["away"]) for r in _stored(sandbox, day)] == [(HOME, AWAY)]


#: A late reset of Home Team, once, right after it is picked (what an uncancelled fetch's answer does).
_LATE_RESET_ONCE = """() => document.addEventListener('change', e => {
  if (e.target.id !== 'home_team' || !e.target.value || window.__lateResetDone) return;
  window.__lateResetDone = true;
  setTimeout(() => { e.target.value = ''; e.target.dispatchEvent(new Event('change', {bubbles: true})); }, 0);
}, true)"""


def test_team_cleared_by_a_late_reset_is_picked_again(signed_in: Any, sandbox: Sandbox) -> None:
    page = signed_in
    form = _open_form(page)
    form.wait_loaded()
    page.evaluate(_LATE_RESET_ONCE)
    day = date(2099, 6, 12)
    result = form.schedule(age_group="U14", match_type="Friendly", home=HOME, away=AWAY, match_date=day.isoformat())
    assert page.evaluate("() => window.__lateResetDone === true"), "the late reset never happened"
    assert result.sent and len(result.repicked) == 1 and "Home Team" in result.repicked[0], result
    assert form.wait_message() == "Match scheduled successfully"
    assert [(r["home"], r["away"]) for r in _stored(sandbox, day)] == [(HOME, AWAY)]


_BLOCKED_FORM = """<form data-testid="match-form">
  <label for="match_date">Date</label><input id="match_date" type="date" required value="2099-06-19">
  <label for="home_team">Home Team</label>
  <select id="home_team" required><option value="">Select home team</option><option value="1">A</option></select>
  <button type="submit" data-testid="submit-button">Schedule Game</button>
</form>"""


def test_blocked_submit_names_the_empty_field_and_the_browsers_message(chromium: Any) -> None:
    page = chromium.new_context(locale="en-US").new_page()
    page.set_content(_BLOCKED_FORM)
    result = AddMatchForm(page, 1000).submit()
    assert not result.sent
    [field] = result.invalid
    assert (field.label, field.selector, field.value) == ("Home Team", "#home_team", "")
    assert field.message == "Please select an item in the list."
    why = result.why_not_sent()
    assert "Home Team (#home_team) is empty" in why and "Please select an item in the list." in why, why
