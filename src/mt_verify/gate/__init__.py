"""The post-deploy gate: run the suite, decide, and roll back only when the application is confirmed unhealthy.

pytest does the checking (a subprocess, read back through its JUnit XML); this module only decides and acts::

    attempt 1   the requested tiers (health, deployment, smoke)
      |-- suite problem (config, cluster unreachable or forbidden, browser missing, pytest exit 2/3/4/5) -> ERROR (4)
      |-- no gating test failed (non-gating failures are reported)                                        -> PASSED (0)
    confirm     after rollback.confirm_delay seconds, the failed gating tests once more
      |-- suite problem                                                                                   -> ERROR (4)
      |-- none failed again (reported as flaky)                                                           -> PASSED (0)
    FAILED      rollback disabled, dry run, refused (nothing to roll back to, release busy, auto-sync)     -> 2
                rollback tool missing or the cluster unreadable before anything was changed               -> 4
    rollback    under a Lease lock; the rollback fails                                                    -> 3
    verify      health and deployment tiers, expecting the release rolled back to: green -> 1, else       -> 3
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, TextIO

from mt_verify import config as cfg
from mt_verify.gate.markexpr import MarkerExpressionError, compile_markers
from mt_verify.gate.results import Attempt, TestResult, gating
from mt_verify.gate.runner import run_pytest
from mt_verify.notify import after_gate  # issue 12: the one call at the end of Gate.run
from mt_verify.release import ExpectedRelease, ReleaseError

TIERS = ("health", "deployment", "smoke")
#: Tiers run again after a rollback.
VERIFY_TIERS = ("health", "deployment")
#: A command run between the first attempt and the confirmation (after the delay), e.g. to collect diagnostics.
BETWEEN_ATTEMPTS_VAR = "MT_GATE_BETWEEN_ATTEMPTS"
HOOK_TIMEOUT_S = 60.0


class GateExit(IntEnum):
    """The gate's exit codes."""

    PASSED = 0
    ROLLED_BACK = 1
    NOT_ROLLED_BACK = 2
    ROLLBACK_FAILED = 3
    ERROR = 4

    @property
    def meaning(self) -> str:
        return EXIT_MEANINGS[self]


EXIT_MEANINGS = {
    GateExit.PASSED: "passed: every gating check passed (flaky and non-gating failures are reported)",
    GateExit.ROLLED_BACK: "failed and rolled back; the verification after the rollback passed",
    GateExit.NOT_ROLLED_BACK: "failed, not rolled back (rollback disabled, dry run, or refused: nothing to roll "
                              "back to, release mid-operation, another rollback in progress, Argo CD auto-sync on)",
    GateExit.ROLLBACK_FAILED: "failed; a rollback was attempted but it, or the verification after it, failed",
    GateExit.ERROR: "error: the suite could not verify (bad configuration, cluster unreachable or forbidden, "
                    "browser missing, pytest usage error or interrupted) or the rollback tool is missing; "
                    "nothing was rolled back",
}


@dataclass(frozen=True)
class GateOptions:
    env: str
    expected_version: str
    rollback: bool = False
    dry_run: bool = False
    to_revision: int | None = None
    tiers: Sequence[str] | None = None
    pytest_args: Sequence[str] = ()


