"""Table definitions for session metadata, chunk index, derived signals, keys and erasures."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ApiKeyRow",
    "AssetRow",
    "AssetScanRow",
    "Base",
    "ChunkJournalRow",
    "ChunkRow",
    "ErasureRow",
    "ErrorGroupDayRow",
    "ErrorGroupReleaseRow",
    "ErrorGroupRow",
    "ErrorGroupUserRow",
    "ErrorOccurrenceRow",
    "IngestInboxRow",
    "IngestKeyRow",
    "IssueAttemptRow",
    "RevokedTokenRow",
    "SessionAssetRow",
    "SessionEndNoticeRow",
    "SessionRow",
    "SignalRow",
    "TicketAttachmentRow",
    "TokenUseRow",
]

# Times are integer milliseconds since the Unix epoch: rrweb's own unit, compact, and
# compared the same way on SQLite and PostgreSQL.


class Base(DeclarativeBase):
    """Declarative base for every table."""


class SessionRow(Base):
    """One recorded session and the counters derived from its batches."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(256))
    started_at: Mapped[int] = mapped_column(BigInteger)
    ended_at: Mapped[int] = mapped_column(BigInteger)
    first_error_at: Mapped[int | None] = mapped_column(BigInteger)
    received_first_at: Mapped[int] = mapped_column(BigInteger)
    received_last_at: Mapped[int] = mapped_column(BigInteger)
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    byte_count: Mapped[int] = mapped_column(BigInteger, default=0)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    click_count: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_request_count: Mapped[int] = mapped_column(Integer, default=0)
    rage_click_count: Mapped[int] = mapped_column(Integer, default=0)
    dead_click_count: Mapped[int] = mapped_column(Integer, default=0)
    input_count: Mapped[int] = mapped_column(Integer, default=0)
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    # Struggle counters are not summed per batch: they count the session's struggle signals,
    # which are derived again over the session as batches land (service/struggles.py).
    error_click_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The newest click: a batch that starts well after it cannot change any struggle.
    last_click_at: Mapped[int | None] = mapped_column(BigInteger)
    # The latest page load's environment: what search filters on, and all of it as JSON.
    browser: Mapped[str | None] = mapped_column(String(64))
    os: Mapped[str | None] = mapped_column(String(64))
    release: Mapped[str | None] = mapped_column(String(128))
    environment: Mapped[str | None] = mapped_column(Text)
    # The ingest key created with `replaydesk keys` that sent the session's first stored batch
    # (NULL: a configured key, or recorded before keys were noted): asset copies are fetched
    # from that key's origins only.
    ingest_key: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        # Serves "latest session of a user" and the per-user list with one index range scan.
        Index("ix_sessions_user_started", "user_id", "started_at"),
        Index("ix_sessions_started", "started_at"),
        Index("ix_sessions_received_last", "received_last_at"),
    )


class ChunkRow(Base):
    """One accepted batch: where its events live in the blob store. (session_id, seq) is unique."""

    __tablename__ = "chunks"

    session_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    blob_key: Mapped[str] = mapped_column(String(512))
    first_ts: Mapped[int | None] = mapped_column(BigInteger)
    last_ts: Mapped[int | None] = mapped_column(BigInteger)
    event_count: Mapped[int] = mapped_column(Integer)
    byte_count: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[int] = mapped_column(BigInteger)
    # [[start, end], ...] on the service's clock: when the page was visibly busy, what dead
    # clicks are judged by. NULL for batches stored before it was kept (read as busy throughout).
    activity: Mapped[list[list[int]] | None] = mapped_column(JSON)


