"""The pytest plugin of mt-verify: options, the environment, the fixtures every tier shares, and the one record
of what came of each test (registered by the root ``conftest.py``: ``pytest_plugins = ["mt_verify.plugin", ...]``).

``pytest --env prod`` reads ``environments/prod.yaml``; ``--env path/to/file.yaml`` reads that file. Environments
with a ``sandbox`` section start their stand-in world once per run, before any xdist worker, and stop it at the end.

Each test gets one :class:`~mt_verify.outcome.TestOutcome` in ``item.stash`` at collection (tier, area, gate
flag, markers). The one ``makereport`` hook below fills it phase by phase; its verdict comes from the exception's
type alone (:func:`mt_verify.errors.verdict_of`). The teardown report carries it to the xdist controller once, as
the user property ``mt_outcome``; the controller (:mod:`mt_verify.reporting.plugin`) writes ``summary.json``,
which the gate reads.
"""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mt_verify import config as cfg
from mt_verify import launcher, run_session
from mt_verify.api_session import session_tokens
from mt_verify.credentials import Credentials, smoke_credentials_from
from mt_verify.errors import CheckFailed, SuiteError, verdict_of
from mt_verify.notes import drain as drain_notes
from mt_verify.outcome import CheckWarning, NotVerified, TestOutcome, fail, not_verified
from mt_verify.probe import ApiClient, Probe, served_release_of
from mt_verify.redact import redact_text, register_secret
from mt_verify.release import ExpectedRelease, ServedRelease
from mt_verify.reporting import summary as summ
from mt_verify.reporting.areas import derive_area, tier_of
from mt_verify.session import ENV_KEY, EXPECTED_KEY

OUTCOME_PROPERTY = "mt_outcome"
OUTCOME_KEY = pytest.StashKey[TestOutcome]()
_WARNINGS_KEY = pytest.StashKey[list[str]]()

MARKERS = (
    "health: health tier (HTTP checks against the site and the API)",
    "deployment: deployment tier (Kubernetes objects of the release)",
    "smoke: browser smoke tier (Playwright journeys)",
    "gate: a failure of this test means the release should be rolled back",
    "informational: reported, never gating (overrides gate; endpoints[].informational)",
    "area(name): the summary row a test reports under",
)
TESTS_DIR = cfg.ROOT / "tests"


def outcome_of(item: pytest.Item) -> TestOutcome:
    """The test's record (made at collection; made now for an item collected some other way)."""
    rec = item.stash.get(OUTCOME_KEY, None)
    if rec is None:
        rec = item.stash[OUTCOME_KEY] = _new_outcome(item)
    return rec


# -- options and the environment ------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mt-verify", "Missing Table verification")
    group.addoption("--env", dest="mt_env", metavar="NAME|FILE",
                    help="environment to verify: a name in environments/ or a path to a YAML file")
    group.addoption("--expected-version", dest="mt_expected", metavar="VERSION",
                    default=os.environ.get("MT_EXPECTED_VERSION"),
                    help="release being verified: 1.29.2.1360, a commit SHA, or both as 1.29.2.1360+bfcfcb0 "
                         "(default: $MT_EXPECTED_VERSION)")
    group.addoption("--sandbox-fault", dest="mt_faults", action="append", default=[], metavar="NAME",
                    help="switch a sandbox fault on (repeatable; sandbox environments only)")
    from mt_verify.browser.options import add_options as add_browser_options
    from mt_verify.kube.options import add_options as add_kube_options

    add_kube_options(parser)
    add_browser_options(parser)


def _collects_suite(config: pytest.Config) -> bool:
    for arg in config.args:
        path = Path(str(arg).split("::", 1)[0]).resolve()
        if path == TESTS_DIR or TESTS_DIR in path.parents or path in TESTS_DIR.parents:
            return True
    return False


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