@dataclass
class GateResult:
    env: str
    expected: str
    exit: GateExit = GateExit.ERROR
    verdict: str = "error"  # passed | failed | error
    reason: str = ""
    run_dir: Path | None = None
    attempts: list[Attempt] = field(default_factory=list)
    gating_failures: list[str] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    flaky: list[str] = field(default_factory=list)
    non_gating_failures: list[str] = field(default_factory=list)
    rollback: dict[str, Any] | None = None
    after_rollback: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def report_section(self) -> dict[str, Any]:
        """The gate section of the run's ``summary.json`` (``mt_verify.reporting.summary.add_gate_section``)."""
        decision = {GateExit.PASSED: "proceed", GateExit.ROLLED_BACK: "rollback",
                    GateExit.NOT_ROLLED_BACK: "no rollback", GateExit.ROLLBACK_FAILED: "rollback failed",
                    GateExit.ERROR: "error"}[self.exit]
        section: dict[str, Any] = {"decision": decision, "reason": self.reason, "exit_code": int(self.exit),
                                   "verdict": self.verdict, "expected_version": self.expected,
                                   "confirmed_failures": self.confirmed, "flaky": self.flaky,
                                   "non_gating_failures": self.non_gating_failures,
                                   "attempts": [{"name": a.name, "returncode": a.returncode,
                                                 "dir": str(a.junit.parent), **a.to_json()["counts"]}
                                                for a in self.attempts]}
        rollback = self.rollback or {}
        plan = rollback.get("plan") or {}
        if plan.get("commands"):
            section["rollback_command"] = " && ".join(shlex.join(c) for c in plan["commands"])
        executions = rollback.get("executions") or []
        if executions:
            section["rollback_exit_code"] = next((e["returncode"] for e in executions if e["returncode"] != 0), 0)
            if section["rollback_exit_code"] is None:
                section["rollback_exit_code"] = -1  # timed out or could not start
        if self.after_rollback is not None:
            section["verdict_after_rollback"] = "passed" if self.after_rollback["passed"] else "failed"
            if self.run_dir is not None:
                section["after_run"] = str(self.run_dir / "after-rollback")
        return section

    def to_json(self) -> dict[str, Any]:
        return {
            "env": self.env, "expected_version": self.expected, "exit_code": int(self.exit),
            "exit_meaning": self.exit.meaning, "verdict": self.verdict, "reason": self.reason,
            "run_dir": str(self.run_dir) if self.run_dir else None,
            "gating_failures": self.gating_failures, "confirmed_failures": self.confirmed, "flaky": self.flaky,
            "non_gating_failures": self.non_gating_failures, "rollback": self.rollback,
            "after_rollback": self.after_rollback, "notes": self.notes, "duration_s": round(self.duration_s, 3),
            "attempts": [a.to_json() for a in self.attempts],
        }


class _Stop(Exception):
    """Ends the gate with ``result`` as it stands."""


