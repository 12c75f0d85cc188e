"""SQLite connection settings: every connection the service opens overwrites deleted rows."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

from service.storage import database
from service.storage.database import create_engine, upgrade_database
from service.storage.transactions import TransactionRunner
from tests.sqlite_builds import connect_with_secure_delete_off


def secure_delete(conn: Connection) -> Any:
    return conn.exec_driver_sql("PRAGMA secure_delete").scalar()


async def test_every_sqlite_connection_overwrites_deleted_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also where SQLite was built with secure_delete off, as it is by default."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'settings.db'}"
    await asyncio.to_thread(upgrade_database, url)
    connect_with_secure_delete_off(monkeypatch)
    engine = create_engine(url)
    runner = TransactionRunner(engine)
    try:
        async with engine.connect() as conn:
            on_async_engine = (await conn.execute(text("PRAGMA secure_delete"))).scalar()
        on_loop = await runner.run(secure_delete)
    finally:
        runner.dispose()
        await engine.dispose()
    assert (on_async_engine, on_loop) == (1, 1)


async def _backend_pid(engine: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(url: str, pid: int) -> None:
    killer = create_engine(url)
    try:
        async with killer.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await killer.dispose()


async def test_a_pooled_connection_that_died_while_idle_is_replaced(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As after a database restart: the check-out pings a connection idle for a while, finds
    it dead and hands out a new one, so the statement succeeds."""
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)
    engine = create_engine(postgres_url)
    try:
        dead = await _backend_pid(engine)
        await _terminate(postgres_url, dead)
        assert await _backend_pid(engine) != dead
    finally:
        await engine.dispose()


async def test_a_connection_used_a_moment_ago_is_not_pinged(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ping is three round trips on asyncpg; a connection just returned skips it."""
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 60.0)
    engine = create_engine(postgres_url)
    pings: list[object] = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(c) or real_ping(c))
    try:
        first = await _backend_pid(engine)
        assert await _backend_pid(engine) == first
        assert pings == []
        monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)
        await _backend_pid(engine)
        assert len(pings) == 1
    finally:
        await engine.dispose()
