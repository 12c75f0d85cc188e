"""The chunk mover moves journaled chunks into the blob store: in the background, at start
and at the end; again after a failure; never bringing back a chunk of a purged session."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from service.clock import now_ms
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
        await eventually(lambda: _is(mover.waiting == 0))
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


# -- one bad chunk among many: quarantine ---------------------------------------------------

POISON_SESSION = "poisonpill\n"  # a session ID the blob store refuses in a key
POISON_KEY = f"sessions/{POISON_SESSION}/000000000000-x.json.gz"


async def journal_poison(store: SessionStore, received_at: int = 3000) -> None:
    """A journaled batch whose blob key the local blob store refuses, as one taken before
    session IDs were checked for a trailing newline leaves behind."""
    await store.record_new_batches(
        [batch_record(POISON_SESSION, 0, user_id="u-poison", received_at=received_at)],
        [[]],
        [b"poisoned chunk"],
    )


def count_puts(monkeypatch: pytest.MonkeyPatch, blobs: BlobStore) -> list[list[str]]:
    """The keys of every put_many call from now on."""
    real_put_many = blobs.put_many
    calls: list[list[str]] = []

    async def counting(items: Any) -> None:
        calls.append([key for key, _ in items])
        await real_put_many(items)

    monkeypatch.setattr(blobs, "put_many", counting)
    return calls


async def test_a_chunk_the_blob_store_refuses_alone_is_quarantined_and_the_others_move(
    store: SessionStore,
    blobs: BlobStore,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await journal(store, record(1), record(2))
    await journal_poison(store)
    await journal(store, *(record(n) for n in range(3, 8)))
    mover = ChunkMover(store, blobs, delay_seconds=3600)
    try:
        with caplog.at_level(logging.INFO, logger="service.ingest.chunk_mover"):
            assert await mover.flush() == 7
        for n in range(1, 8):
            expected = f"chunk of {record(n).session_id}".encode()
            assert await blobs.get(record(n).blob_key) == expected
        assert (mover.waiting, mover.quarantined, mover.failure) == (0, 1, None)
        assert mover.problems() == ["quarantined: 1 chunks the blob store refused"]
        # Still readable where it is, with the session's other rows.
        assert await store.session_chunks(POISON_SESSION) == [(POISON_KEY, b"poisoned chunk")]
        # Logged once, by entry id and error class, naming no session, user or key.
        warnings = [r.getMessage() for r in caplog.records if "quarantined" in r.getMessage()]
        assert len(warnings) == 1 and "ValueError" in warnings[0]
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "poisonpill" not in logged and "u-poison" not in logged
        # Later moves pass it by: the next chunks go in one put, the bad one is not tried.
        puts = count_puts(monkeypatch, blobs)
        await journal(store, record(8))
        assert await mover.flush() == 1
        assert puts == [[record(8).blob_key]]
        assert (mover.waiting, mover.quarantined) == (0, 1)
    finally:
        await mover.close()


async def test_when_every_put_fails_nothing_is_quarantined(
    store: SessionStore, blobs: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(items: Any) -> None:
        raise BlobStoreUnavailable("blob store file:///blobs failed to put: disk full")

    await journal(store, *(record(n) for n in range(4)))
    await journal_poison(store)
    monkeypatch.setattr(blobs, "put_many", down)
    mover = ChunkMover(store, blobs, delay_seconds=3600)
    try:
        with pytest.raises(BlobStoreUnavailable):
            await mover.flush()
        # The store looks down, not the chunks bad: all of them wait for the next try.
        assert (mover.waiting, mover.quarantined) == (5, 0)
        assert mover.failure == "BlobStoreUnavailable"
        assert mover.problems()[0] == "failing: BlobStoreUnavailable"
        monkeypatch.undo()
        assert await mover.flush() == 4  # the store is back: the bad chunk alone stays out
        assert (mover.waiting, mover.quarantined, mover.failure) == (0, 1, None)
    finally:
        await mover.close()


async def test_with_the_store_down_a_failed_page_is_given_up_after_a_few_puts(
    store: SessionStore, blobs: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the store down, the mover does not try a whole page chunk by chunk: it asks the
    # store whether it answers once two pieces failed, and gives the page up.
    calls: list[int] = []

    async def down(items: Any) -> None:
        calls.append(len(items))
        raise BlobStoreUnavailable("blob store file:///blobs failed to put: timed out")

    async def no_answer() -> None:
        raise BlobStoreUnavailable("blob store file:///blobs did not answer within 3s")

    await journal(store, *(record(n) for n in range(64)))
    monkeypatch.setattr(blobs, "put_many", down)
    monkeypatch.setattr(blobs, "check", no_answer)
    mover = ChunkMover(store, blobs, delay_seconds=3600)
    try:
        with pytest.raises(BlobStoreUnavailable):
            await mover.flush()
        assert calls == [64, 32, 16]
        assert (mover.waiting, mover.quarantined) == (64, 0)
    finally:
        monkeypatch.undo()
        await mover.close()


async def test_quarantined_chunks_are_tried_again_now_and_then(
    store: SessionStore, blobs: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = {record(2).blob_key}
    real_put_many = blobs.put_many

    async def refusing_one(items: Any) -> None:
        if refused & {key for key, _ in items}:
            raise BlobStoreUnavailable("blob store file:///blobs failed to put: 403")
        await real_put_many(items)

    monkeypatch.setattr(blobs, "put_many", refusing_one)
    await journal(store, record(1), record(2), record(3))
    mover = ChunkMover(store, blobs, delay_seconds=0.01, quarantine_retry_seconds=0.2)
    try:
        mover.start()
        await eventually(lambda: _is(mover.quarantined == 1 and mover.waiting == 0))
        assert await in_journal(store, 2) and not await in_journal(store, 3)
        refused.clear()  # the fault passes: a later try moves the chunk
        await eventually(lambda: _not(in_journal(store, 2)))
        assert await blobs.get(record(2).blob_key) == b"chunk of sess-flush-0002"
        await eventually(lambda: _is(mover.quarantined == 0))
    finally:
        await mover.close()


async def test_a_chunk_that_fails_its_retry_stays_quarantined(
    store: SessionStore, blobs: BlobStore
) -> None:
    await journal(store, record(1))
    await journal_poison(store)
    mover = ChunkMover(store, blobs, delay_seconds=3600)
    try:
        assert await mover.flush() == 1
        assert await mover.retry_quarantined() == 0
        assert (mover.waiting, mover.quarantined) == (0, 1)
        assert await store.session_chunks(POISON_SESSION) == [(POISON_KEY, b"poisoned chunk")]
    finally:
        await mover.close()


# -- the backlog, counted from the journal ---------------------------------------------------


async def test_the_backlog_figures_hold_across_a_restart_and_fall_with_an_erasure(
    store: SessionStore, blobs: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await journal(store, record(1))
    await journal_poison(store)
    first = ChunkMover(store, blobs, delay_seconds=3600)
    await first.flush()  # record 1 moves, the bad chunk is quarantined
    await first.close()

    async def down(items: Any) -> None:
        raise BlobStoreUnavailable("blob store file:///blobs failed to put: disk full")

    # Chunks acknowledged by a process that stopped while the blob store was down.
    monkeypatch.setattr(blobs, "put_many", down)
    await journal(store, record(2), record(3, 0), record(3, 1))
    # A new process counts them at start, before its first move.
    mover = ChunkMover(store, blobs, delay_seconds=3600)
    try:
        assert (mover.waiting, mover.quarantined) == (0, 0)
        mover.start()
        await eventually(lambda: _is(mover.waiting == 3))
        assert mover.quarantined == 1
        assert mover.oldest_waiting_seconds() > 0  # recorded at 3000 ms after the epoch
        # Erasure removes journal entries, waiting and quarantined alike: the figures fall.
        await purge_sessions(store, blobs, [record(3).session_id], [])
        await store.forget_journal_of_sessions([POISON_SESSION])
        await mover.refresh()
        assert (mover.waiting, mover.quarantined) == (1, 0)
    finally:
        await mover.close()


async def test_counts_that_overlap_lose_no_chunk(
    store: SessionStore, blobs: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # /health, /metrics and the moves all count; each count takes off the chunks noted as
    # journaled before it began, and two at once must not take them off twice.
    mover = ChunkMover(store, blobs, delay_seconds=3600)
    mover.start()
    await asyncio.sleep(0.2)  # its first count is done; it waits out its delay now
    real_backlog, held, release = store.journal_backlog, [True], asyncio.Event()

    async def first_one_held() -> Any:
        if held:
            held.clear()
            await release.wait()
        return await real_backlog()

    monkeypatch.setattr(store, "journal_backlog", first_one_held)
    try:
        await journal(store, record(1))
        mover.journaled(1)
        first = asyncio.create_task(mover.refresh())
        await asyncio.sleep(0.05)
        await journal(store, record(2), record(3))
        mover.journaled(2)
        second = asyncio.create_task(mover.refresh())
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.gather(first, second)
        assert mover.waiting == 3
    finally:
        monkeypatch.undo()
        await mover.close()


async def test_the_oldest_waiting_chunk_says_whether_the_mover_is_behind(
    store: SessionStore, blobs: BlobStore
) -> None:
    mover = ChunkMover(store, blobs, delay_seconds=3600)
    await mover.refresh()
    assert mover.oldest_waiting_seconds() == 0 and mover.problems() == []
    await journal_poison(store, received_at=now_ms() - 120_000)  # journaled two minutes ago
    await journal(store, batch_record("sess-flush-fresh", 0, received_at=now_ms()))
    await mover.refresh()
    assert mover.waiting == 2 and 120 <= mover.oldest_waiting_seconds() < 180
    assert mover.problems() == [
        f"behind: the oldest waiting chunk came {mover.oldest_waiting_seconds():.0f}s ago"
    ]
    await mover.flush()  # the bad chunk is quarantined: it no longer counts as waiting
    assert (mover.waiting, mover.quarantined, mover.oldest_waiting_seconds()) == (0, 1, 0)
    assert mover.problems() == ["quarantined: 1 chunks the blob store refused"]
    await mover.close()


async def _is(value: bool) -> bool:
    return value
