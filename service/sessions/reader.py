"""What the API shows of sessions: summaries, the derived report, and the event stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import msgspec
from isal import isal_zlib

from service.clock import now_ms
from service.error_fingerprints import identity_of
from service.errors import NotFound
from service.report.repro_steps import ReproStep, build_repro_steps
from service.session_environment import SessionEnvironment
from service.sessions.window_events import window_event_stream
from service.sessions.windows import (
    SessionWindow,
    ShownWindow,
    first_error_within,
    signals_within,
    window_counts,
    window_pages,
)
from service.signal_kinds import (
    ConsoleErrorSignal,
    DeadClickSignal,
    ErrorClickSignal,
    FailedRequestSignal,
    PageViewSignal,
    RageClickSignal,
    Signal,
)
from service.storage.blobs import BlobStore
from service.storage.records import SessionFilters, SessionRecord
from service.storage.session_store import SessionStore, SessionWithPages

__all__ = [
    "ConsoleError",
    "FailedRequest",
    "PageView",
    "SessionCounts",
    "SessionEvidence",
    "SessionList",
    "SessionReader",
    "SessionSummary",
    "StruggleClick",
    "shown_window",
    "to_datetime",
]


# What a datetime can hold; stored times outside it (written before ingest bounded them) are
# shown at the nearest end rather than failing the whole answer.
_EARLIEST_MS = -62_135_596_800_000  # 0001-01-01
_LATEST_MS = 253_402_300_799_000  # 9999-12-31 23:59:59


def to_datetime(ms: int) -> datetime:
    """Milliseconds since the epoch as an aware UTC datetime."""
    return datetime.fromtimestamp(min(max(ms, _EARLIEST_MS), _LATEST_MS) / 1000, tz=UTC)


def is_recording(session: SessionRecord, now: int, idle_timeout_ms: int) -> bool:
    """Whether the session is still receiving batches: not left (no final batch) and not idle
    for the session idle timeout."""
    return not session.final and now - session.received_last_at < idle_timeout_ms


def shown_window(window: SessionWindow, session: SessionRecord) -> ShownWindow:
    """The window as offsets into the session, its end at most the session's end so far."""
    end = max(window.start_ms, min(window.end_ms, session.ended_at))
    return ShownWindow(
        from_ms=max(0, window.start_ms - session.started_at),
        to_ms=max(0, end - session.started_at),
        started_at=to_datetime(window.start_ms),
        ended_at=to_datetime(end),
    )


class SessionCounts(msgspec.Struct, frozen=True, kw_only=True):
    """How much happened in a session."""

    events: int
    clicks: int
    errors: int
    failed_requests: int
    rage_clicks: int
    dead_clicks: int
    inputs: int
    pages: int
    error_clicks: int = 0


class SessionSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One session at a glance."""

    session_id: str
    user_id: str | None
    started_at: datetime
    ended_at: datetime
    duration_ms: int
    pages: list[str]
    counts: SessionCounts
    first_error_at: datetime | None
    first_error_offset_ms: int | None
    active: bool
    """True while batches may still arrive: no `final` batch and not idle past the timeout."""
    last_received_at: datetime
    environment: SessionEnvironment | None = None
    """Browser, OS, device, window, language, time zone and release, as the latest page load
    reported them; None for sessions whose recorder did not."""
    window: ShownWindow | None = None
    """Set when a windowed viewer link asks: the part of the session it shows. `pages`,
    `counts` and the first error then count that part only (`counts.events`: the events of the
    batches recorded during it); the start, end and duration stay the whole session's."""


class SessionList(msgspec.Struct, frozen=True, kw_only=True):
    """A page of sessions, newest first; pass `next_before` as `before` for the next page."""

    sessions: list[SessionSummary]
    next_before: datetime | None


class ConsoleError(msgspec.Struct, frozen=True, kw_only=True):
    """A console error or uncaught exception, with its stack."""

    at: datetime
    offset_ms: int
    level: str
    message: str
    stack: list[str]
    page_url: str | None = None
    """The page the user was on when it happened."""
    fingerprint: str | None = None
    """What makes it the same error in other sessions (`GET /api/v1/errors`)."""


class FailedRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A network request that got a 4xx/5xx or no answer."""

    at: datetime
    offset_ms: int
    method: str
    url: str
    status: int
    duration_ms: float | None
    error: str | None
    fingerprint: str | None = None
    """As `ConsoleError.fingerprint`."""


class StruggleClick(msgspec.Struct, frozen=True, kw_only=True):
    """A rage click (repeated on one element), a dead click (nothing happened) or an error
    click (an error or a failed request followed); see `service.struggles`."""

    at: datetime
    offset_ms: int
    label: str | None
    selector: str | None
    count: int


class PageView(msgspec.Struct, frozen=True, kw_only=True):
    """A page load or in-app navigation."""

    at: datetime
    offset_ms: int
    url: str


class SessionEvidence(msgspec.Struct, frozen=True, kw_only=True):
    """The evidence derived from a session at ingest time."""

    session: SessionSummary
    console_errors: list[ConsoleError]
    failed_requests: list[FailedRequest]
    rage_clicks: list[StruggleClick]
    dead_clicks: list[StruggleClick]
    page_views: list[PageView]
    error_clicks: list[StruggleClick] = msgspec.field(default_factory=list)
    steps: list[ReproStep] = msgspec.field(default_factory=list)
    """Steps to reproduce in plain language (`Opened /cart`, `POST /api/pay → 500`, ...)."""


class SessionReader:
    """Builds API views of sessions from the metadata store and the blob store."""

    def __init__(self, store: SessionStore, blobs: BlobStore, idle_timeout_seconds: int) -> None:
        self.store = store
        self.blobs = blobs
        self.idle_timeout_ms = idle_timeout_seconds * 1000

    async def summary(self, session_id: str, window: SessionWindow | None = None) -> SessionSummary:
        """One session's summary, of `window` only when given; NotFound when there is none."""
        found = await self._found(session_id)
        if window is None:
            return self._summaries([found])[0]
        return await self._window_summary(found, await self.store.signals(session_id), window)

    async def _found(self, session_id: str) -> SessionWithPages:
        found = await self.store.get_with_pages(session_id)
        if found is None:
            raise NotFound(f"no session {session_id!r}")
        return found

    async def _window_summary(
        self, found: SessionWithPages, signals: list[Signal], window: SessionWindow
    ) -> SessionSummary:
        record = found[0]
        inside = signals_within(signals, window)
        counts = window_counts(inside)
        first_error = first_error_within(inside)
        events = await self.store.event_count_between(
            record.session_id, window.start_ms, window.end_ms
        )
        return msgspec.structs.replace(
            self._summaries([found])[0],
            pages=window_pages(signals, window),
            counts=SessionCounts(
                events=events,
                clicks=counts["click"],
                errors=counts["console_error"],
                failed_requests=counts["failed_request"],
                rage_clicks=counts["rage_click"],
                dead_clicks=counts["dead_click"],
                inputs=counts["input"],
                pages=counts["page_view"],
                error_clicks=counts["error_click"],
            ),
            first_error_at=None if first_error is None else to_datetime(first_error),
            first_error_offset_ms=(
                None if first_error is None else max(0, first_error - record.started_at)
            ),
            window=shown_window(window, record),
        )

    async def latest_for_user(self, user_id: str) -> SessionSummary:
        """The user's newest session; NotFound when the user has none."""
        found = await self.store.newest_with_pages(user_id)
        if found is None:
            raise NotFound(f"no session recorded for user {user_id!r}")
        return self._summaries([found])[0]

    async def search(self, filters: SessionFilters) -> SessionList:
        """Sessions matching the filters, newest first, with a cursor for the next page."""
        found = await self.store.search_with_pages(filters)
        full_page = len(found) == filters.limit and found
        return SessionList(
            sessions=self._summaries(found),
            next_before=to_datetime(found[-1][0].started_at) if full_page else None,
        )

    async def summaries(self, session_ids: list[str]) -> list[SessionSummary]:
        """Summaries of those of these sessions that exist, in the order given."""
        return self._summaries(await self.store.get_many_with_pages(session_ids))

    async def evidence(
        self, session_id: str, window: SessionWindow | None = None
    ) -> SessionEvidence:
        """Console errors, failed requests, struggle signals, page views and repro steps; of
        `window` only when given."""
        found = await self._found(session_id)
        signals = await self.store.signals(session_id)
        if window is None:
            summary = self._summaries([found])[0]
        else:
            summary = await self._window_summary(found, signals, window)
        start = found[0].started_at
        report: dict[str, list[Any]] = {
            "console_errors": [],
            "failed_requests": [],
            "rage_clicks": [],
            "dead_clicks": [],
            "error_clicks": [],
            "page_views": [],
        }
        page: str | None = None
        for signal in signals:
            if isinstance(signal, PageViewSignal):
                page = signal.url
            if window is not None and not window.contains(signal.ts):
                continue
            item = _report_item(signal, start, page)
            if item is not None:
                report[item[0]].append(item[1])
        shown = signals if window is None else signals_within(signals, window)
        return SessionEvidence(session=summary, steps=build_repro_steps(shown, start), **report)

    async def stream_events(
        self, session_id: str, window: SessionWindow | None = None
    ) -> AsyncIterator[bytes]:
        """The session's rrweb events as one JSON array, a chunk at a time (never all in memory);
        with a `window`, what replays that part alone (see `window_events`).

        Raises NotFound before the first byte when the session does not exist.
        """
        if await self.store.get(session_id) is None:
            raise NotFound(f"no session {session_id!r}")
        if window is not None:
            return window_event_stream(self._window_chunks(session_id, window), window)
        return self._stream_chunks(session_id)

    async def _window_chunks(
        self, session_id: str, window: SessionWindow
    ) -> AsyncIterator[tuple[bytes, int]]:
        """The chunks that can hold events up to the window's end, each with its first event's
        time on the service's clock."""
        for key, journaled, first_ts in await self.store.chunks_until(session_id, window.end_ms):
            yield await self._chunk(key, journaled), first_ts

    async def event_chunks(self, session_id: str) -> AsyncIterator[bytes]:
        """The session's stored chunks in order, each one JSON array of rrweb events."""
        for key, journaled in await self.store.session_chunks(session_id):
            yield await self._chunk(key, journaled)

    async def _chunk(self, key: str, journaled: bytes | None) -> bytes:
        """One chunk's events. Each read gives the event loop a turn: a fast reader of a long
        session is never made to wait by the socket, so without it the other requests (the
        viewer's own asset map and report, other tenants' ingest) would wait for the whole
        download."""
        if journaled is None:
            stored = await self.blobs.get(key)
        else:
            stored = journaled
            await asyncio.sleep(0)
        return isal_zlib.decompress(stored, wbits=16 + isal_zlib.MAX_WBITS)

    async def _stream_chunks(self, session_id: str) -> AsyncIterator[bytes]:
        yield b"["
        first = True
        async for events in self.event_chunks(session_id):
            inner = events.strip()[1:-1].strip()
            if not inner:
                continue
            yield inner if first else b"," + inner
            first = False
        yield b"]"

    def _summaries(self, found: list[SessionWithPages]) -> list[SessionSummary]:
        now = now_ms()
        return [self._summary(record, pages, now) for record, pages in found]

    def _summary(self, r: SessionRecord, pages: list[str], now: int) -> SessionSummary:
        return SessionSummary(
            session_id=r.session_id,
            user_id=r.user_id,
            started_at=to_datetime(r.started_at),
            ended_at=to_datetime(r.ended_at),
            duration_ms=max(0, r.ended_at - r.started_at),
            pages=pages,
            counts=SessionCounts(
                events=r.event_count,
                clicks=r.click_count,
                errors=r.error_count,
                failed_requests=r.failed_request_count,
                rage_clicks=r.rage_click_count,
                dead_clicks=r.dead_click_count,
                inputs=r.input_count,
                pages=r.page_count,
                error_clicks=r.error_click_count,
            ),
            first_error_at=to_datetime(r.first_error_at) if r.first_error_at else None,
            first_error_offset_ms=(
                max(0, r.first_error_at - r.started_at) if r.first_error_at else None
            ),
            active=is_recording(r, now, self.idle_timeout_ms),
            last_received_at=to_datetime(r.received_last_at),
            environment=r.environment,
        )


