"""API keys (stored as SHA-256) and ingest keys (public, with allowed origins) in the database."""

from __future__ import annotations

from typing import Literal, cast

import msgspec
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from service.storage.models import ApiKeyRow, IngestKeyRow

__all__ = ["ApiKeyRecord", "IngestKeyRecord", "KeyStore"]

api_keys = cast(Table, ApiKeyRow.__table__)
ingest_keys = cast(Table, IngestKeyRow.__table__)


class ApiKeyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An API key's public facts (never the key itself)."""

    id: str
    name: str
    created_at: int
    revoked_at: int | None
    scopes: list[str] | None
    """What the key may do; None: everything (a key created without scopes)."""


class IngestKeyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A public ingest key and the site origins allowed to use it."""

    key: str
    name: str
    allowed_origins: list[str]
    created_at: int
    revoked_at: int | None


class KeyStore:
    """Create, list, look up and revoke keys."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add_api_key(
        self, key_id: str, name: str, key_hash: str, at: int, scopes: list[str] | None = None
    ) -> None:
        """Store a new API key's hash, with its scopes (None: everything)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                api_keys.insert().values(
                    id=key_id, name=name, key_hash=key_hash, created_at=at, scopes=scopes
                )
            )

    async def live_api_key_scopes(self, key_hash: str) -> list[str] | Literal[False] | None:
        """The scopes of the unrevoked API key with this hash (an indexed, exact lookup): its
        list, None for a key with every right, False when no live key has this hash."""
        query = select(api_keys.c.scopes).where(
            api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return False if row is None else cast("list[str] | None", row.scopes)

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        """Every API key created with `replaydesk keys`, oldest first."""
        query = select(
            api_keys.c.id,
            api_keys.c.name,
            api_keys.c.created_at,
            api_keys.c.revoked_at,
            api_keys.c.scopes,
        ).order_by(api_keys.c.created_at)
        async with self.engine.connect() as conn:
            return [ApiKeyRecord(**row._mapping) for row in await conn.execute(query)]

    async def add_ingest_key(self, key: str, name: str, origins: list[str], at: int) -> None:
        """Store a new ingest key."""
        async with self.engine.begin() as conn:
            await conn.execute(
                ingest_keys.insert().values(
                    key=key, name=name, allowed_origins=origins, created_at=at
                )
            )

    async def live_ingest_key(self, key: str) -> IngestKeyRecord | None:
        """The unrevoked ingest key with this value, or None."""
        query = select(ingest_keys).where(
            ingest_keys.c.key == key, ingest_keys.c.revoked_at.is_(None)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return IngestKeyRecord(**row._mapping) if row else None

    async def list_ingest_keys(self) -> list[IngestKeyRecord]:
        """Every ingest key created with `replaydesk keys`, oldest first."""
        query = select(ingest_keys).order_by(ingest_keys.c.created_at)
        async with self.engine.connect() as conn:
            return [IngestKeyRecord(**row._mapping) for row in await conn.execute(query)]

    async def revoke(self, key_id_or_key: str, at: int) -> bool:
        """Revoke an API key (by id) or ingest key (by value). False when nothing matched."""
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id_or_key, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=at)
            )
            if done.rowcount:
                return True
            done = await conn.execute(
                update(ingest_keys)
                .where(ingest_keys.c.key == key_id_or_key, ingest_keys.c.revoked_at.is_(None))
                .values(revoked_at=at)
            )
            return bool(done.rowcount)
