"""README's gate demo, run as a reader would: ``bash scripts/demo-gate.sh`` ends in exit 1, with no PATH edits.

The oracle is the sandbox itself (what it serves after the demo, which helm it recorded) and gate.json, not the
gate's own words."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "sandbox" / "bin"


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MT_", "PYTEST_")) and k not in ("KUBECONFIG",)}
    # The stand-in helm must be found without sandbox/bin on PATH.
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != str(BIN))
    env["MT_REPORTS_DIR"] = str(tmp_path / "run")
    return env


def test_readme_gate_demo_rolls_back_and_exits_1(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    assert "bash scripts/demo-gate.sh" in readme and "python -m sandbox deploy --version 1.29.3.1361" in readme
    proc = subprocess.run(["bash", "scripts/demo-gate.sh"], cwd=ROOT, env=_clean_env(tmp_path), capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    gate = json.loads((tmp_path / "run" / "gate.json").read_text())
    assert gate["exit_code"] == 1 and gate["after_rollback"]["passed"] is True
    assert gate["after_rollback"]["expected_version"] == "1.29.2.1360"
    (execution,) = gate["rollback"]["executions"]
    assert execution["command"][0] == str(BIN / "helm") and execution["returncode"] == 0
    assert [a["name"] for a in gate["attempts"]] == ["attempt 1", "confirm", "after rollback"]


def test_sandbox_by_hand_prints_lines_a_shell_can_paste(tmp_path: Path) -> None:
    """``python -m sandbox`` (the README's terminal 1) prints ``export`` lines that name the stand-in helm."""
    proc = subprocess.Popen([sys.executable, "-m", "sandbox"], cwd=ROOT, env=_clean_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # ends at the closing comment line, flushed once the sandbox is ready
            lines.append(line.rstrip("\n"))
            if line.startswith("# Then"):
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
    exports = [ln for ln in lines if ln.startswith("export ")]
    script = "\n".join(exports) + '\nprintf "%s\\n" "$MT_SANDBOX_CONTROL" "$MT_SANDBOX_HELM"'
    shown = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=10).stdout.split()
    assert shown[0].startswith("http://127.0.0.1:"), lines
    assert shown[1] == str(BIN / "helm")
    assert all(ln.startswith(("export ", "#")) for ln in lines), lines