def _report_item(signal: Signal, start: int, page: str | None) -> tuple[str, Any] | None:
    at, offset = to_datetime(signal.ts), max(0, signal.ts - start)
    match signal:
        case ConsoleErrorSignal():
            return "console_errors", ConsoleError(
                at=at,
                offset_ms=offset,
                level=signal.level,
                message=signal.message,
                stack=signal.stack,
                page_url=page,
                fingerprint=signal.fingerprint or identity_of(signal).fingerprint,
            )
        case FailedRequestSignal():
            return "failed_requests", FailedRequest(
                at=at,
                offset_ms=offset,
                method=signal.method or "GET",
                url=signal.url,
                status=signal.status,
                duration_ms=signal.duration,
                error=signal.error,
                fingerprint=signal.fingerprint or identity_of(signal).fingerprint,
            )
        case RageClickSignal():
            return "rage_clicks", StruggleClick(
                at=at,
                offset_ms=offset,
                label=signal.label,
                selector=signal.selector,
                count=signal.count,
            )
        case DeadClickSignal():
            return "dead_clicks", StruggleClick(
                at=at, offset_ms=offset, label=signal.label, selector=signal.selector, count=1
            )
        case ErrorClickSignal():
            return "error_clicks", StruggleClick(
                at=at, offset_ms=offset, label=signal.label, selector=signal.selector, count=1
            )
        case PageViewSignal():
            return "page_views", PageView(at=at, offset_ms=offset, url=signal.url)
    return None
