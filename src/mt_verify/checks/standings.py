"""``GET /api/table`` (contract §1.7): the rows must be complete and add up."""

from __future__ import annotations

from typing import Any

COLUMNS = ("team", "team_id", "played", "wins", "draws", "losses", "goals_for", "goals_against",
           "goal_difference", "points", "form", "position_change")
_INTS = ("played", "wins", "draws", "losses", "goals_for", "goals_against", "goal_difference", "points")


def table_problems(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return [f"the body is a {type(body).__name__}, not an object"]
    problems: list[str] = []
    if not isinstance(body.get("has_qop_data"), bool):
        problems.append("has_qop_data is not a boolean")
    rows = body.get("standings")
    if not isinstance(rows, list):
        return [*problems, "no 'standings' list"]
    if not rows:
        return [*problems, "standings is empty"]
    for i, row in enumerate(rows, start=1):
        problems += [f"row {i}: {p}" for p in row_problems(row)]
    if not problems:
        keys = [(r["points"], r["goal_difference"], r["goals_for"]) for r in rows]
        if keys != sorted(keys, reverse=True):
            problems.append("rows are not sorted by points, goal difference, goals for (descending)")
    return problems


def row_problems(row: Any) -> list[str]:
    if not isinstance(row, dict):
        return ["not an object"]
    missing = [c for c in COLUMNS if c not in row]
    if missing:
        return [f"{row.get('team', '?')}: missing {', '.join(missing)}"]
    bad = [c for c in _INTS if not isinstance(row[c], int)]
    if bad:
        return [f"{row['team']}: not integers: {', '.join(bad)}"]
    team = row["team"]
    w, d, lost = row["wins"], row["draws"], row["losses"]
    out = []
    if row["played"] != w + d + lost:
        out.append(f"{team}: played {row['played']} != W+D+L {w + d + lost}")
    if row["points"] != 3 * w + d:
        out.append(f"{team}: points {row['points']} != 3W+D {3 * w + d}")
    if row["goal_difference"] != row["goals_for"] - row["goals_against"]:
        out.append(f"{team}: goal_difference {row['goal_difference']} != GF-GA "
                   f"{row['goals_for'] - row['goals_against']}")
    form = row["form"]
    if not isinstance(form, list) or len(form) > 5 or any(f not in ("W", "D", "L") for f in form):
        out.append(f"{team}: form {form!r} is not up to 5 of W/D/L")
    return out
