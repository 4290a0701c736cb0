"""Page objects of the Missing Table SPA: one class per view or component, locators built once from
:mod:`mt_verify.browser.selectors`, intent methods that act and wait for what the user sees.

Every wait is bounded by the page object's ``timeout_ms`` (the environment's ``smoke.timeout``); nothing
waits for ``networkidle`` (the app polls ``/api/matches/live`` every 30 s) and nothing sleeps.
Assertions stay in the tests; page objects only act, wait and read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from playwright.sync_api import Locator, Page, Response
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from mt_verify.browser import selectors as sel

_CARETS = re.compile(r"[\s▲▼↑↓⇅⬆⬇▴▾△▽^]+$")


def header_text(raw: str) -> str:
    """A column header as the contract names it: whitespace collapsed, sort caret removed (case kept)."""
    text = " ".join(raw.split())
    return _CARETS.sub("", text) if text not in ("#", "+/-") else text


class _View:
    def __init__(self, page: Page, timeout_ms: float) -> None:
        self.page = page
        self.timeout_ms = timeout_ms


class AppShell(_View):
    """Navigation bar, hero (anonymous view), user menu and tabs (``App.vue``, ``AuthNav.vue``)."""

    def __init__(self, page: Page, timeout_ms: float) -> None:
        super().__init__(page, timeout_ms)
        self.app_root = page.locator(sel.APP_ROOT)
        self.nav = page.locator(sel.MAIN_NAV)
        self.headings = page.locator(sel.HERO_HEADING)
        self.hero_heading = self.headings.filter(has_text=sel.HERO_TEXT)
        self.tab_buttons = page.locator(sel.TAB_BUTTONS)
        self.login_button = page.locator(sel.NAV_LOGIN_BUTTON)
        self.user_menu = page.locator(sel.USER_MENU)
        self.user_dropdown = page.locator(sel.USER_DROPDOWN)
        self.user_name = page.locator(sel.USER_NAME)
        self.user_role = page.locator(sel.USER_ROLE)
        self.logout_button = page.locator(sel.LOGOUT_BUTTON)

    def open(self, url: str) -> Response | None:
        """Load the site (waits for the ``load`` event, not for the network to go idle)."""
        return self.page.goto(url, wait_until="load", timeout=self.timeout_ms)

    def tab(self, name: str) -> Locator:
        return self.tab_buttons.filter(has_text=re.compile(rf"^\s*{re.escape(name)}\s*$"))

    def tab_names(self) -> list[str]:
        return [" ".join(t.split()) for t in self.tab_buttons.all_text_contents()]

    def first_heading(self) -> str | None:
        return self.headings.first.text_content() if self.headings.count() else None

    def open_tab(self, name: str) -> None:
        self.tab(name).click(timeout=self.timeout_ms)

    def open_login(self) -> LoginModal:
        self.login_button.click(timeout=self.timeout_ms)
        modal = LoginModal(self.page, self.timeout_ms)
        modal.form.wait_for(state="visible", timeout=self.timeout_ms)
        return modal

    def wait_signed_in(self) -> None:
        self.user_menu.wait_for(state="visible", timeout=self.timeout_ms)

    def log_out(self) -> None:
        self.user_dropdown.click(timeout=self.timeout_ms)
        self.logout_button.click(timeout=self.timeout_ms)
        self.login_button.wait_for(state="visible", timeout=self.timeout_ms)

    def next_frame(self) -> None:
        """Return once the page has painted another frame (what was just received has been rendered)."""
        self.page.evaluate("() => new Promise(resolve => requestAnimationFrame(() => resolve(null)))")

    def local_storage(self, key: str) -> str | None:
        value = self.page.evaluate("key => window.localStorage.getItem(key)", key)
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class LoginAttempt:
    """What submitting the login form led to, as the user saw it."""

    signed_in: bool
    #: The login form's error message, when one was shown.
    error: str | None
    #: Seconds from the click on Login to the user menu (or the error) appearing.
    elapsed_s: float


class LoginModal(_View):
    """``LoginForm.vue`` inside ``.modal-overlay > .modal-content``."""

    def __init__(self, page: Page, timeout_ms: float) -> None:
        super().__init__(page, timeout_ms)
        self.modal = page.locator(sel.LOGIN_MODAL)
        self.form = page.locator(sel.LOGIN_FORM)
        self.username = page.locator(sel.USERNAME_INPUT)
        self.password = page.locator(sel.PASSWORD_INPUT)
        self.submit_button = page.locator(sel.LOGIN_BUTTON)
        self.error = page.locator(sel.LOGIN_ERROR)

    def sign_in(self, username: str, password: str, *,
                while_typing_password: Callable[[], AbstractContextManager[object]] | None = None) -> LoginAttempt:
        """Fill the form and submit; wait until the user menu or the form's error message appears.

        ``while_typing_password`` wraps the password's typing and the submission (the evidence recorder pauses
        tracing there, so no trace holds the password or the login response's tokens)."""
        import time

        self.username.fill(username, timeout=self.timeout_ms)
        shell = AppShell(self.page, self.timeout_ms)
        outcome = shell.user_menu.or_(self.error)
        guard = while_typing_password() if while_typing_password else nullcontext()
        with guard:
            self.password.fill(password, timeout=self.timeout_ms)
            start = time.monotonic()
            self.submit_button.click(timeout=self.timeout_ms)
            try:
                outcome.first.wait_for(state="visible", timeout=self.timeout_ms)
            except PlaywrightTimeoutError:
                pass  # neither appeared within the timeout: the attempt reports what is on screen
            elapsed = time.monotonic() - start
            if self.error.is_visible():
                self.password.fill("", timeout=self.timeout_ms)  # no snapshot after this holds the password
        signed_in = shell.user_menu.is_visible()
        error = self.error.first.text_content() if not signed_in and self.error.count() else None
        return LoginAttempt(signed_in=signed_in, error=" ".join(error.split()) if error else None, elapsed_s=elapsed)


