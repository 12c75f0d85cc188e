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

from service.background_tasks import stop_task
from service.storage.blobs import BlobStore
from service.storage.session_store import SessionStore

__all__ = ["FLUSH_DELAY_SECONDS", "MAX_WAITING_CHUNKS", "ChunkMover"]

log = logging.getLogger(__name__)

# How long journaled chunks wait before they are moved: one move then stores all the chunks
# of that moment with one call (on a local folder, one worker-thread call and one sync).
FLUSH_DELAY_SECONDS = 0.5
# After a failed move, the wait before the next try.
RETRY_SECONDS = 5.0
# Chunks this process journaled and has not moved yet, beyond which ingest refuses batches:
# while the blob store is down, the database takes the chunks, up to about 400 MB of them.
MAX_WAITING_CHUNKS = 50_000
_PAGE = 500


class ChunkMover:
    """Moves journaled chunks into the blob store, in one background task per process."""

    def __init__(
        self,
        store: SessionStore,
        blobs: BlobStore,
        delay_seconds: float = FLUSH_DELAY_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._delay = delay_seconds
        self._retry = retry_seconds
        self._pending = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """About how many chunks this process journaled that are not in the blob store yet."""
        return self._waiting

    def start(self) -> None:
        """Start the task; its first move takes whatever an earlier process left."""
        self._wake()

    def journaled(self, count: int) -> None:
        """Note that `count` chunks were journaled: they are moved within the delay."""
        self._waiting += count
        self._wake()

    async def flush(self) -> int:
        """Move everything journaled now into the blob store; return how many chunks.

        Raises `BlobStoreUnavailable` (or a database error) when a move fails: what was not
        moved stays in the journal for the next try.
        """
        moved = 0
        while True:
            entries, removed = await self._store.move_journal(_PAGE, self._blobs.put_many)
            gone = [e for e in entries if e.id not in removed]
            if gone:
                # Removed meanwhile by another process's move (its session is still there)
                # or by a purge, which may have deleted its blobs before this stored them.
                alive = await self._store.existing_session_ids([e.session_id for e in gone])
                for entry in gone:
                    if entry.session_id not in alive:
                        await self._blobs.delete(entry.blob_key)
            moved += len(removed)
            self._waiting = max(0, self._waiting - len(entries))
            if len(entries) < _PAGE:
                return moved

    async def close(self) -> None:
        """Stop the task, then move what is journaled (what fails stays for the next start)."""
        task, self._task = self._task, None
        await stop_task(task)
        try:
            await self.flush()
        except Exception:
            log.exception("could not move the journaled chunks into the blob store on the way out")

    def _wake(self) -> None:
        self._pending.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="replaydesk-chunk-flush")

    async def _run(self) -> None:
        while True:
            await self._pending.wait()
            await asyncio.sleep(self._delay)
            self._pending.clear()
            try:
                await self.flush()
            except Exception:
                log.exception(
                    "could not move journaled chunks into the blob store; trying again in %gs",
                    self._retry,
                )
                await asyncio.sleep(self._retry)
                self._pending.set()
