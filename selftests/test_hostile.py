"""A target that answers garbage fails its checks clearly: one line each, no traceback, within the timeouts,
and as application failures (a gate may act on them), never as the suite breaking."""

from __future__ import annotations

from pathlib import Path

import pytest

from selftests.suite import run_suite

#: The quick ones; the others (truncated JSON, empty 200, huge bodies, a server that never answers) run in
#: bench/soak.py.
QUICK = ["hostile-reset", "hostile-redirect-loop", "hostile-html"]


@pytest.mark.parametrize("fault", QUICK)
def test_hostile_target_fails_every_check_clearly(tmp_path: Path, fault: str) -> None:
    run = run_suite(tmp_path, "--env", "sandbox", "-m", "health or smoke", "--sandbox-fault", fault, timeout=240)
    assert run.returncode == 1, run.output
    assert "Traceback (most recent call last)" not in run.output
    results = list(run.cases.values())
    bad = [r for r in results if r.outcome in ("failed", "error")]
    assert len(bad) >= 10
    assert [r.nodeid for r in bad if r.verdict != "failed"] == []
    assert [r.message for r in bad if not r.message.startswith("[sandbox]")] == []
