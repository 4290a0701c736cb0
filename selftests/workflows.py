"""A small GitHub Actions job runner for the shipped example workflows: each ``run:`` step, in order, in a fresh
``git clone`` of the committed HEAD, with ``GITHUB_*`` files in a temporary folder.

What it does as Actions does: ``${{ }}`` expressions from a given context (an unknown expression is an error, so
nothing is silently blank), job ``env:``, ``working-directory:``, ``bash -e`` per step, ``$GITHUB_ENV`` and
``$GITHUB_PATH`` carried to later steps, ``$GITHUB_STEP_SUMMARY``/``$GITHUB_OUTPUT`` files, and ``if:`` with
``always()``/``success()``/``failure()`` (a step without ``if:`` is skipped once one has failed).

What it cannot do here is replaced by a :class:`Stub` the test names, each with its reason; any other ``uses:``
step is an error, never silently skipped.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
STEP_TIMEOUT_S = 600.0


@dataclass
class Stub:
    """A step replaced by the test: ``matches(step)`` picks it; ``action(runner, step)`` does what can be done
    here (returns an exit code); ``why`` says why the real step cannot run on this machine."""

    name: str
    why: str
    matches: Callable[[Mapping[str, Any]], bool]
    action: Callable[[JobRunner, Mapping[str, Any]], int] = lambda runner, step: 0


@dataclass
class StepResult:
    name: str
    how: str  # "run" | "stub:<name>" | "skipped"
    returncode: int | None
    output: str = ""


@dataclass
class JobRunner:
    workspace: Path
    context: dict[str, str]
    stubs: list[Stub]
    base_env: dict[str, str]
    #: Called before a step runs (e.g. to prepare a warm cache), with the step.
    before_step: Callable[[JobRunner, Mapping[str, Any]], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    results: list[StepResult] = field(default_factory=list)
    failed: bool = False

    def __post_init__(self) -> None:
        self.runner_temp = self.workspace.parent / "runner-temp"
        self.runner_temp.mkdir(parents=True, exist_ok=True)
        self.files = {name: self.runner_temp / name.lower() for name in
                      ("GITHUB_ENV", "GITHUB_PATH", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")}
        for path in self.files.values():
            path.write_text("")
        self.extra_path: list[str] = []

    # -- expressions -------------------------------------------------------------------------------------------------

    def value(self, expr: str) -> str:
        """``a.b``, ``'literal'``, and ``x || y`` (the first non-empty)."""
        for part in (p.strip() for p in expr.split("||")):
            if part.startswith("'") and part.endswith("'"):
                got = part[1:-1]
            elif part in self.context:
                got = self.context[part]
            else:
                raise KeyError(f"expression {part!r} has no value in the test's context")
            if got:
                return got
        return ""

    def expand(self, text: str) -> str:
        return _EXPR.sub(lambda m: self.value(m.group(1)), text)

    def should_run(self, step: Mapping[str, Any]) -> bool:
        cond = str(step.get("if", "")).strip()
        cond = _EXPR.sub(lambda m: m.group(1), cond).strip()
        if cond == "":
            return not self.failed
        if cond == "always()":
            return True
        if cond == "failure()":
            return self.failed
        if cond == "success()":
            return not self.failed
        raise ValueError(f"if: {cond!r} is not understood by the test's runner")

    # -- running -----------------------------------------------------------------------------------------------------

    def step_env(self) -> dict[str, str]:
        env = dict(self.base_env)
        env.update(self.env)
        env.update({k: str(v) for k, v in self.files.items()})
        env.update(GITHUB_WORKSPACE=str(self.workspace), RUNNER_TEMP=str(self.runner_temp), CI="true",
                   GITHUB_ACTIONS="true")
        if self.extra_path:
            env["PATH"] = os.pathsep.join([*reversed(self.extra_path), env.get("PATH", "")])
        return env

    def _absorb_files(self) -> None:
        text = self.files["GITHUB_ENV"].read_text()
        lines = iter(text.splitlines())
        for line in lines:
            if "<<" in line and "=" not in line.split("<<", 1)[0]:
                name, marker = line.split("<<", 1)
                value: list[str] = []
                for more in lines:
                    if more == marker:
                        break
                    value.append(more)
                self.env[name] = "\n".join(value)
            elif "=" in line:
                name, val = line.split("=", 1)
                self.env[name] = val
        self.files["GITHUB_ENV"].write_text("")
        self.extra_path += [p for p in self.files["GITHUB_PATH"].read_text().splitlines() if p.strip()]
        self.files["GITHUB_PATH"].write_text("")

    def run_job(self, job: Mapping[str, Any]) -> list[StepResult]:
        self.env = {k: self.expand(str(v)) for k, v in (job.get("env") or {}).items()}
        for index, step in enumerate(job.get("steps") or []):
            name = str(step.get("name") or step.get("uses") or step.get("run", "").splitlines()[0])
            if not self.should_run(step):
                self.results.append(StepResult(name, "skipped", None))
                continue
            if self.before_step is not None:
                self.before_step(self, step)
            stub = next((s for s in self.stubs if s.matches(step)), None)
            if stub is not None:
                code = stub.action(self, step)
                self.results.append(StepResult(name, f"stub:{stub.name}", code))
            elif "uses" in step:
                raise AssertionError(f"step {index} ({name}) uses {step['uses']}: not stubbed; add a Stub with why")
            else:
                self.results.append(self._run(name, step))
            if self.results[-1].returncode not in (0, None):
                self.failed = True
            self._absorb_files()
        return self.results

    def _run(self, name: str, step: Mapping[str, Any]) -> StepResult:
        script = self.expand(str(step["run"]))
        path = self.runner_temp / f"step-{len(self.results)}.sh"
        path.write_text(script)
        cwd = self.workspace / self.expand(str(step.get("working-directory", "")))
        proc = subprocess.run(["bash", "-e", str(path)], cwd=cwd, env=self.step_env(), capture_output=True,
                              text=True, timeout=STEP_TIMEOUT_S, stdin=subprocess.DEVNULL)
        return StepResult(name, "run", proc.returncode, proc.stdout + proc.stderr)

    def transcript(self) -> str:
        return "\n".join(f"--- {r.name} [{r.how}] exit {r.returncode}\n{r.output[-3000:]}" for r in self.results)
