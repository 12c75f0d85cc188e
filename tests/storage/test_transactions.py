"""TransactionRunner: one function in one transaction, on SQLite (file, memory) and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from service.storage.database import create_engine, upgrade_database
from service.storage.transactions import TransactionRunner


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS runner_probe (n INTEGER)"))
    yield engine
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE runner_probe"))
    await engine.dispose()


def insert(conn: Connection, n: int) -> str:
    conn.execute(text("INSERT INTO runner_probe (n) VALUES (:n)"), {"n": n})
    return threading.current_thread().name


async def probe_values(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        return list((await conn.execute(text("SELECT n FROM runner_probe ORDER BY n"))).scalars())


async def test_the_work_is_committed_and_its_result_returned(engine: AsyncEngine) -> None:
    runner = TransactionRunner(engine)
    try:
        await runner.run(insert, 1)
        await runner.run(insert, n=2)
    finally:
        runner.dispose()
    # Seen through the async engine's own connections: committed, not just written.
    assert await probe_values(engine) == [1, 2]


async def test_a_failing_function_rolls_its_transaction_back(engine: AsyncEngine) -> None:
    def insert_then_fail(conn: Connection) -> None:
        insert(conn, 7)
        raise RuntimeError("the work failed")

    runner = TransactionRunner(engine)
    try:
        with pytest.raises(RuntimeError, match="the work failed"):
            await runner.run(insert_then_fail)
    finally:
        runner.dispose()
    assert await probe_values(engine) == []


async def test_on_a_sqlite_file_the_work_runs_in_a_worker_thread_with_the_pragmas(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'runner.db'}"
    await asyncio.to_thread(upgrade_database, url)  # as serve does: sets the file's WAL mode
    engine = create_engine(url)
    runner = TransactionRunner(engine)

    def pragmas(conn: Connection) -> tuple[str, dict[str, object]]:
        names = ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
        values = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in names}
        return threading.current_thread().name, values

    try:
        thread, values = await runner.run(pragmas)
    finally:
        runner.dispose()
        await engine.dispose()
    assert thread != threading.main_thread().name
    # The same durability and locking as the async engine's connections (FULL = 2).
    assert values == {
        "journal_mode": "wal",
        "synchronous": 2,
        "busy_timeout": 30000,
        "foreign_keys": 1,
    }


async def test_in_memory_sqlite_runs_on_the_engine_itself() -> None:
    # A second engine on ":memory:" would open a different, empty database.
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    runner = TransactionRunner(engine)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE runner_probe (n INTEGER)"))
        assert await runner.run(insert, 3) == threading.main_thread().name
    finally:
        runner.dispose()
        await engine.dispose()
