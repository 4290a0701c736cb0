"""Environment files: what an environment is and what the suite checks there.

``environments/NAME.yaml`` (or any path to a YAML file) is read in three steps:

1. YAML is parsed; a syntax error names the file and line.
2. ``${VAR}`` and ``${VAR:-default}`` in string values are expanded from the process
   environment; an unset variable without a default names itself and the setting.
3. The result is validated against :class:`Environment` (:mod:`mt_verify.schema`); an unknown or
   missing field names its dotted path.

Every failure raises :class:`ConfigError` whose message is a single line.
Secrets are never values in these files: settings that need one name the
environment variable that holds it (``username_env``, ``password_env``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from mt_verify.errors import ConfigError
from mt_verify.schema import Field, Record, ValidationError, field_validator, model_validator

__all__ = ["ConfigError"]  # re-exported: callers say cfg.ConfigError

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS_DIR = ROOT / "environments"

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")




class _Model(Record):
    """A section of an environment file: frozen, unknown keys refused (:mod:`mt_verify.schema`)."""


Seconds = Annotated[float, Field(gt=0)]


def _strip_slash(url: str) -> str:
    check_url(url)
    return url.rstrip("/")


# -- values checked on load (issue 11: a bad value is one line at load time, never a traceback later) --------

#: Fields ``release.image_tag`` may use.
IMAGE_TAG_FIELDS = ("sha7", "sha", "version", "build_id")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"^(?:\[[0-9A-Fa-f:.]+\]|{_LABEL}(?:\.{_LABEL})*\.?)$")


def _no_control(value: str) -> None:
    bad = next((c for c in value if c.isspace() or ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise ValueError(f"{value!r} contains {'whitespace' if bad == ' ' else repr(bad)}")


def check_port(text: str, value: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"port {text!r} in {value!r} is not a number from 1 to 65535")
    return int(text)


def check_host(host: str, value: str) -> None:
    if not host or len(host) > 253 or not _HOST.match(host):
        raise ValueError(f"{host!r} in {value!r} is not a host name or IP address")


def _check_host_port(hostport: str, value: str) -> None:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port``."""
    host, port = hostport, None
    if hostport.startswith("["):
        end = hostport.find("]")
        host, rest = hostport[:end + 1], hostport[end + 1:]
        if rest and not rest.startswith(":"):
            raise ValueError(f"{hostport!r} in {value!r} is not host[:port]")
        port = rest[1:] if rest else None
    elif ":" in hostport:
        host, port = hostport.rsplit(":", 1)
    check_host(host, value)
    if port is not None:
        check_port(port, value)


def check_url(url: str, schemes: tuple[str, ...] = ("http", "https")) -> None:
    """An absolute URL with one of ``schemes``, a valid host and port, no whitespace or control characters."""
    _no_control(url)
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"not an {'/'.join(schemes)} URL: {url!r}")
    _check_host_port(parts.netloc.rpartition("@")[2], url)


def check_host_port(value: str) -> str:
    """``host`` or ``host:port`` (TLS hosts)."""
    _no_control(value)
    if "://" in value or "/" in value:
        raise ValueError(f"{value!r}: give host or host:port, not a URL")
    _check_host_port(value, value)
    return value


def check_template(template: str, fields: tuple[str, ...]) -> str:
    """A ``str.format`` template using only ``fields`` (by name, no conversion or format spec)."""
    import string

    _no_control(template)
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"template {template!r}: {exc}") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in fields:
            raise ValueError(f"unknown template field {{{name}}} in {template!r}; fields: "
                             + ", ".join(f"{{{f}}}" for f in fields))
        if spec or conversion:
            raise ValueError(f"template {template!r}: {{{name}}} takes no conversion or format spec")
    return template


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
            check_url(u, ("http",))
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
    #: Wall-clock budget of one tier in one process (seconds); past it the remaining checks fail fast.
    tier_budget: Seconds = 300.0

    def budget_for(self, path: str) -> float:
        return self.latency.get(path, self.latency_budget)


