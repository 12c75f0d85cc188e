"""Group commit: concurrent batches share status queries and transactions; one bad batch fails
alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from service.batch_writer import BatchWriter
from service.errors import StorageUnavailable
from service.storage.database import create_engine
from service.storage.records import BatchRecord, SignalRecord
from service.storage.session_store import SessionStore


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SessionStore]:
    engine = create_engine(database_url)
    store = SessionStore(engine)
    yield store
    store.dispose()
    await engine.dispose()


def record(session: int, seq: int, data: dict[str, Any] | None = None) -> BatchRecord:
    sid = f"sess-writer-{session:04d}"
    return BatchRecord(
        session_id=sid,
        seq=seq,
        user_id="u1",
        blob_key=f"sessions/{sid}/{seq:012d}-x.json.gz",
        first_ts=1000 + seq,
        last_ts=2000 + seq,
        event_count=5,
        byte_count=10,
        received_at=3000,
        final=False,
        signals=[SignalRecord(kind="click", ts=1500, seq=seq, data=data or {"node_id": 1})],
    )


async def test_concurrent_writes_are_all_stored_once(store: SessionStore) -> None:
    writer = BatchWriter(store)
    calls: list[int] = []
    original = store.record_batches

    async def counting(batches: Any) -> list[bool]:
        calls.append(len(batches))
        return await original(batches)

    store.record_batches = counting  # type: ignore[method-assign]
    records = [record(s, q) for s in range(8) for q in range(5)]
    results = await asyncio.gather(*(writer.write(r, ["someone"]) for r in records + records[:5]))
    await writer.close()
    assert results == ["written"] * 40 + ["duplicate"] * 5
    assert sum(calls) == 45 and len(calls) < 45  # some commits carried several batches
    for session in range(8):
        stored = await store.get(f"sess-writer-{session:04d}")
        assert stored is not None and stored.chunk_count == 5 and stored.click_count == 5


async def test_a_batch_that_cannot_be_written_fails_alone(store: SessionStore) -> None:
    writer = BatchWriter(store)
    poison = record(99, 0, data={"unserialisable": object()})
    outcomes = await asyncio.gather(
        writer.write(record(1, 0), []),
        writer.write(poison, []),
        writer.write(record(2, 0), []),
        return_exceptions=True,
    )
    await writer.close()
    assert outcomes[0] == "written" and outcomes[2] == "written"
    assert isinstance(outcomes[1], StorageUnavailable)
    assert await store.get("sess-writer-0099") is None


async def test_a_batch_whose_subject_was_erased_meanwhile_is_reported_after_its_write(
    store: SessionStore,
) -> None:
    writer = BatchWriter(store)
    # Erased after the batch's status check, before its write: as a concurrent erasure does.
    await store.add_tombstones(["erased-meanwhile"], at=1)
    outcomes = await asyncio.gather(
        writer.write(record(1, 0), ["someone", "erased-meanwhile"]),
        writer.write(record(2, 0), ["someone"]),
        writer.write(record(2, 0), ["erased-meanwhile"]),  # a duplicate: nothing was written
    )
    await writer.close()
    assert outcomes == ["erased", "written", "duplicate"]


async def test_status_checks_waiting_together_share_a_query_and_each_get_their_own_answer(
    store: SessionStore,
) -> None:
    await store.record_batches([record(1, 0), record(2, 0)])
    await store.delete_sessions([], ["erased-subject"], at=1)
    writer = BatchWriter(store)
    queries: list[int] = []
    original = store.batch_statuses

    async def counting(batches: Any) -> list[tuple[bool, bool]]:
        queries.append(len(batches))
        return await original(batches)

    store.batch_statuses = counting  # type: ignore[method-assign]
    asked = [
        ("sess-writer-0001", 0, ["someone"]),  # stored
        ("sess-writer-0001", 1, ["someone"]),  # new
        ("sess-writer-0002", 0, ["erased-subject"]),  # stored, and its user erased
        ("sess-writer-0003", 0, ["someone", "erased-subject"]),  # new, user erased
        ("sess-writer-0004", 7, []),  # new
    ] * 4
    answers = await asyncio.gather(*(writer.status(*query) for query in asked))
    await writer.close()
    assert (
        answers == [(False, True), (False, False), (True, True), (True, False), (False, False)] * 4
    )
    assert sum(queries) == 20 and len(queries) < 20


async def test_a_status_query_that_fails_fails_every_check_waiting_on_it(
    store: SessionStore,
) -> None:
    writer = BatchWriter(store)

    async def broken(batches: Any) -> list[tuple[bool, bool]]:
        raise ConnectionError("database went away")

    store.batch_statuses = broken  # type: ignore[method-assign]
    outcomes = await asyncio.gather(
        *(writer.status(f"sess-writer-{n:04d}", 0, []) for n in range(3)),
        return_exceptions=True,
    )
    del store.batch_statuses  # the store's own method again
    assert all(isinstance(outcome, ConnectionError) for outcome in outcomes)
    # The checking task goes on: the next check after the failure is answered.
    assert await writer.status("sess-writer-0001", 0, []) == (False, False)
    await writer.close()
