"""Ready-made renderings of a replay report as Markdown or plain text, for plugins to reuse."""

from __future__ import annotations

from datetime import datetime

from service.report.replay_report import ReplayReport, ReplayWindow, SeenElsewhere, Struggle
from service.report.repro_steps import request_status, step_sections

__all__ = [
    "environment_line",
    "format_offset",
    "headline",
    "omitted_steps_line",
    "render_markdown",
    "render_text",
    "seen_elsewhere_text",
    "struggle_text",
    "window_label",
]

# The words before a `SeenElsewhere`'s link, which each format writes its own way.
NEWEST_OTHER_SESSION = "newest other session"

TIMES = "\N{MULTIPLICATION SIGN}"
_STRUGGLE_WORDS = {
    "rage_click": "Rage clicks",
    "dead_click": "Dead clicks",
    "error_click": "Clicks followed by an error",
}


def format_offset(offset_ms: int) -> str:
    """A time into the session as the replay shows it: `1:05`, `1:02:05`."""
    seconds = max(0, offset_ms) // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def omitted_steps_line(count: int) -> str:
    """The line that stands where steps were left out of a ticket's step list."""
    return f"({_plural(count, 'more step')} {'is' if count == 1 else 'are'} in the replay)"


def struggle_text(struggle: Struggle) -> str:
    """One struggle signal in words: `Rage clicks on 'Place order' (3) at 0:04`."""
    what = _STRUGGLE_WORDS[struggle.kind]
    target = struggle.target or "an element"
    return f"{what} on {target} ({struggle.count}) at {format_offset(struggle.offset_ms)}"


def seen_elsewhere_text(seen: SeenElsewhere, what: str = "error") -> str:
    """`This error hit 14 other users in the last 7 days (first seen 2026-12-01, release
    4.1.0)`: the words before the link to the newest of their sessions."""
    first = f"first seen {seen.first_seen:%Y-%m-%d}"
    if seen.first_release:
        first += f", release {seen.first_release}"
    days = _plural(seen.days, "day") if seen.days != 1 else "day"
    return f"This {what} hit {_plural(seen.other_users, 'other user')} in the last {days} ({first})"


def window_label(window: ReplayWindow) -> str:
    """What a windowed replay link shows, for its label: `before the ticket (10:02-10:12)`
    (an en dash between the times), or just the span when it is not the ticket's window."""
    span = f"({format_offset(window.from_ms)}\N{EN DASH}{format_offset(window.to_ms)})"
    return f"before the ticket {span}" if window.before_ticket_minutes else span


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def headline(report: ReplayReport) -> str:
    """One line: who, when, how long, and what went wrong."""
    counts = report.session.counts
    parts = [
        f"user {report.user_id}" if report.user_id else "anonymous user",
        f"started {_when(report.session.started_at)}",
        f"{format_offset(report.session.duration_ms)} long",
        _plural(len(report.session.pages), "page"),
        _plural(counts.errors, "console error"),
        _plural(counts.failed_requests, "failed request"),
    ]
    if counts.rage_clicks:
        parts.append(_plural(counts.rage_clicks, "rage click"))
    return ", ".join(parts)


def environment_line(report: ReplayReport) -> str | None:
    """`Chrome 131 on Windows 10 (desktop), viewport 1280×720, en-NZ, Europe/Berlin, release
    4.2.0 (production)`; None when the recorder did not say."""
    environment = report.session.environment
    return environment.describe() or None if environment else None


def _lines(report: ReplayReport, markdown: bool) -> list[str]:
    def bold(text: str) -> str:
        return f"**{text}**" if markdown else text.upper()

    def link(label: str, url: str) -> str:
        return f"[{label}]({url})" if markdown else f"{label}: {url}"

    def code(text: str) -> str:
        return f"`{text}`" if markdown else text

    def elsewhere(seen: SeenElsewhere, what: str) -> str:
        words = seen_elsewhere_text(seen, what)
        return f"  {words}: {link(NEWEST_OTHER_SESSION, seen.newest_session_url)}"

    window = report.replay_window
    label = "Watch the replay" + (f" {window_label(window)}" if window else "")
    links = [link(label, report.replay_url)]
    if report.first_error_url:
        links.append(link("Jump to the first error", report.first_error_url))
    if report.whole_session_url:
        links.append(link("The whole session", report.whole_session_url))
    valid = f"(valid until {_when(report.replay_url_expires_at)})"
    if markdown:
        # Markdown joins consecutive lines into one paragraph: one line per paragraph here.
        lines = [f"{bold('Session replay')}: {' · '.join(links)} {valid}", "", headline(report)]
    else:
        lines = [bold("Session replay"), *links, f"Links {valid}.", headline(report)]
    environment = environment_line(report)
    if environment:
        lines += (
            ["", f"Environment: {environment}"] if markdown else [f"Environment: {environment}"]
        )
    lines.append("")
    if report.steps:
        lines.append(bold("Steps to reproduce"))
        for section in step_sections(report.steps, report.omitted_steps):
            if section.omitted_before:
                lines.append(omitted_steps_line(section.omitted_before))
            lines += [
                f"{step.number}. {step.text} ({format_offset(step.offset_ms)})"
                for step in section.steps
            ]
        lines.append("")
    if report.console_errors:
        lines.append(bold("Console errors"))
        for error in report.console_errors:
            repeat = f" {TIMES}{error.count}" if error.count > 1 else ""
            first_line = error.message.strip().split("\n", 1)[0]
            where = f" on {error.page_url}" if error.page_url else ""
            lines.append(
                f"- {code(first_line)}{repeat} at {format_offset(error.first_offset_ms)}{where}"
            )
            lines += [f"    {frame}" for frame in error.stack]
            if error.seen_elsewhere:
                lines.append(elsewhere(error.seen_elsewhere, "error"))
        lines.append("")
    if report.failed_requests:
        lines.append(bold("Failed requests"))
        for failed in report.failed_requests:
            status = request_status(failed.status, failed.error)
            took = f", {failed.duration_ms:.0f} ms" if failed.duration_ms is not None else ""
            repeat = f" {TIMES}{failed.count}" if failed.count > 1 else ""
            lines.append(f"- {code(f'{failed.method} {failed.url}')} {status}{took}{repeat}")
            if failed.seen_elsewhere:
                lines.append(elsewhere(failed.seen_elsewhere, "failure"))
        lines.append("")
    if report.struggles:
        lines.append(bold("Struggles"))
        lines += [f"- {struggle_text(struggle)}" for struggle in report.struggles]
        lines.append("")
    return lines


def render_markdown(report: ReplayReport) -> str:
    """The report as Markdown (links, bold headings, code spans)."""
    return "\n".join(_lines(report, markdown=True)).strip() + "\n"


def render_text(report: ReplayReport) -> str:
    """The report as plain text, for trackers that show comments verbatim."""
    return "\n".join(_lines(report, markdown=False)).strip() + "\n"
