"""The gate when things go badly. An outage (the API down while the site answers) is rolled back: exit 1, never 4.
A cancelled gate (SIGTERM, as CI runners cancel jobs) leaves no Lease behind, says what state it left, and the next
gate can still roll a bad release back; SIGTERM at each phase: the first run, the confirmation, the rollback
command, the verification after it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mt_verify import config as cfg
from selftests.test_gate_sandbox import BAD, GOOD_BEFORE, ROOT, TIERS, World, _launch, kube_api

LEASE = "mt-verify-rollback-missing-table"


@pytest.fixture
def sandbox_world(tmp_path: Path) -> Iterator[World]:
    _, raw = cfg.load_raw("sandbox")
    yield from _launch(tmp_path, raw)

#: phase -> (the gate's line that says the phase started, the exit code expected after SIGTERM there)
PHASES = {
    "attempt 1": ("attempt 1: pytest", 4),
    "confirm": ("confirm: pytest", 4),
    "rollback": ("running: ", 3),
    "after rollback": ("after rollback: pytest", 3),
}


def lease_exists(world: World) -> bool:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    try:
        client.CoordinationV1Api(kube_api(world)).read_namespaced_lease(LEASE, "missing-table")
    except ApiException as exc:
        assert exc.status == 404, exc
        return False
    return True


def gate_cancelled_at(world: World, line: str, **extra: str) -> tuple[int, str, dict[str, object]]:
    """Run the gate; send it SIGTERM when ``line`` appears in its output; bounded by a 300 s deadline."""
    command = [sys.executable, "-m", "mt_verify", "gate", "--env", "sandbox", "--expected-version", BAD,
               "--tiers", TIERS, "--rollback"]
    proc = subprocess.Popen(command, cwd=ROOT, env=world.environ(**extra), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    killer = threading.Timer(300, proc.kill)
    killer.start()
    seen: list[str] = []
    sent = False
    try:
        assert proc.stdout is not None
        for text in proc.stdout:
            seen.append(text)
            if not sent and line in text:
                proc.send_signal(signal.SIGTERM)
                sent = True
        code = proc.wait(timeout=60)
    finally:
        killer.cancel()
    gate_json = world.tmp / "reports" / "gate.json"
    result = json.loads(gate_json.read_text()) if gate_json.exists() else {}
    output = "".join(seen)
    assert sent, f"the gate never printed {line!r}:\n{output}"
    return code, output, result


@pytest.mark.parametrize("phase", sorted(PHASES))
def test_sigterm_leaves_no_lease_and_the_next_gate_rolls_back(sandbox_world: World, tmp_path: Path,
                                                                phase: str) -> None:
    world = sandbox_world
    line, expected_exit = PHASES[phase]
    world.deploy(BAD, "health-down")
    extra = {"MT_FAKE_HELM_WAIT": "3"} if phase == "rollback" else {}
    code, output, result = gate_cancelled_at(world, line, **extra)
    assert code == expected_exit, output
    assert result.get("verdict") == "interrupted", output
    assert "interrupted by SIGTERM" in str(result.get("reason")), result
    assert not lease_exists(world), "the Lease outlived its gate"
    if phase in ("rollback", "after rollback"):
        # The rollback command was let finish: the previous release serves.
        assert world.state()["served"]["version"] == GOOD_BEFORE
    # A new bad release is rolled back by the next gate: nothing was left held.
    world.tmp = tmp_path / "next"
    world.deploy(BAD, "health-down")
    run = world.gate("--rollback")
    assert run.code == 1, run.output


def test_a_release_that_takes_the_api_down_is_rolled_back(sandbox_world: World) -> None:
    """The worst outage: the API refuses connections while the site answers. The API checks fail (not a suite
    error), the gate confirms, rolls back and verifies green: exit 1, never 4."""
    world = sandbox_world
    world.deploy(BAD, "api-down")
    run = world.gate("--rollback")
    assert run.code == 1, run.output
    assert "the API is down" in run.output
    assert run.result["verdict"] == "failed" and run.result["confirmed_failures"], run.result
    assert world.state()["served"]["version"] == GOOD_BEFORE
