"""Which Chromium to launch, and with what (no Playwright import at module level).

Executable, first match wins:

1. ``--browser-path PATH``
2. ``$MT_CHROMIUM``
3. the environment's ``smoke.browser_path``
4. Playwright's own Chromium, when ``playwright install chromium`` has put it in place
5. headless runs: ``/usr/bin/chromium-headless-shell`` (Debian's ``chromium-headless-shell``: the same engine
   without the full browser's UI process, a smoke run ~30 % faster on 2 cores, as Playwright's own headless
   shell is); headed runs and machines without it: ``/usr/bin/chromium`` (Debian's ``chromium``)

A path that was asked for but does not exist is a suite error (nothing was checked), never a failed journey.
"""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mt_verify.outcome import SuiteError

ENV_VAR = "MT_CHROMIUM"
SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
SYSTEM_HEADLESS_SHELL = Path("/usr/bin/chromium-headless-shell")
VIDEO_MODES = ("auto", "off", "retain-on-failure")


@dataclass(frozen=True)
class BrowserChoice:
    #: None: Playwright's own browser.
    executable: str | None
    source: str

    def describe(self) -> str:
        return f"{self.executable or 'Playwright Chromium'} ({self.source})"


def choose_executable(option: str | None, configured: str | None, playwright_default: str | None,
                      environ: dict[str, str] | None = None, system: Path = SYSTEM_CHROMIUM, *,
                      headed: bool = False, headless_shell: Path = SYSTEM_HEADLESS_SHELL) -> BrowserChoice:
    """Resolve the executable; ``playwright_default`` is ``playwright.chromium.executable_path``."""
    env = os.environ if environ is None else environ
    for value, source in ((option, "--browser-path"), (env.get(ENV_VAR), f"${ENV_VAR}"),
                          (configured, "smoke.browser_path")):
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise SuiteError(f"Chromium not found at {path} (from {source}); nothing was checked")
            return BrowserChoice(str(path), source)
    if playwright_default and Path(playwright_default).is_file():
        return BrowserChoice(None, "playwright install")
    if not headed and headless_shell.is_file():
        return BrowserChoice(str(headless_shell), "system package, headless shell")
    if system.is_file():
        return BrowserChoice(str(system), "system package")
    raise SuiteError(
        "no Chromium to drive: pass --browser-path, set $MT_CHROMIUM or smoke.browser_path, run "
        "`python -m playwright install chromium`, or install Debian's chromium package; nothing was checked"
    )


def launch_args(choice: BrowserChoice, *, headed: bool, slowmo_ms: float) -> dict[str, Any]:
    args: dict[str, Any] = {"headless": not headed}
    if choice.executable:
        args["executable_path"] = choice.executable
    if slowmo_ms:
        args["slow_mo"] = slowmo_ms
    return args


def playwright_ffmpeg() -> Path | None:
    """Playwright's ffmpeg build (video recording needs it), if it is installed."""
    import playwright

    browsers = Path(playwright.__file__).parent / "driver" / "package" / "browsers.json"
    try:
        revision = next(b["revision"] for b in json.loads(browsers.read_text())["browsers"] if b["name"] == "ffmpeg")
    except (OSError, ValueError, StopIteration, KeyError):
        return None
    base = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache" / "ms-playwright")
    candidate = base / f"ffmpeg-{revision}" / "ffmpeg-linux"
    return candidate if candidate.exists() else None


def video_enabled(mode: str) -> bool:
    """``auto``: record (kept on failure) when Playwright's ffmpeg is there; ``retain-on-failure`` insists."""
    if mode == "off":
        return False
    found = playwright_ffmpeg() is not None
    if mode == "retain-on-failure" and not found:
        raise SuiteError(
            "--browser-video retain-on-failure: Playwright's ffmpeg is missing; see src/mt_verify/browser/README.md "
            "(install Debian's ffmpeg and link it as ~/.cache/ms-playwright/ffmpeg-<rev>/ffmpeg-linux)"
        )
    return found


#: Node's on-disk code cache for Playwright's driver (``NODE_COMPILE_CACHE``, Node 22+): the driver compiles
#: playwright-core's JavaScript at every start; with the cache a start is ~90 ms (and as much CPU) shorter, which
#: each ``-n`` worker pays. Keyed by Node on the files' contents, so a new Playwright simply fills it again.
NODE_COMPILE_CACHE = "NODE_COMPILE_CACHE"


def node_compile_cache(environ: MutableMapping[str, str] | None = None) -> Path | None:
    """Point Playwright's driver at a compile cache under the user's cache folder, unless one is chosen already
    (``NODE_COMPILE_CACHE`` set, even empty) or the folder cannot be made (then the driver starts as before)."""
    env = os.environ if environ is None else environ
    if NODE_COMPILE_CACHE in env:
        return Path(env[NODE_COMPILE_CACHE]) if env[NODE_COMPILE_CACHE] else None
    from mt_verify.usercache import folder

    path = folder("node-compile-cache", env)
    if path is not None:
        env[NODE_COMPILE_CACHE] = str(path)
    return path
