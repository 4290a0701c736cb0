"""The gate end to end in the sandbox: every exit code, with the stand-in ``helm`` first on PATH.

Each test starts its own sandbox (``python -m sandbox serve --ready-json``), ships a release into it with
``python -m sandbox deploy``, and runs ``mt-verify gate`` as a subprocess that reuses that sandbox
(``MT_SANDBOX_CONTROL`` is exported), as CI would after ``helm upgrade``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mt_verify import config as cfg
from mt_verify import launcher

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "sandbox" / "bin"
BAD = "1.29.3.1361"
GOOD_BEFORE = "1.29.2.1360"
TIERS = "health,deployment"


@dataclass
class World:
    env: dict[str, str]
    tmp: Path

    @property
    def control(self) -> str:
        return self.env["MT_SANDBOX_CONTROL"]

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.control + "/state", timeout=10) as resp:
            return json.load(resp)

    def sandbox(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "sandbox", *args], cwd=ROOT, env=self.environ(), check=True,
                       timeout=60, capture_output=True)

    def deploy(self, version: str, *faults: str) -> None:
        self.sandbox("deploy", "--version", version, *[a for f in faults for a in ("--fault", f)])

    def helm_calls(self) -> list[list[str]]:
        path = Path(self.env["MT_SANDBOX_STATE_DIR"]) / "helm-calls.jsonl"
        if not path.exists():
            return []
        return [json.loads(line)["argv"] for line in path.read_text().splitlines() if line.strip()]

    def environ(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MT_SANDBOX_", "PYTEST_", "MT_REPORTS", "MT_FAKE_", "MT_GATE_", "MT_EXPECTED"))}
        env.update(self.env)
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        env["MT_REPORTS_DIR"] = str(self.tmp / "reports")
        env.update(extra)
        return env

    def gate(self, *args: str, env_file: str = "sandbox", **extra: str) -> Gated:
        command = [sys.executable, "-m", "mt_verify", "gate", "--env", env_file, "--expected-version", BAD,
                   "--tiers", TIERS, *args]
        proc = subprocess.run(command, cwd=ROOT, env=self.environ(**extra), capture_output=True, text=True,
                              timeout=600, stdin=subprocess.DEVNULL)
        gate_json = self.tmp / "reports" / "gate.json"
        result = json.loads(gate_json.read_text()) if gate_json.exists() else {}
        return Gated(proc.returncode, proc.stdout + proc.stderr, result)


@dataclass
class Gated:
    code: int
    output: str
    result: dict[str, Any]


def _launch(tmp_path: Path, raw: dict[str, Any]) -> Iterator[World]:
    spec = cfg.Sandbox.model_validate(raw["sandbox"])
    launched = launcher.launch(spec, [], file=cfg.ENVIRONMENTS_DIR / "sandbox.yaml")
    try:
        yield World(launched.env, tmp_path)
    finally:
        launched.stop()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    _, raw = cfg.load_raw("sandbox")
    yield from _launch(tmp_path, raw)


def argocd_env(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """The sandbox in prod's layout (``environments/sandbox-argocd.yaml``): an Argo CD Application with automated
    sync, no Helm release, rollback.strategy argocd."""
    path, raw = cfg.load_raw("sandbox-argocd")
    assert raw["rollback"]["strategy"] == "argocd"
    return path, raw


def kube_api(world: World) -> Any:
    from kubernetes import config as kconfig

    return kconfig.new_client_from_config(config_file=world.env["MT_SANDBOX_KUBECONFIG"],
                                          context=world.env["MT_SANDBOX_KUBE_CONTEXT"])


def test_bad_release_is_rolled_back_and_verified_green(world: World) -> None:
    world.deploy(BAD, "health-down")
    assert world.state()["served"]["version"] == BAD
    run = world.gate("--rollback")
    assert run.code == 1, run.output
    # The previous release serves again, from a new Helm revision copied from the target.
    state = world.state()
    assert state["served"]["version"] == GOOD_BEFORE
    assert not state["faults"]
    (call,) = world.helm_calls()
    assert call[:2] == ["rollback", "missing-table"]
    assert call[3:8] == ["-n", "missing-table", "--wait", "--timeout", "60s"]
    target = int(call[2])
    history = {h["revision"]: h for h in state["helm_history"]}
    assert max(history) > target
    # Both verdicts: the release failed (confirmed), the verification after the rollback passed.
    result = run.result
    assert result["verdict"] == "failed" and result["exit_code"] == 1
    assert result["confirmed_failures"] and not result["flaky"]
    assert result["rollback"]["plan"]["target_version"] == GOOD_BEFORE
    assert result["after_rollback"] == {**result["after_rollback"], "passed": True, "expected_version": GOOD_BEFORE}
    assert [a["name"] for a in result["attempts"]] == ["attempt 1", "confirm", "after rollback"]
    # The lock was taken for the rollback and given back.
    assert result["rollback"]["lock"]["lease"] == "missing-table/mt-verify-rollback-missing-table"
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    with pytest.raises(ApiException) as gone:
        client.CoordinationV1Api(kube_api(world)).read_namespaced_lease("mt-verify-rollback-missing-table",
                                                                         "missing-table")
    assert gone.value.status == 404


def test_good_release_passes_and_nothing_is_rolled_back(world: World) -> None:
    world.deploy(BAD)  # the name is the version number; shipped without a fault it is healthy
    run = world.gate("--rollback")
    assert run.code == 0, run.output
    assert run.result["verdict"] == "passed"
    assert world.helm_calls() == []
    assert world.state()["served"]["version"] == BAD


def test_dry_run_prints_the_command_and_changes_nothing(world: World) -> None:
    world.deploy(BAD, "health-down")
    run = world.gate("--rollback", "--dry-run")
    assert run.code == 2, run.output
    line = next(ln for ln in run.output.splitlines() if " rollback missing-table " in ln)
    argv = line.split()
    assert Path(argv[0]).name == "helm"
    assert argv[1:] [:2] == ["rollback", "missing-table"] and "--wait" in argv and "60s" in argv
    assert world.helm_calls() == []
    assert world.state()["served"]["version"] == BAD
    assert "dry run" in run.result["reason"]


def test_dry_run_alone_shows_the_rollback_plan(world: World) -> None:
    """README: ``--dry-run`` prints the rollback; it must not need ``--rollback`` too to say anything."""
    world.deploy(BAD, "health-down")
    run = world.gate("--dry-run")
    assert run.code == 2, run.output
    assert any(" rollback missing-table " in ln for ln in run.output.splitlines()), run.output
    assert run.result["rollback"]["dry_run"] is True and "dry run" in run.result["reason"]
    assert world.helm_calls() == [] and world.state()["served"]["version"] == BAD


def test_failure_that_passes_on_its_second_try_is_flaky_not_rolled_back(world: World) -> None:
    world.deploy(BAD, "health-down")
    # Between the attempts the fault goes away (a blip): the confirmation passes.
    clear = f"{sys.executable} -m sandbox set-faults"
    run = world.gate("--rollback", MT_GATE_BETWEEN_ATTEMPTS=clear)
    assert run.code == 0, run.output
    result = run.result
    assert result["flaky"] and set(result["flaky"]) == set(result["gating_failures"])
    assert not result["confirmed_failures"]
    assert "FLAKY" in run.output
    assert world.helm_calls() == []
    # Both attempts are in the results: failed first, passed second.
    first, second = result["attempts"]
    flaky = result["flaky"][0]
    assert {t["nodeid"]: t["verdict"] for t in first["tests"]}[flaky] == "failed"
    assert {t["nodeid"]: t["verdict"] for t in second["tests"]}[flaky] == "passed"
    # The run's summary shows it yellow (flaky), not red, and says why.
    summary = json.loads((world.tmp / "reports" / "summary.json").read_text())
    row = next(t for t in summary["tests"] if t["nodeid"] == flaky)
    assert row["flaky"] and row["status"] == "warning"
    assert summary["gate_verdict"] == "passed_with_warnings"
    assert "passed when the gate ran it again" in (world.tmp / "reports" / "summary.md").read_text()


def test_failed_rollback_exits_3(world: World) -> None:
    world.deploy(BAD, "health-down")
    run = world.gate("--rollback", MT_FAKE_HELM_FAIL="1")
    assert run.code == 3, run.output
    assert len(world.helm_calls()) == 1
    assert world.state()["served"]["version"] == BAD
    assert "the rollback failed" in run.result["reason"]


def test_rollback_that_does_not_fix_it_exits_3(world: World) -> None:
    """The database is down (not the release's fault): rolling back cannot make the verification pass."""
    world.sandbox("set-faults", "database-unhealthy")
    world.deploy(BAD, "health-down")
    run = world.gate("--rollback")
    assert run.code == 3, run.output
    assert len(world.helm_calls()) == 1
    state = world.state()
    assert state["served"]["version"] == GOOD_BEFORE and state["faults"] == ["database-unhealthy"]
    assert run.result["after_rollback"]["passed"] is False
    assert "test_health_full_all_checks_healthy" in run.output


def test_no_rollback_reports_a_confirmed_failure_with_exit_2(world: World) -> None:
    world.deploy(BAD, "health-down")
    run = world.gate("--no-rollback")
    assert run.code == 2, run.output
    assert run.result["confirmed_failures"] and world.helm_calls() == []


def test_cluster_unreachable_is_a_suite_error_never_a_rollback(world: World) -> None:
    world.deploy(BAD, "health-down", "kube-unreachable")
    run = world.gate("--rollback")
    assert run.code == 4, run.output
    # Either the deployment tier could not reach the cluster (a suite error), or the release failed its health
    # checks and the rollback could not read the cluster: never a rollback, never exit 1-3.
    reason = run.result["reason"]
    assert "cannot reach" in reason or "unreachable" in reason, reason
    assert world.helm_calls() == []
    assert world.state()["served"]["version"] == BAD


def test_bad_configuration_is_a_suite_error(world: World, tmp_path: Path) -> None:
    text = (cfg.ENVIRONMENTS_DIR / "sandbox.yaml").read_text().replace("rollback:\n", "rollback:\n  stratgy: helm\n")
    broken = tmp_path / "broken.yaml"
    broken.write_text(text)
    world.deploy(BAD, "health-down")
    run = world.gate("--rollback", env_file=str(broken))
    assert run.code == 4, run.output
    assert "stratgy" in run.output and "unknown field" in run.output
    assert world.helm_calls() == []


def test_missing_helm_is_an_error_with_an_install_hint(world: World, tmp_path: Path) -> None:
    _, raw = cfg.load_raw("sandbox")
    raw["rollback"].pop("binary")  # the sandbox's own names its stand-in helm: here helm must come from PATH
    env_file = tmp_path / "sandbox-no-helm.yaml"
    env_file.write_text(yaml.safe_dump(raw))
    world.deploy(BAD, "health-down")
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != str(BIN))
    run = world.gate("--rollback", env_file=str(env_file), PATH=path)
    assert run.code == 4, run.output
    assert "install Helm" in run.output
    assert run.result["attempts"] == []  # checked before any test ran


