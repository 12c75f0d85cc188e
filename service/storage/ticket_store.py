"""SQL of ticket attachments: the idempotency record, the job's lease, and the outbox; and the
attempts at opening an issue."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal, cast

import msgspec
from sqlalchemy import Table, and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.storage.models import IssueAttemptRow, TicketAttachmentRow

__all__ = ["AttachmentRecord", "AttachmentState", "TicketStore"]

attachments = cast(Table, TicketAttachmentRow.__table__)
issue_attempts = cast(Table, IssueAttemptRow.__table__)

AttachmentState = Literal["pending", "written", "failed"]


class AttachmentRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One (provider, ticket, session) report and how far it got."""

    job_id: str
    provider: str
    ticket_id: str
    session_id: str
    """Empty for a "no recording found" note."""
    user_id: str | None
    state: AttachmentState
    ticket_created_at: int | None
    requested_at: int
    updated_at: int
    enqueued_at: int | None
    attempts: int
    write_uncertain: bool
    """An earlier attempt may have reached the tracker: look for its write before writing."""
    lease_until: int | None
    remote: dict[str, Any] | None
    error: str | None
    written_at: int | None


def _record(row: Any) -> AttachmentRecord:
    values = dict(row._mapping)
    return AttachmentRecord(**{**values, "write_uncertain": bool(values["write_uncertain"])})


