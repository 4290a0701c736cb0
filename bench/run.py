"""Time to verdict against the sandbox, against a curl baseline measured in the same run.

    .venv/bin/python bench/run.py                 # every figure, 5 runs each (median)
    .venv/bin/python bench/run.py --runs 3 --only health,scale     # every tier is paired with the curl baseline
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
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SCALES = (10, 100, 1000)


def start_sandbox(latency: str) -> tuple[subprocess.Popen[bytes], dict[str, str], float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen([PY, "-m", "sandbox", "serve", "--ready-json", "--latency", latency], cwd=ROOT,
                            stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    started = time.perf_counter() - t0
    return proc, json.loads(line)["env"], started


def _summary(reports: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((reports / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def checks_run(reports: Path) -> int | None:
    """How many checks the last run executed (passed or red, not skipped), from its summary.json."""
    data = _summary(reports)
    if data is None:
        return None
    return sum(1 for t in data.get("tests", []) if t.get("mt_verdict") != "skipped")


def journey_times(reports: Path) -> dict[str, float]:
    """Each smoke journey's own time (setup + call + teardown, from summary.json) in the last run."""
    data = _summary(reports) or {}
    out: dict[str, float] = {}
    for t in data.get("tests", []):
        if t.get("tier") == "smoke" and isinstance(t.get("duration_s"), int | float):
            out[str(t.get("name") or t.get("nodeid")).rsplit("::", 1)[-1]] = float(t["duration_s"])
    return out


def _once(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    # A fresh run folder each time, as an operator's run gets: one shared folder would pile up Allure results
    # that every later run scrubs again (the figures would grow with the run count).
    reports = None
    if "MT_REPORTS_DIR" in env:
        reports = Path(tempfile.mkdtemp(prefix="run-", dir=env["MT_REPORTS_DIR"]))
        env = {**env, "MT_REPORTS_DIR": str(reports)}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    run: dict[str, Any] = {"wall": time.perf_counter() - t0, "code": proc.returncode, "checks": None, "journeys": {}}
    if "checks=" in proc.stdout:  # the curl baseline prints its own count
        run["checks"] = int(proc.stdout.split("checks=")[1].split()[0])
    elif reports is not None:
        run["checks"] = checks_run(reports)
        run["journeys"] = journey_times(reports)
    return run


def _figure(runs: list[dict[str, Any]]) -> dict[str, Any]:
    walls = [r["wall"] for r in runs]
    counts = [r["checks"] for r in runs if r["checks"] is not None]
    journeys: dict[str, list[float]] = {}
    for r in runs:
        for name, took in r["journeys"].items():
            journeys.setdefault(name, []).append(took)
    out: dict[str, Any] = {"median_s": round(statistics.median(walls), 3), "min_s": round(min(walls), 3),
                           "max_s": round(max(walls), 3), "runs": len(runs),
                           "exit_codes": sorted({r["code"] for r in runs}),
                           "checks": max(counts) if counts else None}
    if journeys:
        out["journeys_s"] = {k: round(statistics.median(v), 2) for k, v in sorted(journeys.items())}
    return out


#: The columns of /proc/stat's "cpu" line (proc(5)); guest time is already inside user.
_CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def cpu_times(stat: Path = Path("/proc/stat")) -> dict[str, int] | None:
    """The machine's CPU time so far, in ticks, per kind (None where there is no /proc/stat)."""
    try:
        first = stat.read_text().splitlines()[0].split()
        if first[0] != "cpu":
            return None
        return {k: int(v) for k, v in zip(_CPU_FIELDS, first[1:], strict=False)}
    except (OSError, IndexError, ValueError):  # unreadable, empty, or not the "cpu" line proc(5) describes
        return None


def host_share(before: dict[str, int] | None, after: dict[str, int] | None) -> dict[str, float] | None:
    """What the machine did between two ``cpu_times``, as % of all CPU time: busy, iowait and steal.

    Steal is time the hypervisor gave to another guest, iowait time spent waiting on the disk (a page cache that
    was emptied: Chromium and Node read from disk again). Both slow a run down without any change in the code,
    so a figure from an hour with much of either is not comparable with one from a quiet hour."""
    if before is None or after is None:
        return None
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in _CPU_FIELDS}
    total = sum(delta.values())
    if total <= 0:
        return None
    busy = delta["user"] + delta["nice"] + delta["system"] + delta["irq"] + delta["softirq"]
    return {"busy_pct": round(100 * busy / total, 1), "iowait_pct": round(100 * delta["iowait"] / total, 1),
            "steal_pct": round(100 * delta["steal"] / total, 1)}


