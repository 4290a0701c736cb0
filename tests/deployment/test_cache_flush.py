"""The post-deploy cache flush (contract section 3.2: Job ``missing-table-cache-flush-<sha7>``, deleted when it
succeeds): a failed one means the backend may serve stale cached data of the previous release."""

from __future__ import annotations

from typing import Any

import pytest

from mt_verify.config import Kubernetes
from mt_verify.kube.access import Target
from mt_verify.kube.checks import condition, name_of
from mt_verify.outcome import fail

pytestmark = [pytest.mark.deployment, pytest.mark.gate, pytest.mark.area("Pods")]


def test_cache_flush_job_not_failed(cache_flush_jobs: list[dict[str, Any]], kube_settings: Kubernetes,
                                    env_name: str, kube_target: Target) -> None:
    failed = [j for j in cache_flush_jobs if (c := condition(j, "Failed")) is not None and c.get("status") == "True"]
    if failed:
        job = failed[-1]
        name, cond = name_of(job), condition(job, "Failed") or {}
        pods_failed = (job.get("status") or {}).get("failed", 0)
        fail(env_name, f"{kube_target.namespace}/Job/{name}",
             f"no failed {kube_settings.release}-cache-flush-* Job (a succeeded one is deleted by its hook policy)",
             f"Job {name} failed: {cond.get('reason')}: {cond.get('message', '')} ({pods_failed} pods failed)",
             details="\n".join(name_of(j) for j in failed),
             next_step=kube_target.kubectl(f"logs job/{name}") + "; then flush the cache by hand or re-run the "
             "deploy's hook")
