"""36 hostile environment files (issue 11, item 5): each gets exactly one line naming the file and the field, at
load time, quickly, without a traceback; ``pytest --env=FILE`` and ``mt-verify gate --env FILE`` exit 4 with that
line. The files are in ``selftests/data/bad-environments/``; the two large ones are made here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mt_verify import config as cfg
from selftests.suite import ROOT

CORPUS = ROOT / "selftests" / "data" / "bad-environments"
#: What ``${MT_BAD_URL}`` expands to in 09: a URL with a newline (a header injection in the making).
ENVIRON = {"MT_BAD_URL": "http://127.0.0.1:8080\nevil"}

#: file -> the one line expected (``{file}`` is the file's path).
EXPECTED = {
    "01-utf16.yaml": "{file}: file is UTF-16 (byte order mark); save it as UTF-8",
    "02-latin1.yaml": "{file}:4: not UTF-8 (byte 0xe9 at offset 99); save the file as UTF-8",
    "03-deep-nesting.yaml": "{file}:2: nested deeper than 64 levels",
    "04-alias-bomb.yaml": "{file}: aliases expand to more than 100,000 values (an alias bomb?)",
    "05-too-many-aliases.yaml": "{file}:5: more than 100 aliases",
    "06-duplicate-key.yaml": "{file}:4: duplicate key 'site' (first given on line 2); keys must be unique",
    "07-port-80x.yaml": "{file}: site.url: port '80x' in 'http://127.0.0.1:80x' is not a number from 1 to 65535",
    "08-port-99999.yaml":
        "{file}: api.url: port '99999' in 'http://127.0.0.1:99999' is not a number from 1 to 65535",
    "09-variable-with-newline.yaml": "{file}: site.url: 'http://127.0.0.1:8080\\nevil' contains '\\n'",
    "10-image-tag-unknown-field.yaml": "{file}: release.image_tag: unknown template field {commit} in "
                                       "'{commit}'; fields: {sha7}, {sha}, {version}, {build_id}",
    "11-tls-host-not-a-port.yaml":
        "{file}: tls.hosts: port 'notaport' in 'localhost:notaport' is not a number from 1 to 65535",
    "12-sandbox-malformed.yaml": "{file}: sandbox.command: Input should be a valid list (+1 more)",
    "13-huge.yaml": "{file}: file is larger than 1024 KiB; an environment file is a few KiB",
    "14-empty.yaml": "{file}: expected a mapping at the top level, got an empty file",
    "15-top-level-list.yaml": "{file}: expected a mapping at the top level, got a list",
    "16-syntax-error.yaml": "{file}:5: invalid YAML: expected the node content, but found '<stream end>'",
    "17-tab-indentation.yaml": "{file}:5: invalid YAML: found character '\\t' that cannot start any token",
    "18-unknown-field.yaml": "{file}: colour: unknown field",
    "19-missing-site.yaml": "{file}: site: missing field",
    "20-ftp-url.yaml": "{file}: site.url: not an http/https URL: 'ftp://127.0.0.1/'",
    "21-url-without-host.yaml": "{file}: site.url: not an http/https URL: 'http://'",
    "22-url-with-space.yaml": "{file}: site.url: 'http://exa mple.com' contains whitespace",
    "23-tls-port-zero.yaml": "{file}: tls.port: Input should be greater than or equal to 1",
    "24-unset-variable.yaml": "{file}: site.url: environment variable MT_NOT_SET_ANYWHERE is not set",
    "25-image-tag-unbalanced.yaml": "{file}: release.image_tag: template '{sha7': expected '}' before end of string",
    "26-negative-timeout.yaml": "{file}: http.timeout: Input should be greater than 0",
    "27-timeout-not-a-number.yaml":
        "{file}: http.timeout: Input should be a valid number, unable to parse string as a number",
    "28-redirect-from-https.yaml":
        "{file}: site.redirects: a redirect check starts from an http:// URL, not 'https://127.0.0.1:8443/'",
    "29-events-allow-bad-regex.yaml": "{file}: kubernetes.events_allow[0].message: not a regular expression: "
                                      "'(unclosed' (missing ), unterminated subpattern at position 0)",
    "30-endpoint-bad-condition.yaml": "{file}: endpoints[0].conditions: condition 'status = ok': expected "
                                      "'<$.path | len($.path)> <op> <value>'",
    "31-argocd-without-section.yaml": "{file}: kubernetes: manager 'argocd' needs an 'argocd' section",
    "32-tls-host-is-a-url.yaml": "{file}: tls.hosts: 'https://localhost:8443': give host or host:port, not a URL",
    "33-python-object-tag.yaml": "{file}:4: invalid YAML: could not determine a constructor for the tag "
                                 "'tag:yaml.org,2002:python/object/apply:os.system'",
    "34-name-with-a-path.yaml": "{file}: name: String should match pattern '^[A-Za-z0-9][A-Za-z0-9._-]*$'",
    "35-nul-bytes.yaml": "{file}:4: NUL byte in the file: not a text file",
    "36-endpoint-relative-url.yaml": "{file}: endpoints[0].url: an endpoint url is a path under api.url (/...) or "
                                     "an http(s) URL, not 'health'",
}
#: Made in code: too big for the repository.
GENERATED = {
    "03-deep-nesting.yaml": lambda: ("name: bad\nx: " + "[" * 20_000 + "]" * 20_000 + "\n").encode(),
    "13-huge.yaml": lambda: b"name: bad\ndescription: '" + b"x" * (40 * 1024 * 1024) + b"'\n",
}
#: Run end to end through ``pytest --env=FILE`` and ``mt-verify gate``: the eleven the red-team pass found.
END_TO_END = ["01-utf16.yaml", "02-latin1.yaml", "03-deep-nesting.yaml", "04-alias-bomb.yaml",
              "06-duplicate-key.yaml", "07-port-80x.yaml", "09-variable-with-newline.yaml",
              "10-image-tag-unknown-field.yaml", "11-tls-host-not-a-port.yaml", "12-sandbox-malformed.yaml",
              "13-huge.yaml"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus in one folder: the files as shipped, plus the generated ones."""
    folder = tmp_path_factory.mktemp("bad-environments")
    for path in CORPUS.glob("*.yaml"):
        (folder / path.name).write_bytes(path.read_bytes())
    for name, make in GENERATED.items():
        (folder / name).write_bytes(make())
    return folder


