"""Erasure of a user's recordings, and the keyed hashes that keep erased users from coming back."""

from __future__ import annotations

import hashlib
import hmac

from service.clock import now_ms
from service.storage.blobs import BlobStore
from service.storage.chunk_layout import session_prefix
from service.storage.session_store import SessionStore

__all__ = ["ErasureKeys", "erase_user", "lift_user_erasure", "purge_sessions"]


class ErasureKeys:
    """Keyed hashes of erased IDs: enough to refuse new batches, useless to recover the IDs."""

    def __init__(self, secret_key: str) -> None:
        self._key = hashlib.sha256(b"replaydesk-erasure:" + secret_key.encode()).digest()

    def user(self, user_id: str) -> str:
        """Tombstone hash of a user ID."""
        return self._digest("user:" + user_id)

    def session(self, session_id: str) -> str:
        """Tombstone hash of a session ID."""
        return self._digest("session:" + session_id)

    def _digest(self, subject: str) -> str:
        return hmac.new(self._key, subject.encode(), hashlib.sha256).hexdigest()


async def purge_sessions(
    store: SessionStore,
    blobs: BlobStore,
    session_ids: list[str],
    tombstones: list[str],
    user_id: str | None = None,
) -> None:
    """Delete sessions' blobs, then their rows (with tombstones), so no orphan keeps data.

    Their chunk journal entries go first, and the blobs are deleted again after the rows: a
    chunk that a move read from the journal before it was removed (see `service.ingest.chunk_mover`)
    and stored after the first deletion goes with the second, or, stored even later, is
    deleted by the move itself, which then finds the session's rows gone. With `user_id`,
    every other record of that user is forgotten in the same step. `tombstones` are the keyed
    hashes of these session IDs. With tombstones or a user (an erasure, not an expiry)
    SQLite's write-ahead log is truncated afterwards.
    """
    await store.forget_journal_of_sessions(session_ids)
    await _delete_blobs(blobs, session_ids)
    await store.delete_sessions(session_ids, tombstones, at=now_ms(), user_id=user_id)
    await _delete_blobs(blobs, session_ids)
    if tombstones or user_id is not None:
        # Erased, not expired: the deleted rows' old page versions leave SQLite's log now
        # (secure_delete has zeroed them in the database file). When the log stays busy the
        # erasure stands all the same; the checkpoints that follow, and the hourly retention
        # job, truncate it.
        await store.truncate_log()


async def _delete_blobs(blobs: BlobStore, session_ids: list[str]) -> None:
    for session_id in session_ids:
        try:
            await blobs.delete_prefix(session_prefix(session_id))
        except ValueError:
            # A session ID no blob key can hold (a control character, `\`, `#`, a `..`
            # segment), which an earlier ingest let through: the blob store refuses to write
            # such keys as it refuses this prefix, so none of its chunks was ever stored there.
            continue


async def erase_user(store: SessionStore, blobs: BlobStore, keys: ErasureKeys, user_id: str) -> int:
    """Erase every session and blob of a user and refuse their future batches.

    Returns how many sessions were erased (0 is fine: the tombstone is still recorded).
    """
    user_tombstone = keys.user(user_id)
    # The tombstone comes first: from then on the user's batches are refused, and a batch that
    # was already past that check finds the tombstone after its own write and removes its
    # session itself (`Ingestor`). So no session can appear after the list below is read.
    await store.add_tombstones([user_tombstone], at=now_ms(), kind="user")
    session_ids = await store.session_ids_of_user(user_id)
    # Sessions with batches acknowledged but not processed yet are erased as well.
    queued = await store.inbox.queued_session_ids(user_id)
    session_ids += [sid for sid in queued if sid not in set(session_ids)]
    tombstones = [keys.session(sid) for sid in session_ids]
    await purge_sessions(store, blobs, session_ids, tombstones, user_id)
    return len(session_ids)


async def lift_user_erasure(store: SessionStore, keys: ErasureKeys, user_id: str) -> bool:
    """Remove a user's tombstone, so their batches are stored again; whether there was one.

    What the erasure deleted stays deleted, and so do the tombstones of the sessions it
    erased: a browser still sending one of those sessions is refused until it starts another.
    """
    return await store.lift_tombstone(keys.user(user_id))
