"""Start the stand-in world an environment asks for (``sandbox.command``), once per run.

The command must print one JSON line ``{"env": {...}}`` when it is ready; those variables
are exported so that the environment file's ``${MT_SANDBOX_...}`` references resolve, and
so that xdist workers and the gate's pytest runs find the same sandbox. The launched
process holds our end of a pipe on its stdin and stops when it closes, so it goes away
with the run however the run ends (interrupt, crash, SIGKILL).
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from mt_verify.config import ROOT, ConfigError, Sandbox
from mt_verify.errors import SandboxError

REUSE_VAR = "MT_SANDBOX_CONTROL"


class Launched:
    def __init__(self, proc: subprocess.Popen[bytes] | None, env: dict[str, str]) -> None:
        self.proc = proc
        self.env = env
        self.exported = False

    def export(self) -> None:
        """Put the sandbox's variables into this process's environment (and so into every child's)."""
        os.environ.update(self.env)
        self.exported = True

    def stop(self, timeout: float = 5.0) -> None:
        if self.exported:
            for key in self.env:
                os.environ.pop(key, None)
            self.exported = False
        if self.proc is None or self.proc.poll() is not None:
            return
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout)


def running(environ: Mapping[str, str] = os.environ) -> bool:
    return bool(environ.get(REUSE_VAR))


def set_faults(faults: list[str], environ: Mapping[str, str] = os.environ) -> None:
    """Switch faults on in an already running sandbox (``--sandbox-fault`` with a reused sandbox)."""
    import urllib.error
    import urllib.request  # here: a run that sets no fault does not import it (~10 ms)

    req = urllib.request.Request(environ[REUSE_VAR] + "/faults", data=json.dumps({"faults": faults}).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10):
            pass
    except urllib.error.HTTPError as err:
        raise ConfigError(f"sandbox refused the faults: {err.read().decode(errors='replace')}") from None
    except OSError as err:
        raise ConfigError(f"cannot reach the running sandbox at {environ[REUSE_VAR]}: {err}") from None


#: What the sandbox exports (``sandbox/server.py``), with its hosts and placeholder ports and release: enough for
#: ``--collect-only`` to list the test ids a real run has, without starting anything.
COLLECT_ONLY_PLACEHOLDERS = {
    "MT_SANDBOX_SITE_URL": "http://127.0.0.1:9",
    "MT_SANDBOX_API_URL": "http://127.0.0.1:9",
    "MT_SANDBOX_HTTPS_URL": "https://localhost:9",
    "MT_SANDBOX_TLS_HOST": "localhost:9",
    "MT_SANDBOX_REDIRECT_URL": "http://127.0.0.1:9/",
    "MT_SANDBOX_CA": "/nonexistent/sandbox-ca.pem",
    "MT_SANDBOX_RELEASE": "0.0.0.0",
    "MT_SANDBOX_KUBECONFIG": "/nonexistent/sandbox-kubeconfig",
    "MT_SANDBOX_KUBE_CONTEXT": "sandbox",
    "MT_SANDBOX_KUBE_ADMIN_CONTEXT": "sandbox-admin",
    "MT_SANDBOX_HELM": "helm",
}


def collect_only_environ(raw: Mapping[str, object], environ: Mapping[str, str]) -> Mapping[str, str]:
    """The variables to expand a file with when tests are only listed: a sandbox environment whose sandbox is not
    running gets :data:`COLLECT_ONLY_PLACEHOLDERS` for what it would export; any other file, ``environ`` as is."""
    if raw.get("sandbox") is None or running(environ):
        return environ
    return {**COLLECT_ONLY_PLACEHOLDERS, **environ}


def ensure(path: Path, raw: Mapping[str, object], faults: list[str]) -> Launched | None:
    """The one way to get an environment's sandbox: start it (exported, to be stopped by the caller), or, when
    one is already running for this process tree, switch ``faults`` on in it; ``None`` when nothing was started.

    An environment without a ``sandbox`` section takes no faults.
    """
    if raw.get("sandbox") is None:
        if faults:
            raise ConfigError(f"--sandbox-fault: {path} is not a sandbox environment")
        return None
    if running():
        if faults:
            set_faults(faults)
        return None
    try:
        spec = Sandbox.model_validate(raw["sandbox"])
    except ValueError as exc:
        raise ConfigError(f"{path}: sandbox: {str(exc).splitlines()[-1].strip()}") from None
    launched = launch(spec, faults, file=path)
    launched.export()
    return launched


def launch(spec: Sandbox, faults: list[str], *, file: Path) -> Launched:
    command = list(spec.command)
    if command and command[0] in ("python", "python3"):
        command[0] = sys.executable
    for fault in [*spec.faults, *faults]:
        command += ["--fault", fault]
    # stderr goes to a file, not a pipe: nobody drains a pipe once the sandbox runs.
    errors = tempfile.TemporaryFile()
    try:
        proc = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=errors, start_new_session=True)
    except OSError as exc:
        raise ConfigError(f"{file}: sandbox.command: cannot start {command[0]!r}: {exc.strerror}") from None
    line = _first_line(proc, spec.start_timeout)
    if line is None:
        proc.kill()
        proc.wait(5)
        errors.seek(0)
        err = errors.read().decode(errors="replace").strip().splitlines()
        last = err[-1] if err else f"no output within {spec.start_timeout:g} s"
        raise SandboxError(f"{file}: sandbox did not start: {last}")
    try:
        message = json.loads(line)
    except ValueError:
        proc.kill()
        raise SandboxError(f"{file}: sandbox did not start: unexpected output {line[:120]!r}") from None
    if "error" in message:
        proc.wait(5)
        raise SandboxError(f"sandbox did not start: {message['error']}")
    return Launched(proc, {k: str(v) for k, v in message["env"].items()})


def _first_line(proc: subprocess.Popen[bytes], timeout: float) -> str | None:
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or not sel.select(left):
            return None
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            return None
        buf += chunk
    sel.close()
    return buf.split(b"\n", 1)[0].decode()
