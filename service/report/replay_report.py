"""The replay report a plugin writes into a ticket, built from a session's derived evidence."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from datetime import datetime
from typing import Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

import msgspec

from service.error_fingerprints import console_identity, request_identity
from service.report.repro_steps import ReproStep, trim_steps
from service.sessions.reader import SessionEvidence, SessionSummary, StruggleClick
from service.viewer.tokens import ViewerLink

__all__ = [
    "MAX_ERRORS",
    "MAX_REQUESTS",
    "MAX_STEPS",
    "MAX_STRUGGLES",
    "SEEN_ELSEWHERE_DAYS",
    "ErrorGroup",
    "ReplayReport",
    "ReplayWindow",
    "ReportFile",
    "RequestFailure",
    "SeenElsewhere",
    "Struggle",
    "build_replay_report",
    "reported_fingerprints",
]

# A ticket is read by a person: the few most frequent errors and failures, with enough stack to
# find the code, say more than every one of them would.
MAX_ERRORS = 5
MAX_STACK_LINES = 8
MAX_REQUESTS = 10
MAX_STRUGGLES = 10
MAX_STEPS = 12
# A ticket opened this long after the session's last event is not "during" the session.
TICKET_STEP_GRACE_MS = 60_000

# "Other users" are counted over this many days before the ticket.
SEEN_ELSEWHERE_DAYS = 7


class SeenElsewhere(msgspec.Struct, frozen=True, kw_only=True):
    """The same error (by fingerprint) in other users' sessions, for the ticket to say
    "this error hit 14 other users in the last 7 days"."""

    other_users: int
    """Identified users other than this session's who hit it in the last `days` days."""
    days: int
    first_seen: datetime
    """Its first occurrence in any stored session."""
    first_release: str | None
    """The release of the session it was first seen in, when that session named one."""
    newest_session_url: str
    """A viewer link to the newest of those users' sessions, bound to the same ticket."""


class ErrorGroup(msgspec.Struct, frozen=True, kw_only=True):
    """Console errors with the same message and top frame, counted once."""

    message: str
    level: str
    stack: list[str]
    count: int
    first_at: datetime
    first_offset_ms: int
    page_url: str | None = None
    """The page the user was on the first time it happened."""
    fingerprint: str | None = None
    """The error's fingerprint (`GET /api/v1/errors/{fingerprint}/sessions`)."""
    seen_elsewhere: SeenElsewhere | None = None
    """Other users who hit it lately; None when nobody else did."""


class RequestFailure(msgspec.Struct, frozen=True, kw_only=True):
    """Failed requests with the same method, URL (without query) and status, counted once."""

    method: str
    url: str
    status: int
    """0 when there was no answer at all (offline, CORS, aborted)."""
    duration_ms: float | None
    error: str | None
    count: int
    first_at: datetime
    first_offset_ms: int
    fingerprint: str | None = None
    """As `ErrorGroup.fingerprint`."""
    seen_elsewhere: SeenElsewhere | None = None
    """As `ErrorGroup.seen_elsewhere`."""


class Struggle(msgspec.Struct, frozen=True, kw_only=True):
    """A rage click (fast repeated clicks), or dead clicks (nothing happened) or error clicks
    (an error or failed request followed) on one element (see `service.struggles`)."""

    kind: Literal["rage_click", "dead_click", "error_click"]
    target: str
    """The element's label in quotes, else its selector, else `an element`."""
    count: int
    at: datetime
    offset_ms: int


_Grouped = TypeVar("_Grouped", ErrorGroup, RequestFailure)


class ReplayWindow(msgspec.Struct, frozen=True, kw_only=True):
    """The part of the session `replay_url` shows, when it is not all of it."""

    from_ms: int
    """Where it starts, in milliseconds from the session's start."""
    to_ms: int
    """Where it ends, in milliseconds from the session's start."""
    before_ticket_minutes: int | None = None
    """Set when it is the minutes before the ticket (`REPLAYDESK_TICKET_LINK_WINDOW_MINUTES`):
    the session's last minutes when it had ended before the ticket was opened."""


