"""Declared endpoint checks: the condition language, and the checks failing with clear messages."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mt_verify.checks.conditions import Condition, ConditionError
from selftests.suite import ROOT, run_suite

BODY = {"status": "healthy", "checks": {"db": {"status": "healthy", "n": 6}}, "items": [{"id": 3}], "ok": False}


@pytest.mark.parametrize(("text", "holds"), [
    ("$.status == healthy", True),
    ('$.status == "healthy"', True),
    ("$.status != healthy", False),
    ("$.checks.db.n > 5", True),
    ("$.checks.db.n >= 7", False),
    ("len($.items) == 1", True),
    ("len($.checks) > 1", False),
    ("$.items[0].id == 3", True),
    ("$.items[1].id == 3", False),
    ("$.ok == false", True),
    ("$.nope == null", False),
])
def test_condition_language(text: str, holds: bool) -> None:
    assert Condition.parse(text).evaluate(BODY)[0] is holds


@pytest.mark.parametrize("text", ["status == healthy", "$.a ~= 1", "$.a[x] == 1"])
def test_bad_condition_is_rejected(text: str) -> None:
    with pytest.raises(ConditionError):
        Condition.parse(text)


def endpoints_env(tmp_path: Path, endpoints: list[dict[str, object]]) -> Path:
    env = yaml.safe_load((ROOT / "environments" / "sandbox.yaml").read_text())
    env["endpoints"] = endpoints
    env.pop("kubernetes", None)
    env["sandbox"]["command"] = [*env["sandbox"]["command"][:-2], "--layout", "none"]
    path = tmp_path / "endpoints.yaml"
    path.write_text(yaml.safe_dump(env))
    return path


def test_declared_checks_pass_and_fail_with_messages(tmp_path: Path) -> None:
    path = endpoints_env(tmp_path, [
        {"name": "health-full-db", "url": "/health/full", "conditions": ["$.checks.database.status == healthy",
                                                                        "$.checks.database.age_groups_count > 0"]},
        {"name": "leagues-anonymous", "url": "/api/leagues", "conditions": ["len($) >= 2"]},
        {"name": "table-authed", "url": "/api/table", "auth": True, "conditions": ["len($.standings) > 0"]},
        {"name": "wrong-status", "url": "/api/version", "status": 418},
        {"name": "wrong-condition", "url": "/api/version", "conditions": ["$.environment == production"]},
    ])
    run = run_suite(tmp_path, f"--env={path}", "tests/health/test_endpoints.py")
    assert run.failed == {"test_endpoint_check[wrong-status]", "test_endpoint_check[wrong-condition]"}, run.output
    assert len(run.with_outcome("passed")) == 3
    assert "[sandbox] wrong-status: GET http" in run.output and "expected HTTP 418, got HTTP 200" in run.output
    assert "$.environment == production (actual: 'sandbox')" in run.output


def test_bad_condition_in_a_file_names_the_field(tmp_path: Path) -> None:
    path = endpoints_env(tmp_path, [{"name": "x", "url": "/health", "conditions": ["status = ok"]}])
    run = run_suite(tmp_path, f"--env={path}", "tests/health/test_endpoints.py")
    assert run.returncode == 4
    assert "endpoints[0].conditions:" in run.output and "Traceback" not in run.output
