"""Viewer-token revocations and the audit trail of token uses."""

from __future__ import annotations

from typing import cast

import msgspec
from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from service.storage.models import RevokedTokenRow, TokenUseRow

__all__ = ["TokenStore", "TokenUseRecord"]

revoked = cast(Table, RevokedTokenRow.__table__)
uses = cast(Table, TokenUseRow.__table__)


class TokenUseRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One recorded use of a viewer token."""

    jti: str
    session_id: str
    ticket: str | None
    used_at: int
    ip: str | None
    user_agent: str | None
    what: str


def _jti_subject(jti: str) -> str:
    return f"jti:{jti}"


def _ticket_subject(ticket: str) -> str:
    return f"tkt:{ticket}"


class TokenStore:
    """Revocation lists by jti and by ticket, and the who-viewed-what log."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def revoke(self, *, jti: str | None = None, ticket: str | None = None, at: int) -> None:
        """Refuse a token (by jti) or every token bound to a ticket from now on."""
        subjects = [_jti_subject(jti)] if jti else []
        subjects += [_ticket_subject(ticket)] if ticket else []
        if not subjects:
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                self._insert(revoked)
                .values([{"subject": s, "revoked_at": at} for s in subjects])
                .on_conflict_do_nothing(index_elements=["subject"])
            )

    async def is_revoked(self, jti: str, ticket: str | None) -> bool:
        """Whether this token, or its ticket, was revoked."""
        subjects = [_jti_subject(jti)] + ([_ticket_subject(ticket)] if ticket else [])
        query = select(revoked.c.subject).where(revoked.c.subject.in_(subjects)).limit(1)
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).first() is not None

    async def record_use(self, use: TokenUseRecord) -> None:
        """Append one use to the audit trail."""
        async with self.engine.begin() as conn:
            await conn.execute(uses.insert().values(**msgspec.structs.asdict(use)))

    async def uses_of_session(self, session_id: str, limit: int = 200) -> list[TokenUseRecord]:
        """The newest uses of tokens for a session."""
        query = (
            select(*(uses.c[name] for name in TokenUseRecord.__struct_fields__))
            .where(uses.c.session_id == session_id)
            .order_by(uses.c.used_at.desc(), uses.c.id.desc())
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [TokenUseRecord(**row._mapping) for row in await conn.execute(query)]
