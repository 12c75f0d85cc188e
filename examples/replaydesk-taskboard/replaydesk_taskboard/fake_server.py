"""A stand-in Taskboard for tests: its comment API on the kit's fake tracker, comments in memory."""

from __future__ import annotations

import json
import time
from typing import Any

from service import hmac_sha256
from service.plugin_testing import FakeTracker, RecordedRequest, route

__all__ = ["FakeTaskboard", "signed_webhook"]

COMMENTS = "/api/tickets/{ticket}/comments"


def signed_webhook(
    secret: str, payload: dict[str, Any], timestamp: float | None = None
) -> tuple[bytes, dict[str, str]]:
    """A webhook body and the headers Taskboard signs it with."""
    body = json.dumps(payload).encode()
    stamp = str(int(time.time() if timestamp is None else timestamp))
    signature = hmac_sha256(secret, f"{stamp}.".encode() + body)
    headers = {
        "Content-Type": "application/json",
        "X-Taskboard-Timestamp": stamp,
        "X-Taskboard-Signature": f"sha256={signature}",
    }
    return body, headers


# [docs:fake-tracker]
class FakeTaskboard(FakeTracker):
    """Taskboard's comment API: list and add comments, a bearer token, missing tickets."""

    def __init__(self, token: str = "taskboard-token") -> None:  # noqa: S107 - not a secret
        super().__init__()
        self.token = token
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.missing_tickets: set[str] = set()

    def authorize(self, request: RecordedRequest) -> tuple[int, Any] | None:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"error": "bad token"}
        return None

    @route("GET", COMMENTS)
    def list_comments(self, request: RecordedRequest, ticket: str) -> tuple[int, Any]:
        return 200, {"comments": self.comments.get(ticket, [])}

    @route("POST", COMMENTS)
    def add_comment(self, request: RecordedRequest, ticket: str) -> tuple[int, Any]:
        if ticket in self.missing_tickets:
            return 404, {"error": "no such ticket"}
        if not isinstance(request.json, dict) or not isinstance(request.json.get("body"), str):
            return 422, {"error": "a comment needs a string body"}
        comment_id = f"c{sum(map(len, self.comments.values())) + 1}"
        url = f"{self.url}/tickets/{ticket}#{comment_id}"
        comment = {"id": comment_id, "body": request.json["body"], "url": url}
        self.comments.setdefault(ticket, []).append(comment)
        return 201, {"id": comment_id, "url": url}

    def comments_on(self, ticket_id: str) -> list[dict[str, Any]]:
        """The comments a ticket has."""
        with self.lock:
            return list(self.comments.get(ticket_id, []))

    @property
    def posts(self) -> int:
        """Comment POSTs received, failed ones included."""
        return len(self.requests_to("POST", COMMENTS))


# [/docs:fake-tracker]
