"""Which entries of a reviewed allow-list matched anything in a run, across xdist workers.

An allow-list entry that matched nothing in a whole run is stale (the app stopped making that noise): worth
telling an operator, so the list shrinks. No single process can know that under xdist, so each process that
judges against a list writes its cumulative counts to ``<run>/allow-list-usage/<list>.<worker>.json`` (rewritten
atomically after every test, so a crashed worker still leaves what it saw), and the controller merges them when
it writes the summary (:func:`stale_notes`): an entry is stale only when it is in some file and every file
counted 0 for it. A run in which no process judged against the list (the tier did not run) has no file and so
no stale entry.

File format: ``{"list": NAME, "entries": [{"key", "label", "count"}]}``; ``key`` identifies an entry across
processes (its position and its reason), ``label`` is what the summary shows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FOLDER = "allow-list-usage"
#: The note kind a stale entry is reported under.
STALE_KIND = "stale-allow-list"


def worker_name() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def write(run_dir: Path, list_name: str, entries: Mapping[str, tuple[str, int]], *, worker: str | None = None) -> Path:
    """Write this process's counts: ``entries`` maps key -> (label, cumulative count)."""
    folder = run_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{list_name}.{worker or worker_name()}.json"
    body = {"list": list_name,
            "entries": [{"key": k, "label": label, "count": int(n)} for k, (label, n) in entries.items()]}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(body, indent=1), encoding="utf-8")
    tmp.replace(path)
    return path


def merged(run_dir: Path | str | None) -> dict[str, dict[str, dict[str, Any]]]:
    """``{list: {key: {"label", "count"}}}`` summed over every process's file (unreadable files are skipped)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    if not run_dir:
        return out
    folder = Path(run_dir) / FOLDER
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            name = str(body["list"])
            rows = [(str(e["key"]), str(e["label"]), int(e["count"])) for e in body["entries"]]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        per_list = out.setdefault(name, {})
        for key, label, count in rows:
            entry = per_list.setdefault(key, {"label": label, "count": 0})
            entry["count"] += count
    return out


def stale_notes(run_dir: Path | str | None) -> list[dict[str, str]]:
    """One ``{kind, text}`` note per entry that no process matched in this run."""
    notes = []
    for name, entries in sorted(merged(run_dir).items()):
        for entry in entries.values():
            if entry["count"] == 0:
                notes.append({"kind": STALE_KIND,
                              "text": f"stale allow-list entry {entry['label']!r} ({name}): matched nothing in "
                                      "this run; if the app no longer does this, remove the entry"})
    return notes
