"""The run's verdict on one screen: ``summary.json`` (for machines, schema in ``SCHEMA.md``) and ``summary.md``
(the same content for people), both in the run folder.

The JSON is the source of truth: :func:`render_markdown` is a pure function of it, so :func:`add_gate_section`
can add the gate's decision later by loading the JSON, adding ``gate`` and writing both files again.

Traffic lights per area (row): ``green`` passed; ``yellow`` passed with a warning (a :class:`CheckWarning`, or a
test that passed only after a rerun); ``red`` a test failed (``status: failed``) or the suite could not check
(``status: error``: unreachable target, suite bug; never a reason to roll back); ``yellow`` too for a check the
environment asks for that could not run (``status: not_verified``: no smoke credentials, no expected release; see
:func:`mt_verify.outcome.not_verified`), never grey; ``grey`` nothing ran (not selected, turned off, or every test
skipped), with the reason.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mt_verify.outcome import TestOutcome
from mt_verify.redact import redact_text
from mt_verify.reporting.areas import AREAS, OTHER, order_key

SCHEMA_VERSION = 1
JSON_NAME = "summary.json"
MD_NAME = "summary.md"
STEP_SUMMARY_VAR = "GITHUB_STEP_SUMMARY"

#: One line of reason is cut to this many characters.
REASON_MAX = 240

LIGHT_ICON = {"green": "🟢", "yellow": "🟡", "red": "🔴", "grey": "⚪"}
STATUS_ICON = {"passed": "🟢", "warning": "🟡", "not_verified": "🟡", "failed": "🔴", "error": "⛔", "skipped": "⚪",
               "not_run": "⚪"}
VERDICT_TEXT = {
    "passed": "🟢 PASSED",
    "passed_with_warnings": "🟡 PASSED WITH WARNINGS",
    "not_verified": "🟡 NOT VERIFIED (checks the environment asks for could not run)",
    "failed": "🔴 FAILED",
    "error": "⛔ SUITE ERROR (could not check)",
    "no_tests": "⚪ NO TESTS RAN",
}


def one_line(text: object, limit: int = REASON_MAX) -> str:
    """The first non-empty line of ``text``, redacted and cut to ``limit`` characters."""
    for line in str(text or "").splitlines():
        line = " ".join(line.split())
        if line:
            line = redact_text(line)
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def status_of(verdict: str, warnings: list[str], reruns: int, not_verified: bool = False) -> str:
    """A test's light as a word: passed, warning, failed, error, not_verified, skipped. The one place a skip is
    told apart as *not verified* (the test said so: :func:`mt_verify.outcome.not_verified`)."""
    if verdict == "skipped" and not_verified:
        return "not_verified"
    if verdict in ("failed", "error", "skipped"):
        return verdict
    return "warning" if warnings or reruns else "passed"


_DEPLOYMENT = re.compile(r"(?:\bDeployment/|\(Deployment )([a-z0-9][a-z0-9.-]*)")
#: A Deployment's pod: ``<deployment>-<pod-template-hash>-<5 characters>`` (Kubernetes' naming).
_POD = re.compile(r"\b[Pp]od/([a-z0-9][a-z0-9.-]*?)-[a-z0-9]{5,10}-[a-z0-9]{5}\b")


def object_of(reason: str) -> str | None:
    """The Kubernetes object a red test's first line is about, as ``Deployment <name>``: one crash-looping backend
    fails its events, pods-ready, restarts and rollout checks, and the summary shows them as one story."""
    found = _DEPLOYMENT.search(reason) or _POD.search(reason)
    return f"Deployment {found.group(1)}" if found else None


def test_entry(rec: TestOutcome, reruns: int = 0) -> dict[str, Any]:
    """One test in ``summary.json`` (``SCHEMA.md``), from its outcome record."""
    verdict = rec.verdict
    status = status_of(verdict, rec.warnings, reruns, rec.not_verified)
    return {
        "nodeid": rec.nodeid,
        "area": rec.area,
        "tier": rec.tier,
        "gate": rec.gate,
        "markers": list(rec.markers),
        "outcome": rec.outcome,
        "mt_verdict": verdict,
        "status": status,
        "object": object_of(rec.reason) if status in ("failed", "error") else None,
        "reason": rec.reason if verdict in ("failed", "error") else (rec.skip_reason if verdict == "skipped" else ""),
        "warnings": list(rec.warnings),
        "flaky": reruns > 0 and verdict == "passed",
        "reruns": reruns,
        "duration_s": round(rec.duration_s, 3),
        "evidence": list(rec.evidence),
        "notes": list(rec.notes),
    }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _area_rows(tests: list[dict[str, Any]], not_run_reason: str,
               not_run_reasons: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """One row per area; an area no test ran in says why (``not_run_reasons`` by area, else ``not_run_reason``)."""
    by_area: dict[str, list[dict[str, Any]]] = {name: [] for name in AREAS}
    for t in tests:
        by_area.setdefault(t["area"], []).append(t)
    rows = []
    for name in sorted(by_area, key=order_key):
        members = by_area[name]
        counts = {k: 0 for k in ("passed", "warning", "not_verified", "failed", "error", "skipped")}
        for t in members:
            counts[t["status"]] += 1
        red = [t for t in members if t["status"] in ("failed", "error")]
        yellow = [t for t in members if t["status"] == "warning"]
        unverified = [t for t in members if t["status"] == "not_verified"]
        reason = ""
        if not members:
            light, status, reason = "grey", "not_run", (not_run_reasons or {}).get(name, not_run_reason)
        elif red:
            light = "red"
            status = "failed" if counts["failed"] else "error"
            first = next(t for t in red if t["status"] == status)
            reason = first["reason"] or first["nodeid"]
            if status == "error" and not reason.startswith(_SUITE_PREFIX):
                reason = f"could not check: {reason}"
            reason = one_line(reason)
            if len(red) > 1:
                reason += f" (+{len(red) - 1} more)"
        elif unverified:
            light, status = "yellow", "not_verified"
            reason = one_line(unverified[0]["reason"] or unverified[0]["nodeid"])
            if len(unverified) > 1:
                reason += f" (+{len(unverified) - 1} more)"
        elif yellow:
            light, status = "yellow", "warning"
            first = yellow[0]
            reason = first["warnings"][0] if first["warnings"] else \
                f"flaky: passed after {_plural(first['reruns'], 'rerun')} ({first['nodeid']})"
            reason = one_line(reason)
            more = sum(len(t["warnings"]) or 1 for t in yellow) - 1
            if more > 0:
                reason += f" (+{more} more)"
        elif counts["passed"]:
            light, status = "green", "passed"
        else:
            light, status = "grey", "skipped"
            reason = next((t["reason"] for t in members if t["reason"]), "skipped")
        if name == OTHER and not members:
            continue
        rows.append({"name": name, "light": light, "status": status, "reason": reason,
                     "tests": len(members), "counts": counts})
    return rows


def verdict_of(tests: Iterable[Mapping[str, Any]]) -> str:
    statuses = [t["status"] for t in tests]
    if not statuses or all(s == "skipped" for s in statuses):
        return "no_tests"
    if "failed" in statuses:
        return "failed"
    if "error" in statuses:
        return "error"
    if "not_verified" in statuses:
        return "not_verified"
    if "warning" in statuses:
        return "passed_with_warnings"
    return "passed"


def _counts(tests: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    out = {"total": 0, "passed": 0, "failed": 0, "error": 0, "skipped": 0, "not_verified": 0, "warnings": 0,
           "flaky": 0}
    for t in tests:
        out["total"] += 1
        out["not_verified"] += t["status"] == "not_verified"
        out[t["mt_verdict"]] = out.get(t["mt_verdict"], 0) + 1
        out["warnings"] += len(t["warnings"])
        out["flaky"] += bool(t["flaky"])
    return out


#: Examples of each note kind kept in the run's summary.
NOTE_EXAMPLES = 3


def notes_of(tests: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every note of the run by kind: how many, and a few examples with the test that made them."""
    out: dict[str, dict[str, Any]] = {}
    for t in tests:
        for n in t.get("notes") or ():
            entry = out.setdefault(str(n.get("kind", "note")), {"count": 0, "examples": []})
            entry["count"] += 1
            if len(entry["examples"]) < NOTE_EXAMPLES:
                entry["examples"].append({"nodeid": t["nodeid"], "text": one_line(n.get("text", ""), 300)})
    return dict(sorted(out.items()))


