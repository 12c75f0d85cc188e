"""Jira Cloud's REST API v3: one short method per endpoint the plugin calls, and no more."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from plugins.jira.settings import JiraConfig
from service import PermanentError, ReportFile, __version__, remote_client, remote_request

__all__ = ["Comment", "JiraClient"]

API = "/rest/api/3"
ISSUES = f"{API}/issue"
ISSUE = f"{API}/issue/{{key}}"
COMMENTS = f"{ISSUE}/comment"
REMOTE_LINKS = f"{ISSUE}/remotelink"
ATTACHMENTS = f"{ISSUE}/attachments"
SEARCH = f"{API}/search/jql"
# Jira's own default page size for comments; a report is usually among the newest.
COMMENTS_PAGE = 100

T = TypeVar("T")


class Comment(msgspec.Struct, frozen=True):
    id: str | int
    body: Any = None
    """ADF on API v3."""


class _CommentPage(msgspec.Struct, frozen=True, rename="camel"):
    comments: list[Comment] = []
    start_at: int = 0
    total: int | None = None


class _Created(msgspec.Struct, frozen=True):
    key: str


class _Found(msgspec.Struct, frozen=True):
    issues: list[_Created] = []


class _Attachment(msgspec.Struct, frozen=True):
    filename: str = ""


class _AttachmentFields(msgspec.Struct, frozen=True):
    attachment: list[_Attachment] = []


class _IssueAttachments(msgspec.Struct, frozen=True):
    fields: _AttachmentFields = _AttachmentFields()


class JiraClient:
    """An authenticated connection to one Jira site; use it as a context manager."""

    def __init__(self, config: JiraConfig) -> None:
        self._http = remote_client(
            config.url,
            headers={
                "Authorization": config.authorization,
                "Accept": "application/json",
                "User-Agent": f"ReplayDesk/{__version__}",
            },
        )

    def __enter__(self) -> JiraClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return remote_request(self._http, method, path, **kwargs)

    @staticmethod
    def _decode(response: httpx.Response, kind: type[T]) -> T:
        try:
            return msgspec.json.decode(response.content, type=kind)
        except msgspec.DecodeError as exc:
            what = f"{response.request.method} {response.request.url.path}"
            raise PermanentError(
                f"{what} answered {response.status_code} with a body Jira would not send "
                f"({exc}); does the URL setting point at your Jira site?",
                status=response.status_code,
            ) from None

    def add_comment(self, key: str, body: dict[str, Any]) -> str:
        """Comment on the issue; the new comment's id."""
        response = self._call("POST", COMMENTS.format(key=_segment(key)), json={"body": body})
        return str(self._decode(response, Comment).id)

    def comments(self, key: str) -> Iterator[Comment]:
        """The issue's comments, newest first, a page at a time."""
        start = 0
        while True:
            response = self._call(
                "GET",
                COMMENTS.format(key=_segment(key)),
                params={"startAt": start, "maxResults": COMMENTS_PAGE, "orderBy": "-created"},
            )
            page = self._decode(response, _CommentPage)
            yield from page.comments
            start = page.start_at + len(page.comments)
            if not page.comments or (page.total is not None and start >= page.total):
                return

    def upsert_remote_link(self, key: str, link: dict[str, Any]) -> None:
        """Create the remote link, or update the one with the same `globalId`."""
        self._call("POST", REMOTE_LINKS.format(key=_segment(key)), json=link)

    def attachment_names(self, key: str) -> set[str]:
        """The file names attached to the issue."""
        response = self._call(
            "GET", ISSUE.format(key=_segment(key)), params={"fields": "attachment"}
        )
        return {a.filename for a in self._decode(response, _IssueAttachments).fields.attachment}

    def add_attachment(self, key: str, file: ReportFile) -> None:
        """Attach a file to the issue."""
        self._call(
            "POST",
            ATTACHMENTS.format(key=_segment(key)),
            files={"file": (file.filename, file.content, file.content_type)},
            # Jira refuses multipart posts without it (its XSRF check).
            headers={"X-Atlassian-Token": "no-check"},
        )

    def issue_labelled(self, label: str) -> str | None:
        """The key of an issue carrying `label`, if Jira has one."""
        quoted = label.replace("\\", "\\\\").replace('"', '\\"')
        response = self._call(
            "GET", SEARCH, params={"jql": f'labels = "{quoted}"', "fields": "key", "maxResults": 1}
        )
        found = self._decode(response, _Found).issues
        return found[0].key if found else None

    def create_issue(self, fields: dict[str, Any]) -> str:
        """Open an issue; its key."""
        response = self._call("POST", ISSUES, json={"fields": fields})
        return self._decode(response, _Created).key


def _segment(key: str) -> str:
    return quote(key, safe="")
