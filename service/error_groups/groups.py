"""The error groups API's answers: groups in a time window, and the sessions of one group.

Both page with an opaque cursor (the last row's time and key), which, unlike a bare time,
never skips rows that share a millisecond.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

import msgspec

from service.errors import BadRequest, NotFound
from service.sessions.reader import SessionReader, SessionSummary, to_datetime
from service.storage.error_store import ErrorGroupFilters, ErrorGroupRecord, ErrorStore

__all__ = [
    "ErrorGroupList",
    "ErrorGroupSessions",
    "ErrorGroupSummary",
    "ErrorGroups",
    "ErrorKind",
    "check_fingerprint",
]

ErrorKind = Literal["console_error", "failed_request"]

_FINGERPRINT = re.compile(r"^[0-9a-f]{16}$")
_CURSOR = re.compile(r"^(?P<at>-?\d{1,19}):(?P<key>.{1,128})$", re.DOTALL)


class ErrorGroupSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One error, across sessions: how often, whom, when."""

    fingerprint: str
    kind: ErrorKind
    title: str
    """The error in words, with its varying parts (IDs, numbers, quoted values) as
    placeholders: `TypeError: Cannot read properties of undefined (reading '…')`,
    `POST shop.example/api/orders/{id} → 500`."""
    count: int
    """Occurrences in the sessions counted (all of a session's, when it is in the window).
    Without `until` and `url`, a session is counted when its last occurrence falls on `since`'s
    UTC day or later (the rollups add up whole days); `users_affected` and `sessions` likewise."""
    users_affected: int
    """Identified users among those sessions (anonymous sessions count in `sessions` only)."""
    sessions: int
    first_seen: datetime
    """The first occurrence in any stored session, whatever the filters."""
    last_seen: datetime
    latest_release: str | None
    """The release of the newest session counted that named one, as the page passed it to
    `init()`."""


class ErrorGroupList(msgspec.Struct, frozen=True, kw_only=True):
    """A page of error groups, last seen first; pass `next_cursor` as `cursor` for the next."""

    groups: list[ErrorGroupSummary]
    next_cursor: str | None


class ErrorGroupSessions(msgspec.Struct, frozen=True, kw_only=True):
    """A page of one group's sessions, by their last occurrence, newest first."""

    fingerprint: str
    sessions: list[SessionSummary]
    next_cursor: str | None


def check_fingerprint(fingerprint: str) -> str:
    """The fingerprint, or a 400: 16 lower-case hex digits."""
    if not _FINGERPRINT.match(fingerprint):
        raise BadRequest("fingerprint: expected 16 lower-case hex digits")
    return fingerprint


def _cursor(at: int, key: str) -> str:
    return f"{at}:{key}"


def _parse_cursor(cursor: str | None) -> tuple[int, str] | None:
    if cursor is None or cursor == "":
        return None
    found = _CURSOR.match(cursor)
    if found is None or abs(int(found["at"])) >= 2**63:
        raise BadRequest("cursor: not a cursor this API gave (pass `next_cursor` as it came)")
    return int(found["at"]), found["key"]


def _summary(record: ErrorGroupRecord) -> ErrorGroupSummary:
    kind: ErrorKind = "failed_request" if record.kind == "failed_request" else "console_error"
    return ErrorGroupSummary(
        fingerprint=record.fingerprint,
        kind=kind,
        title=record.title,
        count=record.count,
        users_affected=record.users,
        sessions=record.sessions,
        first_seen=to_datetime(record.first_seen),
        last_seen=to_datetime(record.last_seen),
        latest_release=record.latest_release,
    )


class ErrorGroups:
    """Error groups from the occurrence index, sessions from the reader."""

    def __init__(self, errors: ErrorStore, reader: SessionReader) -> None:
        self.errors = errors
        self.reader = reader

    async def groups(
        self,
        *,
        since: int | None,
        until: int | None,
        release: str | None,
        url: str | None,
        kind: ErrorKind | None,
        limit: int,
        cursor: str | None,
    ) -> ErrorGroupList:
        """Groups with an occurrence in the window and matching every filter."""
        after = _parse_cursor(cursor)
        if after is not None:
            check_fingerprint(after[1])
        filters = ErrorGroupFilters(
            since=since,
            until=until,
            release=release,
            url=url,
            kind=kind,
            limit=limit,
            after=after,
        )
        found = await self.errors.groups(filters)
        last = found[-1] if len(found) == limit and found else None
        return ErrorGroupList(
            groups=[_summary(record) for record in found],
            next_cursor=_cursor(last.last_seen, last.fingerprint) if last else None,
        )

    async def sessions(
        self, fingerprint: str, *, limit: int, cursor: str | None
    ) -> ErrorGroupSessions:
        """The group's sessions, newest first; NotFound when no session has the error."""
        check_fingerprint(fingerprint)
        after = _parse_cursor(cursor)
        found = await self.errors.group_sessions(fingerprint, after, limit)
        if not found and after is None:
            raise NotFound(f"no session has error {fingerprint}")
        summaries = await self.reader.summaries([session_id for _, session_id in found])
        full = len(found) == limit and found
        return ErrorGroupSessions(
            fingerprint=fingerprint,
            sessions=summaries,
            next_cursor=_cursor(*found[-1]) if full else None,
        )
