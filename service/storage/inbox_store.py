"""The ingest inbox: acknowledged batches, as they arrived, until a processing worker stores them.

The request path adds rows (`enqueue`, many batches in one transaction); processing workers
take them oldest first (`take`), each worker the rows of its own shards, and delete each row
in the transaction that writes its batch (`settle`), or on a SQLite file right after it (the
inbox is a file of its own there: `inbox_file.py`), so a batch is stored once however often
it is taken. An erasure removes its subjects' rows (`forget`, `forget_queued`) with their
sessions.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal, NamedTuple, TypeVar, cast

from sqlalchemy import (
    Table,
    bindparam,
    delete,
    func,
    literal,
    null,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.storage.database import create_engine
from service.storage.inbox_file import inbox_file_url, prepare_inbox_file
from service.storage.models import ChunkRow, ErasureRow, IngestInboxRow
from service.storage.transactions import TransactionRunner

__all__ = [
    "MAX_FAILED_ATTEMPTS",
    "SHARDS",
    "EnqueueOutcome",
    "InboxBacklog",
    "InboxEntry",
    "InboxRow",
    "InboxStore",
    "shard_of",
]

inbox = cast(Table, IngestInboxRow.__table__)
chunks = cast(Table, ChunkRow.__table__)
erasures = cast(Table, ErasureRow.__table__)

# Enough shards that any worker count splits them evenly enough; each row keeps its own.
SHARDS = 4096
# A row whose write failed this many times on its own is left alone (it stays counted, and
# an erasure still removes it): one bad batch must not hold up its worker for good.
MAX_FAILED_ATTEMPTS = 5
_PARAMETERS_PER_STATEMENT = 500
_Work = TypeVar("_Work")

# written: queued now. duplicate: stored before, or already queued. refused: a subject is
# erased.
EnqueueOutcome = Literal["written", "duplicate", "refused"]


def shard_of(session_id: str) -> int:
    """The shard of a session: the same in every process and on every run."""
    return zlib.crc32(session_id.encode("utf-8", "surrogatepass")) % SHARDS


class InboxEntry(NamedTuple):
    """A batch to queue: its envelope's fields and its body (gzip)."""

    session_id: str
    seq: int
    user_id: str | None
    received_at: int
    sent_at: int | None
    body: bytes
    ingest_key: str | None = None
    """The created ingest key that sent it (None: a configured one)."""


class InboxRow(NamedTuple):
    """A queued batch as a worker takes it."""

    id: int
    session_id: str
    seq: int
    user_id: str | None
    received_at: int
    sent_at: int | None
    body: bytes
    ingest_key: str | None


class InboxBacklog(NamedTuple):
    """What the inbox holds: rows waiting, rows left alone after failing, when the oldest
    waiting one was received (milliseconds; None when none waits), the rows waiting from
    each ingest key that has any (None: the configured keys), and the newest row's id (ids are
    never reused: rows ever queued, give or take those refused; None when the inbox is
    empty)."""

    waiting: int
    stuck: int
    oldest_received_at: int | None
    by_key: Mapping[str | None, int] = MappingProxyType({})
    newest_id: int | None = None