class Gate:
    def __init__(self, options: GateOptions, *, out: TextIO = sys.stdout, echo_pytest: bool = True) -> None:
        self.opts = options
        self.out = out
        self.echo = out if echo_pytest else None
        self.result = GateResult(env=options.env, expected=options.expected_version)
        #: Set once a rollback command has been started: from then on, trouble means exit 3, not 4.
        self.acted = False

    # -- output ------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        print(f"mt-verify gate: {text}", file=self.out, flush=True)

    def finish(self, code: GateExit, verdict: str, reason: str) -> None:
        self.result.exit, self.result.verdict, self.result.reason = code, verdict, reason
        raise _Stop

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> GateResult:
        started = time.monotonic()
        try:
            with self._world() as env:
                self._decide_and_act(env)
        except _Stop:
            pass
        except cfg.ConfigError as exc:
            self.result.exit, self.result.verdict, self.result.reason = GateExit.ERROR, "error", str(exc)
        except (Exception, KeyboardInterrupt) as exc:  # never exit 1 ("rolled back") by accident
            what = ("interrupted" if isinstance(exc, KeyboardInterrupt)
                    else f"internal error: {type(exc).__name__}: {exc}")
            if self.acted:
                self.result.exit, self.result.verdict = GateExit.ROLLBACK_FAILED, "failed"
                self.result.reason = f"{what} during or after the rollback; check the release by hand"
            else:
                self.result.exit, self.result.verdict = GateExit.ERROR, "error"
                self.result.reason = f"{what}; nothing was rolled back"
        self.result.duration_s = time.monotonic() - started
        self._write()
        # -- issue 12: metrics and notifications, last; they never change the verdict (mt_verify.notify) --
        after_gate(self.opts.env, self.result.to_json(), self.result.run_dir, out=self.out)
        return self.result

    @contextmanager
    def _world(self) -> Iterator[cfg.Environment]:
        """Load the environment; start its sandbox once for every pytest run and the rollback (unless running)."""
        from mt_verify import launcher

        try:
            ExpectedRelease.parse(self.opts.expected_version)
        except ReleaseError as exc:
            raise cfg.ConfigError(str(exc)) from None
        path, raw = cfg.load_raw(self.opts.env)
        launched = None
        if raw.get("sandbox") is not None and not launcher.running():
            spec = cfg.Sandbox.model_validate(raw["sandbox"])
            self.say("starting the sandbox for this gate")
            launched = launcher.launch(spec, [], file=path)
            os.environ.update(launched.env)
        try:
            yield cfg.validate(cfg.expand(raw, os.environ, "", path), path)
        finally:
            if launched is not None:
                launched.stop()
                for key in launched.env:
                    os.environ.pop(key, None)

    def _tier_paths(self, env: cfg.Environment, tiers: Sequence[str]) -> list[str]:
        unknown = [t for t in tiers if t not in TIERS]
        if unknown:
            raise cfg.ConfigError(f"unknown tier(s) {', '.join(unknown)}; tiers: {', '.join(TIERS)}")
        paths = [f"tests/{t}" for t in tiers if any((cfg.ROOT / "tests" / t).glob("test_*.py"))]
        if not paths:
            raise cfg.ConfigError(f"[{env.name}] no tests in tier(s) {', '.join(tiers)}")
        return paths

    def _environ(self) -> dict[str, str]:
        environ = dict(os.environ)
        environ.pop("MT_EXPECTED_VERSION", None)  # each run states its own
        environ.pop("PYTEST_XDIST_WORKER", None)
        return environ

    def _pytest(self, name: str, targets: Sequence[str], expected: str | None, out_dir: Path,
                env: cfg.Environment) -> Attempt:
        args = [*targets, "--env", self.opts.env, "-q", "-rfE"]
        if expected:
            args += ["--expected-version", expected]
        args += list(self.opts.pytest_args)
        self.say(f"{name}: pytest {' '.join(targets[:4])}{' ...' if len(targets) > 4 else ''}"
                 f"{f' (expected release {expected})' if expected else ''}")
        attempt = run_pytest(name, args, out_dir=out_dir, environ=self._environ(), timeout_s=env.gate.timeout,
                             echo=self.echo)
        self.result.attempts.append(attempt)
        self.say(f"{name}: {_counts(attempt)} in {attempt.duration_s:.1f} s (pytest exit {attempt.returncode})")
        return attempt

    def _decide_and_act(self, env: cfg.Environment) -> None:
        opts, result = self.opts, self.result
        try:
            is_gating = compile_markers(env.gate.markers)
        except MarkerExpressionError as exc:
            raise cfg.ConfigError(f"[{env.name}] gate.markers: {exc}") from None
        paths = self._tier_paths(env, list(opts.tiers or env.gate.tiers))
        from mt_verify import rundir

        top = rundir.current() or rundir.create(env.name)
        top.mkdir(parents=True, exist_ok=True)
        result.run_dir = top
        strategy = self._preflight(env)

        first = self._pytest("attempt 1", paths, opts.expected_version, top, env)
        problem = first.suite_problem()
        if problem:
            self.finish(GateExit.ERROR, "error", f"the suite could not verify: {problem}")
        failed_gating = gating(first.failed, is_gating)
        result.gating_failures = [r.nodeid for r in failed_gating]
        result.non_gating_failures = [r.nodeid for r in first.failed if r not in failed_gating]
        if result.non_gating_failures:
            self.say(f"{len(result.non_gating_failures)} non-gating failure(s), reported, never rolled back: "
                     + ", ".join(result.non_gating_failures))
        if not failed_gating:
            self.finish(GateExit.PASSED, "passed", "every gating check passed")

        confirmed = self._confirm(env, failed_gating, top)
        result.confirmed = [r.nodeid for r in confirmed]
        for r in confirmed:
            self.say(f"FAILED (confirmed): {r.nodeid}: {r.message}")
        if not opts.rollback or strategy is None:
            why = "rollback disabled (--no-rollback)" if not opts.rollback else "rollback.strategy is none"
            self.finish(GateExit.NOT_ROLLED_BACK, "failed", f"{len(confirmed)} gating check(s) failed twice; {why}")
        self._roll_back(env, strategy, ExpectedRelease.parse(opts.expected_version))  # type: ignore[arg-type]

    def _preflight(self, env: cfg.Environment) -> Any:
        """The rollback strategy, checked before any test runs: a missing tool is an error now, not after a failure."""
        if not self.opts.rollback or env.rollback.strategy == "none":
            return None
        from mt_verify.rollback import RollbackError, make_strategy

        try:
            return make_strategy(env, dry_run=self.opts.dry_run)
        except RollbackError as exc:
            self.finish(GateExit.ERROR, "error", f"cannot roll back in this environment: {exc}")

    def _confirm(self, env: cfg.Environment, failed: list[TestResult], top: Path) -> list[TestResult]:
        delay = env.rollback.confirm_delay
        self.say(f"{len(failed)} gating check(s) failed; running them again in {delay:g} s to confirm")
        threading.Event().wait(delay)
        self._between_attempts()
        second = self._pytest("confirm", [r.nodeid for r in failed], self.opts.expected_version, top / "confirm", env)
        problem = second.suite_problem() if second.returncode != 0 or second.problem else None
        if problem:
            self.finish(GateExit.ERROR, "error", f"the suite could not confirm the failures: {problem}")
        again = {r.nodeid for r in second.failed}
        seen = {r.nodeid for r in second.results}
        missing = [r.nodeid for r in failed if r.nodeid not in seen]
        if missing:
            self.finish(GateExit.ERROR, "error", f"the confirmation did not run {', '.join(missing)}")
        self.result.flaky = [r.nodeid for r in failed if r.nodeid not in again]
        for nodeid in self.result.flaky:
            self.say(f"FLAKY: {nodeid} failed, then passed on its second attempt (not rolled back; look into it)")
        confirmed = [r for r in failed if r.nodeid in again]
        if not confirmed:
            self.finish(GateExit.PASSED, "passed", f"{len(failed)} gating failure(s) did not repeat (flaky)")
        return confirmed

    def _between_attempts(self) -> None:
        command = os.environ.get(BETWEEN_ATTEMPTS_VAR)
        if not command:
            return
        self.say(f"{BETWEEN_ATTEMPTS_VAR}: {command}")
        try:
            proc = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=HOOK_TIMEOUT_S,
                                  stdin=subprocess.DEVNULL, env=self._environ())
            if proc.returncode != 0:
                self.result.notes.append(f"{BETWEEN_ATTEMPTS_VAR} exited {proc.returncode}: {proc.stderr[-300:]}")
        except (OSError, subprocess.TimeoutExpired) as exc:
            self.result.notes.append(f"{BETWEEN_ATTEMPTS_VAR} did not run: {exc}")

    # -- rolling back --------------------------------------------------------------------------

    def _roll_back(self, env: cfg.Environment, strategy: Any, failed: ExpectedRelease) -> None:
        from mt_verify.rollback import RollbackError, RollbackRefused

        result = self.result
        info: dict[str, Any] = {"strategy": strategy.name, "dry_run": self.opts.dry_run}
        result.rollback = info
        try:
            plan = strategy.plan(failed, self.opts.to_revision)
        except RollbackRefused as exc:
            info["refused"] = str(exc)
            self.finish(GateExit.NOT_ROLLED_BACK, "failed", f"not rolled back: {exc}")
        except RollbackError as exc:
            info["error"] = str(exc)
            self.finish(GateExit.ERROR, "failed", f"the release failed, but the rollback could not be planned: {exc}")
        info["plan"] = plan.to_json()
        self.say(plan.description)
        for note in plan.notes:
            self.say(f"note: {note}")
        if self.opts.dry_run:
            for command in plan.commands:
                print(shlex.join(command), file=self.out, flush=True)
            if plan.blocker:
                self.say(f"and before running it: {plan.blocker}")
            self.finish(GateExit.NOT_ROLLED_BACK, "failed", "dry run: the rollback command(s) above were not run")
        if plan.blocker:
            info["refused"] = plan.blocker
            self.finish(GateExit.NOT_ROLLED_BACK, "failed", f"not rolled back: {plan.blocker}")

        from mt_verify.rollback.kubeapi import api_client
        from mt_verify.rollback.lock import ReleaseLock

        assert env.kubernetes is not None
        try:
            lock = ReleaseLock(env.kubernetes, api_client(env.kubernetes),
                               duration_s=env.rollback.timeout + env.gate.timeout + 60)
            lock.acquire()
        except RollbackRefused as exc:
            info["refused"] = str(exc)
            self.finish(GateExit.NOT_ROLLED_BACK, "failed", f"not rolled back: {exc}")
        except RollbackError as exc:
            info["error"] = str(exc)
            self.finish(GateExit.ERROR, "failed", f"the release failed, but the rollback lock was not taken: {exc}")
        info["lock"] = {"lease": f"{env.kubernetes.namespace}/{lock.name}", "holder": lock.holder}
        try:
            for command in plan.commands:
                self.say("running: " + shlex.join(command))
            self.acted = True
            executions = strategy.execute(plan)
            info["executions"] = [e.to_json() for e in executions]
            bad = next((e for e in executions if e.returncode != 0), None)
            if bad is not None or len(executions) < len(plan.commands):
                assert bad is not None
                tail = bad.output.strip().splitlines()[-1:] or ["no output"]
                self.finish(GateExit.ROLLBACK_FAILED, "failed",
                            f"the rollback failed: {shlex.join(bad.command)} exited {bad.returncode}: {tail[0]}")
            self.say(f"rolled back ({sum(e.duration_s for e in executions):.1f} s); verifying again")
            self._verify_after(env, plan.target_version)
        finally:
            try:
                lock.release()
            except RollbackError as exc:
                result.notes.append(f"could not release the rollback lock: {exc}")

    def _verify_after(self, env: cfg.Environment, target: str | None) -> None:
        tiers = [t for t in VERIFY_TIERS if any((cfg.ROOT / "tests" / t).glob("test_*.py"))]
        attempt = self._pytest("after rollback", [f"tests/{t}" for t in tiers], target,
                               self.result.run_dir / "after-rollback", env)  # type: ignore[operator]
        is_gating = compile_markers(env.gate.markers)
        problem = attempt.suite_problem() if attempt.returncode != 0 or attempt.problem else None
        failed = gating(attempt.failed, is_gating)
        green = problem is None and not failed
        self.result.after_rollback = {"expected_version": target, "tiers": tiers, "passed": green,
                                      "problem": problem, "failed": [r.nodeid for r in failed]}
        rolled_to = f"{target}" if target else "the previous release"
        if green:
            self.finish(GateExit.ROLLED_BACK, "failed",
                        f"rolled back to {rolled_to}; the verification after the rollback passed")
        why = problem or f"{len(failed)} gating check(s) failed: {', '.join(r.nodeid for r in failed)}"
        self.finish(GateExit.ROLLBACK_FAILED, "failed",
                    f"rolled back to {rolled_to}, but the verification after the rollback did not pass: {why}")

    # -- results -------------------------------------------------------------------------------

    def _write(self) -> None:
        result = self.result
        summary = result.to_json()
        if result.run_dir is not None:
            (result.run_dir / "gate.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
            try:
                from mt_verify.reporting.summary import add_gate_section
            except ImportError:
                pass
            else:
                try:
                    add_gate_section(result.run_dir, result.report_section())
                except Exception as exc:  # reporting must never change the gate's verdict
                    result.notes.append(f"could not add the gate section to summary.json: {type(exc).__name__}")
        after = ""
        if result.after_rollback is not None:
            after = f"; after rollback: {'PASSED' if result.after_rollback['passed'] else 'FAILED'}"
        self.say(f"verdict {result.verdict.upper()}{after} -- {result.reason}")
        for note in result.notes:
            self.say(f"note: {note}")
        if result.run_dir is not None:
            self.say(f"results: {result.run_dir / 'gate.json'}")
        self.say(f"exit {int(result.exit)}: {result.exit.meaning}")


def _counts(attempt: Attempt) -> str:
    if attempt.problem and not attempt.results:
        return attempt.problem
    counts: dict[str, int] = {}
    for r in attempt.results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    text = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no tests"
    return text + (f" ({attempt.problem})" if attempt.problem else "")


def run_gate(options: GateOptions, *, out: TextIO = sys.stdout, echo_pytest: bool = True) -> GateResult:
    return Gate(options, out=out, echo_pytest=echo_pytest).run()
