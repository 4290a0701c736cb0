"""Endpoint checks declared in the environment file (``endpoints:``), one test each."""

from __future__ import annotations

import pytest

from mt_verify.checks.conditions import Condition
from mt_verify.config import EndpointCheck, Environment
from mt_verify.outcome import check, fail
from mt_verify.probe import Probe
from mt_verify.session import environment_of

pytestmark = [pytest.mark.health, pytest.mark.gate, pytest.mark.area("Health")]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    env = environment_of(metafunc.config)
    if env is not None and "endpoint" in metafunc.fixturenames:
        if env.endpoints:
            metafunc.parametrize("endpoint", [
                pytest.param(e, id=e.name, marks=[pytest.mark.informational] if e.informational else [])
                for e in env.endpoints])
        else:
            metafunc.parametrize("endpoint", [None], ids=["none"])


def test_endpoint_check(endpoint: EndpointCheck | None, probe: Probe, environment: Environment,
                        request: pytest.FixtureRequest) -> None:
    if endpoint is None:
        pytest.skip("no endpoint checks declared (endpoints: in the environment file)")
    url = endpoint.url if "://" in endpoint.url else environment.api.url + endpoint.url
    token = request.getfixturevalue("api_token") if endpoint.auth else None
    ex = probe.request(endpoint.method, url, token=token, budget=endpoint.latency)
    check(ex.status == endpoint.status, environment.name, f"{endpoint.name}: {endpoint.method} {url}",
          f"HTTP {endpoint.status}", f"HTTP {ex.status} {ex.text[:120]!r}")
    if not endpoint.conditions:
        return
    body = ex.json()
    failed = []
    for text in endpoint.conditions:
        holds, actual = Condition.parse(text).evaluate(body)
        if not holds:
            failed.append(f"{text} (actual: {actual!r})"[:200])
    if failed:
        fail(environment.name, f"{endpoint.name}: {endpoint.method} {url}", "; ".join(endpoint.conditions),
             "; ".join(failed))