class InboxStore:
    """All SQL about the ingest inbox."""

    def __init__(self, engine: AsyncEngine, transactions: TransactionRunner) -> None:
        """`engine` and `transactions`: the database's. On a SQLite file the inbox opens its
        own file beside it (`inbox_file.py`)."""
        own_file = inbox_file_url(engine.url)
        self.own_file = own_file is not None
        self._database = transactions
        self._transactions = transactions
        if own_file is not None:
            prepare_inbox_file(engine.url)
            # Its runner writes and reads through SQLite's own driver (the engine's pool is
            # never used).
            inbox_engine = create_engine(own_file.render_as_string(hide_password=False))
            self._transactions = TransactionRunner(inbox_engine)
        dialect = engine.dialect.name
        self._locks_rows = dialect == "postgresql"
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self._insert = (
            insert(inbox)
            .on_conflict_do_nothing(index_elements=["session_id", "seq"])
            .returning(inbox.c.session_id, inbox.c.seq)
        )
        erased = select(
            literal("erased").label("what"),
            erasures.c.subject_hash.label("session_or_subject"),
            null().label("seq"),
        ).where(erasures.c.subject_hash.in_(bindparam("subjects", expanding=True)))
        stored = select(literal("stored"), chunks.c.session_id, chunks.c.seq).where(
            tuple_(chunks.c.session_id, chunks.c.seq).in_(bindparam("keys", expanding=True))
        )
        self._status = erased.union_all(stored)
        keys: Any = bindparam("keys", expanding=True)
        self._stored = select(chunks.c.session_id, chunks.c.seq).where(
            tuple_(chunks.c.session_id, chunks.c.seq).in_(keys)
        )
        self._withdraw = delete(inbox).where(tuple_(inbox.c.session_id, inbox.c.seq).in_(keys))
        taken = inbox.c.id.in_(bindparam("ids", expanding=True))
        self._settle = delete(inbox).where(taken).returning(inbox.c.id)

    # -- the request path -----------------------------------------------------------------

    async def enqueue(
        self, entries: Sequence[InboxEntry], subject_hashes: Sequence[Sequence[str]]
    ) -> list[EnqueueOutcome]:
        """Which entries are refused (a subject in `subject_hashes[i]` is erased) or stored
        already (one query for all), then the others queued, in one transaction (on SQLite: a
        read of the database, then one transaction of the inbox file); a (session_id, seq)
        already queued, or earlier in the same call, is a duplicate."""
        if not self.own_file:
            return await self._transactions.run(self._enqueue, entries, subject_hashes)
        # The statuses from the database, the rows into the inbox file. A batch stored between
        # the two is queued again, and its worker finds it stored: it is settled as a duplicate.
        erased, stored = await self._database.read(self._statuses, entries, subject_hashes)
        return await self._transactions.run(self._queue, entries, subject_hashes, erased, stored)

    def _enqueue(
        self,
        conn: Connection,
        entries: Sequence[InboxEntry],
        subject_hashes: Sequence[Sequence[str]],
    ) -> list[EnqueueOutcome]:
        erased, stored = self._statuses(conn, entries, subject_hashes)
        return self._queue(conn, entries, subject_hashes, erased, stored)

    def _statuses(
        self,
        conn: Connection,
        entries: Sequence[InboxEntry],
        subject_hashes: Sequence[Sequence[str]],
    ) -> tuple[set[str], set[tuple[str, int]]]:
        """The erased subjects among `subject_hashes`, and the entries stored already."""
        parameters = {
            "subjects": sorted({h for hashes in subject_hashes for h in hashes}),
            "keys": sorted({(e.session_id, e.seq) for e in entries}),
        }
        erased: set[str] = set()
        stored: set[tuple[str, int]] = set()
        for what, session_or_subject, seq in conn.execute(self._status, parameters):
            if what == "erased":
                erased.add(session_or_subject)
            else:
                stored.add((session_or_subject, seq))
        return erased, stored

    def _queue(
        self,
        conn: Connection,
        entries: Sequence[InboxEntry],
        subject_hashes: Sequence[Sequence[str]],
        erased: set[str],
        stored: set[tuple[str, int]],
    ) -> list[EnqueueOutcome]:
        outcomes: list[EnqueueOutcome] = []
        rows: list[dict[str, Any]] = []
        firsts: dict[tuple[str, int], int] = {}
        for index, (entry, hashes) in enumerate(zip(entries, subject_hashes, strict=True)):
            key = (entry.session_id, entry.seq)
            if not erased.isdisjoint(hashes):
                outcomes.append("refused")
            elif key in stored or key in firsts:
                outcomes.append("duplicate")
            else:
                firsts[key] = index
                outcomes.append("written")
                rows.append({**entry._asdict(), "shard": shard_of(entry.session_id)})
        if not rows:
            return outcomes
        inserted = {(s, q) for s, q in conn.execute(self._insert, rows)}
        # Stored since the first query (on SQLite that query ran before this transaction
        # took the write lock): the insert's transaction sees every commit before it.
        if inserted and not self.own_file:
            found = conn.execute(self._stored, {"keys": sorted(inserted)})
            stored_now = {(session_id, seq) for session_id, seq in found}
            if stored_now:
                conn.execute(self._withdraw, {"keys": sorted(stored_now)})
                inserted -= stored_now
        for key, index in firsts.items():
            if key not in inserted:
                outcomes[index] = "duplicate"
        return outcomes

    async def withdraw(self, keys: Sequence[tuple[str, int]]) -> None:
        """Remove these queued batches (a subject was erased while they were being queued)."""
        if not keys:
            return
        statement = delete(inbox).where(tuple_(inbox.c.session_id, inbox.c.seq).in_(list(keys)))
        await self._transactions.run(lambda conn: conn.execute(statement))

    async def backlog(self) -> InboxBacklog:
        """Count the rows, waiting and left alone, date the oldest waiting one, and count the
        waiting ones by ingest key (one statement, so the figures agree)."""
        waiting = inbox.c.failed_attempts < MAX_FAILED_ATTEMPTS
        query = (
            select(
                inbox.c.ingest_key,
                func.count().filter(waiting),
                func.count().filter(~waiting),
                func.min(inbox.c.received_at).filter(waiting),
                func.max(inbox.c.id),
            )
            .select_from(inbox)
            .group_by(inbox.c.ingest_key)
        )
        rows = await self._transactions.read(lambda conn: list(conn.execute(query)))
        by_key = {key: count for key, count, *_ in rows if count}
        oldest = min((first for *_, first, _ in rows if first is not None), default=None)
        return InboxBacklog(
            sum(by_key.values()),
            sum(stuck for _, _, stuck, *_ in rows),
            oldest,
            by_key,
            max((newest for *_, newest in rows), default=None),
        )

    # -- processing -----------------------------------------------------------------------

    def _page(self, worker: int, workers: int, limit: int) -> Any:
        query = select(
            inbox.c.id,
            inbox.c.session_id,
            inbox.c.seq,
            inbox.c.user_id,
            inbox.c.received_at,
            inbox.c.sent_at,
            inbox.c.body,
            inbox.c.ingest_key,
        ).where(inbox.c.failed_attempts < MAX_FAILED_ATTEMPTS)
        if workers > 1:
            query = query.where(inbox.c.shard % workers == worker)
        return query.order_by(inbox.c.id).limit(limit)

    async def take(
        self,
        worker: int,
        workers: int,
        limit: int,
        prepare: Callable[[list[InboxRow]], _Work],
        settle: Callable[[Connection, _Work], Any],
    ) -> tuple[int, Any]:
        """Take up to `limit` of the oldest rows of worker `worker`'s shards (of `workers`),
        turn them into work with `prepare` (CPU only, no storage) and run
        `settle(connection, work)` in one transaction, which deletes the rows it stores
        (`settle_rows`). Returns how many rows were taken and what `settle` returned.

        On PostgreSQL the rows are locked (`FOR UPDATE SKIP LOCKED`) from the moment they are
        taken until that transaction ends: another worker on the same shards (a second
        replica's) takes others, and one that dies leaves its rows to the next. On SQLite a
        transaction kept open across `prepare` could not write once another process had
        committed meanwhile, so the rows are read first; in an inbox file they are deleted
        after `settle` has written their batches (another worker may have stored them
        meanwhile: the database keeps each (session_id, seq) once), in an in-memory
        database `settle` deletes only those still there.
        """
        query = self._page(worker, workers, limit)
        if self._locks_rows:

            def locked(conn: Connection) -> tuple[int, Any]:
                rows = _rows(conn.execute(query.with_for_update(skip_locked=True)))
                if not rows:
                    return 0, None
                return len(rows), settle(conn, prepare(rows))

            return await self._transactions.run(locked)
        rows = await self._transactions.read(lambda conn: _rows(conn.execute(query)))
        if not rows:
            return 0, None
        work = prepare(rows)
        result = await self._database.run(settle, work)
        if self.own_file:
            # Stored (or found stored) first, then removed from the inbox file.
            ids = {"ids": [row.id for row in rows]}
            await self._transactions.run(lambda conn: conn.execute(self._settle, ids).all())
        return len(rows), result

    def settle_rows(self, conn: Connection, row_ids: Sequence[int]) -> set[int]:
        """Delete these rows in the caller's transaction; return the ids that were there
        (the caller writes those rows' batches, and only those). An inbox file's rows are
        all written, and deleted after the caller's transaction (`take`)."""
        if not row_ids or self.own_file:
            return set(row_ids)
        return set(conn.execute(self._settle, {"ids": list(row_ids)}).scalars())

    async def note_failure(self, row_id: int) -> None:
        """Count a failed write of one row (past `MAX_FAILED_ATTEMPTS` workers skip it)."""
        statement = (
            update(inbox)
            .where(inbox.c.id == row_id)
            .values(failed_attempts=inbox.c.failed_attempts + 1)
        )
        await self._transactions.run(lambda conn: conn.execute(statement))

    # -- erasure --------------------------------------------------------------------------

    async def forget(
        self, conn: AsyncConnection, session_ids: Sequence[str], user_id: str | None
    ) -> None:
        """Remove the queued batches of these sessions and of this user, in `conn`'s
        transaction (an erasure's), where the inbox is in the database (see `forget_queued`)."""
        if not self.own_file:
            for statement in _forgetting(session_ids, user_id):
                await conn.execute(statement)

    async def forget_queued(self, session_ids: Sequence[str], user_id: str | None) -> None:
        """Where the inbox is a file of its own: remove the queued batches of these sessions and
        of this user, after the erasure's transaction recorded its tombstones (a batch queued
        meanwhile finds them: `BatchInbox`)."""
        if self.own_file:
            statements = _forgetting(session_ids, user_id)
            await self._transactions.run(lambda conn: [conn.execute(s) for s in statements])

    async def truncate_log(self) -> bool:
        """Cut an inbox file's write-ahead log (see `TransactionRunner.truncate_log`)."""
        return await self._transactions.truncate_log() if self.own_file else True

    def dispose(self) -> None:
        """Close an inbox file's connections."""
        if self.own_file:
            self._transactions.dispose()

    async def queued_session_ids(self, user_id: str) -> list[str]:
        """Sessions with a queued batch sent under this user ID."""
        query = select(inbox.c.session_id).where(inbox.c.user_id == user_id).distinct()
        return await self._transactions.read(lambda conn: list(conn.execute(query).scalars()))


def _forgetting(session_ids: Sequence[str], user_id: str | None) -> list[Any]:
    statements: list[Any] = []
    for start in range(0, len(session_ids), _PARAMETERS_PER_STATEMENT):
        part = list(session_ids[start : start + _PARAMETERS_PER_STATEMENT])
        statements.append(delete(inbox).where(inbox.c.session_id.in_(part)))
    if user_id is not None:
        statements.append(delete(inbox).where(inbox.c.user_id == user_id))
    return statements


def _rows(result: Any) -> list[InboxRow]:
    return [
        InboxRow(row_id, session_id, seq, user_id, received_at, sent_at, bytes(body), key)
        for row_id, session_id, seq, user_id, received_at, sent_at, body, key in result
    ]
