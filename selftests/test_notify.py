"""Somebody is told: webhooks (a local receiver) and metrics (a real Prometheus Pushgateway).

Oracles: what the receiver got (parsed here), what the Pushgateway exposes on /metrics, and the files written."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from mt_verify import config as cfg
from mt_verify import notify
from selftests import receivers

ROOT = Path(__file__).resolve().parents[1]
URL_VAR = "MT_TEST_WEBHOOK_URL"
JSON_URL_VAR = "MT_TEST_JSON_WEBHOOK_URL"
TOKEN_VAR = "MT_TEST_WEBHOOK_TOKEN"
TOKEN = "tok-3f9a1c0d8e"


@pytest.fixture(scope="module")
def pushgateway() -> Iterator[str]:
    with receivers.pushgateway() as base:
        yield base


@pytest.fixture
def hook() -> Iterator[receivers.Webhook]:
    with receivers.webhook() as h:
        yield h


def env_file(tmp_path: Path, *, notify_section: dict[str, Any] | None = None,
             metrics_section: dict[str, Any] | None = None, maintenance: list[dict[str, Any]] | None = None,
             base: str | None = None) -> Path:
    raw: dict[str, Any] = (yaml.safe_load((ROOT / "environments" / f"{base}.yaml").read_text()) if base else
                           {"name": "staging", "site": {"url": "https://staging.example"},
                            "api": {"url": "https://staging.example"}})
    if notify_section is not None:
        raw["notify"] = notify_section
    if metrics_section is not None:
        raw["metrics"] = metrics_section
    if maintenance is not None:
        raw["maintenance"] = maintenance
    path = tmp_path / f"{raw['name']}-notify.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def rolled_back_run(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A run folder as a gate that rolled back leaves it: summary.json (with its gate section) and gate.json."""
    run = tmp_path / "staging-20261202T010203.000000Z"
    run.mkdir()
    summary = {
        "schema_version": 1, "verdict": "failed", "version": {"expected": "1.29.3.1361", "served": "1.29.3.1361"},
        "run": {"exit_status": 1, "duration_s": 4.2},
        "areas": [{"name": "Health", "light": "red", "status": "failed",
                   "reason": "[staging] https://staging.example/health: expected HTTP 200, got HTTP 503"},
                  {"name": "TLS", "light": "green", "status": "passed", "reason": ""}],
        "tests": [{"nodeid": "tests/health/test_backend_health.py::test_health_endpoint_healthy[api]",
                   "area": "Health", "tier": "health", "status": "failed", "duration_s": 0.031},
                  {"nodeid": 'tests/health/test_tls.py::test_tls[we"ird\\host]', "area": "TLS", "tier": "health",
                   "status": "passed", "duration_s": 0.012}],
        "gate": {"decision": "rollback"},
    }
    gate = {"env": "staging", "expected_version": "1.29.3.1361", "exit_code": 1, "verdict": "failed",
            "reason": "rolled back to 1.29.2.1360; the verification after the rollback passed",
            "confirmed_failures": ["tests/health/test_backend_health.py::test_health_endpoint_healthy[api]"],
            "rollback": {"strategy": "helm", "dry_run": False,
                         "plan": {"commands": [["helm", "rollback", "missing-table", "2", "-n", "staging"]],
                                  "target_version": "1.29.2.1360"},
                         "executions": [{"command": ["helm"], "returncode": 0, "duration_s": 1.25}]},
            "after_rollback": {"passed": True, "expected_version": "1.29.2.1360"}, "notes": [], "duration_s": 12.5}
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "gate.json").write_text(json.dumps(gate))
    return run, gate


