"""Environment files: every shipped one loads, and every kind of bad input gets one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from mt_verify import config as cfg
from mt_verify.release import ExpectedRelease, ReleaseError
from selftests.suite import ROOT, run_suite

SANDBOX_VARS = {
    "MT_SANDBOX_SITE_URL": "http://127.0.0.1:1", "MT_SANDBOX_API_URL": "http://127.0.0.1:2",
    "MT_SANDBOX_HTTPS_URL": "https://localhost:3", "MT_SANDBOX_TLS_HOST": "localhost:3",
    "MT_SANDBOX_REDIRECT_URL": "http://127.0.0.1:4/", "MT_SANDBOX_CA": "/tmp/ca.pem",
    "MT_SANDBOX_KUBECONFIG": "/tmp/kubeconfig", "MT_SANDBOX_KUBE_CONTEXT": "sandbox",
    "MT_SANDBOX_RELEASE": "1.29.2.1360+abcdef0", "MT_SANDBOX_HELM": "/tmp/helm",
}


@pytest.mark.parametrize("name", cfg.available_environments())
def test_shipped_environment_loads(name: str) -> None:
    env = cfg.load(name, SANDBOX_VARS)
    assert env.name == name
    assert env.site.url.startswith("http")


def test_shipped_environments_cover_the_layouts() -> None:
    assert {"sandbox", "local", "dev", "prod", "prod-argocd"} <= set(cfg.available_environments())
    prod = cfg.load("prod", {})
    assert prod.kubernetes is not None and prod.kubernetes.namespace == "missing-table-prod"
    assert [d.name for d in prod.kubernetes.deployments] == [
        "missing-table-backend", "missing-table-frontend", "missing-table-celery-worker"]
    assert all(d.replicas == 2 for d in prod.kubernetes.deployments)
    argo = cfg.load("prod-argocd", {})
    assert argo.kubernetes is not None and argo.kubernetes.manager == "argocd"
    assert argo.api.url == "https://api.missingtable.com"
    assert argo.kubernetes.certificate is not None and argo.kubernetes.certificate.kind == "cert-manager"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "env.yaml"
    path.write_text(text)
    return path


MINIMAL = "name: t\nsite: {url: 'http://localhost:8080'}\napi: {url: 'http://localhost:8000'}\n"


def test_variables_expand_with_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "name: t\nsite: {url: '${SITE:-http://localhost:8080}'}\napi: {url: '${API}'}\n")
    env = cfg.load(str(path), {"API": "http://127.0.0.1:9"})
    assert env.site.url == "http://localhost:8080" and env.api.url == "http://127.0.0.1:9"


def test_unset_variable_names_itself_and_the_setting(tmp_path: Path) -> None:
    path = write(tmp_path, "name: t\nsite: {url: '${NOPE_SITE_URL}'}\napi: {url: 'http://x'}\n")
    with pytest.raises(cfg.ConfigError, match=r"site\.url: environment variable NOPE_SITE_URL is not set"):
        cfg.load(str(path), {})


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "http: {timeout: [1,\n")
    with pytest.raises(cfg.ConfigError, match=rf"{path}:\d+: invalid YAML"):
        cfg.load(str(path), {})


def test_unknown_field_names_its_dotted_path(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "http: {timeout: 5, latency_budgett: 1}\n")
    with pytest.raises(cfg.ConfigError, match=r"http\.latency_budgett: unknown field"):
        cfg.load(str(path), {})


def test_missing_field_names_its_dotted_path(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "kubernetes: {namespace: x, deployments: []}\n")
    with pytest.raises(cfg.ConfigError, match=r"kubernetes\.release: missing field"):
        cfg.load(str(path), {})


def test_invalid_value_names_its_dotted_path(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "kubernetes: {namespace: x, release: r, deployments: [{name: a, replicas: -1}]}\n")
    with pytest.raises(cfg.ConfigError, match=r"kubernetes\.deployments\[0\]\.replicas:"):
        cfg.load(str(path), {})


def test_unknown_environment_lists_the_known_ones() -> None:
    with pytest.raises(cfg.ConfigError, match=r"unknown environment 'staging'; known environments: .*prod"):
        cfg.load("staging", {})


@pytest.mark.parametrize(("text", "version", "sha"), [
    ("1.29.2.1360", "1.29.2.1360", None),
    ("bfcfcb0", None, "bfcfcb0"),
    ("bfcfcb0199715ed65afe18d1a98397a4284750d1", None, "bfcfcb0199715ed65afe18d1a98397a4284750d1"),
    ("1.29.2.1360+bfcfcb0", "1.29.2.1360", "bfcfcb0"),
    ("v1.29.2@BFCFCB0", "1.29.2", "bfcfcb0"),
])
def test_expected_version_forms(text: str, version: str | None, sha: str | None) -> None:
    parsed = ExpectedRelease.parse(text)
    assert parsed is not None and (parsed.version, parsed.sha) == (version, sha)


def test_expected_version_matching() -> None:
    rel = ExpectedRelease.parse("1.29.2+bfcfcb0")
    assert rel is not None
    assert rel.matches("1.29.2.1360", "bfcfcb0199715ed65afe18d1a98397a4284750d1")
    assert not rel.matches("1.29.20.1", "bfcfcb0199715ed65afe18d1a98397a4284750d1")
    assert not rel.matches("1.29.2.1360", "aaaaaaa199715ed65afe18d1a98397a4284750d1")


def test_bad_expected_version_is_rejected() -> None:
    with pytest.raises(ReleaseError, match="neither a version"):
        ExpectedRelease.parse("latest")


# -- the same, as an operator meets them on the command line ---------------------------------------

def test_no_env_lists_the_environments(tmp_path: Path) -> None:
    run = run_suite(tmp_path)
    assert run.returncode == 4
    assert "choose an environment with --env NAME; known environments:" in run.output
    assert "Traceback" not in run.output


def test_unknown_env_on_the_command_line(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "--env", "staging")
    assert run.returncode == 4
    known = ", ".join(sorted(p.stem for p in (ROOT / "environments").glob("*.yaml")))
    assert f"unknown environment 'staging'; known environments: {known}" in run.output
    assert "Traceback" not in run.output


def test_bad_field_on_the_command_line(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "tls: {min_dayz: 3}\n")
    run = run_suite(tmp_path, f"--env={path}")
    assert run.returncode == 4
    assert f"{path}: tls.min_dayz: unknown field" in run.output
    assert "Traceback" not in run.output


def test_bad_expected_version_on_the_command_line(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "--env", "local", "--expected-version", "latest", "--co")
    assert run.returncode == 4 and "neither a version" in run.output


def test_unknown_sandbox_fault_lists_the_faults(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "--env", "sandbox", "--sandbox-fault", "no-such-fault", "-m", "health")
    assert run.returncode == 4
    assert "unknown fault(s): no-such-fault" in run.output and "health-down" in run.output
    assert "Traceback" not in run.output


def test_unreachable_target_is_an_error_not_a_failure(tmp_path: Path) -> None:
    path = write(tmp_path, "name: gone\nsite: {url: 'http://127.0.0.1:9'}\napi: {url: 'http://127.0.0.1:9'}\n")
    run = run_suite(tmp_path, f"--env={path}", "-m", "health", "tests/health/test_backend_health.py")
    assert run.failed == set() and run.errors, run.output
    assert "no configured host can be reached: 127.0.0.1:9" in run.output and "nothing was checked" in run.output


def test_repository_layout_keeps_reports_out_of_git() -> None:
    assert (ROOT / "reports" / ".keep").exists()
    assert "/reports/*" in (ROOT / ".gitignore").read_text()


# -- the parse cache (config._parse): same bytes, same mapping; a refused file is refused every time -------------


def _fresh_process_read(path: Path, cache: Path) -> tuple[str, bool]:
    """read_yaml in a new interpreter with ``cache`` as XDG_CACHE_HOME: (the mapping as JSON, whether PyYAML was
    imported)."""
    import json
    import os
    import subprocess
    import sys

    code = ("import json, sys; from pathlib import Path; from mt_verify import config as cfg\n"
            f"d = cfg.read_yaml(Path({str(path)!r})); print(json.dumps([d, 'yaml' in sys.modules], default=str))")
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "XDG_CACHE_HOME": str(cache)},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    data, imported = json.loads(proc.stdout)
    return json.dumps(data, sort_keys=True), imported


def test_a_parsed_file_is_read_from_the_cache_without_yaml(tmp_path: Path) -> None:
    path = tmp_path / "env.yaml"
    path.write_text("name: cached\nsite: {url: 'http://127.0.0.1:1'}\napi: {url: 'http://127.0.0.1:2'}\n")
    first, parsed = _fresh_process_read(path, tmp_path / "cache")
    second, reparsed = _fresh_process_read(path, tmp_path / "cache")
    assert parsed and not reparsed, "the second read should come from the cache, without importing PyYAML"
    assert first == second and '"name": "cached"' in first
    path.write_text("name: changed\nsite: {url: 'http://127.0.0.1:1'}\napi: {url: 'http://127.0.0.1:2'}\n")
    third, imported = _fresh_process_read(path, tmp_path / "cache")
    assert imported and '"name": "changed"' in third, "new bytes are parsed again"


def test_a_refused_file_is_never_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nsite: 1\nsite: 2\n")
    for _ in range(2):
        cfg._parsed.clear()
        with pytest.raises(cfg.ConfigError, match=r"duplicate key 'site'"):
            cfg.read_yaml(path)
    assert not list((tmp_path / "cache").rglob("*.json"))


def test_what_json_cannot_hold_is_parsed_every_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "env.yaml"
    path.write_text("name: t\nwhen: 2026-12-24T22:00:00Z\nports: {443: https}\n")
    for _ in range(2):
        cfg._parsed.clear()
        data = cfg.read_yaml(path)
        assert isinstance(data["when"], datetime.datetime) and data["ports"] == {443: "https"}
    assert not list((tmp_path / "cache").rglob("*.json"))


def test_the_cache_looks_up_no_file_envfile_would_refuse_for_its_size() -> None:
    from mt_verify import envfile

    assert cfg.PARSE_CACHE_MAX == envfile.MAX_BYTES
