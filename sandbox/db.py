"""The stand-in's database: SQLite, seeded so that standings are non-empty and add up."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS seasons (id INTEGER PRIMARY KEY, name TEXT, start_date TEXT, end_date TEXT, is_current INT);
CREATE TABLE IF NOT EXISTS age_groups (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE IF NOT EXISTS leagues (id INTEGER PRIMARY KEY, name TEXT, description TEXT, is_active INT, is_test INT);
CREATE TABLE IF NOT EXISTS divisions (id INTEGER PRIMARY KEY, name TEXT, description TEXT, league_id INT);
CREATE TABLE IF NOT EXISTS match_types (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE IF NOT EXISTS clubs (id INTEGER PRIMARY KEY, name TEXT, is_test INT);
CREATE TABLE IF NOT EXISTS teams (id INTEGER PRIMARY KEY, name TEXT, club_id INT, division_id INT, age_group_id INT);
CREATE TABLE IF NOT EXISTS team_match_types (team_id INT, match_type_id INT, age_group_id INT);
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, username TEXT UNIQUE, password TEXT, display_name TEXT,
    role TEXT, team_id INT, club_id INT, is_test INT, created_at TEXT);
CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, user_id TEXT, expires_at REAL);
CREATE TABLE IF NOT EXISTS matches (id INTEGER PRIMARY KEY AUTOINCREMENT, match_id TEXT UNIQUE, match_date TEXT,
    home_team_id INT, away_team_id INT, home_score INT, away_score INT, season_id INT, age_group_id INT,
    match_type_id INT, division_id INT, match_status TEXT, source TEXT, created_by TEXT, updated_by TEXT,
    created_at TEXT, updated_at TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS unique_manual_match ON matches
    (home_team_id, away_team_id, match_date, season_id, age_group_id, match_type_id, division_id);
"""

SEASONS = [
    (1, "2025-2026", "2025-08-01", "2026-07-31", 0),
    (2, "2026-2027", "2026-08-01", "2027-07-31", 1),
]
AGE_GROUPS = [(1, "U13"), (2, "U14"), (3, "U15"), (4, "U16"), (5, "U17"), (7, "U19")]
LEAGUES = [
    (1, "Homegrown", "Homegrown league", 1, 0),
    (2, "Academy", "Academy league", 1, 0),
    (90, "TSC League 1", "Smoke and journey test league", 1, 1),
]
DIVISIONS = [
    (1, "Northeast", "", 1),
    (2, "Florida", "", 1),
    (7, "New England", "", 2),
    (91, "TSC Division 1", "", 90),
]
MATCH_TYPES = [(1, "League"), (2, "Tournament"), (3, "Friendly"), (4, "Playoff")]
NORTHEAST_U14 = ["IFA", "NEFC", "Boston Bolts", "Seacoast United", "FC Greater Boston", "Bayside FC"]
TSC_TEAMS = ["TSC A-Team", "TSC B-Team", "TSC C-Team", "TSC D-Team"]

# (home index, away index, home score, away score, date) in Northeast U14, current season.
RESULTS = [
    (0, 1, 2, 1, "2026-09-06"), (2, 3, 0, 0, "2026-09-06"), (4, 5, 3, 1, "2026-09-06"),
    (1, 2, 1, 1, "2026-09-13"), (3, 4, 2, 0, "2026-09-13"), (5, 0, 0, 4, "2026-09-13"),
    (0, 2, 1, 0, "2026-09-20"), (1, 3, 2, 2, "2026-09-20"), (4, 0, 1, 1, "2026-09-27"),
    (5, 2, 2, 3, "2026-09-27"), (3, 5, 1, 0, "2026-10-04"), (2, 4, 0, 2, "2026-10-04"),
]
SMOKE_USERNAME = "smoke_manager"


class Database:
    """One SQLite connection shared by the server's threads, serialised by a lock."""

    def __init__(self, path: Path | str, smoke_password: str, smoke_username: str = SMOKE_USERNAME) -> None:
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.executescript(SCHEMA)
        if not self.one("SELECT 1 FROM seasons LIMIT 1"):
            self._seed()
        # The smoke user's password is the one this run was given (never stored in git or config).
        self.execute("UPDATE users SET password=?, username=? WHERE display_name='Smoke Manager'",
                     (smoke_password, smoke_username))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def all(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._conn.execute(sql, args).fetchall()]

    def one(self, sql: str, args: tuple[Any, ...] = ()) -> dict[str, Any] | None:
        rows = self.all(sql, args)
        return rows[0] if rows else None

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        with self._lock:
            cur = self._conn.execute(sql, args)
            return cur.lastrowid or cur.rowcount

    def _seed(self) -> None:
        now = datetime.now(UTC).isoformat()
        with self.transaction() as c:
            c.executemany("INSERT INTO seasons VALUES (?,?,?,?,?)", SEASONS)
            c.executemany("INSERT INTO age_groups VALUES (?,?)", AGE_GROUPS)
            c.executemany("INSERT INTO leagues VALUES (?,?,?,?,?)", LEAGUES)
            c.executemany("INSERT INTO divisions VALUES (?,?,?,?)", DIVISIONS)
            c.executemany("INSERT INTO match_types VALUES (?,?)", MATCH_TYPES)
            c.execute("INSERT INTO clubs VALUES (93, 'Toms Soccer Club', 1)")
            for i, name in enumerate(NORTHEAST_U14, start=1):
                c.execute("INSERT INTO clubs VALUES (?,?,0)", (i, name))
                c.execute("INSERT INTO teams VALUES (?,?,?,?,?)", (i, name, i, 1, 2))
                c.execute("INSERT INTO team_match_types VALUES (?,?,?)", (i, 1, 2))
            for j, name in enumerate(TSC_TEAMS, start=101):
                c.execute("INSERT INTO teams VALUES (?,?,?,?,?)", (j, name, 93, 91, 2))
                c.execute("INSERT INTO team_match_types VALUES (?,?,?)", (j, 3, 2))
            for n, (h, a, hs, as_, d) in enumerate(RESULTS, start=1):
                c.execute(
                    "INSERT INTO matches (match_id, match_date, home_team_id, away_team_id, home_score, away_score,"
                    " season_id, age_group_id, match_type_id, division_id, match_status, source, created_at,"
                    " updated_at) VALUES (?,?,?,?,?,?,2,2,1,1,'completed','seed',?,?)",
                    (f"SEED-{n}", d, h + 1, a + 1, hs, as_, now, now),
                )
            c.execute(
                "INSERT INTO users VALUES (?,?,?,?,?,?,?,?,?)",
                (str(uuid.uuid4()), SMOKE_USERNAME, "", "Smoke Manager", "team-manager", 101, 93, 1, now),
            )


def today() -> str:
    return date.today().isoformat()
