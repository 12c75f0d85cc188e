"""Retention: which sessions are past their keep-by date, or outlived an erasure, and removing
them."""

from __future__ import annotations

from datetime import UTC, datetime

from service import clock
from service.sessions.erasure import ErasureKeys, purge_sessions
from service.storage.asset_layout import ASSETS_FOLDER, is_asset_hash
from service.storage.asset_store import AssetStore
from service.storage.blobs import BlobStore
from service.storage.chunk_layout import SESSIONS_FOLDER
from service.storage.session_store import SessionStore
from service.storage.ticket_store import TicketStore

__all__ = ["purge_erased_leftovers", "purge_expired", "purge_orphan_assets", "purge_orphan_chunks"]

DAY_MS = 24 * 3600 * 1000
# Deleted in slices so one purge never holds a long write lock on SQLite.
PURGE_SLICE = 200
# How far back `purge_erased_leftovers` looks for erasures: a day, so a purge that missed a few
# hourly runs still sees them.
ERASURE_RECHECK_MS = DAY_MS
# A batch is stamped when it arrives and committed a little later; one stamped shortly before
# an erasure can still be committed after it.
_ARRIVAL_MARGIN_MS = 10 * 60 * 1000
# An asset copy is written to the blob store just before its row: one without a row is left
# alone this long, so a copy being recorded right now is never taken for an orphan.
ORPHAN_ASSET_GRACE_MS = 3600 * 1000


async def purge_expired(
    store: SessionStore,
    blobs: BlobStore,
    retention_days: int,
    now_ms: int | None = None,
    ticket_store: TicketStore | None = None,
) -> int:
    """Remove every session whose last batch arrived more than `retention_days` ago.

    With `ticket_store`, the records of reports written (or given up) that long ago go too: their
    sessions are gone, so no retry could need them. Returns how many sessions went.
    """
    now = clock.now_ms() if now_ms is None else now_ms
    cutoff = now - retention_days * DAY_MS
    removed = 0
    while ids := await store.expired_session_ids(cutoff, PURGE_SLICE):
        await purge_sessions(store, blobs, ids, [])
        removed += len(ids)
    if ticket_store is not None:
        await ticket_store.purge_settled(cutoff)
    return removed


async def purge_orphan_chunks(
    store: SessionStore, blobs: BlobStore, retention_days: int, now_ms: int | None = None
) -> int:
    """Remove the chunk folders of sessions that have no row, once their newest chunk is
    older than the retention period. Returns how many folders went.

    Chunks reach the blob store from the chunk journal, after their rows (see
    `service.ingest.chunk_mover`). A chunk with no session row is one whose session was purged while
    it was being moved, when deleting it again failed too, or one that an earlier version,
    which stored chunks before their rows, stored for a batch whose rows were never written.
    Only this finds them. A chunk stored now would be a new file, so a folder that has not
    changed for the whole retention period has nothing on its way into it.
    """
    now = clock.now_ms() if now_ms is None else now_ms
    cutoff = datetime.fromtimestamp((now - retention_days * DAY_MS) / 1000, tz=UTC)
    folders = {
        folder.removeprefix(SESSIONS_FOLDER + "/"): folder
        for folder in await blobs.list_folders(SESSIONS_FOLDER)
    }
    with_rows = await store.existing_session_ids(list(folders))
    removed = 0
    for session_id, folder in folders.items():
        if session_id in with_rows:
            continue
        newest = await blobs.last_written(folder)
        if newest is not None and newest < cutoff:
            await blobs.delete_prefix(folder)
            removed += 1
    return removed


async def purge_erased_leftovers(
    store: SessionStore, blobs: BlobStore, keys: ErasureKeys, now_ms: int | None = None
) -> int:
    """Remove sessions whose ID or user was erased in the last day but that are still stored.

    Ingest checks for a tombstone again after each commit, so that a batch written while its
    user was being erased removes its session itself. A crash between that commit and that
    check leaves the session behind; this finds it. Only sessions that received a batch since
    shortly before the oldest recent erasure are looked at. Returns how many sessions went.
    """
    now = clock.now_ms() if now_ms is None else now_ms
    tombstones = await store.tombstones_since(now - ERASURE_RECHECK_MS)
    if not tombstones:
        return 0
    since = min(tombstones.values()) - _ARRIVAL_MARGIN_MS
    leftovers: list[str] = []
    after: tuple[int, str] | None = None
    while page := await store.sessions_received_since(since, after, PURGE_SLICE):
        for _, session_id, user_id in page:
            erased = keys.session(session_id) in tombstones or (
                user_id is not None and keys.user(user_id) in tombstones
            )
            if erased:
                leftovers.append(session_id)
        after = page[-1][:2]
    for start in range(0, len(leftovers), PURGE_SLICE):
        part = leftovers[start : start + PURGE_SLICE]
        await purge_sessions(store, blobs, part, [keys.session(sid) for sid in part])
    return len(leftovers)


async def purge_orphan_assets(
    store: SessionStore, blobs: BlobStore, now_ms: int | None = None
) -> int:
    """Remove asset copies in the blob store that have no row, once older than an hour.

    The collector stores a copy, then records it; a process stopped in between leaves the copy
    without a row, which nothing else would find (erasure and the collector delete copies by
    their rows). Returns how many went.
    """
    now = clock.now_ms() if now_ms is None else now_ms
    cutoff = datetime.fromtimestamp((now - ORPHAN_ASSET_GRACE_MS) / 1000, tz=UTC)
    assets = AssetStore(store.engine)
    removed = 0
    old_enough: dict[str, str] = {}  # hash -> key

    async def settle() -> int:
        kept = await assets.existing_assets(list(old_enough))
        orphans = [key for asset_hash, key in old_enough.items() if asset_hash not in kept]
        for key in orphans:
            await blobs.delete(key)
        old_enough.clear()
        return len(orphans)

    async for key, written in blobs.list_written(ASSETS_FOLDER + "/"):
        name = key.rsplit("/", 1)[-1]
        if is_asset_hash(name) and written < cutoff:
            old_enough[name] = key
        if len(old_enough) >= PURGE_SLICE:
            removed += await settle()
    return removed + await settle()
