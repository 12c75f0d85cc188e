"""Moving journaled chunks into the blob store, in the background.

Ingest acknowledges a batch once its chunk and its rows are durable. The chunk's bytes are
committed with its rows, in the chunk journal: one database commit makes both durable, and
the acknowledgement does not wait for the blob store (a file write and a filesystem sync on a
local folder, a request on a cloud store). This task moves what the journal holds into the
blob store a moment later, many chunks at a time, and removes their entries. The measurement
behind this is in docs/performance.md ("Chunk journal and background mover").
Readers take a chunk from the journal while it is there (`SessionStore.session_chunks`).

What is journaled is moved however the process ended: a new process starts by moving what the
last one left. When the blob store fails, the entries wait in the journal and the task tries
again; ingest refuses batches (503, send again) once too many are waiting.

One chunk the blob store will never take (a key it refuses) must not hold up the others: when
a page of chunks fails, its halves are stored apart, and theirs, until the chunks that fail on
their own are found. When some of the page is stored, the store is up and those chunks are
quarantined: they stay in the journal (readers still find them, an erasure still removes them),
moves skip them, and they are tried again at start and every few minutes. When nothing of the
page is stored, the store is taken for down: nothing is quarantined and the page waits.

How many chunks wait, how many are quarantined and how old the oldest waiting one is are
counted from the journal (after every move, at start, and when /health or /metrics ask), so the
figures hold across restarts and for every process on the database, and fall with erasures.

An erasure or expiry removes a session's journal entries, then its blobs, then its rows, then
its blobs once more (see `service.sessions.erasure.purge_sessions`). A chunk stored from an entry it
removed meanwhile is gone with the second deletion, or, when stored after it, deleted here: its
session has no row any more. Several processes may move chunks at once (on PostgreSQL they
never take the same entries; on SQLite they may, and then all but one find them removed, with
their session still there, and leave the chunk be).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from service.background_tasks import stop_task
from service.clock import now_ms
from service.storage.blobs import BlobStore
from service.storage.session_store import JournalBacklog, JournalEntry, SessionStore

__all__ = [
    "BEHIND_SECONDS",
    "FLUSH_DELAY_SECONDS",
    "MAX_WAITING_CHUNKS",
    "QUARANTINE_RETRY_SECONDS",
    "ChunkMover",
]

log = logging.getLogger(__name__)

# How long journaled chunks wait before they are moved: one move then stores all the chunks
# of that moment with one call (on a local folder, one worker-thread call and one sync).
FLUSH_DELAY_SECONDS = 0.5
# After a failed move, the wait before the next try.
RETRY_SECONDS = 5.0
# Chunks waiting in the journal (quarantined ones aside), beyond which ingest refuses batches:
# while the blob store is down, the database takes the chunks, up to about 400 MB of them.
MAX_WAITING_CHUNKS = 50_000
# How often quarantined chunks are tried again: rarely, since each try is a put that failed
# before, but so that a passing fault does not keep a chunk out of the blob store for good.
QUARANTINE_RETRY_SECONDS = 300.0
# A chunk waiting longer than this means the mover is behind (moves take half a second).
BEHIND_SECONDS = 60.0
# Pieces of a failed page that fail with nothing stored yet, before the store is asked
# whether it answers at all; and single chunks that fail so, before the page is given up.
_PROBE_AFTER_FAILURES = 2
_MAX_LONE_FAILURES = 8
_PAGE = 500


class ChunkMover:
    """Moves journaled chunks into the blob store, in one background task per process."""

    def __init__(
        self,
        store: SessionStore,
        blobs: BlobStore,
        delay_seconds: float = FLUSH_DELAY_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
        quarantine_retry_seconds: float = QUARANTINE_RETRY_SECONDS,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._delay = delay_seconds
        self._retry = retry_seconds
        self._quarantine_retry = quarantine_retry_seconds
        self._pending = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._backlog = JournalBacklog(0, 0, None)
        self._counted_at: float | None = None  # time.monotonic() of the last count
        self._counting = asyncio.Lock()
        # Chunks this process journaled and moved since the last count: the figures follow
        # them at once, and the next count corrects them.
        self._journaled_since_count = 0
        self._moved_since_count = 0
        self._failure: str | None = None  # error class of the last move, when it failed
        self._next_quarantine_retry = 0.0  # time.monotonic(); the first pass tries them
        self._count_first = False

    @property
    def waiting(self) -> int:
        """Chunks in the journal waiting for their move (quarantined ones aside): as counted
        last, plus those this process journaled since, less those it moved since."""
        since = self._journaled_since_count - self._moved_since_count
        return max(0, self._backlog.waiting + since)

    @property
    def quarantined(self) -> int:
        """Chunks in the journal that the blob store refused on their own, as counted last."""
        return self._backlog.quarantined

    @property
    def failure(self) -> str | None:
        """The error class of the last move when it failed; None when it worked."""
        return self._failure

    def oldest_waiting_seconds(self) -> float:
        """How long the oldest waiting chunk has waited since its batch came, as counted
        last (0 when none waits)."""
        received_at = self._backlog.oldest_waiting_received_at
        if received_at is None:
            return 0.0
        return max(0.0, (now_ms() - received_at) / 1000)

    def problems(self) -> list[str]:
        """What is wrong with the moves, for /health: failing, behind, quarantined chunks."""
        found = []
        if self._failure is not None:
            found.append(f"failing: {self._failure}")
        oldest = self.oldest_waiting_seconds()
        if oldest > BEHIND_SECONDS:
            found.append(f"behind: the oldest waiting chunk came {oldest:.0f}s ago")
        if self.quarantined:
            found.append(f"quarantined: {self.quarantined} chunks the blob store refused")
        return found

    async def refresh(self, max_age_seconds: float = 0.0) -> None:
        """Count the journal again, unless the last count is younger than `max_age_seconds`.

        Raises when the database does not answer (the last figures stay).
        """
        # One count at a time: each takes off what was noted before it started, and two at
        # once would take it off twice.
        async with self._counting:
            counted_at = self._counted_at
            if counted_at is not None and time.monotonic() - counted_at < max_age_seconds:
                return
            journaled_before, moved_before = self._journaled_since_count, self._moved_since_count
            backlog = await self._store.journal_backlog()
            # Chunks journaled or moved while the count ran may or may not be in it: they stay
            # on top of it until the next count (every move ends with one).
            self._journaled_since_count -= journaled_before
            self._moved_since_count -= moved_before
            self._backlog = backlog
            self._counted_at = time.monotonic()

    def start(self) -> None:
        """Start the task: it counts the journal, moves whatever an earlier process left, and
        tries the quarantined chunks again."""
        self._count_first = True
        self._wake()

    def journaled(self, count: int) -> None:
        """Note that `count` chunks were journaled: they are moved within the delay."""
        self._journaled_since_count += count
        self._wake()

    async def flush(self) -> int:
        """Move everything journaled now into the blob store (quarantined chunks aside);
        return how many chunks were moved.

        Raises `BlobStoreUnavailable` (or a database error) when a move fails: what was not
        moved stays in the journal for the next try.
        """
        moved = 0
        try:
            while True:
                entries, stored = await self._move_page()
                moved += stored
                if len(entries) < _PAGE:
                    break
        except Exception as exc:
            if self._failure is None:
                # The class only: a message may name a key, and so a session.
                log.error(
                    "could not move journaled chunks into the blob store (%s); trying again "
                    "every %gs",
                    type(exc).__name__,
                    self._retry,
                )
            self._failure = type(exc).__name__
            await self._recount_quietly()
            raise
        if self._failure is not None:
            log.info("journaled chunks move into the blob store again")
        self._failure = None
        await self._recount_quietly()
        return moved

    async def retry_quarantined(self) -> int:
        """Try every quarantined chunk again; return how many were moved. Those that fail
        again stay quarantined; this raises only when the database fails."""
        moved = 0
        after = 0
        while True:
            entries, stored = await self._move_page(quarantined_after=after)
            moved += stored
            if len(entries) < _PAGE:
                break
            after = entries[-1].id
        if moved:
            log.info("moved %d quarantined chunks into the blob store", moved)
        await self._recount_quietly()
        return moved

    async def close(self) -> None:
        """Stop the task, then move what is journaled (what fails stays for the next start)."""
        task, self._task = self._task, None
        await stop_task(task)
        try:
            await self.flush()
        except Exception as exc:
            log.warning(
                "could not move the journaled chunks into the blob store on the way out (%s); "
                "the next start moves them",
                type(exc).__name__,
            )

    async def _move_page(
        self, quarantined_after: int | None = None
    ) -> tuple[list[JournalEntry], int]:
        """Move one page of entries (the quarantined ones after an id, with
        `quarantined_after`); return the page and how many of it were moved."""
        refused: dict[int, str] = {}

        async def store(pairs: list[tuple[str, bytes]]) -> dict[int, str]:
            try:
                refused.update(await self._store_isolating(pairs))
            except Exception as exc:
                if quarantined_after is None:
                    raise  # nothing stored: the page waits as it is
                # A retry that stored nothing: the chunks stay quarantined, one try more.
                refused.update(dict.fromkeys(range(len(pairs)), type(exc).__name__))
            return refused

        entries, removed = await self._store.move_journal(
            _PAGE, store, quarantined_after=quarantined_after
        )
        if quarantined_after is None:
            self._moved_since_count += len(entries)  # moved, quarantined or gone: not waiting
            for position, error in refused.items():
                # Once per entry: later moves skip it. Its id and the error's class only:
                # never the session, the user or the key.
                log.warning(
                    "quarantined chunk journal entry %d: the blob store refused it while it "
                    "took others (%s); it stays readable and is tried again every %gs",
                    entries[position].id,
                    error,
                    self._quarantine_retry,
                )
        failed_ids = {entries[position].id for position in refused}
        gone = [e for e in entries if e.id not in removed and e.id not in failed_ids]
        if gone:
            # Removed meanwhile by another process's move (its session is still there)
            # or by a purge, which may have deleted its blobs before this stored them.
            alive = await self._store.existing_session_ids([e.session_id for e in gone])
            for entry in gone:
                if entry.session_id not in alive:
                    await self._blobs.delete(entry.blob_key)
        return entries, len(removed)

    async def _store_isolating(self, pairs: Sequence[tuple[str, bytes]]) -> dict[int, str]:
        """Store the pairs; return the positions of those that failed on their own while
        others were stored, each with its error's class.

        The whole page is tried first; when it fails, its halves, and theirs, down to the
        single chunks that fail (about 2·log2(n) puts for one bad chunk among n). Raises the
        page's error when nothing is stored: the store is down, or every chunk is bad, and
        the two cannot be told apart.
        """
        try:
            await self._blobs.put_many(pairs)
            return {}
        except Exception as exc:
            if len(pairs) == 1:
                raise
            page_error = exc
        failed: dict[int, str] = {}
        stored = 0
        failures = 0
        probed = False
        middle = len(pairs) // 2
        parts = [range(middle, len(pairs)), range(middle)]  # a stack: the first half first
        while parts:
            part = parts.pop()
            try:
                await self._blobs.put_many([pairs[i] for i in part])
                stored += len(part)
                continue
            except Exception as exc:
                failures += 1
                if len(part) == 1:
                    failed[part[0]] = type(exc).__name__
                else:
                    middle = len(part) // 2
                    parts += [part[middle:], part[:middle]]
            if stored:
                continue
            if len(failed) >= _MAX_LONE_FAILURES:
                raise page_error
            if failures >= _PROBE_AFTER_FAILURES and not probed:
                probed = True
                if not await self._store_answers():
                    raise page_error
        if not stored:
            raise page_error
        return failed

    async def _store_answers(self) -> bool:
        try:
            await self._blobs.check()
        except Exception:
            return False
        return True

    async def _recount_quietly(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:
            log.warning("could not count the chunk journal (%s)", type(exc).__name__)

    def _wake(self) -> None:
        self._pending.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="replaydesk-chunk-mover")

    async def _run(self) -> None:
        if self._count_first:
            # At once, so that the figures (and ingest's backlog limit) hold from the start,
            # before ingest begins: a count while chunks are being journaled may count some
            # of them twice until the next one.
            self._count_first = False
            await self._recount_quietly()
        while True:
            await self._wait_for_work()
            await asyncio.sleep(self._delay)
            self._pending.clear()
            try:
                await self.flush()
            except Exception:
                await asyncio.sleep(self._retry)
                self._pending.set()
                continue
            if self.quarantined and time.monotonic() >= self._next_quarantine_retry:
                self._next_quarantine_retry = time.monotonic() + self._quarantine_retry
                try:
                    await self.retry_quarantined()
                except Exception as exc:
                    log.warning("could not try quarantined chunks again (%s)", type(exc).__name__)

    async def _wait_for_work(self) -> None:
        """Until chunks are journaled or, with chunks quarantined, their next try is due."""
        if not self.quarantined:
            await self._pending.wait()
            return
        due = max(0.0, self._next_quarantine_retry - time.monotonic())
        try:
            await asyncio.wait_for(self._pending.wait(), due)
        except TimeoutError:
            pass
