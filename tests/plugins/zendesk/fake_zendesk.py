"""A stand-in Zendesk at the httpx edge (respx): notes kept per ticket, every request checked."""

from __future__ import annotations

import base64
import json
import re
from collections import deque
from datetime import UTC, datetime
from typing import Any

import httpx
import respx

from plugins import zendesk as plugin
from service import PluginSettings, hmac_sha256
from tests.plugins.zendesk.contract import example, request_violations

__all__ = [
    "API_TOKEN",
    "EMAIL",
    "WEBHOOK_SECRET",
    "ZENDESK_URL",
    "FakeZendesk",
    "basic_authorization",
    "plugin_settings",
    "signed_headers",
]

ZENDESK_URL = "https://acme.zendesk.com"
EMAIL = "replaydesk@acme.test"
API_TOKEN = "zd-api-token-not-real"
WEBHOOK_SECRET = "zd-signing-secret-not-real"

_TAG = re.compile(r"<[^>]+>")


def basic_authorization(email: str, token: str) -> str:
    """Zendesk's API-token basic auth, written out independently of the plugin."""
    return "Basic " + base64.b64encode(f"{email}/token:{token}".encode()).decode()


def signed_headers(
    body: bytes,
    secret: str = WEBHOOK_SECRET,
    timestamp: str | None = None,
    invocation_id: str = "8350205582",
) -> dict[str, str]:
    """The headers Zendesk sends with a webhook body: base64 HMAC over timestamp + body."""
    stamp = timestamp or datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "Content-Type": "application/json",
        "X-Zendesk-Account-Id": "123456",
        "X-Zendesk-Webhook-Id": "01F1KRFQ6BG29CNWFR60NK5FNY",
        "X-Zendesk-Webhook-Invocation-Id": invocation_id,
        "X-Zendesk-Webhook-Signature": hmac_sha256(secret, stamp.encode() + body, "base64"),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
    }


class FakeZendesk:
    """Zendesk's upload, ticket-update, comment and user endpoints as respx routes.

    Every request is checked against the saved Support API spec (`violations`) and must carry
    `authorization` (else 401, as Zendesk answers). Answers are the saved vendor examples,
    filled in with what was written.
    """

    def __init__(self, router: respx.MockRouter, authorization: str) -> None:
        self.authorization = authorization
        self.requests: list[httpx.Request] = []
        self.violations: list[str] = []
        self.notes: dict[str, list[dict[str, Any]]] = {}
        """Comments written per ticket, as the comments API lists them."""
        self.users: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, httpx.Request] = {}
        self.put_faults: deque[httpx.Response] = deque()
        """The next ticket updates answer these, in order, and write nothing."""
        self.lost_put_replies = 0
        """The next ticket updates write their note, then time out before answering."""
        self.upload_faults: deque[httpx.Response] = deque()
        """The next uploads answer these, in order, and store nothing."""
        self._next_comment_id = 206091192547
        router.route(method="POST", path="/api/v2/uploads").mock(side_effect=self._upload)
        router.route(method="DELETE", path__regex=r"^/api/v2/uploads/(?P<token>[^/]+)$").mock(
            side_effect=self._delete_upload
        )
        router.route(method="PUT", path__regex=r"^/api/v2/tickets/(?P<ticket_id>\d+)$").mock(
            side_effect=self._update_ticket
        )
        router.route(
            method="GET", path__regex=r"^/api/v2/tickets/(?P<ticket_id>\d+)/comments(\.json)?$"
        ).mock(side_effect=self._comments)
        router.route(method="GET", path__regex=r"^/api/v2/users/(?P<user_id>\d+)$").mock(
            side_effect=self._user
        )
        router.route().mock(side_effect=self._unexpected)

    def calls(self, method: str, path_start: str = "/api/v2/") -> list[httpx.Request]:
        """Requests received with this method, on paths starting with `path_start`."""
        return [
            r for r in self.requests if r.method == method and r.url.path.startswith(path_start)
        ]

    def _refused(self, request: httpx.Request) -> httpx.Response | None:
        self.requests.append(request)
        where = f"{request.method} {request.url.path}"
        self.violations += [f"{where}: {problem}" for problem in request_violations(request)]
        if request.headers.get("authorization") != self.authorization:
            return httpx.Response(401, json={"error": "Couldn't authenticate you"})
        return None

    def _upload(self, request: httpx.Request) -> httpx.Response:
        if refused := self._refused(request):
            return refused
        if self.upload_faults:
            return self.upload_faults.popleft()
        answer = example("upload-file.201.response.json")
        self.uploads[answer["upload"]["token"]] = request
        return httpx.Response(201, json=answer)

    def _delete_upload(self, request: httpx.Request, token: str) -> httpx.Response:
        if refused := self._refused(request):
            return refused
        if self.uploads.pop(token, None) is None:
            return httpx.Response(404, json={"error": "RecordNotFound"})
        return httpx.Response(204)

    def _update_ticket(self, request: httpx.Request, ticket_id: str) -> httpx.Response:
        if refused := self._refused(request):
            return refused
        if self.put_faults:
            return self.put_faults.popleft()
        comment = json.loads(request.content)["ticket"]["comment"]
        for token in comment.get("uploads", []):
            if token not in self.uploads:
                self.violations.append(f"PUT {request.url.path}: unknown upload token {token}")
        html_body = comment.get("html_body", "")
        note = {
            **example("list-comments.200.response.json")["comments"][0],
            "id": self._next_comment_id,
            "attachments": [],
            "body": _TAG.sub("", html_body),
            "html_body": html_body,
            "public": comment.get("public", True),
            "uploads": comment.get("uploads", []),
        }
        self._next_comment_id += 1
        self.notes.setdefault(ticket_id, []).append(note)
        answer = example("update-ticket.200.response.json")
        answer["ticket"]["id"] = int(ticket_id)
        for event in answer["audit"]["events"]:
            if event["type"] == "Comment":
                event.update(id=note["id"], body=note["body"])
        if self.lost_put_replies:
            self.lost_put_replies -= 1
            raise httpx.ReadTimeout("the answer never came", request=request)
        return httpx.Response(200, json=answer)

    def _comments(self, request: httpx.Request, ticket_id: str) -> httpx.Response:
        if refused := self._refused(request):
            return refused
        # The customer's own first comment comes first, as on a real ticket.
        first = example("list-comments.200.response.json")["comments"]
        comments = first + self.notes.get(ticket_id, [])
        return httpx.Response(200, json={"comments": comments, "next_page": None})

    def _user(self, request: httpx.Request, user_id: str) -> httpx.Response:
        if refused := self._refused(request):
            return refused
        if user_id not in self.users:
            return httpx.Response(404, json={"error": "RecordNotFound"})
        answer = example("show-user.200.response.json")
        answer["user"].update(id=int(user_id), **self.users[user_id])
        return httpx.Response(200, json=answer)

    def _unexpected(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.violations.append(f"{request.method} {request.url} is not a call the plugin makes")
        return httpx.Response(404, json={"error": "InvalidEndpoint"})


def plugin_settings(**values: str) -> PluginSettings:
    """The plugin's settings, pointed at this stand-in; `values` override or add (`""` unsets)."""
    merged = {"URL": ZENDESK_URL, "WEBHOOK_SECRET": WEBHOOK_SECRET, "EMAIL": EMAIL}
    merged |= {"API_TOKEN": API_TOKEN, **values}
    return PluginSettings(
        plugin="zendesk",
        values={name: value for name, value in merged.items() if value != ""},
        specs=tuple(plugin.replaydesk_plugin_settings()),
    )
