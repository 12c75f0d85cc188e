"""Asset copies in SQL: what each session referenced, which copies exist, the collector's
progress, and the copies no session uses any more."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import msgspec
from sqlalchemy import Table, and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.storage.models import (
    AssetRow,
    AssetScanRow,
    ChunkJournalRow,
    ChunkRow,
    SessionAssetRow,
    SessionRow,
)

__all__ = [
    "AssetCopy",
    "AssetScan",
    "AssetStore",
    "ChunkSource",
    "SessionAssetEntry",
    "StoredAsset",
]

assets = cast(Table, AssetRow.__table__)
session_assets = cast(Table, SessionAssetRow.__table__)
asset_scans = cast(Table, AssetScanRow.__table__)
sessions = cast(Table, SessionRow.__table__)
chunks = cast(Table, ChunkRow.__table__)
chunk_journal = cast(Table, ChunkJournalRow.__table__)

# Statements stay under SQLite's and PostgreSQL's parameter limits.
_PART = 500


class AssetScan(msgspec.Struct, frozen=True, kw_only=True):
    """How far the collector has read one session (a session never scanned starts at -1)."""

    session_id: str
    scanned_seq: int = -1
    page_href: str | None = None
    fetched_bytes: int = 0
    ingest_key: str | None = None
    """The created ingest key that sent the session (None: a configured one): whose origins
    its copies may come from. Noted on the session, not by the scan."""


class ChunkSource(msgspec.Struct, frozen=True, kw_only=True):
    """One stored batch: its blob key, its bytes while in the chunk journal, its first time."""

    seq: int
    blob_key: str
    journaled: bytes | None
    first_ts: int | None


class StoredAsset(msgspec.Struct, frozen=True, kw_only=True):
    """The bytes' identity of one asset copy."""

    hash: str
    content_type: str
    size: int


class SessionAssetEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One URL a session referenced: its copy, or why there is none."""

    url: str
    url_hash: str
    asset: StoredAsset | None
    status: str
    first_seen_at: int


class AssetCopy(msgspec.Struct, frozen=True, kw_only=True):
    """What the viewer needs of one URL: its copy's hash and type, or none."""

    url: str
    hash: str | None
    content_type: str | None
    status: str