class ChunkJournalRow(Base):
    """A chunk not yet in the blob store: its bytes, committed with its batch's rows, until the
    chunk mover has stored it there (see `service/ingest/chunk_mover.py`)."""

    __tablename__ = "chunk_journal"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    session_id: Mapped[str] = mapped_column(String(128), index=True)
    blob_key: Mapped[str] = mapped_column(String(512))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    # Set when the blob store refused this chunk while it took others: the mover skips it
    # then, and tries it again only now and then (a bad key must not hold up everyone else).
    quarantined_at: Mapped[int | None] = mapped_column(BigInteger)
    failed_attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    # The class of the last error only: a message may name the key, and so the session.
    last_error: Mapped[str | None] = mapped_column(String(100))

    # The backlog is counted from this index alone (never reading the chunks' bytes), and the
    # mover's pages come from it in id order.
    __table_args__ = (
        Index("ix_chunk_journal_quarantined_at_id", "quarantined_at", "id"),
        # Ids are never reused on SQLite either: a mover removes the entries it read by id,
        # and a reused id would be a chunk journaled since (migration 0019).
        {"sqlite_autoincrement": True},
    )


class IngestInboxRow(Base):
    """An acknowledged batch as it arrived (gzip), until a processing worker has stored it
    (see `service/ingest/processing.py`): deleted in the transaction that writes its rows."""

    __tablename__ = "ingest_inbox"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    session_id: Mapped[str] = mapped_column(String(128))
    seq: Mapped[int] = mapped_column(BigInteger)
    # The envelope's user ID: an erasure of that user removes the row before it is processed.
    user_id: Mapped[str | None] = mapped_column(String(256), index=True)
    # A fixed function of the session ID: which processing worker takes the row, so one
    # session's batches are processed by one worker, in order.
    shard: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[int] = mapped_column(BigInteger)
    sent_at: Mapped[int | None] = mapped_column(BigInteger)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # The created ingest key that sent it (NULL: a configured key), for the session row.
    ingest_key: Mapped[str | None] = mapped_column(String(64))
    # Times the row's write failed on its own; past a few tries workers leave it alone.
    failed_attempts: Mapped[int] = mapped_column(Integer, server_default="0")

    __table_args__ = (
        UniqueConstraint("session_id", "seq", name="uq_ingest_inbox_session_seq"),
        # Ids are never reused on SQLite either: a worker settles the rows it read by id, and
        # a reused id would be a batch queued since (migration 0019).
        {"sqlite_autoincrement": True},
    )


class SignalRow(Base):
    """A fact derived from the event stream at ingest: page view, click, error, failed request."""

    __tablename__ = "signals"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    session_id: Mapped[str] = mapped_column(String(128))
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    ts: Mapped[int] = mapped_column(BigInteger)
    url: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_signals_session_ts", "session_id", "ts"),)


class ErrorOccurrenceRow(Base):
    """One error (by fingerprint) in one session: how often, when first and last, and the
    session's user and release, so "who else hit this" never reads signals or sessions.

    Written with the batch's signals (`storage/error_store.py`), removed with its session.
    """

    __tablename__ = "error_occurrences"

    session_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    # The session's, kept equal to sessions.user_id and sessions.release.
    user_id: Mapped[str | None] = mapped_column(String(256))
    release: Mapped[str | None] = mapped_column(String(128))
    first_ts: Mapped[int] = mapped_column(BigInteger)
    last_ts: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        # A group's sessions newest first, and its other users in a time window, from the
        # index alone.
        Index("ix_error_occurrences_fingerprint_last", "fingerprint", "last_ts", "user_id"),
        # A group's first sighting (and its release) is the first entry.
        Index("ix_error_occurrences_fingerprint_first", "fingerprint", "first_ts"),
        # The groups seen in a time window (the exact path of `until` and `url`).
        Index("ix_error_occurrences_last", "last_ts"),
        # A group's newest occurrence in one release, and a user's newest occurrence of a
        # group (overall and per release): what the rollups are recounted from.
        Index("ix_error_occurrences_fingerprint_release", "fingerprint", "release", "last_ts"),
        Index(
            "ix_error_occurrences_fingerprint_user", "fingerprint", "user_id", "release", "last_ts"
        ),
    )