@dataclass(frozen=True)
class StandingsRow:
    team: str
    points: str


class StandingsView(_View):
    """``LeagueTable.vue`` (tab "Table")."""

    def __init__(self, page: Page, timeout_ms: float) -> None:
        super().__init__(page, timeout_ms)
        self.age_group_filter = page.locator(sel.AGE_GROUP_FILTER)
        self.season_filter = page.locator(sel.SEASON_FILTER)
        self.division_filter = page.locator(sel.DIVISION_FILTER)
        self.table = page.locator(sel.STANDINGS_TABLE)
        self.headers = page.locator(sel.STANDINGS_HEADERS)
        self.rows = page.locator(sel.STANDINGS_ROWS)
        self.team_cells = self.rows.locator(sel.TEAM_CELL)
        self.points_cells = self.rows.locator(sel.POINTS_CELL)
        self.loading = page.locator(sel.LOADING_INDICATOR)
        self.error = page.locator(sel.TABLE_ERROR)

    def age_group_button(self, name: str) -> Locator:
        return self.page.locator(sel.AGE_GROUP_BUTTON.format(name=name))

    def league_button(self, name: str) -> Locator:
        """League buttons have no test id: the button whose accessible name is the league's."""
        return self.page.get_by_role("button", name=name, exact=True)

    def wait_filters(self) -> None:
        self.age_group_filter.wait_for(state="visible", timeout=self.timeout_ms)
        self.season_filter.wait_for(state="visible", timeout=self.timeout_ms)

    def choose(self, *, age_group: str, league: str, division: str, season: str | None) -> None:
        """Select the filters the way a user does; ``season`` None keeps the app's default (the current one)."""
        self.wait_filters()
        self.age_group_button(age_group).click(timeout=self.timeout_ms)
        league_button = self.league_button(league)
        if league_button.count():
            league_button.first.click(timeout=self.timeout_ms)
        self.division_filter.select_option(label=division, timeout=self.timeout_ms)
        if season is not None:
            option = self.season_filter.locator("option", has_text=re.compile(rf"^\s*{re.escape(season)}\b"))
            value = option.first.get_attribute("value", timeout=self.timeout_ms)
            if value is not None:
                self.season_filter.select_option(value=value, timeout=self.timeout_ms)

    def wait_settled(self) -> None:
        """Loading over: no loading indicator, and the table (or the error) is shown."""
        self.loading.wait_for(state="hidden", timeout=self.timeout_ms)
        self.table.or_(self.error).first.wait_for(state="visible", timeout=self.timeout_ms)

    def selected_ids(self) -> tuple[str, str]:
        """``(season_id, division_id)`` read back from the selects."""
        return (self.season_filter.input_value(timeout=self.timeout_ms),
                self.division_filter.input_value(timeout=self.timeout_ms))

    def header_texts(self) -> list[str]:
        return [header_text(t) for t in self.headers.all_text_contents()]

    def read_rows(self) -> list[StandingsRow]:
        teams = [" ".join(t.split()) for t in self.team_cells.all_text_contents()]
        points = [t.strip() for t in self.points_cells.all_text_contents()]
        return [StandingsRow(team, pts) for team, pts in zip(teams, points, strict=False)]


