"""A realistic replay report for plugin tests, without a running service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from service.error_fingerprints import console_identity
from service.report.replay_report import (
    SEEN_ELSEWHERE_DAYS,
    ReplayReport,
    ReplayWindow,
    SeenElsewhere,
    build_replay_report,
)
from service.report.repro_steps import build_repro_steps
from service.report.session_log import LogBuilder
from service.sessions.reader import (
    ConsoleError,
    FailedRequest,
    SessionCounts,
    SessionEvidence,
    SessionSummary,
    StruggleClick,
)
from service.signal_kinds import (
    ClickSignal,
    ConsoleErrorSignal,
    FailedRequestSignal,
    InputSignal,
    PageViewSignal,
    Signal,
)
from service.viewer.tokens import ViewerLink

__all__ = ["sample_report"]

_START = datetime(2026, 9, 21, 9, 30, tzinfo=UTC)
# Stands where a signed viewer token goes; the sample links open nothing.
_PLACEHOLDER_TOKEN = "sample"  # noqa: S105 - not a credential


def _at(ms: int) -> datetime:
    return _START + timedelta(milliseconds=ms)


def _signals() -> list[Signal]:
    start = int(_START.timestamp() * 1000)
    return [
        PageViewSignal(ts=start, url="https://shop.example/cart"),
        ClickSignal(ts=start + 2000, node_id=5, label="Card number", tag="input"),
        InputSignal(ts=start + 2500, node_id=5),
        *(
            ClickSignal(ts=start + offset, node_id=3, label="Place order", tag="button")
            for offset in (4000, 4300, 4600)
        ),
        FailedRequestSignal(
            ts=start + 4700, method="POST", url="https://shop.example/api/pay", status=500
        ),
        ConsoleErrorSignal(ts=start + 4800, message="TypeError: payment failed"),
    ]


def _logged_events() -> list[dict[str, object]]:
    start = int(_START.timestamp() * 1000)

    def plugin(offset: int, name: str, payload: dict[str, object]) -> dict[str, object]:
        return {
            "type": 6,
            "timestamp": start + offset,
            "data": {"plugin": name, "payload": payload},
        }

    return [
        {"type": 4, "timestamp": start, "data": {"href": "https://shop.example/cart"}},
        plugin(
            1200, "rrweb/console@1", {"level": "log", "payload": ['"cart loaded"'], "trace": []}
        ),
        plugin(
            4700,
            "replaydesk/network@1",
            {
                "method": "POST",
                "url": "https://shop.example/api/pay",
                "status": 500,
                "duration": 87.5,
            },
        ),
        plugin(
            4800,
            "rrweb/console@1",
            {
                "level": "error",
                "payload": ['"TypeError: payment failed"'],
                "trace": ["at pay (https://shop.example/app.js:10:5)"],
            },
        ),
    ]


def sample_report(
    session_id: str = "sess-sample-0001",
    user_id: str = "u42",
    marker: str = "replaydesk-report-sample",
    public_url: str = "https://replay.example",
    ticket_window: bool = True,
) -> ReplayReport:
    """A checkout that failed: one page, a masked card field, rage clicks, a 500 and an error.

    Its replay link shows the seconds before the ticket, as ticket links do by default, with a
    link to the whole session beside it; `ticket_window=False` gives one link to all of it.
    """
    summary = SessionSummary(
        session_id=session_id,
        user_id=user_id,
        started_at=_START,
        ended_at=_at(6000),
        duration_ms=6000,
        pages=["https://shop.example/cart"],
        counts=SessionCounts(
            events=240,
            clicks=4,
            errors=1,
            failed_requests=1,
            rage_clicks=1,
            dead_clicks=0,
            inputs=1,
            pages=1,
        ),
        first_error_at=_at(4800),
        first_error_offset_ms=4800,
        active=False,
        last_received_at=_at(6500),
    )
    report = SessionEvidence(
        session=summary,
        console_errors=[
            ConsoleError(
                at=_at(4800),
                offset_ms=4800,
                level="error",
                message="TypeError: payment failed",
                stack=["at pay (https://shop.example/app.js:10:5)"],
            )
        ],
        failed_requests=[
            FailedRequest(
                at=_at(4700),
                offset_ms=4700,
                method="POST",
                url="https://shop.example/api/pay",
                status=500,
                duration_ms=87.5,
                error=None,
            )
        ],
        rage_clicks=[
            StruggleClick(
                at=_at(4000), offset_ms=4000, label="Place order", selector="#pay", count=3
            )
        ],
        dead_clicks=[],
        page_views=[],
        steps=build_repro_steps(_signals(), int(_START.timestamp() * 1000)),
    )
    expires = _START + timedelta(days=30)
    link = ViewerLink(
        url=f"{public_url}/replay/{session_id}#t={_PLACEHOLDER_TOKEN}",
        token=_PLACEHOLDER_TOKEN,
        expires_at=expires,
        jti="j1",
    )
    first_error = ViewerLink(
        url=f"{public_url}/replay/{session_id}?at=first-error#t={_PLACEHOLDER_TOKEN}",
        token=_PLACEHOLDER_TOKEN,
        expires_at=expires,
        jti="j2",
    )
    window = ReplayWindow(from_ms=1000, to_ms=5000, before_ticket_minutes=10)
    windowed = ViewerLink(
        url=f"{public_url}/replay/{session_id}#t={_PLACEHOLDER_TOKEN}-window",
        token=f"{_PLACEHOLDER_TOKEN}-window",
        expires_at=expires,
        jti="j3",
    )
    log = LogBuilder(summary)
    log.add_chunk(msgspec.json.encode(_logged_events()))
    # Others hit the console error lately; nobody else got the 500.
    elsewhere = SeenElsewhere(
        other_users=14,
        days=SEEN_ELSEWHERE_DAYS,
        first_seen=_START - timedelta(days=5),
        first_release="4.1.0",
        newest_session_url=f"{public_url}/replay/sess-other-0001#t={_PLACEHOLDER_TOKEN}",
    )
    error = report.console_errors[0]
    return build_replay_report(
        report,
        windowed if ticket_window else link,
        first_error,
        ticket_created_at=None,
        marker=marker,
        log_file=log.file(),
        seen_elsewhere={console_identity(error.message, error.stack).fingerprint: elsewhere},
        window=window if ticket_window else None,
        whole_session_link=link if ticket_window else None,
    )
