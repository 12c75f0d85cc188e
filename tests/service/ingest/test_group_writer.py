"""Group commit: concurrent batches share status queries and transactions, their chunks go into
the journal and on to the blob store together; one bad batch fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgspec
import pytest

from service.errors import StorageUnavailable
from service.ingest import group_writer as batch_writer
from service.ingest.chunk_mover import ChunkMover
from service.ingest.group_writer import BatchWriter, PendingBatch, _Grouped
from service.signal_kinds import ClickSignal
from service.storage.blobs import BlobNotFound, BlobStore, BlobStoreUnavailable
from service.storage.session_store import BatchOutcome, SessionStore
from tests.batch_records import batch_record


@pytest.fixture
async def mover(store: SessionStore, blobs: BlobStore) -> AsyncIterator[ChunkMover]:
    # No background moves: the tests move the chunks themselves.
    mover = ChunkMover(store, blobs, delay_seconds=3600)
    yield mover
    await mover.close()


@pytest.fixture
async def writer(store: SessionStore, mover: ChunkMover) -> AsyncIterator[BatchWriter]:
    writer = BatchWriter(store, mover)
    yield writer
    await writer.close()


def pending(session: int, seq: int, subjects: Sequence[str] = (), node_id: Any = 1) -> PendingBatch:
    sid = f"sess-writer-{session:04d}"
    record = batch_record(
        sid,
        seq,
        first_ts=1000 + seq,
        last_ts=2000 + seq,
        event_count=5,
        byte_count=10,
        signals=[ClickSignal(ts=1500, node_id=node_id)],
    )
    return PendingBatch(record=record, chunk=f"chunk {sid} {seq}".encode(), subject_hashes=subjects)


def count_calls(monkeypatch: pytest.MonkeyPatch, target: object, name: str) -> list[int]:
    """Replace `target.name` with a wrapper noting the length of each call's first argument."""
    sizes: list[int] = []
    original = getattr(target, name)

    async def counting(items: Sequence[Any], *more: Any) -> Any:
        sizes.append(len(items))
        return await original(items, *more)

    monkeypatch.setattr(target, name, counting)
    return sizes


