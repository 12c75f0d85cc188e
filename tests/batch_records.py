"""A `BatchRecord` for storage tests and benchmarks, with every field the caller does not care
about filled in."""

from __future__ import annotations

from typing import Any

from service.storage.records import BatchRecord

__all__ = ["batch_record"]


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
