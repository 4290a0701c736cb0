"""Build and start-up time of the real-cluster sandbox (``environments/sandbox-real.yaml``).

    .venv/bin/python bench/real_cluster.py [--runs 3]

Prints, and writes to ``bench/real-cluster-results.json``: the cold build time of each piece (as
``scripts/build-cluster.sh`` recorded it in the cache), the sandbox's start-up (wall time until its ready line, and
its own breakdown: kine, kube-apiserver ready, bootstrap, the two helm installs), and one deployment-tier run
against it as the read-only ServiceAccount. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from mt_verify import config as cfg  # noqa: E402
from mt_verify import launcher  # noqa: E402
from sandbox.cluster import binaries  # noqa: E402


def build_times() -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for piece in binaries.PIECES:
        f = binaries.path(piece).parent / "build-seconds"
        out[f"{piece} {binaries.version(piece)}"] = float(f.read_text()) if f.is_file() else None
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    lacking = binaries.missing()
    if lacking:
        print(f"not built: {', '.join(lacking)} (bash scripts/build-cluster.sh)")
        return 2
    results: dict[str, object] = {"build_seconds": build_times(), "startups": []}
    path, raw = cfg.load_raw("sandbox-real")
    spec = cfg.Sandbox.model_validate(raw["sandbox"])
    tier: list[float] = []
    for i in range(args.runs):
        t0 = time.monotonic()
        launched = launcher.launch(spec, [], file=path)
        wall = time.monotonic() - t0
        try:
            if i == 0:
                env = {**dict(__import__("os").environ), **launched.env}
                t1 = time.monotonic()
                proc = subprocess.run([sys.executable, "-m", "pytest", "--env", "sandbox-real", "-m", "deployment",
                                       "tests/deployment", "-q", "-p", "no:randomly"], cwd=ROOT, env=env,
                                      capture_output=True, text=True, timeout=300)
                tier.append(time.monotonic() - t1)
                results["deployment_tier"] = {"seconds": round(tier[0], 2), "exit": proc.returncode,
                                              "summary": proc.stdout.strip().splitlines()[-1]}
        finally:
            launched.stop(timeout=15)
        results["startups"].append({"wall_s": round(wall, 2),  # type: ignore[union-attr]
                                    "reported_s": launched.env.get("MT_SANDBOX_CLUSTER_STARTUP_S")})
        print(f"start-up {i + 1}: {wall:.1f} s to ready")
    walls = [s["wall_s"] for s in results["startups"]]  # type: ignore[union-attr]
    results["startup_median_s"] = statistics.median(walls)
    (ROOT / "bench" / "real-cluster-results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