class ReportFile(msgspec.Struct, frozen=True, kw_only=True):
    """A file to attach to the ticket next to the report."""

    filename: str
    content_type: str
    content: bytes


class ReplayReport(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a ticket needs about one session; each plugin renders it in its own format."""

    session_id: str
    user_id: str | None
    session: SessionSummary
    """Start, end, duration, pages and counts."""
    replay_url: str
    """The viewer link, valid for `replay_url_expires_at` and bound to the ticket. It shows
    only `replay_window` when that is set (by default, the minutes before the ticket)."""
    replay_url_expires_at: datetime
    first_error_url: str | None
    """The viewer link that starts at the first error (None when nothing failed); it shows the
    whole session."""
    ticket_created_at: datetime | None
    console_errors: list[ErrorGroup]
    failed_requests: list[RequestFailure]
    struggles: list[Struggle]
    steps: list[ReproStep]
    """Steps to reproduce, at most `MAX_STEPS`, leading up to the first error."""
    omitted_steps: int
    """Steps left out of `steps` to keep the ticket readable (the replay has them all)."""
    marker: str
    """Identifies this (ticket, session) report: write it into what you create, so a retry can
    find an earlier write (`replaydesk_find_attachment`) instead of writing twice."""
    log_file: ReportFile | None = None
    """The session's whole console and network log as a text file, to attach to the ticket
    (None when the session logged nothing)."""
    replay_window: ReplayWindow | None = None
    """The part of the session `replay_url` shows; None when it shows all of it."""
    whole_session_url: str | None = None
    """A viewer link to the whole session when `replay_url` shows only `replay_window` (None
    otherwise), valid as long as `replay_url`."""


def _error_groups(evidence: SessionEvidence) -> list[ErrorGroup]:
    # One error is one fingerprint: "order 41 failed" and "order 42 failed" at the same place
    # are one group here as in `GET /api/v1/errors`.
    groups: dict[str, ErrorGroup] = {}
    for error in evidence.console_errors:
        key = error.fingerprint or console_identity(error.message, error.stack).fingerprint
        known = groups.get(key)
        if known is not None:
            groups[key] = msgspec.structs.replace(known, count=known.count + 1)
            continue
        groups[key] = ErrorGroup(
            message=error.message,
            level=error.level,
            stack=error.stack[:MAX_STACK_LINES],
            count=1,
            first_at=error.at,
            first_offset_ms=error.offset_ms,
            page_url=error.page_url,
            fingerprint=key,
        )
    return sorted(groups.values(), key=lambda g: (-g.count, g.first_at))[:MAX_ERRORS]


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _request_failures(evidence: SessionEvidence) -> list[RequestFailure]:
    # By fingerprint: method, host, path with its IDs as `{id}`, status.
    groups: dict[str, RequestFailure] = {}
    for failed in evidence.failed_requests:
        key = (
            failed.fingerprint
            or request_identity(failed.method, failed.url, failed.status).fingerprint
        )
        known = groups.get(key)
        if known is not None:
            groups[key] = msgspec.structs.replace(known, count=known.count + 1)
            continue
        groups[key] = RequestFailure(
            method=failed.method.upper(),
            url=_without_query(failed.url),
            status=failed.status,
            duration_ms=failed.duration_ms,
            error=failed.error,
            count=1,
            first_at=failed.at,
            first_offset_ms=failed.offset_ms,
            fingerprint=key,
        )
    return sorted(groups.values(), key=lambda f: (-f.count, f.first_at))[:MAX_REQUESTS]


def reported_fingerprints(evidence: SessionEvidence) -> list[str]:
    """The fingerprints of the error groups and request failures a report of this evidence
    shows, to look up who else hit them."""
    errors = [group.fingerprint for group in _error_groups(evidence)]
    requests = [failure.fingerprint for failure in _request_failures(evidence)]
    return [fingerprint for fingerprint in [*errors, *requests] if fingerprint]


def _with_elsewhere(groups: list[_Grouped], seen: Mapping[str, SeenElsewhere]) -> list[_Grouped]:
    found = [(group, seen.get(group.fingerprint or "")) for group in groups]
    return [
        group if other is None else msgspec.structs.replace(group, seen_elsewhere=other)
        for group, other in found
    ]


def _target(click: StruggleClick) -> str:
    if click.label:
        return f"'{click.label}'"
    return click.selector or "an element"


def _struggles(evidence: SessionEvidence) -> list[Struggle]:
    rage = [
        Struggle(
            kind="rage_click",
            target=_target(click),
            count=click.count,
            at=click.at,
            offset_ms=click.offset_ms,
        )
        for click in evidence.rage_clicks
    ]
    # Dead and error clicks on one element are one line each, with their count.
    per_target: dict[tuple[str, str], Struggle] = {}
    by_kind: list[tuple[Literal["dead_click", "error_click"], list[StruggleClick]]] = [
        ("dead_click", evidence.dead_clicks),
        ("error_click", evidence.error_clicks),
    ]
    for kind, clicks in by_kind:
        for click in clicks:
            key = (kind, _target(click))
            known = per_target.get(key)
            per_target[key] = (
                msgspec.structs.replace(known, count=known.count + 1)
                if known
                else Struggle(
                    kind=kind,
                    target=key[1],
                    count=1,
                    at=click.at,
                    offset_ms=click.offset_ms,
                )
            )
    return sorted([*rage, *per_target.values()], key=lambda s: s.at)[:MAX_STRUGGLES]


def _with_ticket_step(
    steps: list[ReproStep], summary: SessionSummary, ticket_created_at: datetime | None
) -> list[ReproStep]:
    if ticket_created_at is None:
        return steps
    start_ms = int(summary.started_at.timestamp() * 1000)
    ticket_ms = int(ticket_created_at.timestamp() * 1000)
    end_ms = int(summary.ended_at.timestamp() * 1000)
    if not start_ms <= ticket_ms <= end_ms + TICKET_STEP_GRACE_MS:
        return steps
    step = ReproStep(
        at=ticket_created_at, offset_ms=ticket_ms - start_ms, kind="ticket", text="Ticket opened"
    )
    index = bisect_right([s.offset_ms for s in steps], step.offset_ms)
    return [*steps[:index], step, *steps[index:]]


def build_replay_report(
    evidence: SessionEvidence,
    link: ViewerLink,
    first_error_link: ViewerLink | None = None,
    ticket_created_at: datetime | None = None,
    marker: str = "",
    log_file: ReportFile | None = None,
    seen_elsewhere: Mapping[str, SeenElsewhere] | None = None,
    window: ReplayWindow | None = None,
    whole_session_link: ViewerLink | None = None,
) -> ReplayReport:
    """The report of one session for one ticket (pure: everything comes in as arguments).

    `link` is the ticket-scoped viewer link, showing only `window` when given (then
    `whole_session_link` shows all of it); `first_error_link` the one that opens at the first
    error; `ticket_created_at` places a "Ticket opened" step when the ticket was opened during
    the session; `seen_elsewhere` says, by fingerprint, who else hit an error.
    """
    seen = seen_elsewhere or {}
    summary = evidence.session
    steps = _with_ticket_step(evidence.steps, summary, ticket_created_at)
    kept, omitted = trim_steps(steps, MAX_STEPS)
    return ReplayReport(
        session_id=summary.session_id,
        user_id=summary.user_id,
        session=summary,
        replay_url=link.url,
        replay_url_expires_at=link.expires_at,
        first_error_url=first_error_link.url if first_error_link else None,
        ticket_created_at=ticket_created_at,
        console_errors=_with_elsewhere(_error_groups(evidence), seen),
        failed_requests=_with_elsewhere(_request_failures(evidence), seen),
        struggles=_struggles(evidence),
        steps=kept,
        omitted_steps=omitted,
        marker=marker,
        log_file=log_file,
        replay_window=window,
        whole_session_url=whole_session_link.url if whole_session_link else None,
    )