def test_corpus_has_36_files_each_with_its_expected_line(corpus: Path) -> None:
    assert sorted(p.name for p in corpus.glob("*.yaml")) == sorted(EXPECTED)
    assert len(EXPECTED) == 36
    assert not set(GENERATED) & {p.name for p in CORPUS.glob("*.yaml")}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_environment_file_gets_one_line_naming_file_and_field(corpus: Path, name: str) -> None:
    path = corpus / name
    started = time.monotonic()
    with pytest.raises(cfg.ConfigError) as caught:
        cfg.load(str(path), ENVIRON)
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert message == EXPECTED[name].replace("{file}", str(path))
    assert "\n" not in message and len(message) < 400
    assert elapsed < 5, f"{elapsed:.1f} s to refuse {name}"


def _run(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MT_SANDBOX_", "PYTEST_XDIST", "MT_REPORTS"))}
    environ.pop("PYTEST_ADDOPTS", None)
    environ.update(ENVIRON)
    environ["MT_REPORTS_DIR"] = str(tmp / "reports")
    return subprocess.run(args, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("name", END_TO_END)
def test_pytest_env_file_is_a_usage_error_with_the_line(corpus: Path, tmp_path: Path, name: str) -> None:
    path = corpus / name
    proc = _run([sys.executable, "-m", "pytest", f"--env={path}", "-p", "no:randomly", "tests/health"], tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 4, output
    assert "Traceback" not in output and "RecursionError" not in output, output[-2000:]
    assert output.count(EXPECTED[name].replace("{file}", str(path))) == 1, output[-2000:]
    assert not (tmp_path / "reports" / "summary.json").exists()  # the run never started: no report of it


@pytest.mark.parametrize("name", END_TO_END)
def test_gate_env_file_exits_4_with_the_line(corpus: Path, tmp_path: Path, name: str) -> None:
    path = corpus / name
    proc = _run([sys.executable, "-m", "mt_verify.cli", "gate", "--env", str(path),
                 "--expected-version", "1.29.2.1360"], tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 4, output
    assert "Traceback" not in output, output[-2000:]
    assert EXPECTED[name].replace("{file}", str(path)) in output, output[-2000:]


def test_summary_does_not_copy_the_environment_file(tmp_path: Path) -> None:
    """A large but valid file (a long comment, the longest description allowed): the summary stays small and
    holds neither."""
    path = tmp_path / "big.yaml"
    filler = "# " + "c" * 1000 + "\n"
    description = "D" * 500
    path.write_text("name: big\n" + filler * 900 + f"description: {description}\n"
                    "site: {url: 'http://127.0.0.1:9'}\napi: {url: 'http://127.0.0.1:9'}\n", encoding="utf-8")
    assert 800_000 < path.stat().st_size < 1024 * 1024
    proc = _run([sys.executable, "-m", "pytest", f"--env={path}", "-p", "no:randomly",
                 "tests/health/test_version.py"], tmp_path)
    summary = tmp_path / "reports" / "summary.json"
    assert summary.is_file(), proc.stdout + proc.stderr
    text = summary.read_text(encoding="utf-8")
    assert len(text) < 100_000 and "c" * 100 not in text
    assert json.loads(text)["environment"]["description"] == description  # the one field that is copied, capped
    with pytest.raises(cfg.ConfigError, match=r"description: String should have at most 500 characters"):
        (tmp_path / "long.yaml").write_text(path.read_text().replace(description, description + "D"))
        cfg.load(str(tmp_path / "long.yaml"), {})
