"""Fixtures of the browser smoke tier: a ladder in the style of pytest-playwright, each rung an override point.

``_mtv_playwright`` (session) -> ``browser_choice`` -> ``browser_type_launch_args`` (dict) -> ``browser``
(session: one per xdist worker) -> ``browser_context_args`` (dict) -> ``new_context`` (factory, per test: a
fresh context with service workers blocked and an evidence :class:`Recorder`) -> ``context`` -> ``page``.

The smoke user signs in through the UI once per run, whatever the number of workers (``ui_login``, through
:mod:`mt_verify.run_session`; the login journey asserts what that sign-in showed, or signs in on its own in a
worker that did not make it); the signed-in journeys get their contexts from its storage state
(``signed_in_page``), a 0600 file in the run's private temporary folder (mode 0700), removed at the end, never
under ``reports/``.

A failed journey keeps a screenshot, the Playwright trace (redacted) and the browser console log, plus the
video when recording is on, in ``<run>/evidence/<test>/``, attached to the Allure result.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mt_verify import run_session, rundir
from mt_verify.api_session import session_tokens
from mt_verify.browser.boundary import browser_failures
from mt_verify.browser.console_policy import ConsolePolicy, Ledger, account
from mt_verify.browser.launch import BrowserChoice, choose_executable, launch_args, node_compile_cache, video_enabled
from mt_verify.browser.recorder import Recorder, netloc
from mt_verify.browser.session import (
    UiLogin,
    register_password,
    register_storage_secrets,
    remember_session,
    state_with_session,
)
from mt_verify.config import Environment
from mt_verify.credentials import Credentials
from mt_verify.errors import BrowserError
from mt_verify.outcome import warn
from mt_verify.plugin import outcome_of
from mt_verify.probe import ApiClient, Exchange, Probe
from mt_verify.reporting.evidence import evidence_dir

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

    from mt_verify.browser.smoke_matches import SmokeIds

    Swept = tuple[SmokeIds | None, list[str]]


# -- the one boundary where Playwright's errors are translated ---------------------------------------------

@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with browser_failures(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with browser_failures(item):
        return (yield)


@pytest.fixture(scope="session", autouse=True)
def _mtv_smoke_enabled(environment: Environment) -> None:
    """``smoke.enabled: false`` turns the tier off for the environment: a plain skip, before any browser starts."""
    if not environment.smoke.enabled:
        pytest.skip(f"[{environment.name}] the smoke tier is off in this environment (smoke.enabled: false)")


def journey_failed(item: pytest.Item) -> bool:
    """Pessimistic: a failed setup or call, or a call that never reported (interrupt, crash), is a failure."""
    phases = outcome_of(item).phases
    setup, call = phases.get("setup"), phases.get("call")
    if setup is None or setup == "failed":
        return True
    if setup == "skipped":
        return False
    return call is None or call == "failed"


def keep_evidence(item: pytest.Item, recorder: Recorder) -> Path:
    """Save ``recorder``'s evidence for ``item``, attach it to Allure, list it in the run summary."""
    dest = evidence_dir(item.nodeid)
    files = recorder.save_evidence(dest)
    _publish(item, files)
    return dest


def _publish(item: pytest.Item, files: list[Path]) -> None:
    from mt_verify.reporting.attach import attach_file

    base = rundir.current()
    names = {".png": "screenshot", ".zip": "Playwright trace", ".log": "browser console log", ".webm": "video"}
    for path in files:
        attach_file(path, name=f"{names.get(path.suffix, 'evidence')}: {path.name}", nodeid=item.nodeid)
        if base is not None and base in path.resolve().parents:
            outcome_of(item).evidence.append(str(path.resolve().relative_to(base.resolve())))


# -- the whole tier ---------------------------------------------------------------------------------------

@pytest.fixture(scope="session", autouse=True)
def _mtv_smoke_target(probe: Probe, smoke_credentials: Credentials) -> None:
    """The tier needs a target and the smoke user: no host answering at all is a suite error (a host that is down
    while another answers fails the journeys instead); missing credentials skip the tier naming the variables (or
    fail it when ``smoke.required``)."""
    probe.reachability.require_any()


@pytest.fixture(scope="session")
def smoke_timeout_ms(environment: Environment) -> float:
    return environment.smoke.timeout * 1000


@pytest.fixture(scope="session")
def first_party(environment: Environment) -> set[str]:
    """Hosts whose failed requests count (the site's own and the API's); everything else is third-party."""
    return {netloc(u) for u in (environment.site.url, *environment.site.extra_urls, environment.api.url)}


