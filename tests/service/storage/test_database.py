"""SQLite connection settings: every connection the service opens overwrites deleted rows."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

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
