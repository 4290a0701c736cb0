"""The ``--env`` option and the fixtures every tier shares.

``pytest --env prod`` reads ``environments/prod.yaml``; ``--env path/to/file.yaml`` reads that file.
Environments with a ``sandbox`` section start their stand-in world once per run, before any
xdist worker, and stop it at the end of the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mt_verify import config as cfg
from mt_verify import launcher, rundir
from mt_verify.outcome import SuiteError, fail
from mt_verify.probe import ApiClient, Probe
from mt_verify.redact import register_secret
from mt_verify.release import ExpectedRelease, ReleaseError, ServedRelease
from mt_verify.session import ENV_KEY, EXPECTED_KEY

pytest_plugins = ["mt_verify.reporting.plugin"]

TESTS_DIR = cfg.ROOT / "tests"


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


def pytest_configure(config: pytest.Config) -> None:
    name = config.getoption("mt_env")
    if config.option.help or config.option.version:
        return
    if name is None:
        if _collects_suite(config):
            known = ", ".join(cfg.available_environments())
            raise pytest.UsageError(f"choose an environment with --env NAME; known environments: {known}")
        return
    try:
        path, raw = cfg.load_raw(name)
        if raw.get("sandbox") is not None and not _is_worker(config):
            _start_sandbox(config, path, raw)
        elif config.getoption("mt_faults") and not _is_worker(config):
            raise cfg.ConfigError(f"--sandbox-fault: {path} is not a sandbox environment")
        env = cfg.validate(cfg.expand(raw, os.environ, "", path), path)
        config.stash[EXPECTED_KEY] = ExpectedRelease.parse(config.getoption("mt_expected") or env.release.expected)
    except (cfg.ConfigError, ReleaseError) as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[ENV_KEY] = env


def _start_sandbox(config: pytest.Config, path: Path, raw: dict[str, object]) -> None:
    faults = config.getoption("mt_faults")
    if launcher.running():
        if faults:
            launcher.set_faults(faults)
        return
    spec = cfg.Sandbox.model_validate(raw["sandbox"])
    launched = launcher.launch(spec, faults, file=path)
    os.environ.update(launched.env)

    def stop() -> None:
        launched.stop()
        for key in launched.env:
            os.environ.pop(key, None)

    config.add_cleanup(stop)


def pytest_sessionfinish(session: pytest.Session) -> None:
    count_file = os.environ.get("MT_COUNT_ASSERTIONS")
    if count_file:
        from mt_verify import outcome

        with open(count_file, "a", encoding="utf-8") as fh:
            fh.write(f"{outcome.assertions}\n")


def pytest_report_header(config: pytest.Config) -> list[str]:
    env = config.stash.get(ENV_KEY, None)
    if env is None:
        return []
    expected = config.stash.get(EXPECTED_KEY, None)
    return [f"mt-verify: environment {env.name} ({env.site.url}), expected release: {expected or 'not given'}"]


# -- outcome classification: a failed check vs the suite unable to check ---------------------

@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.failed and call.excinfo is not None:
        exc = call.excinfo.value
        if isinstance(exc, SuiteError | cfg.ConfigError):
            verdict = "error"
            report.longrepr = f"SUITE ERROR (nothing was checked): {exc}"
        elif isinstance(exc, pytest.fail.Exception | AssertionError):
            verdict = "failed"
        elif _is_browser_error(exc):
            # The page did not behave (no answer, a reset, a timeout): the application failed the journey.
            # (A browser that cannot start is a SuiteError, raised by the smoke tier's fixtures.)
            verdict = "failed"
            report.longrepr = _browser_failure(item, exc)
        else:
            verdict = "error"  # an exception in the suite's own code
        # On the item too: JUnit writes the properties of the item's last report (teardown).
        item.user_properties.append(("mt_verdict", verdict))
        report.user_properties.append(("mt_verdict", verdict))
    return report


def _is_browser_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("playwright.")  # without importing Playwright


def _browser_failure(item: pytest.Item, exc: BaseException) -> str:
    env = item.config.stash.get(ENV_KEY, None)
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    first = lines[0] if lines else type(exc).__name__
    action, _, what = first.partition(": ")
    call_log = [ln.lstrip("- ") for ln in lines[1:] if ln != "Call log:"][:4]
    text = f"[{env.name if env else '?'}] browser {action or 'action'}: expected the page to answer within the " \
           f"smoke timeout, got {what or first}"
    return text + ("\n" + "\n".join(call_log) if call_log else "")


# -- shared fixtures -----------------------------------------------------------------------

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
def reports_dir() -> Path:
    path = rundir.current() or rundir.REPORTS
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def probe(environment: cfg.Environment) -> Iterator[Probe]:
    with Probe(environment) as p:
        yield p


@pytest.fixture(scope="session")
def api(probe: Probe, environment: cfg.Environment) -> ApiClient:
    return ApiClient(probe, environment.api.url)


@pytest.fixture(scope="session")
def served_release(api: ApiClient, env_name: str) -> ServedRelease:
    """What ``/api/version`` says is running (checked in detail by the version test)."""
    ex = api.get("/api/version")
    if ex.status != 200:
        fail(env_name, ex.url, "HTTP 200 with the served release", f"HTTP {ex.status}")
    body = ex.json_object()
    if not isinstance(body.get("version"), str):
        fail(env_name, ex.url, "a 'version' string", body.get("version"))
    return ServedRelease(version=body["version"], build_id=_opt_str(body.get("build_id")),
                         commit_sha=_opt_str(body.get("commit_sha")), environment=_opt_str(body.get("environment")),
                         build_date=_opt_str(body.get("build_date")))


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='********')"


@pytest.fixture(scope="session")
def smoke_credentials(environment: cfg.Environment) -> Credentials:
    smoke = environment.smoke
    names = (smoke.username_env, smoke.password_env)
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        text = f"[{environment.name}] smoke user credentials not set: {', '.join(missing)}"
        if smoke.required:
            raise SuiteError(text + " (smoke.required is true)")
        pytest.skip(text)
    creds = Credentials(os.environ[smoke.username_env], os.environ[smoke.password_env])
    register_secret(creds.password)
    return creds


@pytest.fixture(scope="session")
def api_token(api: ApiClient, smoke_credentials: Credentials, env_name: str) -> Iterator[str]:
    """The smoke user's Bearer token, from one API login per worker; logged out when the run ends."""
    ex = api.post("/api/auth/login", {"username": smoke_credentials.username, "password": smoke_credentials.password})
    if ex.status != 200:
        fail(env_name, f"POST {ex.url} as {smoke_credentials.username}", "HTTP 200 and a token",
             f"HTTP {ex.status} {ex.text[:120]!r}",
             next_step="check the smoke user exists and its password in the CI secret; a 401 'Invalid credentials' "
                       "can also mean Supabase Auth is down")
    token = ex.json_object().get("access_token")
    if not isinstance(token, str) or not token:
        fail(env_name, f"POST {ex.url}", "an access_token", "none")
    register_secret(token)
    yield token
    # -- issue 11.7: end the health tier's API session (never fails the run) --
    from mt_verify.api_session import log_out_api

    log_out_api(api, token, env_name)
