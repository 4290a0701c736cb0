"""Fixtures of the health tier."""

from __future__ import annotations

import pytest

from mt_verify.config import Environment
from mt_verify.lookup import StandingsIds, standings_ids
from mt_verify.probe import ApiClient


def site_urls(env: Environment) -> list[str]:
    return [env.site.url, *env.site.extra_urls]


@pytest.fixture(scope="session")
def standings_filter(api: ApiClient, api_token: str, environment: Environment) -> StandingsIds:
    return standings_ids(api, api_token, environment.standings, environment.name)
