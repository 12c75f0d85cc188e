"""The request path of ingest with processing workers: check the envelope, queue the batch
durably in the ingest inbox, acknowledge.

Everything a client must hear about is decided here, as before: body limits and gunzip, the
envelope and every event's head (`decode_envelope`), the tombstones of the batch's session and
user, a repeat of a (session_id, seq) stored or queued already. The rest (the signal pass,
the chunk, the rows) is done by the processing workers (`service.ingest.processing`) a moment
later. Batches that arrive together are queued in one transaction (one commit, one fsync).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple

from isal import igzip

from service.background_tasks import stop_task
from service.clock import now_ms
from service.errors import StorageUnavailable, TooManyBatches, UserErased
from service.ingest.body import IngestLimits, LiveConsent, decode_envelope, read_body
from service.ingest.clock_skew import check_event_times
from service.ingest.group_writer import _Grouped as Grouped
from service.ingest.pacing import IngestPacer
from service.sessions.erasure import ErasureKeys
from service.storage.inbox_store import InboxBacklog, InboxEntry
from service.storage.session_store import SessionStore

__all__ = ["MAX_WAITING_BATCHES", "BatchInbox", "QueuedOutcome"]

log = logging.getLogger(__name__)

# Batches waiting in the inbox beyond which ingest refuses more (503, send again): the workers
# are far behind or stopped, and the database should not fill up meanwhile. At about 10 KB a
# batch (gzip), some 200 MB.
MAX_WAITING_BATCHES = 20_000
# The waiting rows are counted again at most this often (a count reads an index), so that
# batches queued on an old count cannot put processing much further behind than the limit ...
COUNT_SECONDS = 0.25
# ... and this often while batches are held (below).
HELD_COUNT_SECONDS = 0.05
# Processing further behind than this (its oldest waiting batch received this long ago) holds
# new batches before they are queued: a client then sends no faster than the workers store,
# and lookup sees each batch within 2 s of its acknowledgement at the rate they sustain, rather
# than acknowledgements running ahead until the backlog limit refuses everyone.
LAG_LIMIT_SECONDS = 0.5
# The longest one batch is held; it is queued then all the same (the backlog limit is the
# hard stop), so a stalled worker delays acknowledgements, never loses them. Short of the lag
# limit, batches are paced instead (`IngestPacer`): each waits its turn at the rate the workers
# store, which keeps the lag below the limit without making some clients wait long.
MAX_HOLD_SECONDS = 5.0
_ERASED = "recording for this user or session was erased and is refused"
# ISA-L's fastest level: a body sent without gzip is kept compressed at little cost.
_BODY_GZIP_LEVEL = 0

QueuedOutcome = Literal["written", "duplicate", "refused", "erased"]


class _Queued(NamedTuple):
    entry: InboxEntry
    subject_hashes: Sequence[str]


class QueuedBatch(NamedTuple):
    """A batch the request path has queued: its envelope's facts and whether it was new."""

    session_id: str
    seq: int
    status: Literal["accepted", "duplicate"]
    events: int
    live_consent: LiveConsent | None


