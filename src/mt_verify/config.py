"""Environment files: what an environment is and what the suite checks there.

``environments/NAME.yaml`` (or any path to a YAML file) is read in three steps:

1. YAML is parsed; a syntax error names the file and line.
2. ``${VAR}`` and ``${VAR:-default}`` in string values are expanded from the process
   environment; an unset variable without a default names itself and the setting.
3. The result is validated against :class:`Environment`; an unknown or missing field
   names its dotted path.

Every failure raises :class:`ConfigError` whose message is a single line.
Secrets are never values in these files: settings that need one name the
environment variable that holds it (``username_env``, ``password_env``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS_DIR = ROOT / "environments"

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """Bad environment file or option; the message is one line meant for an operator."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Seconds = Annotated[float, Field(gt=0)]


def _strip_slash(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return url.rstrip("/")


class Site(_Model):
    """The web front end (nginx serving the Vue SPA; ``/api`` and ``/health`` routed to the backend)."""

    url: str
    #: Other hosts serving the same SPA (``www.``); each gets the app-shell check.
    extra_urls: list[str] = []
    #: ``http://`` URLs that must answer 301/308 with a ``Location`` on ``https://``.
    redirects: list[str] = []

    _norm = field_validator("url")(classmethod(lambda cls, v: _strip_slash(v)))

    @field_validator("extra_urls")
    @classmethod
    def _norm_extra(cls, v: list[str]) -> list[str]:
        return [_strip_slash(u) for u in v]

    @field_validator("redirects")
    @classmethod
    def _plain_http(cls, v: list[str]) -> list[str]:
        for u in v:
            if not u.startswith("http://"):
                raise ValueError(f"a redirect check starts from an http:// URL, not {u!r}")
        return v


class Api(_Model):
    """The FastAPI backend: on its own host, and under ``/api`` on the site's hosts."""

    url: str
    #: Also check ``/api/version`` and ``/health`` through the site's hosts.
    via_site: bool = True

    _norm = field_validator("url")(classmethod(lambda cls, v: _strip_slash(v)))


class Http(_Model):
    timeout: Seconds = 10.0
    #: Hard budget for one request; over it the check fails.
    latency_budget: Seconds = 2.0
    #: Soft budget; over it the check passes with a warning.
    latency_warn: Seconds | None = None
    #: Budget per path, e.g. ``{"/health/full": 3.0}``.
    latency: dict[str, Seconds] = {}
    #: CA bundle to trust (a private CA; the sandbox's). Default: the system store.
    ca_file: str | None = None

    def budget_for(self, path: str) -> float:
        return self.latency.get(path, self.latency_budget)


class Tls(_Model):
    hosts: list[str] = []
    port: int = 443
    #: Fewer days left than this: pass with a warning.
    min_days: int = 21
    #: This many days left or fewer: fail.
    critical_days: int = 7

    @model_validator(mode="after")
    def _order(self) -> Tls:
        if self.critical_days > self.min_days:
            raise ValueError("critical_days must not exceed min_days")
        return self


class Release(_Model):
    """What the served version must look like."""

    #: The release to expect when neither ``--expected-version`` nor ``MT_EXPECTED_VERSION`` is given.
    expected: str | None = None
    #: Expected ``environment`` field of ``/api/version`` (``production`` in prod).
    environment: str | None = None
    #: How long the version check polls while a rollout lands before failing.
    wait: Seconds = 120.0
    #: Image tag expected on every release container, from the expected release.
    #: Fields: ``{sha7}``, ``{sha}``, ``{version}``, ``{build_id}``.
    image_tag: str = "{sha7}"


class Standings(_Model):
    """The standings table to check, by names (resolved to ids through the API)."""

    season: str | None = None  # None: the current season
    age_group: str = "U14"
    league: str = "Homegrown"
    division: str = "Northeast"
    match_type: str = "League"


class SmokeTeams(_Model):
    home: str
    away: str


# -- browser console policy (smoke.console) --------------------------------------------------------


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {value!r} ({exc})") from None
    return value


class ConsoleAllow(_Model):
    """One reviewed piece of known browser noise (``smoke.console.allow[]``).

    ``pattern`` is a regex searched in the console line's text (or a failed request's error, e.g.
    ``net::ERR_NAME_NOT_RESOLVED``); ``source``, when given, a regex searched in the URL the line comes from
    (the script that logged it, or the resource that failed). ``reason`` says why this is noise and not a
    defect: it is mandatory, and it names the entry in the run's notes (counted when it matches, reported as
    stale when nothing in a run matched it)."""

    pattern: str
    source: str | None = None
    reason: Annotated[str, Field(min_length=3)]

    @field_validator("pattern", "source")
    @classmethod
    def _valid_regex(cls, v: str | None) -> str | None:
        return None if v is None else _check_regex(v)


class SmokeConsole(_Model):
    """What the smoke tier forgives in the browser console. An uncaught page error, a first-party script or
    stylesheet that does not load and a first-party 5xx are always red; nothing here can allow them."""

    allow: list[ConsoleAllow] = []


class Smoke(_Model):
    """The smoke user and the browser journeys."""

    username_env: str = "MT_SMOKE_USERNAME"
    password_env: str = "MT_SMOKE_PASSWORD"
    #: Missing credentials fail the tier instead of skipping it.
    required: bool = False
    display_name: str | None = None
    #: Raw role (``team-manager``) and the label the user menu shows (``Manager``).
    role: str = "team-manager"
    role_label: str | None = None
    #: The add-match journey writes (a ``SMOKE-`` match, always removed). Off: it skips.
    writes: bool = True
    teams: SmokeTeams | None = None
    age_group: str = "U14"
    match_type: str = "Friendly"
    #: Leftover ``SMOKE-`` matches older than this (seconds) are swept at session start.
    sweep_after: float = Field(900.0, ge=0)
    #: Chromium executable; default Playwright's own browser, else /usr/bin/chromium.
    browser_path: str | None = None
    #: Timeout of one browser wait (seconds).
    timeout: Seconds = 10.0
    #: Known console noise, each entry with its reason (:class:`SmokeConsole`).
    console: SmokeConsole = SmokeConsole()


class Deployment(_Model):
    name: str
    replicas: int = Field(1, ge=0)
    #: Containers whose image tag must equal the release (others, e.g. redis, are not checked).
    release_containers: list[str] = []
    #: Service that must have ready endpoints for this deployment (None: not checked).
    service: str | None = None


class Ingress(_Model):
    name: str
    hosts: list[str] = []


class Certificate(_Model):
    kind: Literal["cert-manager", "gke-managed"]
    name: str


class ArgoCd(_Model):
    application: str
    namespace: str = "argocd"


class EventAllow(_Model):
    """A warning event that is known noise: all given fields must match.

    ``reason`` exactly; ``object`` a regex matched in full against ``kind/name`` (kind lower-cased, as kubectl
    writes it: ``pod/missing-table-backend-.*``); ``message`` a regex searched in the message."""

    reason: str | None = None
    object: str | None = None
    message: str | None = None

    @field_validator("object", "message")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {v!r} ({exc})") from None
        return v


class Kubernetes(_Model):
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str
    #: Helm release name (also the ``app.kubernetes.io/instance`` label).
    release: str
    #: ``helm``: read the release from its Secrets; ``argocd``: the Application.
    manager: Literal["helm", "argocd"] = "helm"
    argocd: ArgoCd | None = None
    deployments: list[Deployment]
    ingress: Ingress | None = None
    certificate: Certificate | None = None
    #: Deadline for a rollout still in progress.
    rollout_timeout: Seconds = 300.0
    max_restarts: int = Field(0, ge=0)
    events_allow: list[EventAllow] = []
    request_timeout: Seconds = 10.0

    @model_validator(mode="after")
    def _argo(self) -> Kubernetes:
        if self.manager == "argocd" and self.argocd is None:
            raise ValueError("manager 'argocd' needs an 'argocd' section")
        return self


class Rollback(_Model):
    strategy: Literal["helm", "kubectl", "argocd", "none"] = "helm"
    #: Executable (name on PATH or a path); default the strategy's tool.
    binary: str | None = None
    timeout: Seconds = 300.0
    #: Seconds before failed gating tests are run again to confirm.
    confirm_delay: float = Field(5.0, ge=0)


class Gate(_Model):
    #: Marker expression of the gating tests.
    markers: str = "gate"
    tiers: list[Literal["health", "deployment", "smoke"]] = ["health", "deployment", "smoke"]
    #: Deadline for one pytest run of the gate (seconds); over it the run is stopped and the gate errors.
    timeout: Seconds = 900.0


class EndpointCheck(_Model):
    """A declared endpoint check (becomes one parametrized health test)."""

    name: str
    url: str
    method: Literal["GET", "HEAD", "OPTIONS"] = "GET"
    status: int = 200
    #: Conditions over the JSON body, Gatus-style: ``$.status == healthy``, ``len($.items) > 0``.
    conditions: list[str] = []
    latency: Seconds | None = None
    #: Send the smoke user's Bearer token.
    auth: bool = False

    @field_validator("conditions")
    @classmethod
    def _parse_conditions(cls, v: list[str]) -> list[str]:
        from mt_verify.checks.conditions import Condition

        for text in v:
            Condition.parse(text)
        return v


class Sandbox(_Model):
    """A stand-in world started by the suite for this run (sandbox environments only)."""

    command: list[str]
    #: Seconds to wait for it to report ready.
    start_timeout: Seconds = 20.0
    faults: list[str] = []


class Environment(_Model):
    name: str
    description: str = ""
    site: Site
    api: Api
    http: Http = Http()
    tls: Tls = Tls()
    release: Release = Release()
    standings: Standings = Standings()
    smoke: Smoke = Smoke()
    kubernetes: Kubernetes | None = None
    rollback: Rollback = Rollback()
    gate: Gate = Gate()
    endpoints: list[EndpointCheck] = []
    sandbox: Sandbox | None = None

    @property
    def https(self) -> bool:
        return self.site.url.startswith("https://")


# -- loading -----------------------------------------------------------------------------------


def available_environments(directory: Path = ENVIRONMENTS_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.yaml"))


def resolve_path(env: str, directory: Path = ENVIRONMENTS_DIR) -> Path:
    """``NAME`` -> ``environments/NAME.yaml``; a path to a YAML file is taken as it is."""
    if env.endswith((".yaml", ".yml")) or os.sep in env:
        path = Path(env)
        if not path.is_file():
            raise ConfigError(f"environment file not found: {path}")
        return path
    path = directory / f"{env}.yaml"
    if not path.is_file():
        known = ", ".join(available_environments(directory)) or "(none)"
        raise ConfigError(f"unknown environment {env!r}; known environments: {known}")
    return path


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def expand(value: Any, env: Mapping[str, str], path: str, file: Path) -> Any:
    """Expand ``${VAR}`` / ``${VAR:-default}`` in every string below ``value``."""
    if isinstance(value, dict):
        return {k: expand(v, env, f"{path}.{k}" if path else str(k), file) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, env, f"{path}[{i}]", file) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        got = env.get(name)
        if got not in (None, ""):
            return got
        if default is not None:
            return default
        raise ConfigError(f"{file}: {path}: environment variable {name} is not set")

    expanded = _VAR.sub(sub, value)
    return expanded


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate(data: dict[str, Any], file: Path) -> Environment:
    try:
        return Environment.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = _loc(err["loc"]) or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            msg = "unknown field"
        elif kind == "missing":
            msg = "missing field"
        else:
            msg = err["msg"]
        more = f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ConfigError(f"{file}: {where}: {msg}{more}") from None


def load_raw(env: str) -> tuple[Path, dict[str, Any]]:
    path = resolve_path(env)
    return path, read_yaml(path)


def load(env: str, environ: Mapping[str, str] | None = None) -> Environment:
    """Load and validate an environment by name or path."""
    path, raw = load_raw(env)
    return validate(expand(raw, os.environ if environ is None else environ, "", path), path)
