"""How ``-n 2`` shares the suite between workers so that parallel pays on a small runner.

xdist's default (``--dist load``) deals tests out one by one, so both workers run a bit of every tier: both start
Chromium, both import the Kubernetes client, and a worker's journeys wait on a sign-in the other made. Here the
work units are the tiers (the smoke tier split in two), dealt out whole, longest first:

1. ``smoke-signed-in``: the journeys that share the run's one UI sign-in (add match, standings, footer);
2. ``deployment``: the Kubernetes client is imported by one worker only;
3. ``health``;
4. ``smoke-own``: the journeys that sign in on their own or not at all (anonymous, login, wrong password,
   logout).

So one worker drives the signed-in journeys while the other runs the deployment and health tiers, then the
remaining journeys: the browser's waits on the target overlap the HTTP and Kubernetes checks. Used when ``-n`` is
given without ``--dist`` (an explicit ``--dist`` is obeyed as it is).
"""

from __future__ import annotations

from typing import Any

from xdist.scheduler import LoadScopeScheduling

ORDER = ("smoke-signed-in", "deployment", "health", "smoke-own")
_SMOKE_OWN = ("tests/smoke/test_smoke_login.py", "tests/smoke/test_smoke_anonymous.py")


def unit_of(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    if path.startswith("tests/smoke/"):
        return "smoke-own" if path in _SMOKE_OWN else "smoke-signed-in"
    if path.startswith("tests/deployment/"):
        return "deployment"
    if path.startswith("tests/health/"):
        return "health"
    return path


class TierScheduling(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)

    def schedule(self) -> None:
        if self.collection is None and self.collection_is_completed:
            rank = {name: n for n, name in enumerate(ORDER)}
            for node, collection in list(self.registered_collections.items()):  # the same order on every node
                self.registered_collections[node] = sorted(collection, key=lambda i: rank.get(unit_of(i), len(ORDER)))
            self.config.option.loadscopereorder = False  # our order, not xdist's "most tests first"
        super().schedule()


def make(config: Any, log: Any) -> TierScheduling:
    return TierScheduling(config, log)