# The error groups' rollups, kept by `storage/error_rollups.py` in the transaction that changes
# error_occurrences, so the list of groups never aggregates occurrences. `release_key` '' means
# "every release"; every other value is one release (sessions without one count under '' only).


class ErrorGroupRow(Base):
    """One error group over every stored session: what the list pages through, last seen
    first."""

    __tablename__ = "error_groups"

    fingerprint: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    first_ts: Mapped[int] = mapped_column(BigInteger)
    last_ts: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_error_groups_last", "last_ts", "fingerprint"),
        Index("ix_error_groups_kind_last", "kind", "last_ts", "fingerprint"),
    )


class ErrorGroupReleaseRow(Base):
    """One error group in one release: its newest occurrence there (the list with `release`)."""

    __tablename__ = "error_group_releases"

    fingerprint: Mapped[str] = mapped_column(String(16), primary_key=True)
    release: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_ts: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_error_group_releases_last", "release", "last_ts", "fingerprint"),)


class ErrorGroupDayRow(Base):
    """One error group on one UTC day (of its sessions' last occurrences), overall or in one
    release: occurrences, sessions, and identified users whose last occurrence is that day.
    Every column adds up over days, so a window's figures are a sum over a few rows."""

    __tablename__ = "error_group_days"

    fingerprint: Mapped[str] = mapped_column(String(16), primary_key=True)
    release_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    sessions: Mapped[int] = mapped_column(Integer)
    users: Mapped[int] = mapped_column(Integer)


class ErrorGroupUserRow(Base):
    """One identified user of one error group (overall or in one release) and their newest
    occurrence: the day it falls on is where `ErrorGroupDayRow.users` counts them. Holds user
    IDs, so it goes with the user's sessions."""

    __tablename__ = "error_group_users"

    fingerprint: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    release_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_ts: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        # "Other users since T" (every ticket asks): whole days come from error_group_days,
        # T's own day from this index range alone.
        Index("ix_error_group_users_last", "fingerprint", "release_key", "last_ts", "user_id"),
    )


