"""bench/run.py says how busy the machine was while it measured (steal, iowait), so a slow hour is told apart from a
slow change. Judged against hand-computed shares of a made-up /proc/stat."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stat(tmp_path: Path, name: str, line: str) -> Path:
    path = tmp_path / name
    path.write_text(f"{line}\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 1\n")
    return path


def test_host_share_is_each_kind_of_time_over_all_of_it(tmp_path: Path) -> None:
    bench = _bench()
    # user nice system idle iowait irq softirq steal guest guest_nice
    before = bench.cpu_times(_stat(tmp_path, "a", "cpu  100 0 50 800 10 0 0 40 0 0"))
    after = bench.cpu_times(_stat(tmp_path, "b", "cpu  160 10 70 880 30 5 5 60 0 0"))
    # deltas: user 60, nice 10, system 20, idle 80, iowait 20, irq 5, softirq 5, steal 20 -> total 220
    share = bench.host_share(before, after)
    assert share == {"busy_pct": round(100 * 100 / 220, 1), "iowait_pct": round(100 * 20 / 220, 1),
                     "steal_pct": round(100 * 20 / 220, 1)}


def test_no_proc_stat_means_not_known(tmp_path: Path) -> None:
    bench = _bench()
    assert bench.cpu_times(tmp_path / "missing") is None
    assert bench.cpu_times(_stat(tmp_path, "odd", "intr 5 6 7")) is None
    assert bench.cpu_times(_stat(tmp_path, "blank", "")) is None
    assert bench.cpu_times(_stat(tmp_path, "words", "cpu  many few")) is None
    same = bench.cpu_times(_stat(tmp_path, "c", "cpu  1 1 1 1 1 1 1 1 0 0"))
    assert bench.host_share(same, same) is None
    assert bench.host_share(None, same) is None