def values(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> list[float]:
    return [v for n, lab, v in samples if n == name and all(lab.get(k) == w for k, w in labels.items())]


def test_a_rollback_is_told_to_slack_and_json_webhooks_and_pushed(tmp_path: Path, hook: receivers.Webhook,
                                                                   pushgateway: str) -> None:
    with receivers.webhook("/plain") as plain:
        path = env_file(tmp_path, notify_section={
            "report_url": "https://ci.example/reports/{env}/{run}/index.html",
            "webhooks": [{"url_env": URL_VAR, "format": "slack"},
                         {"url_env": JSON_URL_VAR, "format": "json", "headers_env": {"Authorization": TOKEN_VAR}}]},
            metrics_section={"pushgateway_url": pushgateway})
        run, gate = rolled_back_run(tmp_path)
        out = io.StringIO()
        environ = {URL_VAR: hook.url, JSON_URL_VAR: plain.url, TOKEN_VAR: TOKEN}
        notify.after_gate(str(path), gate, run, out=out, environ=environ)

        (slack,) = hook.received
        text = json.dumps(slack.json())
        assert slack.json()["text"].startswith(":large_orange_circle: mt-verify gate [staging] 1.29.3.1361: "
                                               "ROLLED BACK (exit 1)")
        assert "Health: [staging] https://staging.example/health: expected HTTP 200, got HTTP 503" in text
        assert "helm rollback missing-table 2 -n staging" in text and "verified green after" in text
        assert f"https://ci.example/reports/staging/{run.name}/index.html" in text
        (record,) = plain.received
        body = record.json()
        assert record.headers["authorization"] == TOKEN
        assert body["event"] == "rolled_back" and body["exit_code"] == 1
        assert [a["name"] for a in body["failing_areas"]] == ["Health"]
        assert body["rollback"]["executed"] and body["rollback"]["target_version"] == "1.29.2.1360"
        assert body["rollback"]["seconds"] == 1.25 and body["rollback"]["verified_after"] is True

    scraped = receivers.scrape(pushgateway)
    group = {"job": "mt_verify", "env": "staging", "kind": "gate"}
    assert values(scraped, "mt_verify_gate_exit_code", **group) == [1.0]
    assert values(scraped, "mt_verify_gate_rollback_seconds", **group) == [1.25]
    assert values(scraped, "mt_verify_gate_verdict", **group, verdict="failed", decision="rollback") == [1.0]
    assert values(scraped, "mt_verify_check_status", **group, status="failed",
                  check="tests/health/test_backend_health.py::test_health_endpoint_healthy[api]") == [1.0]
    assert values(scraped, "mt_verify_check_duration_seconds", **group,
                  check='tests/health/test_tls.py::test_tls[we"ird\\host]') == [0.012]
    # The run folder's OpenMetrics file says the same, and ends as OpenMetrics must.
    text = (run / "metrics.txt").read_text()
    assert text.endswith("# EOF\n")
    written = receivers.parse(text)
    assert values(written, "mt_verify_gate_exit_code", env="staging") == [1.0]
    recorded = json.loads((run / "gate.json").read_text())
    assert [n["delivered"] for n in recorded["notify"]["notifications"]] == [True, True]
    assert recorded["notify"]["metrics"]["push"]["ok"] is True and recorded["notes"] == []
    # Secrets never reach the output or the record.
    for secret in (hook.url, "s3cr3t-token", TOKEN):
        assert secret not in out.getvalue() and secret not in json.dumps(recorded)


def test_a_failing_webhook_is_retried_with_back_off_then_delivered(tmp_path: Path, hook: receivers.Webhook) -> None:
    hook.script = [503, 500]
    path = env_file(tmp_path, notify_section={"webhooks": [{"url_env": URL_VAR, "retries": 2, "backoff": 0.2,
                                                            "timeout": 10}]})
    run, gate = rolled_back_run(tmp_path)
    started = time.monotonic()
    notify.after_gate(str(path), gate, run, out=io.StringIO(), environ={URL_VAR: hook.url})
    elapsed = time.monotonic() - started
    assert len(hook.received) == 3
    assert elapsed >= 0.2 + 0.4 - 0.05, "back-off of 0.2 s, then 0.4 s"
    (sent,) = json.loads((run / "gate.json").read_text())["notify"]["notifications"]
    assert sent["delivered"] and sent["attempts"] == 3


def test_a_webhook_that_keeps_failing_is_one_line_and_a_note_and_never_the_url(tmp_path: Path,
                                                                                hook: receivers.Webhook) -> None:
    hook.default = 500
    path = env_file(tmp_path, notify_section={"webhooks": [{"url_env": URL_VAR, "retries": 1, "backoff": 0.1}]})
    run, gate = rolled_back_run(tmp_path)
    out = io.StringIO()
    notify.after_gate(str(path), gate, run, out=out, environ={URL_VAR: hook.url})
    assert len(hook.received) == 2
    lines = [ln for ln in out.getvalue().splitlines() if "webhook" in ln]
    assert len(lines) == 1 and "NOT told (HTTP 500" in lines[0] and URL_VAR in lines[0]
    recorded = json.loads((run / "gate.json").read_text())
    assert recorded["exit_code"] == 1  # the verdict stands
    assert any("not delivered: HTTP 500" in n for n in recorded["notes"])
    assert "s3cr3t-token" not in out.getvalue() and "s3cr3t-token" not in json.dumps(recorded)


def test_a_client_error_is_not_retried(tmp_path: Path, hook: receivers.Webhook) -> None:
    hook.default = 404
    path = env_file(tmp_path, notify_section={"webhooks": [{"url_env": URL_VAR, "retries": 5, "backoff": 0.1}]})
    run, gate = rolled_back_run(tmp_path)
    notify.after_gate(str(path), gate, run, out=io.StringIO(), environ={URL_VAR: hook.url})
    assert len(hook.received) == 1


def test_a_hanging_webhook_is_bounded_by_the_total_deadline(tmp_path: Path, hook: receivers.Webhook) -> None:
    hook.hang = threading.Event()
    path = env_file(tmp_path, notify_section={"webhooks": [{"url_env": URL_VAR, "timeout": 1.0, "retries": 3}]})
    run, gate = rolled_back_run(tmp_path)
    out = io.StringIO()
    started = time.monotonic()
    notify.after_gate(str(path), gate, run, out=out, environ={URL_VAR: hook.url})
    assert time.monotonic() - started < 2.0
    assert hook.arrived.is_set() and "NOT told" in out.getvalue()


def test_an_unset_webhook_variable_is_one_line(tmp_path: Path) -> None:
    path = env_file(tmp_path, notify_section={"webhooks": [{"url_env": URL_VAR}]})
    run, gate = rolled_back_run(tmp_path)
    out = io.StringIO()
    notify.after_gate(str(path), gate, run, out=out, environ={})
    assert out.getvalue().count("\n") == 1 and f"{URL_VAR} is not set" in out.getvalue()


def test_a_passed_gate_is_not_told_by_default(tmp_path: Path, hook: receivers.Webhook) -> None:
    path = env_file(tmp_path, notify_section={"webhooks": [{"url_env": URL_VAR}]})
    run, gate = rolled_back_run(tmp_path)
    notify.after_gate(str(path), {**gate, "exit_code": 0, "verdict": "passed", "rollback": None}, run,
                      out=io.StringIO(), environ={URL_VAR: hook.url})
    assert hook.received == []


def _nightly_run(tmp_path: Path) -> Path:
    run = tmp_path / "prod-20261206T023000.000000Z"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps({
        "verdict": "failed", "run": {"exit_status": 1, "duration_s": 9.0},
        "areas": [{"name": "TLS", "light": "red", "reason": "[prod] certificate expires in 5 days"}],
        "tests": [{"nodeid": "tests/health/test_tls.py::test_tls", "area": "TLS", "tier": "health",
                   "status": "failed", "duration_s": 0.2}]}))
    return run


