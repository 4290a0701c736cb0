"""Fixtures of the health tier."""

from __future__ import annotations

import pytest

from mt_verify.config import Environment
from mt_verify.lookup import StandingsIds, standings_ids
from mt_verify.probe import ApiClient, Probe


@pytest.fixture(scope="session", autouse=True)
def target_reachable(probe: Probe) -> None:
    """A suite error when no configured host answers at all (the runner cannot look); a host that is down while
    another answers fails its own checks instead."""
    probe.reachability.require_any()


@pytest.fixture(scope="session")
def standings_filter(api: ApiClient, api_token: str, environment: Environment) -> StandingsIds:
    return standings_ids(api, api_token, environment.standings, environment.name)