def interleaved(commands: list[tuple[str, list[str], dict[str, str]]],
                runs: int) -> tuple[dict[str, Any], dict[str, float] | None]:
    """Run the commands in turn (A B C A B C ...), ``runs`` rounds: each round is one sample of every command
    under the same machine load, so ratios are taken round by round (the median of the per-round ratios) and hold
    when the shared machine's speed drifts."""
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in commands}
    before = cpu_times()
    for _ in range(runs):
        for name, cmd, env in commands:
            samples[name].append(_once(cmd, env))
    figures = {name: _figure(runs_) for name, runs_ in samples.items()}
    host = host_share(before, cpu_times())

    def ratio(a: str, b: str) -> float:
        return round(statistics.median(y["wall"] / x["wall"] for x, y in zip(samples[a], samples[b], strict=True)), 2)

    first = commands[0][0]
    for name, _, _ in commands[1:]:
        figures[name][f"ratio_to_{first}"] = ratio(first, name)
        if name.endswith(", -n 2") and name.replace(", -n 2", ", serial") in samples:
            figures[name]["ratio_to_serial"] = ratio(name.replace(", -n 2", ", serial"), name)
    return figures, host


def served_version(api_url: str) -> str:
    """What the target serves (``/api/version``): the gate's ``--expected-version`` for a healthy release."""
    import httpx

    body = httpx.get(f"{api_url.rstrip('/')}/api/version", timeout=10).json()
    return str(body["version"])


def timed(cmd: list[str], env: dict[str, str], runs: int) -> dict[str, Any]:
    return _figure([_once(cmd, env) for _ in range(runs)])