async def test_concurrent_batches_are_all_stored_once_in_shared_steps(
    writer: BatchWriter,
    mover: ChunkMover,
    store: SessionStore,
    blobs: BlobStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    writes = count_calls(monkeypatch, store, "record_new_batches")
    puts = count_calls(monkeypatch, blobs, "put_many")
    batches = [pending(s, q, ["someone"]) for s in range(8) for q in range(5)]
    # The repeats come while their originals are being stored, or after.
    results = await asyncio.gather(*(writer.store(b) for b in batches + batches[:5]))
    assert results[:40] == ["written"] * 40
    assert results[40:] == ["duplicate"] * 5
    assert sum(writes) == 45 and len(writes) < 45  # some transactions carried several batches
    for session in range(8):
        stored = await store.get(f"sess-writer-{session:04d}")
        assert stored is not None and stored.chunk_count == 5 and stored.click_count == 5
    # Acknowledged with the chunks in the journal, none in the blob store yet...
    assert puts == [] and mover.waiting == 40
    chunks = dict(await store.session_chunks("sess-writer-0003"))
    assert chunks == {b.record.blob_key: b.chunk for b in batches if "0003" in b.record.session_id}
    # ...which takes them all at once when the mover moves them.
    assert await mover.flush() == 40
    assert puts == [40] and mover.waiting == 0
    for batch in batches:
        assert await blobs.get(batch.record.blob_key) == batch.chunk
    assert all(data is None for _, data in await store.session_chunks("sess-writer-0003"))


async def test_a_batch_that_cannot_be_written_fails_alone(
    writer: BatchWriter, store: SessionStore
) -> None:
    poison = pending(99, 0, node_id=object())  # cannot be written as JSON
    outcomes = await asyncio.gather(
        writer.store(pending(1, 0)),
        writer.store(poison),
        writer.store(pending(2, 0)),
        return_exceptions=True,
    )
    assert outcomes[0] == "written" and outcomes[2] == "written"
    assert isinstance(outcomes[1], StorageUnavailable)
    assert await store.get("sess-writer-0099") is None


async def test_of_two_different_copies_in_a_group_only_the_stored_one_leaves_a_chunk(
    writer: BatchWriter, mover: ChunkMover, blobs: BlobStore
) -> None:
    first = pending(5, 0)
    record = msgspec.structs.replace(
        first.record, blob_key=first.record.blob_key.replace("-x.", "-y.")
    )
    second = PendingBatch(record=record, chunk=b"another chunk", subject_hashes=())
    outcomes = await asyncio.gather(writer.store(first), writer.store(second))
    assert outcomes == ["written", "duplicate"]
    await mover.flush()
    assert await blobs.get(first.record.blob_key) == first.chunk
    with pytest.raises(BlobNotFound):
        await blobs.get(second.record.blob_key)  # nothing points at it: it was never put


async def test_while_the_blob_store_fails_chunks_wait_in_the_journal(
    writer: BatchWriter,
    mover: ChunkMover,
    store: SessionStore,
    blobs: BlobStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_put_many = blobs.put_many

    async def refusing(items: Sequence[tuple[str, bytes]]) -> None:
        raise BlobStoreUnavailable("blob store file:///blobs failed to put: disk full")

    monkeypatch.setattr(blobs, "put_many", refusing)
    monkeypatch.setattr(batch_writer, "MAX_WAITING_CHUNKS", 2)
    outcomes = [await writer.store(pending(n, 0)) for n in range(3)]
    assert outcomes == ["written"] * 3
    with pytest.raises(BlobStoreUnavailable):
        await mover.flush()
    # Past the limit, batches are refused, with a reason, and nothing of them is stored.
    with pytest.raises(StorageUnavailable, match="send the batch again later"):
        await writer.store(pending(3, 0))
    assert await store.get("sess-writer-0003") is None
    # The chunks are still there to read, and are moved once the store works again.
    assert dict(await store.session_chunks("sess-writer-0001")) == {
        pending(1, 0).record.blob_key: pending(1, 0).chunk
    }
    monkeypatch.setattr(blobs, "put_many", real_put_many)
    assert await mover.flush() == 3
    assert await blobs.get(pending(1, 0).record.blob_key) == pending(1, 0).chunk
    assert await writer.store(pending(3, 0)) == "written"


async def test_the_backlog_limit_counts_what_an_earlier_process_left_waiting(
    writer: BatchWriter, mover: ChunkMover, store: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Acknowledged by a process that stopped while the blob store was down: a new process
    # counts them from the journal at start, before any move.
    earlier = [pending(n, 0) for n in range(3)]
    await store.record_new_batches(
        [b.record for b in earlier], [[] for _ in earlier], [b.chunk for b in earlier]
    )
    monkeypatch.setattr(batch_writer, "MAX_WAITING_CHUNKS", 2)
    mover.start()
    for _ in range(500):
        if mover.waiting == 3:
            break
        await asyncio.sleep(0.01)
    with pytest.raises(StorageUnavailable, match="send the batch again later"):
        await writer.store(pending(3, 0))
    # Once they are moved (or erased), the count falls and batches are taken again.
    assert await mover.flush() == 3
    assert mover.waiting == 0
    assert await writer.store(pending(3, 0)) == "written"


async def test_erased_subjects_refuse_before_and_are_reported_after_a_write(
    writer: BatchWriter, store: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.add_tombstones(["erased-before"], at=1)
    real_write = store.record_new_batches

    async def write_then_erase(*args: Any) -> list[BatchOutcome]:
        outcomes = await real_write(*args)
        # As a concurrent erasure does: its tombstone is committed after the batch's check,
        # and its list of what to delete was taken before the batch's rows were committed.
        await store.add_tombstones(["erased-meanwhile"], at=2)
        return outcomes

    monkeypatch.setattr(store, "record_new_batches", write_then_erase)
    refused = pending(3, 0, ["someone", "erased-before"])
    outcomes = await asyncio.gather(
        writer.store(pending(1, 0, ["someone", "erased-meanwhile"])),
        writer.store(pending(2, 0, ["someone"])),
        writer.store(refused),
    )
    assert outcomes == ["erased", "written", "refused"]
    # A refused batch stores nothing at all, its chunk included.
    assert await store.get("sess-writer-0003") is None
    assert await store.session_chunks("sess-writer-0003") == []


async def test_a_write_that_fails_fails_every_batch_waiting_on_it(
    writer: BatchWriter, store: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any) -> list[BatchOutcome]:
        raise ConnectionError("database went away")

    monkeypatch.setattr(store, "record_new_batches", broken)
    outcomes = await asyncio.gather(
        *(writer.store(pending(n, 0)) for n in range(3)), return_exceptions=True
    )
    assert all(isinstance(outcome, StorageUnavailable) for outcome in outcomes)
    monkeypatch.undo()  # the store's own method again
    # The writing task goes on: the next batch after the failure is stored.
    assert await writer.store(pending(1, 0)) == "written"


class _Recorder:
    """A group runner that notes each group and can hold the first one until released."""

    def __init__(self) -> None:
        self.groups: list[list[str]] = []
        self.release = asyncio.Event()

    async def run(self, items: list[str]) -> list[str]:
        self.groups.append(items)
        if len(self.groups) == 1:
            await self.release.wait()
        return items


def _failure(item: str, exc: Exception) -> BaseException:
    return RuntimeError(item)


async def test_a_batch_alone_does_not_wait_for_company() -> None:
    recorder = _Recorder()
    recorder.release.set()
    grouped: _Grouped[str, str] = _Grouped(recorder.run, _failure, "test", gather_seconds=60)
    try:
        for item in ("a", "b", "c"):
            # Nothing is queued behind any of them: each starts at once, not a minute later.
            assert await asyncio.wait_for(grouped(item), timeout=10) == item
    finally:
        await grouped.close()
    assert recorder.groups == [["a"], ["b"], ["c"]]


async def test_under_load_a_group_waits_for_the_batches_on_their_way() -> None:
    recorder = _Recorder()
    grouped: _Grouped[str, str] = _Grouped(recorder.run, _failure, "test", gather_seconds=0.5)
    try:
        first = asyncio.create_task(grouped("a"))
        await asyncio.sleep(0)
        queued = asyncio.create_task(grouped("b"))  # arrives while "a" is being written
        await asyncio.sleep(0)
        recorder.release.set()
        await first
        # "b" queued behind a running group, so its group waits; "c" comes during the wait.
        await asyncio.sleep(0.05)
        assert await asyncio.gather(queued, grouped("c")) == ["b", "c"]
    finally:
        await grouped.close()
    assert recorder.groups == [["a"], ["b", "c"]]