class ApiKeyRow(Base):
    """A secret API key created with `replaydesk keys`; only its SHA-256 is kept."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    # What the key may do (`service.auth.scopes`); NULL for a key created without scopes: all.
    scopes: Mapped[list[str] | None] = mapped_column(JSON)


class IngestKeyRow(Base):
    """A public ingest key created with `replaydesk keys`, with the origins it may send from."""

    __tablename__ = "ingest_keys"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    allowed_origins: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)


class ErasureRow(Base):
    """A keyed hash of an erased user or session ID, so their batches are refused, not stored."""

    __tablename__ = "erasures"
    # The hourly purge looks at the last day's erasures.
    __table_args__ = (Index("ix_erasures_erased_at", "erased_at"),)

    subject_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[int] = mapped_column(BigInteger)
    # "user" or "session", for listing (the hash cannot tell); NULL for rows recorded before.
    kind: Mapped[str | None] = mapped_column(String(16))


class RevokedTokenRow(Base):
    """A viewer token (by jti) or every token of a ticket, refused before its expiry."""

    __tablename__ = "revoked_viewer_tokens"

    # "jti:<id>" or "tkt:<provider:ticket_id>": one table for both kinds of revocation.
    subject: Mapped[str] = mapped_column(String(300), primary_key=True)
    revoked_at: Mapped[int] = mapped_column(BigInteger)


class TokenUseRow(Base):
    """One use of a viewer token: who viewed what, when, from where."""

    __tablename__ = "viewer_token_uses"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    jti: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(128))
    ticket: Mapped[str | None] = mapped_column(String(300))
    used_at: Mapped[int] = mapped_column(BigInteger)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    what: Mapped[str] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_token_uses_session", "session_id", "used_at"),
        Index("ix_token_uses_jti", "jti"),
    )


class TicketAttachmentRow(Base):
    """One report for one (provider, ticket, session): the idempotency record and the outbox.

    The row is written before the job is enqueued, so a request accepted while Redis was down
    is still here to enqueue later; the job checks it before writing to the tracker.
    """

    __tablename__ = "ticket_attachments"

    # `attach-<hash of provider, ticket, session>`: also the RQ job id.
    job_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[str] = mapped_column(String(256))
    # Empty for a "no recording found" note: the customer had no session to report.
    session_id: Mapped[str] = mapped_column(String(128))
    # The customer's user ID, when the request named one.
    user_id: Mapped[str | None] = mapped_column(String(256))
    # pending (not yet written), written (the tracker has it), failed (gave up; see error).
    state: Mapped[str] = mapped_column(String(16))
    ticket_created_at: Mapped[int | None] = mapped_column(BigInteger)
    requested_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    # NULL while the job is not (known to be) in the queue: the outbox relay enqueues it.
    enqueued_at: Mapped[int | None] = mapped_column(BigInteger)
    # Remote writes started.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # An earlier attempt may have reached the tracker, so a retry looks for its write first. Set
    # when an attempt starts (a crash leaves it set); cleared when that attempt's error says it
    # wrote nothing and no attempt before it was uncertain. Once set by a settled attempt it
    # stays set.
    write_uncertain: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # A running job holds the row until then, so two workers never write the same report.
    lease_until: Mapped[int | None] = mapped_column(BigInteger)
    remote: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    written_at: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("provider", "ticket_id", "session_id", name="uq_ticket_attachment"),
        Index("ix_ticket_attachments_outbox", "state", "enqueued_at"),
    )


class IssueAttemptRow(Base):
    """Attempts at opening one provider's issue for one session, until the issue is recorded
    (as a written `TicketAttachmentRow`, when the row goes): whether a retry must look for an
    issue an earlier attempt may have opened."""

    __tablename__ = "issue_attempts"

    # `issue-<hash of provider, session>`: also the RQ job id.
    job_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer)
    # As `TicketAttachmentRow.write_uncertain`.
    write_uncertain: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class SessionEndNoticeRow(Base):
    """A session whose end plugins were told about (`replaydesk_session_ended`), told once."""

    __tablename__ = "session_end_notices"

    session_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    notified_at: Mapped[int] = mapped_column(BigInteger)


class AssetRow(Base):
    """A copy of a stylesheet, font or image a session referenced, by the SHA-256 of its bytes
    (the blob `storage/asset_layout.py` names); shared by every session that referenced it."""

    __tablename__ = "assets"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)


class SessionAssetRow(Base):
    """One URL a session's pages referenced, and its copy (`asset_hash`) or why there is none
    (`status`). Removed with its session; an asset no row names any more goes too."""

    __tablename__ = "session_assets"

    session_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    # SHA-256 of the URL: a key of bounded length for URLs of any length.
    url_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    asset_hash: Mapped[str | None] = mapped_column(String(64))
    # stored, or what kept it from being stored (refused, failed, too_large, ...).
    status: Mapped[str] = mapped_column(String(16))
    # The time of the first event that named it: what a windowed link may learn of it.
    first_seen_at: Mapped[int] = mapped_column(BigInteger)

    # Whether any session still uses an asset, when another one goes.
    __table_args__ = (Index("ix_session_assets_asset", "asset_hash"),)


class AssetScanRow(Base):
    """How far the asset collector has read a session's batches."""

    __tablename__ = "asset_scans"

    session_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    scanned_seq: Mapped[int] = mapped_column(BigInteger)
    # The page the last scanned batch was on: what relative URLs in later batches resolve to.
    page_href: Mapped[str | None] = mapped_column(Text)
    # Bytes fetched for this session so far, against the per-session cap.
    fetched_bytes: Mapped[int] = mapped_column(BigInteger)
    scanned_at: Mapped[int] = mapped_column(BigInteger)
    # Set while one process's collector scans the session, so replicas do not fetch the same
    # assets at once; a scan that never finished frees it when this time has passed.
    claimed_until: Mapped[int | None] = mapped_column(BigInteger)
