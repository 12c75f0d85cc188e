"""Table definitions for session metadata, chunk index, derived signals, keys and erasures."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ApiKeyRow",
    "Base",
    "ChunkRow",
    "ErasureRow",
    "IngestKeyRow",
    "RevokedTokenRow",
    "SessionRow",
    "SignalRow",
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


class ApiKeyRow(Base):
    """A secret API key created with `replaydesk keys`; only its SHA-256 is kept."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)


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

    subject_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[int] = mapped_column(BigInteger)


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
