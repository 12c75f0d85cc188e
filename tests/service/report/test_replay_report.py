"""The replay report: grouped errors and failures, struggles, steps, links and the marker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from service import render_markdown, render_text
from service.plugin_testing import sample_report
from service.report.replay_report import MAX_ERRORS, build_replay_report
from service.sessions.reader import ConsoleError, FailedRequest, SessionEvidence, StruggleClick
from service.viewer.tokens import ViewerTokens

NOW = datetime(2026, 9, 21, 9, 30, tzinfo=UTC)


def _error(offset: int, message: str, frame: str = "at pay (app.js:1:1)") -> ConsoleError:
    return ConsoleError(
        at=NOW + timedelta(milliseconds=offset),
        offset_ms=offset,
        level="error",
        message=message,
        stack=[frame, *[f"at f{i}" for i in range(20)]],
    )


def _failed(offset: int, url: str, status: int) -> FailedRequest:
    return FailedRequest(
        at=NOW + timedelta(milliseconds=offset),
        offset_ms=offset,
        method="post",
        url=url,
        status=status,
        duration_ms=12.0,
        error=None,
    )


def test_errors_and_failures_are_grouped_counted_and_ordered() -> None:
    session_report = msgspec.structs.replace(
        _session_report(),
        console_errors=[
            _error(100, "Order 41 failed"),
            _error(200, "Order 42 failed"),  # the same error with another number
            _error(300, "Order 43 failed", frame="at other (app.js:9:9)"),
            *[
                _error(400 + i, f"distinct {chr(65 + i)}", frame=f"at f{chr(65 + i)}")
                for i in range(8)
            ],
        ],
        failed_requests=[
            _failed(100, "https://shop.test/api/pay?attempt=1", 500),
            _failed(200, "https://shop.test/api/pay?attempt=2", 500),
            _failed(300, "https://shop.test/api/pay", 503),
        ],
        rage_clicks=[StruggleClick(at=NOW, offset_ms=0, label="Pay", selector="#pay", count=4)],
        dead_clicks=[
            StruggleClick(at=NOW, offset_ms=5, label=None, selector="#logo", count=1),
            StruggleClick(at=NOW, offset_ms=9, label=None, selector="#logo", count=1),
        ],
    )
    tokens = ViewerTokens("secret", "https://replay.example")
    link = tokens.mint("sess-sample-0001", 3600, ticket="taskboard:7")
    report = build_replay_report(session_report, link, None, marker="m")
    assert len(report.console_errors) == MAX_ERRORS
    top = report.console_errors[0]
    assert (top.message, top.count, top.first_offset_ms) == ("Order 41 failed", 2, 100)
    assert len(top.stack) == 8
    pay = report.failed_requests[0]
    assert (pay.method, pay.url, pay.status, pay.count) == (
        "POST",
        "https://shop.test/api/pay",
        500,
        2,
    )
    assert [(s.kind, s.target, s.count) for s in report.struggles] == [
        ("rage_click", "'Pay'", 4),
        ("dead_click", "#logo", 2),
    ]
    assert report.replay_url == link.url and report.first_error_url is None
    assert report.marker == "m"


def test_a_ticket_opened_during_the_session_appears_among_the_steps() -> None:
    session_report = _session_report()
    link = ViewerTokens("secret", "https://replay.example").mint("s", 60)
    opened = session_report.session.started_at + timedelta(milliseconds=4500)
    report = build_replay_report(session_report, link, ticket_created_at=opened)
    kinds = [step.kind for step in report.steps]
    assert kinds == ["page", "input", "click", "ticket", "request", "error"]
    late = build_replay_report(session_report, link, ticket_created_at=opened + timedelta(days=1))
    assert "ticket" not in [step.kind for step in late.steps]


def test_markdown_and_text_renderings_carry_the_evidence() -> None:
    report = sample_report()
    for rendered in (render_markdown(report), render_text(report)):
        assert report.replay_url in rendered and report.first_error_url
        assert report.first_error_url in rendered
        assert "Clicked 'Place order' ×3" in rendered
        assert "Typed into Card number (masked)" in rendered
        assert "POST https://shop.example/api/pay" in rendered and "500" in rendered
        assert "at pay (https://shop.example/app.js:10:5)" in rendered
        assert "user u42" in rendered
    assert "[Watch the replay before the ticket (0:01\N{EN DASH}0:05)](" in render_markdown(report)
    assert f"[The whole session]({report.whole_session_url})" in render_markdown(report)
    assert f"The whole session: {report.whole_session_url}" in render_text(report)
    whole = sample_report(ticket_window=False)
    assert "[Watch the replay](" in render_markdown(whole) and "whole session" not in (
        render_markdown(whole)
    )


def _session_report() -> SessionEvidence:
    base = sample_report()
    return SessionEvidence(
        session=base.session,
        console_errors=[],
        failed_requests=[],
        rage_clicks=[],
        dead_clicks=[],
        page_views=[],
        steps=base.steps,
    )
