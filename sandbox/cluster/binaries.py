"""Where the real cluster's binaries are: ``scripts/build-cluster.sh`` builds them into a cache keyed by version.

The versions come from the modules under ``sandbox/cluster/go/`` (read as text, no Go needed), so the paths here and
the build script's always agree. :func:`missing` says, piece by piece, why one is not there: not built yet, or the
build failed (the ``.failed`` file the script leaves names the module the proxy refused).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GO_DIR = ROOT / "sandbox" / "cluster" / "go"
BUILD_SCRIPT = "scripts/build-cluster.sh"

#: piece -> (module directory under sandbox/cluster/go, module whose version keys the cache)
PIECES: dict[str, tuple[str, str]] = {
    "kube-apiserver": ("kube", "k8s.io/kubernetes"),
    "kube-controller-manager": ("kube", "k8s.io/kubernetes"),
    "kube-scheduler": ("kube", "k8s.io/kubernetes"),
    "kine": ("kine", "github.com/k3s-io/kine"),
    "kwok": ("kwok", "sigs.k8s.io/kwok"),
    "helm": ("helm", "helm.sh/helm/v3"),
}


def cache_dir() -> Path:
    return Path(os.environ.get("MT_CLUSTER_CACHE") or Path.home() / ".cache" / "mt-verify" / "cluster")


def required_version(module_dir: str, module: str) -> str | None:
    """The version ``sandbox/cluster/go/<module_dir>/go.mod`` requires of ``module``."""
    text = (GO_DIR / module_dir / "go.mod").read_text(encoding="utf-8")
    m = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", text, re.MULTILINE)
    return m.group(1) if m else None


def version(piece: str) -> str:
    module_dir, module = PIECES[piece]
    found = required_version(module_dir, module)
    if found is None:
        raise ValueError(f"{GO_DIR / module_dir / 'go.mod'} does not require {module}")
    return found


def path(piece: str) -> Path:
    return cache_dir() / f"{piece}-{version(piece)}" / piece


@dataclass(frozen=True)
class Binaries:
    apiserver: Path
    controller_manager: Path
    scheduler: Path
    kine: Path
    kwok: Path
    helm: Path


def missing() -> dict[str, str]:
    """piece -> why it cannot be used (empty when every binary is in the cache)."""
    out: dict[str, str] = {}
    for piece in PIECES:
        exe = path(piece)
        if exe.is_file() and os.access(exe, os.X_OK):
            continue
        failed = exe.parent.with_name(exe.parent.name + ".failed")
        if failed.is_file():
            out[piece] = failed.read_text(encoding="utf-8", errors="replace").strip()[-1500:]
        else:
            out[piece] = f"not built: {exe} is missing (bash {BUILD_SCRIPT} builds it)"
    return out


def find() -> Binaries:
    """Every binary, or ``FileNotFoundError`` naming what is missing and why."""
    lacking = missing()
    if lacking:
        raise FileNotFoundError("real cluster binaries missing: " + "; ".join(f"{k}: {v}" for k, v in lacking.items()))
    return Binaries(path("kube-apiserver"), path("kube-controller-manager"), path("kube-scheduler"), path("kine"),
                    path("kwok"), path("helm"))