class Tls(_Model):
    #: ``host`` or ``host:port`` (default port: ``port``).
    hosts: list[str] = []
    port: int = Field(443, ge=1, le=65535)
    #: Fewer days left than this: pass with a warning.
    min_days: int = 21
    #: This many days left or fewer: fail.
    critical_days: int = 7

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, v: list[str]) -> list[str]:
        return [check_host_port(h) for h in v]

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

    @field_validator("image_tag")
    @classmethod
    def _template(cls, v: str) -> str:
        return check_template(v, IMAGE_TAG_FIELDS)


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

    #: Regex searched in the console line's text (or a failed request's error).
    pattern: str
    #: Regex searched in the URL the line comes from (the script that logged it, or the resource that failed).
    source: str | None = None
    #: Why this is noise and not a defect (mandatory); names the entry in the run's notes.
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

    #: Off: the smoke tier is not checked in this environment (its tests skip, and a gate does not ask for it).
    #: On, a journey that cannot run (credentials unset) is *not verified*: yellow, and an error for the gate.
    enabled: bool = True
    username_env: str = "MT_SMOKE_USERNAME"
    password_env: str = "MT_SMOKE_PASSWORD"
    #: Missing credentials are a suite error in every run (not only in the gate: see ``enabled``).
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
    #: Chromium executable; default Playwright's own browser, else /usr/bin/chromium-headless-shell (headless) or
    #: /usr/bin/chromium.
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
        return None if v is None else _check_regex(v)


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
    #: A failure is reported (red) but never gates: the gate never rolls back for it.
    informational: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if "://" in v:
            check_url(v)
        elif not v.startswith("/"):
            raise ValueError(f"an endpoint url is a path under api.url (/...) or an http(s) URL, not {v!r}")
        else:
            _no_control(v)
        return v

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


# -- notifications, metrics, maintenance windows (mt_verify.notify, mt_verify.metrics) ------------------------------

#: What a run ended as, for ``notify.webhooks[].on``: a gate's exit code, or a plain run's verdict.
NotifyEvent = Literal["passed", "failed", "rolled_back", "not_rolled_back", "rollback_failed", "error"]
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


class Webhook(_Model):
    """One webhook told of a run's verdict. Its URL is a secret: the file names the variable that holds it."""

    #: Environment variable holding the webhook URL (a Slack incoming-webhook URL is itself the credential).
    url_env: str
    #: ``slack``: Slack-compatible ``{"text", "blocks"}``; ``json``: the plain verdict record.
    format: Literal["slack", "json"] = "slack"
    #: Extra request headers whose values are secrets: header name -> environment variable holding the value.
    headers_env: dict[str, str] = {}
    #: Outcomes that are sent (default: every outcome but ``passed``).
    on: list[NotifyEvent] = ["failed", "rolled_back", "not_rolled_back", "rollback_failed", "error"]
    #: Total deadline for delivering this message, all attempts and back-off included (seconds).
    timeout: Seconds = 10.0
    #: Attempts after the first, on a connection error, a timeout, HTTP 429 or 5xx.
    retries: int = Field(2, ge=0, le=10)
    #: Wait before the first retry (seconds); doubled before each next one.
    backoff: Seconds = 1.0


class Notify(_Model):
    """Webhooks told of the verdict after a gate or a run (``mt_verify.notify``); delivery never changes the exit."""

    webhooks: list[Webhook] = []
    #: Link to the run's report in messages. Fields: ``{env}``, ``{run}`` (the run folder's name), ``{exit_code}``;
    #: ``${VAR}`` works too (``${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}``).
    report_url: str | None = None


