"""How ``-n 2`` shares the suite between workers.

xdist's default (``--dist load``) deals tests out one by one, so both workers run a bit of every tier: both start
Chromium (the costliest thing a worker starts), both import the Kubernetes client, both prefetch the health
tier's requests and sign in through the API, and the login journey of the worker that did not make the run's UI
sign-in signs in again. Here the work units are the tiers, dealt out whole, the longest first:

1. ``smoke``: every journey, on one worker: one browser and the run's one UI sign-in;
2. ``deployment``: the Kubernetes client is imported by one worker only;
3. ``health``: one prefetch, one API sign-in at most.

So one worker drives the browser while the other runs the deployment and health tiers: the browser's waits on
the target overlap the HTTP and Kubernetes checks. Measured on 2 shared cores against the sandbox with the
contract's latencies, splitting the journeys over both workers (two browsers) cost ~1.5 s more CPU for the same
wall time. Used when ``-n`` is given without ``--dist`` (an explicit ``--dist`` is obeyed as it is).
"""

from __future__ import annotations

from typing import Any

from xdist.scheduler import LoadScopeScheduling

ORDER = ("smoke", "deployment", "health")


def unit_of(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    if path.startswith("tests/smoke/"):
        return "smoke"
    if path.startswith("tests/deployment/"):
        return "deployment"
    if path.startswith("tests/health/"):
        return "health"
    return path


class TierScheduling(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)

    def _assign_work_unit(self, node: Any) -> None:
        # Our order, not the collection's nor xdist's "most tests first". Only the queue of units is reordered:
        # the workers' collections stay as they are (xdist sends tests by their index in them).
        for name in ORDER:
            if name in self.workqueue:
                self.workqueue.move_to_end(name, last=False)
                break
        super()._assign_work_unit(node)


def make(config: Any, log: Any) -> TierScheduling:
    return TierScheduling(config, log)
