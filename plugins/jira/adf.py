"""Replay reports as Atlassian Document Format (ADF): small node builders and the documents.

Everything here is pure. Text from the recorded page (console messages, URLs, labels) only
ever becomes the `text` of text nodes, so markup in it stays literal; only http(s) URLs
become links.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
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

__all__ = [
    "Node",
    "bullet_list",
    "code_block",
    "doc",
    "heading",
    "issue_description",
    "link",
    "no_recording_comment",
    "ordered_list",
    "paragraph",
    "plain_text",
    "report_comment",
    "table",
    "text",
]

Node = dict[str, Any]

# Jira refuses text fields over 32,767 characters (its default text-field limit). With at most
# 30 steps, 5 errors and 10 requests in a report, these cuts keep a comment well below it.
MAX_INLINE_CHARS = 400
MAX_CODE_CHARS = 3000
ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"
TIMES = "\N{MULTIPLICATION SIGN}"
NONE = "\N{EN DASH}"

# Control characters other than tab and newline have no business in a comment.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACES = re.compile(r"\s+")
_WEB_SCHEMES = frozenset({"http", "https"})


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + ELLIPSIS


def _is_web_url(href: str) -> bool:
    if any(char.isspace() or ord(char) < 32 for char in href):
        return False
    parts = urlsplit(href)
    return parts.scheme.lower() in _WEB_SCHEMES and bool(parts.netloc)


def _when(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


# -- node builders ------------------------------------------------------------------------


def text(value: str, *marks: str) -> Node | None:
    """An inline text node on one line, with simple marks (`strong`, `em`, `code`).

    None for an empty string: ADF has no empty text nodes, and the containers drop None.
    """
    cleaned = _cut(_SPACES.sub(" ", _CONTROL.sub(" ", value)), MAX_INLINE_CHARS)
    if not cleaned:
        return None
    node: Node = {"type": "text", "text": cleaned}
    if marks:
        node["marks"] = [{"type": mark} for mark in marks]
    return node


def link(label: str, href: str) -> Node | None:
    """`label` linked to `href` when it is an http(s) URL; plain text otherwise."""
    node = text(label)
    if node is not None and _is_web_url(href):
        node["marks"] = [{"type": "link", "attrs": {"href": href}}]
    return node


def paragraph(*inline: Node | None) -> Node:
    """A paragraph of the inline nodes given (None ones left out)."""
    return {"type": "paragraph", "content": [node for node in inline if node is not None]}


def heading(title: str, level: int = 3) -> Node:
    """A heading (levels 1-6)."""
    return {
        "type": "heading",
        "attrs": {"level": level},
        "content": paragraph(text(title))["content"],
    }


def code_block(code: str) -> Node:
    """Preformatted lines. Its text carries no marks; an empty block holds a dash."""
    cleaned = _cut(_CONTROL.sub(" ", code).strip("\n"), MAX_CODE_CHARS) or NONE
    return {"type": "codeBlock", "content": [{"type": "text", "text": cleaned}]}


def _items(items: Iterable[Node]) -> list[Node]:
    return [{"type": "listItem", "content": [item]} for item in items]


def bullet_list(items: Iterable[Node]) -> Node:
    """A bulleted list of paragraphs (at least one)."""
    return {"type": "bulletList", "content": _items(items)}


def ordered_list(items: Iterable[Node], start: int = 1) -> Node:
    """A numbered list of paragraphs (at least one), counting from `start`."""
    return {"type": "orderedList", "attrs": {"order": start}, "content": _items(items)}


def table(header: list[str], rows: Iterable[list[Node | None]]) -> Node:
    """A table with a header row; each cell holds one line of inline nodes."""

    def row(kind: str, cells: Iterable[Node | None]) -> Node:
        return {
            "type": "tableRow",
            "content": [{"type": kind, "content": [paragraph(cell)]} for cell in cells],
        }

    return {
        "type": "table",
        "attrs": {"isNumberColumnEnabled": False, "layout": "default"},
        "content": [
            row("tableHeader", (text(title) for title in header)),
            *(row("tableCell", cells) for cells in rows),
        ],
    }


def doc(*blocks: Node | None) -> Node:
    """The document: version 1, the blocks given (None ones left out)."""
    return {"version": 1, "type": "doc", "content": [b for b in blocks if b is not None]}


# -- report sections ----------------------------------------------------------------------


def _replay(report: ReplayReport) -> list[Node]:
    valid = f" (valid until {_when(report.replay_url_expires_at)})"
    if report.replay_window and report.whole_session_url:
        # The minutes before the ticket first; the first error and all of it a click away.
        label = f"Watch the replay {window_label(report.replay_window)}"
        parts = [link(label, report.replay_url)]
        if report.first_error_url:
            parts += [text(", "), link("from the first error", report.first_error_url)]
        parts += [text(" or "), link("the whole session", report.whole_session_url), text(valid)]
        line = paragraph(*parts)
    elif report.first_error_url:
        line = paragraph(
            link("Watch the replay from the first error", report.first_error_url),
            text(" or "),
            link("from the start", report.replay_url),
            text(valid),
        )
    else:
        line = paragraph(link("Watch the replay", report.replay_url), text(valid))
    blocks = [heading("Session replay"), line, paragraph(text(headline(report)))]
    environment = environment_line(report)
    if environment:
        blocks.append(paragraph(text(f"Environment: {environment}")))
    return blocks


def _steps(report: ReplayReport) -> list[Node]:
    if not report.steps:
        return []
    blocks = [heading("Steps to reproduce")]
    for section in step_sections(report.steps, report.omitted_steps):
        if section.omitted_before:
            blocks.append(paragraph(text(omitted_steps_line(section.omitted_before))))
        if section.steps:
            items = (
                paragraph(text(step.text), text(f" ({format_offset(step.offset_ms)})"))
                for step in section.steps
            )
            blocks.append(ordered_list(items, start=section.steps[0].number))
    return blocks


def _elsewhere(seen: SeenElsewhere | None, what: str, prefix: str = "") -> list[Node]:
    """The paragraph about other users who hit it; none when nobody else did."""
    if seen is None:
        return []
    words = f"{prefix}{seen_elsewhere_text(seen, what)}: "
    return [paragraph(text(words), link("newest other session", seen.newest_session_url))]


def _errors(report: ReplayReport) -> list[Node]:
    if not report.console_errors:
        return []
    blocks = [heading("Console errors")]
    for error in report.console_errors:
        repeat = f", {TIMES}{error.count}" if error.count > 1 else ""
        level = error.level.capitalize() or "Error"
        where = f" on {error.page_url}" if error.page_url else ""
        at = format_offset(error.first_offset_ms)
        blocks.append(paragraph(text(f"{level} at {at}{where}{repeat}")))
        blocks.append(code_block("\n".join([error.message, *error.stack])))
        blocks += _elsewhere(error.seen_elsewhere, "error")
    return blocks


def _requests(report: ReplayReport) -> list[Node]:
    if not report.failed_requests:
        return []
    rows = []
    for failed in report.failed_requests:
        status = request_status(failed.status, failed.error)
        took = f"{failed.duration_ms:.0f} ms" if failed.duration_ms is not None else NONE
        rows.append(
            [
                text(failed.method or NONE),
                text(failed.url, "code") or text(NONE),
                text(status),
                text(took),
                text(str(failed.count)),
            ]
        )
    header = ["Method", "URL", "Status", "Duration", "Count"]
    elsewhere = [
        block
        for failed in report.failed_requests
        for block in _elsewhere(failed.seen_elsewhere, "failure", f"{failed.method} {failed.url}: ")
    ]
    return [heading("Failed requests"), table(header, rows), *elsewhere]


def _struggles(report: ReplayReport) -> list[Node]:
    if not report.struggles:
        return []
    items = [paragraph(text(struggle_text(struggle))) for struggle in report.struggles]
    return [heading("Struggles"), bullet_list(items)]


def _marker(marker: str) -> Node | None:
    # A retry finds the comment by this line (replaydesk_find_attachment).
    return paragraph(text(f"ReplayDesk {marker}", "em")) if marker else None


# -- documents ----------------------------------------------------------------------------


def report_comment(report: ReplayReport) -> Node:
    """The comment on an issue: the replay link first, then the evidence, then the marker."""
    return doc(
        *_replay(report),
        *_steps(report),
        *_errors(report),
        *_requests(report),
        *_struggles(report),
        _marker(report.marker),
    )


def issue_description(report: ReplayReport) -> Node:
    """The description of a bug opened from a session: the steps to reproduce come first."""
    return doc(
        *_steps(report),
        *_replay(report),
        *_errors(report),
        *_requests(report),
        *_struggles(report),
        _marker(report.marker),
    )


def no_recording_comment(notice: MissingRecording) -> Node:
    """The short comment on an issue whose customer has no recorded session."""
    return doc(
        paragraph(text("No session replay", "strong"), text(f": {notice.reason.rstrip('.')}.")),
        _marker(notice.marker),
    )


def plain_text(body: Any) -> str:
    """The text of an ADF document (or of a plain string body), without formatting."""
    if isinstance(body, str):
        return body
    if isinstance(body, list):
        return "".join(plain_text(node) for node in body)
    if not isinstance(body, dict):
        return ""
    own = body.get("text") if body.get("type") == "text" else None
    return (own if isinstance(own, str) else "") + plain_text(body.get("content"))
