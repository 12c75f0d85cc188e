"""The JSON bodies besides comments: the replay's remote link and the fields of a new issue."""

from __future__ import annotations

import re
from typing import Any

from plugins.jira.adf import issue_description
from plugins.jira.webhook import USER_LABEL
from service import IssueRequest, ReplayReport, headline

__all__ = ["MAX_SUMMARY_CHARS", "issue_fields", "issue_summary", "remote_link", "request_label"]

# Jira refuses longer summaries, and summaries with line breaks.
MAX_SUMMARY_CHARS = 255
# Labels may not contain spaces, and are at most 255 characters long.
MAX_LABEL_CHARS = 255
_SPACES = re.compile(r"\s+")


def remote_link(report: ReplayReport) -> dict[str, Any]:
    """The issue's link to the replay, one per session: posting it again updates it.

    Jira sets the fields an update leaves out to null, so every field is always sent.
    """
    return {
        "globalId": f"replaydesk:{report.session_id}",
        "application": {"type": "com.replaydesk", "name": "ReplayDesk"},
        "relationship": "session replay",
        "object": {
            "url": report.replay_url,
            "title": f"Replay of session {report.session_id}",
            "summary": headline(report),
        },
    }


def _one_line(value: str, limit: int) -> str:
    line = _SPACES.sub(" ", value).strip()
    return line if len(line) <= limit else line[: limit - 1] + "\N{HORIZONTAL ELLIPSIS}"


def issue_summary(report: ReplayReport) -> str:
    """A title written from the report: the first console error, else the headline."""
    if report.console_errors:
        message = report.console_errors[0].message.strip()
        first_line = message.split("\n", 1)[0]
        if first_line.strip():
            return _one_line(first_line, MAX_SUMMARY_CHARS)
    return _one_line(f"Session replay: {headline(report)}", MAX_SUMMARY_CHARS)


def _label(value: str) -> str:
    return _SPACES.sub("-", value.strip())[:MAX_LABEL_CHARS]


def request_label(request: IssueRequest) -> str:
    """The label that identifies the request an issue was opened for."""
    return _label(request.marker)


def issue_fields(
    request: IssueRequest, report: ReplayReport, project: str, issue_type: str
) -> dict[str, Any]:
    """The `fields` of a bug opened from a session, its description the whole report."""
    summary = _one_line(request.summary or "", MAX_SUMMARY_CHARS) or issue_summary(report)
    labels = [
        _label(value)
        for value in (f"{USER_LABEL}{report.user_id}" if report.user_id else "", request.marker)
        if value.strip()
    ]
    return {
        "project": {"key": project},
        "issuetype": {"name": issue_type},
        "summary": summary,
        "description": issue_description(report),
        "labels": labels,
    }
