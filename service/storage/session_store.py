"""Session metadata queries: the write of one batch, lookups, search, erasure and expiry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Select, Table, and_, case, delete, exists, func, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.storage.models import ChunkRow, ErasureRow, SessionRow, SignalRow
from service.storage.records import BatchRecord, SessionFilters, SessionRecord, SignalRecord

__all__ = ["SessionStore"]

sessions = cast(Table, SessionRow.__table__)
chunks = cast(Table, ChunkRow.__table__)
signals = cast(Table, SignalRow.__table__)
erasures = cast(Table, ErasureRow.__table__)

_COUNTERS = {
    "click": "click_count",
    "console_error": "error_count",
    "failed_request": "failed_request_count",
    "rage_click": "rage_click_count",
    "dead_click": "dead_click_count",
    "input": "input_count",
    "page_view": "page_count",
}
_SESSION_COLUMNS = [c for c in sessions.c if c.name != "id"]


def _session_record(row: Any) -> SessionRecord:
    mapping = row._mapping
    return SessionRecord(
        session_id=mapping["id"], **{c.name: mapping[c.name] for c in _SESSION_COLUMNS}
    )


class SessionStore:
    """All SQL about sessions, on one async engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        dialect = engine.dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert

    # -- ingest ---------------------------------------------------------------------------

    async def chunk_exists(self, session_id: str, seq: int) -> bool:
        """Whether batch `seq` of this session was already accepted."""
        query = select(chunks.c.seq).where(chunks.c.session_id == session_id, chunks.c.seq == seq)
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).first() is not None

    async def any_erased(self, subject_hashes: Sequence[str]) -> bool:
        """Whether any of these keyed hashes belongs to an erased user or session."""
        query = select(erasures.c.subject_hash).where(erasures.c.subject_hash.in_(subject_hashes))
        async with self.engine.connect() as conn:
            return (await conn.execute(query.limit(1))).first() is not None

    async def record_batch(self, batch: BatchRecord) -> bool:
        """Write a batch's chunk row, session counters and signals in one transaction.

        Returns False, writing nothing, when (session_id, seq) is already there.
        """
        async with self.engine.begin() as conn:
            inserted = await conn.execute(
                self._insert(chunks)
                .values(
                    session_id=batch.session_id,
                    seq=batch.seq,
                    blob_key=batch.blob_key,
                    first_ts=batch.first_ts,
                    last_ts=batch.last_ts,
                    event_count=batch.event_count,
                    byte_count=batch.byte_count,
                    received_at=batch.received_at,
                )
                .on_conflict_do_nothing(index_elements=["session_id", "seq"])
            )
            if inserted.rowcount == 0:
                return False
            await conn.execute(self._upsert_session(batch))
            if batch.signals:
                await conn.execute(
                    insert(signals),
                    [
                        {
                            "session_id": batch.session_id,
                            "seq": batch.seq,
                            "kind": s.kind,
                            "ts": s.ts,
                            "url": s.data.get("url") if s.kind == "page_view" else None,
                            "data": s.data,
                        }
                        for s in batch.signals
                    ],
                )
        return True

    def _upsert_session(self, batch: BatchRecord) -> Any:
        counts = dict.fromkeys(_COUNTERS.values(), 0)
        first_error_at: int | None = None
        for signal in batch.signals:
            column = _COUNTERS.get(signal.kind)
            if column:
                counts[column] += 1
            is_error = signal.kind == "console_error"
            if is_error and (first_error_at is None or signal.ts < first_error_at):
                first_error_at = signal.ts
        has_events = batch.first_ts is not None and batch.last_ts is not None
        values = {
            "id": batch.session_id,
            "user_id": batch.user_id,
            "started_at": batch.first_ts if has_events else batch.received_at,
            "ended_at": batch.last_ts if has_events else batch.received_at,
            "first_error_at": first_error_at,
            "received_first_at": batch.received_at,
            "received_last_at": batch.received_at,
            "final": batch.final,
            "chunk_count": 1,
            "byte_count": batch.byte_count,
            "event_count": batch.event_count,
            **counts,
        }
        statement = self._insert(sessions).values(**values)
        new, old = statement.excluded, sessions.c
        update: dict[str, Any] = {
            "user_id": func.coalesce(new.user_id, old.user_id),
            "received_last_at": case(
                (new.received_last_at > old.received_last_at, new.received_last_at),
                else_=old.received_last_at,
            ),
            "final": or_(old.final, new.final),
            "first_error_at": case(
                (old.first_error_at.is_(None), new.first_error_at),
                (
                    and_(new.first_error_at.is_not(None), new.first_error_at < old.first_error_at),
                    new.first_error_at,
                ),
                else_=old.first_error_at,
            ),
        }
        for name in ("chunk_count", "byte_count", "event_count", *counts):
            update[name] = old[name] + new[name]
        if has_events:
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
        query: Select[Any] = select(sessions)
        if filters.user_id is not None:
            query = query.where(sessions.c.user_id == filters.user_id)
        if filters.has_errors is not None:
            query = query.where((sessions.c.error_count > 0) == filters.has_errors)
        if filters.has_rage_clicks is not None:
            query = query.where((sessions.c.rage_click_count > 0) == filters.has_rage_clicks)
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
        query = query.limit(filters.limit)
        async with self.engine.connect() as conn:
            return [_session_record(row) for row in await conn.execute(query)]

    async def pages(self, session_ids: Sequence[str]) -> dict[str, list[str]]:
        """Page-view URLs of each session, in visit order."""
        result: dict[str, list[str]] = {sid: [] for sid in session_ids}
        if not session_ids:
            return result
        query = (
            select(signals.c.session_id, signals.c.url)
            .where(signals.c.session_id.in_(session_ids), signals.c.kind == "page_view")
            .order_by(signals.c.session_id, signals.c.ts, signals.c.id)
        )
        async with self.engine.connect() as conn:
            for session_id, url in await conn.execute(query):
                result[session_id].append(url)
        return result

    async def signals(
        self, session_id: str, kinds: Sequence[str] | None = None
    ) -> list[SignalRecord]:
        """A session's derived signals in time order."""
        query = select(signals.c.kind, signals.c.ts, signals.c.seq, signals.c.data).where(
            signals.c.session_id == session_id
        )
        if kinds:
            query = query.where(signals.c.kind.in_(kinds))
        query = query.order_by(signals.c.ts, signals.c.id)
        async with self.engine.connect() as conn:
            return [
                SignalRecord(kind=kind, ts=ts, seq=seq, data=data)
                for kind, ts, seq, data in await conn.execute(query)
            ]

    async def chunk_keys(self, session_id: str) -> list[str]:
        """Blob keys of a session's chunks in recording order (seq)."""
        query = (
            select(chunks.c.blob_key)
            .where(chunks.c.session_id == session_id)
            .order_by(chunks.c.seq)
        )
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    # -- erasure and expiry ---------------------------------------------------------------

    async def session_ids_of_user(self, user_id: str) -> list[str]:
        """Every session recorded under this user ID."""
        query = select(sessions.c.id).where(sessions.c.user_id == user_id)
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

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

    async def delete_sessions(
        self, session_ids: Sequence[str], tombstones: Sequence[str] = (), at: int = 0
    ) -> None:
        """Delete sessions with their chunk rows and signals; record tombstones in the same step."""
        async with self.engine.begin() as conn:
            await self._delete_sessions(conn, session_ids)
            if tombstones:
                await conn.execute(
                    self._insert(erasures)
                    .values([{"subject_hash": h, "erased_at": at} for h in tombstones])
                    .on_conflict_do_nothing(index_elements=["subject_hash"])
                )

    @staticmethod
    async def _delete_sessions(conn: AsyncConnection, session_ids: Sequence[str]) -> None:
        # Chunked so PostgreSQL/SQLite parameter limits are never reached.
        ids = list(session_ids)
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            await conn.execute(delete(signals).where(signals.c.session_id.in_(part)))
            await conn.execute(delete(chunks).where(chunks.c.session_id.in_(part)))
            await conn.execute(delete(sessions).where(sessions.c.id.in_(part)))

    async def ping(self) -> None:
        """Raise if the database does not answer."""
        async with self.engine.connect() as conn:
            await conn.execute(select(1))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
