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
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.sync_api import Locator, Page, Request, Response
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from mt_verify.browser import selectors as sel
from mt_verify.browser.network import RequestTracker

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
        """The user menu. The api-error-banner does not end the wait: it is about the one /api/version call, and
        shows beside a working session when only that call failed (fault ``api-error-banner``)."""
        self.user_menu.wait_for(state="visible", timeout=self.timeout_ms)

    def signed_in_view_seen(self) -> str:
        """What a signed-in view shows instead of the user menu (for a failure message)."""
        banner = self.page.locator(sel.API_ERROR_BANNER)
        if banner.count() and banner.first.is_visible():
            return f"the api-error-banner {' '.join((banner.first.text_content() or '').split())!r}"
        return "the login button" if self.login_button.is_visible() else "no user menu"

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
    #: HTTP status of ``POST /api/auth/login`` (None: no answer came, e.g. the API was unreachable).
    status: int | None = None


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
        # Whatever settles the attempt first: the user menu or the form's error. Not the api-error-banner: it can
        # be showing before the submit (only /api/version failed) while the sign-in itself works.
        outcome = shell.user_menu.or_(self.error)
        guard = while_typing_password() if while_typing_password else nullcontext()
        statuses: list[int] = []

        def on_response(resp: Response) -> None:  # the status only: no body is read
            if resp.request.method == "POST" and urlsplit(resp.url).path.endswith(sel.LOGIN_PATH):
                statuses.append(resp.status)

        self.page.on("response", on_response)
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
        self.page.remove_listener("response", on_response)
        signed_in = shell.user_menu.is_visible()
        error = self.error.first.text_content() if not signed_in and self.error.count() else None
        return LoginAttempt(signed_in=signed_in, error=" ".join(error.split()) if error else None, elapsed_s=elapsed,
                            status=statuses[-1] if statuses else None)


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


#: Times the page object picks the teams again when a late reset cleared them (contract §2.8).
MAX_REPICKS = 3
#: Times it asks for the team list again when the answer that landed last lacks the teams (a stale fetch).
MAX_REFETCHES = 2

_READ_SELECT = "el => ({value: el.value, text: el.selectedIndex >= 0 ? el.options[el.selectedIndex].text : ''})"
_OPTION_TEXTS = "el => Array.from(el.options).map(o => o.text.trim())"
#: Marks the form when a ``submit`` event fires (the browser fires none when its validation blocks the click).
_WATCH_SUBMIT = """form => { form.__mtSubmitted = false;
    form.addEventListener('submit', () => { form.__mtSubmitted = true; }, {capture: true, once: true}); }"""
#: Every field the browser's own validation would block the submit on, with its message.
_INVALID_FIELDS = """form => Array.from(form.elements).filter(e => e.willValidate && !e.validity.valid).map(e => ({
  label: ((e.labels && e.labels.length ? e.labels[0].textContent : '') || '').trim(),
  id: e.id || '', testid: e.getAttribute('data-testid') || '', value: e.value || '',
  message: e.validationMessage || ''}))"""


def _is_team_fetch(request: Request) -> bool:
    """The form's team list: ``GET /api/teams?match_type_id=...`` (the standings' plain ``/api/teams`` is not)."""
    parts = urlsplit(request.url)
    return parts.path.endswith(sel.TEAMS_PATH) and "match_type_id=" in parts.query


def _is_submit_request(request: Request) -> bool:
    """What a submitted form sends first: the duplicate check, else the match itself."""
    path = urlsplit(request.url).path
    return path.endswith(sel.CHECK_MATCH_PATH) or (request.method == "POST" and path.endswith(sel.MATCHES_PATH))


@dataclass(frozen=True)
class InvalidField:
    """A field the browser's validation refused, as the user would see it."""

    label: str
    selector: str
    value: str
    #: The browser's own words (``element.validationMessage``), e.g. "Please select an item in the list.".
    message: str

    def describe(self) -> str:
        state = "is empty" if not self.value else f"holds {self.value!r}"
        return f"{self.label or self.selector} ({self.selector}) {state}: {self.message!r}"


@dataclass
class SubmitResult:
    """What clicking the submit button led to."""

    #: The form sent its request (the duplicate check or the match).
    sent: bool
    #: When nothing was sent: the fields the browser's validation blocked.
    invalid: list[InvalidField] = field(default_factory=list)
    #: One line per time a late reset cleared a team select and the teams were picked again.
    repicked: list[str] = field(default_factory=list)
    #: One line per time the team list was fetched again because a stale answer landed last.
    refetched: list[str] = field(default_factory=list)

    def why_not_sent(self) -> str:
        """One line: which fields the browser refused and its own message (never just "no message")."""
        if not self.invalid:
            return "no request was sent, and the browser refused no field"
        return "no request was sent: the browser blocked the submit: " + "; ".join(f.describe() for f in self.invalid)


class _Blocked(Exception):
    """The browser's validation refused the submit (raised inside ``expect_request`` to leave it at once)."""

    def __init__(self, fields: list[InvalidField]) -> None:
        super().__init__("blocked by the browser's validation")
        self.fields = fields


