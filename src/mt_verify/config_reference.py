"""Every environment key, its default and its unit, generated from the schema in :mod:`mt_verify.config`.

    python -m mt_verify.config_reference            print the reference (Markdown)
    python -m mt_verify.config_reference --write    rewrite environments/README.md
    python -m mt_verify.config_reference --check    exit 1 when environments/README.md differs (a selftest runs it)

Meanings come from the ``#:`` comment lines above each field in ``config.py`` (or the comment at the end of its
line, else the section's docstring); units from the type (``Seconds``), a ``(seconds)``/``(in days)`` in the meaning,
or the field's name (``*_days``). Nothing here is written by hand per key, so the table cannot drift.
"""

from __future__ import annotations

import inspect
import re
import sys
import types
import typing
from typing import Any, Literal, get_args, get_origin

from mt_verify import config as cfg
from mt_verify.schema import Record

OUTPUT = cfg.ENVIRONMENTS_DIR / "README.md"
COMMAND = "python -m mt_verify.config_reference --write"

_FIELD = re.compile(r"^    (?P<name>[a-z_][a-z0-9_]*)\s*:\s*(?P<ann>[^=#]+?)\s*(?:=.*?)?(?:#\s*(?P<tail>.*))?$")

#: Meanings of keys whose schema field has no comment yet (the comment in config.py wins once it is written).
#: A selftest fails when a key here no longer exists, and when any key has no meaning at all.
FALLBACK = {
    "name": "Environment name: the run folders' prefix (`reports/<name>-<time>/`) and the `[name]` in messages",
    "description": "One line shown in the report header",
    "site.url": "The site's main URL (`https://missingtable.com`): app shell, scripts, `/api` and `/health` via nginx",
    "api.url": "The API's base URL (`https://api.missingtable.com`, or the site's URL where /api is routed there)",
    "http": "HTTP checks: timeouts, latency budgets, trusted CA",
    "http.timeout": "Timeout of one HTTP request (each phase: connect, read, write)",
    "tls": "TLS certificate checks of each host",
    "tls.hosts": "`host` or `host:port` whose certificate is checked (days left)",
    "tls.port": "Port of hosts given without one",
    "standings.age_group": "Age group name of the table checked",
    "standings.league": "League name of the table checked",
    "standings.division": "Division name of the table checked",
    "standings.match_type": "Match type name (`League` counts towards standings)",
    "smoke.username_env": "Environment variable holding the smoke user's username",
    "smoke.password_env": "Environment variable holding the smoke user's password (a secret: never in a file)",
    "smoke.display_name": "Name the user menu shows once signed in (null: not checked)",
    "smoke.role_label": "Label the user menu shows for the role (`Manager`; null: not checked)",
    "smoke.teams": "The two test-partition teams of the add-match journey",
    "smoke.teams.home": "Home team name",
    "smoke.teams.away": "Away team name",
    "smoke.age_group": "Age group of the match the add-match journey writes",
    "smoke.match_type": "Match type of that match (`Friendly`: never counts in standings)",
    "kubernetes": "The deployment tier's cluster and release; absent: the tier skips with one line",
    "kubernetes.kubeconfig": "Kubeconfig file (`--kubeconfig`, `KUBECONFIG` override; none in a pod: its service "
                             "account)",
    "kubernetes.context": "Kubeconfig context (`--kube-context` overrides; null: the current context)",
    "kubernetes.namespace": "Namespace of the release",
    "kubernetes.argocd": "The Argo CD Application (manager `argocd`)",
    "kubernetes.argocd.application": "Application name",
    "kubernetes.argocd.namespace": "Namespace of the Application",
    "kubernetes.deployments[]": "Deployments of the release, each checked for rollout, pods, restarts and images",
    "kubernetes.deployments[].name": "Deployment name",
    "kubernetes.deployments[].replicas": "Replicas expected ready",
    "kubernetes.ingress": "The Ingress that must route every host",
    "kubernetes.ingress.name": "Ingress name",
    "kubernetes.ingress.hosts": "Hosts it must have a rule for",
    "kubernetes.certificate": "The TLS certificate object that must be ready",
    "kubernetes.certificate.kind": "`cert-manager` Certificate or GKE `ManagedCertificate`",
    "kubernetes.certificate.name": "Its name",
    "kubernetes.max_restarts": "Restarts allowed per pod of the current ReplicaSet",
    "kubernetes.events_allow[].reason": "Event reason, exactly",
    "kubernetes.events_allow[].object": "Regex matched in full against `kind/name` (`pod/missing-table-backend-.*`)",
    "kubernetes.events_allow[].message": "Regex searched in the event message",
    "kubernetes.request_timeout": "Timeout of one Kubernetes API request",
    "rollback": "How the gate rolls a confirmed failure back",
    "rollback.strategy": "`helm rollback`, `kubectl rollout undo`, `argocd app rollback`, or never",
    "rollback.timeout": "Deadline of each rollback command",
    "gate": "The post-deploy gate (`mt-verify gate`)",
    "gate.tiers": "Tiers the gate runs when `--tiers` is not given",
    "endpoints[].name": "Test id (`test_endpoint_check[<name>]`)",
    "endpoints[].url": "Absolute URL, or a path on `api.url`",
    "endpoints[].method": "HTTP method",
    "endpoints[].status": "Expected HTTP status",
    "endpoints[].latency": "Latency budget of this check (null: `http.latency_budget`)",
    "sandbox.command": "Command that starts it and prints one JSON line of variables when ready",
    "sandbox.faults": "Faults always switched on in this environment",
    "maintenance[].start": "Start: ISO 8601 time (one-off) or `HH:MM` UTC (weekly)",
    "maintenance[].end": "End (exclusive), in the same form",
    "maintenance[].reason": "Said in the output when a notification is held",
}

