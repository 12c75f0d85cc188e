"""What the ingest benchmarks share about their ReplayDesk servers: the command line, a migrated
SQLite file, the bench's Redis database, and the chunk journal's state."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

from redis import Redis
from sqlalchemy import func, select

from bench.ingest_server import BENCH_INGEST_KEY
from service.storage.database import create_engine, upgrade_database
from service.storage.models import ChunkJournalRow

__all__ = [
    "BENCH_REDIS_URL",
    "INGEST_HEADERS",
    "flush_bench_redis",
    "journal_drained",
    "replaydesk_arguments",
    "sqlite_database",
]

# Its own database, so a bench run never flushes what a test run holds; settable for parallel runs.
BENCH_REDIS_URL = os.environ.get("REPLAYDESK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
INGEST_HEADERS = {"X-ReplayDesk-Key": BENCH_INGEST_KEY}
DRAIN_TIMEOUT_SECONDS = 60


@contextlib.asynccontextmanager
async def sqlite_database(directory: Path) -> AsyncIterator[str]:
    """The URL of a migrated SQLite file in `directory` (removed with the directory)."""
    url = f"sqlite+aiosqlite:///{directory / 'replaydesk.db'}"
    await asyncio.to_thread(upgrade_database, url)
    yield url


def replaydesk_arguments(kind: str, data_dir: Path, database_url: str) -> list[str]:
    """Command-line arguments of `bench.ingest_server` for a ReplayDesk server of this kind."""
    return [
        kind,
        "--data-dir",
        str(data_dir),
        "--database-url",
        database_url,
        "--redis-url",
        BENCH_REDIS_URL,
    ]


def flush_bench_redis() -> None:
    """The servers enqueue their hourly retention job in the bench's Redis database."""
    client = Redis.from_url(BENCH_REDIS_URL, socket_connect_timeout=2)
    try:
        client.flushdb()
    finally:
        client.close()


async def journal_drained(database_url: str) -> None:
    """Wait until the server has moved every acknowledged chunk from its chunk journal into
    its blob store (ReplayDesk does that a moment after acknowledging)."""
    engine = create_engine(database_url)
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
    count = select(func.count()).select_from(ChunkJournalRow)
    try:
        while True:
            async with engine.connect() as conn:
                if not (await conn.execute(count)).scalar_one():
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"chunks still journaled after {DRAIN_TIMEOUT_SECONDS}s")
            await asyncio.sleep(0.02)
    finally:
        await engine.dispose()
