"""Session metadata queries: the write of one batch, lookups, search, erasure and expiry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, Literal, NamedTuple, cast

import msgspec
from sqlalchemy import (
    Column,
    Select,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.clock import now_ms
from service.session_environment import SessionEnvironment
from service.signal_kinds import (
    ClickSignal,
    ConsoleErrorSignal,
    PageViewSignal,
    Signal,
    SignalKind,
    kind_of,
    signal_data,
    signal_from_row,
)
from service.storage.error_store import ErrorStore, OccurrenceWriter
from service.storage.inbox_store import InboxStore
from service.storage.models import (
    AssetScanRow,
    ChunkJournalRow,
    ChunkRow,
    ErasureRow,
    SessionAssetRow,
    SessionRow,
    SignalRow,
    TicketAttachmentRow,
)
from service.storage.records import (
    BatchRecord,
    SessionFilters,
    SessionRecord,
    TombstoneKind,
    TombstoneRecord,
)
from service.storage.struggle_store import derive_struggles, struggle_states
from service.storage.transactions import TransactionRunner

__all__ = [
    "BatchOutcome",
    "JournalBacklog",
    "JournalEntry",
    "JournalStore",
    "SessionStore",
    "SessionWithPages",
]

# What `SessionStore.record_new_batches` did with a batch: written (rows and journaled chunk);
# refused (one of its erasure subjects has a tombstone); duplicate (its session_id and seq are
# stored already, or came earlier in the same call). Only a written batch changed anything.
BatchOutcome = Literal["written", "refused", "duplicate"]

SessionWithPages = tuple[SessionRecord, list[str]]


class JournalEntry(NamedTuple):
    """One chunk in the chunk journal."""

    id: int
    session_id: str
    blob_key: str
    data: bytes


class JournalBacklog(NamedTuple):
    """What the chunk journal holds: entries waiting for their move, quarantined ones (the
    blob store refused them alone), and when the oldest waiting one's batch was received
    (milliseconds; None when none waits)."""

    waiting: int
    quarantined: int
    oldest_waiting_received_at: int | None


# Stores (blob key, data) pairs durably. Returns the positions of the pairs that failed on
# their own while others were stored, each with its error's class name (None or empty: all
# stored); raises when nothing should change (the blob store is down).
JournalStore = Callable[[list[tuple[str, bytes]]], Awaitable[Mapping[int, str] | None]]

sessions = cast(Table, SessionRow.__table__)
session_assets = cast(Table, SessionAssetRow.__table__)
asset_scans = cast(Table, AssetScanRow.__table__)
chunks = cast(Table, ChunkRow.__table__)
chunk_journal = cast(Table, ChunkJournalRow.__table__)
signals = cast(Table, SignalRow.__table__)
erasures = cast(Table, ErasureRow.__table__)
ticket_attachments = cast(Table, TicketAttachmentRow.__table__)

# Counters summed over batches. The struggle counters (rage, dead and error clicks) count the
# session's struggle signals instead, which `struggle_store` derives again as batches land.
_COUNTERS: dict[SignalKind, str] = {
    "click": "click_count",
    "console_error": "error_count",
    "failed_request": "failed_request_count",
    "input": "input_count",
    "page_view": "page_count",
}
_PARAMETERS_PER_STATEMENT = 500
# The latest page load's environment: each set by the newest batch that had one.
_ENVIRONMENT_COLUMNS = ("browser", "os", "release", "environment")
# Not in a SessionRecord: its id (as `session_id`), its environment (decoded), and the ingest
# key that sent it (the asset collector's business, never the API's).
_SESSION_COLUMNS = [
    c for c in sessions.c if c.name not in ("id", "ingest_key", *_ENVIRONMENT_COLUMNS)
]
_SUMMED = ("chunk_count", "byte_count", "event_count", *_COUNTERS.values())
_ENVIRONMENT_JSON = msgspec.json.Decoder(SessionEnvironment)


def _session_record(row: Any) -> SessionRecord:
    mapping = row._mapping
    environment = mapping["environment"]
    return SessionRecord(
        session_id=mapping["id"],
        environment=None if environment is None else _ENVIRONMENT_JSON.decode(environment),
        **{c.name: mapping[c.name] for c in _SESSION_COLUMNS},
    )


class SessionStore:
    """All SQL about sessions, on one async engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # Ingest's grouped check and write, each one transaction in one call.
        self._transactions = TransactionRunner(engine)
        dialect = engine.dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # Built once and run with many parameter sets, so SQLAlchemy compiles each once.
        self._insert_chunks = (
            self._insert(chunks)
            .on_conflict_do_nothing(index_elements=["session_id", "seq"])
            .returning(chunks.c.session_id, chunks.c.seq)
        )
        self._upsert_with_span = self._upsert(update_span=True)
        self._upsert_without_span = self._upsert(update_span=False)
        self._insert_signals = insert(signals)
        self._occurrences = OccurrenceWriter(dialect)
        self.errors = ErrorStore(engine, self._transactions)
        """Error occurrences by fingerprint: error groups and "who else hit this"."""
        self.inbox = InboxStore(engine, self._transactions)
        """Acknowledged batches waiting for the processing workers."""
        self._insert_journal = insert(chunk_journal)
        self._locks_rows = dialect == "postgresql"
        # Built once with bound parameters (a fresh statement per batch costs more to build and
        # to derive a cache key for than running it does).
        is_erased = erasures.c.subject_hash.in_(bindparam("subjects", expanding=True))
        self._erased = select(erasures.c.subject_hash).where(is_erased)
        # One row per erased subject and per stored (session_id, seq), for many batches at once.
        erased = select(
            literal("erased").label("what"),
            erasures.c.subject_hash.label("session_or_subject"),
            null().label("seq"),
        ).where(is_erased)
        stored = select(literal("stored"), chunks.c.session_id, chunks.c.seq).where(
            tuple_(chunks.c.session_id, chunks.c.seq).in_(bindparam("keys", expanding=True))
        )
        self._batch_status = erased.union_all(stored)

    def dispose(self) -> None:
        """Close the connections the store opened beside its engine (not the engine itself)."""
        self._transactions.dispose()
        self.inbox.dispose()

    # -- ingest ---------------------------------------------------------------------------

    def _batch_statuses(
        self,
        conn: Connection,
        batches: Sequence[BatchRecord],
        subject_hashes: Sequence[Sequence[str]],
    ) -> list[tuple[bool, bool]]:
        """Per batch: (erased, stored), whether one of its subjects (`subject_hashes[i]` for
        `batches[i]`) is erased and whether its seq is stored. All of them in one query."""
        parameters = {
            "subjects": sorted({h for hashes in subject_hashes for h in hashes}),
            "keys": sorted({(b.session_id, b.seq) for b in batches}),
        }
        erased: set[str] = set()
        stored: set[tuple[str, int]] = set()
        for what, session_or_subject, seq in conn.execute(self._batch_status, parameters):
            if what == "erased":
                erased.add(session_or_subject)
            else:
                stored.add((session_or_subject, seq))
        return [
            (not erased.isdisjoint(hashes), (b.session_id, b.seq) in stored)
            for b, hashes in zip(batches, subject_hashes, strict=True)
        ]

    async def erased_subjects(self, subject_hashes: Sequence[str]) -> set[str]:
        """Those of these erasure subjects (hashes) that have a tombstone, in one query."""
        return await self._transactions.read(self._erased_subjects, subject_hashes)

    def _erased_subjects(self, conn: Connection, subject_hashes: Sequence[str]) -> set[str]:
        if not subject_hashes:
            return set()
        found = conn.execute(self._erased, {"subjects": sorted(set(subject_hashes))})
        return set(found.scalars())

    async def record_new_batches(
        self,
        batches: Sequence[BatchRecord],
        subject_hashes: Sequence[Sequence[str]],
        chunks: Sequence[bytes],
    ) -> list[BatchOutcome]:
        """In one transaction: which batches are refused or duplicates (see `BatchOutcome`;
        one query for all), then the others' chunk rows, session counters and signals, and their
        chunks (`chunks[i]` for `batches[i]`) in the chunk journal. `subject_hashes[i]` are
        the erasure subjects of `batches[i]`.

        One transaction for many batches is what makes ingest under load cheap (one commit, one
        fsync), and one for the check and the write spares PostgreSQL a connection check-out
        and its round trips per group of batches. A subject erased while this runs is not seen
        here: look for it with `erased_subjects` once this has returned.
        """

        return await self._transactions.run(
            self.record_new_batches_in, batches, subject_hashes, chunks
        )

    def record_new_batches_in(
        self,
        conn: Connection,
        batches: Sequence[BatchRecord],
        subject_hashes: Sequence[Sequence[str]],
        chunks: Sequence[bytes],
    ) -> list[BatchOutcome]:
        """`record_new_batches` inside a transaction the caller runs (`conn`)."""
        statuses = self._batch_statuses(conn, batches, subject_hashes)
        outcomes: list[BatchOutcome] = [
            "refused" if erased else "duplicate" for erased, _ in statuses
        ]
        new = [i for i, (erased, stored) in enumerate(statuses) if not erased and not stored]
        if not new:
            return outcomes
        written = self._record_batches(conn, [batches[i] for i in new])
        journal = []
        for i, was_written in zip(new, written, strict=True):
            if was_written:
                outcomes[i] = "written"
                b = batches[i]
                journal.append(
                    {"session_id": b.session_id, "blob_key": b.blob_key, "data": chunks[i]}
                )
        if journal:
            conn.execute(self._insert_journal, journal)
        return outcomes

    def _record_batches(self, conn: Connection, batches: Sequence[BatchRecord]) -> list[bool]:
        firsts: dict[tuple[str, int], int] = {}
        for index, batch in enumerate(batches):
            firsts.setdefault((batch.session_id, batch.seq), index)
        unique = [batches[i] for i in sorted(firsts.values())]
        inserted_keys = {
            (row.session_id, row.seq)
            for row in conn.execute(self._insert_chunks, [_chunk_row(b) for b in unique])
        }
        written = [b for b in unique if (b.session_id, b.seq) in inserted_keys]
        if written:
            before = struggle_states(conn, list({b.session_id for b in written}))
            for statement, rows in self._upsert_sessions(written):
                conn.execute(statement, rows)
            signal_rows = [_signal_row(b, sig) for b in written for sig in b.signals]
            if signal_rows:
                conn.execute(self._insert_signals, signal_rows)
            self._occurrences.write(conn, written)
            derive_struggles(conn, written, before)
        return [
            firsts[(b.session_id, b.seq)] == i and (b.session_id, b.seq) in inserted_keys
            for i, b in enumerate(batches)
        ]

    def _upsert_sessions(
        self, batches: Sequence[BatchRecord]
    ) -> list[tuple[Any, list[dict[str, Any]]]]:
        # Rows are folded per session first: one statement may not touch a row twice.
        folded: dict[str, dict[str, Any]] = {}
        spanned: set[str] = set()  # sessions with events in this group
        for batch in sorted(batches, key=lambda b: b.seq):
            row, has_events = _session_row(batch), batch.first_ts is not None
            previous = folded.get(batch.session_id)
            if previous is None:
                folded[batch.session_id] = row
            else:
                merged = _fold(previous, row, span=has_events and batch.session_id in spanned)
                if has_events and batch.session_id not in spanned:
                    merged["started_at"], merged["ended_at"] = row["started_at"], row["ended_at"]
                folded[batch.session_id] = merged
            if has_events:
                spanned.add(batch.session_id)
        statements = []
        for statement, update_span in (
            (self._upsert_with_span, True),
            (self._upsert_without_span, False),
        ):
            rows = [row for sid, row in folded.items() if (sid in spanned) == update_span]
            if rows:
                statements.append((statement, rows))
        return statements

    def _upsert(self, update_span: bool) -> Any:
        statement = self._insert(sessions)
        new, old = statement.excluded, sessions.c
        update: dict[str, Any] = {
            "user_id": func.coalesce(new.user_id, old.user_id),
            # The first sender stays: a session is not moved to another key's origins.
            "ingest_key": func.coalesce(old.ingest_key, new.ingest_key),
            **{
                name: case((new.environment.is_not(None), new[name]), else_=old[name])
                for name in _ENVIRONMENT_COLUMNS
            },
            "received_last_at": case(
                (new.received_last_at > old.received_last_at, new.received_last_at),
                else_=old.received_last_at,
            ),
            "final": or_(old.final, new.final),
            "last_click_at": case(
                (old.last_click_at.is_(None), new.last_click_at),
                (new.last_click_at > old.last_click_at, new.last_click_at),
                else_=old.last_click_at,
            ),
            "first_error_at": case(
                (old.first_error_at.is_(None), new.first_error_at),
                (
                    and_(new.first_error_at.is_not(None), new.first_error_at < old.first_error_at),
                    new.first_error_at,
                ),
                else_=old.first_error_at,
            ),
        }
        for name in _SUMMED:
            update[name] = old[name] + new[name]
        if update_span:
            # An empty batch (say, only `final`) must not stretch the session's time span.
            update["started_at"] = case(
                (new.started_at < old.started_at, new.started_at), else_=old.started_at
            )
            update["ended_at"] = case(
                (new.ended_at > old.ended_at, new.ended_at), else_=old.ended_at
            )
        return statement.on_conflict_do_update(index_elements=["id"], set_=update)

    # -- lookups --------------------------------------------------------------------------

    async def get(self, session_id: str) -> SessionRecord | None:
        """One session, or None."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(sessions).where(sessions.c.id == session_id))).first()
        return _session_record(row) if row else None

    async def search(self, filters: SessionFilters) -> list[SessionRecord]:
        """Sessions matching `filters`, newest first."""
        async with self.engine.connect() as conn:
            return [_session_record(row) for row in await conn.execute(_search_query(filters))]

    async def search_with_pages(self, filters: SessionFilters) -> list[SessionWithPages]:
        """`search`, each session with its page-view URLs, in one statement."""
        async with self.engine.connect() as conn:
            return await conn.run_sync(_with_pages, _search_query(filters))

    async def newest_with_pages(self, user_id: str) -> SessionWithPages | None:
        """The user's newest session and its page-view URLs, or None.

        One statement that follows two indexes and takes microseconds, run the cheapest way
        (`TransactionRunner.read`): on a SQLite file on the event loop, without the thread
        hand-offs that made up most of a lookup's time; on PostgreSQL without a transaction's
        round trips.
        """
        query = _search_query(SessionFilters(user_id=user_id, limit=1))
        found = await self._transactions.read(_with_pages, query)
        return found[0] if found else None

    async def get_with_pages(self, session_id: str) -> SessionWithPages | None:
        """One session and its page-view URLs, or None; read as `newest_with_pages` is."""
        query = select(sessions).where(sessions.c.id == session_id)
        found = await self._transactions.read(_with_pages, query)
        return found[0] if found else None

    async def get_many_with_pages(self, session_ids: Sequence[str]) -> list[SessionWithPages]:
        """These sessions (those that exist) with their page-view URLs, in the order given."""
        if not session_ids:
            return []
        query = select(sessions).where(sessions.c.id.in_(list(session_ids)))
        found = {
            record.session_id: (record, pages)
            for record, pages in await self._transactions.read(_with_pages, query)
        }
        return [found[sid] for sid in session_ids if sid in found]

    async def signals(self, session_id: str, kinds: Sequence[str] | None = None) -> list[Signal]:
        """A session's derived signals in time order (one statement, read as
        `newest_with_pages` is)."""
        query = select(signals.c.kind, signals.c.ts, signals.c.data).where(
            signals.c.session_id == session_id
        )
        if kinds:
            query = query.where(signals.c.kind.in_(kinds))
        query = query.order_by(signals.c.ts, signals.c.id)
        return await self._transactions.read(_signals, query)

    async def session_chunks(self, session_id: str) -> list[tuple[str, bytes | None]]:
        """Blob keys of a session's chunks in recording order (seq), each with its bytes while
        it is in the chunk journal (None once it is in the blob store).

        One statement, so each chunk is in one place or the other: the mover removes an
        entry only once its chunk is stored. Read as `newest_with_pages` is.
        """
        journal = chunk_journal.c
        query = (
            select(chunks.c.blob_key, journal.data)
            .outerjoin(
                chunk_journal,
                and_(
                    journal.session_id == chunks.c.session_id, journal.blob_key == chunks.c.blob_key
                ),
            )
            .where(chunks.c.session_id == session_id)
            .order_by(chunks.c.seq)
        )
        return await self._transactions.read(_chunk_sources, query)

    async def chunks_until(
        self, session_id: str, end_ms: int
    ) -> list[tuple[str, bytes | None, int]]:
        """As `session_chunks`, only the chunks whose first event is at or before `end_ms`, each
        with that event's time (the service's clock): what a window ending there can show."""
        journal = chunk_journal.c
        query = (
            select(chunks.c.blob_key, journal.data, chunks.c.first_ts)
            .outerjoin(
                chunk_journal,
                and_(
                    journal.session_id == chunks.c.session_id, journal.blob_key == chunks.c.blob_key
                ),
            )
            .where(chunks.c.session_id == session_id, chunks.c.first_ts <= end_ms)
            .order_by(chunks.c.seq)
        )
        return await self._transactions.read(_timed_chunk_sources, query)

    async def chunks_after(
        self, session_id: str, after_seq: int
    ) -> list[tuple[int, str, bytes | None]]:
        """As `session_chunks`, only the chunks of batches numbered above `after_seq`, each
        with its seq: what a live viewer that has the batches up to `after_seq` lacks."""
        journal = chunk_journal.c
        query = (
            select(chunks.c.seq, chunks.c.blob_key, journal.data)
            .outerjoin(
                chunk_journal,
                and_(
                    journal.session_id == chunks.c.session_id, journal.blob_key == chunks.c.blob_key
                ),
            )
            .where(chunks.c.session_id == session_id, chunks.c.seq > after_seq)
            .order_by(chunks.c.seq)
        )
        return await self._transactions.read(_numbered_chunk_sources, query)

    async def event_count_between(self, session_id: str, start_ms: int, end_ms: int) -> int:
        """The events of the session's chunks recorded (in part) between the two times."""
        query = select(func.coalesce(func.sum(chunks.c.event_count), 0)).where(
            chunks.c.session_id == session_id,
            chunks.c.first_ts <= end_ms,
            chunks.c.last_ts >= start_ms,
        )
        return int(await self._transactions.read(_scalar, query))

    # -- chunk journal (see service/ingest/chunk_mover.py) ---------------------------------------

    async def move_journal(
        self, limit: int, store: JournalStore, *, quarantined_after: int | None = None
    ) -> tuple[list[JournalEntry], set[int]]:
        """Hand up to `limit` of the oldest journal entries to `store(blob_key, data pairs)`,
        which stores them durably, then remove them. Returns the entries and the ids that were
        still there to remove: another process moving the same entries, or an erasure or expiry
        (see `service.sessions.erasure.purge_sessions`), may have removed the others meanwhile.

        Entries `store` reports as failed on their own stay, quarantined: later moves skip
        them. With `quarantined_after`, the move takes the quarantined entries whose id is
        above it instead, to try them again; those that fail again stay quarantined.

        On PostgreSQL the entries stay locked until they are removed, so several processes
        never move the same ones, and a purge waits for the move. On SQLite a transaction kept
        open across `store` would fail its delete whenever an ingest commit came in between,
        so the entries are read, stored and removed in turn.
        """
        journal = chunk_journal.c
        query = select(journal.id, journal.session_id, journal.blob_key, journal.data)
        if quarantined_after is None:
            query = query.where(journal.quarantined_at.is_(None))
        else:
            query = query.where(journal.quarantined_at.is_not(None), journal.id > quarantined_after)
        query = query.order_by(journal.id).limit(limit)
        if self._locks_rows:
            async with self.engine.begin() as conn:
                result = await conn.execute(query.with_for_update(skip_locked=True))
                entries = _journal_entries(result)
                failed = await _store_entries(store, entries)
                return entries, await self._settle_entries(conn, entries, failed)
        async with self.engine.connect() as conn:
            entries = _journal_entries(await conn.execute(query))
        if not entries:
            return entries, set()
        failed = await _store_entries(store, entries)
        async with self.engine.begin() as conn:
            return entries, await self._settle_entries(conn, entries, failed)

    async def _settle_entries(
        self, conn: AsyncConnection, entries: list[JournalEntry], failed: Mapping[int, str]
    ) -> set[int]:
        """Remove the stored entries and quarantine the failed ones (ids to error classes);
        return the ids of the removed ones that were still there."""
        by_error: dict[str, list[int]] = {}
        for entry_id, error in failed.items():
            by_error.setdefault(error, []).append(entry_id)
        journal = chunk_journal.c
        for error, ids in by_error.items():
            await conn.execute(
                update(chunk_journal)
                .where(journal.id.in_(ids))
                .values(
                    quarantined_at=func.coalesce(journal.quarantined_at, now_ms()),
                    failed_attempts=journal.failed_attempts + 1,
                    last_error=error[:100],
                )
            )
        return await self._remove_entries(conn, [e for e in entries if e.id not in failed])

    @staticmethod
    async def _remove_entries(conn: AsyncConnection, entries: list[JournalEntry]) -> set[int]:
        if not entries:
            return set()
        ids = [e.id for e in entries]
        statement = (
            delete(chunk_journal).where(chunk_journal.c.id.in_(ids)).returning(chunk_journal.c.id)
        )
        return set((await conn.execute(statement)).scalars())

    async def journal_backlog(self) -> JournalBacklog:
        """Count the journal's entries, waiting and quarantined, and date the oldest waiting.

        One statement, so the figures agree with each other. Neither part reads the chunks'
        bytes: the count goes through the (quarantined_at, id) index where the planner can
        (SQLite always), the oldest entry is one row found through it. About 5 ms on SQLite
        and 70 ms on PostgreSQL at the 50,000-entry limit.
        """
        first = chunk_journal.alias("oldest_entry")
        oldest = (
            select(chunks.c.received_at)
            .select_from(first)
            .join(
                chunks,
                and_(
                    chunks.c.session_id == first.c.session_id,
                    chunks.c.blob_key == first.c.blob_key,
                ),
            )
            .where(first.c.quarantined_at.is_(None))
            .order_by(first.c.id)
            .limit(1)
            .scalar_subquery()
        )
        journal = chunk_journal.c
        query = select(func.count(), func.count(journal.quarantined_at), oldest).select_from(
            chunk_journal
        )
        async with self.engine.connect() as conn:
            total, quarantined, received_at = (await conn.execute(query)).one()
        return JournalBacklog(total - quarantined, quarantined, received_at)

    async def forget_journal_of_sessions(self, session_ids: Sequence[str]) -> None:
        """Remove these sessions' journal entries (before their blobs are deleted)."""
        async with self.engine.begin() as conn:
            await self._delete_in_parts(conn, chunk_journal.c.session_id, session_ids)

    # -- erasure and expiry ---------------------------------------------------------------

    async def session_ids_of_user(self, user_id: str) -> list[str]:
        """Every session recorded under this user ID."""
        query = select(sessions.c.id).where(sessions.c.user_id == user_id)
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def existing_session_ids(self, session_ids: Sequence[str]) -> set[str]:
        """Those of `session_ids` that have a session row."""
        query = select(sessions.c.id).where(sessions.c.id.in_(bindparam("ids", expanding=True)))
        found: set[str] = set()
        async with self.engine.connect() as conn:
            for part in _in_parts(session_ids):
                found.update((await conn.execute(query, {"ids": part})).scalars())
        return found

    async def expired_session_ids(self, received_before: int, limit: int) -> list[str]:
        """Sessions whose last batch arrived before `received_before`, oldest first."""
        query = (
            select(sessions.c.id)
            .where(sessions.c.received_last_at < received_before)
            .order_by(sessions.c.received_last_at)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def tombstones_since(self, since: int) -> dict[str, int]:
        """Erased subjects (keyed hashes) recorded at or after `since`, with when."""
        query = select(erasures.c.subject_hash, erasures.c.erased_at).where(
            erasures.c.erased_at >= since
        )
        async with self.engine.connect() as conn:
            return {subject: at for subject, at in await conn.execute(query)}

    async def sessions_received_since(
        self, since: int, after: tuple[int, str] | None, limit: int
    ) -> list[tuple[int, str, str | None]]:
        """(received_last_at, id, user_id) of sessions with a batch received at or after
        `since`, in that order: the first `limit` after `after` (a previous page's last row)."""
        query = select(sessions.c.received_last_at, sessions.c.id, sessions.c.user_id).where(
            sessions.c.received_last_at >= since
        )
        if after is not None:
            query = query.where(tuple_(sessions.c.received_last_at, sessions.c.id) > tuple_(*after))
        query = query.order_by(sessions.c.received_last_at, sessions.c.id).limit(limit)
        async with self.engine.connect() as conn:
            return [
                (at, session_id, user_id) for at, session_id, user_id in await conn.execute(query)
            ]

    async def delete_sessions(
        self,
        session_ids: Sequence[str],
        tombstones: Sequence[str] = (),
        at: int = 0,
        user_id: str | None = None,
    ) -> None:
        """Delete sessions with their chunk rows, signals and error occurrences; record
        tombstones (of session IDs) in the same step.

        With `user_id`, ticket attachment records forget that user too. With tombstones or
        `user_id` (an erasure, not an expiry) their batches still in the ingest inbox go too.
        """
        erasing = bool(tombstones) or user_id is not None
        async with self.engine.begin() as conn:
            if erasing:
                await self.inbox.forget(conn, session_ids, user_id)
            await self._delete_sessions(conn, session_ids)
            if user_id is not None:
                await conn.execute(
                    update(ticket_attachments)
                    .where(ticket_attachments.c.user_id == user_id)
                    .values(user_id=None)
                )
            await self._insert_tombstones(conn, tombstones, at, "session")
        if erasing:
            await self.inbox.forget_queued(session_ids, user_id)

    async def truncate_log(self) -> bool:
        """On a SQLite file, leave no old page version (deleted rows) in the write-ahead log,
        the inbox file's too; False when a log stayed busy (see
        `TransactionRunner.truncate_log`)."""
        database = await self._transactions.truncate_log()
        return await self.inbox.truncate_log() and database

    async def add_tombstones(
        self, tombstones: Sequence[str], at: int, kind: TombstoneKind | None = None
    ) -> None:
        """Record erased subjects (keyed hashes): their batches are refused from now on."""
        async with self.engine.begin() as conn:
            await self._insert_tombstones(conn, tombstones, at, kind)

    async def _insert_tombstones(
        self,
        conn: AsyncConnection,
        tombstones: Sequence[str],
        at: int,
        kind: TombstoneKind | None,
    ) -> None:
        if tombstones:
            await conn.execute(
                self._insert(erasures)
                .values([{"subject_hash": h, "erased_at": at, "kind": kind} for h in tombstones])
                .on_conflict_do_nothing(index_elements=["subject_hash"])
            )

    async def tombstones(
        self, kind: TombstoneKind | None = None, hash_prefix: str = "", limit: int | None = None
    ) -> list[TombstoneRecord]:
        """Tombstones, newest first: all, or those of one kind, or whose hash starts so."""
        query = select(erasures.c.subject_hash, erasures.c.kind, erasures.c.erased_at)
        if kind is not None:
            query = query.where(erasures.c.kind == kind)
        if hash_prefix:
            pattern = _escape_like(hash_prefix) + "%"
            query = query.where(erasures.c.subject_hash.like(pattern, escape="\\"))
        query = query.order_by(erasures.c.erased_at.desc(), erasures.c.subject_hash).limit(limit)
        async with self.engine.connect() as conn:
            return [
                TombstoneRecord(subject_hash=subject, kind=found_kind, erased_at=at)
                for subject, found_kind, at in await conn.execute(query)
            ]

    async def count_tombstones(self, kind: TombstoneKind | None = None) -> int:
        """How many tombstones there are (of one kind)."""
        query = select(func.count()).select_from(erasures)
        if kind is not None:
            query = query.where(erasures.c.kind == kind)
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def lift_tombstone(self, subject_hash: str) -> bool:
        """Remove one tombstone, so its subject's batches are stored again; whether it was
        there. What the erasure deleted stays deleted."""
        statement = delete(erasures).where(erasures.c.subject_hash == subject_hash)
        async with self.engine.begin() as conn:
            return (await conn.execute(statement)).rowcount > 0

    async def _delete_sessions(self, conn: AsyncConnection, session_ids: Sequence[str]) -> None:
        # Error occurrences first, with the rollups that count them (and name their users).
        await conn.run_sync(self._occurrences.remove, session_ids)
        for column in (
            signals.c.session_id,
            chunk_journal.c.session_id,
            chunks.c.session_id,
            sessions.c.id,
            # After the session rows: the asset collector records a session's entries only
            # while it holds its row (`AssetStore.record`), so none is written after these
            # statements. Copies no other session uses go after the commit
            # (`service.sessions.erasure.purge_sessions`).
            session_assets.c.session_id,
            asset_scans.c.session_id,
        ):
            await self._delete_in_parts(conn, column, session_ids)

    @staticmethod
    async def _delete_in_parts(
        conn: AsyncConnection, column: Column[Any], values: Sequence[str]
    ) -> None:
        for part in _in_parts(values):
            await conn.execute(delete(column.table).where(column.in_(part)))

    async def ping(self) -> None:
        """Raise if the database does not answer."""
        async with self.engine.connect() as conn:
            await conn.execute(select(1))


def _in_parts(values: Sequence[str]) -> Iterator[list[str]]:
    """`values` in parts small enough that PostgreSQL's and SQLite's parameter limits are
    never reached."""
    for start in range(0, len(values), _PARAMETERS_PER_STATEMENT):
        yield list(values[start : start + _PARAMETERS_PER_STATEMENT])


async def _store_entries(store: JournalStore, entries: list[JournalEntry]) -> dict[int, str]:
    """Hand the entries to `store`; return the ids of those it failed, with their errors."""
    if not entries:
        return {}
    failed = await store([(e.blob_key, e.data) for e in entries])
    return {entries[position].id: error for position, error in (failed or {}).items()}


def _journal_entries(rows: Any) -> list[JournalEntry]:
    return [JournalEntry(i, session_id, key, bytes(data)) for i, session_id, key, data in rows]


def _chunk_row(batch: BatchRecord) -> dict[str, Any]:
    return {
        "session_id": batch.session_id,
        "seq": batch.seq,
        "blob_key": batch.blob_key,
        "first_ts": batch.first_ts,
        "last_ts": batch.last_ts,
        "event_count": batch.event_count,
        "byte_count": batch.byte_count,
        "received_at": batch.received_at,
        "activity": None if batch.activity is None else [list(span) for span in batch.activity],
    }


def _signal_row(batch: BatchRecord, signal: Signal) -> dict[str, Any]:
    return {
        "session_id": batch.session_id,
        "seq": batch.seq,
        "kind": kind_of(signal),
        "ts": signal.ts,
        # A text column cannot hold NUL on PostgreSQL; the JSON copy keeps it escaped.
        "url": signal.url.replace("\x00", "") if isinstance(signal, PageViewSignal) else None,
        "data": signal_data(signal),
    }


def _session_row(batch: BatchRecord) -> dict[str, Any]:
    counts = dict.fromkeys(_COUNTERS.values(), 0)
    first_error_at: int | None = None
    last_click_at: int | None = None
    for signal in batch.signals:
        counter = _COUNTERS.get(kind_of(signal))
        if counter is not None:
            counts[counter] += 1
        if isinstance(signal, ClickSignal) and (last_click_at is None or signal.ts > last_click_at):
            last_click_at = signal.ts
        if isinstance(signal, ConsoleErrorSignal) and (
            first_error_at is None or signal.ts < first_error_at
        ):
            first_error_at = signal.ts
    has_events = batch.first_ts is not None and batch.last_ts is not None
    environment = batch.environment
    return {
        "id": batch.session_id,
        "browser": environment.browser if environment else None,
        "os": environment.os if environment else None,
        "release": environment.release if environment else None,
        "environment": msgspec.json.encode(environment).decode() if environment else None,
        "user_id": batch.user_id,
        "ingest_key": batch.ingest_key,
        "started_at": batch.first_ts if has_events else batch.received_at,
        "ended_at": batch.last_ts if has_events else batch.received_at,
        "first_error_at": first_error_at,
        "last_click_at": last_click_at,
        "received_first_at": batch.received_at,
        "received_last_at": batch.received_at,
        "final": batch.final,
        "chunk_count": 1,
        "byte_count": batch.byte_count,
        "event_count": batch.event_count,
        **counts,
    }


def _fold(old: dict[str, Any], new: dict[str, Any], span: bool = True) -> dict[str, Any]:
    """Two session rows of one session as one, the way the upsert would combine them."""
    errors = [t for t in (old["first_error_at"], new["first_error_at"]) if t is not None]
    clicks = [t for t in (old["last_click_at"], new["last_click_at"]) if t is not None]
    folded = {
        **old,
        "user_id": new["user_id"] if new["user_id"] is not None else old["user_id"],
        "ingest_key": old["ingest_key"] if old["ingest_key"] is not None else new["ingest_key"],
        **{
            name: new[name] if new["environment"] is not None else old[name]
            for name in _ENVIRONMENT_COLUMNS
        },
        "first_error_at": min(errors) if errors else None,
        "last_click_at": max(clicks) if clicks else None,
        "received_first_at": min(old["received_first_at"], new["received_first_at"]),
        "received_last_at": max(old["received_last_at"], new["received_last_at"]),
        "final": old["final"] or new["final"],
    }
    for name in _SUMMED:
        folded[name] = old[name] + new[name]
    if span:
        folded["started_at"] = min(old["started_at"], new["started_at"])
        folded["ended_at"] = max(old["ended_at"], new["ended_at"])
    return folded


def _search_query(filters: SessionFilters) -> Select[Any]:
    query: Select[Any] = select(sessions)
    if filters.user_id is not None:
        query = query.where(sessions.c.user_id == filters.user_id)
    if filters.has_errors is not None:
        query = query.where((sessions.c.error_count > 0) == filters.has_errors)
    if filters.has_rage_clicks is not None:
        query = query.where((sessions.c.rage_click_count > 0) == filters.has_rage_clicks)
    for column, wanted in (
        (sessions.c.browser, filters.browser),
        (sessions.c.os, filters.os),
        (sessions.c.release, filters.release),
    ):
        if wanted is not None:
            query = query.where(func.lower(column) == wanted.lower())
    if filters.since is not None:
        query = query.where(sessions.c.ended_at >= filters.since)
    if filters.until is not None:
        query = query.where(sessions.c.started_at <= filters.until)
    if filters.before is not None:
        query = query.where(sessions.c.started_at < filters.before)
    if filters.url:
        pattern = "%" + _escape_like(filters.url) + "%"
        query = query.where(
            exists().where(
                signals.c.session_id == sessions.c.id,
                signals.c.kind == "page_view",
                signals.c.url.like(pattern, escape="\\"),
            )
        )
    query = query.order_by(sessions.c.started_at.desc(), sessions.c.id.desc())
    return query.limit(filters.limit)


def _with_pages(conn: Connection, chosen: Select[Any]) -> list[SessionWithPages]:
    """The sessions `chosen` selects, in its order (newest first), each with its page-view
    URLs in visit order: one row per page view (or one without a URL), in one statement."""
    picked = chosen.subquery()
    page_views = and_(signals.c.session_id == picked.c.id, signals.c.kind == "page_view")
    query = (
        select(picked, signals.c.url.label("page_url"))
        .select_from(picked.outerjoin(signals, page_views))
        .order_by(picked.c.started_at.desc(), picked.c.id.desc(), signals.c.ts, signals.c.id)
    )
    found: dict[str, SessionWithPages] = {}
    for row in conn.execute(query):
        entry = found.get(row.id)
        if entry is None:
            entry = found[row.id] = (_session_record(row), [])
        if row.page_url is not None:
            entry[1].append(row.page_url)
    return list(found.values())


def _signals(conn: Connection, query: Select[Any]) -> list[Signal]:
    return [s for s in (signal_from_row(*row) for row in conn.execute(query)) if s is not None]


def _chunk_sources(conn: Connection, query: Select[Any]) -> list[tuple[str, bytes | None]]:
    return [(key, None if data is None else bytes(data)) for key, data in conn.execute(query)]


def _numbered_chunk_sources(
    conn: Connection, query: Select[Any]
) -> list[tuple[int, str, bytes | None]]:
    return [
        (int(seq), key, None if data is None else bytes(data))
        for seq, key, data in conn.execute(query)
    ]


def _timed_chunk_sources(
    conn: Connection, query: Select[Any]
) -> list[tuple[str, bytes | None, int]]:
    return [
        (key, None if data is None else bytes(data), int(first_ts))
        for key, data, first_ts in conn.execute(query)
    ]


def _scalar(conn: Connection, query: Select[Any]) -> Any:
    return conn.execute(query).scalar_one()


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
