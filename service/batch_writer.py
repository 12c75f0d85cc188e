"""Group commit: batches that arrive together are written in one database transaction."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from service.errors import StorageUnavailable
from service.storage.records import BatchRecord
from service.storage.session_store import SessionStore

__all__ = ["BatchWriter"]

log = logging.getLogger(__name__)

# Enough to amortise a commit across a busy moment; small enough to keep one statement modest.
MAX_GROUP = 64

_Pending = tuple[BatchRecord, "asyncio.Future[bool]"]


class BatchWriter:
    """Writes batch records through one task, folding whatever is waiting into one commit.

    No batch waits for others to arrive: a group is whatever queued up while the previous
    commit ran, so under light load every batch is its own transaction, and under heavy load
    many share one (one commit, one fsync, one lock hand-off on SQLite).
    """

    def __init__(self, store: SessionStore) -> None:
        self.store = store
        self._queue: asyncio.Queue[_Pending] | None = None
        self._task: asyncio.Task[None] | None = None

    async def write(self, record: BatchRecord) -> bool:
        """Write one batch; True when stored now, False when its seq was stored before."""
        if self._task is None or self._task.done():
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._run(self._queue), name="replaydesk-writer")
        assert self._queue is not None
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        await self._queue.put((record, done))
        return await done

    async def close(self) -> None:
        """Stop the writer task (pending writes fail and their clients retry)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self, queue: asyncio.Queue[_Pending]) -> None:
        while True:
            group = [await queue.get()]
            while len(group) < MAX_GROUP and not queue.empty():
                group.append(queue.get_nowait())
            await self._commit(group)

    async def _commit(self, group: list[_Pending]) -> None:
        try:
            results = await self.store.record_batches([record for record, _ in group])
        except Exception:
            if len(group) == 1:
                record, done = group[0]
                log.exception("could not write batch %d", record.seq)
                _settle_error(done)
                return
            # One bad batch must not fail its neighbours: write them one by one.
            for pending in group:
                await self._commit([pending])
            return
        for (_, done), written in zip(group, results, strict=True):
            if not done.done():
                done.set_result(written)


def _settle_error(done: asyncio.Future[bool]) -> None:
    if not done.done():
        done.set_exception(
            StorageUnavailable("the batch could not be stored right now; send it again")
        )
