"""The window a viewer link is minted for: asked by offsets or by name, checked, and resolved
against the session into the two instants the token carries.

Three ways to ask, one at a time (`POST /api/v1/sessions/{id}/links`, `"window": {...}`):

- `from_ms` / `to_ms`: milliseconds from the session's start (either may be left out: from the
  start, up to the session's end as it is now);
- `before_ticket_minutes` with `ticket_at`: the minutes before a ticket was opened (the
  session's last minutes when it had ended before the ticket); ticket links use the same rule;
- `around_first_error_minutes`: that many minutes on each side of the first console error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from service.errors import BadRequest
from service.report.text import format_offset
from service.sessions.windows import SessionWindow
from service.storage.records import SessionRecord

__all__ = [
    "MAX_WINDOW_MINUTES",
    "MAX_WINDOW_OFFSET_MS",
    "LinkWindow",
    "before_ticket",
    "requested_window",
    "resolve_window",
]

MINUTE_MS = 60_000
# No session lasts a year (retention purges it long before): an offset past that is a mistake.
MAX_WINDOW_OFFSET_MS = 366 * 24 * 3600 * 1000
# A day either side of a moment is more than any support case needs.
MAX_WINDOW_MINUTES = 24 * 60
# 2000-01-01 and 9999-12-31 as milliseconds: the clock readings a ticket time may be.
_EARLIEST_TICKET_MS = 946_684_800_000
_LATEST_TICKET_MS = 253_402_300_799_000

Offset = Annotated[int, msgspec.Meta(ge=0, le=MAX_WINDOW_OFFSET_MS)]
Minutes = Annotated[int, msgspec.Meta(ge=1, le=MAX_WINDOW_MINUTES)]
TicketTime = (
    Annotated[datetime, msgspec.Meta(tz=True)]
    | Annotated[int, msgspec.Meta(ge=_EARLIEST_TICKET_MS, le=_LATEST_TICKET_MS)]
)


class LinkWindow(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The part of the session a link shows: offsets, or one named window."""

    from_ms: Offset | None = None
    """Milliseconds from the session's start where the window starts (default 0)."""
    to_ms: Offset | None = None
    """Milliseconds from the session's start where it ends (default: the session's end now)."""
    before_ticket_minutes: Minutes | None = None
    """The minutes before the ticket (`ticket_at`) was opened."""
    ticket_at: TicketTime | None = None
    """When the ticket was opened: ISO 8601 with a zone, or milliseconds since the epoch."""
    around_first_error_minutes: Minutes | None = None
    """Minutes on each side of the session's first console error."""


class _Asked(msgspec.Struct):
    window: msgspec.Raw = msgspec.Raw(b"null")


def requested_window(body: bytes) -> LinkWindow | None:
    """The `window` of a link request's body, read strictly: `"60000"`, `60000.0` and `true` are
    not milliseconds (the web layer's lenient reading would take the first two)."""
    try:
        asked = msgspec.json.decode(body or b"{}", type=_Asked).window
        return msgspec.json.decode(asked, type=LinkWindow | None)
    except msgspec.ValidationError as exc:
        # msgspec names the field from the window's root (`$.from_ms`): name it from the body's.
        raise BadRequest(f"window: {str(exc).replace('`$', '`window')}") from None
    except msgspec.DecodeError:
        raise BadRequest("the body is not JSON") from None


def _styles(window: LinkWindow) -> list[str]:
    return [
        name
        for name, given in (
            ("from_ms/to_ms", window.from_ms is not None or window.to_ms is not None),
            (
                "before_ticket_minutes",
                window.before_ticket_minutes is not None or window.ticket_at is not None,
            ),
            ("around_first_error_minutes", window.around_first_error_minutes is not None),
        )
        if given
    ]


def _millis(moment: datetime | int) -> int:
    return moment if isinstance(moment, int) else round(moment.timestamp() * 1000)


def before_ticket(
    started_at: int, ended_at: int, ticket_ms: int, minutes: int
) -> SessionWindow | None:
    """The `minutes` before the ticket in a session from `started_at` to `ended_at`, or the
    session's last `minutes` when its last event came before the ticket; None when the session
    started after the ticket (nothing was recorded before it)."""
    if ticket_ms < started_at:
        return None
    end = min(ticket_ms, ended_at)
    return SessionWindow(max(started_at, end - minutes * MINUTE_MS), end)


def _offsets(window: LinkWindow, session: SessionRecord) -> SessionWindow:
    length = max(0, session.ended_at - session.started_at)
    start = window.from_ms or 0
    end = window.to_ms if window.to_ms is not None else length
    if start > length:
        raise BadRequest(
            f"window.from_ms: {start} is past the session's last event"
            f" ({length} ms, {format_offset(length)} in): nothing was recorded there"
        )
    if start >= end:
        raise BadRequest(
            f"window: from_ms ({start}) must come before to_ms ({end})"
            + ("" if window.to_ms is not None else ", the session's end")
        )
    return SessionWindow(session.started_at + start, session.started_at + end)


def resolve_window(window: LinkWindow, session: SessionRecord) -> SessionWindow:
    """The instants the token carries for this request; 400 with what to fix when it asks for
    two kinds of window at once, an empty or reversed one, or one the session cannot have."""
    styles = _styles(window)
    if not styles:
        raise BadRequest(
            "window: give from_ms and/or to_ms, before_ticket_minutes with ticket_at,"
            " or around_first_error_minutes"
        )
    if len(styles) > 1:
        raise BadRequest(f"window: one kind at a time, not {' and '.join(styles)}")
    if styles[0] == "from_ms/to_ms":
        return _offsets(window, session)
    if styles[0] == "before_ticket_minutes":
        if window.before_ticket_minutes is None or window.ticket_at is None:
            raise BadRequest("window: before_ticket_minutes and ticket_at go together")
        found = before_ticket(
            session.started_at,
            session.ended_at,
            _millis(window.ticket_at),
            window.before_ticket_minutes,
        )
        if found is None:
            raise BadRequest(
                "window.ticket_at: the ticket was opened before the session started,"
                " so nothing was recorded before it"
            )
        return found
    minutes = window.around_first_error_minutes or 0
    if session.first_error_at is None:
        raise BadRequest(
            "window.around_first_error_minutes: the session has no console error to show"
        )
    return SessionWindow(
        max(session.started_at, session.first_error_at - minutes * MINUTE_MS),
        session.first_error_at + minutes * MINUTE_MS,
    )
