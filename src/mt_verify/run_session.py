"""The smoke user's one session per run, shared by every process of the run (the xdist controller and workers).

Signing in is the slowest thing a run does against a real app (a UI sign-in costs 1-1.5 s, contract §2.8), and N
workers each signing in logs the account in N times. So the controller makes one private folder per run (mode
0700, in the system's temporary directory, never under ``reports/``), exports its path in ``MT_RUN_SESSION_DIR``
to the workers, and removes it when the run ends, after logging the session out. In it, each under its lock
(``UI_LOCK``, ``TOKEN_LOCK``):

- ``token`` (0600): the smoke user's Bearer token, from the run's UI sign-in when that came first, else from the
  one API login of the run (``api_token``);
- ``storage-state.json`` (0600): the browser's storage state after the run's one UI sign-in, from which every
  worker's signed-in journeys get their contexts;
- ``ui-login.json``: what that sign-in showed (signed in or not, the form's error, the time): no secret.

Whoever needs one of them first makes it while holding the lock; everyone after reads it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ENV_VAR = "MT_RUN_SESSION_DIR"
TOKEN = "token"
STORAGE_STATE = "storage-state.json"
UI_LOGIN = "ui-login.json"


def create() -> Path:
    """The controller's: a new private folder for this run, exported to the processes it starts."""
    path = Path(tempfile.mkdtemp(prefix="mt-run-session-"))
    os.environ[ENV_VAR] = str(path)
    return path


def remove(path: Path) -> None:
    if os.environ.get(ENV_VAR) == str(path):
        os.environ.pop(ENV_VAR, None)
    shutil.rmtree(path, ignore_errors=True)


def directory() -> Path | None:
    """This run's folder, or None outside a run the plugin configured (then each process keeps its own)."""
    value = os.environ.get(ENV_VAR)
    return Path(value) if value and Path(value).is_dir() else None


#: The run's two locks: the UI sign-in's (held while it signs in, 1-1.5 s against the real app) and the token's
#: (held while the API login runs, ~70 ms). Separate, so the health tier of one worker never waits out another
#: worker's UI sign-in: when the API login gets there first, the run has two sessions, as a serial run has.
UI_LOCK = "lock-ui"
TOKEN_LOCK = "lock-token"


@contextmanager
def locked(path: Path | None, name: str) -> Iterator[None]:
    """Hold the run's lock ``name`` (a blocking ``flock``: the holder's work is bounded by its own timeouts)."""
    if path is None:
        yield
        return
    with open(path / name, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def write_private(path: Path, data: str | bytes) -> None:
    """Create ``path`` readable by its owner only (0600 from the start, never world-readable for a moment)."""
    raw = data.encode() if isinstance(data, str) else data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(raw)


def read_token(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        token = (path / TOKEN).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return token or None


def save_token(path: Path | None, token: str) -> None:
    if path is not None:
        write_private(path / TOKEN, token)


def save_ui_token(path: Path | None, token: str) -> None:
    """The UI sign-in's token: the run's token when none was made yet, else kept only to be logged out."""
    if path is None:
        return
    with locked(path, TOKEN_LOCK):
        write_private(path / (TOKEN if read_token(path) is None else f"{TOKEN}-ui"), token)


def read_ui_token(path: Path | None) -> str | None:
    """The UI sign-in's token (the run's token, unless an API login came first)."""
    if path is None:
        return None
    for name in (f"{TOKEN}-ui", TOKEN):
        try:
            value = (path / name).read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if value:
            return value
    return None


def save_ui_token_extra(path: Path | None, token: str) -> None:
    """A further session (a login journey's own sign-in), kept only to be logged out at the end."""
    if path is not None:
        write_private(path / f"{TOKEN}-{os.getpid()}-{len(list(path.glob(TOKEN + '*')))}", token)


def all_tokens(path: Path) -> list[str]:
    """Every session the run opened and shares (to log out at the end)."""
    out: list[str] = []
    for file in sorted(path.glob(f"{TOKEN}*")):
        try:
            value = file.read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if value and value not in out:
            out.append(value)
    return out


def read_json(path: Path | None, name: str) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads((path / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def save_json(path: Path | None, name: str, data: dict[str, Any]) -> None:
    if path is not None:
        write_private(path / name, json.dumps(data))
