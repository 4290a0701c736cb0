"""Version drift: the backend serves the release that was just shipped."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from mt_verify import nextsteps
from mt_verify.config import Environment
from mt_verify.outcome import check, fail, not_verified
from mt_verify.probe import ApiClient, Exchange, Probe
from mt_verify.release import ExpectedRelease
from mt_verify.wait import progress_line, wait_until

pytestmark = [pytest.mark.health, pytest.mark.gate, pytest.mark.area("Version")]

_VERSION = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_SHA = re.compile(r"^[0-9a-f]{40}$")


def test_version_fields_well_formed(api: ApiClient, environment: Environment, env_name: str) -> None:
    ex = api.get("/api/version")
    check(ex.status == 200, env_name, ex.url, "HTTP 200", f"HTTP {ex.status}")
    body = ex.json_object()
    problems = []
    version, build_id = body.get("version"), body.get("build_id")
    if not isinstance(version, str) or not _VERSION.match(version):
        problems.append(f"version {version!r} is not <semver>.<build_id>")
    elif not isinstance(build_id, str) or not version.endswith("." + build_id):
        problems.append(f"version {version!r} does not end in build_id {build_id!r}")
    if not isinstance(body.get("commit_sha"), str) or not _SHA.match(body["commit_sha"]):
        problems.append(f"commit_sha {body.get('commit_sha')!r} is not a full SHA")
    if body.get("status") != "healthy":
        problems.append(f"status {body.get('status')!r}")
    want_env = environment.release.environment
    if want_env and body.get("environment") != want_env:
        problems.append(f"environment {body.get('environment')!r}, expected {want_env!r}")
    check(not problems, env_name, ex.url, "well-formed version fields", "; ".join(problems),
          next_step="the backend's APP_VERSION/BUILD_ID/COMMIT_SHA env vars come from the chart values: "
                    "check the deployed values")


def test_served_version_is_expected_release(
    api: ApiClient, environment: Environment, env_name: str, expected_release: ExpectedRelease | None,
    announce: Callable[[str], None],
) -> None:
    if expected_release is None:
        not_verified(env_name, "the served release", "no expected release given (--expected-version, "
                     "MT_EXPECTED_VERSION or release.expected)")

    def served() -> tuple[Exchange, tuple[str | None, str | None]]:
        ex = api.get("/api/version")
        body = ex.json_object() if ex.status == 200 else {}
        return ex, (body.get("version"), body.get("commit_sha"))

    def progress(waited: float, deadline: float, s: tuple[Exchange, tuple[str | None, str | None]]) -> None:
        ex, (version, sha) = s
        seen = f"{version} ({(sha or 'no sha')[:7]})" if ex.status == 200 else f"HTTP {ex.status}"
        announce(progress_line(env_name, f"{ex.url} to serve release {expected_release}", waited, deadline,
                               "release.wait", seen))

    # A rollout may still be landing: poll until the deadline.
    got = wait_until(served, lambda s: expected_release.matches(*s[1]), environment.release.wait,
                     first_pause=0.25, max_pause=5.0, factor=2.0, progress=progress)
    ex, (version, sha) = got.value
    if got.met:
        if got.waited_s > 0.5:
            print(f"[{env_name}] served release matched after waiting {got.waited_s:.1f} s")
        return
    backend = nextsteps.deployment(environment, "backend")
    fail(env_name, ex.url, f"release {expected_release}", f"{version} ({(sha or 'no sha')[:7]})",
         details=f"polled for {got.waited_s:.1f} s (release.wait {environment.release.wait:g} s)",
         next_step="the deploy did not land or an older build is serving: "
                   f"{nextsteps.kubectl(environment, f'rollout status deploy/{backend}')}; "
                   "compare image tags with the release")


def test_version_same_through_site(probe: Probe, environment: Environment, env_name: str) -> None:
    if not environment.api.via_site:
        pytest.skip("api.via_site is false: the site does not route /api")
    direct = probe.get(environment.api.url + "/api/version")
    via = probe.get(environment.site.url + "/api/version")
    check(via.status == 200 and via.content_type == "application/json", env_name, via.url,
          "the backend's JSON (ingress routes /api to the backend)", f"HTTP {via.status} {via.content_type}",
          next_step="check the ingress paths: /api must go to the backend service, not the SPA")
    a, b = direct.json_object(), via.json_object()
    keys = ("version", "build_id", "commit_sha")
    check(all(a.get(k) == b.get(k) for k in keys), env_name, via.url, f"the same release as {direct.url}",
          {k: b.get(k) for k in keys}, next_step="two backends with different releases are serving")
