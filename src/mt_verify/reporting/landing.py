"""The first screen of a run: ``reports/<run>/index.html``, rendered from ``summary.json`` (and ``gate.json``).

Top to bottom: the verdict (and, for a gate, its decision and exit code), the gate's story in order (attempt 1,
confirm, rollback, after rollback), the area lights, then each red or yellow check with its one line, its screenshot
thumbnail and links to its evidence. Allure (the detail) is one click away in the header. One static file, no
script, no network: it opens from a CI artifact as it is. Every text comes from files that are already redacted,
and is redacted and HTML-escaped once more here.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from mt_verify.redact import redact_text

FILE_NAME = "index.html"
_LIGHT = {"green": "#1a7f37", "yellow": "#bf8700", "red": "#cf222e", "grey": "#6e7781"}
_VERDICT = {"passed": ("PASSED", "green"), "passed_with_warnings": ("PASSED WITH WARNINGS", "yellow"),
            "not_verified": ("NOT VERIFIED", "yellow"),
            "failed": ("FAILED", "red"), "error": ("COULD NOT VERIFY", "red"), "no_tests": ("NO TESTS", "grey")}
_GATE = {0: ("PROCEED", "green"), 1: ("ROLLED BACK", "yellow"), 2: ("FAILED, NOT ROLLED BACK", "red"),
         3: ("ROLLBACK FAILED", "red"), 4: ("COULD NOT VERIFY", "red")}
_IMAGES = (".png", ".jpg", ".jpeg", ".webp")

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
main{max-width:1100px;margin:0 auto;padding:20px}
header{display:flex;justify-content:space-between;align-items:flex-start;gap:16px;flex-wrap:wrap}
.verdict{font-size:30px;font-weight:700;padding:14px 20px;border-radius:10px;color:#fff;margin:0}
.sub{color:#57606a;margin:6px 0 0}
nav a{margin-left:14px;font-weight:600}
section{background:#fff;border:1px solid #d0d7de;border-radius:10px;padding:14px 18px;margin-top:16px}
h2{font-size:17px;margin:0 0 10px}
ol.story{margin:0;padding-left:22px} ol.story li{margin:6px 0}
.areas{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:8px}
.area{border:1px solid #d0d7de;border-radius:8px;padding:8px 10px}
.dot{display:inline-block;width:12px;height:12px;border-radius:50%;margin-right:6px;vertical-align:-1px}
.area .why{color:#57606a;font-size:13px;margin-top:4px;overflow-wrap:anywhere}
.check{display:flex;gap:14px;border-top:1px solid #eaeef2;padding:10px 0}
.check:first-of-type{border-top:0}
.check img{width:240px;border:1px solid #d0d7de;border-radius:6px;flex:none}
.check code{font-size:13px;overflow-wrap:anywhere}
.line{margin:4px 0;overflow-wrap:anywhere}
.ev a{font-size:13px;margin-right:10px}
.tag{font-size:12px;font-weight:700;color:#fff;border-radius:4px;padding:1px 6px;margin-right:6px}
"""


def _load(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _t(value: Any) -> str:
    return escape(redact_text(str(value if value is not None else "")))


def _dot(light: str) -> str:
    return f'<span class="dot" style="background:{_LIGHT.get(light, _LIGHT["grey"])}"></span>'


def _counts(summary: dict[str, Any]) -> str:
    counts = summary.get("counts") or {}
    parts = [f"{counts[k]} {k}" for k in ("passed", "failed", "error", "skipped", "flaky") if counts.get(k)]
    return ", ".join(parts) or "no tests"


def _attempt_counts(attempt: dict[str, Any]) -> str:
    counts = attempt.get("counts") or {}
    text = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()) if n) or "no tests"
    return text + (f" — {attempt['problem']}" if attempt.get("problem") else "")


def _story(gate: dict[str, Any], run_dir: Path) -> str:
    """attempt 1 -> confirm -> rollback -> after rollback -> decision, as the gate went."""
    items: list[str] = []
    attempts = {a.get("name"): a for a in gate.get("attempts") or []}
    if "attempt 1" in attempts:
        a = attempts["attempt 1"]
        failed = gate.get("gating_failures") or []
        items.append(f"<b>Attempt 1</b> (expected {_t(gate.get('expected_version'))}): {_t(_attempt_counts(a))}"
                     f" in {float(a.get('duration_s') or 0):.1f} s"
                     + (f"; {len(failed)} gating check(s) failed" if failed else ""))
    if "confirm" in attempts:
        a = attempts["confirm"]
        confirmed, flaky = gate.get("confirmed_failures") or [], gate.get("flaky") or []
        link = ' (<a href="confirm/summary.md">summary</a>)' if (run_dir / "confirm").is_dir() else ""
        items.append(f"<b>Confirm</b>: the failed gating checks once more: {_t(_attempt_counts(a))}; "
                     f"{len(confirmed)} confirmed, {len(flaky)} flaky{link}")
    rollback = gate.get("rollback") or {}
    if rollback:
        plan = rollback.get("plan") or {}
        commands = " && ".join(" ".join(c) for c in plan.get("commands") or [])
        executions = rollback.get("executions") or []
        if executions:
            code = next((e.get("returncode") for e in executions if e.get("returncode") != 0), 0)
            seconds = sum(float(e.get("duration_s") or 0) for e in executions)
            what = f"ran <code>{_t(commands)}</code>: exit {_t(code)} in {seconds:.1f} s"
        elif rollback.get("dry_run"):
            what = f"dry run, not run: <code>{_t(commands)}</code>"
        else:
            what = f"not taken: {_t(rollback.get('refused') or rollback.get('error') or 'disabled')}"
        target = plan.get("target_version")
        items.append(f"<b>Rollback</b> ({_t(rollback.get('strategy'))}"
                     f"{', to ' + _t(target) if target else ''}): {what}")
    after = gate.get("after_rollback")
    if after is not None:
        a = attempts.get("after rollback") or {}
        link = ' (<a href="after-rollback/summary.md">summary</a>)' if (run_dir / "after-rollback").is_dir() else ""
        items.append(f"<b>After rollback</b> (expected {_t(after.get('expected_version'))}): "
                     f"{'PASSED' if after.get('passed') else 'FAILED'}: {_t(_attempt_counts(a))}{link}")
    items.append(f"<b>Decision</b>: exit {_t(gate.get('exit_code'))} — {_t(gate.get('reason'))}")
    for note in gate.get("notes") or []:
        items.append(f"<i>note</i>: {_t(note)}")
    return '<section id="gate"><h2>The gate, in order</h2><ol class="story">' + "".join(
        f"<li>{i}</li>" for i in items) + "</ol></section>"


