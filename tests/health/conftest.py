"""Fixtures of the health tier."""

from __future__ import annotations

import pytest

from mt_verify import run_session
from mt_verify.api_session import session_tokens
from mt_verify.config import Environment
from mt_verify.credentials import smoke_credentials_from
from mt_verify.errors import SuiteError
from mt_verify.lookup import LOOKUPS, StandingsIds, ids_from, standings_ids
from mt_verify.probe import Ahead, ApiClient, Exchange, Probe


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The health checks that need the run's sign-in run after the others: their chain of round trips (sign-in,
    look-ups, table) is under way while the checks that need nothing run, instead of each of those waiting."""
    slots = [i for i, item in enumerate(items) if item.get_closest_marker("health") is not None]
    health = [items[i] for i in slots]
    ordered = sorted(health, key=lambda item: "api_token" in getattr(item, "fixturenames", ()))
    for i, item in zip(slots, ordered, strict=True):
        items[i] = item


@pytest.fixture(scope="session", autouse=True)
def target_reachable(probe: Probe) -> None:
    """A suite error when no configured host answers at all (the runner cannot look); a host that is down while
    another answers fails its own checks instead."""
    probe.reachability.require_any()


def independent_requests(environment: Environment, tests: set[str]) -> list[Ahead]:
    """The GETs the selected health checks make that depend on nothing (no token, no earlier answer), once each;
    ``tests`` are the selected test functions' names."""
    api, site = environment.api.url, environment.site.url
    sites = [site, *environment.site.extra_urls]
    out: list[Ahead] = []
    if "test_health_endpoint_healthy" in tests:
        out.append((api + "/health", None, None))
        if environment.api.via_site:
            out.append((site + "/health", None, None))
    if "test_health_full_all_checks_healthy" in tests:
        out.append((api + "/health/full", None, None))
    if tests & {"test_version_fields_well_formed", "test_version_same_through_site",
                "test_served_version_is_expected_release"}:
        out.append((api + "/api/version", None, None))
    if "test_version_same_through_site" in tests and environment.api.via_site:
        out.append((site + "/api/version", None, None))
    if "test_standings_require_auth" in tests:
        out += [(api + "/api/table", None, None), (api + "/api/table", "not-a-real-token", None)]
    if tests & {"test_front_page_serves_app_shell", "test_front_page_scripts_load"}:
        out += [(url + "/", None, None) for url in sites]
    if "test_http_redirects_to_https" in tests:
        out += [(url, None, None) for url in environment.site.redirects]
    if "test_endpoint_check" in tests:
        out += [(e.url if "://" in e.url else api + e.url, None, None) for e in environment.endpoints
                if e.method == "GET" and not e.auth]
    return out


@pytest.fixture(scope="session", autouse=True)
def _mtv_health_prefetch(probe: Probe, environment: Environment, target_reachable: None,
                         request: pytest.FixtureRequest) -> None:
    """The tier's independent requests, sent at once when the tier starts (per process); each check then asserts
    on its own answer (:meth:`mt_verify.probe.Probe.prefetch`)."""
    tests = {getattr(item, "originalname", item.name) for item in request.session.items
             if item.get_closest_marker("health") is not None}
    if "test_standings_add_up" in tests and run_session.read_token(run_session.directory()) is None:
        # The run's API sign-in (api_token) leaves first: it heads the tier's longest chain (sign-in, then the
        # standings look-ups, then the table), and the look-ups go out the moment it answers.
        try:
            creds = smoke_credentials_from(environment)
        except SuiteError:
            creds = "missing"  # api_token itself reports it, in the check that needs it
        if not isinstance(creds, str):
            probe.prefetch_post(environment.api.url + "/api/auth/login",
                                {"username": creds.username, "password": creds.password},
                                then=lambda ex: _lookups(probe, environment, ex))
    probe.prefetch(independent_requests(environment, tests))


def _lookups(probe: Probe, environment: Environment, login: Exchange) -> list[Ahead]:
    """With the token of the sign-in ``login`` (none if it has no token): the standings look-ups, and once they
    have all answered, the table they name (the last link of the chain)."""
    token, _ = session_tokens(login)
    if token is None:
        return []
    api = environment.api.url
    probe.prefetch([(api + path, token, None) for path in LOOKUPS], once=True,
                   then=lambda answers: _table(environment, token, answers))
    return []


def _table(environment: Environment, token: str, answers: list[Exchange]) -> list[Ahead]:
    """``GET /api/table`` for the filter the look-ups' answers name; nothing when one of them is not a list of
    rows (the checks that take them say why), and a name that is missing fails there too (``fail()``)."""
    lists = {}
    for path, ex in zip(LOOKUPS, answers, strict=True):
        rows = ex.json() if ex.status == 200 else None
        if not isinstance(rows, list):
            return []
        lists[path] = rows
    api = environment.api.url
    ids = ids_from(lists, environment.standings, environment.name, lambda path: api + path)
    return [(api + "/api/table", token, ids.params())]


@pytest.fixture(scope="session")
def standings_filter(api: ApiClient, api_token: str, environment: Environment) -> StandingsIds:
    # The look-ups need only the token: they go out together (unless the sign-in's answer already sent them).
    api.probe.prefetch([(api.url(path), api_token, None) for path in LOOKUPS], once=True)
    return standings_ids(api, api_token, environment.standings, environment.name)