def _run_notes(run: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Notes about the whole run, not one test: allow-list entries no process matched (every one is listed)."""
    from mt_verify.allowlist_usage import stale_notes

    out: dict[str, dict[str, Any]] = {}
    for n in stale_notes(run.get("dir")):
        entry = out.setdefault(n["kind"], {"count": 0, "examples": []})
        entry["count"] += 1
        entry["examples"].append({"nodeid": "(run)", "text": one_line(n["text"], 300)})
    return out


def build(
    records: Iterable[TestOutcome],
    *,
    environment: Mapping[str, Any],
    version: Mapping[str, Any],
    run: Mapping[str, Any],
    not_run_reason: str = "not run: no test of this area was selected",
    reruns: Mapping[str, int] | None = None,
    not_run_reasons: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The summary document (see ``SCHEMA.md``). ``not_run_reasons``: why an area's selected tests never ran."""
    from mt_verify import __version__

    reruns = reruns or {}
    tests = [test_entry(r, reruns.get(r.nodeid, 0))
             for r in sorted(records, key=lambda r: (order_key(r.area), r.nodeid))]
    gate_tests = [t for t in tests if t["gate"]]
    return {
        "schema_version": SCHEMA_VERSION,
        "suite": {"name": "mt-verify", "version": __version__},
        "environment": dict(environment),
        "run": dict(run),
        "version": dict(version),
        "verdict": verdict_of(tests),
        "gate_verdict": verdict_of(gate_tests),
        "counts": _counts(tests),
        "gate_counts": _counts(gate_tests),
        "areas": _area_rows(tests, not_run_reason, not_run_reasons),
        "notes": {**notes_of(tests), **_run_notes(run)},
        "tests": tests,
        "gate": None,
    }


# -- Markdown ----------------------------------------------------------------------------------------


def _cell(text: object, limit: int | None = None) -> str:
    out = str(text if text not in (None, "") else "—").replace("\n", " ")
    if limit is not None and len(out) > limit:
        out = out[: limit - 1] + "…"
    return out.replace("|", "\\|")


#: Width of a reason in the Markdown table (summary.json keeps the whole line).
MD_REASON = 150
_SUITE_PREFIX = "SUITE ERROR (nothing was checked): "
_MORE = re.compile(r"(.*?)( \(\+\d+ more\))?$", re.DOTALL)


def _short_reason(text: str) -> str:
    return "could not check: " + text[len(_SUITE_PREFIX):] if text.startswith(_SUITE_PREFIX) else text


def _version_line(version: Mapping[str, Any]) -> tuple[str, str]:
    expected = version.get("expected") or "not given"
    served = version.get("served")
    if served:
        sha = version.get("served_commit_sha")
        served_text = f"{served} ({sha[:7]})" if sha else str(served)
        match = version.get("matches")
        if match is True:
            served_text += " ✅ matches"
        elif match is False:
            served_text += " ❌ differs from expected"
        if version.get("served_varied"):
            served_text += f" (varied during the run: {', '.join(version['served_varied'])})"
    else:
        served_text = "not observed (no check read /api/version)"
    return str(expected), served_text


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(round(seconds), 60)
    return f"{minutes} min {sec:02d} s"


def render_gate(gate: Mapping[str, Any]) -> str:
    lines = ["### Gate", "", "| | |", "|---|---|", f"| Decision | **{_cell(gate.get('decision'))}** |"]
    if gate.get("reason"):
        lines.append(f"| Why | {_cell(gate['reason'])} |")
    command = gate.get("rollback_command")
    if command:
        code = gate.get("rollback_exit_code")
        tail = f" (exit {code})" if code is not None else ""
        lines.append(f"| Rollback | `{_cell(command)}`{tail} |")
    else:
        lines.append("| Rollback | none taken |")
    after = gate.get("verdict_after_rollback")
    if after:
        icon = VERDICT_TEXT.get(after, after)
        lines.append(f"| Verdict after rollback | {icon} |")
    if gate.get("after_run"):
        lines.append(f"| Run after rollback | `{_cell(gate['after_run'])}` |")
    details = gate.get("details") or {}
    for key, label in (("confirmed_failures", "Confirmed failures"), ("flaky", "Flaky (passed when run again)"),
                       ("non_gating_failures", "Non-gating failures")):
        items = details.get(key)
        if isinstance(items, list) and items:
            shown = ", ".join(f"`{_cell(i)}`" for i in items[:5])
            if len(items) > 5:
                shown += f" (+{len(items) - 5} more)"
            lines.append(f"| {label} | {shown} |")
    if details.get("exit_code") is not None:
        lines.append(f"| Gate exit code | {_cell(details['exit_code'])} |")
    return "\n".join(lines) + "\n"


def render_markdown(data: Mapping[str, Any]) -> str:
    env = data.get("environment", {})
    run = data.get("run", {})
    counts = data.get("counts", {})
    expected, served = _version_line(data.get("version", {}))
    verdict = VERDICT_TEXT.get(data.get("verdict", ""), str(data.get("verdict")))
    where = f"{env.get('name', '?')}" + (f" ({env['site_url']})" if env.get("site_url") else "")
    tally = ", ".join(
        f"{counts.get(k, 0)} {label}" for k, label in
        (("passed", "passed"), ("failed", "failed"), ("error", "errors"), ("skipped", "skipped"))
    )
    extras = []
    if counts.get("not_verified"):
        extras.append(f"{counts['not_verified']} not verified")
    if counts.get("warnings"):
        extras.append(_plural(counts["warnings"], "warning"))
    if counts.get("flaky"):
        extras.append(f"{counts['flaky']} flaky")
    if extras:
        tally += " · " + ", ".join(extras)
    lines = [
        f"## mt-verify · {env.get('name', '?')} · {verdict}",
        "",
        "| | |",
        "|---|---|",
        f"| Environment | {_cell(where)} |",
        f"| Expected version | {_cell(expected)} |",
        f"| Served version | {_cell(served)} |",
        f"| Duration | {_duration(run.get('duration_s'))} (started {_cell(run.get('started_at'))}) |",
        f"| Tests | {tally} |",
        "",
        "| Area | | Tests | Reason |",
        "|---|---|---|---|",
    ]
    for row in data.get("areas", []):
        icon = STATUS_ICON.get(row["status"], "")
        word = {"not_run": "not run", "not_verified": "not verified"}.get(row["status"], row["status"])
        c = row["counts"]
        if row["tests"] == 0:
            tests = "—"
        else:
            bad = c["failed"] + c["error"]
            ok = c["passed"] + c["warning"]
            if bad:
                tests = f"{bad}/{row['tests']} red"
            elif c.get("not_verified"):
                tests = f"{c['not_verified']}/{row['tests']} not verified"
            elif ok:
                tests = f"{ok}/{row['tests']} passed"
            else:
                tests = f"{c['skipped']}/{row['tests']} skipped"
        reason, more = _MORE.match(_short_reason(row["reason"])).groups()  # type: ignore[union-attr]  # matches any text
        reason = _cell(reason, MD_REASON) + (more or "")
        lines.append(f"| {_cell(row['name'])} | {icon} {word} | {tests} | {reason} |")
    # Keyed by (status, is-an-object, text): the red tests of one Kubernetes object are one line (one root cause);
    # the rest are grouped by their reason.
    groups: dict[tuple[str, bool, str], list[dict[str, Any]]] = {}
    reds = [t for t in data.get("tests", []) if t["status"] in ("failed", "error")]
    shared = {o for o in (t.get("object") for t in reds) if o and sum(r.get("object") == o for r in reds) > 1}
    for t in data.get("tests", []):
        if t["status"] in ("failed", "error", "not_verified", "warning"):
            if t["status"] in ("failed", "error") and t.get("object") in shared:
                groups.setdefault((t["status"], True, t["object"]), []).append(t)
                continue
            text = t["reason"] or "; ".join(t["warnings"]) or ("flaky: passed after a rerun" if t["flaky"] else "")
            groups.setdefault((t["status"], False, _short_reason(text)), []).append(t)
    if groups:
        lines += ["", "<details><summary>Red and yellow tests</summary>", ""]
        order = {"failed": 0, "error": 1, "not_verified": 2, "warning": 3}
        for (status, is_object, text), members in sorted(groups.items(), key=lambda kv: order[kv[0][0]])[:12]:
            icon = STATUS_ICON[status]
            if is_object:
                names = ", ".join(f"`{m['nodeid'].rsplit('::', 1)[-1]}`" for m in members[:4])
                more = f" +{len(members) - 4}" if len(members) > 4 else ""
                first = _short_reason(members[0]["reason"])
                lines.append(f"- {icon} **{_cell(text)}**: {len(members)} red checks, one object ({names}{more}); "
                             f"first: {_cell(first, 300)}")
                continue
            if len(members) == 1:
                t = members[0]
                gate = " [gate]" if t["gate"] else ""
                lines.append(f"- {icon} `{t['nodeid']}`{gate}: {_cell(text, 300)}")
            else:
                names = ", ".join(f"`{m['nodeid'].rsplit('::', 1)[-1]}`" for m in members[:3])
                more = f" +{len(members) - 3}" if len(members) > 3 else ""
                lines.append(f"- {icon} {len(members)} tests ({names}{more}): {_cell(text, 300)}")
        if len(groups) > 12:
            lines.append(f"- … {len(groups) - 12} more reasons in summary.json")
        lines += ["", "</details>"]
    notes = data.get("notes") or {}
    if notes:
        lines += ["", "<details><summary>Notes: forgiven on the way to green</summary>", ""]
        for kind, entry in notes.items():
            example = entry["examples"][0]["text"] if entry.get("examples") else ""
            lines.append(f"- {_cell(kind)}: {entry.get('count', 0)} (e.g. {_cell(example, 200)})")
            if kind == "stale-allow-list":  # every stale entry by name: the allow-list can shrink
                lines += [f"  - {_cell(e['text'], 200)}" for e in entry["examples"][1:]]
        lines += ["", "</details>"]
    if run.get("dir"):
        lines += ["", f"Reports: `{run['dir']}` (summary.json, junit.xml, allure-results/, evidence/)"]
    text = "\n".join(lines) + "\n"
    if data.get("gate"):
        text += "\n" + render_gate(data["gate"])
    return text


# -- files -------------------------------------------------------------------------------------------


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write(run_dir: Path, data: Mapping[str, Any]) -> str:
    """Write ``summary.json`` and ``summary.md`` into ``run_dir``; return the Markdown."""
    run_dir.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(data)
    _write_atomic(run_dir / JSON_NAME, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    _write_atomic(run_dir / MD_NAME, markdown)
    return markdown


def append_step_summary(markdown: str, environ: Mapping[str, str] | None = None) -> None:
    """Append to the GitHub Actions job summary when ``GITHUB_STEP_SUMMARY`` is set."""
    target = (os.environ if environ is None else environ).get(STEP_SUMMARY_VAR)
    if not target:
        return
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(markdown if markdown.endswith("\n") else markdown + "\n")
        fh.write("\n")


def load(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / JSON_NAME).read_text(encoding="utf-8"))


_GATE_ALIASES = {
    "verdict_after": "verdict_after_rollback",
    "after_verdict": "verdict_after_rollback",
    "rollback_returncode": "rollback_exit_code",
    "rollback_rc": "rollback_exit_code",
    "command": "rollback_command",
}
_GATE_FIELDS = ("decision", "reason", "rollback_command", "rollback_exit_code", "verdict_after_rollback", "after_run")


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {str(k): _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


def normalise_gate(gate: Mapping[str, Any]) -> dict[str, Any]:
    """The gate section in its documented shape (``SCHEMA.md``): known fields first, the rest under ``details``."""
    raw = {_GATE_ALIASES.get(k, k): v for k, v in gate.items()}
    if not raw.get("decision"):
        raise ValueError("add_gate_section: 'decision' is required (e.g. 'rollback', 'no rollback', 'proceed')")
    command = raw.get("rollback_command")
    if isinstance(command, list | tuple):
        command = shlex.join(str(part) for part in command)
    code = raw.get("rollback_exit_code")
    out: dict[str, Any] = {
        "decision": str(raw["decision"]),
        "reason": one_line(raw.get("reason", ""), 500) or None,
        "rollback_command": redact_text(command) if command else None,
        "rollback_exit_code": int(code) if code is not None else None,
        "verdict_after_rollback": str(raw["verdict_after_rollback"]) if raw.get("verdict_after_rollback") else None,
        "after_run": str(raw["after_run"]) if raw.get("after_run") else None,
    }
    details = {k: v for k, v in raw.items() if k not in _GATE_FIELDS}
    out["details"] = _redact_value(details)
    return out


def _mark_flaky(data: dict[str, Any], flaky: Iterable[str]) -> None:
    """Tests that failed here but passed when the gate ran them again are yellow (flaky), not red."""
    names = set(flaky)
    tests = data.get("tests") or []
    changed = False
    for t in tests:
        if t.get("nodeid") in names and t.get("status") in ("failed", "error"):
            note = "flaky: failed, then passed when the gate ran it again"
            t.update(status="warning", flaky=True, warnings=[*t.get("warnings", []), f"{note}: {t.get('reason', '')}"])
            changed = True
    if not changed:
        return
    gate_tests = [t for t in tests if t.get("gate")]
    data.update(verdict=verdict_of(tests), gate_verdict=verdict_of(gate_tests), counts=_counts(tests),
                gate_counts=_counts(gate_tests), areas=_area_rows(tests, "not run: no test of this area was selected"))


def add_gate_section(run_dir: Path, gate: dict[str, Any]) -> None:
    """Record the gate's decision in this run's summary: rewrites ``summary.json`` (``gate``) and ``summary.md``
    (a "Gate" section), and appends that section to ``$GITHUB_STEP_SUMMARY`` when set.

    ``gate`` keys (``SCHEMA.md``): ``decision`` (required), ``reason``, ``rollback_command`` (str or argv list),
    ``rollback_exit_code``, ``verdict_after_rollback`` (``passed``/``failed``/``error``/...), ``after_run``
    (the run folder of the verification after the rollback); any other key is kept under ``details``.
    Calling it again replaces the section. Without a ``summary.json`` (pytest did not finish) a minimal one is
    written so that the decision is still on record.
    """
    run_dir = Path(run_dir)
    section = normalise_gate(gate)
    try:
        data = load(run_dir)
    except FileNotFoundError:
        data = {"schema_version": SCHEMA_VERSION, "suite": {"name": "mt-verify"}, "environment": {},
                "run": {"dir": str(run_dir)}, "version": {}, "verdict": "error", "gate_verdict": "error",
                "counts": {}, "gate_counts": {}, "areas": [], "tests": [],
                "note": "pytest wrote no summary for this run"}
    data["gate"] = section
    _mark_flaky(data, gate.get("flaky") or [])
    write(run_dir, data)
    append_step_summary(render_gate(section))