#: The suite's tiers, each a folder of ``tests/`` whose every test carries the tier's marker.
TIERS = ("health", "deployment", "smoke")
#: Markers a test of the suite may carry besides its tier's (``-m`` matches any of them).
_OTHER_MARKERS = ("gate", "area", "parametrize", "skip", "skipif", "xfail", "usefixtures", "filterwarnings")


def tier_selectable(tier: str, markexpr: str) -> bool:
    """Whether ``-m markexpr`` can select any test of ``tier``: its marker with any mix of the others. A tier it
    cannot select is not collected, so ``-m health`` never imports Playwright (the smoke journeys' modules) or the
    Kubernetes client (the deployment tier's conftest). An expression we cannot read selects everything."""
    from itertools import combinations

    from mt_verify.markexpr import MarkerExpressionError, compile_markers

    try:
        predicate = compile_markers(markexpr)
    except MarkerExpressionError:
        return True
    for n in range(len(_OTHER_MARKERS) + 1):
        for extra in combinations(_OTHER_MARKERS, n):
            if predicate({tier, *extra}):
                return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    markexpr = getattr(config.option, "markexpr", "") or ""
    if not markexpr or collection_path.parent != TESTS_DIR or collection_path.name not in TIERS:
        return None
    return True if not tier_selectable(collection_path.name, markexpr) else None


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    if config.option.help or config.option.version:
        return
    config.pluginmanager.register(TestSide(config), "mt-verify-tests")
    name = config.getoption("mt_env")
    if name is None:
        if _collects_suite(config):
            known = ", ".join(cfg.available_environments())
            raise pytest.UsageError(f"choose an environment with --env NAME; known environments: {known}")
        return
    try:
        path, raw = cfg.load_raw(name)
        faults = list(config.getoption("mt_faults"))
        environ: Mapping[str, str] = os.environ
        if config.option.collectonly:
            # Listing tests starts nothing: the sandbox's variables get placeholders with its hosts (same ids).
            environ = launcher.collect_only_environ(raw, os.environ)
        elif not _is_worker(config):
            started = launcher.ensure(path, raw, faults)
            if started is not None:
                config.add_cleanup(started.stop)
        env = cfg.validate(cfg.expand(raw, environ, "", path), path)
        config.stash[EXPECTED_KEY] = ExpectedRelease.parse(config.getoption("mt_expected") or env.release.expected)
    except SuiteError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[ENV_KEY] = env
    if not _is_worker(config) and not config.option.collectonly:
        shared = run_session.create()  # before xdist starts its workers: they inherit the variable
        config.stash[_SESSION_KEY] = _RunSession(env, shared)
        config.add_cleanup(config.stash[_SESSION_KEY].end)


class _RunSession:
    """The run's one session ends with the run: logged out (never failing the run), its folder removed.

    The log-out starts when the tests are done (``pytest_sessionfinish``), so that its round trips overlap the
    writing of the reports; the run's clean-up waits for it and removes the folder."""

    def __init__(self, env: cfg.Environment, shared: Path) -> None:
        self.env, self.shared = env, shared
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start_log_out(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._log_out, name="mt-verify-log-out", daemon=True)
            self._thread.start()

    def _log_out(self) -> None:
        try:
            tokens = run_session.all_tokens(self.shared)
            if tokens:
                from concurrent.futures import ThreadPoolExecutor

                from mt_verify.api_session import log_out_api

                env = self.env
                with Probe(env) as p, ThreadPoolExecutor(min(len(tokens), 4)) as pool:  # together: ~40 ms each
                    api = ApiClient(p, env.api.url)
                    list(pool.map(lambda token: log_out_api(api, token, env.name), tokens))
        except BaseException as exc:  # raised again by end(), in the run's own thread
            self._error = exc

    def end(self) -> None:
        try:
            if self._thread is None:  # the run stopped before its tests ended
                self._log_out()
            else:
                self._thread.join()
            if self._error is not None:
                raise self._error
        finally:
            run_session.remove(self.shared)


