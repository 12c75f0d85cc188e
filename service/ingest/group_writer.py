"""Group commit: batches that arrive together are checked (in one query) and their rows and
chunks written, all in one database transaction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, Literal, TypeVar

import msgspec

from service.background_tasks import stop_task
from service.errors import StorageUnavailable
from service.ingest.chunk_mover import MAX_WAITING_CHUNKS, ChunkMover
from service.storage.records import BatchRecord
from service.storage.session_store import SessionStore

__all__ = ["BatchWriter", "PendingBatch", "StoreOutcome"]

log = logging.getLogger(__name__)

# Enough to amortise a commit across a busy moment; small enough to keep one statement modest.
MAX_GROUP = 64
# While batches keep arriving, a group waits this long for the ones on their way before it
# starts, so that each group's statements and sync serve more batches (docs/performance.md,
# "A 2 ms gather"). A batch that comes alone, with nothing queued behind the group before it,
# starts at once.
GATHER_SECONDS = 0.002

_In = TypeVar("_In")
_Out = TypeVar("_Out")
# written: stored now. duplicate: its seq was stored before; nothing written. refused: a
# subject is erased; nothing written. erased: written, but a subject was erased meanwhile (the
# caller removes what it stored).
StoreOutcome = Literal["written", "duplicate", "refused", "erased"]


class PendingBatch(msgspec.Struct, frozen=True, kw_only=True):
    """A batch ready to store: its rows, its gzipped chunk, and the erasure subjects (hashes
    of its session and users) whose tombstone refuses it."""

    record: BatchRecord
    chunk: bytes
    subject_hashes: Sequence[str]


class _Grouped(Generic[_In, _Out]):
    """Runs calls through one task that hands whatever queued up meanwhile to `run` at once.

    A group is whatever queued up while the previous group ran, plus, when something did
    queue up meanwhile (the sign of load), what arrives within `gather_seconds` more. Under
    light load every call runs alone and at once; under heavy load many share one statement
    and one round trip. When a group fails, its calls run again one by one, so one bad call
    fails alone; a call that fails alone gets `failure(exception)`.
    """

    def __init__(
        self,
        run: Callable[[list[_In]], Awaitable[list[_Out]]],
        failure: Callable[[_In, Exception], BaseException],
        name: str,
        gather_seconds: float = GATHER_SECONDS,
    ) -> None:
        self._run_group = run
        self._failure = failure
        self._name = name
        self._gather_seconds = gather_seconds
        self._queue: asyncio.Queue[tuple[_In, asyncio.Future[_Out]]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, item: _In) -> _Out:
        if self._task is None or self._task.done():
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._loop(self._queue), name=self._name)
        assert self._queue is not None
        done: asyncio.Future[_Out] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, done))
        return await done

    async def close(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)

    async def _loop(self, queue: asyncio.Queue[tuple[_In, asyncio.Future[_Out]]]) -> None:
        busy = False
        while True:
            group = [await queue.get()]
            if busy:
                await asyncio.sleep(self._gather_seconds)
            while len(group) < MAX_GROUP and not queue.empty():
                group.append(queue.get_nowait())
            await self._run(group)
            busy = not queue.empty()

    async def _run(self, group: list[tuple[_In, asyncio.Future[_Out]]]) -> None:
        try:
            results = await self._run_group([item for item, _ in group])
        except Exception as exc:
            if len(group) > 1:
                for pending in group:
                    await self._run([pending])
                return
            item, done = group[0]
            if not done.done():
                done.set_exception(self._failure(item, exc))
            return
        for (_, done), result in zip(group, results, strict=True):
            if not done.done():
                done.set_result(result)


class BatchWriter:
    """Stores batches through one task that takes as many at a time as are waiting.

    For each group: one transaction that checks the status of all (erased? stored before?) in
    one query and writes the new batches' rows and their chunks, which go into the chunk
    journal (one commit, one fsync, one lock hand-off on SQLite); and, after that commit, one
    query for whether a written batch's subject was erased meanwhile. An erasure records its
    tombstone before it lists what to delete, so a batch either is in that list or finds the
    tombstone then. The `ChunkMover` moves the chunks into the blob store afterwards.

    Under load, hand-offs to worker threads cost more CPU and time than the work they carry,
    so a group makes few of them, not several per batch. On a SQLite file it makes none (see
    `TransactionRunner`).
    """

    def __init__(self, store: SessionStore, mover: ChunkMover) -> None:
        self._sessions = store
        self._mover = mover
        self._groups: _Grouped[PendingBatch, StoreOutcome] = _Grouped(
            self._store_group, _storage_unavailable, "replaydesk-writer"
        )

    async def store(self, batch: PendingBatch) -> StoreOutcome:
        """Store one batch, durably unless the outcome says otherwise (see `StoreOutcome`).

        Raises `StorageUnavailable` while too many chunks wait for the blob store.
        """
        if self._mover.waiting > MAX_WAITING_CHUNKS:
            raise StorageUnavailable(
                "the blob store is not taking event chunks right now; send the batch again later"
            )
        return await self._groups(batch)

    async def close(self) -> None:
        """Stop the task (pending calls are dropped and their clients retry)."""
        await self._groups.close()

    async def _store_group(self, batches: list[PendingBatch]) -> list[StoreOutcome]:
        # Of several copies of one (session, seq) in a group only the first gets rows and a
        # journal entry (see `SessionStore.record_new_batches`).
        outcomes: list[StoreOutcome] = list(
            await self._sessions.record_new_batches(
                [b.record for b in batches],
                [b.subject_hashes for b in batches],
                [b.chunk for b in batches],
            )
        )
        written = [i for i, outcome in enumerate(outcomes) if outcome == "written"]
        if not written:
            return outcomes
        self._mover.journaled(len(written))
        erased = await self._sessions.erased_subjects(
            [h for i in written for h in batches[i].subject_hashes]
        )
        for i in written:
            if not erased.isdisjoint(batches[i].subject_hashes):
                outcomes[i] = "erased"
        return outcomes


def _storage_unavailable(batch: PendingBatch, exc: Exception) -> StorageUnavailable:
    log.error("could not store batch %d", batch.record.seq, exc_info=exc)
    return StorageUnavailable("the batch could not be stored right now; send it again")