class AssetStore:
    """The SQL side of session assets."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        dialect = engine.dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert

    async def sessions_to_scan(
        self, received_since: int, rescan_margin: int, limit: int, now: int
    ) -> list[AssetScan]:
        """Sessions with a batch received since `received_since` and since (a margin before)
        their last scan, or never scanned, that no collector holds; the least recently scanned
        first, so every busy session has its turn.

        A batch is stamped when it arrives and committed a little later, so a session is
        looked at again until the margin has passed since its last scan.
        """
        scan = asset_scans.c
        query = (
            select(sessions.c.id, scan.scanned_seq, scan.page_href, scan.fetched_bytes)
            .outerjoin(asset_scans, scan.session_id == sessions.c.id)
            .where(
                sessions.c.received_last_at >= received_since,
                or_(
                    scan.session_id.is_(None),
                    sessions.c.received_last_at > scan.scanned_at - rescan_margin,
                ),
                or_(scan.claimed_until.is_(None), scan.claimed_until < now),
            )
            .order_by(func.coalesce(scan.scanned_at, 0), sessions.c.received_last_at, sessions.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            AssetScan(
                session_id=session_id,
                scanned_seq=-1 if seq is None else seq,
                page_href=href,
                fetched_bytes=fetched or 0,
            )
            for session_id, seq, href, fetched in rows
        ]

    async def claim(self, session_id: str, now: int, until: int) -> bool:
        """Hold the session for one scan until `until`, unless another collector holds it."""
        scan = asset_scans.c
        async with self.engine.begin() as conn:
            taken = await conn.execute(
                update(asset_scans)
                .where(
                    scan.session_id == session_id,
                    or_(scan.claimed_until.is_(None), scan.claimed_until < now),
                )
                .values(claimed_until=until)
            )
            if taken.rowcount == 1:
                return True
            # Never scanned: its row, claimed. Another collector's insert wins the race.
            inserted = await conn.execute(
                self._insert(asset_scans)
                .values(
                    session_id=session_id,
                    scanned_seq=-1,
                    page_href=None,
                    fetched_bytes=0,
                    scanned_at=0,
                    claimed_until=until,
                )
                .on_conflict_do_nothing(index_elements=["session_id"])
                .returning(scan.session_id)
            )
            return inserted.first() is not None

    async def scan_of(self, session_id: str) -> AssetScan:
        """How far the session has been read, as last recorded (from the start if never)."""
        scan = asset_scans.c
        query = (
            select(sessions.c.ingest_key, scan.scanned_seq, scan.page_href, scan.fetched_bytes)
            .outerjoin(asset_scans, scan.session_id == sessions.c.id)
            .where(sessions.c.id == session_id)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return AssetScan(session_id=session_id)
        key, seq, href, fetched = row
        return AssetScan(
            session_id=session_id,
            scanned_seq=-1 if seq is None else seq,
            page_href=href,
            fetched_bytes=fetched or 0,
            ingest_key=key,
        )

    async def count_entries(self, session_id: str) -> int:
        """How many URLs the session has entries for."""
        query = (
            select(func.count())
            .select_from(session_assets)
            .where(session_assets.c.session_id == session_id)
        )
        async with self.engine.connect() as conn:
            return int(await conn.scalar(query) or 0)

    async def release(self, session_id: str) -> None:
        """Let go of a session whose scan did not finish: any collector may take it again."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(asset_scans)
                .where(asset_scans.c.session_id == session_id)
                .values(claimed_until=None)
            )

    async def chunks_after(self, session_id: str, seq: int) -> list[ChunkSource]:
        """The session's batches after `seq`, in order, each in the blob store or (bytes
        given) still in the chunk journal."""
        journal = chunk_journal.c
        query = (
            select(chunks.c.seq, chunks.c.blob_key, journal.data, chunks.c.first_ts)
            .outerjoin(
                chunk_journal,
                and_(
                    journal.session_id == chunks.c.session_id, journal.blob_key == chunks.c.blob_key
                ),
            )
            .where(chunks.c.session_id == session_id, chunks.c.seq > seq)
            .order_by(chunks.c.seq)
        )
        async with self.engine.connect() as conn:
            return [
                ChunkSource(seq=s, blob_key=key, journaled=data, first_ts=first)
                for s, key, data, first in await conn.execute(query)
            ]

    async def known_url_hashes(self, session_id: str, url_hashes: Sequence[str]) -> set[str]:
        """Which of these URLs (by hash) the session already has an entry for."""
        found: set[str] = set()
        async with self.engine.connect() as conn:
            for part in _parts(url_hashes):
                query = select(session_assets.c.url_hash).where(
                    session_assets.c.session_id == session_id,
                    session_assets.c.url_hash.in_(part),
                )
                found.update(await conn.scalars(query))
        return found

    async def record(
        self,
        session_id: str,
        entries: Sequence[SessionAssetEntry],
        scan: AssetScan | None,
        at: int,
    ) -> bool:
        """Record a scan's entries (and their new copies) and, at its end, how far it read
        (`scan`, which also lets go of the session), in one step. An entry recorded twice
        keeps its first record.

        False, recording nothing, when the session is gone (erased or expired while it was
        being scanned): its copies must not outlive it.
        """
        async with self.engine.begin() as conn:
            # Holding the session's row (PostgreSQL; SQLite's writer lock does the same), so
            # an erasure deletes these entries after they are written, never before.
            alive = await conn.scalar(
                select(sessions.c.id).where(sessions.c.id == session_id).with_for_update()
            )
            if alive is None:
                return False
            copies = {e.asset.hash: e.asset for e in entries if e.asset is not None}
            if copies:
                await conn.execute(
                    self._insert(assets)
                    .values(
                        [
                            {
                                "hash": c.hash,
                                "content_type": c.content_type,
                                "size": c.size,
                                "created_at": at,
                            }
                            for c in copies.values()
                        ]
                    )
                    .on_conflict_do_nothing(index_elements=["hash"])
                )
            for part in _parts(entries):
                await conn.execute(
                    self._insert(session_assets)
                    .values(
                        [
                            {
                                "session_id": session_id,
                                "url_hash": e.url_hash,
                                "url": e.url,
                                "asset_hash": None if e.asset is None else e.asset.hash,
                                "status": e.status,
                                "first_seen_at": e.first_seen_at,
                            }
                            for e in part
                        ]
                    )
                    .on_conflict_do_nothing(index_elements=["session_id", "url_hash"])
                )
            if scan is None:
                return True
            values = {
                "scanned_seq": scan.scanned_seq,
                "page_href": scan.page_href,
                "fetched_bytes": scan.fetched_bytes,
                "scanned_at": at,
                "claimed_until": None,
            }
            await conn.execute(
                self._insert(asset_scans)
                .values(session_id=session_id, **values)
                .on_conflict_do_update(index_elements=["session_id"], set_=values)
            )
        return True

    async def session_assets(
        self, session_id: str, seen_until: int | None = None
    ) -> list[AssetCopy]:
        """Every URL the session referenced (those first seen by `seen_until`, when given),
        with its copy's hash and type or the reason there is none; in URL order."""
        entry = session_assets.c
        query = (
            select(entry.url, entry.asset_hash, assets.c.content_type, entry.status)
            .outerjoin(assets, assets.c.hash == entry.asset_hash)
            .where(entry.session_id == session_id)
            .order_by(entry.url)
        )
        if seen_until is not None:
            query = query.where(entry.first_seen_at <= seen_until)
        async with self.engine.connect() as conn:
            return [
                AssetCopy(
                    url=url,
                    hash=asset_hash if content_type is not None else None,
                    content_type=content_type,
                    status=status,
                )
                for url, asset_hash, content_type, status in await conn.execute(query)
            ]

    async def asset_of_session(
        self, session_id: str, asset_hash: str, seen_until: int | None = None
    ) -> StoredAsset | None:
        """The copy `asset_hash` if the session references it (by `seen_until`), else None."""
        entry = session_assets.c
        query = (
            select(assets.c.hash, assets.c.content_type, assets.c.size)
            .join(session_assets, entry.asset_hash == assets.c.hash)
            .where(entry.session_id == session_id, assets.c.hash == asset_hash)
            .limit(1)
        )
        if seen_until is not None:
            query = query.where(entry.first_seen_at <= seen_until)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else StoredAsset(hash=row[0], content_type=row[1], size=row[2])

    async def asset_hashes_of_sessions(self, session_ids: Sequence[str]) -> set[str]:
        """The copies these sessions reference."""
        found: set[str] = set()
        async with self.engine.connect() as conn:
            for part in _parts(session_ids):
                query = (
                    select(session_assets.c.asset_hash)
                    .where(
                        session_assets.c.session_id.in_(part),
                        session_assets.c.asset_hash.is_not(None),
                    )
                    .distinct()
                )
                found.update(h for h in await conn.scalars(query) if h is not None)
        return found

    async def forget_unused(self, asset_hashes: Sequence[str]) -> list[str]:
        """Remove the rows of these copies that no session references any more; returns
        them, whose blobs are then to be deleted."""
        removed: list[str] = []
        async with self.engine.begin() as conn:
            for part in _parts(sorted(asset_hashes)):
                unused = await _unused(conn, part)
                if unused:
                    await conn.execute(delete(assets).where(assets.c.hash.in_(unused)))
                    removed += unused
        return removed

    async def unused_assets(self, created_before: int, limit: int) -> list[str]:
        """Copies created before then that no session references (left by a scan that raced
        an erasure): the periodic sweep's candidates."""
        query = (
            select(assets.c.hash)
            .where(
                assets.c.created_at < created_before,
                ~select(session_assets.c.asset_hash)
                .where(session_assets.c.asset_hash == assets.c.hash)
                .exists(),
            )
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return list(await conn.scalars(query))

    async def existing_assets(self, asset_hashes: Sequence[str]) -> set[str]:
        """Which of these copies have a row."""
        found: set[str] = set()
        async with self.engine.connect() as conn:
            for part in _parts(asset_hashes):
                found.update(
                    await conn.scalars(select(assets.c.hash).where(assets.c.hash.in_(part)))
                )
        return found

    async def count_assets(self) -> int:
        """How many copies are kept (all sessions)."""
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(assets)) or 0)


async def _unused(conn: AsyncConnection, asset_hashes: Sequence[str]) -> list[str]:
    used = select(session_assets.c.asset_hash).where(session_assets.c.asset_hash.in_(asset_hashes))
    still = {h for h in await conn.scalars(used) if h is not None}
    return [h for h in asset_hashes if h not in still]


def _parts(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i : i + _PART] for i in range(0, len(values), _PART)]
