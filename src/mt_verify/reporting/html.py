"""The Allure HTML report of a run (Allure 3, Node; ``scripts/install-allure.sh`` puts it in ``.tools/allure/``).

::

    render(run_dir, single_file=False, previous=None)  -> <run>/allure-report/index.html (serve it over HTTP)
    render(run_dir, single_file=True, previous=prev)   -> <run>/allure-report-single/index.html (one file)

History: Allure 3 keeps trends and flaky markers in a JSON-lines file; here it is ``<run>/history/history.jsonl``.
Rendering copies the file of the previous run of the same environment (``previous``, or the newest earlier run that
has one), appends any earlier runs that were never rendered, then lets Allure append this run. Rendering the same
run again starts from the history as it was before this run (kept in ``history/base.jsonl``), so a run is never
counted twice and the catching up is done once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from mt_verify.config import ROOT
from mt_verify.reporting.plugin import ALLURE_DIR

HISTORY_DIR = "history"
HISTORY_FILE = "history.jsonl"
REPORT_DIR = "allure-report"
SINGLE_DIR = "allure-report-single"
ALLURE_VAR = "MT_ALLURE"
LOCAL_ALLURE = ROOT / ".tools" / "allure" / "node_modules" / ".bin" / "allure"
#: Seconds one ``allure`` command may take (it takes about one).
TIMEOUT_S = 180.0
#: How many never-rendered earlier runs are added to the history before this one.
CATCH_UP_MAX = 20


class ReportError(RuntimeError):
    """The HTML report could not be made (Allure missing, no results, Allure failed)."""


def allure_binary() -> Path:
    """``$MT_ALLURE``, else ``.tools/allure`` (``scripts/install-allure.sh``), else ``allure`` on ``PATH``."""
    override = os.environ.get(ALLURE_VAR)
    candidates = [Path(override)] if override else []
    candidates.append(LOCAL_ALLURE)
    found = shutil.which("allure")
    if found:
        candidates.append(Path(found))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise ReportError("Allure 3 is not installed: run `bash scripts/install-allure.sh` (needs node and npm), "
                      f"or point ${ALLURE_VAR} at an allure 3 executable")


def available() -> bool:
    try:
        allure_binary()
    except ReportError:
        return False
    return shutil.which("node") is not None


def _env_of(run_dir: Path) -> str:
    return run_dir.name.rsplit("-", 1)[0]


def _history_of(run_dir: Path) -> Path:
    return run_dir / HISTORY_DIR / HISTORY_FILE


def _earlier_runs(run_dir: Path, previous: Path | None) -> list[Path]:
    """Earlier run folders of the same environment, oldest first, up to and including ``previous``."""
    base = (previous or run_dir).parent
    env = _env_of(run_dir)
    limit = previous.name if previous is not None else run_dir.name
    runs = [p for p in base.glob(f"{env}-*") if p.is_dir() and not p.is_symlink() and p.name < run_dir.name
            and _env_of(p) == env and p.name <= limit]
    if previous is not None and previous.is_dir() and previous.resolve() not in {p.resolve() for p in runs}:
        runs.append(previous)
    return sorted(runs, key=lambda p: p.name)


def _run(command: list[str], cwd: Path) -> str:
    try:
        proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S,
                              stdin=subprocess.DEVNULL, env={**os.environ, "NO_COLOR": "1", "CI": "true"})
    except subprocess.TimeoutExpired:
        raise ReportError(f"{Path(command[0]).name} {command[1]} did not finish within {TIMEOUT_S:g} s") from None
    except OSError as exc:
        raise ReportError(f"cannot run {command[0]}: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise ReportError(f"{Path(command[0]).name} {command[1]} exited {proc.returncode}:\n{tail}")
    return proc.stdout


def prepare_history(run_dir: Path, previous: Path | None, binary: Path) -> Path:
    """This run's ``history/history.jsonl`` as it must be before Allure appends this run; return its path."""
    target = _history_of(run_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    earlier = _earlier_runs(run_dir, previous) if previous is not None else []
    seed_index = next((i for i in range(len(earlier) - 1, -1, -1) if _history_of(earlier[i]).is_file()), None)
    seed = _history_of(earlier[seed_index]) if seed_index is not None else None
    missing = earlier[seed_index + 1:] if seed_index is not None else earlier
    missing = [r for r in missing[-CATCH_UP_MAX:]
               if (r / ALLURE_DIR).is_dir() and any((r / ALLURE_DIR).glob("*-result.json"))]
    # The history before this run, kept so that rendering this run again need not catch up again.
    base, base_key = target.parent / "base.jsonl", target.parent / "base.json"
    key = json.dumps({"seed": str(seed) if seed else None, "seed_size": seed.stat().st_size if seed else 0,
                      "runs": [r.name for r in missing]})
    if base.is_file() and base_key.is_file() and base_key.read_text(encoding="utf-8") == key:
        shutil.copyfile(base, target)
        return target
    if seed is not None:
        shutil.copyfile(seed, target)
    for run in missing:
        _run([str(binary), "history", str(run / ALLURE_DIR), "--history-path", str(target)], cwd=run_dir)
    if target.is_file():
        shutil.copyfile(target, base)
        base_key.write_text(key, encoding="utf-8")
    else:
        base.unlink(missing_ok=True)
        base_key.unlink(missing_ok=True)
    return target


def render(run_dir: Path, *, single_file: bool, previous: Path | None) -> Path:
    """Render ``<run_dir>/allure-results`` to HTML; return the report's ``index.html``.

    ``previous`` is the previous run folder of the same environment (its history is carried over), or None to
    start the history afresh. Raises :class:`ReportError` when Allure is missing or fails.
    """
    run_dir = Path(run_dir).resolve()
    results = run_dir / ALLURE_DIR
    if not results.is_dir() or not any(results.glob("*-result.json")):
        raise ReportError(f"no Allure results in {results} (did the run write any?)")
    binary = allure_binary()
    history = prepare_history(run_dir, previous.resolve() if previous else None, binary)
    output = run_dir / (SINGLE_DIR if single_file else REPORT_DIR)
    if output.exists():
        shutil.rmtree(output)
    env = _env_of(run_dir)
    config = {
        "name": f"mt-verify · {env} · {run_dir.name}",
        "output": str(output),
        "historyPath": str(history),
        "plugins": {
            "awesome": {
                "options": {
                    "singleFile": single_file,
                    "reportName": f"mt-verify · {env}",
                    "groupBy": ["epic", "feature"],
                },
            },
        },
    }
    with tempfile.TemporaryDirectory(prefix="mt-allure-") as tmp:
        rc = Path(tmp) / "allurerc.json"
        rc.write_text(json.dumps(config, indent=2), encoding="utf-8")
        _run([str(binary), "generate", "--config", str(rc), "--cwd", str(run_dir), str(results)], cwd=run_dir)
    index = output / "index.html"
    if not index.is_file():
        found = sorted(output.rglob("index.html"))
        if not found:
            raise ReportError(f"allure generate wrote no index.html under {output}")
        index = found[0]
    return index
