"""Events: no Warning event in the namespace since this release's rollout began (``events_allow`` silences
known noise). Older warnings belong to earlier releases and are ignored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from mt_verify.config import Kubernetes
from mt_verify.kube.access import Target
from mt_verify.kube.checks import describe_event, warnings_since
from mt_verify.outcome import fail

pytestmark = [pytest.mark.deployment, pytest.mark.gate, pytest.mark.area("Events")]

SHOWN = 8


def test_no_warning_events_since_rollout(warning_events: list[dict[str, Any]], rollout_began: datetime,
                                         kube_settings: Kubernetes, env_name: str, kube_target: Target) -> None:
    found = warnings_since(warning_events, rollout_began, kube_settings.events_allow)
    if found:
        shown = [describe_event(ev) for ev in found[-SHOWN:]]
        more = f" (+{len(found) - SHOWN} earlier)" if len(found) > SHOWN else ""
        fail(env_name, f"{kube_target.namespace}/Events",
             f"no Warning events since the rollout began at {rollout_began.isoformat(timespec='seconds')}",
             f"{len(found)} Warning events: {shown[-1]}",
             details="\n".join(shown) + more,
             next_step=kube_target.kubectl("get events --field-selector type=Warning --sort-by=.lastTimestamp")
             + "; known noise can be silenced with kubernetes.events_allow")
