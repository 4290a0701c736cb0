"""Issue 13's paths to speed, each checked for what it must keep true (never for a time):

- the sandbox's latency profile is switched on and off as asked, and says what it waited;
- ``-m health`` collects no tier it cannot select, so it imports neither Playwright nor the Kubernetes client;
- the health tier's prefetched answers are each judged by the check that asks for them, once;
- a run signs the smoke user in through the UI once, whatever the number of workers, and leaves no session
  and no session file behind.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mt_verify import config as cfg
from mt_verify.plugin import tier_selectable
from sandbox import latency
from selftests.suite import ROOT, run_suite, sandbox_tokens, shipped_sandbox


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    marker = request.node.get_closest_marker("latency")
    monkeypatch.setenv(latency.ENV_VAR, marker.args[0] if marker else "off")
    with shipped_sandbox() as env:
        yield env




def _state(env: dict[str, str]) -> dict[str, object]:
    with urllib.request.urlopen(env["MT_SANDBOX_CONTROL"] + "/state", timeout=10) as resp:
        data: dict[str, object] = json.loads(resp.read())
    return data


# -- the latency profile --------------------------------------------------------------------------------------

def test_latency_profile_rules_follow_the_contract() -> None:
    contract = latency.profile_named("contract")
    assert contract is not None
    assert contract.delay_for("GET", "/health", backend=True).mean_s == pytest.approx(0.002)
    assert contract.delay_for("GET", "/health/full", backend=True).mean_s == pytest.approx(0.100)
    assert contract.delay_for("POST", "/api/auth/login", backend=True).mean_s == pytest.approx(0.070)
    assert contract.delay_for("GET", "/api/table", backend=True).mean_s == pytest.approx(0.070)
    assert contract.delay_for("GET", "/api/seasons", backend=True).mean_s == pytest.approx(0.070)  # other reads
    assert contract.delay_for("GET", "/assets/app.js", backend=False).mean_s < 0.01
    assert latency.profile_named("off") is None and latency.profile_named(None) is None
    with pytest.raises(ValueError, match="unknown latency profile"):
        latency.profile_named("glacial")


@pytest.mark.latency("contract")
def test_latency_profile_on_delays_every_answer_and_says_so(sandbox: dict[str, str]) -> None:
    assert _state(sandbox)["latency"] == "contract"
    with httpx.Client(verify=ssl.create_default_context(cafile=sandbox["MT_SANDBOX_CA"]), timeout=10) as client:
        full = client.get(sandbox["MT_SANDBOX_API_URL"] + "/health/full")
        quick = client.get(sandbox["MT_SANDBOX_API_URL"] + "/health")
        via_site = client.get(sandbox["MT_SANDBOX_SITE_URL"] + "/api/version")
    assert 70 <= float(full.headers["x-sandbox-delay-ms"]) <= 130  # 100 ms +- 30 %
    assert float(quick.headers["x-sandbox-delay-ms"]) < 5
    assert "x-sandbox-delay-ms" in via_site.headers  # the site's /api route waits as the backend does


def test_latency_profile_off_by_default(sandbox: dict[str, str]) -> None:
    assert _state(sandbox)["latency"] == "off"
    with httpx.Client(timeout=10) as client:
        assert "x-sandbox-delay-ms" not in client.get(sandbox["MT_SANDBOX_API_URL"] + "/health/full").headers


# -- -m health starts nothing it does not use --------------------------------------------------------------------

@pytest.mark.parametrize(("tier", "expr", "selectable"), [
    ("smoke", "health", False), ("deployment", "health", False), ("health", "health", True),
    ("smoke", "gate", True), ("smoke", "not health", True), ("deployment", "health or deployment", True),
    ("smoke", "smoke and gate", True), ("smoke", "health and gate", False), ("smoke", "(((", True),
])
def test_tier_selectable_by_marker_expression(tier: str, expr: str, selectable: bool) -> None:
    assert tier_selectable(tier, expr) is selectable


def test_health_tier_imports_neither_playwright_kubernetes_nor_pydantic(sandbox: dict[str, str],
                                                                         tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MT_SANDBOX_", "PYTEST_"))}
    env.update(sandbox, MT_REPORTS_DIR=str(tmp_path / "reports"))
    # --capture=no: pytest's own capture would swallow what -X importtime writes while it collects.
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "pytest", "--env", "sandbox", "-m", "health",
                           "-p", "no:cacheprovider", "-p", "no:randomly", "-q", "--capture=no"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "mt_verify.probe" in imported  # the measurement worked
    # pydantic: the environment schema is mt_verify.schema (~0.15 s of pydantic import and model building gone)
    assert not {m for m in imported if m.split(".")[0] in ("playwright", "kubernetes", "pydantic", "pydantic_core")}


# -- the prefetched answers ------------------------------------------------------------------------------------


def _sandbox_env(sandbox: dict[str, str]) -> cfg.Environment:
    path, raw = cfg.load_raw("sandbox")
    return cfg.validate(cfg.expand(raw, {**os.environ, **sandbox}, "", path), path)


class _Recording(httpx.HTTPTransport):
    """Sends as httpx does and records each request: ``sent`` as "METHOD /path", ``urls`` whole; ``asked`` is set
    once a request for ``watch`` (a path) has been sent."""

    def __init__(self, watch: str | None = None) -> None:
        super().__init__()
        self.sent: list[str] = []
        self.urls: list[str] = []
        self.watch, self.asked = watch, threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(f"{request.method} {request.url.path}")
        self.urls.append(str(request.url))
        if request.url.path == self.watch:
            self.asked.set()
        return super().handle_request(request)


def test_prefetched_answer_is_taken_once_and_judged_by_its_check(sandbox: dict[str, str]) -> None:
    from mt_verify.probe import Probe

    env = _sandbox_env(sandbox)
    transport = _Recording()
    sent = transport.urls

    url = env.api.url + "/api/version"
    down = "http://127.0.0.1:9/health"  # nothing listens there while the API answers: "down", a failure
    with Probe(env, transport=transport) as probe:
        probe.prefetch([(url, None, None), (down, None, None)])
        first = probe.get(url)
        assert len(probe.history) == 1 and probe.history[0] is first  # recorded when its check takes it
        probe.get(url)  # a second check asks again: sent live
        assert sent.count(url) == 2
        with pytest.raises(AssertionError, match="is down"):
            probe.get(down)  # the prefetch's verdict, raised in the check that asks


def test_follow_ups_leave_when_the_sign_in_answers_and_are_sent_once(sandbox: dict[str, str]) -> None:
    """``prefetch_post(then=)``: the GETs that need the sign-in's token go out when it answers; ``once``: a GET
    already waiting is not sent again; a sign-in without a token sends nothing ahead."""
    from mt_verify.probe import Probe

    env = _sandbox_env(sandbox)
    transport = _Recording(watch="/api/seasons")
    sent, follow_up_sent = transport.sent, transport.asked

    login = env.api.url + "/api/auth/login"
    body = {"username": sandbox["MT_SMOKE_USERNAME"], "password": sandbox["MT_SMOKE_PASSWORD"]}
    tokens: list[str] = []

    def then(ex: Any) -> list[tuple[str, str | None, None]]:
        tokens.append(ex.json()["access_token"])
        return [(env.api.url + "/api/seasons", tokens[0], None)]

    with Probe(env, transport=transport) as probe:
        probe.prefetch_post(login, body, then=then)
        answer = probe.request("POST", login, json_body=body, check_latency=False)
        assert answer.status == 200 and sent.count("POST /api/auth/login") == 1  # the prefetched one, taken
        assert follow_up_sent.wait(10), sent  # the follow-up went out by itself, nobody asked for it yet
        probe.prefetch([(env.api.url + "/api/seasons", tokens[0], None)], once=True)  # already waiting: not again
        rows = probe.get(env.api.url + "/api/seasons", token=tokens[0])
        assert rows.status == 200 and sent.count("GET /api/seasons") == 1, sent
        probe.prefetch_post(login, {"username": "nobody_here", "password": "wrong-password"}, then=then)
        refused = probe.request("POST", login, json_body={"username": "nobody_here", "password": "wrong-password"},
                             check_latency=False)
        assert refused.status == 401 and sent.count("GET /api/seasons") == 1, sent  # no token: nothing ahead


def test_a_follow_up_of_several_leaves_when_the_last_answers_and_not_when_one_failed(sandbox: dict[str, str]) -> None:
    """``prefetch(then=)``: the GET that needs several answers (the table after the standings look-ups) goes out
    by itself once all of them have answered, with them in the order asked; when one of them could not be sent,
    nothing goes out ahead (the check that takes it reports it)."""
    from mt_verify.probe import Probe

    env = _sandbox_env(sandbox)
    transport = _Recording(watch="/api/table")
    sent, table_sent = transport.sent, transport.asked

    api = env.api.url
    seen: list[list[str]] = []

    def then(answers: list[Any]) -> list[tuple[str, str | None, None]]:
        seen.append([a.url for a in answers])
        return [(api + "/api/table", None, None)]

    with Probe(env, transport=transport) as probe:
        probe.prefetch([(api + "/health", None, None), (api + "/api/version", None, None)], then=then)
        assert table_sent.wait(10), sent
        assert seen == [[api + "/health", api + "/api/version"]]
        assert sent.index("GET /api/table") > max(sent.index("GET /health"), sent.index("GET /api/version"))
        assert probe.get(api + "/api/table", check_latency=False).status == 401  # taken: not sent again
        assert sent.count("GET /api/table") == 1
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}/api/version"  # bound, not listening: refused
        try:
            probe.prefetch([(api + "/health", None, None), (dead, None, None)], then=then)
            with pytest.raises(AssertionError):  # the refused one, in the check that takes it
                probe.get(dead, check_latency=False)
        finally:
            closed.close()
        assert probe.get(api + "/health", check_latency=False).status == 200
    # Closed: the pool has finished, and with it every callback (run by the thread that answered last).
    assert len(seen) == 1 and sent.count("GET /api/table") == 1, sent  # one failed: nothing ahead


# -- one sign-in per run ---------------------------------------------------------------------------------------

def test_two_workers_sign_in_through_the_ui_once(sandbox: dict[str, str], tmp_path: Path,
                                                 request: pytest.FixtureRequest) -> None:
    before = _state(sandbox)["logins"]
    assert before == {"browser": 0, "api": 0}
    # Every journey that reuses the run's sign-in, and the health tier's token, on two workers (the login and
    # logout journeys sign in on their own: that is what they test).
    private = Path(tempfile.mkdtemp(prefix="mt-st-"))  # a short path: Chromium's sockets live under TMPDIR
    request.addfinalizer(lambda: shutil.rmtree(private, ignore_errors=True))
    run = run_suite(tmp_path, "--env", "sandbox", "-n", "2", "-m", "health or smoke", "-k", "not login",
                    env={**sandbox, "TMPDIR": str(private)}, timeout=300)
    assert run.returncode == 0, run.output[-3000:]
    assert run.outcomes.get("test_standings_table_matches_api") == "passed"
    assert run.outcomes.get("test_standings_add_up") == "passed"
    logins = _state(sandbox)["logins"]
    assert isinstance(logins, dict)
    assert logins["browser"] == 1, logins  # per worker before: 2
    assert logins["api"] <= 1, logins  # 0 when the UI sign-in came first; per worker before: 2
    assert not list(private.glob("mt-run-session-*")), "the run's session folder outlived the run"
    assert sandbox_tokens(sandbox) == 0, "a session of the run is still live after it"
    reports = tmp_path / "reports"
    assert not list(reports.rglob("storage-state*.json")), "a storage state file in the published reports"
