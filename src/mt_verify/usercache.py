"""The user's cache folder: what mt-verify keeps between runs to start faster, never anything a verdict rests on.

``$XDG_CACHE_HOME/mt-verify/<name>`` (default ``~/.cache/mt-verify/<name>``). Everything in it can be deleted at
any time; a folder that cannot be made or written means no cache, never an error.

- ``environments/``: environment files as parsed (:func:`mt_verify.config.read_yaml`), keyed by their bytes;
- ``node-compile-cache/``: Node's code cache for Playwright's driver
  (:func:`mt_verify.browser.launch.node_compile_cache`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def folder(name: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """``<cache>/mt-verify/<name>``, made if need be; None when it cannot be made or written."""
    env = os.environ if environ is None else environ
    base = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = base / "mt-verify" / name
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None
