"""Ingest of one recorder batch: read and decoded, scrubbed and indexed, written durably."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

import msgspec
from isal import igzip

from service.clock import now_ms
from service.errors import BatchTooDeep, UserErased
from service.ingest.body import (
    NESTED_TOO_DEEP,
    IngestBatch,
    IngestLimits,
    LiveConsent,
    decode_batch,
    read_body,
)
from service.ingest.chunk_mover import ChunkMover
from service.ingest.clock_skew import on_service_clock
from service.ingest.group_writer import BatchWriter, PendingBatch
from service.ingest.inbox import BatchInbox
from service.ingest.signals.batch_pass import process_events
from service.live.feed import LiveFeed
from service.sessions.erasure import ErasureKeys, purge_sessions
from service.storage.blobs import BlobStore
from service.storage.chunk_layout import chunk_blob_key
from service.storage.records import BatchRecord
from service.storage.session_store import SessionStore

__all__ = ["IngestOutcome", "Ingestor", "compress_chunk", "prepare_batch"]

log = logging.getLogger(__name__)

# ISA-L's level 1 (of 0-3) compresses a 48 KB batch in about a third of the time zlib's level
# 1 takes, and a little smaller; ingest latency matters more than the last percent of size.
CHUNK_GZIP_LEVEL = 1
_ERASED = "recording for this user or session was erased and is refused"


class IngestOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What happened to a batch: stored now, or stored before (a repeat)."""

    session_id: str
    seq: int
    status: Literal["accepted", "duplicate"]
    events: int
    body_bytes: int
    live_consent: LiveConsent | None = None
    """What the customer said to a live view, when their recorder asks them."""


def compress_chunk(events_json: bytes) -> bytes:
    """The stored form of a chunk: gzip, with no timestamp so equal chunks are equal bytes."""
    return igzip.compress(events_json, compresslevel=CHUNK_GZIP_LEVEL, mtime=0)


def prepare_batch(
    batch: IngestBatch,
    received_at: int,
    sent_at: int | None,
    erasure_keys: ErasureKeys,
    ingest_key: str | None = None,
) -> PendingBatch:
    """A decoded batch made ready to store: scrubbed and indexed, its times on the service's
    clock, its chunk compressed. CPU only; raises `BatchInvalid` or `BatchTooDeep` for
    events the signal pass refuses. `ingest_key`: the created key that sent it, if one."""
    try:
        processed = process_events(batch.events)
    except RecursionError:
        # A console argument is itself JSON, decoded only here.
        raise BatchTooDeep(NESTED_TOO_DEEP) from None
    user_id = processed.identified_user_id or batch.user_id
    subjects = [erasure_keys.session(batch.session_id)]
    subjects += [erasure_keys.user(u) for u in {batch.user_id, user_id} if u is not None]
    times = on_service_clock(processed, sent_at, received_at)
    chunk = compress_chunk(processed.events_json)
    record = BatchRecord(
        session_id=batch.session_id,
        seq=batch.seq,
        user_id=user_id,
        blob_key=chunk_blob_key(batch.session_id, batch.seq, chunk),
        first_ts=times.first_ts,
        last_ts=times.last_ts,
        event_count=processed.event_count,
        byte_count=len(chunk),
        received_at=received_at,
        final=batch.final,
        signals=times.signals,
        activity=times.activity,
        environment=processed.environment,
        ingest_key=ingest_key,
    )
    return PendingBatch(record=record, chunk=chunk, subject_hashes=subjects)


class Ingestor:
    """Turns validated batches into a stored chunk plus index rows, exactly once per seq."""

    def __init__(
        self,
        store: SessionStore,
        blobs: BlobStore,
        erasure_keys: ErasureKeys,
        wake_processing: Callable[[], None] | None = None,
        live: LiveFeed | None = None,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.erasure_keys = erasure_keys
        self.live = live
        self.mover = ChunkMover(store, blobs)
        self.writer = BatchWriter(store, self.mover)
        self.inbox: BatchInbox | None = None
        """With processing workers (`wake_processing` wakes them): where batches queue."""
        if wake_processing is not None:
            self.inbox = BatchInbox(store, erasure_keys, wake_processing)

    def start(self) -> None:
        """Start moving journaled chunks into the blob store, those left by an earlier
        process first."""
        self.mover.start()

    async def close(self) -> None:
        """Stop taking batches (pending ones are dropped and their clients retry), then move
        what is journaled into the blob store."""
        if self.inbox is not None:
            await self.inbox.close()
        await self.writer.close()
        await self.mover.close()

    async def ingest(
        self,
        body: bytes,
        content_encoding: str | None,
        limits: IngestLimits,
        sent_at: int | None = None,
        ingest_key: str | None = None,
    ) -> IngestOutcome:
        """Store one batch; return only once its chunk and index rows are durable, or, with
        processing workers, once it is durably queued for them.

        `sent_at` is the sender's clock when it sent the batch (see `clock_skew`);
        `ingest_key` the key created with `replaydesk keys` that sent it (None: a configured
        one), noted on its session.
        """
        if self.inbox is not None:
            queued = await self.inbox.ingest(body, content_encoding, limits, sent_at, ingest_key)
            return IngestOutcome(
                session_id=queued.session_id,
                seq=queued.seq,
                status=queued.status,
                events=queued.events,
                body_bytes=len(body),
                live_consent=queued.live_consent,
            )
        received_at = now_ms()
        batch = decode_batch(read_body(body, content_encoding, limits))
        outcome = IngestOutcome(
            session_id=batch.session_id,
            seq=batch.seq,
            status="duplicate",
            events=len(batch.events),
            body_bytes=len(body),
            live_consent=batch.live_consent,
        )
        # Scrubbing, indexing and compressing touch no storage, so they come first: the
        # writer's one status query then covers the user an identify event names as well as
        # the batch's own (and is shared with the batches stored at the same moment).
        pending = prepare_batch(batch, received_at, sent_at, self.erasure_keys, ingest_key)
        stored = await self.writer.store(pending)
        if stored == "refused":
            raise UserErased(_ERASED)
        if stored == "erased":
            await self._remove_erased_session(batch.session_id)
            raise UserErased(_ERASED)
        if stored == "duplicate":
            # Stored before, or a concurrent copy won the race (its rows point at its blob).
            return outcome
        if self.live is not None:
            await self.live.publish(batch.session_id, batch.seq, batch.final, pending.chunk)
        return msgspec.structs.replace(outcome, status="accepted")

    async def _remove_erased_session(self, session_id: str) -> None:
        """Erased while this batch was being stored: remove its session as erasure would."""
        try:
            await purge_sessions(
                self.store, self.blobs, [session_id], [self.erasure_keys.session(session_id)]
            )
        except Exception:
            # The batch is refused all the same; retention removes the session at the latest.
            log.exception("could not remove the session of an erased subject just written")
