"""What a session ID and a user ID may be: one rule, matched against the whole string.

Both come from the recorder, so from anyone who has the public ingest key. The rules keep every
accepted ID usable everywhere it goes: as a blob key segment (session IDs), in an API path
(`/api/v1/users/{user_id}`, so no `/` and no `.` or `..`), in log-free SQL text columns (no
control characters, which PostgreSQL refuses or terminals misread), and encodable as UTF-8 (no
lone surrogates). Patterns end in `\\Z`, never `$`, which also matches before a final newline.
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec

__all__ = [
    "SESSION_ID_PATTERN",
    "USER_ID_PATTERN",
    "SessionId",
    "UserId",
    "check_session_id",
    "is_user_id",
]

SESSION_ID_PATTERN = r"\A[A-Za-z0-9_-]{8,128}\Z"
# Any printable text up to 256 characters but `/`, not `.` or `..` alone: e-mail addresses,
# numbers, UUIDs, names with spaces and non-Latin scripts all pass.
USER_ID_PATTERN = r"\A(?!\.{1,2}\Z)[^/\x00-\x1f\x7f-\x9f\ud800-\udfff]{1,256}\Z"

SessionId = Annotated[str, msgspec.Meta(pattern=SESSION_ID_PATTERN)]
UserId = Annotated[str, msgspec.Meta(pattern=USER_ID_PATTERN)]

_SESSION_ID = re.compile(SESSION_ID_PATTERN)
_USER_ID = re.compile(USER_ID_PATTERN)


def check_session_id(session_id: str) -> str:
    """The session ID itself; ValueError for one that ingest would have refused."""
    if not _SESSION_ID.search(session_id):
        raise ValueError("not a valid session ID")
    return session_id


def is_user_id(user_id: str) -> bool:
    """Whether ingest accepts this user ID."""
    return _USER_ID.search(user_id) is not None
