"""Every selector and user-visible text of the Missing Table SPA the smoke tier relies on (contract §2).

This is the only place a selector is written: page objects (:mod:`mt_verify.browser.pages`) build their
locators from these names, and tests never contain one. When the app changes, this file changes.

Conventions: test ids as ``[data-testid=...]``; elements without test ids (tab buttons, league buttons,
the hero heading) by role or text, never by position in the DOM.
"""

from __future__ import annotations

# -- app shell and navigation (§2.1, §2.2) ------------------------------------------------------------
APP_ROOT = "#app"
HERO_HEADING = "h1"
HERO_TEXT = "The table you've been missing."
MAIN_NAV = "nav[data-testid='main-nav']"
NAV_LOGIN_BUTTON = "button[data-testid='nav-login-button']"
USER_MENU = "[data-testid='user-menu']"
USER_DROPDOWN = "[data-testid='user-dropdown']"
USER_NAME = "[data-testid='user-name']"
USER_ROLE = "[data-testid='user-role']"
LOGOUT_BUTTON = "[data-testid='logout-button']"
#: Tab buttons have no test ids: select them by their text.
TAB_BUTTONS = "nav[aria-label='Tabs'] > button"
TAB_TABLE = "Table"
TAB_MATCHES = "Matches"
TAB_PROFILE = "Profile"
TAB_ADD_MATCH = "Add Match"

#: Auth state the app keeps in localStorage (§2.2).
STORAGE_AUTH_TOKEN = "auth_token"
STORAGE_REFRESH_TOKEN = "refresh_token"

# -- login modal (§2.3) --------------------------------------------------------------------------------
LOGIN_MODAL = ".modal-overlay > .modal-content"
LOGIN_FORM = ".modal-overlay .login-form"
USERNAME_INPUT = "input#username[data-testid='username-input']"
PASSWORD_INPUT = "input#password[data-testid='password-input']"
LOGIN_BUTTON = "button[type='submit'][data-testid='login-button']"
#: LeagueTable reuses this test id: always scope it to the login form.
LOGIN_ERROR = ".login-form [data-testid='error-message']"

# -- standings (§2.4) --------------------------------------------------------------------------------------
AGE_GROUP_FILTER = "[data-testid='age-group-filter']"
AGE_GROUP_BUTTON = "[data-testid='age-group-{name}']"
SEASON_FILTER = "select[data-testid='season-filter']"
DIVISION_FILTER = "select[data-testid='division-filter']"
STANDINGS_TABLE = "table[data-testid='standings-table']"
STANDINGS_HEADERS = "table[data-testid='standings-table'] thead th"
STANDINGS_ROWS = "tbody[data-testid='standings-body'] > tr[data-testid='standings-row']"
#: Cells of a standings row, 1-based: td3 is the team (in ``standings-team-link`` when it has an id), td11 Pts.
TEAM_CELL = "td:nth-child(3)"
POINTS_CELL = "td:nth-child(11)"
LOADING_INDICATOR = "[data-testid='loading-indicator']"
#: The table's error element (never cleared by a later success); the login form's one is excluded.
TABLE_ERROR = "[data-testid='error-message']:not(.login-form *)"
#: Column headers in order (CSS upper-cases them; sort buttons may add a caret); QoP only with QoP data.
STANDINGS_COLUMNS = ("#", "+/-", "Team", "GP", "W", "D", "L", "GF", "GA", "GD", "Pts", "Form")
QOP_COLUMN = "QoP"

# -- Add Match (§2.5) ----------------------------------------------------------------------------------
MATCH_FORM = "[data-testid='match-form']"
FORM_TYPE_SCHEDULE = "[data-testid='form-type-schedule']"
SEASON_SELECT = "select[data-testid='season-select']"
AGE_GROUP_SELECT = "select[data-testid='age-group-select']"
MATCH_TYPE_SELECT = "select[data-testid='match-type-select']"
STATUS_SELECT = "select[data-testid='status-select']"
DATE_INPUT = "#match_date"
HOME_TEAM_SELECT = "#home_team"
AWAY_TEAM_SELECT = "#away_team"
SUBMIT_BUTTON = "[data-testid='submit-button']"
FORM_MESSAGE = "[data-testid='message']"
#: The request that fills the team selects (path of ``GET /api/teams?match_type_id=&age_group_id=[&division_id=]``).
TEAMS_PATH = "/api/teams"
#: The requests a submit sends, in order: the duplicate check, then the write.
CHECK_MATCH_PATH = "/api/check-match"
MATCHES_PATH = "/api/matches"
#: The login request (``LoginForm.vue``; contract 1.5): 200 signs in, 401 refuses the password.
LOGIN_PATH = "/api/auth/login"
MSG_MATCH_SCHEDULED = "Match scheduled successfully"
MSG_SUBMIT_FAILED = "Error submitting match"

# -- version footer (§2.6) -----------------------------------------------------------------------------
WHATS_NEW_TRIGGER = "button[data-testid='whats-new-trigger']"
FOOTER_SUPPORT_LINK = "[data-testid='footer-support-link']"
API_ERROR_BANNER = "[data-testid='api-error-banner']"
VERSION_LOADING = "Loading version..."
