"""Plain records the storage layer hands out, so ORM rows never leave it."""

from __future__ import annotations

from typing import Literal

import msgspec

from service.session_environment import SessionEnvironment
from service.signal_kinds import Signal

__all__ = ["BatchRecord", "SessionFilters", "SessionRecord", "TombstoneKind", "TombstoneRecord"]

# What an erasure tombstone refuses: a user ID's batches, or a session ID's.
TombstoneKind = Literal["user", "session"]


class SessionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One session's stored metadata and counters."""

    session_id: str
    user_id: str | None
    started_at: int
    ended_at: int
    first_error_at: int | None
    received_first_at: int
    received_last_at: int
    final: bool
    chunk_count: int
    byte_count: int
    event_count: int
    click_count: int
    error_count: int
    failed_request_count: int
    rage_click_count: int
    dead_click_count: int
    input_count: int
    page_count: int
    error_click_count: int = 0
    last_click_at: int | None = None
    """The newest click's time: whether a batch can change the session's struggles."""
    environment: SessionEnvironment | None = None


class BatchRecord(msgspec.Struct, frozen=True, kw_only=True):
    """Everything one accepted batch adds to the metadata, written in one transaction."""

    session_id: str
    seq: int
    user_id: str | None
    blob_key: str
    first_ts: int | None
    last_ts: int | None
    event_count: int
    byte_count: int
    received_at: int
    final: bool
    signals: list[Signal]
    environment: SessionEnvironment | None = None
    """From the batch's last page event, if it had one."""
    activity: list[tuple[int, int]] | None = None
    """When the page was visibly busy (`service.struggles.merge_activity`); None when unknown."""
    ingest_key: str | None = None
    """The key created with `replaydesk keys` that sent it; None for a configured key."""


class SessionFilters(msgspec.Struct, frozen=True, kw_only=True):
    """Search criteria; every field narrows the result when set."""

    user_id: str | None = None
    url: str | None = None
    has_errors: bool | None = None
    has_rage_clicks: bool | None = None
    browser: str | None = None
    os: str | None = None
    release: str | None = None
    since: int | None = None
    until: int | None = None
    before: int | None = None
    limit: int = 50


class TombstoneRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An erased subject: its keyed hash, user or session (None when recorded before kinds
    were), and when."""

    subject_hash: str
    kind: TombstoneKind | None
    erased_at: int
