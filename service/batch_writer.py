"""Group commit: batches that arrive together are checked in one query and written in one
database transaction."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, Literal, TypeVar

from service.errors import StorageUnavailable
from service.storage.records import BatchRecord
from service.storage.session_store import SessionStore

__all__ = ["BatchWriter", "WriteOutcome"]

log = logging.getLogger(__name__)

# Enough to amortise a commit across a busy moment; small enough to keep one statement modest.
MAX_GROUP = 64

_In = TypeVar("_In")
_Out = TypeVar("_Out")
# (session_id, seq, erasure subject hashes) -> (erased, stored)
StatusQuery = tuple[str, int, Sequence[str]]
# A batch record and the erasure subject hashes that refuse it.
Write = tuple[BatchRecord, Sequence[str]]
# written: stored now; duplicate: its seq was stored before, nothing written; erased: written,
# but a subject was erased meanwhile (the caller removes what it stored).
WriteOutcome = Literal["written", "duplicate", "erased"]


class _Grouped(Generic[_In, _Out]):
    """Runs calls through one task that hands whatever queued up meanwhile to `run` at once.

    No call waits for others to arrive: a group is whatever queued up while the previous
    group ran, so under light load every call runs alone, and under heavy load many share
    one statement and one round trip.
    """

    def __init__(
        self,
        run: Callable[[list[_In]], Awaitable[list[_Out]]],
        settle: Callable[[list[tuple[_In, asyncio.Future[_Out]]], BaseException], Awaitable[None]],
        name: str,
    ) -> None:
        self._run_group = run
        self._settle_failure = settle
        self._name = name
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
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self, queue: asyncio.Queue[tuple[_In, asyncio.Future[_Out]]]) -> None:
        while True:
            group = [await queue.get()]
            while len(group) < MAX_GROUP and not queue.empty():
                group.append(queue.get_nowait())
            await self.run(group)

    async def run(self, group: list[tuple[_In, asyncio.Future[_Out]]]) -> None:
        try:
            results = await self._run_group([item for item, _ in group])
        except Exception as exc:
            await self._settle_failure(group, exc)
            return
        for (_, done), result in zip(group, results, strict=True):
            if not done.done():
                done.set_result(result)


class BatchWriter:
    """Checks and writes batch records through one task each, many batches per statement.

    The status check (erased? stored before?) of the batches waiting together is one query,
    and their write is one transaction (one commit, one fsync, one lock hand-off on SQLite).
    After the commit, one more query asks whether any written batch's subject was erased in
    the meantime: an erasure records its tombstone before it lists what to delete, so a batch
    either is in that list or finds the tombstone here.
    """

    def __init__(self, store: SessionStore) -> None:
        self.store = store
        self._statuses: _Grouped[StatusQuery, tuple[bool, bool]] = _Grouped(
            self._check, _fail_all, "replaydesk-status"
        )
        self._writes: _Grouped[Write, WriteOutcome] = _Grouped(
            self._write, self._write_one_by_one, "replaydesk-writer"
        )

    async def status(
        self, session_id: str, seq: int, subject_hashes: Sequence[str]
    ) -> tuple[bool, bool]:
        """(erased, stored): whether a subject is erased and whether this seq is stored."""
        return await self._statuses((session_id, seq, subject_hashes))

    async def write(self, record: BatchRecord, subject_hashes: Sequence[str]) -> WriteOutcome:
        """Write one batch whose erasure subjects are `subject_hashes` (see `WriteOutcome`)."""
        return await self._writes((record, subject_hashes))

    async def close(self) -> None:
        """Stop the tasks (pending calls are dropped and their clients retry)."""
        await self._statuses.close()
        await self._writes.close()

    async def _check(self, queries: list[StatusQuery]) -> list[tuple[bool, bool]]:
        return await self.store.batch_statuses(queries)

    async def _write(self, writes: list[Write]) -> list[WriteOutcome]:
        stored = await self.store.record_batches([record for record, _ in writes])
        written_subjects = {
            h for (_, hashes), new in zip(writes, stored, strict=True) if new for h in hashes
        }
        erased = (
            await self.store.erased_subjects(sorted(written_subjects))
            if written_subjects
            else set()
        )
        return [
            ("erased" if not erased.isdisjoint(hashes) else "written") if new else "duplicate"
            for (_, hashes), new in zip(writes, stored, strict=True)
        ]

    async def _write_one_by_one(
        self, group: list[tuple[Write, asyncio.Future[WriteOutcome]]], exc: BaseException
    ) -> None:
        if len(group) == 1:
            (record, _), done = group[0]
            log.error("could not write batch %d", record.seq, exc_info=exc)
            _settle_error(done)
            return
        # One bad batch must not fail its neighbours: write them one by one.
        for pending in group:
            await self._writes.run([pending])


async def _fail_all(
    group: list[tuple[StatusQuery, asyncio.Future[tuple[bool, bool]]]], exc: BaseException
) -> None:
    # Every waiter sees the error its own query would have raised.
    for _, done in group:
        if not done.done():
            done.set_exception(exc)


def _settle_error(done: asyncio.Future[WriteOutcome]) -> None:
    if not done.done():
        done.set_exception(
            StorageUnavailable("the batch could not be stored right now; send it again")
        )