class Metrics(_Model):
    """Per check and per gate run, pushed to a Prometheus Pushgateway; always written to ``metrics.txt`` in the
    run folder (OpenMetrics text)."""

    #: Pushgateway base URL (``http://pushgateway.monitoring:9091``); None: file only.
    pushgateway_url: str | None = None
    #: ``job`` label of the pushed group (the grouping key is ``job``, ``env`` and ``kind`` = run | gate).
    job: str = "mt_verify"
    #: Total deadline for the push, retries included (seconds).
    timeout: Seconds = 5.0
    #: Attempts after the first, on a connection error, a timeout or HTTP 5xx.
    retries: int = Field(1, ge=0, le=10)

    @field_validator("pushgateway_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v in (None, "") else _strip_slash(v)


class MaintenanceWindow(_Model):
    """A time in which ``mt-verify run`` reports but notifies no one (UTC).

    One-off: ``{start: "2026-12-24T22:00:00Z", end: "2026-12-25T06:00:00Z", reason: ...}``.
    Weekly: ``{weekly: sun, start: "02:00", end: "04:00", reason: ...}`` (an ``end`` before ``start`` runs past
    midnight into the next day)."""

    start: str
    end: str
    #: Day of a weekly window (``mon`` .. ``sun``); absent: a one-off window with ISO 8601 start and end.
    weekly: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] | None = None
    reason: str = ""

    @model_validator(mode="after")
    def _times(self) -> MaintenanceWindow:
        if self.weekly is not None:
            for name, value in (("start", self.start), ("end", self.end)):
                if not _HHMM.match(value):
                    raise ValueError(f"a weekly window's {name} is HH:MM (UTC), not {value!r}")
            return self
        start, end = _utc(self.start, "start"), _utc(self.end, "end")
        if end <= start:
            raise ValueError("end must be after start")
        return self

    def contains(self, now: datetime) -> bool:
        """Whether ``now`` (aware) falls inside this window."""
        now = now.astimezone(UTC)
        if self.weekly is None:
            return _utc(self.start, "start") <= now < _utc(self.end, "end")
        day = _WEEKDAYS.index(self.weekly)
        (sh, sm), (eh, em) = (map(int, t.split(":")) for t in (self.start, self.end))
        length = ((eh * 60 + em) - (sh * 60 + sm)) % (24 * 60) or 24 * 60
        # The window that started on the most recent ``day`` at start (this week's or last week's).
        back = (now.weekday() - day) % 7
        opened = (now - timedelta(days=back)).replace(hour=sh, minute=sm, second=0, microsecond=0)
        if opened > now:
            opened -= timedelta(days=7)
        return now < opened + timedelta(minutes=length)


def _utc(text: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} is an ISO 8601 time (2026-12-24T22:00:00Z), not {text!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

# -- end of notifications, metrics, maintenance windows ---------------------------------------------------------------


class Environment(_Model):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    #: Shown in reports: one line, a sentence or two.
    description: str = Field("", max_length=500)
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
    notify: Notify = Notify()
    metrics: Metrics = Metrics()
    #: Maintenance windows (UTC): a plain run inside one reports but tells nobody (``mt_verify.notify``).
    maintenance: list[MaintenanceWindow] = []



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


#: What :func:`read_yaml` parsed, by path and the file's (size, mtime): the plugin, the reports and the
#: secret registry each read the same file at start-up; it is parsed once (PyYAML's pure-Python composer).
_parsed: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}

#: Files up to this size are looked up in the parse cache (:mod:`mt_verify.envfile` refuses bigger ones).
PARSE_CACHE_MAX = 1024 * 1024
_ENVFILE_SOURCE = Path(__file__).with_name("envfile.py")


def read_yaml(path: Path) -> dict[str, Any]:
    """The file's top-level mapping (size, encoding, nesting, aliases and duplicate keys checked:
    :mod:`mt_verify.envfile`). Each caller gets its own copy."""
    import copy

    try:
        st = path.stat()
    except OSError:
        st = None  # read_mapping names what is wrong with it
    key, stamp = path.resolve(), (st.st_size, st.st_mtime_ns) if st else None
    cached = _parsed.get(key)
    if stamp and cached and cached[0] == stamp:
        return copy.deepcopy(cached[1])
    data = _parse(path)
    if stamp:
        _parsed[key] = (stamp, copy.deepcopy(data))
    return data


