"""The ready-to-copy examples: valid YAML, unable to run in this repository by accident, and every ``mt-verify``
command they call is one the CLI accepts."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from mt_verify.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / "examples" / "github-workflows").glob("*.yml"))
CRONJOB = ROOT / "deploy" / "cronjob-nightly.yaml"


def _commands(script: str) -> list[list[str]]:
    """``mt-verify ...`` lines of a shell script (continuations joined, ``${{ }}`` made plain words)."""
    script = re.sub(r"\$\{\{[^}]*\}\}", "EXPR", script).replace("\\\n", " ")
    out: list[list[str]] = []
    for line in script.splitlines():
        line = line.split(" || ")[0].split(" && ")[0].strip()
        if line.startswith("mt-verify "):
            out.append(shlex.split(line)[1:])
    return out


def _accepts(argv: list[str]) -> Any:
    args = argv[: argv.index("--")] if "--" in argv else argv
    try:
        return build_parser().parse_args(args)
    except SystemExit as exc:
        pytest.fail(f"mt-verify {shlex.join(argv)}: the CLI refuses it (exit {exc.code})")


def _steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])]


def test_examples_exist() -> None:
    names = {p.name for p in WORKFLOWS}
    assert {"post-deploy-gate.yml", "nightly-verification.yml"} <= names


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_cannot_run_here_and_calls_real_commands(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as true
    assert not {"push", "pull_request", "pull_request_target"} & set(triggers), "must not run on push or PRs"
    assert ".github" not in path.parts
    commands = [c for step in _steps(doc) if "run" in step for c in _commands(step["run"])]
    assert commands, f"{path.name} calls no mt-verify command"
    for argv in commands:
        _accepts(argv)
    uploads = [s for s in _steps(doc) if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert uploads and all(s.get("if") == "always()" for s in uploads), "reports must be uploaded, even on failure"


def test_post_deploy_gate_runs_after_helm_upgrade_with_rollback() -> None:
    doc = yaml.safe_load((ROOT / "examples/github-workflows/post-deploy-gate.yml").read_text())
    runs = [s.get("run", "") for s in _steps(doc)]
    upgrade = next(i for i, r in enumerate(runs) if "helm upgrade" in r)
    gate = next(i for i, r in enumerate(runs) for c in _commands(r) if c[0] == "gate")
    assert upgrade < gate
    args = _accepts(next(c for c in _commands(runs[gate]) if c[0] == "gate"))
    assert args.rollback and args.expected_version


def test_nightly_never_rolls_back_and_keeps_history() -> None:
    doc = yaml.safe_load((ROOT / "examples/github-workflows/nightly-verification.yml").read_text())
    triggers = doc.get("on", doc.get(True))
    assert triggers["schedule"]
    commands = [c for s in _steps(doc) if "run" in s for c in _commands(s["run"])]
    assert {c[0] for c in commands} <= {"run", "report"} and any(c[0] == "run" for c in commands)
    uses = [str(s.get("uses", "")) for s in _steps(doc)]
    assert any(u.startswith("actions/cache/restore") for u in uses) and any(u.startswith("actions/cache/save")
                                                                           for u in uses)


def test_cronjob_runs_the_suite_read_only_as_mt_verify() -> None:
    docs = [d for d in yaml.safe_load_all(CRONJOB.read_text()) if d]
    cron = next(d for d in docs if d["kind"] == "CronJob")
    assert cron["apiVersion"] == "batch/v1"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "mt-verify"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = pod["containers"]
    command = container["command"]
    assert command[0] == "mt-verify"
    args = _accepts(command[1:])
    assert args.command == "run"
    claims = {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v}
    assert claims <= {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}


def test_cronjob_service_account_is_the_read_only_one() -> None:
    rbac = ROOT / "deploy" / "rbac-readonly.yaml"
    if not rbac.exists():
        pytest.skip("deploy/rbac-readonly.yaml (the deployment tier's) is not there yet")
    docs = [d for d in yaml.safe_load_all(rbac.read_text()) if d]
    accounts = {d["metadata"]["name"] for d in docs if d.get("kind") == "ServiceAccount"}
    assert "mt-verify" in accounts
    verbs = {v for d in docs if d.get("kind") in ("Role", "ClusterRole") for r in d.get("rules", [])
             for v in r.get("verbs", [])}
    assert verbs <= {"get", "list", "watch"}, f"the nightly role must be read-only, has {sorted(verbs)}"
