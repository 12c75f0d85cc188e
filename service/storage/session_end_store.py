"""SQL of session-end notices: which ended sessions plugins have not been told about yet."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, delete, exists, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from service.storage.models import SessionEndNoticeRow, SessionRow

__all__ = ["SessionEndStore"]

notices = cast(Table, SessionEndNoticeRow.__table__)
sessions = cast(Table, SessionRow.__table__)


class SessionEndStore:
    """Finds ended sessions and records, once, that plugins were told."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        dialect = engine.dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert

    async def unnotified_ended(self, idle_before: int, since: int, limit: int) -> list[str]:
        """Sessions that ended (final, or no batch since `idle_before`) after `since`, untold."""
        query = (
            select(sessions.c.id)
            .where(
                sessions.c.received_last_at >= since,
                or_(sessions.c.final.is_(True), sessions.c.received_last_at < idle_before),
                ~exists().where(notices.c.session_id == sessions.c.id),
            )
            .order_by(sessions.c.received_last_at)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def claim_notice(self, session_id: str, now: int) -> bool:
        """Record that plugins are told about this session; False if someone already did."""
        async with self.engine.begin() as conn:
            inserted = await conn.execute(
                self._insert(notices)
                .values(session_id=session_id, notified_at=now)
                .on_conflict_do_nothing(index_elements=["session_id"])
            )
        return inserted.rowcount == 1

    async def forget_before(self, notified_before: int) -> None:
        """Drop notices older than the look-back window: those sessions are never looked at."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(notices).where(notices.c.notified_at < notified_before))
