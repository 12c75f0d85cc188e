"""Running one transaction's work as one synchronous function, the cheapest way per backend.

On a SQLite file the statements run on the calling thread (the event loop) on the synchronous
driver, and only the commit, which writes the log out and fsyncs it, goes to a worker thread.
The statements work on cached pages and take microseconds. Run in a worker thread instead,
each driver call gave the GIL to the busy event loop and waited to get it back: under ingest
load a group's rows took three times as long as on an idle machine. The connection used on
the loop never waits for SQLite's write lock: when another writer holds it, the work is rolled
back and runs again in a worker thread, which may wait. (aiosqlite would pass every cursor,
execute, fetch and commit through its own thread and back.)

On PostgreSQL (asyncpg has no thread) and on in-memory SQLite (a second engine would open a
different database) the same function runs through the async engine with `run_sync`.
"""

from __future__ import annotations

import asyncio
import sqlite3
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

__all__ = ["TransactionRunner"]

_P = ParamSpec("_P")
_T = TypeVar("_T")
_U = TypeVar("_U")
# Ingest runs one grouped call at a time; the rest is headroom.
_POOL_SIZE = 4


class _LockBusy(Exception):
    """Another connection holds SQLite's write lock (the loop's connection does not wait)."""


class TransactionRunner:
    """Runs `work(connection, *args)` in one transaction, committed when it returns."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        url = sqlite_file_url(engine.url)
        # On the event loop: never waits for the lock. In worker threads: waits, as elsewhere.
        self._on_loop = None if url is None else _sqlite_engine(url, wait_for_lock=False)
        self._in_thread = None if url is None else _sqlite_engine(url, wait_for_lock=True)

    async def run(
        self, work: Callable[Concatenate[Connection, _P], _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        def run_work(conn: Connection) -> _T:
            return work(conn, *args, **kwargs)

        on_loop, in_thread = self._on_loop, self._in_thread
        if on_loop is None or in_thread is None:
            async with self._engine.begin() as conn:
                return await conn.run_sync(run_work)
        try:
            with on_loop.connect() as connection:
                return await _commit_in_thread(connection, run_work)
        except _LockBusy:
            return await asyncio.to_thread(_in_transaction, in_thread, run_work)

    async def read(
        self, work: Callable[Concatenate[Connection, _P], _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        """`work(connection, *args)` that only reads, in one statement, so it needs no
        transaction of its own. On a SQLite file it runs as `run` does (on the event loop);
        elsewhere on a connection in autocommit mode, which spares PostgreSQL a BEGIN and a
        COMMIT, each a round trip."""
        if self._on_loop is not None:
            return await self.run(work, *args, **kwargs)
        async with self._engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await autocommit.run_sync(work, *args, **kwargs)

    async def run_in_turn(
        self,
        first: Callable[[Connection], _T],
        then: Callable[[Connection, _T], _U],
    ) -> tuple[_T, _U]:
        """`first(connection)` in one transaction, committed; then `then(connection, result)`
        in another."""
        result = await self.run(first)
        return result, await self.run(then, result)

    def dispose(self) -> None:
        """Close the connections this runner opened (the async engine is its owner's)."""
        for engine in (self._on_loop, self._in_thread):
            if engine is not None:
                engine.dispose()


async def _commit_in_thread(conn: Connection, work: Callable[[Connection], _T]) -> _T:
    """`work(conn)` in a transaction here; its commit, if it wrote, in a worker thread."""
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
    if not conn.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
        transaction.commit()  # it only read: there is nothing to write out
        return result
    await _finish(asyncio.ensure_future(asyncio.to_thread(transaction.commit)))
    return result


async def _finish(commit: asyncio.Future[None]) -> None:
    """Wait for a commit; if cancelled meanwhile, still let it end before the connection is
    handed back to the pool, so no two threads use it at once."""
    try:
        await asyncio.shield(commit)
    except asyncio.CancelledError:
        await asyncio.wait([commit])
        raise


def _is_busy(exc: OperationalError) -> bool:
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY


def _in_transaction(engine: Engine, work: Callable[[Connection], _T]) -> _T:
    """`work` in a transaction in a worker thread, on a connection that may wait for the lock."""
    with engine.begin() as conn:
        return work(conn)


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

    return engine