def _areas(summary: dict[str, Any]) -> str:
    cells = []
    for area in summary.get("areas") or []:
        why = f'<div class="why">{_t(area.get("reason"))}</div>' if area.get("reason") else ""
        cells.append(f'<div class="area" data-light="{_t(area.get("light"))}">{_dot(area.get("light", "grey"))}'
                     f'<b>{_t(area.get("name"))}</b> <small>{_t(area.get("status"))}</small>{why}</div>')
    return '<section id="areas"><h2>Areas</h2><div class="areas">' + "".join(cells) + "</div></section>"


def _checks(summary: dict[str, Any], base: str = "") -> list[str]:
    out = []
    for test in summary.get("tests") or []:
        status = test.get("status")
        if status not in ("failed", "error", "not_verified", "warning"):
            continue
        light = "yellow" if status in ("warning", "not_verified") else "red"
        line = test.get("reason") or "; ".join(test.get("warnings") or []) or ("flaky" if test.get("flaky") else "")
        evidence = [str(e) for e in test.get("evidence") or []]
        images = [e for e in evidence if e.lower().endswith(_IMAGES)]
        thumb = (f'<a href="{_t(base + images[0])}"><img src="{_t(base + images[0])}" loading="lazy" '
                 f'alt="screenshot of {_t(test.get("nodeid"))}"></a>') if images else ""
        links = "".join(f'<a href="{_t(base + e)}">{_t(Path(e).name)}</a>' for e in evidence)
        gate = ' <span class="tag" style="background:#0969da">gate</span>' if test.get("gate") else ""
        out.append(f'<div class="check" data-status="{_t(status)}">{thumb}<div>'
                   f'<span class="tag" style="background:{_LIGHT[light]}">{_t(status)}</span>'
                   f'<code>{_t(test.get("nodeid"))}</code>{gate}'
                   f'<p class="line">{_t(line)}</p>'
                   + (f'<div class="ev">{links}</div>' if links else "") + "</div></div>")
    return out


def render(run_dir: Path, *, allure: str | None = None) -> Path:
    """Write ``<run_dir>/index.html``; ``allure`` is the Allure report's path relative to the run folder."""
    run_dir = Path(run_dir)
    summary = _load(run_dir / "summary.json")
    gate = _load(run_dir / "gate.json")
    env = summary.get("environment") or {}
    version = summary.get("version") or {}
    if gate:
        word, light = _GATE.get(int(gate.get("exit_code", 4)), ("COULD NOT VERIFY", "red"))
        title = f"Gate: {word} (exit {gate.get('exit_code')})"
    else:
        word, light = _VERDICT.get(summary.get("verdict", "error"), ("COULD NOT VERIFY", "red"))
        title = word
    run = summary.get("run") or {}
    sub = (f"[{_t(env.get('name') or run_dir.name.rsplit('-', 1)[0])}] expected {_t(version.get('expected') or '—')}, "
           f"served {_t(version.get('served') or '—')} · {_t(_counts(summary))} · {_t(run.get('finished_at') or '')} "
           f"· {float(run.get('duration_s') or 0):.1f} s")
    links = []
    if allure:
        links.append(f'<a id="allure" href="{_t(allure)}">Allure report</a>')
    for name in ("summary.md", "summary.json", "gate.json", "junit.xml", "metrics.txt", "pytest.log"):
        if (run_dir / name).exists():
            links.append(f'<a href="{name}">{name}</a>')
    body = [f'<header><div><h1 class="verdict" style="background:{_LIGHT[light]}">{_t(title)}</h1>'
            f'<p class="sub">{sub}</p>'
            + (f'<p class="sub">{_t(gate.get("reason"))}</p>' if gate.get("reason") else "")
            + f'</div><nav>{"".join(links)}</nav></header>']
    if gate:
        body.append(_story(gate, run_dir))
    body.append(_areas(summary))
    checks = _checks(summary)
    after = _load(run_dir / "after-rollback" / "summary.json")
    after_checks = _checks(after, "after-rollback/") if after else []
    body.append('<section id="checks"><h2>Red and yellow checks</h2>'
                + ("".join(checks) or "<p>None: every check passed.</p>") + "</section>")
    if after_checks:
        body.append('<section id="after-checks"><h2>Red and yellow after the rollback</h2>' + "".join(after_checks)
                    + "</section>")
    html = ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<meta name=viewport content='width=device-width,initial-scale=1'><title>{_t(title)} · mt-verify "
            f"{_t(env.get('name') or '')}</title><style>{_CSS}</style></head><body><main>"
            + "".join(body) + "</main></body></html>\n")
    path = run_dir / FILE_NAME
    path.write_text(html, encoding="utf-8")
    return path
