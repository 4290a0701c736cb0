"""environments/README.md is the schema's own table: regenerated, it must equal what is committed, and it must name
every key (walked here from the schema's records, independently of the generator) with a meaning."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, get_args, get_origin

from mt_verify import config as cfg
from mt_verify import config_reference as ref
from mt_verify.schema import Record

ROOT = Path(__file__).resolve().parents[1]


def _keys(model: type[Record], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.fields().items():
        stack: list[Any] = [field.annotation]
        subs: list[type[Record]] = []
        listed = False
        while stack:
            a = stack.pop()
            if get_origin(a) is list:
                listed = True
            if isinstance(a, type) and issubclass(a, Record):
                subs.append(a)
            stack.extend(get_args(a))
        key = f"{prefix}{name}" + ("[]" if listed and subs else "")
        out.append(key)
        for sub in subs:
            out += _keys(sub, key + ".")
    return out


def test_committed_reference_is_the_generated_one() -> None:
    proc = subprocess.run([sys.executable, "-m", "mt_verify.config_reference", "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, (proc.stderr.strip() or proc.stdout) + \
        "\nregenerate: python -m mt_verify.config_reference --write"


def test_every_key_is_in_the_table_with_a_meaning() -> None:
    text = (ROOT / "environments" / "README.md").read_text()
    keys = _keys(cfg.Environment)
    assert len(keys) > 100
    for key in keys:
        assert f"| `{key}` |" in text, f"{key} is not in environments/README.md"
    rows = {k.strip("`"): meaning for k, _, _, _, meaning in ref.rows()}
    assert set(rows) == set(keys)
    assert [k for k, meaning in rows.items() if not meaning.strip()] == []


def test_units_follow_the_schema() -> None:
    units = {k.strip("`"): unit for k, _, _, unit, _ in ref.rows()}
    assert units["http.timeout"] == "s" and units["rollback.confirm_delay"] == "s"
    assert units["notify.webhooks[].timeout"] == "s" and units["tls.min_days"] == "days"
    assert units["kubernetes.max_restarts"] == ""


def test_fallback_meanings_name_existing_keys_only() -> None:
    assert set(ref.FALLBACK) <= set(_keys(cfg.Environment)), "a FALLBACK key no longer exists in the schema"


def test_shipped_environments_show_endpoints_and_gate_and_local_takes_urls_from_the_environment() -> None:
    for name in ("prod", "dev", "prod-argocd", "local"):
        env = cfg.load(name, {})
        assert env.endpoints and "gate" in cfg.load_raw(name)[1], f"{name}.yaml shows no endpoints:/gate: example"
    raw = cfg.load_raw("local")[1]
    assert raw["site"]["url"].startswith("${") and ":-http://localhost:8080}" in raw["site"]["url"]
    assert raw["api"]["url"].startswith("${") and ":-http://localhost:8000}" in raw["api"]["url"]
    assert cfg.load("local", {"MT_LOCAL_SITE_URL": "http://127.0.0.1:5173"}).site.url == "http://127.0.0.1:5173"
    assert cfg.load("local", {}).api.url == "http://localhost:8000"
