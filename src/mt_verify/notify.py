"""Somebody is told: after a gate or a plain run, metrics are written and pushed and the webhooks are called.

The gate calls :func:`after_gate` once, at its very end, with ``GateResult.to_json()``; ``mt-verify run`` calls
:func:`after_run` from the run's ``summary.json``. Neither ever changes the exit code or raises: a message that
could not be delivered is one line in the output and a note in the run's record (``gate.json`` for the gate,
``notify.json`` for a plain run).

What is sent (``notify.webhooks[]`` of the environment file), when its outcome is in the webhook's ``on``:
the verdict and exit code, the failing areas with their one line, the confirmed failures, the rollback taken
(command, how long, what it rolled back to, the verification after it) and a link to the report
(``notify.report_url``). ``format: slack`` posts Slack-compatible ``{"text", "blocks"}``; ``format: json`` posts
the plain record (:func:`message`). The URL, and any header that carries a credential, come from environment
variables the file names: neither is ever printed or written.

Maintenance windows (``maintenance:``) hold the notifications of ``mt-verify run`` (the nightly run): it still
writes its reports and metrics, and says once that nobody was told. A gate always notifies: a gate runs because
somebody deployed, inside a window or not.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from mt_verify import config as cfg
from mt_verify import metrics
from mt_verify.delivery import send
from mt_verify.redact import redact_text, register_secret

GATE_EVENTS = {0: "passed", 1: "rolled_back", 2: "not_rolled_back", 3: "rollback_failed", 4: "error"}
_WORDS = {"passed": "PASSED", "failed": "FAILED", "rolled_back": "ROLLED BACK", "not_rolled_back": "FAILED, NOT ROLLED "
          "BACK", "rollback_failed": "ROLLBACK FAILED", "error": "COULD NOT VERIFY"}
_ICONS = {"passed": ":large_green_circle:", "failed": ":red_circle:", "rolled_back": ":large_orange_circle:",
          "not_rolled_back": ":red_circle:", "rollback_failed": ":rotating_light:", "error": ":warning:"}


@dataclass(frozen=True)
class Settings:
    file: Path
    name: str
    notify: cfg.Notify
    metrics: cfg.Metrics
    maintenance: list[cfg.MaintenanceWindow]


def load_settings(env: str, environ: Mapping[str, str] | None = None) -> Settings:
    """Only the ``notify``, ``metrics`` and ``maintenance`` sections of an environment file, expanded and validated.

    The rest is not expanded: after a gate the sandbox is gone and so are the ``MT_SANDBOX_*`` variables its other
    sections reference."""
    environ = os.environ if environ is None else environ
    path, raw = cfg.load_raw(env)
    name = str(raw.get("name") or path.stem)
    try:
        notify = cfg.Notify.model_validate(cfg.expand(raw.get("notify") or {}, environ, "notify", path))
        mets = cfg.Metrics.model_validate(cfg.expand(raw.get("metrics") or {}, environ, "metrics", path))
        windows = [cfg.MaintenanceWindow.model_validate(w) for w in
                   cfg.expand(raw.get("maintenance") or [], environ, "maintenance", path)]
    except cfg.ConfigError:
        raise
    except Exception as exc:  # mt_verify.schema.ValidationError: one line, as the loader's
        errors = getattr(exc, "errors", None)
        first = errors()[0] if callable(errors) else {"loc": (), "msg": str(exc)}
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise cfg.ConfigError(f"{path}: {where or 'notify/metrics/maintenance'}: {first.get('msg')}") from None
    return Settings(path, name, notify, mets, windows)


def active_window(windows: list[cfg.MaintenanceWindow], now: datetime | None = None) -> cfg.MaintenanceWindow | None:
    now = now or datetime.now(UTC)
    return next((w for w in windows if w.contains(now)), None)


# -- the message -----------------------------------------------------------------------------------------------------


def _summary(run_dir: Path | None) -> dict[str, Any]:
    if run_dir is None:
        return {}
    try:
        return json.loads((Path(run_dir) / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _failing_areas(summary: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"name": a.get("name", "?"), "light": a.get("light", "red"), "reason": redact_text(a.get("reason", ""))}
            for a in summary.get("areas") or [] if a.get("light") == "red"]


def report_link(template: str | None, *, env: str, run_dir: Path | None, exit_code: int) -> str | None:
    if not template:
        return None
    run = Path(run_dir).name if run_dir else ""
    try:
        return template.format(env=env, run=run, exit_code=exit_code)
    except (KeyError, IndexError, ValueError):
        return template


def _rollback(gate: Mapping[str, Any]) -> dict[str, Any] | None:
    info = gate.get("rollback")
    if not info:
        return None
    plan = info.get("plan") or {}
    executions = info.get("executions") or []
    after = gate.get("after_rollback")
    return {
        "strategy": info.get("strategy"),
        "dry_run": bool(info.get("dry_run")),
        "executed": bool(executions),
        "commands": [" ".join(c) for c in plan.get("commands") or []],
        "target_version": plan.get("target_version"),
        "seconds": metrics.rollback_seconds(gate),
        "refused": info.get("refused"),
        "error": info.get("error"),
        "verified_after": None if after is None else bool(after.get("passed")),
    }


def message(kind: str, *, env: str, event: str, exit_code: int, reason: str, summary: Mapping[str, Any],
            gate: Mapping[str, Any] | None, report_url: str | None, run_dir: Path | None) -> dict[str, Any]:
    """The plain record (``format: json``); the Slack text is rendered from it."""
    failed = (list(gate.get("confirmed_failures") or gate.get("gating_failures") or []) if gate else
              [t["nodeid"] for t in summary.get("tests") or [] if t.get("status") in ("failed", "error")])
    return {
        "source": "mt-verify", "kind": kind, "env": env, "event": event, "exit_code": exit_code,
        "verdict": _WORDS.get(event, event.upper()), "reason": redact_text(reason),
        "expected_version": (gate or {}).get("expected_version") or (summary.get("version") or {}).get("expected"),
        "served_version": (summary.get("version") or {}).get("served"),
        "failing_areas": _failing_areas(summary), "failed_checks": failed[:20],
        "rollback": _rollback(gate) if gate else None,
        "report_url": report_url, "run": Path(run_dir).name if run_dir else None,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def slack(record: Mapping[str, Any]) -> dict[str, Any]:
    """Slack-compatible payload (``text`` for notifications, ``blocks`` for the message)."""
    what = "gate" if record["kind"] == "gate" else "run"
    version = f" {record['expected_version']}" if record.get("expected_version") else ""
    title = (f"{_ICONS.get(record['event'], '')} mt-verify {what} [{record['env']}]{version}: {record['verdict']} "
             f"(exit {record['exit_code']})").strip()
    lines = [f"*{record['verdict']}*: {record['reason']}" if record.get("reason") else f"*{record['verdict']}*"]
    if record["failing_areas"]:
        lines.append("*Failing areas*\n" + "\n".join(f"• {a['name']}: {a['reason']}" for a in record["failing_areas"]))
    rb = record.get("rollback")
    if rb:
        if rb["executed"]:
            after = {True: "verified green after", False: "verification after it FAILED",
                     None: ""}[rb["verified_after"]]
            lines.append(f"*Rollback* ({rb['strategy']}, {rb['seconds']:g} s) to {rb['target_version'] or '?'}: "
                         + ", ".join(f"`{c}`" for c in rb["commands"]) + (f"; {after}" if after else ""))
        elif rb.get("dry_run"):
            lines.append("*Rollback* planned (dry run), not run: " + ", ".join(f"`{c}`" for c in rb["commands"]))
        else:
            lines.append(f"*Rollback* not taken: {rb.get('refused') or rb.get('error') or 'disabled'}")
    if record.get("report_url"):
        lines.append(f"<{record['report_url']}|Report>")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": title}}]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": line[:2900]}} for line in lines]
    return {"text": title, "blocks": blocks}


# -- delivery --------------------------------------------------------------------------------------------------------


def _deliver(hook: cfg.Webhook, record: Mapping[str, Any], environ: Mapping[str, str], out: TextIO) -> dict[str, Any]:
    label = f"webhook {hook.url_env} ({hook.format})"
    result: dict[str, Any] = {"webhook": hook.url_env, "format": hook.format, "event": record["event"],
                              "delivered": False, "attempts": 0, "duration_s": 0.0, "error": ""}
    url = environ.get(hook.url_env, "")
    headers = {"Content-Type": "application/json", "User-Agent": "mt-verify"}
    missing = [] if url else [hook.url_env]
    for header, var in hook.headers_env.items():
        if environ.get(var):
            headers[header] = environ[var]
            register_secret(environ[var])
        else:
            missing.append(var)
    if missing:
        result["error"] = f"{', '.join(missing)} not set"
        print(f"mt-verify notify: {label} not told: environment variable {', '.join(missing)} is not set",
              file=out, flush=True)
        return result
    register_secret(url)
    payload = slack(record) if hook.format == "slack" else dict(record)
    body = json.dumps(payload).encode()
    outcome = send("POST", url, body, headers, timeout_s=hook.timeout, retries=hook.retries, backoff_s=hook.backoff)
    result.update(delivered=outcome.ok, attempts=outcome.attempts, duration_s=round(outcome.duration_s, 3),
                  error=outcome.error)
    if outcome.ok:
        print(f"mt-verify notify: told {label}: {record['verdict']}", file=out, flush=True)
    else:
        print(f"mt-verify notify: {label} NOT told ({outcome.error}; {outcome.attempts} attempt(s) in "
              f"{outcome.duration_s:.1f} s, deadline {hook.timeout:g} s); the verdict and exit code stand",
              file=out, flush=True)
    return result


def _metrics(settings: Settings, samples: list[metrics.Sample], kind: str, run_dir: Path | None,
             out: TextIO) -> dict[str, Any]:
    record: dict[str, Any] = {"file": None, "push": None}
    if run_dir is not None:
        try:
            record["file"] = str(metrics.write(Path(run_dir), samples, env=settings.name))
        except OSError as exc:
            print(f"mt-verify metrics: could not write {Path(run_dir) / metrics.FILE_NAME}: {exc.strerror}",
                  file=out, flush=True)
    url = settings.metrics.pushgateway_url
    if url:
        register_secret(urlsplit_password(url))
        pushed = metrics.push(url, samples, job=settings.metrics.job, env=settings.name, kind=kind,
                              timeout_s=settings.metrics.timeout, retries=settings.metrics.retries)
        record["push"] = pushed.to_json()
        group = f"job {settings.metrics.job}, env {settings.name}, kind {kind}"
        if pushed.ok:
            print(f"mt-verify metrics: pushed {len(samples)} samples to {pushed.target} ({group})", file=out,
                  flush=True)
        else:
            print(f"mt-verify metrics: push to {pushed.target} failed ({pushed.error}; {pushed.attempts} "
                  f"attempt(s) in {pushed.duration_s:.1f} s); the verdict and exit code stand", file=out, flush=True)
    return record


def urlsplit_password(url: str) -> str | None:
    from urllib.parse import urlsplit

    return urlsplit(url).password


def _tell(settings: Settings, record: dict[str, Any], environ: Mapping[str, str], out: TextIO,
          held: cfg.MaintenanceWindow | None) -> list[dict[str, Any]]:
    hooks = [h for h in settings.notify.webhooks if record["event"] in h.on]
    if held is not None and hooks:
        print(f"mt-verify notify: inside the maintenance window {held.start}-{held.end}"
              f"{f' {held.weekly}' if held.weekly else ''} UTC ({held.reason or 'no reason given'}): reported, "
              f"nobody told", file=out, flush=True)
        return [{"webhook": h.url_env, "format": h.format, "event": record["event"], "delivered": False,
                 "held": "maintenance window"} for h in hooks]
    return [_deliver(h, record, environ, out) for h in hooks]


# -- entry points ----------------------------------------------------------------------------------------------------


def after_gate(env: str, gate_json: Mapping[str, Any], run_dir: Path | None, *, out: TextIO = sys.stdout,
               environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Metrics and notifications of a finished gate run; the outcome is also added to ``gate.json``."""
    environ = os.environ if environ is None else environ
    try:
        settings = load_settings(env, environ)
        summary = _summary(run_dir)
        code = int(gate_json.get("exit_code", 4))
        event = GATE_EVENTS.get(code, "error")
        decision = ((summary.get("gate") or {}).get("decision")) or event
        samples = metrics.check_samples(summary) + metrics.gate_samples(gate_json, decision) if summary else \
            metrics.gate_samples(gate_json, decision)
        outcome: dict[str, Any] = {"metrics": _metrics(settings, samples, "gate", run_dir, out)}
        link = report_link(settings.notify.report_url, env=settings.name, run_dir=run_dir, exit_code=code)
        record = message("gate", env=settings.name, event=event, exit_code=code,
                         reason=str(gate_json.get("reason", "")), summary=summary, gate=gate_json, report_url=link,
                         run_dir=run_dir)
        outcome["notifications"] = _tell(settings, record, environ, out, None)
    except Exception as exc:  # never change the gate's verdict
        outcome = {"error": f"{type(exc).__name__}: {redact_text(str(exc))}"}
        print(f"mt-verify notify: not done: {outcome['error']}", file=out, flush=True)
    _record_in_gate_json(run_dir, outcome)
    return outcome