class AddMatchForm(_View):
    """``MatchForm.vue`` (tab "Add Match").

    The real form fetches the teams after every change of match type, age group or division, never cancels a
    fetch, and clears both team selects after each answer; a non-League type also clears the division, which
    fetches again (contract §2.8). So the page object waits until no team fetch is in flight and the page has
    handled the last answer (:class:`~mt_verify.browser.network.RequestTracker`) before it picks the teams, reads
    both selects back just before submitting and picks again (at most :data:`MAX_REPICKS` times) when a late
    reset cleared them. Build it before opening the tab, so it sees the form's first fetches."""

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
        self.team_fetches = RequestTracker(page, _is_team_fetch)

    def settle(self) -> None:
        """Wait until no team fetch is in flight and the page has handled the last answer."""
        if not self.team_fetches.wait_idle(self.timeout_ms):
            raise PlaywrightTimeoutError(f"a team list fetch (/api/teams) was still in flight after "
                                         f"{self.timeout_ms / 1000:g} s: {self.team_fetches.urls[-1:]}")

    def wait_loaded(self) -> None:
        """The form is shown and its team list has arrived and been handled."""
        self.form.wait_for(state="visible", timeout=self.timeout_ms)
        self.match_type.wait_for(state="visible", timeout=self.timeout_ms)
        self.home_team.wait_for(state="attached", timeout=self.timeout_ms)
        self.settle()

    def _choose(self, select: Locator, label: str) -> None:
        """Pick ``label`` (when it is not already chosen) and wait for the team fetches it sets off."""
        current = select.evaluate(_READ_SELECT)
        if str(current.get("text", "")).strip() == label:
            return
        select.select_option(label=label, timeout=self.timeout_ms)
        self.settle()

    def team_options(self) -> list[str]:
        """The Home Team select's options, as shown."""
        return [str(t) for t in self.home_team.evaluate(_OPTION_TEXTS)]

    def _refetch_teams(self, age_group: str) -> None:
        """Ask for the team list once more, one change at a time: another age group, then back."""
        options = [str(t).strip() for t in self.age_group.evaluate(_OPTION_TEXTS)]
        other = next((o for o in options if o and o != age_group), None)
        if other is None:
            return
        self._choose(self.age_group, other)
        self._choose(self.age_group, age_group)

    def _not_picked(self, home: str, away: str) -> list[str]:
        """The team selects that do not show the team picked (a late reset cleared them)."""
        out = []
        for name, select, team in (("Home Team", self.home_team, home), ("Away Team", self.away_team, away)):
            seen = select.evaluate(_READ_SELECT)
            if str(seen.get("text", "")).strip() != team or not seen.get("value"):
                out.append(f"{name} showed {str(seen.get('text', '')).strip() or 'nothing'!r} instead of {team!r}")
        return out

    def schedule(self, *, age_group: str, match_type: str, home: str, away: str, match_date: str) -> SubmitResult:
        """Schedule a match (no score) and submit it; the result says whether the form sent it."""
        self.wait_loaded()
        if not self.schedule_mode.is_checked():
            self.schedule_mode.check(timeout=self.timeout_ms)
        self._choose(self.age_group, age_group)
        self._choose(self.match_type, match_type)
        refetched: list[str] = []
        while not {home, away} <= set(self.team_options()) and len(refetched) < MAX_REFETCHES:
            refetched.append(f"Add Match: the team list that landed last lacks {home!r} or {away!r} (a stale "
                             f"fetch: {self.team_fetches.urls[-2:]}); asked for it again")
            self._refetch_teams(age_group)
        self.date.fill(match_date, timeout=self.timeout_ms)
        repicked: list[str] = []
        while True:
            self.home_team.select_option(label=home, timeout=self.timeout_ms)
            self.away_team.select_option(label=away, timeout=self.timeout_ms)
            self.settle()
            cleared = self._not_picked(home, away)
            if not cleared or len(repicked) >= MAX_REPICKS:
                break
            repicked.append(f"Add Match: {'; '.join(cleared)} after a late team reset; picked again "
                            f"({len(repicked) + 1}/{MAX_REPICKS})")
        result = self.submit()
        result.repicked, result.refetched = repicked, refetched
        return result

    def submit(self) -> SubmitResult:
        """Click submit; when the form sends nothing, say which fields the browser's validation blocked.

        The browser validates on the click itself: when it refuses a field, no ``submit`` event fires. The page
        tells us whether one did, so a blocked submit is a failure at once, not after the full timeout spent
        waiting for a request that cannot come."""
        form = self.form.first
        form.evaluate(_WATCH_SUBMIT)
        try:
            with self.page.expect_request(_is_submit_request, timeout=self.timeout_ms) as sent:
                self.submit_button.click(timeout=self.timeout_ms)
                if not form.evaluate("f => f.__mtSubmitted === true"):
                    blocked = self.invalid_fields()
                    if blocked:
                        raise _Blocked(blocked)
            sent.value  # noqa: B018  # the request is there
        except _Blocked as exc:
            return SubmitResult(sent=False, invalid=exc.fields)
        except PlaywrightTimeoutError:
            return SubmitResult(sent=False, invalid=self.invalid_fields())
        return SubmitResult(sent=True)

    def invalid_fields(self) -> list[InvalidField]:
        rows = self.form.first.evaluate(_INVALID_FIELDS)
        return [InvalidField(label=str(r["label"]), selector=f"#{r['id']}" if r["id"] else
                             f"[data-testid={r['testid']!r}]", value=str(r["value"]), message=str(r["message"]))
                for r in rows]

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
