"""The stand-in Missing Table: the backend's HTTP surface (per the contract) and the SPA's files,
served the way the real ingress routes them (``/api*`` and ``/health*`` to the backend,
everything else to nginx, which answers ``index.html`` for any path)."""

from __future__ import annotations

import json
import random
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox import faults as fault_table
from sandbox import latency as latency_profiles
from sandbox.db import Database
from sandbox.listener import Handler
from sandbox.release import Release

WEB = Path(__file__).parent / "web"

#: Faults of the application (HTTP side, the SPA, the listeners); the cluster's are in sandbox.kube.
#: Names, descriptions and the checks each must break: sandbox/faults.py.
FAULTS: dict[str, str] = dict(fault_table.DESCRIPTIONS)
HOSTILE = set(fault_table.HOSTILE)

CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".html": "text/html; charset=utf-8", ".md": "text/markdown; charset=utf-8",
                 ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon"}
TOKEN_TTL = 3600


@dataclass
class World:
    """Everything the stand-in serves; shared by all listeners of one sandbox."""

    db: Database
    release: Release
    faults: set[str] = field(default_factory=set)
    environment: str = "sandbox"
    lock: threading.RLock = field(default_factory=threading.RLock)
    #: Answer as slowly as the real app (:mod:`sandbox.latency`); None: as fast as it can.
    latency: latency_profiles.Profile | None = None
    rng: random.Random = field(default_factory=random.Random)
    #: Successful sign-ins so far, by client: "browser" (a Chromium user agent) or "api" (anything else).
    logins: dict[str, int] = field(default_factory=lambda: {"browser": 0, "api": 0})

    def served_release(self) -> Release:
        if "version-drift" in self.faults:
            return Release.make("1.28.0", 1299)
        return self.release


class ApiError(Exception):
    def __init__(self, status: int, detail: Any, headers: dict[str, str] | None = None) -> None:
        self.status, self.detail, self.headers = status, detail, headers or {}


Route = Callable[["AppHandler", dict[str, str]], tuple[int, Any]]
ROUTES: list[tuple[str, re.Pattern[str], Route]] = []


def route(method: str, pattern: str) -> Callable[[Route], Route]:
    def register(fn: Route) -> Route:
        ROUTES.append((method, re.compile(f"^{pattern}$"), fn))
        return fn

    return register