class AddMatchForm(_View):
    """``MatchForm.vue`` (tab "Add Match")."""

    def __init__(self, page: Page, timeout_ms: float) -> None:
        super().__init__(page, timeout_ms)
        self.form = page.locator(sel.MATCH_FORM)
        self.schedule_mode = page.locator(sel.FORM_TYPE_SCHEDULE)
        self.season = page.locator(sel.SEASON_SELECT)
        self.age_group = page.locator(sel.AGE_GROUP_SELECT)
        self.match_type = page.locator(sel.MATCH_TYPE_SELECT)
        self.status = page.locator(sel.STATUS_SELECT)
        self.date = page.locator(sel.DATE_INPUT)
        self.home_team = page.locator(sel.HOME_TEAM_SELECT)
        self.away_team = page.locator(sel.AWAY_TEAM_SELECT)
        self.submit_button = page.locator(sel.SUBMIT_BUTTON)
        self.message = page.locator(sel.FORM_MESSAGE)

    def wait_loaded(self) -> None:
        """The form is shown and its first team list has arrived (its fetch is never cancelled: changing a
        select while it is in flight lets that stale answer overwrite the newer one)."""
        self.form.wait_for(state="visible", timeout=self.timeout_ms)
        self.match_type.wait_for(state="visible", timeout=self.timeout_ms)
        self.home_team.locator("option").nth(1).wait_for(state="attached", timeout=self.timeout_ms)

    def _choose(self, select: Locator, label: str, param: str) -> None:
        """Pick ``label`` and wait for the team list it asks for, one change at a time, so no answer to an
        earlier selection can arrive after it (Vue watchers fetch only when the value really changes)."""
        current = select.locator("option:checked").text_content(timeout=self.timeout_ms) or ""
        if current.strip() == label:
            return
        option = select.locator("option").filter(has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")).first
        value = option.get_attribute("value", timeout=self.timeout_ms)

        def teams_for_choice(response: Response) -> bool:
            return "/api/teams?" in response.url and f"{param}={value}" in response.url

        with self.page.expect_response(teams_for_choice, timeout=self.timeout_ms):
            select.select_option(label=label, timeout=self.timeout_ms)

    def schedule(self, *, age_group: str, match_type: str, home: str, away: str, match_date: str) -> None:
        """Schedule a match (no score): each select's team list is awaited before the teams are picked."""
        self.wait_loaded()
        if not self.schedule_mode.is_checked():
            self.schedule_mode.check(timeout=self.timeout_ms)
        self._choose(self.age_group, age_group, "age_group_id")
        self._choose(self.match_type, match_type, "match_type_id")
        self.home_team.select_option(label=home, timeout=self.timeout_ms)
        self.away_team.select_option(label=away, timeout=self.timeout_ms)
        self.date.fill(match_date, timeout=self.timeout_ms)
        self.submit_button.click(timeout=self.timeout_ms)

    def selected_season_id(self) -> str:
        return self.season.input_value(timeout=self.timeout_ms)

    def wait_message(self) -> str:
        """The form's message once one is shown (success or error)."""
        self.message.filter(has_text=re.compile(r"\S")).first.wait_for(state="visible", timeout=self.timeout_ms)
        return " ".join((self.message.first.text_content() or "").split())


class VersionFooter(_View):
    """``VersionFooter.vue`` (every view)."""

    def __init__(self, page: Page, timeout_ms: float) -> None:
        super().__init__(page, timeout_ms)
        self.whats_new = page.locator(sel.WHATS_NEW_TRIGGER)
        self.support_link = page.locator(sel.FOOTER_SUPPORT_LINK)
        self.api_error_banner = page.locator(sel.API_ERROR_BANNER)

    def version_text(self) -> str:
        """The version the footer shows, once it is no longer "Loading version..."."""
        loaded = self.whats_new.filter(has_not_text=sel.VERSION_LOADING)
        loaded.wait_for(state="visible", timeout=self.timeout_ms)
        return " ".join((loaded.text_content(timeout=self.timeout_ms) or "").split())
