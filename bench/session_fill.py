"""Set-based filling of the sessions and signals tables: millions of rows in one statement each."""

from __future__ import annotations

import asyncio
import sqlite3

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

__all__ = ["FillSize", "fill_postgresql", "fill_sqlite", "session_user"]

BASE_TS = 1_790_000_000_000
# One session starts every 2.5 s: a million sessions span the 30-day retention period.
SESSION_SPACING_MS = 2500


class FillSize:
    """How many users, sessions per user, and page views per session to create."""

    def __init__(self, users: int, sessions_per_user: int, page_views: int) -> None:
        self.users = users
        self.sessions_per_user = sessions_per_user
        self.page_views = page_views

    @property
    def sessions(self) -> int:
        """Sessions in total."""
        return self.users * self.sessions_per_user

    def parameters(self) -> dict[str, int]:
        """The bind parameters both fill statements take."""
        return {
            "last": self.sessions - 1,
            "users": self.users,
            "base": BASE_TS,
            "spacing": SESSION_SPACING_MS,
            "page_views": self.page_views,
        }


def session_user(user_index: int) -> str:
    """The user ID the fill gives user number `user_index` (session i belongs to i % users)."""
    return f"user-{user_index:07d}"


# Session i: user i % users (a user's sessions are spread over the whole period), a scattered
# but unique ID (random-looking primary keys, like the recorder's), plausible counters.
_SQLITE_SESSIONS = """
INSERT INTO sessions (
    id, user_id, started_at, ended_at, first_error_at, received_first_at, received_last_at,
    final, chunk_count, byte_count, event_count, click_count, error_count,
    failed_request_count, rage_click_count, dead_click_count, input_count, page_count
)
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :last),
t(i, started) AS (SELECT i, :base + i * :spacing + (i * 7919) % 1000 FROM n)
SELECT
    printf('sess-%08x-%d', (i * 2654435761) % 4294967291, i),
    printf('user-%07d', i % :users),
    started, started + 60000 + (i % 600) * 1000,
    CASE WHEN i % 5 = 0 THEN started + 30000 END,
    started + 2000, started + 62000 + (i % 600) * 1000,
    i % 3 = 0, 1 + i % 20, 8000 * (1 + i % 20), 119 * (1 + i % 20), i % 7,
    CASE WHEN i % 5 = 0 THEN 1 ELSE 0 END, i % 4 = 0, i % 11 = 0, i % 13 = 0, i % 9,
    :page_views
FROM t
"""

_SQLITE_SIGNALS = """
INSERT INTO signals (session_id, seq, kind, ts, url, data)
WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n + 1 < :page_views),
v(session_id, seq, ts, url) AS (
    SELECT s.id, k.n, s.started_at + k.n * 20000,
           printf('https://shop.test/catalog/%d', (s.started_at / 1000 + k.n) % 50)
    FROM sessions AS s CROSS JOIN k
)
SELECT session_id, seq, 'page_view', ts, url, json_object('url', url) FROM v
"""

_POSTGRESQL_SESSIONS = """
INSERT INTO sessions (
    id, user_id, started_at, ended_at, first_error_at, received_first_at, received_last_at,
    final, chunk_count, byte_count, event_count, click_count, error_count,
    failed_request_count, rage_click_count, dead_click_count, input_count, page_count
)
SELECT
    'sess-' || lpad(to_hex((i * 2654435761) % 4294967291), 8, '0') || '-' || i,
    'user-' || lpad((i % :users)::text, 7, '0'),
    started, started + 60000 + (i % 600) * 1000,
    CASE WHEN i % 5 = 0 THEN started + 30000 END,
    started + 2000, started + 62000 + (i % 600) * 1000,
    i % 3 = 0, 1 + i % 20, 8000 * (1 + i % 20), 119 * (1 + i % 20), i % 7,
    CASE WHEN i % 5 = 0 THEN 1 ELSE 0 END, (i % 4 = 0)::int, (i % 11 = 0)::int,
    (i % 13 = 0)::int, i % 9, :page_views
FROM (
    SELECT i, :base + i * :spacing + (i * 7919) % 1000 AS started
    FROM generate_series(0::bigint, :last) AS g(i)
) AS t
"""

_POSTGRESQL_SIGNALS = """
INSERT INTO signals (session_id, seq, kind, ts, url, data)
SELECT session_id, seq, 'page_view', ts, url, json_build_object('url', url)
FROM (
    SELECT s.id AS session_id, k AS seq, s.started_at + k * 20000 AS ts,
           'https://shop.test/catalog/' || ((s.started_at / 1000 + k) % 50) AS url
    FROM sessions AS s CROSS JOIN generate_series(0, :page_views - 1) AS k
) AS v
"""


def _fill_sqlite_file(path: str, size: FillSize) -> None:
    connection = sqlite3.connect(path)
    try:
        # Only the fill runs unsafely fast; lookups then use the service's own engine settings.
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-524288")
        with connection:
            connection.execute(_SQLITE_SESSIONS, size.parameters())
            if size.page_views:
                connection.execute(_SQLITE_SIGNALS, size.parameters())
    finally:
        connection.close()


async def fill_sqlite(database_url: str, size: FillSize) -> None:
    """Fill a migrated SQLite database (`sqlite+aiosqlite:///path`) with `size` rows."""
    await asyncio.to_thread(_fill_sqlite_file, database_url.split(":///", 1)[1], size)


async def fill_postgresql(database_url: str, size: FillSize) -> None:
    """Fill a migrated PostgreSQL database, then ANALYZE it as autovacuum soon would."""
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(_POSTGRESQL_SESSIONS), size.parameters())
            if size.page_views:
                await conn.execute(text(_POSTGRESQL_SIGNALS), size.parameters())
        async with engine.connect() as conn:
            await conn.execute(text("ANALYZE sessions"))
            await conn.execute(text("ANALYZE signals"))
            await conn.commit()
    finally:
        await engine.dispose()
