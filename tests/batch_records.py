"""A `BatchRecord` for storage tests and benchmarks, with every field the caller does not care
about filled in, and the write that ingest makes of it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.storage.records import BatchRecord
from service.storage.session_store import SessionStore

__all__ = ["batch_record", "store_batch", "store_batches"]


def batch_record(session_id: str, seq: int = 0, **fields: Any) -> BatchRecord:
    """A batch of user `u1` with one event, no signals and its blob key in the session's
    folder, unless `fields` say otherwise."""
    values: dict[str, Any] = {
        "user_id": "u1",
        "blob_key": f"sessions/{session_id}/{seq:012d}-x.json.gz",
        "first_ts": 1000,
        "last_ts": 2000,
        "event_count": 1,
        "byte_count": 5,
        "received_at": 3000,
        "final": False,
        "signals": [],
    }
    values.update(fields)
    return BatchRecord(session_id=session_id, seq=seq, **values)


async def store_batches(store: SessionStore, batches: Sequence[BatchRecord]) -> list[bool]:
    """Write batches as ingest does (rows, signals and journaled chunks in one transaction);
    per batch, whether it was new."""
    chunks = [f"chunk {b.session_id} {b.seq}".encode() for b in batches]
    outcomes = await store.record_new_batches(batches, [[] for _ in batches], chunks)
    return [outcome == "written" for outcome in outcomes]


async def store_batch(store: SessionStore, batch: BatchRecord) -> bool:
    """`store_batches` for one batch."""
    return (await store_batches(store, [batch]))[0]