_SESSION_KEY = pytest.StashKey[_RunSession]()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    held = session.config.stash.get(_SESSION_KEY, None)
    if held is not None:
        held.start_log_out()


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """What start-up made (modules, the models, the collected items) lives until the end of the run: the
    collector need not walk it again. pytest collects twice at the end of every run (its unraisable-exception
    check); over the start-up's objects that was ~0.1 s of a one-second health tier."""
    import gc

    gc.freeze()


@pytest.hookimpl(optionalhook=True, trylast=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """The same for the ``-n`` controller, which collects nothing itself: freeze once the workers have
    collected (a second freeze is cheap). Its two end-of-run collections were ~65 ms of the run's last step."""
    import gc

    gc.freeze()


def _dist_chosen(config: pytest.Config) -> bool:
    return any(a == "--dist" or a.startswith("--dist=") or a in ("-d", "--distload")
               for a in map(str, config.invocation_params.args))


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``-n N`` without ``--dist``: whole tiers per worker (:mod:`mt_verify.xdist_schedule`)."""
    if config.getvalue("dist") != "load" or _dist_chosen(config) or ENV_KEY not in config.stash:
        return None
    from mt_verify.xdist_schedule import make

    return make(config, log)


def pytest_report_header(config: pytest.Config) -> list[str]:
    env = config.stash.get(ENV_KEY, None)
    if env is None:
        return []
    expected = config.stash.get(EXPECTED_KEY, None)
    return [f"mt-verify: environment {env.name} ({env.site.url}), expected release: {expected or 'not given'}"]


# -- the options and the run, as session fixtures ---------------------------------------------------------


@pytest.fixture(scope="session")
def environment(pytestconfig: pytest.Config) -> cfg.Environment:
    env = pytestconfig.stash.get(ENV_KEY, None)
    if env is None:
        raise pytest.UsageError("choose an environment with --env NAME")
    return env


@pytest.fixture(scope="session")
def env_name(environment: cfg.Environment) -> str:
    return environment.name


@pytest.fixture(scope="session")
def expected_release(pytestconfig: pytest.Config) -> ExpectedRelease | None:
    return pytestconfig.stash.get(EXPECTED_KEY, None)


@pytest.fixture(scope="session")
def kube_context_option(pytestconfig: pytest.Config) -> str | None:
    """``--kube-context``."""
    return pytestconfig.getoption("mt_kube_context")


@pytest.fixture(scope="session")
def kubeconfig_option(pytestconfig: pytest.Config) -> str | None:
    """``--kubeconfig``."""
    return pytestconfig.getoption("mt_kubeconfig")


@pytest.fixture(scope="session")
def browser_path_option(pytestconfig: pytest.Config) -> str | None:
    """``--browser-path``."""
    return pytestconfig.getoption("mt_browser_path")


@pytest.fixture(scope="session")
def headed(pytestconfig: pytest.Config) -> bool:
    """``--headed``."""
    return bool(pytestconfig.getoption("mt_headed"))


@pytest.fixture(scope="session")
def slowmo_ms(pytestconfig: pytest.Config) -> float:
    """``--slowmo MS``."""
    return float(pytestconfig.getoption("mt_slowmo") or 0)


@pytest.fixture(scope="session")
def browser_video(pytestconfig: pytest.Config) -> str:
    """``--browser-video``: auto, off or retain-on-failure."""
    return str(pytestconfig.getoption("mt_browser_video"))


@pytest.fixture(scope="session")
def announce(pytestconfig: pytest.Config) -> Callable[[str], None]:
    """Say one line now, past pytest's output capture: on the terminal (an xdist worker's stderr is the
    controller's) and so in the gate's ``pytest.log``. For waits that would otherwise be silent."""
    return announcer(pytestconfig)


def announcer(config: pytest.Config) -> Callable[[str], None]:
    import sys

    capman = config.pluginmanager.getplugin("capturemanager")

    def say(text: str) -> None:
        line = f"\nmt-verify: {redact_text(text)}\n"  # after a row of progress dots, on a line of its own
        if capman is None:
            sys.stderr.write(line)
            sys.stderr.flush()
            return
        with capman.global_and_fixture_disabled():
            sys.stderr.write(line)
            sys.stderr.flush()

    return say


# -- HTTP --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def probe(environment: cfg.Environment, pytestconfig: pytest.Config) -> Iterator[Probe]:
    with Probe(environment) as p:
        p.say = announcer(pytestconfig)
        side = pytestconfig.pluginmanager.get_plugin("mt-verify-tests")
        if isinstance(side, TestSide):
            side.probes.append(p)
        yield p


@pytest.fixture(scope="session")
def api(probe: Probe, environment: cfg.Environment) -> ApiClient:
    return ApiClient(probe, environment.api.url)


@pytest.fixture(scope="session")
def served_release(api: ApiClient, env_name: str) -> ServedRelease:
    """What ``/api/version`` says is running (checked in detail by the version test)."""
    return served_release_of(api, env_name)


@pytest.fixture(scope="session")
def smoke_credentials(environment: cfg.Environment) -> Credentials:
    """The smoke user, from the environment variables the file names; unset: skip the tier, or a suite error
    when ``smoke.required``."""
    creds = smoke_credentials_from(environment)
    if isinstance(creds, str):
        not_verified(environment.name, "checks as the smoke user", creds.split("] ", 1)[-1]
                     + " (smoke.enabled: false turns the tier off)")
    return creds


@pytest.fixture(scope="session")
def api_token(api: ApiClient, smoke_credentials: Credentials, env_name: str) -> Iterator[str]:
    """The smoke user's Bearer token, one session per run (:mod:`mt_verify.run_session`): the run's UI sign-in's
    when that came first, else one API login shared by every worker. The controller logs it out when the run
    ends; outside a configured run, this process logs in and out itself."""
    shared = run_session.directory()
    with run_session.locked(shared, run_session.TOKEN_LOCK):
        token = run_session.read_token(shared)
        if token is None:
            token = _api_login(api, smoke_credentials, env_name)
            run_session.save_token(shared, token)
    register_secret(token)
    yield token
    if shared is None:
        from mt_verify.api_session import log_out_api

        log_out_api(api, token, env_name)  # never fails the run


def _api_login(api: ApiClient, smoke_credentials: Credentials, env_name: str) -> str:
    ex = api.post("/api/auth/login", {"username": smoke_credentials.username, "password": smoke_credentials.password})
    if ex.status != 200:
        fail(env_name, f"POST {ex.url} as {smoke_credentials.username}", "HTTP 200 and a token",
             f"HTTP {ex.status} {ex.text[:120]!r}",
             next_step="check the smoke user exists and its password in the CI secret; a 401 'Invalid credentials' "
                       "can also mean Supabase Auth is down")
    token, _ = session_tokens(ex)
    if token is None:
        fail(env_name, f"POST {ex.url}", "an access_token", "none")
    return token


@pytest.fixture(autouse=True)
def _mtv_tier_budget(request: pytest.FixtureRequest) -> None:
    """Every check first asks whether its tier is still within ``http.tier_budget`` (see TestSide)."""
    side = request.config.pluginmanager.get_plugin("mt-verify-tests")
    if isinstance(side, TestSide):
        side.within_tier_budget(request.node)


# -- the test side: labels, warnings, evidence, and the one outcome record --------------------------------


def _new_outcome(item: pytest.Item) -> TestOutcome:
    names = sorted({m.name for m in item.iter_markers()})
    if "informational" in names:  # never gating, whatever the module says: the gate reads these names
        names = [n for n in names if n != "gate"]
    tier = tier_of(names, item.nodeid.split("::", 1)[0])
    mark = item.get_closest_marker("area")
    if mark is not None and mark.args:
        area = str(mark.args[0])
    else:
        area = derive_area(tier, getattr(item, "originalname", None) or item.name)
    return TestOutcome(item.nodeid, tier=tier, area=area, gate="gate" in names, markers=names)


def _chained(longrepr: object) -> bool:
    """A traceback of more than one exception (``raise ... from``, or raised while handling another)."""
    from _pytest._code.code import ExceptionChainRepr

    return isinstance(longrepr, ExceptionChainRepr) and len(longrepr.chain) > 1


def _reason(report: pytest.TestReport, exc: BaseException | None) -> str:
    """One line saying why a phase ended red (or was skipped)."""
    if isinstance(exc, CheckFailed | SuiteError | NotVerified):
        return summ.one_line(str(exc))
    if report.skipped and isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        return summ.one_line(str(report.longrepr[2]).removeprefix("Skipped: "))
    if hasattr(report, "wasxfail"):
        return summ.one_line(f"xfail: {report.wasxfail}" if report.wasxfail else "xfail")
    if exc is not None:
        text = str(exc).removeprefix("Failed: ") or type(exc).__name__
        line = summ.one_line(text)
        return line if isinstance(exc, AssertionError | pytest.fail.Exception) else f"{type(exc).__name__}: {line}"
    return summ.one_line(getattr(report, "longreprtext", "") or "")


class TestSide:
    """Hooks of a process that runs tests (an xdist worker, or the only process)."""

    __test__ = False

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.probes: list[Probe] = []
        self.seen: dict[int, int] = {}  # id(probe) -> history length when the previous test ended
        #: When each tier's first test started in this process (for ``http.tier_budget``).
        self.tier_started: dict[str, float] = {}

    @property
    def allure(self) -> bool:
        from mt_verify.reporting.plugin import allure_enabled

        return allure_enabled(self.config)

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        from mt_verify.reporting.allure_meta import marks_for

        allure = self.allure
        for item in items:
            rec = outcome_of(item)
            if allure:
                for m in marks_for(rec.area, rec.tier, rec.gate):
                    item.add_marker(m)

    # warnings: captured per phase, handed on to pytest's own recording --------------------------------
    @contextmanager
    def _capture(self, item: pytest.Item) -> Iterator[None]:
        with warnings.catch_warnings(record=True) as log:
            warnings.simplefilter("always", CheckWarning)
            try:
                yield
            finally:
                caught = list(log)
        texts = item.stash.setdefault(_WARNINGS_KEY, [])
        for w in caught:
            if issubclass(w.category, CheckWarning):
                texts.append(summ.one_line(str(w.message), 300))
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Iterator[None]:
        with self._capture(item):
            return (yield)

    def within_tier_budget(self, item: pytest.Item) -> None:
        """A target so slow that a tier outlives its budget: the remaining checks fail fast (the summary is still
        written), instead of a run without an end."""
        env = self.config.stash.get(ENV_KEY, None)
        tier = outcome_of(item).tier
        if env is None or tier is None:
            return
        started = self.tier_started.setdefault(tier, time.monotonic())
        spent = time.monotonic() - started
        if spent > env.http.tier_budget:
            raise CheckFailed(
                f"[{env.name}] {tier} tier: expected to finish within {env.http.tier_budget:g} s (http.tier_budget), "
                f"got {spent:.0f} s so far: the target is too slow; this check was not run\n"
                f"Next: look at the slowest checks of this run (summary.json duration_s) and at the target's latency")

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        with self._capture(item):
            return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Iterator[None]:
        with self._capture(item):
            return (yield)

    # the one makereport hook -----------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item,
                                  call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        rec = outcome_of(item)
        exc = call.excinfo.value if call.excinfo is not None else None
        verdict = verdict_of(exc) if report.outcome != "passed" else "passed"
        if report.skipped:
            verdict = "skipped"
        reason = _reason(report, exc) if verdict != "passed" else ""
        if isinstance(exc, CheckFailed):
            report.longrepr = redact_text(str(exc))  # the one line first, no screen of traceback
        elif isinstance(exc, SuiteError):
            report.longrepr = f"SUITE ERROR (nothing was checked): {redact_text(str(exc))}"
        elif report.failed and reason and _chained(report.longrepr):
            # A screen of chained exceptions ends in the one line that says what failed: say it first.
            report.longrepr = f"{reason}\n\n{report.longrepr}"
        rec.record_phase(report.when, report.outcome, verdict, reason, report.duration)
        if isinstance(exc, NotVerified) and verdict == "skipped":
            rec.not_verified = True
        texts = item.stash.get(_WARNINGS_KEY, [])
        if texts:
            rec.warnings.extend(texts)
            if self.allure:
                _allure_warnings(texts)
            texts.clear()
        for n in drain_notes():
            rec.notes.append({"kind": n.kind, "text": redact_text(n.text)})
        if verdict in ("failed", "error"):
            rec.evidence.extend(p for p in self._save_exchanges(item) if p not in rec.evidence)
        if report.when == "teardown":
            rec.served = _served(self._new_exchanges()) or rec.served
            self._mark_seen()
            report.user_properties.append((OUTCOME_PROPERTY, rec.to_json()))
        return report

    # HTTP evidence -------------------------------------------------------------------------------------
    def _new_exchanges(self) -> list[Any]:
        out: list[Any] = []
        for probe in self.probes:
            out.extend(probe.history[self.seen.get(id(probe), 0):])
        return out

    def _mark_seen(self) -> None:
        for probe in self.probes:
            self.seen[id(probe)] = len(probe.history)

    def _save_exchanges(self, item: pytest.Item) -> list[str]:
        """The exchanges made since the previous test ended (this test and the fixtures it set up), redacted,
        into ``evidence/<test>/http-exchanges.txt`` and as Allure attachments."""
        from mt_verify import rundir
        from mt_verify.reporting.evidence import evidence_dir

        exchanges = self._new_exchanges()
        if not exchanges:
            return []
        texts = [ex.describe() for ex in exchanges]
        saved: list[str] = []
        base = rundir.current()
        if base is not None:
            path = evidence_dir(item.nodeid, base) / "http-exchanges.txt"
            with path.open("a", encoding="utf-8") as fh:
                for text in texts:
                    fh.write(text.rstrip() + "\n\n" + "-" * 72 + "\n\n")
            saved.append(str(path.relative_to(base)))
        if self.allure:
            import allure

            for ex, text in zip(exchanges, texts, strict=True):
                allure.attach(text, name=f"HTTP {ex.method} {redact_text(ex.url)} -> {ex.status}",
                              attachment_type=allure.attachment_type.TEXT)
        self._mark_seen()  # a teardown failure does not repeat the call's exchanges
        return saved


def _allure_warnings(texts: list[str]) -> None:
    import allure

    allure.dynamic.tag("warning")
    for text in texts:
        with allure.step(f"Warning: {text}"):
            pass
    allure.attach("\n".join(texts), name="warnings", attachment_type=allure.attachment_type.TEXT)


def _served(exchanges: list[Any]) -> dict[str, str] | None:
    """The release served at ``/api/version``, from the last good answer among ``exchanges``."""
    for ex in reversed(exchanges):
        if ex.status != 200 or not ex.url.split("?", 1)[0].endswith("/api/version"):
            continue
        try:
            body = json.loads(ex.body)
        except (ValueError, TypeError):
            continue
        if isinstance(body, dict) and isinstance(body.get("version"), str):
            return {k: str(body[k]) for k in ("version", "commit_sha", "build_id") if isinstance(body.get(k), str)}
    return None