class TicketStore:
    """All SQL about ticket attachments, on one async engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        dialect = engine.dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self._autocommit = dialect == "postgresql"

    @contextlib.asynccontextmanager
    async def _single_statement(self) -> AsyncIterator[AsyncConnection]:
        """A connection for one statement that writes, committed when the block ends.

        On PostgreSQL in autocommit mode: a lone statement is a transaction of its own there,
        and BEGIN and COMMIT would be two more round trips (an attach job runs three such
        statements). On SQLite in a transaction, as any write.
        """
        if not self._autocommit:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self.engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")

    async def get(self, job_id: str) -> AttachmentRecord | None:
        """One attachment by its job id."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(attachments).where(attachments.c.job_id == job_id))
            ).first()
        return _record(row) if row else None

    async def request(
        self,
        job_id: str,
        provider: str,
        ticket_id: str,
        session_id: str,
        ticket_created_at: int | None,
        now: int,
        user_id: str | None = None,
    ) -> tuple[AttachmentRecord, bool]:
        """Record a request to attach; returns the record and whether it needs enqueueing.

        A new request is pending and not yet enqueued. Asking again for a report that failed
        makes it pending again (someone wants it retried); a written one stays written.
        """
        async with self.engine.begin() as conn:
            await conn.execute(
                self._insert(attachments)
                .values(
                    job_id=job_id,
                    provider=provider,
                    ticket_id=ticket_id,
                    session_id=session_id,
                    user_id=user_id,
                    state="pending",
                    ticket_created_at=ticket_created_at,
                    requested_at=now,
                    updated_at=now,
                    enqueued_at=None,
                    attempts=0,
                )
                .on_conflict_do_nothing(index_elements=["job_id"])
            )
            await conn.execute(
                update(attachments)
                .where(attachments.c.job_id == job_id, attachments.c.state == "failed")
                .values(state="pending", enqueued_at=None, updated_at=now)
            )
            row = (
                await conn.execute(select(attachments).where(attachments.c.job_id == job_id))
            ).one()
        record = _record(row)
        return record, record.state == "pending"

    async def record_written(
        self,
        job_id: str,
        provider: str,
        ticket_id: str,
        session_id: str,
        user_id: str | None,
        remote: dict[str, Any],
        now: int,
    ) -> None:
        """Record that a ticket already carries a session's report (it was created with it).

        A request for that report that is still pending (the new issue's own webhook came
        first) turns written: its job then writes nothing.
        """
        written = {"state": "written", "remote": remote, "written_at": now, "updated_at": now}
        insert = self._insert(attachments).values(
            job_id=job_id,
            provider=provider,
            ticket_id=ticket_id,
            session_id=session_id,
            user_id=user_id,
            requested_at=now,
            enqueued_at=now,
            attempts=1,
            **written,
        )
        async with self.engine.begin() as conn:
            await conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["job_id"],
                    set_=written,
                    where=attachments.c.state != "written",
                )
            )

    async def written_for_session(self, provider: str, session_id: str) -> list[AttachmentRecord]:
        """The provider's tickets that carry the session's report, oldest first."""
        query = (
            select(attachments)
            .where(
                attachments.c.provider == provider,
                attachments.c.session_id == session_id,
                attachments.c.state == "written",
            )
            .order_by(attachments.c.written_at)
        )
        async with self.engine.connect() as conn:
            return [_record(row) for row in await conn.execute(query)]

    async def purge_settled(self, before: int) -> int:
        """Forget written and failed reports last touched before `before` (ms); pending ones
        stay (the outbox still owes them). Attempts at opening an issue that old go too: their
        jobs are long over. Returns how many reports went."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(attachments).where(
                    attachments.c.state.in_(("written", "failed")),
                    attachments.c.updated_at < before,
                )
            )
            await conn.execute(delete(issue_attempts).where(issue_attempts.c.updated_at < before))
        return int(result.rowcount or 0)

    async def start_issue_attempt(
        self, job_id: str, provider: str, session_id: str, now: int
    ) -> bool:
        """Count an attempt at opening the issue, about to start, as one that may open it.

        Returns whether an earlier attempt may have opened it (then the plugin looks first).
        """
        async with self.engine.begin() as conn:
            earlier = (
                await conn.execute(
                    select(issue_attempts.c.write_uncertain).where(
                        issue_attempts.c.job_id == job_id
                    )
                )
            ).scalar()
            await conn.execute(
                self._insert(issue_attempts)
                .values(
                    job_id=job_id,
                    provider=provider,
                    session_id=session_id,
                    attempts=1,
                    write_uncertain=True,
                    updated_at=now,
                )
                .on_conflict_do_update(
                    index_elements=["job_id"],
                    set_={
                        "attempts": issue_attempts.c.attempts + 1,
                        "write_uncertain": True,
                        "updated_at": now,
                    },
                )
            )
        return bool(earlier)

    async def issue_attempt_opened_nothing(self, job_id: str, now: int) -> None:
        """No attempt so far can have opened the issue (the caller knows the earlier ones were
        certain and this one's error says so): the next attempt need not look for it."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(issue_attempts)
                .where(issue_attempts.c.job_id == job_id)
                .values(write_uncertain=False, updated_at=now)
            )

    async def forget_issue_attempts(self, job_id: str) -> None:
        """The issue is recorded (as a written report): its attempts no longer matter."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(issue_attempts).where(issue_attempts.c.job_id == job_id))

    async def mark_enqueued(self, job_id: str, now: int) -> None:
        """The job is in the queue (the outbox relay no longer needs to enqueue it)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(attachments)
                .where(attachments.c.job_id == job_id)
                .values(enqueued_at=now, updated_at=now)
            )

    async def outbox(self, stale_before: int, limit: int) -> list[AttachmentRecord]:
        """Pending attachments never enqueued, or enqueued before `stale_before` (ms).

        The second kind is checked against the queue by the relay: a Redis that lost its data
        lost their jobs.
        """
        query = (
            select(attachments)
            .where(
                attachments.c.state == "pending",
                or_(
                    attachments.c.enqueued_at.is_(None),
                    attachments.c.enqueued_at < stale_before,
                ),
            )
            .order_by(attachments.c.requested_at)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [_record(row) for row in await conn.execute(query)]

    async def claim(self, job_id: str, now: int, lease_ms: int) -> AttachmentRecord | None:
        """Take the lease of an unwritten attachment; None when written or leased by another.

        One statement, which returns the row it leased.
        """
        async with self._single_statement() as conn:
            row = (
                await conn.execute(
                    update(attachments)
                    .where(
                        attachments.c.job_id == job_id,
                        attachments.c.state != "written",
                        or_(attachments.c.lease_until.is_(None), attachments.c.lease_until < now),
                    )
                    .values(lease_until=now + lease_ms, updated_at=now)
                    .returning(*attachments.c)
                )
            ).first()
        return _record(row) if row else None

    async def start_attempt(self, job_id: str, now: int) -> None:
        """Count a remote write about to start (before it starts: it may land and then fail,
        or the worker may die), and take it as one that may have written until its error says
        otherwise."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(attachments)
                .where(attachments.c.job_id == job_id)
                .values(attempts=attachments.c.attempts + 1, write_uncertain=True, updated_at=now)
            )

    async def release_leases(self, now: int) -> int:
        """Release every unexpired lease of an unwritten attachment; how many there were.

        Only for a process that knows no other worker is alive (the embedded queue at start):
        the leases are those of jobs a stopped process left under way, which run again now.
        """
        async with self.engine.begin() as conn:
            released = await conn.execute(
                update(attachments)
                .where(attachments.c.lease_until > now, attachments.c.state != "written")
                .values(lease_until=None, updated_at=now)
            )
        return int(released.rowcount or 0)

    async def mark_written(self, job_id: str, remote: dict[str, Any], now: int) -> None:
        """The tracker has the report: record what it created and release the lease."""
        async with self._single_statement() as conn:
            await conn.execute(
                update(attachments)
                .where(attachments.c.job_id == job_id)
                .values(
                    state="written",
                    remote=remote,
                    error=None,
                    written_at=now,
                    updated_at=now,
                    lease_until=None,
                )
            )

    async def record_error(
        self, job_id: str, error: str, failed: bool, now: int, *, wrote_nothing: bool = False
    ) -> None:
        """An attempt failed: keep the error; `failed` gives up (else a retry follows).

        `wrote_nothing`: no attempt so far can have reached the tracker (the caller knows the
        earlier ones were certain and this one's error says it did not write), so the next
        attempt writes without looking first.
        """
        values: dict[str, Any] = {"error": error, "updated_at": now, "lease_until": None}
        if failed:
            values["state"] = "failed"
        if wrote_nothing:
            values["write_uncertain"] = False
        async with self.engine.begin() as conn:
            await conn.execute(
                update(attachments)
                .where(attachments.c.job_id == job_id, attachments.c.state != "written")
                .values(**values)
            )

    async def reopen(self, job_ids: Sequence[str], now: int) -> None:
        """Failed attachments requeued by an admin are pending again."""
        if not job_ids:
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                update(attachments)
                .where(
                    and_(attachments.c.job_id.in_(list(job_ids)), attachments.c.state == "failed")
                )
                .values(state="pending", updated_at=now)
            )
