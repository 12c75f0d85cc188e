"""Where event chunks live in the blob store: one prefix per session, one key per batch."""

from __future__ import annotations

import hashlib

from service.identifiers import check_session_id

__all__ = ["SESSIONS_FOLDER", "chunk_blob_key", "session_prefix"]


# The folder that holds one folder per session.
SESSIONS_FOLDER = "sessions"


def session_prefix(session_id: str) -> str:
    """The blob-store prefix holding every chunk of a session (erasure deletes it whole)."""
    return f"{SESSIONS_FOLDER}/{session_id}/"


def chunk_blob_key(session_id: str, seq: int, content: bytes) -> str:
    """A chunk's key: seq-ordered, and content-addressed so a racing copy never overwrites it.

    ValueError for a session ID ingest refuses: no key the blob store may reject is journaled.
    """
    check_session_id(session_id)
    digest = hashlib.sha256(content).hexdigest()[:16]
    return f"{session_prefix(session_id)}{seq:012d}-{digest}.json.gz"
