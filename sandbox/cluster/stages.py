"""kwok's configuration for the real-cluster sandbox: its own fast stages plus the fault stages
(``sandbox/cluster/kwok-stages.yaml``)."""

from __future__ import annotations

from pathlib import Path

STAGES = Path(__file__).with_name("kwok-stages.yaml")
HEADER = """apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  enableCRDs: []
---
"""


def write_config(path: Path) -> Path:
    path.write_text(HEADER + STAGES.read_text(encoding="utf-8"), encoding="utf-8")
    return path
