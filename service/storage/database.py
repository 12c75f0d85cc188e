"""Database engine creation and schema migrations (Alembic) for SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Engine, event, exc, make_url
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

__all__ = [
    "IDLE_PING_SECONDS",
    "SQLITE_TIMEOUT_SECONDS",
    "alembic_config",
    "apply_sqlite_pragmas",
    "create_engine",
    "create_sqlite_file",
    "current_revision",
    "head_revision",
    "is_embedded",
    "sqlite_file_url",
    "upgrade_database",
    "use_write_ahead_log",
]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# How long the driver waits for SQLite's lock before the busy handler takes over.
SQLITE_TIMEOUT_SECONDS = 30
# A PostgreSQL connection back in the pool for longer than this is pinged before it is handed
# out again; one used more recently is handed out as it is.
IDLE_PING_SECONDS = 1.0
_RETURNED_AT = "replaydesk_returned_at"


def is_embedded(database_url: str) -> bool:
    """True for the one-machine SQLite default."""
    return database_url.startswith("sqlite")


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine with the connection settings each backend needs to be safe under load."""
    # Statement parameters (user and session IDs) stay out of SQLAlchemy's errors and logs.
    kwargs.setdefault("hide_parameters", True)
    if is_embedded(database_url):
        engine = create_async_engine(
            database_url,
            connect_args={"timeout": SQLITE_TIMEOUT_SECONDS},
            pool_size=8,
            max_overflow=8,
            **kwargs,
        )
        apply_sqlite_pragmas(engine.sync_engine)
        return engine
    engine = create_async_engine(database_url, pool_size=10, max_overflow=10, **kwargs)
    ping_idle_connections(engine.sync_engine)
    return engine


def ping_idle_connections(engine: Engine) -> None:
    """Ping a pooled connection before handing it out when it sat idle in the pool for over
    `IDLE_PING_SECONDS`; a dead one is replaced by a new connection.

    A connection that went away while idle (a database restart, an idle timeout on a proxy)
    is found before a request or job uses it, as with SQLAlchemy's `pool_pre_ping`. That pings
    at every check-out, and on asyncpg a ping is three round trips (BEGIN, the ping,
    ROLLBACK): most of the round trips of an attach job, which checks out six times. A
    connection returned within the last second is not pinged; it fails only when the database
    restarted within that second, and then like a statement under way at the restart.
    """
    dialect = engine.dialect

    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        # A new connection has not been back yet: it was opened just now.
        if returned is None or time.monotonic() - returned <= IDLE_PING_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool throws this connection away and checks out another (or opens one).
            raise exc.DisconnectionError("an idle pooled connection failed its ping") from error

    event.listen(engine, "checkin", _note_return)
    event.listen(engine, "checkout", ping_if_idle)


def _note_return(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info[_RETURNED_AT] = time.monotonic()


def apply_sqlite_pragmas(engine: Engine) -> None:
    """Set ReplayDesk's SQLite pragmas on every connection `engine` opens."""
    event.listen(engine, "connect", _sqlite_pragmas)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # synchronous=FULL makes a commit durable before ingest acknowledges it; busy_timeout queues
    # writers instead of failing them. (WAL is the file's own setting: see `upgrade_database`.)
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted rows (an erasure's, an expiry's, moved chunks') are overwritten with zeros rather
    # than left in free space where a copy of the file would still show them. Some builds
    # (Debian's) default to this; SQLite itself does not. The write-ahead log keeps the old
    # page versions until a truncating checkpoint (`TransactionRunner.truncate_log`).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_database(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`. Call from synchronous code (CLI, test setup)."""
    if is_embedded(database_url):
        create_sqlite_file(database_url)
        use_write_ahead_log(database_url)
    command.upgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    """The newest migration this code ships."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The migration the database is at (None when it was never migrated)."""

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)


def use_write_ahead_log(database_url: str | URL) -> None:
    """Put a SQLite file in WAL mode, which lets readers run beside the single writer.

    The mode is kept in the file, so this is done once, here, before the service runs: set
    per connection, the switch needs the whole file to itself, and a connection opened while
    others are busy would fail with "database is locked" instead of waiting.
    """
    url = sqlite_file_url(database_url)
    if url is None:
        return
    engine = create_sync_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    finally:
        engine.dispose()


def sqlite_file_url(database_url: str | URL) -> URL | None:
    """The synchronous-driver URL of a SQLite file; None for in-memory SQLite and other backends."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return url.set(drivername="sqlite")


def create_sqlite_file(database_url: str | URL) -> None:
    """Create a SQLite file's folder, and the file itself owner-only (0600): it holds the
    sessions, and event chunks until they are moved, and SQLite gives its write-ahead log the
    same mode. An existing file keeps its mode: the operator's choice."""
    url = sqlite_file_url(database_url)
    if url is None or not url.database:
        return
    path = Path(url.database)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