WINDOWS = [{"weekly": "sun", "start": "02:00", "end": "04:00", "reason": "Supabase maintenance"},
           {"start": "2026-12-24T22:00:00Z", "end": "2026-12-25T06:00:00Z", "reason": "holiday freeze"}]


@pytest.mark.parametrize(("now", "held"), [
    ("2026-12-06T02:30:00Z", True),    # a Sunday, inside the weekly window
    ("2026-12-06T04:00:00Z", False),   # its end is exclusive
    ("2026-12-05T02:30:00Z", False),   # a Saturday
    ("2026-12-25T01:00:00Z", True),    # inside the one-off window
])
def test_a_nightly_run_inside_a_maintenance_window_reports_but_does_not_notify(
        tmp_path: Path, hook: receivers.Webhook, now: str, held: bool) -> None:
    path = env_file(tmp_path, notify_section={"webhooks": [{"url_env": URL_VAR}]}, maintenance=WINDOWS)
    run = _nightly_run(tmp_path)
    out = io.StringIO()
    moment = datetime.fromisoformat(now.replace("Z", "+00:00"))
    notify.after_run(str(path), run, 1, out=out, environ={URL_VAR: hook.url}, now=moment)
    recorded = json.loads((run / "notify.json").read_text())
    assert (run / "metrics.txt").exists()  # reported either way
    if held:
        assert hook.received == [] and "nobody told" in out.getvalue()
        assert recorded["notifications"][0]["held"] == "maintenance window"
    else:
        (sent,) = hook.received
        assert sent.json()["text"].startswith(":red_circle: mt-verify run [staging]: FAILED (exit 1)")
        assert "certificate expires in 5 days" in json.dumps(sent.json())