def _parse(path: Path) -> dict[str, Any]:
    """Parse and check the file, or take what a run before parsed from the same bytes.

    Parsing costs ~30 ms (importing PyYAML and its pure-Python composer) in every process of every run, for a
    file that rarely changes. A file that parsed and passed every check of :mod:`mt_verify.envfile` is kept as
    JSON in the user's cache (:mod:`mt_verify.usercache`), named by the SHA-256 of its bytes and of the checker's
    own source: the same bytes give the same mapping, and a file that was refused is never kept (it is refused
    again, with its message, every time). A document JSON cannot hold exactly (a YAML timestamp, a number as a
    key) is simply parsed every time."""
    import hashlib
    import json

    from mt_verify.usercache import folder

    entry: Path | None = None
    try:
        with path.open("rb") as fh:
            raw = fh.read(PARSE_CACHE_MAX + 1)
        cache = folder("environments") if len(raw) <= PARSE_CACHE_MAX else None
        if cache is not None:
            digest = hashlib.sha256(b"mt-verify environment file 1\0" + _ENVFILE_SOURCE.read_bytes() + b"\0" + raw)
            entry = cache / f"{digest.hexdigest()}.json"
            kept = json.loads(entry.read_text(encoding="utf-8"))
            if isinstance(kept, dict):
                return kept
    except (OSError, ValueError):
        pass  # not kept yet (or unreadable): parse it
    from mt_verify.envfile import EnvFileError, read_mapping

    try:
        data = read_mapping(path)
    except EnvFileError as exc:
        raise ConfigError(str(exc)) from None
    if entry is not None:
        _keep(entry, data)
    return data


def _keep(entry: Path, data: dict[str, Any]) -> None:
    import json

    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False)
        if json.loads(text) != data:
            return  # JSON would change it (a number as a key): not kept
        tmp = entry.with_name(f".{entry.name}.{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, entry)
        kept = sorted(entry.parent.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for old in kept[:-KEEP_PARSED]:
            old.unlink(missing_ok=True)
    except (OSError, TypeError, ValueError):
        pass  # a timestamp, or a cache that cannot be written: parsed every time


#: Parsed files kept in the cache (the most recent); selftests write many short-lived environment files.
KEEP_PARSED = 64


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


def _one_line(exc: ValidationError, file: Path, prefix: tuple[Any, ...] = ()) -> ConfigError:
    err = exc.errors()[0]
    where = _loc(prefix + tuple(err["loc"])) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        msg = "unknown field"
    elif kind == "missing":
        msg = "missing field"
    else:
        msg = " ".join(str(err["msg"]).removeprefix("Value error, ").split())
    more = f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return ConfigError(f"{file}: {where}: {msg}{more}")


def validate(data: dict[str, Any], file: Path) -> Environment:
    try:
        return Environment.model_validate(data)
    except ValidationError as exc:
        raise _one_line(exc, file) from None


def sandbox_spec(raw: Mapping[str, Any], file: Path) -> Sandbox | None:
    """The file's ``sandbox`` section, validated (it is used before the rest can be: its variables come from
    the sandbox it starts)."""
    section = raw.get("sandbox")
    if section is None:
        return None
    try:
        return Sandbox.model_validate(section)
    except ValidationError as exc:
        raise _one_line(exc, file, ("sandbox",)) from None


def load_raw(env: str) -> tuple[Path, dict[str, Any]]:
    """The file as parsed (before ``${VAR}`` expansion); its ``sandbox`` section is already validated."""
    path = resolve_path(env)
    raw = read_yaml(path)
    sandbox_spec(raw, path)
    return path, raw


def load(env: str, environ: Mapping[str, str] | None = None) -> Environment:
    """Load and validate an environment by name or path."""
    path, raw = load_raw(env)
    return validate(expand(raw, os.environ if environ is None else environ, "", path), path)
