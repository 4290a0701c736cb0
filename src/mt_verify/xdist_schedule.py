"""How ``-n 2`` shares the suite between workers.

xdist's default (``--dist load``) deals tests out one by one, so both workers run a bit of every tier: both start
Chromium, both import the Kubernetes client, both prefetch the health tier's requests and sign in through the
API, and the login journey of the worker that did not make the run's UI sign-in signs in again. Here the work
units are dealt out whole, in this order (a worker takes the next unit when it has two tests or fewer left):

1. ``smoke``: the journeys around the run's one UI sign-in (add match, anonymous, footer, login) on one
   worker, which starts the browser first;
2. ``deployment``: the Kubernetes client is imported by one worker only;
3. ``health``: one prefetch, one API sign-in at most;
4. ``smoke-2``: the standings, wrong-password and logout journeys (~40 % of the tier), taken by whichever worker is
   free first: with the whole suite, the one that ran the deployment and health tiers (it starts its own
   browser and takes its contexts from the run's saved sign-in); with ``-m smoke``, the second worker at once.

So one worker drives the browser while the other runs the HTTP and Kubernetes checks, and then both drive a
browser for the rest. Measured on 2 cores against the sandbox with the contract's latencies (headless shell,
whole suite, 3 runs each): all journeys on one worker 12.7-13.0 s (the other worker idle for 6-7 s of it);
standings and logout on the second 10.2-11.5 s; standings, wrong password and logout 8.6-10.4 s; adding the
anonymous journey 9.0-9.9 s. Used when ``-n`` is given without ``--dist`` (an explicit ``--dist`` is obeyed as
it is).
"""

from __future__ import annotations

from typing import Any

from xdist.scheduler import LoadScopeScheduling

ORDER = ("smoke", "deployment", "health", "smoke-2")

#: Journeys of the second smoke unit (a test file, or one test of it).
SECOND_SMOKE = ("tests/smoke/test_smoke_standings.py",
                "tests/smoke/test_smoke_login.py::test_login_wrong_password_is_refused",
                "tests/smoke/test_smoke_login.py::test_logout_returns_to_anonymous")


def unit_of(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    if path.startswith("tests/smoke/"):
        second = any(nodeid == s or nodeid.startswith(f"{s}::") or nodeid.startswith(f"{s}[") for s in SECOND_SMOKE)
        return "smoke-2" if second else "smoke"
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