class AppHandler(Handler):
    server_version = "nginx"
    sys_version = ""
    world: World  # set on the subclass made per server
    role = "api"  # which listener: "site" (the web hosts) or "api" (the API host)

    # -- plumbing ---------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("GET", head=True)

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_OPTIONS(self) -> None:
        origin = self.headers.get("Origin")
        allowed = origin in ("http://localhost:8080", "https://missingtable.com")
        hdrs = {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true",
                "Access-Control-Allow-Methods": "*"} if allowed and origin else {}
        self._send(200 if allowed else 400, b"OK" if allowed else b"Disallowed CORS origin", "text/plain", hdrs)

    def _dispatch(self, method: str, head: bool = False) -> None:
        hostile = HOSTILE & self.world.faults
        if hostile:
            self._hostile(hostile.pop(), head)
            return
        parts = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        self._body_cache: bytes | None = None
        self._delay_ms: str | None = None
        profile = self.world.latency
        if profile is not None:
            backend = path.startswith(("/api", "/health"))
            if path == "/api/teams":  # already answers after its own random 20-400 ms (the form's race)
                wait = 0.0
            else:
                with self.world.lock:
                    wait = profile.delay_for(method, path, backend=backend).sample(self.world.rng)
            self._delay_ms = f"{wait * 1000:.1f}"
            threading.Event().wait(wait)  # the real app's time to answer, not a wait for anything
        misrouted = "site-api-routing-broken" in self.world.faults and self.role == "site"
        routed = not (misrouted and path.startswith("/api"))
        if routed and path.startswith(("/api", "/health")) and self.role == "site" \
                and "api-down" in self.world.faults:
            # The ingress has no backend to send /api and /health to: nginx's own 502 page.
            self._drain()
            self._send(502, _BAD_GATEWAY, CONTENT_TYPES[".html"], head=head)
            return
        if routed and path.startswith(("/api", "/health")):
            path_known = False
            for m, rx, fn in ROUTES:
                match = rx.match(path)
                path_known = path_known or bool(match)
                if match and m == method:
                    try:
                        status, payload = fn(self, match.groupdict())
                    except ApiError as err:
                        self._json(err.status, {"detail": err.detail}, err.headers, head)
                        return
                    self._json(status, payload, head=head)
                    return
            # FastAPI: an unknown path is 404 whatever the method; a known path with another method 405.
            self._drain()
            if path_known:
                self._json(405, {"detail": "Method Not Allowed"}, head=head)
            else:
                self._json(404, {"detail": "Not Found"}, head=head)
            return
        self._drain()
        self._static(path, head)

    def _hostile(self, fault: str, head: bool) -> None:
        self._drain()
        if fault == "hostile-hang":
            threading.Event().wait(600)  # never answer (the server thread is a daemon)
            self.close_connection = True
            return
        if fault == "hostile-reset":
            import socket
            import struct

            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if fault == "hostile-redirect-loop":
            self._send(302, b"", "text/plain", {"Location": self.path}, head)
        elif fault == "hostile-html":
            self._send(200, _FALLBACK_INDEX.encode(), CONTENT_TYPES[".html"], head=head)
        elif fault == "hostile-truncated-json":
            self._send(200, b'{"status": "healthy", "checks": {"api": {"sta', "application/json", head=head)
        elif fault == "hostile-empty-200":
            self._send(200, b"", "application/json", head=head)
        elif fault == "hostile-huge":
            self._send(200, b'{"pad": "' + b"x" * (5 * 1024 * 1024) + b'"}', "application/json", head=head)

    def _drain(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)

    def body(self) -> Any:
        if self._body_cache is None:
            length = int(self.headers.get("Content-Length") or 0)
            self._body_cache = self.rfile.read(length) if length else b""
        try:
            return json.loads(self._body_cache or b"null")
        except ValueError:
            raise ApiError(422, "Invalid JSON body") from None

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None,
              head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-ID", f"mt-req-{secrets.token_hex(4)}")
        if getattr(self, "_delay_ms", None) is not None:
            self.send_header("X-Sandbox-Delay-Ms", str(self._delay_ms))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None, head: bool = False) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers, head)

    def _static(self, path: str, head: bool) -> None:
        faults = self.world.faults
        name = path.lstrip("/")
        if name == "assets/app.css" and "asset-404" in faults:
            self._send(404, _NOT_FOUND, CONTENT_TYPES[".html"], head=head)  # nginx: location /assets/ =404
            return
        if name.startswith("assets/") and "assets-missing" not in faults:
            file = (WEB / name).resolve()
            if file.is_file() and WEB in file.parents:
                self._send(200, file.read_bytes(), CONTENT_TYPES.get(file.suffix, "application/octet-stream"),
                           {"Cache-Control": "no-cache"}, head)
                return
        if name == "changelog.md" and (WEB / "changelog.md").is_file():
            self._send(200, (WEB / "changelog.md").read_bytes(), CONTENT_TYPES[".md"], head=head)
            return
        # nginx try_files ... /index.html: any other path is the SPA shell, 200.
        self._send(200, self._index(), CONTENT_TYPES[".html"], head=head)

    def _index(self) -> bytes:
        if "front-page-broken" in self.world.faults:
            return b"<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body>" \
                   b"<h1>Welcome to nginx!</h1></body></html>"
        index = WEB / "index.html"
        html = index.read_text(encoding="utf-8") if index.is_file() else _FALLBACK_INDEX
        inject = f"<script>window.__SANDBOX__={json.dumps({'faults': sorted(self.world.faults)})}</script>"
        return html.replace("</head>", inject + "</head>", 1).encode()

    # -- auth -------------------------------------------------------------------------------

    def user(self, required: bool = True) -> dict[str, Any] | None:
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            if required:
                raise ApiError(401, "Not authenticated", {"WWW-Authenticate": "Bearer"})
            return None
        row = self.world.db.one(
            "SELECT u.* FROM tokens t JOIN users u ON u.id=t.user_id WHERE t.token=? AND t.expires_at>?",
            (auth[7:], time.time()),
        )
        if row is None:
            raise ApiError(401, "Invalid or expired token")
        return row


