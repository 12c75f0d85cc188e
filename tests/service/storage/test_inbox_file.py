"""The inbox file beside a SQLite database: made owner-only with its table by whoever opens the
inbox first, and filled with what an older database's own inbox table still held."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import func, insert, select

from service.storage.database import create_engine, upgrade_database
from service.storage.inbox_file import inbox_file_url, prepare_inbox_file
from service.storage.inbox_store import InboxEntry
from service.storage.models import IngestInboxRow
from service.storage.session_store import SessionStore


def queued_row(seq: int) -> dict[str, object]:
    return {
        "session_id": "sess-older-0001",
        "seq": seq,
        "user_id": "u1",
        "shard": 0,
        "received_at": 1000 + seq,
        "sent_at": None,
        "body": b"gzip bytes",
        "ingest_key": None,
    }


def count(url: str) -> int:
    engine = create_sync_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(IngestInboxRow)).scalar_one()
    finally:
        engine.dispose()


def test_only_a_sqlite_file_has_an_inbox_file() -> None:
    assert inbox_file_url("postgresql+asyncpg://h/db") is None
    assert inbox_file_url("sqlite+aiosqlite://") is None
    found = inbox_file_url("sqlite+aiosqlite:////data/replaydesk.db")
    assert found is not None and found.database == "/data/replaydesk.db-inbox"


def test_batches_queued_in_an_older_database_move_into_the_inbox_file(tmp_path: Path) -> None:
    database = tmp_path / "replaydesk.db"
    upgrade_database(f"sqlite+aiosqlite:///{database}")
    older = create_sync_engine(f"sqlite:///{database}")
    with older.begin() as conn:
        conn.execute(insert(IngestInboxRow), [queued_row(seq) for seq in range(1201)])
    older.dispose()

    prepare_inbox_file(f"sqlite+aiosqlite:///{database}")
    inbox = tmp_path / "replaydesk.db-inbox"
    assert stat.S_IMODE(inbox.stat().st_mode) == 0o600
    assert count(f"sqlite:///{database}") == 0
    assert count(f"sqlite:///{inbox}") == 1201

    async def taken_in_order() -> list[int]:
        engine = create_engine(f"sqlite+aiosqlite:///{database}")
        store = SessionStore(engine)
        try:
            assert (await store.inbox.backlog()).waiting == 1201
            _, seqs = await store.inbox.take(
                0, 1, 5, lambda rows: [r.seq for r in rows], lambda _, taken: taken
            )
            # Queued after the move: a new id, after the moved ones.
            new = InboxEntry("sess-newer-0001", 0, None, 5000, None, b"gzip")
            assert await store.inbox.enqueue([new], [[]]) == ["written"]
            return list(seqs)
        finally:
            store.dispose()
            await engine.dispose()

    assert asyncio.run(taken_in_order()) == [0, 1, 2, 3, 4]
    # Opened again: nothing moves twice, nothing is lost (five taken, one queued).
    prepare_inbox_file(f"sqlite+aiosqlite:///{database}")
    assert count(f"sqlite:///{inbox}") == 1197


def test_a_missing_inbox_file_is_made_by_the_store_that_opens_it(tmp_path: Path) -> None:
    database = tmp_path / "replaydesk.db"
    upgrade_database(f"sqlite+aiosqlite:///{database}")
    assert not (tmp_path / "replaydesk.db-inbox").exists()

    async def queue_one() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{database}")
        store = SessionStore(engine)
        try:
            entry = InboxEntry("sess-fresh-0001", 0, None, 1, None, b"gzip")
            assert await store.inbox.enqueue([entry], [[]]) == ["written"]
        finally:
            store.dispose()
            await engine.dispose()

    asyncio.run(queue_one())
    assert count(f"sqlite:///{tmp_path / 'replaydesk.db-inbox'}") == 1
