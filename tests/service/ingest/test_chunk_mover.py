"""The chunk mover moves journaled chunks into the blob store: in the background, at start
and at the end; again after a failure; never bringing back a chunk of a purged session."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from service.ingest.chunk_mover import ChunkMover
from service.sessions.erasure import purge_sessions
from service.settings import Settings
from service.storage.blobs import BlobNotFound, BlobStore, BlobStoreUnavailable
from service.storage.database import create_engine
from service.storage.records import BatchRecord
from service.storage.session_store import SessionStore
from service.web.app import create_app
from tests.batch_records import batch_record
from tests.conftest import AUTH, INGEST
from tests.recordings import batch, checkout_events


def record(session: int, seq: int = 0) -> BatchRecord:
    return batch_record(f"sess-flush-{session:04d}", seq)


async def journal(store: SessionStore, *records: BatchRecord) -> None:
    """Write rows and journal entries as ingest does, without moving anything."""
    chunks = [f"chunk of {r.session_id}".encode() for r in records]
    await store.record_new_batches(records, [[] for _ in records], chunks)


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "not done in time"
        await asyncio.sleep(0.02)


async def in_journal(store: SessionStore, session: int) -> bool:
    keys = await store.session_chunks(record(session).session_id)
    return any(data is not None for _, data in keys)


async def test_journaled_chunks_are_moved_a_moment_later(
    store: SessionStore, blobs: BlobStore
) -> None:
    mover = ChunkMover(store, blobs, delay_seconds=0.01)
    try:
        await journal(store, record(1), record(2))
        mover.journaled(2)
        assert mover.waiting == 2
        await eventually(lambda: _not(in_journal(store, 2)))
        assert await blobs.get(record(1).blob_key) == b"chunk of sess-flush-0001"
        assert mover.waiting == 0
    finally:
        await mover.close()


async def test_what_an_earlier_process_left_is_moved_at_start_and_at_close(
    store: SessionStore, blobs: BlobStore
) -> None:
    await journal(store, record(1))  # as a process that stopped before its move leaves it
    mover = ChunkMover(store, blobs, delay_seconds=0.01)
    mover.start()
    await eventually(lambda: _not(in_journal(store, 1)))
    await journal(store, record(2))
    await mover.close()  # no wait for the delay: the last move is made on the way out
    assert not await in_journal(store, 2)
    assert await blobs.get(record(2).blob_key) == b"chunk of sess-flush-0002"


async def test_a_failed_move_is_tried_again(
    store: SessionStore, blobs: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_put_many = blobs.put_many
    calls: list[int] = []

    async def failing_once(items: Any) -> None:
        calls.append(len(items))
        if len(calls) == 1:
            raise BlobStoreUnavailable("blob store file:///blobs failed to put: disk full")
        await real_put_many(items)

    monkeypatch.setattr(blobs, "put_many", failing_once)
    mover = ChunkMover(store, blobs, delay_seconds=0.01, retry_seconds=0.05)
    try:
        await journal(store, record(1))
        mover.journaled(1)
        await eventually(lambda: _not(in_journal(store, 1)))
        assert calls == [1, 1]
        assert await blobs.get(record(1).blob_key) == b"chunk of sess-flush-0001"
    finally:
        await mover.close()


async def test_a_session_purged_during_a_move_leaves_no_chunk_behind(
    store: SessionStore, blobs: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await journal(store, record(1), record(2))
    real_put_many = blobs.put_many
    purges: list[asyncio.Task[None]] = []

    async def put_while_purging(items: Any) -> None:
        # An erasure of session 1 starts after the move read the journal. On SQLite it runs
        # through before the chunks are stored; on PostgreSQL it waits for the move to end.
        purges.append(asyncio.create_task(purge_sessions(store, blobs, [record(1).session_id], [])))
        await asyncio.sleep(0.3)
        await real_put_many(items)

    monkeypatch.setattr(blobs, "put_many", put_while_purging)
    mover = ChunkMover(store, blobs, delay_seconds=3600)
    try:
        await mover.flush()
        await asyncio.gather(*purges)
    finally:
        await mover.close()
    with pytest.raises(BlobNotFound):
        await blobs.get(record(1).blob_key)
    assert [key async for key in blobs.list_keys("sessions/sess-flush-0001/")] == []
    assert await blobs.get(record(2).blob_key) == b"chunk of sess-flush-0002"
    assert await store.session_chunks(record(1).session_id) == []


async def test_a_chunk_stored_between_a_purges_two_deletions_goes_with_the_second(
    database_url: str, store: SessionStore, blobs: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("on PostgreSQL the purge waits for the move, which holds the entries")
    await journal(store, record(1))
    entries_read, first_deletion_done, move_done = asyncio.Event(), asyncio.Event(), asyncio.Event()
    real_put_many, real_delete_sessions = blobs.put_many, store.delete_sessions

    async def put_after_the_first_deletion(items: Any) -> None:
        entries_read.set()
        await first_deletion_done.wait()
        await real_put_many(items)

    async def delete_rows_after_the_move(*args: Any, **kwargs: Any) -> None:
        first_deletion_done.set()
        await move_done.wait()  # the move found the session still there and kept the chunk
        await real_delete_sessions(*args, **kwargs)

    monkeypatch.setattr(blobs, "put_many", put_after_the_first_deletion)
    monkeypatch.setattr(store, "delete_sessions", delete_rows_after_the_move)
    mover = ChunkMover(store, blobs, delay_seconds=3600)
    moving = asyncio.create_task(mover.flush())
    await entries_read.wait()  # the move has read the entry; now the purge removes it
    purge = asyncio.create_task(purge_sessions(store, blobs, [record(1).session_id], []))
    await moving
    assert await blobs.get(record(1).blob_key)  # kept: its session still had its rows
    move_done.set()
    await purge
    await mover.close()
    with pytest.raises(BlobNotFound):
        await blobs.get(record(1).blob_key)


async def test_two_processes_moving_at_once_keep_every_chunk(
    store: SessionStore, blobs: BlobStore
) -> None:
    # As two `replaydesk serve` on one database do. On SQLite both may take the same entries;
    # the one that finds them removed must not take the chunks for a purged session's.
    await journal(store, *(record(n) for n in range(6)))
    first = ChunkMover(store, blobs, delay_seconds=3600)
    second = ChunkMover(store, blobs, delay_seconds=3600)
    try:
        await asyncio.gather(first.flush(), second.flush())
    finally:
        await asyncio.gather(first.close(), second.close())
    for n in range(6):
        assert await blobs.get(record(n).blob_key) == f"chunk of {record(n).session_id}".encode()
        assert not await in_journal(store, n)


async def test_the_service_reads_journaled_chunks_and_moves_them_by_its_end(
    settings: Settings,
) -> None:
    body = msgspec.json.encode(batch("sess-flush-app1", 0, checkout_events(), user_id="u1"))
    chunks = settings.data_dir / "blobs" / "sessions" / "sess-flush-app1"
    async with AsyncTestClient(app=create_app(settings)) as client:
        assert (
            await client.post("/api/v1/ingest", content=body, headers=INGEST)
        ).status_code == 202
        # Read back at once, wherever the chunk is at that moment.
        events = await client.get("/api/v1/sessions/sess-flush-app1/events", headers=AUTH)
        assert len(events.json()) == len(checkout_events())
    # The service's end moved it into the blob store.
    assert len(list(chunks.iterdir())) == 1
    engine = create_engine(settings.database_url)
    store = SessionStore(engine)
    try:
        assert [data for _, data in await store.session_chunks("sess-flush-app1")] == [None]
    finally:
        store.dispose()
        await engine.dispose()


async def _not(check: Awaitable[bool]) -> bool:
    return not await check
