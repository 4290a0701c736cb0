"""Metrics of a run: per check (status, duration) and per gate run (verdict, exit code, rollback seconds).

Written to ``metrics.txt`` in the run folder as OpenMetrics text, and pushed, when the environment names one
(``metrics.pushgateway_url``), to a Prometheus Pushgateway under the grouping key ``job``/``env``/``kind``
(``kind`` is ``run`` or ``gate``) with PUT, so that each push replaces the previous run's group: a check that
disappeared does not linger as a stale series.

Every value is a gauge::

    mt_verify_check_status{check, area, tier, status}  1      one series per check, its status as a label
    mt_verify_check_duration_seconds{check, area, tier}
    mt_verify_run_verdict{verdict} 1, mt_verify_run_exit_code, mt_verify_run_duration_seconds,
    mt_verify_run_checks{status}, mt_verify_run_timestamp_seconds
    mt_verify_gate_verdict{verdict, decision} 1, mt_verify_gate_exit_code, mt_verify_gate_rollback_seconds,
    mt_verify_gate_rolled_back, mt_verify_gate_duration_seconds, mt_verify_gate_timestamp_seconds

A push never changes the run's exit code: its failure is returned (and reported by the caller) as one line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

FILE_NAME = "metrics.txt"

_HELP = {
    "mt_verify_check_status": "Status of one check in the latest run (the series with value 1 names it).",
    "mt_verify_check_duration_seconds": "Wall time of one check (setup, call, teardown), seconds.",
    "mt_verify_run_verdict": "Verdict of the latest run (the series with value 1 names it).",
    "mt_verify_run_exit_code": "Exit code of the latest run (pytest's).",
    "mt_verify_run_duration_seconds": "Wall time of the latest run, seconds.",
    "mt_verify_run_checks": "Checks of the latest run by status.",
    "mt_verify_run_timestamp_seconds": "When the latest run finished (Unix time).",
    "mt_verify_gate_verdict": "Verdict and decision of the latest gate run (the series with value 1 names it).",
    "mt_verify_gate_exit_code": "Exit code of the latest gate run: 0 passed, 1 rolled back, 2 not rolled back, "
                                "3 rollback failed, 4 could not verify.",
    "mt_verify_gate_rollback_seconds": "Time the rollback commands took, seconds (0 without a rollback).",
    "mt_verify_gate_rolled_back": "1 when the latest gate run executed a rollback.",
    "mt_verify_gate_duration_seconds": "Wall time of the latest gate run, seconds.",
    "mt_verify_gate_timestamp_seconds": "When the latest gate run finished (Unix time).",
}


@dataclass(frozen=True)
class Sample:
    name: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()


def _labels(**labels: Any) -> tuple[tuple[str, str], ...]:
    return tuple((k, str(v)) for k, v in labels.items() if v is not None)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render(samples: Iterable[Sample], *, extra: Mapping[str, str] | None = None, openmetrics: bool = True) -> str:
    """Samples as exposition text: OpenMetrics (``# EOF`` at the end) for the file, Prometheus text 0.0.4 for a
    push. ``extra`` labels go first on every sample."""
    by_name: dict[str, list[Sample]] = {}
    for sample in samples:
        by_name.setdefault(sample.name, []).append(sample)
    lines: list[str] = []
    head = tuple((extra or {}).items())
    for name, group in by_name.items():
        lines.append(f"# HELP {name} {_HELP.get(name, name)}")
        lines.append(f"# TYPE {name} gauge")
        for sample in group:
            labels = head + sample.labels
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            lines.append(f"{name}{{{text}}} {_number(sample.value)}" if text else f"{name} {_number(sample.value)}")
    if openmetrics:
        lines.append("# EOF")
    return "\n".join(lines) + "\n"


def check_samples(summary: Mapping[str, Any]) -> list[Sample]:
    """Per check, and the run's own figures, from a ``summary.json``."""
    out: list[Sample] = []
    for test in summary.get("tests") or []:
        common = dict(check=test.get("nodeid", "?"), area=test.get("area"), tier=test.get("tier"))
        out.append(Sample("mt_verify_check_status", 1, _labels(**common, status=test.get("status", "unknown"))))
        out.append(Sample("mt_verify_check_duration_seconds", float(test.get("duration_s") or 0.0),
                          _labels(**common)))
    run = summary.get("run") or {}
    out.append(Sample("mt_verify_run_verdict", 1, _labels(verdict=summary.get("verdict", "error"))))
    if run.get("exit_status") is not None:
        out.append(Sample("mt_verify_run_exit_code", float(run["exit_status"])))
    out.append(Sample("mt_verify_run_duration_seconds", float(run.get("duration_s") or 0.0)))
    statuses: dict[str, int] = {}
    for test in summary.get("tests") or []:
        statuses[test.get("status", "unknown")] = statuses.get(test.get("status", "unknown"), 0) + 1
    for status, count in sorted(statuses.items()):
        out.append(Sample("mt_verify_run_checks", float(count), _labels(status=status)))
    out.append(Sample("mt_verify_run_timestamp_seconds", round(time.time(), 3)))
    return out


def rollback_seconds(gate: Mapping[str, Any]) -> float:
    executions = ((gate.get("rollback") or {}).get("executions")) or []
    return round(sum(float(e.get("duration_s") or 0.0) for e in executions), 3)


def gate_samples(gate: Mapping[str, Any], decision: str) -> list[Sample]:
    """Per gate run, from ``gate.json`` (``GateResult.to_json()``)."""
    executed = bool((gate.get("rollback") or {}).get("executions"))
    return [
        Sample("mt_verify_gate_verdict", 1, _labels(verdict=gate.get("verdict", "error"), decision=decision)),
        Sample("mt_verify_gate_exit_code", float(gate.get("exit_code", 4))),
        Sample("mt_verify_gate_rollback_seconds", rollback_seconds(gate)),
        Sample("mt_verify_gate_rolled_back", 1.0 if executed else 0.0),
        Sample("mt_verify_gate_duration_seconds", float(gate.get("duration_s") or 0.0)),
        Sample("mt_verify_gate_timestamp_seconds", round(time.time(), 3)),
    ]


def write(run_dir: Path, samples: Iterable[Sample], *, env: str) -> Path:
    path = Path(run_dir) / FILE_NAME
    path.write_text(render(samples, extra={"env": env}), encoding="utf-8")
    return path


def safe_url(url: str) -> str:
    """``scheme://host:port`` of a URL: what may be printed (no credentials, no path)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}"


@dataclass
class PushResult:
    ok: bool
    attempts: int
    duration_s: float
    error: str = ""
    target: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "attempts": self.attempts, "duration_s": round(self.duration_s, 3),
                "error": self.error, "target": self.target}


def group_url(base: str, job: str, env: str, kind: str) -> str:
    """The Pushgateway group ``/metrics/job/<job>/env/<env>/kind/<kind>`` (each value URL-escaped)."""
    return f"{base.rstrip('/')}/metrics/job/{quote(job, safe='')}/env/{quote(env, safe='')}/kind/{quote(kind, safe='')}"


def push(base: str, samples: Iterable[Sample], *, job: str, env: str, kind: str, timeout_s: float,
         retries: int) -> PushResult:
    """PUT the samples as the group's whole content; bounded by ``timeout_s`` in total, retried on a connection
    error, a timeout or 5xx. Never raises."""
    from mt_verify.delivery import send

    body = render(samples, openmetrics=False).encode()
    outcome = send("PUT", group_url(base, job, env, kind), body,
                   {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
                   timeout_s=timeout_s, retries=retries, backoff_s=0.5, wait=threading.Event().wait)
    return PushResult(outcome.ok, outcome.attempts, outcome.duration_s, outcome.error, safe_url(base))