@pytest.fixture(scope="session")
def console_policy(environment: Environment, first_party: set[str]) -> ConsolePolicy:
    """The environment's ``smoke.console.allow`` (:mod:`mt_verify.browser.console_policy`)."""
    return ConsolePolicy(environment.smoke.console.allow, lambda url: netloc(url) in first_party)


@pytest.fixture(scope="session")
def _mtv_console_ledger(console_policy: ConsolePolicy) -> Ledger:
    """This worker's allow-list matches over the run (stale entries are found across workers at the end)."""
    return Ledger(console_policy)


@pytest.fixture(scope="session")
def _mtv_private_dir() -> Iterator[Path]:
    """Storage state and unsaved traces: private (0700), outside ``reports/``, removed at the end."""
    path = Path(tempfile.mkdtemp(prefix="mt-smoke-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


# -- browser ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def _mtv_playwright() -> Iterator[Playwright]:
    from playwright.sync_api import sync_playwright

    node_compile_cache()  # the driver inherits the variable
    pw = sync_playwright().start()
    yield pw
    pw.stop()


@pytest.fixture(scope="session")
def browser_choice(browser_path_option: str | None, environment: Environment, headed: bool,
                   _mtv_playwright: Playwright) -> BrowserChoice:
    return choose_executable(browser_path_option, environment.smoke.browser_path,
                             _mtv_playwright.chromium.executable_path, headed=headed)


@pytest.fixture(scope="session")
def browser_type_launch_args(headed: bool, slowmo_ms: float, browser_choice: BrowserChoice) -> dict[str, Any]:
    return launch_args(browser_choice, headed=headed, slowmo_ms=slowmo_ms)


@pytest.fixture(scope="session")
def browser(_mtv_playwright: Playwright, browser_type_launch_args: dict[str, Any], browser_choice: BrowserChoice,
            smoke_timeout_ms: float) -> Iterator[Browser]:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect

    expect.set_options(timeout=smoke_timeout_ms)
    try:
        browser = _mtv_playwright.chromium.launch(timeout=max(smoke_timeout_ms, 30_000), **browser_type_launch_args)
    except PlaywrightError as exc:
        raise BrowserError(f"cannot start Chromium {browser_choice.describe()}: {str(exc).splitlines()[0]}; "
                         "nothing was checked") from None
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def video_on(browser_video: str) -> bool:
    return video_enabled(browser_video)


@pytest.fixture(scope="session")
def trace_screenshots(pytestconfig: pytest.Config) -> bool:
    """``--trace-screenshots``: a filmstrip in every trace (off: DOM snapshots and the failure screenshot)."""
    return bool(pytestconfig.getoption("mt_trace_screenshots"))


@pytest.fixture(scope="session")
def browser_context_args() -> dict[str, Any]:
    """Options of every context (override this fixture to change them)."""
    return {"service_workers": "block", "viewport": {"width": 1280, "height": 900}, "locale": "en-US",
            "timezone_id": "America/New_York"}


ContextFactory = Callable[..., "BrowserContext"]


def _open_context(browser: Browser, args: dict[str, Any], *, scratch: Path, first_party: set[str],
                  timeout_ms: float, video: bool, shots: bool) -> tuple[BrowserContext, Recorder]:
    """A context with the tier's timeouts and an evidence :class:`Recorder` (tracing from its first request)."""
    if video:
        args = {"record_video_dir": str(scratch / "videos"), **args}
    ctx = browser.new_context(**args)
    ctx.set_default_timeout(timeout_ms)
    ctx.set_default_navigation_timeout(timeout_ms)
    return ctx, Recorder(ctx, scratch=scratch, first_party=first_party, video=video, trace_screenshots=shots)


@pytest.fixture
def new_context(browser: Browser, browser_context_args: dict[str, Any], request: pytest.FixtureRequest,
                _mtv_private_dir: Path, first_party: set[str], smoke_timeout_ms: float,
                video_on: bool, trace_screenshots: bool, console_policy: ConsolePolicy,
                _mtv_console_ledger: Ledger, environment: Environment) -> Iterator[ContextFactory]:
    """Factory of fresh contexts for this test; each gets a :class:`Recorder` (``recorder_of``)."""
    recorders: list[Recorder] = []

    def make(**overrides: Any) -> BrowserContext:
        ctx, rec = _open_context(browser, {**browser_context_args, **overrides}, scratch=_mtv_private_dir,
                                 first_party=first_party, timeout_ms=smoke_timeout_ms, video=video_on,
                                 shots=trace_screenshots)
        recorders.append(rec)
        return ctx

    make.recorders = recorders  # type: ignore[attr-defined]
    yield make
    for rec in recorders:  # console noise forgiven, third-party failures reported, allow-list matches counted
        account(console_policy, _mtv_console_ledger, rec.events, environment.name, rundir.current())
    failed = journey_failed(request.node)
    dest = evidence_dir(request.node.nodeid) if failed else None
    for rec in recorders:
        if dest is not None:
            keep_evidence(request.node, rec)
        _publish(request.node, rec.close(keep_video_in=dest))


@pytest.fixture
def context(new_context: ContextFactory) -> BrowserContext:
    return new_context()


@pytest.fixture
def recorder(context: BrowserContext, new_context: ContextFactory) -> Recorder:
    """What the ``context``'s pages logged and which first-party requests failed."""
    return next(r for r in new_context.recorders if r.context is context)  # type: ignore[attr-defined]


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


# -- the smoke user's session -------------------------------------------------------------------------------

def _sign_in_through_ui(browser: Browser, browser_context_args: dict[str, Any], environment: Environment,
                        smoke_credentials: Credentials, state: Path, scratch: Path, first_party: set[str],
                        smoke_timeout_ms: float, shots: bool) -> UiLogin:
    """Sign the smoke user in through the UI; keep the page (for the login journey) and the storage state (at
    ``state``, 0600). Never raises for what the app does: the login journey reports it."""
    from playwright.sync_api import Error as PlaywrightError

    from mt_verify.browser.pages import AppShell

    ctx = browser.new_context(**browser_context_args)
    ctx.set_default_timeout(smoke_timeout_ms)
    rec = Recorder(ctx, scratch=scratch, first_party=first_party, trace_screenshots=shots)
    page = ctx.new_page()
    app = AppShell(page, smoke_timeout_ms)
    login = UiLogin(attempt=None, page=page, recorder=rec, storage_state=None, token=None)
    try:
        app.open(environment.site.url)
        modal = app.open_login()
        login.attempt = modal.sign_in(smoke_credentials.username, smoke_credentials.password,
                                      while_typing_password=rec.untraced)
        if login.attempt.signed_in:
            login.token = remember_session(app)
            run_session.write_private(state, b"")
            ctx.storage_state(path=str(state))
            state.chmod(0o600)
            login.storage_state = state
    except PlaywrightError as exc:
        login.broken = str(exc).splitlines()[0]
    return login


@pytest.fixture(scope="session")
def ui_login(browser: Browser, browser_context_args: dict[str, Any], environment: Environment,
             smoke_credentials: Credentials, _mtv_private_dir: Path, first_party: set[str],
             smoke_timeout_ms: float, trace_screenshots: bool) -> Iterator[UiLogin]:
    """The run's one UI sign-in (:mod:`mt_verify.run_session`): the first process of the run to need it signs in
    and saves the storage state; every other worker gets its contexts from that file. A process that did not
    sign in itself has no page of it (``UiLogin.page`` is None): its login journey signs in on its own."""
    register_password(smoke_credentials.password)
    shared = run_session.directory()
    state = (shared or _mtv_private_dir) / run_session.STORAGE_STATE
    with run_session.locked(shared, run_session.UI_LOCK):
        seen = run_session.read_json(shared, run_session.UI_LOGIN)
        if seen is None:
            login = _sign_in_through_ui(browser, browser_context_args, environment, smoke_credentials, state,
                                        _mtv_private_dir, first_party, smoke_timeout_ms, trace_screenshots)
            if login.token:
                run_session.save_ui_token(shared, login.token)
            run_session.save_json(shared, run_session.UI_LOGIN, login.summary())
        else:
            login = UiLogin.from_summary(seen, state)
            register_storage_secrets(state)
    yield login
    if login.recorder is not None:
        login.recorder.close()


@pytest.fixture
def login_journey(ui_login: UiLogin, request: pytest.FixtureRequest, browser: Browser,
                  browser_context_args: dict[str, Any], environment: Environment, smoke_credentials: Credentials,
                  _mtv_private_dir: Path, first_party: set[str], smoke_timeout_ms: float,
                  trace_screenshots: bool) -> Iterator[UiLogin]:
    """A UI sign-in for the login journey: the run's own when this process made it (its page is here), else one
    of its own; its evidence is kept if the journey fails."""
    login = ui_login
    if login.page is None:
        login = _sign_in_through_ui(browser, browser_context_args, environment, smoke_credentials,
                                    _mtv_private_dir / "login-journey-state.json", _mtv_private_dir, first_party,
                                    smoke_timeout_ms, trace_screenshots)
        if login.token:
            run_session.save_ui_token_extra(run_session.directory(), login.token)
    yield login
    if journey_failed(request.node) and login.recorder is not None:
        keep_evidence(request.node, login.recorder)
    if login is not ui_login and login.recorder is not None:
        login.recorder.close()


@pytest.fixture
def signed_in(ui_login: UiLogin) -> UiLogin:
    """The worker's sign-in, required: journeys that need a signed-in user skip when it failed (the login
    journey is the one that fails, so a broken login is reported once, not by every journey)."""
    if not ui_login.signed_in:
        pytest.skip("the smoke user could not sign in through the UI on this worker: see test_login_through_ui_"
                    "shows_user_menu_and_tabs")
    return ui_login


@pytest.fixture
def smoke_token(signed_in: UiLogin) -> str:
    """The Bearer token of the UI session (API cross-checks run as the same user as the browser)."""
    assert signed_in.token is not None
    return signed_in.token


# A signed-in journey's page, loading while the journey before it runs: the next test's page is opened (its
# navigation started, not awaited) when a smoke test starts, and the next test adopts it, context, recorder
# and all, so its console and evidence are its own. The browser loads it while this process waits on another
# page; nothing is asserted early and nothing is skipped.
WarmPages = dict[str, tuple["BrowserContext", Recorder, "Page"]]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    item.stash[_NEXT_ITEM] = nextitem


_NEXT_ITEM = pytest.StashKey["pytest.Item | None"]()


@pytest.fixture(scope="session")
def _mtv_warm_pages() -> Iterator[WarmPages]:
    from playwright.sync_api import Error as PlaywrightError

    pool: WarmPages = {}
    yield pool
    for _ctx, rec, _page in pool.values():  # a next test that never ran (-x, an interrupt)
        with suppress(PlaywrightError):  # the browser may have closed first: nothing is left to release then
            rec.close()


@pytest.fixture(autouse=True)
def _mtv_warm_next(request: pytest.FixtureRequest, _mtv_warm_pages: WarmPages, environment: Environment,
                   browser_context_args: dict[str, Any], _mtv_private_dir: Path, first_party: set[str],
                   smoke_timeout_ms: float, video_on: bool, trace_screenshots: bool) -> None:
    """Open the next test's signed-in page now, when the next test has one (see ``WarmPages``)."""
    from playwright.sync_api import Error as PlaywrightError

    nxt = request.node.stash.get(_NEXT_ITEM, None)
    wanted = set(getattr(nxt, "fixturenames", ())) & {"signed_in_page", "own_session_page"}
    if nxt is None or not wanted or nxt.nodeid in _mtv_warm_pages:
        return
    shared = run_session.directory()
    if shared is not None and run_session.read_json(shared, run_session.UI_LOGIN) is None:
        return  # the run's UI sign-in is still under way (another worker's): this test does not wait for it
    login: UiLogin = request.getfixturevalue("ui_login")
    if not login.signed_in or login.storage_state is None:
        return
    state: Path | None = login.storage_state
    if "own_session_page" in wanted:  # its own session, made now; if that fails, the next test meets it itself
        state = _own_session_state(request.getfixturevalue("api"), request.getfixturevalue("smoke_credentials"),
                                   login.storage_state, _mtv_private_dir)[0]
        if state is None:
            return
    browser: Browser = request.getfixturevalue("browser")
    ctx, rec = _open_context(browser, {**browser_context_args, "storage_state": str(state)},
                             scratch=_mtv_private_dir, first_party=first_party, timeout_ms=smoke_timeout_ms,
                             video=video_on, shots=trace_screenshots)
    page = ctx.new_page()
    try:  # the navigation starts; nothing waits for it here
        page.evaluate("url => { window.location.href = url; }", environment.site.url)
    except PlaywrightError:  # the next test loads its page itself, and meets (and reports) what broke
        rec.close()
        return
    _mtv_warm_pages[nxt.nodeid] = (ctx, rec, page)


def _adopt_warm(request: pytest.FixtureRequest, pool: WarmPages, new_context: ContextFactory, site: str,
                timeout_ms: float) -> Page | None:
    """This test's warm page, loaded, or None when it has none. A warm page that ended anywhere but the site (an
    error page, a redirect) is loaded again, as the journey would have, so a failure is goto's own."""
    from mt_verify.browser.pages import AppShell

    warm = pool.pop(request.node.nodeid, None)
    if warm is None:
        return None
    _ctx, rec, page = warm
    new_context.recorders.append(rec)  # type: ignore[attr-defined]
    page.wait_for_url(lambda url: not url.startswith("about:"), wait_until="load", timeout=timeout_ms)
    if page.url.rstrip("/") != site.rstrip("/"):
        AppShell(page, timeout_ms).open(site)
    return page


@pytest.fixture
def signed_in_page(signed_in: UiLogin, new_context: ContextFactory, environment: Environment,
                   smoke_timeout_ms: float, request: pytest.FixtureRequest, _mtv_warm_pages: WarmPages) -> Page:
    """A fresh context from the saved storage state, with the site loaded (the app restores the session)."""
    from mt_verify.browser.pages import AppShell

    site = environment.site.url
    page = _adopt_warm(request, _mtv_warm_pages, new_context, site, smoke_timeout_ms)
    if page is None:
        page = new_context(storage_state=str(signed_in.storage_state)).new_page()
        AppShell(page, smoke_timeout_ms).open(site)
    return page


def _own_session_state(api: ApiClient, creds: Credentials, state: Path,
                       private_dir: Path) -> tuple[Path | None, Exchange]:
    """A storage state for a session of the smoke user's own (``POST /api/auth/login``), and that exchange."""
    ex = api.post("/api/auth/login", {"username": creds.username, "password": creds.password}, check_latency=False)
    access, refresh = session_tokens(ex)
    if access is None or refresh is None:
        return None, ex
    run_session.save_ui_token_extra(run_session.directory(), access)  # logged out at the end if the journey does not
    return state_with_session(state, private_dir / f"own-session-{secrets.token_hex(4)}.json", access, refresh), ex


@pytest.fixture
def own_session_page(signed_in: UiLogin, api: ApiClient, smoke_credentials: Credentials,
                     new_context: ContextFactory, environment: Environment, smoke_timeout_ms: float,
                     _mtv_private_dir: Path, request: pytest.FixtureRequest, _mtv_warm_pages: WarmPages) -> Page:
    """A signed-in page on a session of its own, for the journey that logs out (ending the run's session would
    sign every other journey out). The UI sign-in is the login journey's to judge, so this session comes from
    ``POST /api/auth/login`` and reaches the browser as the app stores one (``state_with_session``); the page
    loads while the journey before it runs, as ``signed_in_page``'s does."""
    from mt_verify.browser.pages import AppShell
    from mt_verify.outcome import fail

    site = environment.site.url
    page = _adopt_warm(request, _mtv_warm_pages, new_context, site, smoke_timeout_ms)
    if page is not None:
        return page
    assert signed_in.storage_state is not None
    state, ex = _own_session_state(api, smoke_credentials, signed_in.storage_state, _mtv_private_dir)
    if state is None:
        fail(environment.name, f"POST {ex.url} as {smoke_credentials.username} (a session to log out of)",
             "HTTP 200 with both tokens", f"HTTP {ex.status}")
    page = new_context(storage_state=str(state)).new_page()
    AppShell(page, smoke_timeout_ms).open(site)
    return page


# -- add-match data ---------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def _mtv_swept(api: ApiClient, ui_login: UiLogin, environment: Environment) -> Iterator[Future[Swept]]:
    """The smoke ids (resolved once per worker) and the leftover smoke matches of earlier runs, deleted before
    this run writes. Started in the background as soon as the run's sign-in has a token (its reads go through
    the one :class:`~mt_verify.probe.Probe`, as the prefetch's do), so the first signed-in page loads meanwhile;
    ``smoke_ids`` waits for it, and a failure in it is raised there, in the journey that writes."""
    from mt_verify.browser.smoke_matches import resolve, sweep

    smoke = environment.smoke
    done: Future[Swept] = Future()
    if not (ui_login.signed_in and ui_login.token and smoke.writes and smoke.teams):
        done.set_result((None, []))
        yield done
        return
    token = ui_login.token

    def work() -> Swept:
        ids = resolve(api, token, smoke, environment.name)
        return ids, sweep(api, token, ids, environment.name, smoke.sweep_after)

    pool = ThreadPoolExecutor(1, thread_name_prefix="mt-sweep")
    future = pool.submit(work)
    pool.shutdown(wait=False)
    yield future
    wait([future])  # never leave the session with a delete in flight


@pytest.fixture
def smoke_ids(api: ApiClient, smoke_token: str, environment: Environment, _mtv_swept: Future[Swept]) -> SmokeIds:
    from mt_verify.browser.smoke_matches import resolve

    ids, swept = _mtv_swept.result()  # bounded: each of its requests keeps its own deadline (http.timeout)
    if swept:
        warn(environment.name, "smoke matches", f"swept {len(swept)} leftover(s) of earlier runs: "
             + "; ".join(swept[:5]))
    return ids if ids is not None else resolve(api, smoke_token, environment.smoke, environment.name)