class BatchInbox:
    """Queues checked batches in the inbox, many at a time, and wakes the workers."""

    def __init__(
        self, store: SessionStore, erasure_keys: ErasureKeys, wake: Callable[[], None]
    ) -> None:
        self._store = store
        self._keys = erasure_keys
        self._wake = wake
        self._groups: Grouped[_Queued, QueuedOutcome] = Grouped(
            self._queue_group, _storage_unavailable, "replaydesk-inbox"
        )
        self.backlog = InboxBacklog(0, 0, None)
        self._counted_at = -COUNT_SECONDS
        self._counting: asyncio.Task[None] | None = None
        self.pacer = IngestPacer()
        self._queued_here = 0

    async def ingest(
        self,
        body: bytes,
        content_encoding: str | None,
        limits: IngestLimits,
        sent_at: int | None,
        ingest_key: str | None = None,
    ) -> QueuedBatch:
        """Queue one batch durably (`ingest_key`: the created key that sent it, if one)."""
        received_at = now_ms()
        data = read_body(body, content_encoding, limits)
        envelope = decode_envelope(data)
        check_event_times([e.timestamp for e in envelope.events], sent_at, received_at)
        self._count_when_due(HELD_COUNT_SECONDS if self.pacer.rate else COUNT_SECONDS)
        if self._behind():
            if self._over_share(ingest_key):
                raise TooManyBatches(
                    "this ingest key sends more than its share while processing catches up;"
                    " send the batch again later"
                )
            await self._hold()
            waited = True
        else:
            turn = self.pacer.delay(time.monotonic())
            if turn:
                await asyncio.sleep(min(turn, MAX_HOLD_SECONDS))
            waited = turn > 0
        if waited:
            # Waited like a request in flight: its receive time is when it is taken (the lag
            # above is measured from it, and the clock offset counts time in flight anyway).
            received_at = now_ms()
        if self.backlog.waiting > MAX_WAITING_BATCHES:
            raise StorageUnavailable(
                "batches are waiting for processing; send the batch again later"
            )
        # A gzip body is kept as it came; read_body handed back the same object otherwise.
        kept = _gzip(data) if data is body else body
        subjects = [self._keys.session(envelope.session_id)]
        if envelope.user_id is not None:
            subjects.append(self._keys.user(envelope.user_id))
        entry = InboxEntry(
            session_id=envelope.session_id,
            seq=envelope.seq,
            user_id=envelope.user_id,
            received_at=received_at,
            sent_at=sent_at,
            body=kept,
            ingest_key=ingest_key,
        )
        outcome = await self._groups(_Queued(entry, subjects))
        if outcome in ("refused", "erased"):
            raise UserErased(_ERASED)
        status: Literal["accepted", "duplicate"] = (
            "accepted" if outcome == "written" else "duplicate"
        )
        return QueuedBatch(
            envelope.session_id, envelope.seq, status, len(envelope.events), envelope.live_consent
        )

    async def refresh(self) -> None:
        """Count the inbox again (raises when the database does not answer)."""
        self.backlog = await self._store.inbox.backlog()
        self._counted_at = time.monotonic()
        self.pacer.counted(self._counted_at, self.backlog, self._lag(), self._queued_here)

    async def close(self) -> None:
        """Stop the task (pending calls are dropped and their clients retry)."""
        await self._groups.close()
        await stop_task(self._counting)

    def _count_when_due(self, every: float = COUNT_SECONDS) -> asyncio.Task[None] | None:
        """Start counting if none is under way and the last is older than `every`; the count
        under way, if any."""
        if self._counting is None or self._counting.done():
            if time.monotonic() - self._counted_at < every:
                return None
            self._counted_at = time.monotonic()
            self._counting = asyncio.create_task(self._count_quietly())
        return self._counting

    def _over_share(self, ingest_key: str | None) -> bool:
        """Whether the key (None: a configured one) has more batches waiting than an equal
        share among the keys that have any: while processing is behind, a key that floods
        ingest is refused (429) instead of holding the others' batches back with its own."""
        by_key = self.backlog.by_key
        return len(by_key) > 1 and by_key.get(ingest_key, 0) > self.backlog.waiting / len(by_key)

    def _lag(self) -> float:
        """Seconds since the oldest waiting batch was received (0 when none waits)."""
        oldest = self.backlog.oldest_received_at
        return 0.0 if oldest is None else max(0.0, (now_ms() - oldest) / 1000)

    def _behind(self) -> bool:
        return self._lag() > LAG_LIMIT_SECONDS

    async def _hold(self) -> None:
        """Wait while processing is behind, at most `MAX_HOLD_SECONDS`; the batches held share
        one count at a time."""
        deadline = time.monotonic() + MAX_HOLD_SECONDS
        while self._behind() and time.monotonic() < deadline:
            counting = self._count_when_due(HELD_COUNT_SECONDS)
            if counting is not None:
                await asyncio.shield(counting)
            else:
                await asyncio.sleep(HELD_COUNT_SECONDS)

    async def _count_quietly(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:
            log.warning("could not count the ingest inbox (%s)", type(exc).__name__)
            # Not known to be behind: batches are not held on an old count.
            self.backlog = self.backlog._replace(oldest_received_at=None)

    async def _queue_group(self, queued: list[_Queued]) -> list[QueuedOutcome]:
        outcomes: list[QueuedOutcome] = list(
            await self._store.inbox.enqueue(
                [q.entry for q in queued], [q.subject_hashes for q in queued]
            )
        )
        written = [i for i, outcome in enumerate(outcomes) if outcome == "written"]
        self._queued_here += len(written)
        if not written:
            return outcomes
        self._wake()
        # An erasure records its tombstone before it removes its subjects' queued rows, so a
        # row queued meanwhile is removed by it or finds the tombstone now.
        erased = await self._store.erased_subjects(
            [h for i in written for h in queued[i].subject_hashes]
        )
        withdrawn = [i for i in written if not erased.isdisjoint(queued[i].subject_hashes)]
        if withdrawn:
            await self._store.inbox.withdraw(
                [(queued[i].entry.session_id, queued[i].entry.seq) for i in withdrawn]
            )
            for i in withdrawn:
                outcomes[i] = "erased"
        return outcomes


def _gzip(data: bytes) -> bytes:
    return igzip.compress(data, compresslevel=_BODY_GZIP_LEVEL, mtime=0)


def _storage_unavailable(queued: _Queued, exc: Exception) -> StorageUnavailable:
    log.error("could not queue batch %d", queued.entry.seq, exc_info=exc)
    return StorageUnavailable("the batch could not be stored right now; send it again")
