"""Retention: which sessions are past their keep-by date, and removing them."""

from __future__ import annotations

import time

from service.erasure import purge_sessions
from service.storage.blobs import BlobStore
from service.storage.session_store import SessionStore
from service.storage.ticket_store import TicketStore

__all__ = ["purge_expired"]

# Deleted in slices so one purge never holds a long write lock on SQLite.
PURGE_SLICE = 200


async def purge_expired(
    store: SessionStore,
    blobs: BlobStore,
    retention_days: int,
    now_ms: int | None = None,
    tickets: TicketStore | None = None,
) -> int:
    """Remove every session whose last batch arrived more than `retention_days` ago.

    With `tickets`, the records of reports written (or given up) that long ago go too: their
    sessions are gone, so no retry could need them. Returns how many sessions went.
    """
    now = int(time.time() * 1000) if now_ms is None else now_ms
    cutoff = now - retention_days * 24 * 3600 * 1000
    removed = 0
    while ids := await store.expired_session_ids(cutoff, PURGE_SLICE):
        await purge_sessions(store, blobs, ids, [])
        removed += len(ids)
    if tickets is not None:
        await tickets.purge_settled(cutoff)
    return removed