_FALLBACK_INDEX = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Missing Table</title>
<script type="module" crossorigin src="/assets/app.js"></script></head>
<body><div id="app"></div></body></html>"""


_BAD_GATEWAY = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway"
                b"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
_NOT_FOUND = (b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found"
              b"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")

#: Bounds (seconds) of the delay of every /api/teams answer: the real backend's answers come back in any order,
#: and the Add Match form's watchers reset the team selects after each one (contract section 2.8). Always on.
TEAMS_DELAY_S = (0.02, 0.4)


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat()


def _int(q: dict[str, str], key: str) -> int | None:
    value = q.get(key)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise ApiError(422, f"{key} must be an integer") from None


# -- health and version ---------------------------------------------------------------------

@route("GET", "/health")
def health(h: AppHandler, _: dict[str, str]) -> tuple[int, Any]:
    if "health-down" in h.world.faults:
        return 503, {"status": "unhealthy", "version": "2.0.0", "schema": "enhanced"}
    return 200, {"status": "healthy", "version": "2.0.0", "schema": "enhanced"}


@route("GET", "/health/full")
def health_full(h: AppHandler, _: dict[str, str]) -> tuple[int, Any]:
    faults = h.world.faults
    if "slow-health-full" in faults:
        threading.Event().wait(1.2)  # the simulated slowness of the backend
    db = h.world.db
    seasons = 0 if "health-full-degraded" in faults else len(db.all("SELECT id FROM seasons"))
    match_types = len(db.all("SELECT id FROM match_types"))
    checks: dict[str, Any] = {
        "api": {"status": "healthy", "message": "API is responding"},
        "database": {"status": "healthy", "message": "Database connection successful",
                     "age_groups_count": len(db.all("SELECT id FROM age_groups"))},
        "reference_data": {"status": "healthy", "message": "Reference data available",
                           "seasons_count": seasons, "match_types_count": match_types},
        "auth": {"status": "healthy", "message": "Authentication system operational"},
    }
    if seasons == 0:
        checks["reference_data"].update(status="warning", message="No seasons found")
    if "database-unhealthy" in faults:
        checks["database"] = {"status": "unhealthy", "message": "Database connection failed: timeout"}
    body = {"status": "healthy", "version": "2.0.0", "schema": "enhanced", "timestamp": _now(), "checks": checks}
    statuses = {c["status"] for c in checks.values()}
    if "unhealthy" in statuses:
        body["status"] = "unhealthy"
        raise ApiError(503, body)
    if "warning" in statuses:
        body["status"] = "degraded"
    return 200, body


@route("GET", "/api/version")
def version(h: AppHandler, _: dict[str, str]) -> tuple[int, Any]:
    r = h.world.served_release()
    environment = "development" if "version-wrong-environment" in h.world.faults else h.world.environment
    return 200, {"version": r.version, "build_id": r.build_id, "environment": environment,
                 "commit_sha": r.commit_sha, "build_date": r.build_date, "status": "healthy"}


# -- auth -----------------------------------------------------------------------------------

def _profile(u: dict[str, Any], db: Database) -> dict[str, Any]:
    team = db.one("SELECT id, name FROM teams WHERE id=?", (u["team_id"],)) if u["team_id"] else None
    club = db.one("SELECT id, name FROM clubs WHERE id=?", (u["club_id"],)) if u["club_id"] else None
    return {"id": u["id"], "username": u["username"], "email": f"{u['username']}@missingtable.local",
            "display_name": u["display_name"], "role": u["role"], "team_id": u["team_id"],
            "club_id": u["club_id"], "team": team, "club": club, "created_at": u["created_at"],
            "updated_at": u["created_at"]}


@route("POST", "/api/auth/login")
def login(h: AppHandler, _: dict[str, str]) -> tuple[int, Any]:
    body = h.body()
    if not isinstance(body, dict) or not isinstance(body.get("username"), str) \
            or not isinstance(body.get("password"), str):
        raise ApiError(422, [{"msg": "username and password are required"}])
    if "login-slow" in h.world.faults:
        threading.Event().wait(3.0)
    db = h.world.db
    u = db.one("SELECT * FROM users WHERE username=?", (body["username"].lower(),))
    # Bytes, not str: compare_digest refuses non-ASCII text, and any UTF-8 password must work.
    password_ok = u is not None and (secrets.compare_digest(u["password"].encode("utf-8", "surrogatepass"),
                                                           body["password"].encode("utf-8", "surrogatepass"))
                                     or "login-accepts-any-password" in h.world.faults)
    if u is None or not password_ok or "login-rejected" in h.world.faults:
        raise ApiError(401, "Invalid username or password")
    token = _jwt_like(u["id"])
    expires = time.time() + TOKEN_TTL
    client = "browser" if "Chrome" in (h.headers.get("User-Agent") or "") else "api"
    with h.world.lock:
        h.world.logins[client] += 1
    db.execute("INSERT INTO tokens VALUES (?,?,?)", (token, u["id"], expires))
    return 200, {"access_token": token, "refresh_token": secrets.token_urlsafe(24), "expires_at": int(expires),
                 "expires_in": TOKEN_TTL, "user": _profile(u, db)}


def _jwt_like(sub: str) -> str:
    import base64

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps({"sub": sub, "exp": int(time.time()) + TOKEN_TTL, "jti": uuid.uuid4().hex}).encode())
    return f"{header}.{payload}.{b64(secrets.token_bytes(32))}"


@route("GET", "/api/auth/me")
def me(h: AppHandler, _: dict[str, str]) -> tuple[int, Any]:
    u = h.user()
    assert u is not None
    profile = _profile(u, h.world.db)
    return 200, {"success": True, "user": {"id": u["id"], "email": profile["email"],
                                           "profile": {**profile, "current_teams": []}}}


@route("POST", "/api/auth/logout")
def logout(h: AppHandler, _: dict[str, str]) -> tuple[int, Any]:
    auth = h.headers.get("Authorization", "")
    h.user()
    h.world.db.execute("DELETE FROM tokens WHERE token=?", (auth[7:],))
    return 200, {"success": True, "message": "Logged out successfully"}


@route("GET", "/api/csrf-token")
def csrf(h: AppHandler, _: dict[str, str]) -> tuple[int, Any]:
    return 200, {"csrf_token": secrets.token_urlsafe(24)}


# -- look-ups ------------------------------------------------------------------------------

def _season_row(r: dict[str, Any]) -> dict[str, Any]:
    return {**r, "is_current": bool(r["is_current"])}


@route("GET", "/api/seasons")
def seasons(h: AppHandler, _: dict[str, str]) -> tuple[int, Any]:
    h.user()
    return 200, [_season_row(r) for r in h.world.db.all("SELECT * FROM seasons ORDER BY start_date DESC")]


@route("GET", "/api/current-season")
def current_season(h: AppHandler, _: dict[str, str]) -> tuple[int, Any]:
    h.user()
    row = h.world.db.one("SELECT * FROM seasons WHERE is_current=1") or \
        h.world.db.one("SELECT * FROM seasons ORDER BY start_date DESC")
    return 200, _season_row(row or {})


@route("GET", "/api/active-seasons")
def active_seasons(h: AppHandler, _: dict[str, str]) -> tuple[int, Any]:
    h.user()
    today = datetime.now(UTC).date().isoformat()
    rows = h.world.db.all("SELECT * FROM seasons WHERE end_date>=? ORDER BY start_date", (today,))
    return 200, [_season_row(r) for r in rows]


@route("GET", "/api/age-groups")
def age_groups(h: AppHandler, _: dict[str, str]) -> tuple[int, Any]:
    h.user()
    return 200, h.world.db.all("SELECT id, name FROM age_groups ORDER BY name")


@route("GET", "/api/match-types")
def match_types(h: AppHandler, _: dict[str, str]) -> tuple[int, Any]:
    h.user()
    return 200, h.world.db.all("SELECT id, name FROM match_types ORDER BY id")


def _sees_test(u: dict[str, Any] | None) -> bool:
    return bool(u and (u["role"] == "admin" or u["is_test"]))


@route("GET", "/api/leagues")
def leagues(h: AppHandler, _: dict[str, str]) -> tuple[int, Any]:
    u = h.user(required=False)
    rows = h.world.db.all("SELECT * FROM leagues ORDER BY id")
    return 200, [{**r, "is_active": bool(r["is_active"]), "is_test": bool(r["is_test"]), "sport_type": "soccer"}
                 for r in rows if _sees_test(u) or not r["is_test"]]


@route("GET", "/api/divisions")
def divisions(h: AppHandler, _: dict[str, str]) -> tuple[int, Any]:
    h.user()
    league_id = _int(h.query, "league_id")
    rows = h.world.db.all(
        "SELECT d.*, l.name AS league_name FROM divisions d JOIN leagues l ON l.id=d.league_id"
        + (" WHERE d.league_id=?" if league_id is not None else "") + " ORDER BY d.id",
        (league_id,) if league_id is not None else (),
    )
    return 200, [{"id": r["id"], "name": r["name"], "description": r["description"], "league_id": r["league_id"],
                  "leagues": {"id": r["league_id"], "name": r["league_name"]}} for r in rows]


@route("GET", "/api/teams")
def teams(h: AppHandler, _: dict[str, str]) -> tuple[int, Any]:
    h.user()
    threading.Event().wait(random.uniform(*TEAMS_DELAY_S))  # the answer's random, bounded delay
    q = h.query
    mt, ag, div = _int(q, "match_type_id"), _int(q, "age_group_id"), _int(q, "division_id")
    sql = "SELECT DISTINCT t.* FROM teams t LEFT JOIN team_match_types m ON m.team_id=t.id WHERE 1=1"
    args: list[Any] = []
    if mt is not None:
        sql += " AND m.match_type_id=?"
        args.append(mt)
    if ag is not None:
        sql += " AND m.age_group_id=?"
        args.append(ag)
    if div is not None:
        sql += " AND t.division_id=?"
        args.append(div)
    rows = h.world.db.all(sql + " ORDER BY t.name", tuple(args))
    return 200, [{"id": r["id"], "name": r["name"], "club_id": r["club_id"], "age_groups": [{"id": r["age_group_id"]}],
                  "divisions_by_age_group": {str(r["age_group_id"]): {"id": r["division_id"]}}} for r in rows]


# -- standings ------------------------------------------------------------------------------

@route("GET", "/api/table")
def table(h: AppHandler, _: dict[str, str]) -> tuple[int, Any]:
    faults = h.world.faults
    if "auth-disabled" not in faults:
        h.user()
    db = h.world.db
    q = h.query
    season = _int(q, "season_id")
    if season is None:
        row = db.one("SELECT id FROM seasons WHERE is_current=1")
        season = row["id"] if row else None
    ag, div = _int(q, "age_group_id"), _int(q, "division_id")
    mtype = q.get("match_type", "League")
    sql = ("SELECT m.* FROM matches m JOIN match_types t ON t.id=m.match_type_id "
           "JOIN teams ht ON ht.id=m.home_team_id JOIN teams at ON at.id=m.away_team_id "
           "WHERE m.season_id=? AND t.name=? AND m.match_status IN ('completed','forfeit') "
           "AND m.home_score IS NOT NULL AND m.away_score IS NOT NULL")
    args: list[Any] = [season, mtype]
    if ag is not None:
        sql += " AND m.age_group_id=?"
        args.append(ag)
    if div is not None:
        sql += " AND m.division_id=? AND ht.division_id=? AND at.division_id=?"
        args += [div, div, div]
    matches = db.all(sql + " ORDER BY m.match_date, m.id", tuple(args))
    rows = [] if "standings-empty" in faults else _standings(matches, db)
    if "standings-arithmetic" in faults and rows:
        rows[0]["points"] += 2
    return 200, {"has_qop_data": False, "qop_week_of": None, "standings": rows}


def _standings(matches: list[dict[str, Any]], db: Database) -> list[dict[str, Any]]:
    names = {r["id"]: r for r in db.all("SELECT id, name, club_id FROM teams")}
    table: dict[int, dict[str, Any]] = {}

    def row(team_id: int) -> dict[str, Any]:
        t = names[team_id]
        return table.setdefault(team_id, {
            "team": t["name"], "team_id": team_id, "club_id": t["club_id"], "logo_url": None, "played": 0,
            "wins": 0, "draws": 0, "losses": 0, "goals_for": 0, "goals_against": 0, "goal_difference": 0,
            "points": 0, "form": [], "position_change": 0, "qop_rank": None, "qop_rank_change": None})

    for m in matches:
        for me_, gf, ga in ((m["home_team_id"], m["home_score"], m["away_score"]),
                            (m["away_team_id"], m["away_score"], m["home_score"])):
            r = row(me_)
            r["played"] += 1
            r["goals_for"] += gf
            r["goals_against"] += ga
            result = "W" if gf > ga else "D" if gf == ga else "L"
            r[{"W": "wins", "D": "draws", "L": "losses"}[result]] += 1
            r["form"].append(result)
    for r in table.values():
        r["goal_difference"] = r["goals_for"] - r["goals_against"]
        r["points"] = 3 * r["wins"] + r["draws"]
        r["form"] = r["form"][-5:]
    return sorted(table.values(), key=lambda r: (r["points"], r["goal_difference"], r["goals_for"]), reverse=True)


# -- matches --------------------------------------------------------------------------------

_MATCH_SQL = """SELECT m.*, ht.name AS home_team_name, at.name AS away_team_name, s.name AS season_name,
 ag.name AS age_group_name, mt.name AS match_type_name, d.name AS division_name
 FROM matches m JOIN teams ht ON ht.id=m.home_team_id JOIN teams at ON at.id=m.away_team_id
 LEFT JOIN seasons s ON s.id=m.season_id LEFT JOIN age_groups ag ON ag.id=m.age_group_id
 LEFT JOIN match_types mt ON mt.id=m.match_type_id LEFT JOIN divisions d ON d.id=m.division_id"""


def _match_row(r: dict[str, Any]) -> dict[str, Any]:
    return {**r, "scheduled_kickoff": None, "red_cards": [], "yellow_cards": []}


@route("GET", "/api/matches")
def list_matches(h: AppHandler, _: dict[str, str]) -> tuple[int, Any]:
    h.user()
    q = h.query
    sql, args = _MATCH_SQL + " WHERE 1=1", []
    for key, col in (("season_id", "m.season_id"), ("age_group_id", "m.age_group_id"),
                     ("division_id", "m.division_id")):
        value = _int(q, key)
        if value is not None:
            sql += f" AND {col}=?"
            args.append(value)
    team = _int(q, "team_id")
    if team is not None:
        sql += " AND (m.home_team_id=? OR m.away_team_id=?)"
        args += [team, team]
    if q.get("match_type"):
        sql += " AND mt.name=?"
        args.append(q["match_type"])
    if q.get("start_date"):
        sql += " AND m.match_date>=?"
        args.append(q["start_date"])
    if q.get("end_date"):
        sql += " AND m.match_date<=?"
        args.append(q["end_date"])
    rows = h.world.db.all(sql + " ORDER BY m.match_date DESC, m.id DESC LIMIT 1000", tuple(args))
    return 200, [_match_row(r) for r in rows]


@route("GET", "/api/matches/live")
def live_matches(h: AppHandler, _: dict[str, str]) -> tuple[int, Any]:
    if "api-5xx-on-load" in h.world.faults:
        raise ApiError(500, "Internal Server Error")
    return 200, []


@route("GET", r"/api/matches/(?P<id>\d+)")
def get_match(h: AppHandler, p: dict[str, str]) -> tuple[int, Any]:
    h.user()
    row = h.world.db.one(_MATCH_SQL + " WHERE m.id=?", (int(p["id"]),))
    if row is None:
        raise ApiError(404, "Match not found")
    return 200, _match_row(row)


_WRITERS = {"admin", "club_manager", "team-manager"}


@route("POST", "/api/matches")
def add_match(h: AppHandler, _: dict[str, str]) -> tuple[int, Any]:
    u = h.user()
    assert u is not None
    if u["role"] not in _WRITERS:
        raise ApiError(403, "Insufficient permissions")
    b = h.body()
    required = ("match_date", "home_team_id", "away_team_id", "home_score", "away_score", "season_id",
                "age_group_id", "match_type_id")
    if not isinstance(b, dict) or any(k not in b for k in required):
        raise ApiError(422, [{"msg": "field required"}])
    if b["match_type_id"] == 1 and not b.get("division_id"):
        raise ApiError(422, "division_id is required for League matches")
    if "add-match-fails" in h.world.faults or b["home_team_id"] == b["away_team_id"]:
        raise ApiError(500, "Failed to add match")
    status = b.get("status", "scheduled")
    if status not in ("scheduled", "completed", "postponed", "cancelled", "tbd", "live", "forfeit"):
        raise ApiError(500, "Failed to add match")
    if "match-not-persisted" in h.world.faults:
        return 200, {"message": "Match added successfully"}
    now = datetime.now(UTC).isoformat()
    import sqlite3

    try:
        h.world.db.execute(
            "INSERT INTO matches (match_id, match_date, home_team_id, away_team_id, home_score, away_score, season_id,"
            " age_group_id, match_type_id, division_id, match_status, source, created_by, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (b.get("external_match_id"), b["match_date"], b["home_team_id"], b["away_team_id"], b["home_score"],
             b["away_score"], b["season_id"], b["age_group_id"], b["match_type_id"], b.get("division_id"), status,
             b.get("source", "manual"), u["id"], now, now),
        )
    except sqlite3.IntegrityError:
        raise ApiError(409, "A match with these teams on this date already exists") from None
    return 200, {"message": "Match added successfully"}


@route("DELETE", r"/api/matches/(?P<id>\d+)")
def delete_match(h: AppHandler, p: dict[str, str]) -> tuple[int, Any]:
    u = h.user()
    assert u is not None
    if u["role"] not in _WRITERS:
        raise ApiError(403, "Insufficient permissions")
    row = h.world.db.one("SELECT * FROM matches WHERE id=?", (int(p["id"]),))
    # The real endpoint catches everything: not found and forbidden come back as 500 "404: ..." / "403: ...".
    if row is None:
        raise ApiError(500, "404: Match not found")
    if u["role"] == "team-manager" and u["team_id"] not in (row["home_team_id"], row["away_team_id"]):
        raise ApiError(500, "403: You don't have permission to delete this match")
    h.world.db.execute("DELETE FROM matches WHERE id=?", (int(p["id"]),))
    return 200, {"message": "Match deleted successfully"}


@route("GET", "/api/check-match")
def check_match(h: AppHandler, _: dict[str, str]) -> tuple[int, Any]:
    h.user()
    return 200, {"exists": False}


@route("GET", "/api/playoffs/bracket")
def bracket(h: AppHandler, _: dict[str, str]) -> tuple[int, Any]:
    h.user()
    return 200, []