def test_a_bad_maintenance_window_is_one_line_naming_file_and_field(tmp_path: Path) -> None:
    path = env_file(tmp_path, maintenance=[{"weekly": "sun", "start": "2am", "end": "04:00"}])
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load(str(path), {})
    assert str(path) in str(err.value) and "maintenance[0]" in str(err.value) and "HH:MM" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_pushgateway_that_is_down_is_one_line_and_a_note(tmp_path: Path) -> None:
    path = env_file(tmp_path, metrics_section={"pushgateway_url": f"http://127.0.0.1:{receivers.free_port()}",
                                               "timeout": 2, "retries": 1})
    run, gate = rolled_back_run(tmp_path)
    out = io.StringIO()
    notify.after_gate(str(path), gate, run, out=out, environ={})
    assert [ln for ln in out.getvalue().splitlines() if "push to http://127.0.0.1:" in ln and "failed" in ln]
    assert any("metrics push" in n for n in json.loads((run / "gate.json").read_text())["notes"])


# -- end to end: the real gate and a real run in the sandbox ---------------------------------------------------------


def _sandbox_env(tmp_path: Path, hook: receivers.Webhook, pushgateway: str) -> tuple[Path, dict[str, str]]:
    path = env_file(tmp_path, base="sandbox",
                    notify_section={"webhooks": [{"url_env": URL_VAR, "format": "json", "on": ["rolled_back",
                                                                                              "passed"]}],
                                    "report_url": "file://{run}"},
                    metrics_section={"pushgateway_url": pushgateway})
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MT_", "PYTEST_"))}
    environ.update({URL_VAR: hook.url, "MT_REPORTS_DIR": str(tmp_path / "run")})
    return path, environ


def test_the_gate_tells_the_webhook_and_pushes_after_a_real_rollback(tmp_path: Path, hook: receivers.Webhook,
                                                                      pushgateway: str) -> None:
    from mt_verify import launcher

    path, environ = _sandbox_env(tmp_path, hook, pushgateway)
    _, raw = cfg.load_raw(str(path))
    launched = launcher.launch(cfg.Sandbox.model_validate(raw["sandbox"]), [], file=path)
    try:
        environ.update(launched.env)
        subprocess.run([sys.executable, "-m", "sandbox", "deploy", "--version", "1.29.3.1361", "--fault",
                        "health-down"], cwd=ROOT, env=environ, check=True, capture_output=True, timeout=60)
        proc = subprocess.run([sys.executable, "-m", "mt_verify", "gate", f"--env={path}", "--expected-version",
                               "1.29.3.1361", "--tiers", "health,deployment", "--rollback", "-q"], cwd=ROOT,
                              env=environ, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    finally:
        launched.stop()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (sent,) = hook.received
    body = sent.json()
    assert body["event"] == "rolled_back" and body["rollback"]["target_version"] == "1.29.2.1360"
    assert "Health" in [a["name"] for a in body["failing_areas"]]
    scraped = receivers.scrape(pushgateway)
    group = {"job": "mt_verify", "env": "sandbox", "kind": "gate"}
    assert values(scraped, "mt_verify_gate_exit_code", **group) == [1.0]
    (seconds,) = values(scraped, "mt_verify_gate_rollback_seconds", **group)
    assert seconds > 0
    assert values(scraped, "mt_verify_check_status", **group, status="failed")
    assert "mt-verify notify: told webhook" in proc.stdout and hook.url not in proc.stdout


def test_a_plain_run_pushes_its_checks_and_tells_the_webhook(tmp_path: Path, hook: receivers.Webhook,
                                                             pushgateway: str) -> None:
    path, environ = _sandbox_env(tmp_path, hook, pushgateway)
    proc = subprocess.run([sys.executable, "-m", "mt_verify", "run", f"--env={path}", "--no-html", "--",
                           "-m", "health", "-q", "-p", "no:cacheprovider"], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (sent,) = hook.received
    assert sent.json()["event"] == "passed" and sent.json()["kind"] == "run"
    scraped = receivers.scrape(pushgateway)
    group = {"job": "mt_verify", "env": "sandbox", "kind": "run"}
    assert values(scraped, "mt_verify_run_exit_code", **group) == [0.0]
    passed = values(scraped, "mt_verify_check_status", **group, status="passed")
    assert len(passed) >= 10
    assert (tmp_path / "run" / "metrics.txt").read_text().endswith("# EOF\n")
