"""The front end: every site host serves the app shell, its scripts load, http goes to https."""

from __future__ import annotations

import pytest

from mt_verify import nextsteps
from mt_verify.checks import site
from mt_verify.config import Environment
from mt_verify.outcome import check, fail
from mt_verify.probe import Probe, expect_status
from mt_verify.session import environment_of, host_ids

pytestmark = [pytest.mark.health, pytest.mark.gate, pytest.mark.area("Health")]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    env: Environment | None = environment_of(metafunc.config)
    if env is None:
        return
    if "site_url" in metafunc.fixturenames:
        urls = [env.site.url, *env.site.extra_urls]
        metafunc.parametrize("site_url", urls, ids=host_ids(urls))
    if "redirect_url" in metafunc.fixturenames:
        urls = env.site.redirects
        metafunc.parametrize("redirect_url", urls or [None], ids=host_ids(urls) or ["none"])


def test_front_page_serves_app_shell(probe: Probe, env_name: str, site_url: str, environment: Environment) -> None:
    page = probe.get(site_url + "/")
    expect_status(page, 200, next_step=f"{nextsteps.frontend_down(environment)}; curl -sS {site_url}/")
    problems = site.shell_problems(page.content_type, page.text)
    check(not problems, env_name, page.url, "the Missing Table app shell", "; ".join(problems),
          details=f"first bytes: {page.text[:160]!r}",
          next_step="the frontend or ingress serves something else: check the frontend image and ingress rules")


def test_front_page_scripts_load(probe: Probe, env_name: str, site_url: str) -> None:
    page = probe.get(site_url + "/")
    expect_status(page, 200)
    scripts = site.script_urls(page.url, page.text)
    check(bool(scripts), env_name, page.url, "the page to reference its script bundles", "no <script src> found")
    for url in scripts:
        asset = probe.get(url)
        check(asset.status == 200 and asset.content_type in site.JS_TYPES, env_name, url,
              "HTTP 200 with a JavaScript content type", f"HTTP {asset.status} {asset.content_type or 'no type'}",
              next_step="the frontend image lacks its built assets (nginx answers index.html instead): rebuild it")


def test_http_redirects_to_https(probe: Probe, env_name: str, redirect_url: str | None) -> None:
    if redirect_url is None:
        pytest.skip("no http:// URLs declared under site.redirects")
    ex = probe.get(redirect_url)
    location = ex.headers.get("location", "")
    check(ex.status in (301, 308) and location.startswith("https://"), env_name, redirect_url,
          "301/308 to https://", f"HTTP {ex.status} location={location or 'none'}",
          next_step="check the ingress's force-ssl-redirect annotation")
    if not location:
        fail(env_name, redirect_url, "a Location header", "none")
