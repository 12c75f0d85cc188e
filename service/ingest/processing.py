"""Processing of acknowledged batches: from the ingest inbox to stored rows and chunks.

A processing worker takes the inbox rows of its shards, oldest first, and does what ingest
did before acknowledging: it decodes the batch, runs the signal pass (scrubbing, signals,
environment), puts its times on the service's clock and compresses its chunk; then, in one
transaction, it deletes the rows and writes their batches (`SessionStore.record_new_batches_in`),
chunks into the chunk journal. A row deleted meanwhile (by another worker, or by an erasure)
is not written, so each (session_id, seq) is stored once however often a row is taken, and a
worker that dies leaves its rows to the next one.

A batch the signal pass refuses (an event it cannot read, a console argument nested too deep)
is removed unwritten; a batch whose write fails alone is tried again, a few times
(`MAX_FAILED_ATTEMPTS`). A batch whose identify event names an erased user is refused as
ingest always refused it; one whose subject is erased during its write has its session purged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import msgspec
from sqlalchemy.engine import Connection

from service.errors import ReplayDeskError
from service.ingest.body import IngestLimits, decode_batch, read_body
from service.ingest.chunk_mover import MAX_WAITING_CHUNKS, ChunkMover
from service.ingest.group_writer import PendingBatch
from service.ingest.ingestor import prepare_batch
from service.live.feed import LiveFeed, StoredBatch
from service.sessions.erasure import ErasureKeys, purge_sessions
from service.storage.blobs import BlobStore
from service.storage.inbox_store import InboxRow
from service.storage.session_store import BatchOutcome, SessionStore

__all__ = [
    "BUSY_GATHER_SECONDS",
    "PAGE",
    "POLL_SECONDS",
    "InboxProcessor",
    "ProcessingFigures",
]

log = logging.getLogger(__name__)

# Rows taken at once: one transaction (one commit, one fsync) for all of them.
PAGE = 64
# An idle worker looks at the inbox this often even without a wake-up (rows from another
# replica, or a wake-up lost): well inside the 2 s in which lookup must see a batch.
POLL_SECONDS = 0.25
# While rows keep coming, a worker waits this long before its next page, so that each page
# (and its commit) carries more of them.
BUSY_GATHER_SECONDS = 0.01
# After a failed page, the wait before the next try.
RETRY_SECONDS = 1.0
# How often at most a worker truncates SQLite's write-ahead log after processing, so that
# the inbox rows it deleted (raw batches, before scrubbing) leave the disk within a minute.
TRUNCATE_SECONDS = 30.0


class _Work(msgspec.Struct, kw_only=True):
    """One taken row: the batch ready to store, or why it never will be."""

    row: InboxRow
    pending: PendingBatch | None
    refusal: str | None = None


class ProcessingFigures(msgspec.Struct, kw_only=True):
    """What one worker did so far: rows stored, duplicates, refused, and CPU seconds spent
    preparing them (the signal pass and compression) and in all."""

    written: int = 0
    duplicate: int = 0
    refused: int = 0
    dropped: int = 0
    prepare_cpu_seconds: float = 0.0


class InboxProcessor:
    """Takes the rows of one worker's shards (`worker` of `workers`) and stores them."""

    def __init__(
        self,
        store: SessionStore,
        blobs: BlobStore,
        erasure_keys: ErasureKeys,
        limits: IngestLimits,
        mover: ChunkMover,
        worker: int = 0,
        workers: int = 1,
        live: LiveFeed | None = None,
    ) -> None:
        self._store = store
        self._live = live
        self._blobs = blobs
        self._keys = erasure_keys
        # The stored body was within the wire limit; gunzipped it may be as large as either.
        self._limits = msgspec.structs.replace(
            limits,
            max_decompressed_bytes=max(limits.max_decompressed_bytes, limits.max_body_bytes),
        )
        self._mover = mover
        self._worker = worker
        self._workers = workers
        self._page = PAGE
        self._taken: list[InboxRow] = []
        self._truncated_at = time.monotonic()
        self._truncation: asyncio.Task[bool] | None = None
        self._deleted_since_truncation = False
        self.figures = ProcessingFigures()

    async def process_page(self) -> int:
        """Take one page of rows and store them; return how many rows were taken.

        After a page that failed, rows are taken one at a time until one fails alone, which
        counts against it (`InboxStore.note_failure`)."""
        self._taken = []
        try:
            taken, outcomes = await self._store.inbox.take(
                self._worker, self._workers, self._page, self._prepare, self._settle
            )
        except Exception as exc:
            if self._page == 1 and len(self._taken) == 1:
                log.warning(
                    "could not store inbox row %d (%s); it is tried again",
                    self._taken[0].id,
                    type(exc).__name__,
                )
                await self._store.inbox.note_failure(self._taken[0].id)
                self._page = PAGE
                return 1
            self._page = 1
            raise
        if taken and self._page == 1 and len(self._taken) == 1:
            self._page = PAGE
        if taken:
            self._deleted_since_truncation = True
            await self._after_write(outcomes)
        return taken

    async def run(self, stop: asyncio.Event, wake: asyncio.Event) -> None:
        """Process until `stop` is set: at once when `wake` is set, else every
        `POLL_SECONDS`."""
        while not stop.is_set():
            if self._mover.waiting > MAX_WAITING_CHUNKS:
                # The blob store is not taking chunks: the inbox keeps the batches meanwhile.
                await _wait(stop, RETRY_SECONDS)
                continue
            wake.clear()
            try:
                taken = await self.process_page()
            except Exception as exc:
                log.warning("could not process inbox rows (%s); trying again", type(exc).__name__)
                await _wait(stop, RETRY_SECONDS)
                continue
            if taken >= self._page:
                await asyncio.sleep(BUSY_GATHER_SECONDS)
                continue
            if taken:
                await asyncio.sleep(BUSY_GATHER_SECONDS)
            self._truncate_when_due()
            if not wake.is_set():
                await _wait_either(stop, wake, POLL_SECONDS)

    async def close(self) -> None:
        """Wait for a log truncation under way."""
        if self._truncation is not None:
            await asyncio.gather(self._truncation, return_exceptions=True)

    def _prepare(self, rows: list[InboxRow]) -> list[_Work]:
        self._taken = rows
        started = time.process_time()
        work = [self._prepare_one(row) for row in rows]
        self.figures.prepare_cpu_seconds += time.process_time() - started
        # One session's batches in seq order, so that "the newest batch's" fields are its.
        work.sort(key=lambda w: (w.row.session_id, w.row.seq))
        return work

    def _prepare_one(self, row: InboxRow) -> _Work:
        try:
            batch = decode_batch(read_body(row.body, "gzip", self._limits))
            pending = prepare_batch(batch, row.received_at, row.sent_at, self._keys, row.ingest_key)
        except ReplayDeskError as exc:
            return _Work(row=row, pending=None, refusal=type(exc).__name__)
        return _Work(row=row, pending=pending)

    def _settle(self, conn: Connection, work: list[_Work]) -> list[tuple[_Work, BatchOutcome]]:
        present = self._store.inbox.settle_rows(conn, [w.row.id for w in work])
        ready = [w for w in work if w.row.id in present and w.pending is not None]
        for dropped in (w for w in work if w.row.id in present and w.pending is None):
            # The class only: a message may quote the batch. Never the session or the user.
            log.warning(
                "dropped inbox row %d: the signal pass refused its batch (%s)",
                dropped.row.id,
                dropped.refusal,
            )
            self.figures.dropped += 1
        if not ready:
            return []
        pending = [w.pending for w in ready if w.pending is not None]
        outcomes = self._store.record_new_batches_in(
            conn,
            [p.record for p in pending],
            [p.subject_hashes for p in pending],
            [p.chunk for p in pending],
        )
        return list(zip(ready, outcomes, strict=True))

    async def _after_write(self, outcomes: Sequence[tuple[_Work, BatchOutcome]]) -> None:
        written = [w.pending for w, outcome in outcomes if outcome == "written" and w.pending]
        for _, outcome in outcomes:
            if outcome == "written":
                self.figures.written += 1
            elif outcome == "duplicate":
                self.figures.duplicate += 1
            else:
                self.figures.refused += 1
        if written:
            self._mover.journaled(len(written))
            # An erasure records its tombstone before it lists what to delete, so a batch
            # written meanwhile is in that list or finds the tombstone now.
            erased = await self._store.erased_subjects(
                [h for p in written for h in p.subject_hashes]
            )
            gone = {p.record.session_id for p in written if not erased.isdisjoint(p.subject_hashes)}
            for session_id in gone:
                await self._remove_erased_session(session_id)
            if self._live is not None:
                await self._live.publish_stored(
                    [
                        StoredBatch(p.record.session_id, p.record.seq, p.record.final, p.chunk)
                        for p in written
                        if p.record.session_id not in gone
                    ]
                )
        self._truncate_when_due()

    async def _remove_erased_session(self, session_id: str) -> None:
        try:
            await purge_sessions(
                self._store, self._blobs, [session_id], [self._keys.session(session_id)]
            )
        except Exception:
            # Retention removes the session at the latest.
            log.exception("could not remove the session of an erased subject just written")

    def _truncate_when_due(self) -> None:
        """The deleted inbox rows' old page versions leave SQLite's log within a minute:
        secure_delete zeroes them in the database file, this cuts the log."""
        now = time.monotonic()
        running = self._truncation is not None and not self._truncation.done()
        if running or not self._deleted_since_truncation:
            return
        if now - self._truncated_at < TRUNCATE_SECONDS:
            return
        self._truncated_at = now
        self._deleted_since_truncation = False
        self._truncation = asyncio.ensure_future(self._store.truncate_log())


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


async def _wait_either(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
