"""Steps and attachments for the tiers, redacted, and free when Allure is off.

::

    from mt_verify.reporting.attach import attach_file, attach_text, step

    with step("GET /api/version until it serves the release"):
        ...
    attach_text("deployment missing-table-backend", yaml_text, nodeid=request.node.nodeid, filename="backend.yaml")
    attach_file(trace_zip, name="Playwright trace", nodeid=request.node.nodeid)

With ``nodeid`` the evidence is also saved in the run folder (``evidence/<test>/``), where ``summary.json`` lists
it. Text is passed through :func:`mt_verify.redact.redact_text` first (titles too); files are attached as they are,
so redact before writing them (screenshots of a logged-in page carry no token; traces do: keep them only for
failed journeys and never record the login form's password field).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mt_verify.redact import redact_text
from mt_verify.reporting.evidence import evidence_dir

_TYPES = {
    ".png": "PNG", ".jpg": "JPG", ".jpeg": "JPG", ".webm": "WEBM", ".mp4": "MP4", ".json": "JSON",
    ".yaml": "YAML", ".yml": "YAML", ".txt": "TEXT", ".log": "TEXT", ".html": "HTML", ".xml": "XML", ".csv": "CSV",
}


@contextmanager
def step(title: str) -> Iterator[None]:
    """An Allure step (a no-op without Allure); the title is redacted."""
    import allure

    with allure.step(redact_text(title)):
        yield


def attach_text(name: str, body: str, *, nodeid: str | None = None, filename: str | None = None) -> Path | None:
    """Attach ``body`` (redacted) to the current test; with ``nodeid`` also save it as evidence and return the path."""
    import allure

    clean = redact_text(body)
    kind = _TYPES.get(Path(filename).suffix.lower(), "TEXT") if filename else "TEXT"
    allure.attach(clean, name=redact_text(name), attachment_type=getattr(allure.attachment_type, kind))
    if nodeid is None:
        return None
    path = evidence_dir(nodeid) / (filename or f"{_safe(name)}.txt")
    path.write_text(clean, encoding="utf-8")
    return path


def attach_file(path: Path, *, name: str, nodeid: str | None = None) -> Path | None:
    """Attach a file (screenshot, trace, video) to the current test; with ``nodeid`` also copy it into the test's
    evidence folder (unless it is there already) and return the evidence path."""
    import allure

    path = Path(path)
    kind = _TYPES.get(path.suffix.lower())
    attachment_type = getattr(allure.attachment_type, kind) if kind else None
    allure.attach.file(str(path), name=redact_text(name), attachment_type=attachment_type,
                       extension=path.suffix.lstrip(".") or None)
    if nodeid is None:
        return None
    folder = evidence_dir(nodeid)
    if folder in path.resolve().parents:
        return path
    target = folder / path.name
    shutil.copyfile(path, target)
    return target


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in name).strip("-.")[:80] or "attachment"
