"""CPU cost of each in-memory stage of ingesting one batch, timed in this process, no I/O."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import create_async_engine

from bench.figures import format_table
from bench.rrweb_batches import batch_bodies
from bench.stdlib_json_decoding import decode_batch_with_stdlib_json
from service.ingest.body import IngestLimits, decode_batch, read_body
from service.ingest.ingestor import CHUNK_GZIP_LEVEL, compress_chunk
from service.ingest.signals.batch_pass import process_events
from service.signal_kinds import Signal
from service.storage.records import BatchRecord
from service.storage.session_store import SessionStore
from tests.batch_records import batch_record

__all__ = ["run_ingest_stages"]

STAGE_SESSIONS = 64
STAGE_SEQS = 4
LIMITS = IngestLimits(max_body_bytes=8 * 1024 * 1024, max_decompressed_bytes=32 * 1024 * 1024)


def _per_item_ms(items: Sequence[Any], stage: Callable[[Any], object]) -> float:
    for item in items[:8]:
        stage(item)
    started = time.perf_counter()
    for item in items:
        stage(item)
    return (time.perf_counter() - started) / len(items) * 1000


def _record(session_id: str, seq: int, signals: list[Signal]) -> BatchRecord:
    return batch_record(
        session_id,
        seq,
        user_id="user-1",
        blob_key="sessions/x/000000000000-0.json.gz",
        first_ts=1,
        last_ts=2,
        event_count=119,
        byte_count=8000,
        received_at=3,
        signals=signals,
    )


async def run_ingest_stages() -> str:
    """One row per stage: milliseconds of CPU per ~48 KB batch, averaged over many batches."""
    bodies = batch_bodies("stages", STAGE_SESSIONS, STAGE_SEQS)
    wires = [body.wire for body in bodies]
    jsons = [read_body(wire, "gzip", LIMITS) for wire in wires]
    batches = [decode_batch(data) for data in jsons]
    processed = [process_events(batch.events) for batch in batches]
    records = [
        _record(batch.session_id, batch.seq, p.signals)
        for batch, p in zip(batches, processed, strict=True)
    ]
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    store = SessionStore(engine)
    try:
        stages = [
            (
                "read_body: bounded gunzip",
                _per_item_ms(wires, lambda w: read_body(w, "gzip", LIMITS)),
            ),
            ("decode_batch (msgspec)", _per_item_ms(jsons, decode_batch)),
            ("decode_batch on stdlib json", _per_item_ms(jsons, decode_batch_with_stdlib_json)),
            (
                "process_events: scrub + signals",
                _per_item_ms(batches, lambda b: process_events(b.events)),
            ),
            (
                f"chunk gzip (ISA-L level {CHUNK_GZIP_LEVEL})",
                _per_item_ms(processed, lambda p: compress_chunk(p.events_json)),
            ),
            # The ON CONFLICT statements the batch write builds for a group of one batch.
            (
                "SessionStore._upsert_sessions: build",
                _per_item_ms(records, lambda r: store._upsert_sessions([r])),
            ),
        ]
    finally:
        await engine.dispose()
    rows = [[name, f"{ms:.3f}"] for name, ms in stages]
    return "\n".join(
        [
            f"In-memory ingest stages, CPU ms per batch ({len(bodies)} batches, no I/O, "
            "one at a time in this process)",
            "",
            format_table(["stage", "ms/batch"], rows),
        ]
    )