def test_non_gating_failure_is_reported_but_not_rolled_back(world: World, tmp_path: Path) -> None:
    text = (cfg.ENVIRONMENTS_DIR / "sandbox.yaml").read_text() + "\ngate:\n  markers: gate and not health\n"
    env_file = tmp_path / "sandbox-nongating.yaml"
    env_file.write_text(text)
    world.deploy(BAD, "health-down")
    run = world.gate("--rollback", env_file=str(env_file))
    assert run.code == 0, run.output
    assert run.result["non_gating_failures"] and not run.result["gating_failures"]
    assert world.helm_calls() == []


def test_release_mid_operation_is_not_rolled_back(world: World) -> None:
    world.deploy(BAD, "health-down", "helm-pending")
    run = world.gate("--rollback")
    assert run.code == 2, run.output
    assert "mid-operation" in run.result["reason"] and "pending-upgrade" in run.result["reason"]
    assert world.helm_calls() == []


def test_another_gate_holding_the_lock_is_not_fought(world: World) -> None:
    from datetime import UTC, datetime

    from kubernetes import client

    world.deploy(BAD, "health-down")
    now = datetime.now(UTC)
    lease = client.V1Lease(metadata=client.V1ObjectMeta(name="mt-verify-rollback-missing-table"),
                           spec=client.V1LeaseSpec(holder_identity="mt-verify-gate/other-runner/42",
                                                   lease_duration_seconds=600, acquire_time=now, renew_time=now))
    client.CoordinationV1Api(kube_api(world)).create_namespaced_lease("missing-table", lease)
    run = world.gate("--rollback")
    assert run.code == 2, run.output
    assert "in progress" in run.result["reason"] and "other-runner" in run.result["reason"]
    assert world.helm_calls() == []
    assert world.state()["served"]["version"] == BAD


