"""Running one transaction's work as one synchronous function, the cheapest way per backend.

On a SQLite file the work and its commit run on the calling thread (the event loop) on the
synchronous driver. The statements work on cached pages and take microseconds; the commit
appends to the write-ahead log and fsyncs it, a fraction of a millisecond on a local disk.
Handed to a worker thread, each driver call, the commit included, would give the GIL to the
busy event loop and wait to get it back, which under ingest load costs more than the commit
itself (docs/performance.md, "On a SQLite file"). The connection used on the loop never waits
for SQLite's write lock: when another writer holds it, the work is rolled back and runs again
in a worker thread, which may wait. (aiosqlite would pass every cursor, execute, fetch and
commit through its own thread and back.)

The loop's connections never checkpoint the log themselves (a checkpoint copies megabytes
into the database file and fsyncs it). At most every `CHECKPOINT_SECONDS`, after a commit, a
checkpoint runs in a worker thread, and the next transaction on the loop waits until it ends.
So it copies the whole log, and the log starts over instead of growing under steady writes.

Starting over, the log is overwritten from its beginning: frames past the new writes keep old
page versions, deleted rows among them. After an erasure `truncate_log` checkpoints and cuts
the log to zero bytes, one short attempt at a time: while one waits for a reader or a writer it
holds the write lock, so ingest waits as long (`_TRUNCATE_BUSY_MS`). Until an attempt succeeds,
the periodic checkpoint truncates instead of copying, every `_TRUNCATE_RETRY_SECONDS` at most.

On PostgreSQL (asyncpg has no thread) and on in-memory SQLite (a second engine would open a
different database) the same function runs through the async engine with `run_sync`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sqlite3
import time
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from service.storage.database import (
    SQLITE_TIMEOUT_SECONDS,
    apply_sqlite_pragmas,
    sqlite_file_url,
)
from service.storage.writer_lock import WriterLock

__all__ = ["CHECKPOINT_SECONDS", "TransactionRunner"]

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")
# Ingest runs one grouped call at a time; the rest is headroom.
_POOL_SIZE = 4
# How often at most a commit on the loop starts a checkpoint of the write-ahead log: often
# enough to keep the log to tens of MB under the heaviest ingest, rarely enough not to cost
# throughput (the figures are in docs/performance.md).
CHECKPOINT_SECONDS = 0.5
# A truncating checkpoint holds the write lock while it waits for readers (and waits for the
# writer before that): each attempt gives up after this long, so ingest waits no longer.
_TRUNCATE_BUSY_MS = 100
# `truncate_log` tries this many times, pausing in between (ingest runs meanwhile) ...
_TRUNCATE_ATTEMPTS = 5
_TRUNCATE_PAUSE_SECONDS = 0.2
# ... and then leaves it to the periodic checkpoint, at most this often.
_TRUNCATE_RETRY_SECONDS = 5.0


class _LockBusy(Exception):
    """Another connection holds SQLite's write lock (the loop's connection does not wait)."""


class TransactionRunner:
    """Runs `work(connection, *args)` in one transaction, committed when it returns."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        url = sqlite_file_url(engine.url)
        # On the event loop: never waits for the lock. In worker threads: waits, as elsewhere.
        self._sqlite_file = None
        self._writer_lock: WriterLock | None = None
        if url is not None:
            self._sqlite_file = (
                _sqlite_engine(url, wait_for_lock=False),
                _sqlite_engine(url, wait_for_lock=True),
            )
            self._writer_lock = WriterLock(url.database or "")
        self._checkpoint: asyncio.Future[None] | None = None
        self._checkpoint_started = -CHECKPOINT_SECONDS
        # Truncations asked for by `truncate_log`, and how many of them the last successful
        # one covered (each covers those asked for before it started).
        self._truncations_wanted = 0
        self._truncations_done = 0
        self._truncate_tried = -math.inf

    async def run(
        self, work: Callable[Concatenate[Connection, _P], _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        def run_work(conn: Connection) -> _T:
            return work(conn, *args, **kwargs)

        if self._sqlite_file is None:
            async with self._engine.begin() as conn:
                return await conn.run_sync(run_work)
        # Writes wait for a checkpoint under way, so that it copies the whole log.
        await self._checkpoint_ended()
        return await self._on_sqlite_file(self._sqlite_file, run_work, self._writer_lock)

    async def read(
        self, work: Callable[Concatenate[Connection, _P], _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        """`work(connection, *args)` that only reads, in one statement, so it needs no
        transaction of its own. On a SQLite file it runs as `run` does (on the event loop),
        but without waiting for a checkpoint; elsewhere on a connection in autocommit mode,
        which spares PostgreSQL a BEGIN and a COMMIT, each a round trip."""

        def run_work(conn: Connection) -> _T:
            return work(conn, *args, **kwargs)

        if self._sqlite_file is not None:
            return await self._on_sqlite_file(self._sqlite_file, run_work, None)
        async with self._engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await autocommit.run_sync(run_work)

    async def _on_sqlite_file(
        self,
        engines: tuple[Engine, Engine],
        work: Callable[[Connection], _T],
        writer_lock: WriterLock | None,
    ) -> _T:
        """`work` on the loop when neither the writer lock (`writer_lock`, for writes) nor
        SQLite's own is taken; else in a worker thread, which waits for both."""
        on_loop, in_thread = engines
        if writer_lock is None or writer_lock.try_acquire():
            try:
                with _connect_here(on_loop) as connection:
                    result, wrote = _in_transaction_here(connection, work)
            except _LockBusy:
                pass
            else:
                if wrote:
                    self._checkpoint_when_due(in_thread)
                return result
            finally:
                if writer_lock is not None:
                    writer_lock.release()
        return await asyncio.to_thread(_in_transaction, in_thread, work, writer_lock)

    async def truncate_log(self) -> bool:
        """Copy the whole write-ahead log into the database file and cut the log to zero bytes,
        so that no old version of a page (rows deleted before this call) stays in it.

        Tries a few times, each attempt brief (see the module's docstring); False when none
        succeeded: the periodic checkpoint goes on trying (as does the hourly retention job),
        and the caller need not fail. True at once on PostgreSQL and in-memory SQLite.
        """
        if self._sqlite_file is None:
            return True
        self._truncations_wanted += 1
        wanted = self._truncations_wanted
        for attempt in range(_TRUNCATE_ATTEMPTS):
            if attempt:
                await asyncio.sleep(_TRUNCATE_PAUSE_SECONDS)
            # One under way may be a truncation that started after this call: it counts.
            await self._checkpoint_ended()
            if self._truncations_done >= wanted:
                return True
            self._start_checkpoint(self._sqlite_file[1], time.monotonic(), truncate=True)
            await self._checkpoint_ended()
            if self._truncations_done >= wanted:
                return True
        log.warning(
            "could not truncate the SQLite write-ahead log (readers or writers kept it busy); "
            "a later checkpoint or the hourly retention job tries again"
        )
        return False

    def _checkpoint_when_due(self, engine: Engine) -> None:
        now = time.monotonic()
        running = self._checkpoint is not None and not self._checkpoint.done()
        if running or now - self._checkpoint_started < CHECKPOINT_SECONDS:
            return
        # A truncation still owed after `truncate_log` gave up is tried again, not too often.
        owed = self._truncations_done < self._truncations_wanted
        retry = owed and now - self._truncate_tried >= _TRUNCATE_RETRY_SECONDS
        self._start_checkpoint(engine, now, truncate=retry)

    def _start_checkpoint(self, engine: Engine, now: float, truncate: bool) -> None:
        """Start a checkpoint in a worker thread; later writes on the loop wait for it."""
        self._checkpoint_started = now
        self._checkpoint = asyncio.ensure_future(self._run_checkpoint(engine, truncate))

    async def _run_checkpoint(self, engine: Engine, truncate: bool) -> None:
        if not truncate:
            await asyncio.to_thread(_checkpoint, engine)
            return
        # Only what was committed before the thread starts is sure to be covered.
        covers = self._truncations_wanted
        self._truncate_tried = time.monotonic()
        if await asyncio.to_thread(_truncating_checkpoint, engine):
            self._truncations_done = max(self._truncations_done, covers)

    async def _checkpoint_ended(self) -> None:
        """Wait for a checkpoint under way (if this call is cancelled, it still goes on)."""
        if self._checkpoint is not None and not self._checkpoint.done():
            await asyncio.shield(self._checkpoint)

    def dispose(self) -> None:
        """Close the connections this runner opened (the async engine is its owner's). A
        checkpoint under way ends on its own connection, which is closed after it."""
        for engine in self._sqlite_file or ():
            engine.dispose()
        if self._writer_lock is not None:
            self._writer_lock.close()


def _connect_here(engine: Engine) -> Connection:
    """A connection of the loop's engine. Opening one can find the file busy too: a new
    connection's pragmas read the schema, which needs a lock that WAL recovery or a truncating
    checkpoint may hold for a moment, and the loop's connections do not wait for locks."""
    try:
        return engine.connect()
    except OperationalError as exc:
        if _is_busy(exc):
            raise _LockBusy from exc
        raise


def _in_transaction_here(conn: Connection, work: Callable[[Connection], _T]) -> tuple[_T, bool]:
    """`work(conn)` in a transaction, committed here; and whether it wrote anything."""
    transaction = conn.begin()
    try:
        result = work(conn)
    except OperationalError as exc:
        transaction.rollback()
        if _is_busy(exc):
            raise _LockBusy from exc
        raise
    except BaseException:
        transaction.rollback()
        raise
    wrote = conn.connection.driver_connection.in_transaction  # type: ignore[union-attr]
    transaction.commit()
    return result, wrote


def _is_busy(exc: OperationalError) -> bool:
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY


def _in_transaction(
    engine: Engine, work: Callable[[Connection], _T], writer_lock: WriterLock | None
) -> _T:
    """`work` in a transaction in a worker thread, on a connection that may wait for SQLite's
    lock, after waiting for the writer lock (if one is given)."""
    with writer_lock.held() if writer_lock is not None else contextlib.nullcontext():
        with engine.begin() as conn:
            return work(conn)


def _checkpoint(engine: Engine) -> None:
    """Copy the write-ahead log into the database file, in a worker thread. A failure is
    logged: the log only grows until the next checkpoint succeeds."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
    except Exception:
        log.warning("could not checkpoint the SQLite write-ahead log", exc_info=True)


def _truncating_checkpoint(engine: Engine) -> bool:
    """Checkpoint the whole log and truncate it, in a worker thread, waiting at most
    `_TRUNCATE_BUSY_MS` for the write lock and again for readers; whether it succeeded.

    On a connection of its own, so that its short busy timeout never stays on a pooled one."""
    database = engine.url.database or ""
    try:
        with contextlib.closing(
            sqlite3.connect(database, timeout=_TRUNCATE_BUSY_MS / 1000, isolation_level=None)
        ) as connection:
            busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except Exception:
        log.warning("could not truncate the SQLite write-ahead log", exc_info=True)
        return False
    return not busy


def _sqlite_engine(url: Any, wait_for_lock: bool) -> Engine:
    """A synchronous engine on the same SQLite file, with the async engine's pragmas."""
    timeout = SQLITE_TIMEOUT_SECONDS if wait_for_lock else 0
    engine = create_sync_engine(
        url,
        # A connection is used by one thread at a time, but not always by the same one.
        connect_args={"timeout": timeout, "check_same_thread": False},
        pool_size=_POOL_SIZE,
        max_overflow=_POOL_SIZE,
    )
    apply_sqlite_pragmas(engine)
    if not wait_for_lock:

        @event.listens_for(engine, "connect")
        def no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA busy_timeout=0")
            dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

    return engine