def _notes(outcome: Mapping[str, Any]) -> list[str]:
    notes = [f"notification to {n['webhook']} not delivered: {n.get('error') or n.get('held')}"
             for n in outcome.get("notifications") or [] if not n.get("delivered") and not n.get("held")]
    push = (outcome.get("metrics") or {}).get("push")
    if push and not push["ok"]:
        notes.append(f"metrics push to {push['target']} failed: {push['error']}")
    if outcome.get("error"):
        notes.append(f"notifications not done: {outcome['error']}")
    return notes


def _record_in_gate_json(run_dir: Path | None, outcome: Mapping[str, Any]) -> None:
    if run_dir is None:
        return
    path = Path(run_dir) / "gate.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    data["notify"] = outcome
    data["notes"] = list(data.get("notes") or []) + _notes(outcome)
    try:
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    except OSError:
        pass


def run_event(summary: Mapping[str, Any], exit_code: int) -> str:
    verdict = summary.get("verdict")
    if exit_code == 0 and verdict in ("passed", "passed_with_warnings", None):
        return "passed"
    if verdict == "failed":
        return "failed"
    return "error"


def after_run(env: str, run_dir: Path, exit_code: int, *, out: TextIO = sys.stdout,
              environ: Mapping[str, str] | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Metrics and notifications of a plain ``mt-verify run``, from its ``summary.json``; written to
    ``notify.json`` in the run folder. Held inside a maintenance window."""
    environ = os.environ if environ is None else environ
    try:
        settings = load_settings(env, environ)
        summary = _summary(run_dir)
        event = run_event(summary, exit_code) if summary else "error"
        outcome: dict[str, Any] = {"metrics": _metrics(settings, metrics.check_samples(summary), "run", run_dir, out)}
        held = active_window(settings.maintenance, now)
        if held is not None:
            outcome["maintenance"] = held.model_dump()
        link = report_link(settings.notify.report_url, env=settings.name, run_dir=run_dir, exit_code=exit_code)
        reason = next((a["reason"] for a in _failing_areas(summary)), "") if summary else "the run wrote no summary"
        record = message("run", env=settings.name, event=event, exit_code=exit_code, reason=reason, summary=summary,
                         gate=None, report_url=link, run_dir=run_dir)
        outcome["notifications"] = _tell(settings, record, environ, out, held)
    except Exception as exc:
        outcome = {"error": f"{type(exc).__name__}: {redact_text(str(exc))}"}
        print(f"mt-verify notify: not done: {outcome['error']}", file=out, flush=True)
    outcome["notes"] = _notes(outcome)
    try:
        (Path(run_dir) / "notify.json").write_text(json.dumps(outcome, indent=2) + "\n", encoding="utf-8")
    except OSError:
        pass
    return outcome
