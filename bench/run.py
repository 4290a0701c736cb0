"""Time to verdict against the sandbox, against a curl baseline measured in the same run.

    .venv/bin/python bench/run.py                 # every figure, 5 runs each (median)
    .venv/bin/python bench/run.py --runs 3 --only health,baseline,scale
    .venv/bin/python bench/run.py --json bench/results.json

Each figure is the median wall time of several runs of the command an operator would type,
started from a fresh interpreter. One sandbox serves every run (the suite reuses it through
MT_SANDBOX_CONTROL), so the figures measure the suite; "health, own sandbox" adds the
sandbox's start as `pytest --env sandbox` pays it. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SCALES = (10, 100, 1000)


def start_sandbox() -> tuple[subprocess.Popen[bytes], dict[str, str], float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen([PY, "-m", "sandbox", "serve", "--ready-json"], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    started = time.perf_counter() - t0
    return proc, json.loads(line)["env"], started


def checks_run(reports: Path) -> int | None:
    """How many checks the last run executed (passed or red, not skipped), from its summary.json."""
    try:
        data = json.loads((reports / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return sum(1 for t in data.get("tests", []) if t.get("mt_verdict") != "skipped")


def timed(cmd: list[str], env: dict[str, str], runs: int) -> dict[str, Any]:
    walls, codes, counts = [], [], []
    reports = Path(env["MT_REPORTS_DIR"]) if "MT_REPORTS_DIR" in env else None
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        walls.append(time.perf_counter() - t0)
        codes.append(proc.returncode)
        if "checks=" in proc.stdout:  # the curl baseline prints its own count
            counts.append(int(proc.stdout.split("checks=")[1].split()[0]))
        elif reports is not None:
            found = checks_run(reports)
            if found is not None:
                counts.append(found)
    return {"median_s": round(statistics.median(walls), 3), "min_s": round(min(walls), 3),
            "max_s": round(max(walls), 3), "runs": runs, "exit_codes": sorted(set(codes)),
            "checks": max(counts) if counts else None}


def endpoints_env(tmp: Path, n: int) -> Path:
    env = yaml.safe_load((ROOT / "environments" / "sandbox.yaml").read_text())
    paths = [("/health", ["$.status == healthy"]), ("/api/version", ["$.status == healthy", "len($.commit_sha) == 40"]),
             ("/health/full", ["$.checks.database.status == healthy"]), ("/api/leagues", ["len($) > 0"])]
    env["endpoints"] = [{"name": f"e{i}", "url": paths[i % len(paths)][0], "conditions": paths[i % len(paths)][1]}
                        for i in range(n)]
    env["name"] = "sandbox"
    path = tmp / f"endpoints-{n}.yaml"
    path.write_text(yaml.safe_dump(env))
    return path


def importtime(env: dict[str, str]) -> dict[str, float]:
    """Interpreter start and import cost of a health-tier run (collection only)."""
    bare = timed([PY, "-c", "pass"], env, 5)["median_s"]
    proc = subprocess.run([PY, "-X", "importtime", "-m", "pytest", "--env", "sandbox", "-m", "health", "--co", "-q"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    total_us, top = 0, []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        # Top-level imports only: their cumulative times add up.
        if cumulative.strip().isdigit() and not name.startswith("  "):
            us = int(cumulative.strip())
            total_us += us
            top.append((us, name.strip()))
    top.sort(reverse=True)
    return {"interpreter_s": bare, "imports_s": round(total_us / 1e6, 3),
            "heaviest": {name: round(us / 1e6, 3) for us, name in top[:6]}}


def browser_launch(env: dict[str, str]) -> float | None:
    code = ("import time; t=time.perf_counter(); from playwright.sync_api import sync_playwright\n"
            "import os\nwith sync_playwright() as p:\n"
            " b=p.chromium.launch(executable_path=os.environ.get('MT_CHROMIUM','/usr/bin/chromium'))\n"
            " b.close()\nprint(time.perf_counter()-t)")
    proc = subprocess.run([PY, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    return round(float(proc.stdout.strip()), 3) if proc.returncode == 0 else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default="", help="comma list: baseline,health,deployment,smoke,full,startup,scale")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results.json")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))

    def want(name: str) -> bool:
        return not only or name in only

    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("MT_SANDBOX_", "PYTEST_"))}
    tmp = Path(tempfile.mkdtemp(prefix="mt-bench-"))
    base_env["MT_REPORTS_DIR"] = str(tmp / "reports")
    proc, sandbox_env, sandbox_start = start_sandbox()
    env = {**base_env, **sandbox_env}
    pytest_cmd = [PY, "-m", "pytest", "--env", "sandbox", "-q", "-p", "no:randomly"]
    results: dict[str, Any] = {"machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
                               "sandbox_start_s": round(sandbox_start, 3)}
    rows: list[tuple[str, Callable[[], dict[str, Any]]]] = []
    if want("baseline"):
        rows.append(("baseline (curl script)", lambda: timed(
            ["bash", "bench/baseline.sh", sandbox_env["MT_SANDBOX_SITE_URL"], sandbox_env["MT_SANDBOX_API_URL"]],
            env, args.runs)))
    if want("health"):
        rows.append(("health tier", lambda: timed([*pytest_cmd, "-m", "health"], env, args.runs)))
        rows.append(("health tier, own sandbox", lambda: timed([*pytest_cmd, "-m", "health"], base_env, args.runs)))
    if want("deployment"):
        rows.append(("deployment tier", lambda: timed([*pytest_cmd, "-m", "deployment"], env, args.runs)))
    if want("smoke"):
        rows.append(("smoke tier", lambda: timed([*pytest_cmd, "-m", "smoke"], env, args.runs)))
    if want("full"):
        rows.append(("full suite, serial", lambda: timed(pytest_cmd, env, args.runs)))
        rows.append(("full suite, -n auto", lambda: timed([*pytest_cmd, "-n", "auto"], env, args.runs)))
    figures: dict[str, Any] = {}
    try:
        for name, fn in rows:
            figures[name] = fn()
            print(f"{name:32} {figures[name]['median_s']:7.3f} s  exit {figures[name]['exit_codes']}", flush=True)
        if want("scale"):
            scale: dict[str, Any] = {}
            for mode, extra in (("serial", []), ("-n 2", ["-n", "2"])):
                walls = {}
                for n in SCALES:
                    path = endpoints_env(tmp, n)
                    walls[n] = timed([PY, "-m", "pytest", f"--env={path}", "-q", "-p", "no:randomly", *extra,
                                      "tests/health/test_endpoints.py"], env, max(1, args.runs // 2))["median_s"]
                per = {n: round((walls[n] - walls[SCALES[0]]) / (n - SCALES[0]) * 1000, 2) for n in SCALES[1:]}
                scale[mode] = {"wall_s": walls, "per_check_ms": per}
                print(f"scale {mode:6} walls {walls}  per extra check (ms) {per}", flush=True)
            results["scale"] = scale
        if want("startup"):
            results["startup"] = {**importtime(env), "sandbox_start_s": round(sandbox_start, 3),
                                  "browser_launch_s": browser_launch(env)}
            print(f"startup {results['startup']}", flush=True)
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.wait(10)
    results["figures"] = figures
    base = figures.get("baseline (curl script)")
    health = figures.get("health tier")
    if base and health:
        results["health_vs_baseline"] = {
            "time_ratio": round(health["median_s"] / base["median_s"], 2),
            "checks": {"suite": health["checks"], "baseline": base["checks"]},
            "check_ratio": round((health["checks"] or 0) / (base["checks"] or 1), 1),
        }
        print(f"health tier / baseline: {results['health_vs_baseline']}")
    args.json.write_text(json.dumps(results, indent=2, default=str))
    print(f"written {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
