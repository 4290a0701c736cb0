"""The backend's own health endpoints, on the API host and through the site's hosts."""

from __future__ import annotations

import pytest

from mt_verify import nextsteps
from mt_verify.checks.health import full_problems
from mt_verify.config import Environment
from mt_verify.outcome import check, fail
from mt_verify.probe import Probe
from mt_verify.session import environment_of

pytestmark = [pytest.mark.health, pytest.mark.gate, pytest.mark.area("Health")]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    env: Environment | None = environment_of(metafunc.config)
    if env is not None and "backend_url" in metafunc.fixturenames:
        urls = {"api": env.api.url}
        if env.api.via_site:
            urls["site"] = env.site.url
        metafunc.parametrize("backend_url", list(urls.values()), ids=list(urls))


def test_health_endpoint_healthy(probe: Probe, env_name: str, backend_url: str, environment: Environment) -> None:
    ex = probe.get(backend_url + "/health")
    if ex.status != 200:
        fail(env_name, ex.url, "HTTP 200", f"HTTP {ex.status} {ex.text[:120]!r}",
             next_step=nextsteps.backend_down(environment))
    body = ex.json_object()
    check(body.get("status") == "healthy", env_name, ex.url, "status 'healthy'", body.get("status"))


def test_health_full_all_checks_healthy(probe: Probe, env_name: str, environment: Environment) -> None:
    ex = probe.get(environment.api.url + "/health/full")
    if ex.status not in (200, 503):
        fail(env_name, ex.url, "HTTP 200", f"HTTP {ex.status} {ex.text[:120]!r}")
    body = ex.json_object()
    if ex.status == 503:  # the real app wraps the report in "detail"
        detail = body.get("detail")
        body = detail if isinstance(detail, dict) else {}
    problems = full_problems(body)
    if ex.status != 200 and not problems:
        problems = [f"HTTP {ex.status}"]
    check(not problems, env_name, ex.url, "status healthy, every sub-check healthy, counts > 0",
          "; ".join(problems), details=f"HTTP {ex.status}",
          next_step="look at the failing sub-check: database -> Supabase status and backend DB credentials; "
                    "reference_data -> seasons/match types in the DB")
