"""The sandbox's fault table (sandbox/faults.py) and the outages it implements, judged from outside: connections to
a closed listener are refused, the site's ``/api`` proxy answers 502 as an ingress would, and a rollback (faults off)
reopens the same ports."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from sandbox import faults
from sandbox.server import Sandbox, all_faults, start
from selftests.suite import ROOT


def refuses(url: str) -> bool:
    """True when nothing listens on the URL's port (the connection is refused)."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_every_fault_of_the_table_is_known_to_the_sandbox() -> None:
    assert set(faults.DESCRIPTIONS) <= set(all_faults())
    out = subprocess.run([sys.executable, "-m", "sandbox", "faults"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60).stdout
    for name in ("api-down", "site-down", "console-error-unlisted", "asset-404", "api-5xx-on-load"):
        assert name in out


def test_every_matrix_fault_names_checks_and_a_one_line_description() -> None:
    for f in faults.FAULTS:
        assert f.description and "\n" not in f.description, f.name
        if f.layer != "hostile":
            assert f.fails or f.warns or f.errors, f"{f.name} breaks nothing"
    assert {f.name for f in faults.in_matrix("smoke")} >= {"api-down", "site-down", "asset-404"}


def test_api_down_refuses_the_api_while_the_site_answers_502_for_api(sandbox: Sandbox) -> None:
    site, api = sandbox.urls["MT_SANDBOX_SITE_URL"], sandbox.urls["MT_SANDBOX_API_URL"]
    sandbox.set_faults({"api-down"})
    assert refuses(api)
    assert status(f"{site}/") == 200
    assert status(f"{site}/api/version") == 502
    assert status(f"{site}/health") == 502
    sandbox.set_faults(set())  # what a rollback does to a release's faults
    assert status(f"{api}/api/version") == 200 and status(f"{site}/api/version") == 200


def test_site_down_refuses_every_site_listener_while_the_api_answers(sandbox: Sandbox) -> None:
    urls = sandbox.urls
    sandbox.set_faults({"site-down"})
    assert refuses(urls["MT_SANDBOX_SITE_URL"])
    assert refuses(urls["MT_SANDBOX_HTTPS_URL"])
    assert refuses(urls["MT_SANDBOX_REDIRECT_URL"])
    assert status(f"{urls['MT_SANDBOX_API_URL']}/api/version") == 200
    sandbox.set_faults(set())
    assert status(f"{urls['MT_SANDBOX_SITE_URL']}/") == 200


def test_outage_shipped_with_a_release_goes_with_its_rollback(tmp_path: Path) -> None:
    sb = start(tmp_path / "state", layout="helm")
    try:
        from sandbox.release import Release

        sb.deploy(Release.make("1.29.3", 1361), {"api-down"})
        assert refuses(sb.urls["MT_SANDBOX_API_URL"])
        sb.rollback(None)
        assert status(f"{sb.urls['MT_SANDBOX_API_URL']}/health") == 200
    finally:
        sb.stop()


def test_unknown_api_path_is_404_for_any_method_as_fastapi(sandbox: Sandbox) -> None:
    api = sandbox.urls["MT_SANDBOX_API_URL"]
    req = urllib.request.Request(f"{api}/api/security/client-events", data=b"{}", method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=5)
        code = 200
    except urllib.error.HTTPError as err:
        code = err.code
    assert code == 404


def test_first_party_asset_and_load_faults_answer_as_described(sandbox: Sandbox) -> None:
    site = sandbox.urls["MT_SANDBOX_SITE_URL"]
    sandbox.set_faults({"asset-404", "api-5xx-on-load"})
    assert status(f"{site}/assets/app.css") == 404
    assert status(f"{site}/assets/app.js") == 200
    assert status(f"{site}/api/matches/live") == 500
