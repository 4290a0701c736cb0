"""Fixtures of the health tier."""

from __future__ import annotations

import pytest

from mt_verify.config import Environment
from mt_verify.lookup import StandingsIds, standings_ids
from mt_verify.probe import ApiClient, require_reachable


@pytest.fixture(scope="session", autouse=True)
def target_reachable(environment: Environment) -> None:
    require_reachable(environment, [environment.site.url, *environment.site.extra_urls, environment.api.url])


@pytest.fixture(scope="session")
def standings_filter(api: ApiClient, api_token: str, environment: Environment) -> StandingsIds:
    return standings_ids(api, api_token, environment.standings, environment.name)
