"""The first screen of a run (reports/<run>/index.html): the verdict, the gate's story in order, the area lights,
each red or yellow check with its line, thumbnail and evidence; Allure one click away. Checked as HTML (parsed
here) and in Chromium."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from mt_verify.redact import register_secret
from mt_verify.reporting import landing

SECRET = "Zq7xK9mW2pL4vR8t"  # no run of 6 characters is a word the page could hold


def _png(width: int = 4, height: int = 3) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\xcf\x22\x2e" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def failing_gate_run(tmp_path: Path) -> Path:
    run = tmp_path / "sandbox-20261202T010203.000000Z"
    shot = "evidence/tests-smoke-test_smoke_footer.py--test_footer/screenshot.png"
    (run / Path(shot).parent).mkdir(parents=True)
    (run / shot).write_bytes(_png())
    (run / "after-rollback").mkdir()
    (run / "allure-report").mkdir()
    (run / "allure-report" / "index.html").write_text("<html>allure</html>")
    summary = {
        "environment": {"name": "sandbox"}, "version": {"expected": "1.29.3.1361", "served": "1.29.3.1361"},
        "verdict": "failed", "counts": {"passed": 30, "failed": 2},
        "run": {"finished_at": "2026-12-02T01:02:40Z", "duration_s": 33.1},
        "areas": [{"name": "Health", "light": "red", "status": "failed",
                   "reason": "[sandbox] /health: expected HTTP 200, got HTTP 503 <script>alert(1)</script>"},
                  {"name": "TLS", "light": "yellow", "status": "warning", "reason": "expires in 15 days"},
                  {"name": "Pods", "light": "green", "status": "passed", "reason": ""}],
        "tests": [
            {"nodeid": "tests/health/test_backend_health.py::test_health[api]", "status": "failed", "gate": True,
             "reason": f"[sandbox] /health: expected HTTP 200, got HTTP 503 token={SECRET}",
             "evidence": ["evidence/h/http-exchanges.txt"]},
            {"nodeid": "tests/smoke/test_smoke_footer.py::test_footer", "status": "failed", "gate": False,
             "reason": "[sandbox] footer: expected 1.29.3.1361, got 1.0.0.1", "evidence": [shot, "evidence/t.zip"]},
            {"nodeid": "tests/health/test_tls.py::test_tls", "status": "warning", "reason": "",
             "warnings": ["certificate expires in 15 days"]},
            {"nodeid": "tests/health/test_ok.py::test_ok", "status": "passed", "reason": ""}],
    }
    gate = {"exit_code": 1, "expected_version": "1.29.3.1361",
            "reason": "rolled back to 1.29.2.1360; the verification after the rollback passed",
            "gating_failures": ["tests/health/test_backend_health.py::test_health[api]"],
            "confirmed_failures": ["tests/health/test_backend_health.py::test_health[api]"], "flaky": [],
            "attempts": [{"name": "attempt 1", "duration_s": 9.5, "counts": {"failed": 2, "passed": 30}},
                         {"name": "confirm", "duration_s": 1.0, "counts": {"failed": 1}},
                         {"name": "after rollback", "duration_s": 8.0, "counts": {"passed": 33}}],
            "rollback": {"strategy": "helm", "plan": {"commands": [["helm", "rollback", "missing-table", "2"]],
                                                      "target_version": "1.29.2.1360"},
                         "executions": [{"returncode": 0, "duration_s": 2.3}]},
            "after_rollback": {"passed": True, "expected_version": "1.29.2.1360"}, "notes": []}
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "gate.json").write_text(json.dumps(gate))
    (run / "after-rollback" / "summary.json").write_text(json.dumps({"verdict": "passed", "tests": []}))
    return run


class _Outline(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []
        self.images: list[str] = []
        self.links: dict[str, str] = {}
        self.text: list[str] = []
        self._a: str | None = None
        self.story: list[str] = []
        self._in_li = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("h1", "section") or (tag == "div" and a.get("class") == "check"):
            self.order.append(f"{tag}#{a.get('id') or a.get('data-status') or ''}")
        if tag == "img":
            self.images.append(a["src"] or "")
        if tag == "a":
            self._a = a.get("href") or ""
        if tag == "li":
            self._in_li = True
            self.story.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "li":
            self._in_li = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._a is not None and data.strip():
            self.links[data.strip()] = self._a
            self._a = None
        if self._in_li:
            self.story[-1] += data


def test_landing_page_opens_on_the_verdict_then_tells_the_gate_story_in_order(tmp_path: Path) -> None:
    register_secret(SECRET)
    run = failing_gate_run(tmp_path)
    path = landing.render(run, allure="allure-report/index.html")
    assert path == run / "index.html"
    html = path.read_text()
    outline = _Outline()
    outline.feed(html)
    assert outline.order[0] == "h1#"
    assert outline.order[1:4] == ["section#gate", "section#areas", "section#checks"]
    steps = [s.split(" ")[0].rstrip(":") for s in outline.story]
    assert steps == ["Attempt", "Confirm", "Rollback", "After", "Decision"]
    assert "1 confirmed" in outline.story[1] and "exit 0 in 2.3 s" in outline.story[2]
    assert "PASSED" in outline.story[3] and "exit 1" in outline.story[4]
    text = " ".join(outline.text)
    assert "Gate: ROLLED BACK (exit 1)" in text
    # Red and yellow checks only, each with its line; the passed one is not listed.
    checks = [o for o in outline.order if o.startswith("div#")]
    assert checks == ["div#failed", "div#failed", "div#warning"]
    assert "got 1.0.0.1" in text and "certificate expires in 15 days" in text and "test_ok" not in text
    # The screenshot is a thumbnail linking to itself; evidence links resolve inside the run folder.
    (image,) = outline.images
    assert (run / image).is_file()
    assert outline.links["Allure report"] == "allure-report/index.html"
    assert (run / outline.links["Allure report"]).is_file()
    assert outline.links["screenshot.png"] == image
    # Escaped and redacted.
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert SECRET not in html


def test_landing_page_of_a_plain_run_has_no_gate_story(tmp_path: Path) -> None:
    run = failing_gate_run(tmp_path)
    (run / "gate.json").unlink()
    outline = _Outline()
    outline.feed(landing.render(run).read_text())
    assert "section#gate" not in outline.order and "FAILED" in " ".join(outline.text)
    assert "Allure report" not in outline.links


@pytest.mark.parametrize("width", [1200, 420])
def test_landing_page_in_chromium_shows_the_verdict_first_and_loads_its_thumbnail(tmp_path: Path,
                                                                                   width: int) -> None:
    from playwright.sync_api import sync_playwright

    run = failing_gate_run(tmp_path)
    path = landing.render(run, allure="allure-report/index.html")
    errors: list[Any] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            page = browser.new_page(viewport={"width": width, "height": 800})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("requestfailed", lambda r: errors.append(r.url))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            h1 = page.locator("h1")
            assert h1.inner_text() == "Gate: ROLLED BACK (exit 1)"
            box = h1.bounding_box()
            assert box is not None and box["y"] < 100, "the verdict is at the top of the first screen"
            widths = page.evaluate("[...document.images].map(i => i.naturalWidth)")
            assert widths == [4]
            page.get_by_role("link", name="Allure report").click()
            page.wait_for_load_state("load")
            assert page.url.endswith("allure-report/index.html")
            shot = page.screenshot()
            assert base64.b64encode(shot)
        finally:
            browser.close()
    assert errors == []