HEADER = f"""# Environment files: every key

`environments/NAME.yaml` (or any YAML file given as `--env=PATH`) says what an environment is and what the suite
checks there. Values may reference `${{VAR}}` or `${{VAR:-default}}`; secrets are never values in these files, only
the names of the environment variables that hold them (`*_env` keys). An unknown key, a wrong type or a missing
required key stops the run with one line naming the file and the key (exit 4).

**Generated** from the schema (`src/mt_verify/config.py`) by `{COMMAND}`; do not edit by hand.
A selftest (`selftests/test_config_reference.py`) fails when this file and the schema disagree: after changing the
schema, run that command and commit the result.

`[]` after a key: a list of entries with the keys below it. Units: `s` seconds, `days`.
"""


def _comments(model: type[Record]) -> dict[str, str]:
    """``field -> meaning`` from the class source: ``#:`` lines above a field, else its end-of-line comment."""
    try:
        lines = inspect.getsource(model).splitlines()
    except (OSError, TypeError):
        return {}
    out: dict[str, str] = {}
    pending: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
            continue
        m = _FIELD.match(line)
        if m and m.group("name") in model.fields():
            text = " ".join(pending) or (m.group("tail") or "").strip()
            out[m.group("name")] = text
            out[f"{m.group('name')}__ann"] = m.group("ann").strip()
        pending = [] if not stripped.startswith("#") else pending
    return out


def _models(annotation: Any) -> list[type[Record]]:
    args = get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Record):
        return [annotation]
    return [m for a in args for m in _models(a)]


def _type(annotation: Any) -> str:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is typing.Annotated:
        return _type(args[0])
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        parts = [a for a in args if a is not type(None)]
        text = " or ".join(_type(a) for a in parts)
        return f"{text} or null" if len(parts) < len(args) else text
    if origin is list:
        inner = args[0] if args else Any
        if _models(inner):
            return "list of sections"
        return f"list of {_type(inner)}"
    if origin is dict:
        return f"map {_type(args[0])} → {_type(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, Record):
        return "section"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(annotation, str(annotation))


def _default(field: Any) -> str:
    if field.is_required():
        return "**required**"
    value = field.default
    if isinstance(value, Record):
        return "(section)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    if value == "":
        return '`""`'
    if isinstance(value, list | dict) and not value:
        return f"`{value}`"
    if isinstance(value, list):
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    return f"`{value}`"


def _unit(name: str, ann_text: str, meaning: str, annotation: Any) -> str:
    if "Seconds" in ann_text or re.search(r"\((?:in )?seconds\)|seconds\)?$|^Seconds\b", meaning):
        return "s"
    if name.endswith("_days") or "(in days)" in meaning:
        return "days"
    return ""


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def rows(model: type[Record] = cfg.Environment, prefix: str = "") -> list[tuple[str, str, str, str, str]]:
    """(key, type, default, unit, meaning) for every key below ``model``, depth first, in declaration order."""
    out: list[tuple[str, str, str, str, str]] = []
    notes = _comments(model)
    for name, field in model.fields().items():
        key = f"{prefix}{name}"
        annotation = field.annotation
        meaning = notes.get(name, "")
        subs = _models(annotation)
        is_list = get_origin(annotation) is list or any(get_origin(a) is list for a in get_args(annotation))
        if subs and not meaning:
            meaning = (inspect.getdoc(subs[0]) or "").split("\n\n")[0].replace("\n", " ")
            if subs[0].__doc__ is None or subs[0].__doc__ == cfg._Model.__doc__:
                meaning = ""
        shown = f"{key}{'[]' if is_list and subs else ''}"
        meaning = meaning or FALLBACK.get(shown, "")
        out.append((f"`{shown}`", _type(annotation), _default(field),
                    _unit(name, notes.get(f"{name}__ann", ""), meaning, annotation), _escape(meaning)))
        for sub in subs:
            out += rows(sub, f"{key}{'[]' if is_list else ''}.")
    return out


def render() -> str:
    lines = [HEADER, "| Key | Type | Default | Unit | Meaning |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {t} | {d} | {u} | {m} |" for k, t, d, u, m in rows()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if args == ["--write"]:
        OUTPUT.write_text(text, encoding="utf-8")
        print(f"wrote {OUTPUT}")
        return 0
    if args == ["--check"]:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} differs from the schema: run {COMMAND}", file=sys.stderr)
            return 1
        return 0
    if args:
        print("usage: python -m mt_verify.config_reference [--write | --check]", file=sys.stderr)
        return 4
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["FALLBACK", "main", "render", "rows"]
