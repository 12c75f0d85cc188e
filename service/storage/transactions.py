"""Running one transaction's work as one synchronous function, the cheapest way per backend.

aiosqlite runs every DBAPI call (cursor, execute, fetch, commit) on its own thread and wakes
the event loop for each result: several thread hand-offs per statement, each costing more CPU
than the SQL it carries. On a SQLite file the whole transaction therefore runs in a single
worker-thread call on the synchronous driver, with the same pragmas as the async engine. On
PostgreSQL (asyncpg has no thread) and on in-memory SQLite (a second engine would open a
different database) the same function runs through the async engine with `run_sync`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import Connection
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
_THREAD_POOL_SIZE = 4


class TransactionRunner:
    """Runs `work(connection, *args)` in one transaction, committed when it returns."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._threaded = _thread_engine(engine)

    async def run(
        self, work: Callable[Concatenate[Connection, _P], _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        threaded = self._threaded
        if threaded is None:
            async with self._engine.begin() as conn:
                return await conn.run_sync(work, *args, **kwargs)

        def in_thread() -> _T:
            with threaded.begin() as conn:
                return work(conn, *args, **kwargs)

        return await asyncio.to_thread(in_thread)

    async def run_in_turn(
        self,
        first: Callable[[Connection], _T],
        then: Callable[[Connection, _T], _U],
    ) -> tuple[_T, _U]:
        """`first(connection)` in one transaction, committed; then `then(connection, result)`
        in another. On a SQLite file both run in one worker-thread call."""
        threaded = self._threaded
        if threaded is None:
            async with self._engine.begin() as conn:
                result = await conn.run_sync(first)
            async with self._engine.begin() as conn:
                return result, await conn.run_sync(then, result)

        def in_thread() -> tuple[_T, _U]:
            with threaded.begin() as conn:
                result = first(conn)
            with threaded.begin() as conn:
                return result, then(conn, result)

        return await asyncio.to_thread(in_thread)

    def dispose(self) -> None:
        """Close the worker threads' connections (the async engine is its owner's to dispose)."""
        if self._threaded is not None:
            self._threaded.dispose()


def _thread_engine(engine: AsyncEngine) -> Engine | None:
    """A synchronous engine on the same SQLite file, or None where one must not be used."""
    url = sqlite_file_url(engine.url)
    if url is None:
        return None
    threaded = create_sync_engine(
        url,
        # Worker threads take turns on pooled connections, one thread at a time.
        connect_args={"timeout": SQLITE_TIMEOUT_SECONDS, "check_same_thread": False},
        pool_size=_THREAD_POOL_SIZE,
        max_overflow=_THREAD_POOL_SIZE,
    )
    apply_sqlite_pragmas(threaded)
    return threaded
