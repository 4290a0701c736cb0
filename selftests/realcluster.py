"""The real-cluster sandbox for selftests (``-m realcluster``): one real control plane per test session.

The binaries come from ``bash scripts/build-cluster.sh`` (``.ci/run`` calls it). When one is missing, every
real-cluster test is SKIPPED with the reason (not built, or the module the proxy refused): visible in the summary,
never a silent pass. Faults are switched through the sandbox's control port, which applies them as real operations
(helm upgrades, kwok Stages, events) and answers once they show; suites then run against the running sandbox.
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

from mt_verify import config as cfg
from mt_verify import launcher
from selftests.suite import Run, run_suite

ROOT = Path(__file__).resolve().parents[1]
ENV = "sandbox-real"
KUBECTL = "/usr/bin/kubectl"


def skip_unless_built() -> None:
    from sandbox.cluster import binaries

    lacking = binaries.missing()
    if lacking:
        reasons = "; ".join(f"{piece}: {why.splitlines()[0] if why else '?'}" for piece, why in lacking.items())
        pytest.skip(f"real cluster binaries missing (bash {binaries.BUILD_SCRIPT}): {reasons}")


@dataclass
class RealWorld:
    env: dict[str, str]

    @property
    def control(self) -> str:
        return self.env["MT_SANDBOX_CONTROL"]

    @property
    def kubeconfig(self) -> str:
        return self.env["MT_SANDBOX_KUBECONFIG"]

    @property
    def admin(self) -> str:
        return self.env["MT_SANDBOX_KUBE_ADMIN_CONTEXT"]

    def post(self, path: str, payload: dict[str, Any], timeout: float = 240) -> dict[str, Any]:
        req = urllib.request.Request(self.control + path, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as err:
            raise AssertionError(f"sandbox refused {path} {payload}: {err.read().decode(errors='replace')}") from None

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.control + "/state", timeout=30) as resp:
            return json.load(resp)

    def set_faults(self, *faults: str) -> dict[str, Any]:
        return self.post("/faults", {"faults": list(faults)})

    def deploy(self, version: str, *faults: str) -> dict[str, Any]:
        return self.post("/deploy", {"version": version, "faults": list(faults)})

    def kubectl(self, *args: str, context: str | None = None, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run([KUBECTL, "--kubeconfig", self.kubeconfig, "--context", context or self.admin, *args],
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def helm(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.env["MT_SANDBOX_HELM"], *args, "-n", "missing-table", "--kubeconfig",
                               self.kubeconfig, "--kube-context", self.admin],
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def suite(self, tmp: Path, *args: str, env_file: str = ENV, **extra: str) -> Run:
        return run_suite(tmp, "--env", env_file, *args, env={**self.env, **extra}, timeout=300)

    def environ(self, tmp: Path, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MT_SANDBOX_", "PYTEST_", "MT_REPORTS", "MT_FAKE_", "MT_GATE_", "MT_EXPECTED"))}
        env.update(self.env)
        env["MT_REPORTS_DIR"] = str(tmp / "reports")
        env.update(extra)
        return env

    def gate(self, tmp: Path, *args: str, env_file: str = ENV, **extra: str) -> tuple[int, str, dict[str, Any]]:
        command = [sys.executable, "-m", "mt_verify", "gate", "--env", env_file, *args]
        proc = subprocess.run(command, cwd=ROOT, env=self.environ(tmp, **extra), capture_output=True, text=True,
                              timeout=600, stdin=subprocess.DEVNULL)
        gate_json = tmp / "reports" / "gate.json"
        result = json.loads(gate_json.read_text()) if gate_json.exists() else {}
        return proc.returncode, proc.stdout + proc.stderr, result


@pytest.fixture(scope="session")
def real_world() -> Iterator[RealWorld]:
    """The real-cluster sandbox of ``environments/sandbox-real.yaml``, started once for the session."""
    skip_unless_built()
    path, raw = cfg.load_raw(ENV)
    spec = cfg.Sandbox.model_validate(raw["sandbox"])
    launched = launcher.launch(spec, [], file=path)
    try:
        yield RealWorld(launched.env)
    finally:
        launched.stop(timeout=15)


@pytest.fixture
def healthy(real_world: RealWorld) -> RealWorld:
    """The real cluster with no fault, running the release it started with, Helm's record included (a gate test
    leaves another release deployed, or, after ``kubectl rollout undo``, Helm recording the bad one)."""
    from sandbox.release import CURRENT

    real_world.set_faults()
    values = real_world.helm("get", "values", "missing-table", "-o", "json")
    recorded = json.loads(values.stdout or "{}").get("commitSha") if values.returncode == 0 else None
    if recorded != CURRENT.commit_sha or real_world.state()["release"]["version"] != CURRENT.version:
        real_world.deploy(CURRENT.version)
    return real_world
