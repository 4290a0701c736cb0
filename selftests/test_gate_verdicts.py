"""Roll back to a known-good release only (issue 11, item 6): every gate records its verdict per Helm revision in
the ConfigMap ``mt-verify-gate-<release>``, and the helm strategy rolls back to the newest earlier revision that
passed. In the sandbox: a release that failed its gate (not rolled back), then a newer failing one: the gate rolls
back past both to the last good one; with no revision that passed, it refuses (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mt_verify import config as cfg
from mt_verify.release import ExpectedRelease
from mt_verify.rollback import RollbackRefused
from mt_verify.rollback.helm import Revision, choose_target
from mt_verify.rollback.record import FAILED, PASSED, Verdict, parse, verdicts_for
from selftests.test_gate_sandbox import ROOT, Gated, World, _launch, kube_api

GOOD = "1.29.2.1360"  # revision 2, seeded by the sandbox as having passed its gate
BAD1 = "1.29.3.1361"
BAD2 = "1.29.4.1362"
CONFIGMAP = "mt-verify-gate-missing-table"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    _, raw = cfg.load_raw("sandbox")
    yield from _launch(tmp_path, raw)


def gate(world: World, expected: str, *args: str) -> Gated:
    command = [sys.executable, "-m", "mt_verify", "gate", "--env", "sandbox", "--expected-version", expected,
               "--tiers", "health,deployment", *args]
    proc = subprocess.run(command, cwd=ROOT, env=world.environ(), capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    gate_json = world.tmp / "reports" / "gate.json"
    return Gated(proc.returncode, proc.stdout + proc.stderr, json.loads(gate_json.read_text())
                 if gate_json.exists() else {})


def recorded(world: World) -> dict[int, Verdict]:
    from kubernetes import client

    cm = client.CoreV1Api(kube_api(world)).read_namespaced_config_map(CONFIGMAP, "missing-table")
    return parse(cm.data)


def test_rollback_skips_a_release_that_failed_its_gate_to_the_last_good_one(world: World) -> None:
    assert {n: v.verdict for n, v in recorded(world).items()} == {1: PASSED, 2: PASSED}
    # Release 1.29.3 fails its gate; the gate is run without --rollback: it stays live, recorded as failed.
    world.deploy(BAD1, "health-down")
    first = gate(world, BAD1, "--no-rollback")
    assert first.code == 2, first.output
    assert recorded(world)[3].verdict == FAILED and recorded(world)[3].version == BAD1
    assert f"ConfigMap/{CONFIGMAP}" in first.output
    # Release 1.29.4 fails too. "The newest earlier revision" would be 3 (1.29.3, failed): the gate goes past it.
    world.deploy(BAD2, "health-down")
    second = gate(world, BAD2, "--rollback")
    assert second.code == 1, second.output
    (call,) = world.helm_calls()
    assert call[:3] == ["rollback", "missing-table", "2"], call
    assert world.state()["served"]["version"] == GOOD
    assert second.result["rollback"]["plan"]["target_version"] == GOOD
    assert "revision 2 passed its gate" in " ".join(second.result["rollback"]["plan"]["notes"])
    # Both verdicts of the second gate: 4 failed, and 5 (Helm's copy of 2, verified after the rollback) passed.
    after = recorded(world)
    assert (after[4].verdict, after[4].version) == (FAILED, BAD2)
    assert (after[5].verdict, after[5].version) == (PASSED, GOOD)
    assert after[3].verdict == FAILED


def test_no_revision_that_passed_means_refused_and_said(world: World) -> None:
    from kubernetes import client

    client.CoreV1Api(kube_api(world)).delete_namespaced_config_map(CONFIGMAP, "missing-table")  # no records
    world.deploy(BAD1, "health-down")
    run = gate(world, BAD1, "--rollback")
    assert run.code == 2, run.output
    reason = run.result["reason"]
    assert "no earlier revision that passed its gate" in reason, reason
    assert "revision 2 (1.29.2.1360): no verdict recorded" in reason and "--to-revision" in reason
    assert world.helm_calls() == []
    assert world.state()["served"]["version"] == BAD1
    assert recorded(world)[3].verdict == FAILED  # the refusal is still a verdict on 3


def test_dry_run_records_nothing(world: World) -> None:
    before = recorded(world)
    world.deploy(BAD1, "health-down")
    run = gate(world, BAD1, "--rollback", "--dry-run")
    assert run.code == 2, run.output
    assert recorded(world) == before


# -- the choice, without a cluster -----------------------------------------------------------------------------


def _rev(n: int, version: str, status: str = "superseded") -> Revision:
    return Revision(number=n, status=status, version=version, commit_sha=None, chart="missing-table-0.1.0")


HISTORY = [_rev(1, "1.29.1.1352"), _rev(2, GOOD), _rev(3, BAD1), _rev(4, BAD2, "deployed")]


def test_target_is_the_newest_earlier_revision_that_passed() -> None:
    verdicts = {1: Verdict(1, PASSED), 2: Verdict(2, PASSED), 3: Verdict(3, FAILED)}
    _, target = choose_target(HISTORY, ExpectedRelease.parse(BAD2), None, "missing-table", verdicts, "ns/cm")
    assert target.number == 2
    # Without records for 2 and 3, 1 is the newest that passed.
    _, target = choose_target(HISTORY, ExpectedRelease.parse(BAD2), None, "missing-table", {1: Verdict(1, PASSED)})
    assert target.number == 1


def test_to_revision_that_failed_its_gate_is_refused() -> None:
    with pytest.raises(RollbackRefused, match="revision 3 failed its gate"):
        choose_target(HISTORY, ExpectedRelease.parse(BAD2), 3, "missing-table", {3: Verdict(3, FAILED)}, "ns/cm")


def test_gate_result_maps_to_revisions() -> None:
    class Result:
        verdict, expected, reason, exit = "failed", BAD2, "2 gating check(s) failed twice", 1
        rollback: dict[str, Any] | None = {"strategy": "helm", "plan": {"target_revision": 2}}
        after_rollback: dict[str, Any] | None = {"passed": True, "expected_version": GOOD}

    history = [*HISTORY, _rev(5, GOOD, "deployed")]
    got = {v.revision: v.verdict for v in verdicts_for(Result(), history, now="t")}
    assert got == {5: PASSED, 4: FAILED}
    # `kubectl rollout undo` makes no Helm revision: the newest one is still the release verified, and failed.
    Result.rollback = {"strategy": "kubectl", "plan": {"target_revision": None}}
    got = {v.revision: v.verdict for v in verdicts_for(Result(), HISTORY, now="t")}
    assert got == {4: FAILED}
    Result.verdict, Result.rollback, Result.after_rollback = "error", None, None
    assert verdicts_for(Result(), history) == []  # the suite could not verify: nothing is recorded
