"""kwok's configuration for the real-cluster sandbox: its own fast stages plus the fault stages
(``sandbox/cluster/kwok-stages.yaml``)."""

from __future__ import annotations

from pathlib import Path

STAGES = Path(__file__).with_name("kwok-stages.yaml")
#: No KwokConfiguration document: one without every option set zeroes kwok's defaults (it then refuses to start).
HEADER = ""


def write_config(path: Path) -> Path:
    path.write_text(HEADER + STAGES.read_text(encoding="utf-8"), encoding="utf-8")
    return path
