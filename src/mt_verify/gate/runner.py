"""Run pytest as a subprocess, as an operator would, with a deadline; echo and keep its output; read back the
``summary.json`` the run wrote."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from mt_verify.config import ROOT
from mt_verify.gate.results import Attempt, read_summary


def pytest_command(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "pytest", *args]


def run_pytest(
    name: str,
    args: Sequence[str],
    *,
    out_dir: Path,
    environ: Mapping[str, str],
    timeout_s: float,
    echo: TextIO | None = sys.stdout,
) -> Attempt:
    """Run ``pytest args`` in the repository with its reports in ``out_dir``; never raises for pytest's failures."""
    out_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir / "pytest.log"
    env = dict(environ)
    env["MT_REPORTS_DIR"] = str(out_dir)
    command = pytest_command(args)
    started = time.monotonic()
    problem: str | None = None
    try:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True)
    except OSError as exc:
        return Attempt(name, -1, out_dir, problem=f"cannot start pytest: {exc.strerror or exc}")
    expired = threading.Event()

    def kill() -> None:
        expired.set()
        _kill_group(proc)

    timer = threading.Timer(timeout_s, kill)
    timer.daemon = True
    timer.start()
    try:
        assert proc.stdout is not None
        with log.open("w", encoding="utf-8") as fh:
            fh.write("$ " + " ".join(command) + "\n")
            for line in proc.stdout:
                fh.write(line)
                if echo is not None:
                    echo.write(line)
                    echo.flush()
        returncode = proc.wait(timeout=10)
    except BaseException:  # interrupted (SIGINT, SIGTERM): pytest and its workers stop with the gate
        _kill_group(proc)
        proc.wait(timeout=10)
        raise
    finally:
        timer.cancel()
    if expired.is_set():
        problem = f"pytest did not finish within {timeout_s:g} s (gate.timeout) and was stopped"
    results = read_summary(out_dir)
    if results is None and problem is None and returncode in (0, 1):
        problem = f"pytest exited {returncode} but wrote no {out_dir / 'summary.json'}"
    return Attempt(name, returncode, out_dir, results or [], time.monotonic() - started, problem)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Stop pytest and whatever it started (xdist workers) -- it runs in its own session."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
