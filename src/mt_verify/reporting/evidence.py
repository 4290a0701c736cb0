"""Where a test's evidence goes: ``<run>/evidence/<slug of the node id>/``.

Tiers that save their own evidence (screenshots, traces, Kubernetes objects) put it here so that the summary
lists it next to the test::

    from mt_verify.reporting.evidence import evidence_dir
    path = evidence_dir(request.node.nodeid) / "deployment.yaml"
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from mt_verify import rundir

EVIDENCE = "evidence"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX = 96


def slug(nodeid: str) -> str:
    """A file-system-safe folder name for a node id; long ids are cut and suffixed with a hash."""
    text = _UNSAFE.sub("-", nodeid.replace("::", "--")).strip("-.") or "test"
    if len(text) > _MAX:
        digest = hashlib.sha1(nodeid.encode()).hexdigest()[:8]
        text = f"{text[: _MAX - 9]}-{digest}"
    return text


def run_dir() -> Path | None:
    return rundir.current()


def evidence_root(base: Path | None = None) -> Path | None:
    base = base or run_dir()
    return base / EVIDENCE if base else None


def evidence_dir(nodeid: str, base: Path | None = None, *, create: bool = True) -> Path:
    """This test's evidence folder in the run folder (``$MT_REPORTS_DIR``); a temporary one outside a run."""
    root = evidence_root(base)
    if root is None:
        import tempfile

        root = Path(tempfile.gettempdir()) / "mt-verify-evidence"
    path = root / slug(nodeid)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def list_evidence(nodeid: str, base: Path) -> list[str]:
    """The files saved for a test, relative to the run folder."""
    path = evidence_dir(nodeid, base, create=False)
    if not path.is_dir():
        return []
    return sorted(str(p.relative_to(base)) for p in path.rglob("*") if p.is_file())