def test_argocd_layout_dry_run_prints_argocd_rollback_and_says_auto_sync_must_be_off(tmp_path: Path) -> None:
    env_file, raw = argocd_env(tmp_path)
    for world in _launch(tmp_path, raw):
        world.deploy(BAD, "health-down")
        run = world.gate("--rollback", "--dry-run", "--tiers", "health", env_file=str(env_file))
        assert run.code == 2, run.output
        line = next(ln for ln in run.output.splitlines() if " app rollback missing-table " in ln)
        assert Path(line.split()[0]).name == "argocd"
        assert "auto-sync" in run.output or "automated sync" in run.output
        assert run.result["rollback"]["plan"]["blocker"]
        assert world.state()["served"]["version"] == BAD


def test_argocd_with_auto_sync_is_refused_not_forced(tmp_path: Path) -> None:
    env_file, raw = argocd_env(tmp_path)
    raw["rollback"]["binary"] = str(BIN / "helm")  # any executable: it must never be run
    env_file = tmp_path / "sandbox-argocd.yaml"
    env_file.write_text(yaml.safe_dump(raw))
    for world in _launch(tmp_path, raw):
        world.deploy(BAD, "health-down")
        run = world.gate("--rollback", "--tiers", "health", env_file=str(env_file))
        assert run.code == 2, run.output
        assert "automated sync" in run.result["reason"]
        assert world.helm_calls() == []


