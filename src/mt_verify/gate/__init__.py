"""The post-deploy gate: run the suite, decide, and roll back only when the application is confirmed unhealthy.

pytest does the checking (a subprocess, read back through the ``summary.json`` its run writes); the decision is a
pure function (:func:`mt_verify.gate.decide.decide`); this module acts on it::

    attempt 1   the requested tiers (health, deployment, smoke)
      |-- suite problem (config, cluster unreachable or forbidden, browser missing, pytest exit 2/3/4/5) -> ERROR (4)
      |-- no gating test failed, but a check the environment asks for could not run (not verified)      -> ERROR (4)
      |-- no gating test failed (non-gating failures are reported)                                        -> PASSED (0)
    confirm     after rollback.confirm_delay seconds, the failed gating tests once more
      |-- suite problem                                                                                   -> ERROR (4)
      |-- none failed again (reported as flaky)                                                           -> PASSED (0)
    FAILED      rollback disabled, dry run, refused (nothing to roll back to, release busy, auto-sync)     -> 2
                rollback tool missing or the cluster unreadable before anything was changed               -> 4
    rollback    under a renewed Lease lock; the rollback fails                                            -> 3
    verify      health and deployment tiers, expecting the release rolled back to: green -> 1, else       -> 3

Cancelled (SIGINT or SIGTERM, as CI runners cancel jobs): no new work starts; a running pytest is stopped; a
running rollback command gets a few seconds to finish, then is stopped; the Lease is released; ``gate.json`` says
"interrupted" and what state was left; exit 3 once a rollback command started, else 4.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from mt_verify import config as cfg
from mt_verify.gate.decide import EXIT_MEANINGS, DecideOptions, Decision, GateExit, decide
from mt_verify.gate.results import Attempt, gating
from mt_verify.gate.runner import run_pytest
from mt_verify.markexpr import MarkerExpressionError, compile_markers
from mt_verify.notify import after_gate
from mt_verify.release import ExpectedRelease, ReleaseError

__all__ = ["EXIT_MEANINGS", "TIERS", "Gate", "GateExit", "GateOptions", "GateResult", "run_gate"]

TIERS = ("health", "deployment", "smoke")
#: Tiers run again after a rollback.
VERIFY_TIERS = ("health", "deployment")
#: A command run between the first attempt and the confirmation (after the delay), e.g. to collect diagnostics.
BETWEEN_ATTEMPTS_VAR = "MT_GATE_BETWEEN_ATTEMPTS"
HOOK_TIMEOUT_S = 60.0


class Cancelled(BaseException):
    """The gate was asked to stop (SIGINT, SIGTERM): like KeyboardInterrupt, not an error of the suite."""


#: How a step of the gate ends it: exit code, verdict, reason.
Ending = tuple[GateExit, str, str]


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
                                                 "dir": str(a.run_dir), **a.to_json()["counts"]}
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


class Gate:
    def __init__(self, options: GateOptions, *, out: TextIO = sys.stdout, echo_pytest: bool = True) -> None:
        self.opts = options
        self.out = out
        self.echo = out if echo_pytest else None
        self.result = GateResult(env=options.env, expected=options.expected_version)
        #: Set once a rollback command has been started: from then on, trouble means exit 3, not 4.
        self.acted = False
        #: The phase under way, for the "interrupted" verdict.
        self.phase = "starting"
        #: While a rollback command runs, a signal only asks it to finish (see rollback.Cancellation).
        self._shielded = False
        self._signalled: str | None = None

    # -- output ------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        print(f"mt-verify gate: {text}", file=self.out, flush=True)

    # -- signals -------------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        from mt_verify.rollback import cancellation

        first = self._signalled is None
        self._signalled = self._signalled or signal.Signals(signum).name
        cancellation.request()
        if first and not self._shielded:
            raise Cancelled(self._signalled)

    @contextmanager
    def _signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        before = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in before.items():
                signal.signal(sig, handler)
            from mt_verify.rollback import cancellation

            cancellation.clear()

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> GateResult:
        started = time.monotonic()
        result = self.result
        try:
            with self._signals():
                try:
                    with self._world() as env:
                        result.exit, result.verdict, result.reason = self._gate(env)
                        self._record_verdict(env)
                except (Cancelled, KeyboardInterrupt) as exc:
                    self._interrupted(str(exc) or "SIGINT")
                except cfg.ConfigError as exc:
                    result.exit, result.verdict, result.reason = GateExit.ERROR, "error", str(exc)
                except Exception as exc:  # never exit 1 ("rolled back") by accident
                    what = f"internal error: {type(exc).__name__}: {exc}"
                    if self.acted:
                        result.exit, result.verdict = GateExit.ROLLBACK_FAILED, "failed"
                        result.reason = f"{what} during or after the rollback; check the release by hand"
                    else:
                        result.exit, result.verdict = GateExit.ERROR, "error"
                        result.reason = f"{what}; nothing was rolled back"
                result.duration_s = time.monotonic() - started
                self._write()
                # Metrics and notifications, last: they never change the verdict (mt_verify.notify).
                after_gate(self.opts.env, result.to_json(), result.run_dir, out=self.out)
        except (Cancelled, KeyboardInterrupt):  # a second signal while writing: the verdict is already set
            pass
        return result

    def _record_verdict(self, env: cfg.Environment) -> None:
        """Keep the verdict where the next gate's rollback reads it (rollback/record.py; never raises, never in a
        dry run, never for a gate that could not verify)."""
        from mt_verify.rollback.record import record_gate_verdict

        self.phase = "recording the verdict"
        record_gate_verdict(env, self.opts, self.result, say=self.say)

    def _interrupted(self, signame: str) -> None:
        result = self.result
        result.verdict = "interrupted"
        if self.acted:
            result.exit = GateExit.ROLLBACK_FAILED
            result.reason = (f"interrupted by {signame} during {self.phase}, after the rollback command started; "
                             "check the release by hand (helm history / kubectl rollout status)")
        else:
            result.exit = GateExit.ERROR
            result.reason = f"interrupted by {signame} during {self.phase}; nothing was rolled back"

    @contextmanager
    def _world(self) -> Iterator[cfg.Environment]:
        """Load the environment; start its sandbox once for every pytest run and the rollback (unless running)."""
        from mt_verify import launcher

        try:
            ExpectedRelease.parse(self.opts.expected_version)
        except ReleaseError as exc:
            raise cfg.ConfigError(str(exc)) from None
        path, raw = cfg.load_raw(self.opts.env)
        if raw.get("sandbox") is not None and not launcher.running():
            self.say("starting the sandbox for this gate")
        launched = launcher.ensure(path, raw, [])
        try:
            yield cfg.validate(cfg.expand(raw, os.environ, "", path), path)
        finally:
            if launched is not None:
                launched.stop()

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
        self.phase = name
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

    def _note(self, decision: Decision) -> None:
        """Record and say what a decision found (the failures it is based on)."""
        result = self.result
        if decision.non_gating and not result.non_gating_failures:
            self.say(f"{len(decision.non_gating)} non-gating failure(s), reported, never rolled back: "
                     + ", ".join(decision.non_gating))
        result.non_gating_failures = decision.non_gating
        if decision.action == "confirm":
            result.gating_failures = [r.nodeid for r in decision.failing]
            return
        result.flaky = decision.flaky
        for nodeid in decision.flaky:
            self.say(f"FLAKY: {nodeid} failed, then passed on its second attempt (not rolled back; look into it)")
        if decision.verdict == "failed":
            result.confirmed = [r.nodeid for r in decision.failing]
            for r in decision.failing:
                self.say(f"FAILED (confirmed): {r.nodeid}: {r.message}")

    def _gate(self, env: cfg.Environment) -> Ending:
        opts = self.opts
        try:
            is_gating = compile_markers(env.gate.markers)
        except MarkerExpressionError as exc:
            raise cfg.ConfigError(f"[{env.name}] gate.markers: {exc}") from None
        paths = self._tier_paths(env, list(opts.tiers or env.gate.tiers))
        from mt_verify import rundir

        top = rundir.current() or rundir.create(env.name)
        top.mkdir(parents=True, exist_ok=True)
        self.result.run_dir = top
        strategy, why_not = self._preflight(env)
        if isinstance(strategy, tuple):
            return strategy
        options = DecideOptions(is_gating, rollback=strategy is not None, no_rollback_reason=why_not)

        first = self._pytest("attempt 1", paths, opts.expected_version, top, env)
        decision = decide(first, None, options)
        self._note(decision)
        if decision.action == "confirm":
            delay = env.rollback.confirm_delay
            self.phase = "the pause before the confirmation"
            self.say(f"{len(decision.failing)} gating check(s) failed; running them again in {delay:g} s to confirm")
            threading.Event().wait(delay)
            self._between_attempts()
            second = self._pytest("confirm", [r.nodeid for r in decision.failing], opts.expected_version,
                                  top / "confirm", env)
            decision = decide(first, second, options)
            self._note(decision)
        if decision.action == "rollback":
            assert strategy is not None
            expected = ExpectedRelease.parse(opts.expected_version)
            assert expected is not None  # parsed in _world
            return self._roll_back(env, strategy, expected)
        return decision.exit, decision.verdict, decision.reason

    def _preflight(self, env: cfg.Environment) -> tuple[Any, str]:
        """The rollback strategy (or None, and why), checked before any test runs: a missing tool is an error now,
        not after a failure. Returns an :data:`Ending` in place of the strategy when the gate cannot go on."""
        if not self.opts.rollback:
            return None, "rollback disabled (--no-rollback)"
        if env.rollback.strategy == "none":
            return None, "rollback.strategy is none"
        from mt_verify.rollback import RollbackError, make_strategy

        try:
            return make_strategy(env, dry_run=self.opts.dry_run), ""
        except RollbackError as exc:
            return (GateExit.ERROR, "error", f"cannot roll back in this environment: {exc}"), ""

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

    def _roll_back(self, env: cfg.Environment, strategy: Any, failed: ExpectedRelease) -> Ending:
        from mt_verify.rollback import RollbackError, RollbackRefused

        self.phase = "planning the rollback"
        info: dict[str, Any] = {"strategy": strategy.name, "dry_run": self.opts.dry_run}
        self.result.rollback = info
        from mt_verify.kube.access import ClusterAccessError

        try:
            plan = strategy.plan(failed, self.opts.to_revision)
        except RollbackRefused as exc:
            info["refused"] = str(exc)
            return GateExit.NOT_ROLLED_BACK, "failed", f"not rolled back: {exc}"
        except (RollbackError, ClusterAccessError) as exc:
            info["error"] = str(exc)
            return GateExit.ERROR, "failed", f"the release failed, but the rollback could not be planned: {exc}"
        info["plan"] = plan.to_json()
        self.say(plan.description)
        for note in plan.notes:
            self.say(f"note: {note}")
        if self.opts.dry_run:
            for command in plan.commands:
                print(shlex.join(command), file=self.out, flush=True)
            if plan.blocker:
                self.say(f"and before running it: {plan.blocker}")
            return GateExit.NOT_ROLLED_BACK, "failed", "dry run: the rollback command(s) above were not run"
        if plan.blocker:
            info["refused"] = plan.blocker
            return GateExit.NOT_ROLLED_BACK, "failed", f"not rolled back: {plan.blocker}"

        from mt_verify.kube.access import ClusterAccessError, Conflict, client_for
        from mt_verify.rollback.lock import ReleaseLock

        assert env.kubernetes is not None
        self.phase = "taking the rollback lock"
        try:
            lock = ReleaseLock(env.kubernetes, client_for(env.kubernetes, env.name))
            lock.acquire()
        except RollbackRefused as exc:
            info["refused"] = str(exc)
            return GateExit.NOT_ROLLED_BACK, "failed", f"not rolled back: {exc}"
        except (RollbackError, ClusterAccessError, Conflict) as exc:
            info["error"] = str(exc)
            return GateExit.ERROR, "failed", f"the release failed, but the rollback lock was not taken: {exc}"
        info["lock"] = {"lease": f"{env.kubernetes.namespace}/{lock.name}", "holder": lock.holder}
        if lock.took_over:
            info["lock"]["took_over"] = lock.took_over
            self.say(lock.took_over)
        lock.start_renewing()
        try:
            return self._run_rollback(env, strategy, plan, info)
        finally:
            try:
                lock.release()
                info["lock"]["released"] = True
            except (RollbackError, ClusterAccessError, Conflict) as exc:
                self.result.notes.append(f"could not release the rollback lock: {exc}")
            for text in lock.renew_errors[:3]:
                self.result.notes.append(f"renewing the rollback lock failed: {text}")

    def _run_rollback(self, env: cfg.Environment, strategy: Any, plan: Any, info: dict[str, Any]) -> Ending:
        self.phase = "the rollback"
        # Acted and shielded before "running:" is printed: once an operator has read that line, a signal lets the
        # command finish (bounded) and the gate ends with exit 3, never with "nothing was rolled back".
        self.acted = True
        self._shielded = True
        for command in plan.commands:
            self.say("running: " + shlex.join(command))
        try:
            executions = strategy.execute(plan)
        finally:
            self._shielded = False
        info["executions"] = [e.to_json() for e in executions]
        if self._signalled:
            raise Cancelled(self._signalled)
        bad = next((e for e in executions if e.returncode != 0), None)
        if bad is not None:
            tail = bad.output.strip().splitlines()[-1:] or ["no output"]
            return (GateExit.ROLLBACK_FAILED, "failed",
                    f"the rollback failed: {shlex.join(bad.command)} exited {bad.returncode}: {tail[0]}")
        if len(executions) < len(plan.commands):
            return GateExit.ROLLBACK_FAILED, "failed", "the rollback stopped before all its commands ran"
        self.say(f"rolled back ({sum(e.duration_s for e in executions):.1f} s); verifying again")
        return self._verify_after(env, plan.target_version)

    def _verify_after(self, env: cfg.Environment, target: str | None) -> Ending:
        assert self.result.run_dir is not None
        tiers = [t for t in VERIFY_TIERS if any((cfg.ROOT / "tests" / t).glob("test_*.py"))]
        attempt = self._pytest("after rollback", [f"tests/{t}" for t in tiers], target,
                               self.result.run_dir / "after-rollback", env)
        is_gating = compile_markers(env.gate.markers)
        problem = attempt.suite_problem() if attempt.returncode != 0 or attempt.problem else None
        failed = gating(attempt.failed, is_gating)
        green = problem is None and not failed
        self.result.after_rollback = {"expected_version": target, "tiers": tiers, "passed": green,
                                      "problem": problem, "failed": [r.nodeid for r in failed]}
        rolled_to = f"{target}" if target else "the previous release"
        if green:
            return (GateExit.ROLLED_BACK, "failed",
                    f"rolled back to {rolled_to}; the verification after the rollback passed")
        why = problem or f"{len(failed)} gating check(s) failed: {', '.join(r.nodeid for r in failed)}"
        return (GateExit.ROLLBACK_FAILED, "failed",
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
