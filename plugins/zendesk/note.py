"""The internal notes written into Zendesk tickets, as HTML (pure functions)."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from urllib.parse import urlsplit

from service import (
    MissingRecording,
    ReplayReport,
    SeenElsewhere,
    environment_line,
    format_offset,
    headline,
    omitted_steps_line,
    request_status,
    seen_elsewhere_text,
    step_sections,
    struggle_text,
    window_label,
)

__all__ = ["no_recording_note", "report_note"]

TIMES = "\N{MULTIPLICATION SIGN}"


def _text(value: object) -> str:
    # Everything that came from a recording is text, never markup, in the note.
    return html.escape(str(value), quote=True)


def _link(label: str, url: str) -> str:
    """An anchor for http(s) URLs; any other URL (`javascript:`, `data:`) stays inert text."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return f"{_text(label)}: {_text(url)}"
    return f'<a href="{_text(url)}">{_text(label)}</a>'


def _when(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _repeat(count: int) -> str:
    return f" {TIMES}{count}" if count > 1 else ""


def _heading(text: str) -> str:
    return f"<p><strong>{_text(text)}</strong></p>"


def _footer(marker: str) -> str:
    # Visible on purpose: Zendesk may strip HTML comments, and a retry searches for the marker.
    return f"<p><small>ReplayDesk {_text(marker)}</small></p>"


def _links(report: ReplayReport) -> str:
    if report.replay_window and report.whole_session_url:
        # The minutes before the ticket first; the first error and all of it a click away.
        label = f"Watch the replay {window_label(report.replay_window)}"
        links = [_link(label, report.replay_url)]
        if report.first_error_url:
            links.append(_link("from the first error", report.first_error_url))
        links.append(_link("the whole session", report.whole_session_url))
    elif report.first_error_url:
        links = [
            _link("Watch the replay from the first error", report.first_error_url),
            _link("the whole session", report.replay_url),
        ]
    else:
        links = [_link("Watch the replay", report.replay_url)]
    valid = f"(links valid until {_when(report.replay_url_expires_at)})"
    return f"<p><strong>Session replay</strong>: {' · '.join(links)} {valid}</p>"


def _steps(report: ReplayReport) -> list[str]:
    if not report.steps:
        return []
    parts = [_heading("Steps to reproduce")]
    for section in step_sections(report.steps, report.omitted_steps):
        if section.omitted_before:
            parts.append(f"<p>{_text(omitted_steps_line(section.omitted_before))}</p>")
        if section.steps:
            items = "".join(
                f"<li>{_text(step.text)} ({format_offset(step.offset_ms)})</li>"
                for step in section.steps
            )
            start = section.steps[0].number
            parts.append(f'<ol start="{start}">{items}</ol>' if start > 1 else f"<ol>{items}</ol>")
    return parts


def _elsewhere(seen: SeenElsewhere | None, what: str) -> str:
    """The line about other users who hit it; nothing when nobody else did."""
    if seen is None:
        return ""
    words = _text(seen_elsewhere_text(seen, what))
    return f"<p>{words}: {_link('newest other session', seen.newest_session_url)}</p>"


def _errors(report: ReplayReport) -> list[str]:
    if not report.console_errors:
        return []
    items = []
    for error in report.console_errors:
        first_line = error.message.strip().split("\n", 1)[0]
        at = format_offset(error.first_offset_ms)
        where = f" on {_text(error.page_url)}" if error.page_url else ""
        trace = "\n".join([error.message.strip(), *error.stack])
        items.append(
            f"<li><code>{_text(first_line)}</code>{_repeat(error.count)} at {at}{where}"
            f"<pre>{_text(trace)}</pre>{_elsewhere(error.seen_elsewhere, 'error')}</li>"
        )
    return [_heading("Console errors"), f"<ul>{''.join(items)}</ul>"]


def _requests(report: ReplayReport) -> list[str]:
    if not report.failed_requests:
        return []
    items = []
    for failed in report.failed_requests:
        status = request_status(failed.status, failed.error)
        took = f", {failed.duration_ms:.0f} ms" if failed.duration_ms is not None else ""
        at = format_offset(failed.first_offset_ms)
        items.append(
            f"<li><code>{_text(failed.method)} {_text(failed.url)}</code> → {_text(status)}"
            f"{took}{_repeat(failed.count)} at {at}"
            f"{_elsewhere(failed.seen_elsewhere, 'failure')}</li>"
        )
    return [_heading("Failed requests"), f"<ul>{''.join(items)}</ul>"]


def _struggles(report: ReplayReport) -> list[str]:
    if not report.struggles:
        return []
    items = [f"<li>{_text(struggle_text(struggle))}</li>" for struggle in report.struggles]
    return [_heading("Struggles"), f"<ul>{''.join(items)}</ul>"]


def report_note(report: ReplayReport) -> str:
    """The replay report as a note: links, headline, steps, errors, requests, struggles."""
    parts = [_links(report), f"<p>{_text(headline(report))}</p>"]
    environment = environment_line(report)
    if environment:
        parts.append(f"<p>Environment: {_text(environment)}</p>")
    parts += _steps(report) + _errors(report) + _requests(report) + _struggles(report)
    if report.log_file is not None:
        name = _text(report.log_file.filename)
        parts.append(f"<p>The session's console and network log is attached: {name}</p>")
    parts.append(_footer(report.marker))
    return "\n".join(parts)


def no_recording_note(notice: MissingRecording) -> str:
    """A short note saying that ReplayDesk has no recording of this ticket's customer."""
    who = f" (user <code>{_text(notice.user_id)}</code>)" if notice.user_id else ""
    return "\n".join(
        [
            f"<p><strong>No ReplayDesk recording found for this customer</strong>{who}.</p>",
            f"<p>{_text(notice.reason)}</p>",
            _footer(notice.marker),
        ]
    )
