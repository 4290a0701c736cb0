"""The browser console policy without a browser: what is always red, what an allow-list entry forgives, what is
third-party, how a bad entry is refused at load, and how stale entries are found across xdist workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mt_verify import allowlist_usage
from mt_verify.browser.console_policy import BrowserEvent, ConsolePolicy, usage_counts
from mt_verify.config import ConfigError, ConsoleAllow, validate
from mt_verify.reporting import summary

SITE = "http://127.0.0.1:8080"
CSP = "The Content Security Policy directive 'frame-ancestors' is ignored when delivered via a <meta> element."
NOT_FOUND = "Failed to load resource: the server responded with a status of 404 (Not Found)"
FONTS = "https://fonts.googleapis.com/css2?family=Inter"


def policy(*entries: ConsoleAllow) -> ConsolePolicy:
    return ConsolePolicy(list(entries), lambda url: url.startswith(SITE))


ALLOW_CSP = ConsoleAllow(pattern="'frame-ancestors' is ignored", reason="CSP meta from plugins/security.js")
ALLOW_EVENTS = ConsoleAllow(pattern=r"status of 404", source=r"/api/security/client-events$",
                            reason="no backend route for security events")
ALLOW_FONTS = ConsoleAllow(pattern="net::ERR_NAME_NOT_RESOLVED", source=r"^https://fonts\.googleapis\.com/",
                           reason="Google Fonts offline")


def test_listed_first_party_noise_is_forgiven_and_counted() -> None:
    p = policy(ALLOW_CSP, ALLOW_EVENTS)
    review = p.review([
        BrowserEvent("console", CSP, f"{SITE}/assets/security.js", level="error"),
        BrowserEvent("console", NOT_FOUND, f"{SITE}/api/security/client-events", level="error"),
        BrowserEvent("response", "HTTP 404", f"{SITE}/api/security/client-events", resource_type="fetch",
                     status=404, method="POST"),
    ])
    assert review.clean and not review.third_party
    assert [i for i, _ in review.forgiven] == [0, 1]
    assert dict(usage_counts(p, review)) == {0: 1, 1: 1}


def test_unlisted_first_party_console_error_is_red() -> None:
    review = policy(ALLOW_CSP).review([BrowserEvent("console", "TypeError: x is undefined", f"{SITE}/a.js",
                                                    level="error")])
    assert not review.clean and review.console_errors == [f"[error] TypeError: x is undefined ({SITE}/a.js)"]


def test_an_entry_only_matches_its_source() -> None:
    """The 404 line of another first-party route is not the security-event noise."""
    review = policy(ALLOW_EVENTS).review([BrowserEvent("console", NOT_FOUND, f"{SITE}/api/table", level="error")])
    assert review.console_errors and not review.forgiven


@pytest.mark.parametrize("event, bucket", [
    (BrowserEvent("pageerror", "Error: boom"), "page_errors"),
    (BrowserEvent("response", "HTTP 404", f"{SITE}/assets/app.css", resource_type="stylesheet", status=404,
                  method="GET"), "broken_assets"),
    (BrowserEvent("requestfailed", "net::ERR_CONNECTION_RESET", f"{SITE}/assets/app.js", resource_type="script",
                  method="GET"), "broken_assets"),
    (BrowserEvent("response", "HTTP 503", f"{SITE}/api/version", resource_type="fetch", status=503, method="GET"),
     "server_errors"),
])
def test_always_red_whatever_the_allow_list_says(event: BrowserEvent, bucket: str) -> None:
    allow_all = ConsoleAllow(pattern=".*", reason="an entry that allows everything")
    review = policy(allow_all).review([event])
    assert getattr(review, bucket) and not review.clean, review


def test_third_party_failure_is_reported_not_red_and_a_listed_one_is_forgiven() -> None:
    events = [BrowserEvent("requestfailed", "net::ERR_NAME_NOT_RESOLVED", FONTS, resource_type="stylesheet",
                           method="GET"),
              BrowserEvent("console", "Failed to load resource: net::ERR_NAME_NOT_RESOLVED", FONTS, level="error")]
    unlisted = policy().review(events)
    assert unlisted.clean and len(unlisted.third_party) == 2
    listed = policy(ALLOW_FONTS).review(events)
    assert listed.clean and not listed.third_party and len(listed.forgiven) == 2


def test_a_navigation_abort_and_a_plain_warning_are_not_findings() -> None:
    review = policy().review([
        BrowserEvent("requestfailed", "net::ERR_ABORTED", f"{SITE}/api/matches/live", resource_type="fetch"),
        BrowserEvent("console", "Service Worker registration blocked by Playwright", "", level="warning"),
    ])
    assert review.clean and not review.third_party and not review.forgiven


def test_a_listed_warning_is_counted() -> None:
    sw = ConsoleAllow(pattern="^Service Worker registration blocked by Playwright$", reason="SW blocked by design")
    review = policy(sw).review([BrowserEvent("console", "Service Worker registration blocked by Playwright", "",
                                             level="warning")])
    assert [i for i, _ in review.forgiven] == [0]


def _env(allow: list[dict[str, str]]) -> dict[str, object]:
    return {"name": "x", "site": {"url": SITE}, "api": {"url": "http://127.0.0.1:8000"},
            "smoke": {"console": {"allow": allow}}}


@pytest.mark.parametrize("entry, field, words", [
    ({"pattern": "(unclosed", "reason": "why not"}, "smoke.console.allow[0].pattern", "not a regular expression"),
    ({"pattern": "x", "source": "[", "reason": "why not"}, "smoke.console.allow[0].source",
     "not a regular expression"),
    ({"pattern": "x"}, "smoke.console.allow[0].reason", "missing field"),
])
def test_bad_entry_is_one_line_naming_file_and_field(entry: dict[str, str], field: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate(_env([entry]), Path("environments/x.yaml"))
    text = str(err.value)
    assert text.startswith(f"environments/x.yaml: {field}: ") and words in text and "\n" not in text


def test_shipped_environments_have_valid_allow_lists() -> None:
    root = Path(__file__).resolve().parents[1] / "environments"
    import yaml

    for path in sorted(root.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        for entry in ((raw.get("smoke") or {}).get("console") or {}).get("allow") or []:
            assert ConsoleAllow.model_validate(entry).reason, path


def _usage(run: Path, worker: str, counts: dict[str, int]) -> None:
    allowlist_usage.write(run, "smoke.console.allow", {k: (f"reason {k}", n) for k, n in counts.items()},
                          worker=worker)


def test_entry_matched_by_any_worker_is_not_stale(tmp_path: Path) -> None:
    _usage(tmp_path, "gw0", {"0": 3, "1": 0, "2": 0})
    _usage(tmp_path, "gw1", {"0": 0, "1": 2, "2": 0})
    notes = allowlist_usage.stale_notes(tmp_path)
    assert [n["kind"] for n in notes] == ["stale-allow-list"]
    assert "'reason 2'" in notes[0]["text"] and "reason 0" not in notes[0]["text"]


def test_no_usage_file_means_no_stale_entry(tmp_path: Path) -> None:
    """The smoke tier did not run: nothing can be called stale."""
    assert allowlist_usage.stale_notes(tmp_path) == []
    assert allowlist_usage.stale_notes(None) == []


def test_unreadable_usage_file_is_skipped(tmp_path: Path) -> None:
    _usage(tmp_path, "gw0", {"0": 0})
    (tmp_path / allowlist_usage.FOLDER / "smoke.console.allow.gw1.json").write_text("{not json")
    assert len(allowlist_usage.stale_notes(tmp_path)) == 1


def test_summary_lists_every_stale_entry(tmp_path: Path) -> None:
    _usage(tmp_path, "main", {"0": 0, "1": 0, "2": 5})
    data = summary.build([], environment={"name": "x"}, version={}, run={"dir": str(tmp_path), "id": "r"})
    stale = data["notes"]["stale-allow-list"]
    assert stale["count"] == 2 and len(stale["examples"]) == 2
    markdown = summary.render_markdown(json.loads(json.dumps(data)))
    assert "reason 0" in markdown and "reason 1" in markdown and "reason 2" not in markdown