def test_kubectl_strategy_dry_run_undoes_each_deployment(world: World, tmp_path: Path) -> None:
    from sandbox.release import Release

    _, raw = cfg.load_raw("sandbox")
    raw["rollback"].update(strategy="kubectl")
    raw["rollback"].pop("binary")  # the sandbox's stand-in helm is no kubectl
    env_file = tmp_path / "sandbox-kubectl.yaml"
    env_file.write_text(yaml.safe_dump(raw))
    world.deploy(BAD, "health-down")
    run = world.gate("--rollback", "--dry-run", env_file=str(env_file))
    assert run.code == 2, run.output
    names = [d["name"] for d in raw["kubernetes"]["deployments"]]
    for name in names:
        assert f"rollout undo deployment/{name} -n missing-table" in run.output
        assert f"rollout status deployment/{name} -n missing-table --timeout=60s" in run.output
    # The verification after it would expect the image tag of the ReplicaSet rolled back to.
    assert run.result["rollback"]["plan"]["target_version"] == Release.make("1.29.2", 1360).sha7
    assert world.state()["served"]["version"] == BAD


def test_to_revision_rolls_back_to_that_revision_and_expects_its_version(world: World) -> None:
    world.deploy(BAD, "health-down")
    run = world.gate("--rollback", "--to-revision", "1")
    assert run.code == 1, run.output
    (call,) = world.helm_calls()
    assert call[2] == "1"
    assert world.state()["served"]["version"] == "1.29.1.1352"
    assert run.result["after_rollback"]["expected_version"] == "1.29.1.1352"


def test_waiting_for_the_version_says_so_in_pytest_log(world: World) -> None:
    """The served release stays wrong (a release that never lands): while the version check polls, progress lines
    name what it waits for, how long so far, the deadline and the last version seen (sandbox release.wait: 3 s)."""
    gated = world.gate("--", "-k", "served_version")
    assert gated.code == 2, gated.output
    log = (world.tmp / "reports" / "pytest.log").read_text(encoding="utf-8")
    lines = [ln for ln in log.splitlines() if "still waiting for" in ln]
    assert lines, log
    assert all(f"to serve release {BAD}" in ln and "so far, deadline 3 s (release.wait); last seen: 1.29.2.1360"
               in ln for ln in lines), lines
    assert lines[0] in gated.output  # echoed on the terminal too


def _sandbox_copy(tmp_path: Path, name: str, change: Any) -> Path:
    _, raw = cfg.load_raw("sandbox")
    change(raw)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def _no_smoke_credentials(raw: dict[str, Any]) -> None:
    raw["smoke"].update(required=False, username_env="MT_UNSET_SMOKE_USER", password_env="MT_UNSET_SMOKE_PASSWORD")


def test_a_tier_that_could_not_run_is_an_error_unless_the_environment_turns_it_off(world: World,
                                                                                    tmp_path: Path) -> None:
    """Smoke credentials unset: the browser tier cannot run; the gate must not pass on it (exit 4)."""
    unset = _sandbox_copy(tmp_path, "no-creds", _no_smoke_credentials)
    gated = world.gate("--tiers", "smoke", "--expected-version", GOOD_BEFORE, env_file=str(unset))
    assert gated.code == 4, gated.output
    assert "could not run (not verified)" in gated.result["reason"] and "MT_UNSET_SMOKE_USER" in gated.result["reason"]
    assert world.helm_calls() == []

    def turned_off(raw: dict[str, Any]) -> None:
        _no_smoke_credentials(raw)
        raw["smoke"]["enabled"] = False

    off = _sandbox_copy(tmp_path, "smoke-off", turned_off)
    gated = world.gate("--tiers", "smoke", "--expected-version", GOOD_BEFORE, env_file=str(off))
    assert gated.code == 0, gated.output


def test_an_informational_endpoint_failure_never_rolls_back(world: World, tmp_path: Path) -> None:
    def endpoints(raw: dict[str, Any]) -> None:
        raw["endpoints"] = [{"name": "teams-list", "url": "/api/no-such-route", "informational": True},
                            {"name": "version", "url": "/api/version"}]

    path = _sandbox_copy(tmp_path, "informational", endpoints)
    gated = world.gate("--rollback", "--tiers", "health", "--expected-version", GOOD_BEFORE, "--", "-k", "endpoint",
                       env_file=str(path))
    assert gated.code == 0, gated.output
    assert gated.result["non_gating_failures"] == ["tests/health/test_endpoints.py::test_endpoint_check[teams-list]"]
    assert world.helm_calls() == []
