"""The Zendesk Support API calls the plugin makes: one short method per endpoint."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from plugins.zendesk.settings import ZendeskConfig
from service import PermanentError, ReportFile, __version__, remote_client, remote_request

__all__ = ["ZendeskClient"]

TICKET = "/api/v2/tickets/{ticket_id}"
TICKET_COMMENTS = "/api/v2/tickets/{ticket_id}/comments"
UPLOADS = "/api/v2/uploads"
UPLOAD = "/api/v2/uploads/{token}"
USER = "/api/v2/users/{user_id}"
# Comments come oldest first. ReplayDesk writes its note while a ticket is new, so the first
# pages hold it on any ticket a retry can concern; the cap bounds a retry's cost.
COMMENTS_PER_PAGE = 100
MAX_COMMENT_PAGES = 5


def _segment(value: str) -> str:
    return quote(value, safe="")


def _comment_id(answer: dict[str, Any]) -> str | None:
    """The new comment's id in an update's audit (its `Comment` event), else the audit's id."""
    audit = answer.get("audit") or {}
    for event in audit.get("events") or []:
        if event.get("type") == "Comment" and event.get("id") is not None:
            return str(event["id"])
    return None if audit.get("id") is None else str(audit["id"])


class ZendeskClient:
    """Zendesk's Support API for one hook call (use as a context manager)."""

    def __init__(self, config: ZendeskConfig) -> None:
        headers = {
            "Authorization": config.authorization,
            "Accept": "application/json",
            "User-Agent": f"ReplayDesk/{__version__}",
        }
        self._http = remote_client(config.url, headers=headers)

    def __enter__(self) -> ZendeskClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._http.close()

    def upload(self, file: ReportFile) -> str:
        """Upload a file for a comment to attach; returns the upload token."""
        response = remote_request(
            self._http,
            "POST",
            UPLOADS,
            params={"filename": file.filename},
            content=file.content,
            headers={"Content-Type": file.content_type},
        )
        token = (response.json().get("upload") or {}).get("token")
        if not isinstance(token, str) or not token:
            raise PermanentError(f"POST {UPLOADS} answered {response.status_code} with no token")
        return token

    def delete_upload(self, token: str) -> None:
        """Delete an upload no comment took."""
        remote_request(self._http, "DELETE", UPLOAD.format(token=_segment(token)))

    def add_private_note(
        self, ticket_id: str, html_body: str, uploads: Sequence[str] = ()
    ) -> str | None:
        """Add an internal note (a comment with `public: false`); returns the comment's id."""
        comment: dict[str, Any] = {"html_body": html_body, "public": False}
        if uploads:
            comment["uploads"] = list(uploads)
        response = remote_request(
            self._http,
            "PUT",
            TICKET.format(ticket_id=_segment(ticket_id)),
            json={"ticket": {"comment": comment}},
        )
        return _comment_id(response.json())

    def comments(self, ticket_id: str) -> Iterator[dict[str, Any]]:
        """The ticket's comments, oldest first, from the first `MAX_COMMENT_PAGES` pages."""
        url = TICKET_COMMENTS.format(ticket_id=_segment(ticket_id))
        params: dict[str, int] | None = {"per_page": COMMENTS_PER_PAGE}
        for _ in range(MAX_COMMENT_PAGES):
            page = remote_request(self._http, "GET", url, params=params).json()
            yield from page.get("comments") or []
            next_page = page.get("next_page")
            if not isinstance(next_page, str) or not self._is_own(next_page):
                return
            url, params = next_page, None

    def user(self, user_id: str) -> dict[str, Any]:
        """A user's fields (`external_id`, `email`, ...)."""
        response = remote_request(self._http, "GET", USER.format(user_id=_segment(user_id)))
        user: dict[str, Any] = response.json().get("user") or {}
        return user

    def _is_own(self, url: str) -> bool:
        # The credentials go with every request: follow a `next_page` only to this Zendesk.
        target, base = httpx.URL(url), self._http.base_url
        return (target.scheme, target.host, target.port) == (base.scheme, base.host, base.port)
