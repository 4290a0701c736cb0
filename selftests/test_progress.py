"""Long waits are never silent: the one bounded wait says where it stands, and the rollout wait says so on the
terminal of a real run (xdist workers included)."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import yaml

from mt_verify import config as cfg
from mt_verify.wait import PROGRESS_EVERY_S, wait_until
from selftests.suite import run_suite


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self.now += seconds


def test_long_wait_reports_at_least_every_ten_seconds_with_the_last_state() -> None:
    clock = FakeClock()
    heard: list[tuple[float, float, int]] = []
    reads = iter(range(10_000))
    got = wait_until(lambda: next(reads), lambda v: False, 95.0, max_pause=7.0, clock=clock, pause=clock.pause,
                     progress=lambda waited, deadline, value: heard.append((waited, deadline, value)))
    assert not got.met
    times = [0.0] + [w for w, _, _ in heard]
    assert len(heard) >= 9 and max(b - a for a, b in pairwise(times)) <= PROGRESS_EVERY_S
    assert all(d == 95.0 for _, d, _ in heard) and heard[-1][2] < got.value  # the value read at that moment


def test_short_wait_still_reports_and_a_met_wait_says_nothing_after() -> None:
    clock = FakeClock()
    heard: list[float] = []
    got = wait_until(lambda: clock.now, lambda v: v >= 2.5, 3.0, clock=clock, pause=clock.pause,
                     progress=lambda waited, deadline, value: heard.append(waited))
    assert got.met and heard and all(w < 2.5 for w in heard)


def test_rollout_that_never_completes_in_time_prints_progress_lines(tmp_path: Path) -> None:
    raw = yaml.safe_load((cfg.ENVIRONMENTS_DIR / "sandbox.yaml").read_text(encoding="utf-8"))
    raw["kubernetes"]["rollout_timeout"] = 1.5  # the fault's rollout takes 2 s
    env_file = tmp_path / "sandbox.yaml"
    env_file.write_text(yaml.safe_dump(raw), encoding="utf-8")
    run = run_suite(tmp_path, f"--env={env_file}", "tests/deployment/test_rollout.py", "-n", "2",
                    "--sandbox-fault", "rollout-progressing")
    assert run.failed == {"test_deployment_rollout_complete[missing-table-backend]"}, run.output
    lines = [ln for ln in run.output.splitlines() if "still waiting for the rollouts" in ln]
    assert lines, run.output
    assert all("so far, deadline 1.5 s (kubernetes.rollout_timeout); last seen: missing-table-backend: " in ln
               for ln in lines), lines
