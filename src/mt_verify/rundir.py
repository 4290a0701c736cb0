"""Where a run writes: ``reports/<env>-<UTC time>/``, shared by the controller and xdist workers,
plus a ``reports/latest`` pointer."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from mt_verify.config import ROOT

RUN_DIR_VAR = "MT_REPORTS_DIR"
REPORTS = ROOT / "reports"


def create(env_name: str, base: Path = REPORTS) -> Path:
    """Make this run's folder (the controller calls this once) and point ``latest`` at it."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    path = base / f"{env_name}-{stamp}"
    path.mkdir(parents=True, exist_ok=True)
    latest = base / "latest"
    tmp = base / f".latest-{os.getpid()}"
    try:
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(path.name)
        tmp.replace(latest)
    except OSError:
        pass
    return path


def current() -> Path | None:
    value = os.environ.get(RUN_DIR_VAR)
    return Path(value) if value else None