def endpoints_env(tmp: Path, n: int) -> Path:
    env = yaml.safe_load((ROOT / "environments" / "sandbox.yaml").read_text())
    paths = [("/health", ["$.status == healthy"]), ("/api/version", ["$.status == healthy", "len($.commit_sha) == 40"]),
             ("/health/full", ["$.checks.database.status == healthy"]), ("/api/leagues", ["len($) > 0"])]
    env["endpoints"] = [{"name": f"e{i}", "url": paths[i % len(paths)][0], "conditions": paths[i % len(paths)][1]}
                        for i in range(n)]
    env["name"] = "sandbox"
    path = tmp / f"endpoints-{n}.yaml"
    # No anchors: the repeated condition lists would come out as YAML aliases, which the loader caps at 100.
    dumper = type("NoAliases", (yaml.SafeDumper,), {"ignore_aliases": lambda self, data: True})
    path.write_text(yaml.dump(env, Dumper=dumper))
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
    ap.add_argument("--only", default="", help="comma list: health,deployment,smoke,full,gate,startup,scale")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results.json")
    ap.add_argument("--latency", default="contract",
                    help="the sandbox's latency profile (sandbox/latency.py): contract (default) or off")
    ap.add_argument("--env", dest="env_file", type=Path, default=None,
                    help="an environment file of a real app to measure instead of the sandbox (its smoke user's "
                         "credentials in the variables it names)")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))

    def want(name: str) -> bool:
        return not only or name in only

    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("MT_SANDBOX_", "PYTEST_"))}
    tmp = Path(tempfile.mkdtemp(prefix="mt-bench-"))
    base_env["MT_REPORTS_DIR"] = str(tmp / "reports")
    (tmp / "reports").mkdir()
    base_env["MT_SANDBOX_LATENCY"] = args.latency  # also for the runs that start their own sandbox
    proc: subprocess.Popen[bytes] | None = None
    if args.env_file is None:
        proc, target_env, sandbox_start = start_sandbox(args.latency)
        site_url, api_url = target_env["MT_SANDBOX_SITE_URL"], target_env["MT_SANDBOX_API_URL"]
        env_arg = "sandbox"
    else:  # a real app: its URLs from the file, its smoke user from the variables it names
        target_env, sandbox_start = {}, 0.0
        from mt_verify import config as cfg

        path, raw = cfg.load_raw(str(args.env_file.resolve()))
        real = cfg.validate(cfg.expand(raw, os.environ, "", path), path)
        site_url, api_url = real.site.url, real.api.url
        base_env["MT_SMOKE_USERNAME"] = os.environ.get(real.smoke.username_env, "")
        base_env["MT_SMOKE_PASSWORD"] = os.environ.get(real.smoke.password_env, "")
        env_arg = f"--env={args.env_file.resolve()}"
    env = {**base_env, **target_env}
    pytest_cmd = [PY, "-m", "pytest", *(["--env", "sandbox"] if env_arg == "sandbox" else [env_arg]),
                  "-q", "-p", "no:randomly"]
    results: dict[str, Any] = {"machine": {"cores": os.cpu_count(), "python": sys.version.split()[0],
                                           "load_avg": os.getloadavg()},
                               "target": env_arg, "latency_profile": args.latency if proc else "real app",
                               "sandbox_start_s": round(sandbox_start, 3)}
    baseline = ("baseline", ["bash", "bench/baseline.sh", site_url, api_url], env)
    groups: list[list[tuple[str, list[str], dict[str, str]]]] = []
    if want("health") or want("deployment"):
        group = [baseline]
        if want("health"):
            group.append(("health tier", [*pytest_cmd, "-m", "health"], env))
            if proc is not None:
                group.append(("health tier, own sandbox", [*pytest_cmd, "-m", "health"], base_env))
        if want("deployment"):
            group.append(("deployment tier", [*pytest_cmd, "-m", "deployment"], env))
        groups.append(group)
    for tier, marker in (("smoke tier", ["-m", "smoke"]), ("full suite", [])):
        if want(tier.split()[0]):
            group = [baseline, (f"{tier}, serial", [*pytest_cmd, *marker], env),
                     (f"{tier}, -n 2", [*pytest_cmd, *marker, "-n", "2"], env)]
            if tier == "full suite" and proc is not None:
                group.append((f"{tier}, -n 2, own sandbox", [*pytest_cmd, "-n", "2"], base_env))
            groups.append(group)
    if want("gate"):  # the gate on a healthy release (it runs the suite once, confirms nothing) vs the suite
        served = served_version(api_url)
        groups.append([("suite", [*pytest_cmd], env),
                       ("gate, healthy release", [PY, "-m", "mt_verify", "gate",
                                                  *(["--env", "sandbox"] if env_arg == "sandbox" else [env_arg]),
                                                  "--expected-version", served, "-q"], env)])
    figures: dict[str, Any] = {}
    try:
        for group in groups:
            got, host = interleaved(group, args.runs)
            print(f"-- {group[1][0]} group, the machine meanwhile: " + (", ".join(f"{k.removesuffix('_pct')} "
                  f"{v:g} %" for k, v in host.items()) if host else "not known (no /proc/stat)"), flush=True)
            results.setdefault("host", {})[group[1][0]] = host
            for name, fig in got.items():
                key = name if name != "baseline" else f"baseline (curl script), with {group[1][0]}"
                figures[key] = fig
                print(f"{key:44} {fig['median_s']:7.3f} s  exit {fig['exit_codes']}  checks {fig['checks']}"
                      + (f"  x{fig['ratio_to_baseline']} baseline" if "ratio_to_baseline" in fig else "")
                      + (f"  x{fig['ratio_to_serial']} serial" if "ratio_to_serial" in fig else "")
                      + (f"  x{fig['ratio_to_suite']} suite" if "ratio_to_suite" in fig else "")
                      + (f"\n    journeys {fig['journeys_s']}" if "journeys_s" in fig else ""), flush=True)
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
        if proc is not None:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(10)
    results["figures"] = figures
    health = figures.get("health tier")
    base = figures.get("baseline (curl script), with health tier")
    if base and health:
        results["health_vs_baseline"] = {
            "time_ratio": health["ratio_to_baseline"],
            "checks": {"suite": health["checks"], "baseline": base["checks"]},
            "check_ratio": round((health["checks"] or 0) / (base["checks"] or 1), 1),
        }
        print(f"health tier / baseline: {results['health_vs_baseline']}")
    args.json.write_text(json.dumps(results, indent=2, default=str))
    print(f"written {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
