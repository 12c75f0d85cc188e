"""A throwaway PostgreSQL database on the loopback server, created and dropped like the tests do."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

__all__ = ["ADMIN_DATABASE_URL", "postgres_available", "temporary_database"]

ADMIN_DATABASE_URL = os.environ.get(
    "REPLAYDESK_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


async def _admin_sql(statement: str) -> None:
    engine = create_async_engine(ADMIN_DATABASE_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def postgres_available() -> bool:
    """Whether the PostgreSQL server answers (benchmarks on it are skipped when not)."""
    try:
        await _admin_sql("SELECT 1")
    except Exception:
        return False
    return True


@contextlib.asynccontextmanager
async def temporary_database(purpose: str) -> AsyncIterator[str]:
    """The URL of a new, empty database; it is dropped on the way out, whatever happened."""
    name = f"replaydesk_bench_{purpose}_{secrets.token_hex(4)}"
    await _admin_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(ADMIN_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
