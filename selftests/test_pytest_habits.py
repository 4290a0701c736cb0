"""pytest's own habits work with the suite: ``--lf`` reruns what failed, ``--collect-only`` starts and writes
nothing, ``-x`` says which areas it stopped before, repeated suite errors are folded in the terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from mt_verify import config as cfg
from mt_verify import launcher
from selftests.suite import ROOT, run_suite


def test_last_failed_reruns_only_what_failed(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = run_suite(tmp_path / "first", "--env", "sandbox", "-m", "health", "--sandbox-fault", "health-down",
                      cache=cache)
    assert first.failed == {"test_health_endpoint_healthy[api]", "test_health_endpoint_healthy[site]"}, first.output
    again = run_suite(tmp_path / "again", "--env", "sandbox", "-m", "health", "--lf", cache=cache)
    assert again.outcomes == {"test_health_endpoint_healthy[api]": "passed",
                              "test_health_endpoint_healthy[site]": "passed"}, again.output
    assert "Traceback" not in again.output


def _collect(args: list[str], environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", "--collect-only", "-q", *args],
                          cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def _clean_environ() -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MT_SANDBOX_", "PYTEST_XDIST", "MT_REPORTS"))}
    environ.pop("PYTEST_ADDOPTS", None)
    return environ


def _ids(output: str) -> list[str]:
    return [line for line in output.splitlines() if "::" in line]


def test_collect_only_starts_nothing_writes_nothing_and_lists_a_real_runs_ids(tmp_path: Path) -> None:
    marker = tmp_path / "sandbox-started"
    raw = yaml.safe_load((cfg.ENVIRONMENTS_DIR / "sandbox.yaml").read_text(encoding="utf-8"))
    raw["sandbox"]["command"] = ["sh", "-c", f"touch {marker}; exec python -m sandbox serve --ready-json"]
    env_file = tmp_path / "sandbox.yaml"
    env_file.write_text(yaml.safe_dump(raw), encoding="utf-8")
    latest = cfg.ROOT / "reports" / "latest"
    before = os.readlink(latest) if latest.is_symlink() else None
    runs_before = sorted(p.name for p in (cfg.ROOT / "reports").iterdir())
    listed = _collect([f"--env={env_file}"], _clean_environ())
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert not marker.exists(), "--collect-only started the sandbox"
    assert (os.readlink(latest) if latest.is_symlink() else None) == before
    assert sorted(p.name for p in (cfg.ROOT / "reports").iterdir()) == runs_before
    # The same test ids as a run with the sandbox up.
    spec = cfg.Sandbox.model_validate(raw["sandbox"] | {"command": ["python", "-m", "sandbox", "serve",
                                                                    "--ready-json", "--layout", "helm"]})
    started = launcher.launch(spec, [], file=env_file)
    try:
        real = _collect([f"--env={env_file}"], {**_clean_environ(), **started.env})
    finally:
        started.stop()
    assert real.returncode == 0, real.stdout + real.stderr
    assert _ids(listed.stdout) == _ids(real.stdout) and len(_ids(real.stdout)) > 30


def test_exitfirst_says_which_areas_it_stopped_before(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "--env", "sandbox", "-m", "health", "-x", "--sandbox-fault", "health-down")
    assert run.failed == {"test_health_endpoint_healthy[api]"}, run.output
    data = json.loads((tmp_path / "reports" / "summary.json").read_text(encoding="utf-8"))
    rows = {a["name"]: a for a in data["areas"]}
    assert rows["Version"]["status"] == "not_run"
    assert rows["Version"]["reason"].startswith("not run: stopped by -x after 1 red test(s)")
    assert rows["Login"]["reason"] == "not run: no test of this area was selected (-m 'health')"
    assert "| Version | ⚪ not run | — | not run: stopped by -x" in run.output


def test_identical_suite_errors_are_folded_in_the_terminal(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "--env", "sandbox", "-m", "deployment", "--sandbox-fault", "kube-unreachable")
    errors = run.errors
    assert len(errors) >= 20 and not run.failed, run.output  # every test still in JUnit
    assert run.output.count("ERROR at setup of") == 1, run.output
    assert sum(line.startswith("ERROR tests/") for line in run.output.splitlines()) == 1
    assert f"mt-verify: {len(errors) - 1} more tests could not check for the same reason as tests/deployment/" \
        in run.output
    assert f"⛔ {len(errors)} tests (" in run.output  # as the summary folds them


def test_a_crash_loop_is_one_story_in_the_summary(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "--env", "sandbox", "-m", "deployment", "--sandbox-fault", "crash-loop")
    assert len(run.failed) == 4, run.output  # events, pods ready, restarts, rollout
    data = json.loads((tmp_path / "reports" / "summary.json").read_text(encoding="utf-8"))
    red = [t for t in data["tests"] if t["status"] == "failed"]
    assert {t["object"] for t in red} == {"Deployment missing-table-backend"}
    md = (tmp_path / "reports" / "summary.md").read_text(encoding="utf-8")
    assert "- 🔴 **Deployment missing-table-backend**: 4 red checks, one object (" in md
    assert md.count("\n- 🔴") == 1 and "**Deployment missing-table-backend**: 4 red checks" in run.output
