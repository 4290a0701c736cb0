"""Rolling a release back the way its environment is managed.

Strategies (``rollback.strategy`` in the environment file):

``helm``     ``helm rollback RELEASE REVISION -n NS --wait --timeout T`` -- REVISION is the newest earlier revision
             whose status is ``superseded`` or ``deployed`` with another version than the failed one, read from the
             release Secrets, and that passed its gate (verdicts recorded by every gate: ``record.py``). Refused
             when there is none, or when the release is ``pending-*``.
``kubectl``  ``kubectl rollout undo deployment/X -n NS`` for each configured deployment, then ``rollout status``.
``argocd``   ``argocd app rollback APP ID`` (prod). Refused while the Application has automated sync: Argo CD
             refuses it too, and self-heal would undo any other kind of rollback.
``none``     never roll back.

Errors::

    RollbackError            could not roll back (the tool failed, timed out, or the cluster could not be read)
     +-- RollbackRefused     will not roll back, for a stated reason (nothing to roll back to, release busy, auto-sync)
     +-- ToolMissing         the strategy's binary is not installed (an install hint says how)

Planning reads the cluster (Kubernetes client, imported only here); executing runs the binary with an argument
list, a timeout and captured output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mt_verify.config import Environment
from mt_verify.release import ExpectedRelease


class RollbackError(Exception):
    """The rollback could not be done."""


class RollbackRefused(RollbackError):
    """The gate will not roll back, and says why; nothing was changed."""


class ToolMissing(RollbackError):
    """The strategy's command-line tool is not installed."""


INSTALL_HINTS = {
    "helm": "install Helm 3 (https://helm.sh/docs/intro/install/) or set rollback.binary to its path",
    "kubectl": "install kubectl (https://kubernetes.io/docs/tasks/tools/) or set rollback.binary to its path",
    "argocd": "install the Argo CD CLI (https://argo-cd.readthedocs.io/en/stable/cli_installation/) "
              "or set rollback.binary to its path",
}


@dataclass(frozen=True)
class Plan:
    """What a rollback will do: the exact commands, and what should serve afterwards."""

    strategy: str
    commands: list[list[str]]
    #: The release expected after the rollback (``--expected-version`` of the verification after it); None: unknown.
    target_version: str | None
    description: str
    #: Revision (helm) or history id (argocd) rolled back to.
    target_revision: int | None = None
    notes: list[str] = field(default_factory=list)
    #: Why these commands must not run now (a dry run still prints them); None: nothing stands in the way.
    blocker: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "commands": [list(c) for c in self.commands],
                "target_version": self.target_version, "target_revision": self.target_revision,
                "description": self.description, "notes": list(self.notes), "blocker": self.blocker}


@dataclass
class Execution:
    command: list[str]
    returncode: int | None
    output: str
    duration_s: float

    def to_json(self) -> dict[str, Any]:
        return {"command": self.command, "returncode": self.returncode, "output": self.output[-4000:],
                "duration_s": round(self.duration_s, 3)}


class Strategy(Protocol):
    name: str

    def plan(self, failed: ExpectedRelease, to_revision: int | None) -> Plan: ...

    def execute(self, plan: Plan) -> list[Execution]: ...


def find_binary(tool: str, configured: str | None, environ: Mapping[str, str] = os.environ) -> str:
    """The executable to run: ``rollback.binary`` (a name on PATH or a path), else ``tool`` on PATH."""
    wanted = configured or tool
    if os.sep in wanted:
        if os.path.isfile(wanted) and os.access(wanted, os.X_OK):
            return wanted
        raise ToolMissing(f"rollback.binary {wanted!r} is not an executable file; {INSTALL_HINTS[tool]}")
    found = shutil.which(wanted, path=environ.get("PATH"))
    if found is None:
        raise ToolMissing(f"{wanted!r} not found on PATH; {INSTALL_HINTS[tool]}")
    return found


class Cancellation:
    """Set by the gate when it is cancelled (SIGINT, SIGTERM). A running rollback command gets :data:`GRACE_S`
    more seconds to finish (a half-done ``helm rollback`` is worse than a finished one), then it is stopped."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.at = 0.0

    def request(self) -> None:
        if not self._event.is_set():
            self.at = time.monotonic()
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def clear(self) -> None:
        self._event.clear()


cancellation = Cancellation()
GRACE_S = 10.0


def run_command(command: Sequence[str], *, timeout_s: float, environ: Mapping[str, str] | None = None) -> Execution:
    """Run one rollback command; a non-zero exit, a timeout or a cancellation is reported in the result, not raised."""
    started = time.monotonic()
    try:
        proc = subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace", stdin=subprocess.DEVNULL,
                                env=dict(environ) if environ is not None else None)
    except OSError as exc:
        return Execution(list(command), None, f"cannot run: {exc.strerror or exc}", time.monotonic() - started)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.append(proc.stdout.read() if proc.stdout else ""), daemon=True)
    reader.start()
    deadline = started + timeout_s
    why = ""
    while True:
        now = time.monotonic()
        left = deadline - now
        if cancellation.is_set():
            left = min(left, cancellation.at + GRACE_S - now)
        if left <= 0:
            why = (f"stopped {GRACE_S:g} s after the gate was cancelled" if cancellation.is_set()
                   else f"timed out after {timeout_s:g} s")
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            break
        try:
            proc.wait(timeout=min(left, 0.2))
            break
        except subprocess.TimeoutExpired:
            continue
    reader.join(timeout=5)
    text = "".join(output)
    if why:
        return Execution(list(command), None, text + f"\n({why})", time.monotonic() - started)
    return Execution(list(command), proc.returncode, text, time.monotonic() - started)


def make_strategy(env: Environment, *, dry_run: bool = False) -> Strategy | None:
    """The environment's strategy, or None for ``none``. Raises :class:`ToolMissing` (not in a dry run)."""
    name = env.rollback.strategy
    if name == "none":
        return None
    tool = {"helm": "helm", "kubectl": "kubectl", "argocd": "argocd"}[name]
    try:
        binary = find_binary(tool, env.rollback.binary)
    except ToolMissing:
        if not dry_run:
            raise
        binary = env.rollback.binary or tool  # a dry run prints the command all the same
    if env.kubernetes is None:
        raise RollbackRefused(f"[{env.name}] rollback.strategy {name!r} needs a 'kubernetes' section "
                              "(namespace, release, deployments)")
    if name == "helm":
        from mt_verify.rollback.helm import HelmStrategy

        return HelmStrategy(env, binary)
    if name == "kubectl":
        from mt_verify.rollback.kubectl import KubectlStrategy

        return KubectlStrategy(env, binary)
    from mt_verify.rollback.argocd import ArgoCdStrategy

    return ArgoCdStrategy(env, binary)
