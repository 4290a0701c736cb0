"""``/health`` and ``/health/full`` (contract §1.2-1.3)."""

from __future__ import annotations

from typing import Any

COUNTS = (("database", "age_groups_count"), ("reference_data", "seasons_count"),
          ("reference_data", "match_types_count"))
SUB_CHECKS = ("api", "database", "reference_data", "auth")


def full_problems(body: dict[str, Any]) -> list[str]:
    """Everything wrong with a ``/health/full`` body (a 503 carries it under ``detail``)."""
    problems: list[str] = []
    if body.get("status") != "healthy":
        problems.append(f"status is {body.get('status')!r}")
    checks = body.get("checks")
    if not isinstance(checks, dict):
        return [*problems, "no 'checks' object"]
    for name in SUB_CHECKS:
        if name not in checks:
            problems.append(f"sub-check {name!r} missing")
    for name, sub in checks.items():
        status = sub.get("status") if isinstance(sub, dict) else None
        if status != "healthy":
            msg = sub.get("message") if isinstance(sub, dict) else None
            problems.append(f"{name}: {status!r}" + (f" ({msg})" if msg else ""))
    for check, count in COUNTS:
        value = checks.get(check, {}).get(count) if isinstance(checks.get(check), dict) else None
        if not isinstance(value, int) or value <= 0:
            problems.append(f"{check}.{count} is {value!r}, expected > 0")
    return problems
