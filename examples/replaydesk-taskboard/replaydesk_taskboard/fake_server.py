"""A stand-in Taskboard on loopback for tests: real HTTP, comments in memory, scripted faults."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from service import hmac_sha256

__all__ = ["FakeTaskboard", "Fault", "signed_webhook"]

COMMENTS_PREFIX = "/api/tickets/"


class Fault:
    """How the next comment POST goes wrong."""

    def __init__(self, status: int, *, retry_after: str | None = None, lands: bool = False) -> None:
        self.status = status
        self.retry_after = retry_after
        self.lands = lands
        """True: the comment is stored, then the answer is an error (the reply got lost)."""


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


class FakeTaskboard:
    """Taskboard's comment API on 127.0.0.1, started in a thread (use as a context manager)."""

    def __init__(self, token: str = "taskboard-token") -> None:  # noqa: S107 - not a secret
        self.token = token
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.missing_tickets: set[str] = set()
        self.listing_status: int | None = None
        """Set: listing a ticket's comments answers this status instead."""
        self.faults: deque[Fault] = deque()
        self.posts = 0
        """Comment POSTs received, failed ones included."""
        self.idempotency_keys: list[str | None] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # A short poll interval makes shutdown (end of each test) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail_next(self, *faults: Fault) -> None:
        """The next comment POSTs fail like this, in order."""
        with self._lock:
            self.faults.extend(faults)

    def comments_on(self, ticket_id: str) -> list[dict[str, Any]]:
        """The comments a ticket has."""
        with self._lock:
            return list(self.comments.get(ticket_id, []))

    def __enter__(self) -> FakeTaskboard:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _post_comment(
        self, ticket_id: str, body: Any, key: str | None
    ) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.posts += 1
            self.idempotency_keys.append(key)
            fault = self.faults.popleft() if self.faults else None
            if ticket_id in self.missing_tickets:
                return 404, {"error": "no such ticket"}, {}
            if not isinstance(body, dict) or not isinstance(body.get("body"), str):
                return 422, {"error": "a comment needs a string body"}, {}
            if fault is not None and not fault.lands:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return fault.status, {"error": "scripted fault"}, headers
            comments = self.comments.setdefault(ticket_id, [])
            comment_id = f"c{sum(len(c) for c in self.comments.values()) + 1}"
            url = f"{self.url}/tickets/{ticket_id}#{comment_id}"
            comments.append(
                {"id": comment_id, "body": body["body"], "url": url, "created_at": time.time()}
            )
            if fault is not None:
                return fault.status, {"error": "scripted fault after the write"}, {}
            return 201, {"id": comment_id, "url": url}, {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _answer(self, status: int, payload: Any, headers: dict[str, str]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _ticket(self) -> str | None:
                path = self.path.split("?", 1)[0]
                if not (path.startswith(COMMENTS_PREFIX) and path.endswith("/comments")):
                    return None
                return unquote(path[len(COMMENTS_PREFIX) : -len("/comments")])

            def _authorized(self) -> bool:
                return self.headers.get("Authorization") == f"Bearer {fake.token}"

            def do_GET(self) -> None:
                ticket = self._ticket()
                if ticket is None:
                    return self._answer(404, {"error": "not found"}, {})
                if not self._authorized():
                    return self._answer(401, {"error": "bad token"}, {})
                if fake.listing_status is not None:
                    return self._answer(fake.listing_status, {"error": "cannot list"}, {})
                return self._answer(200, {"comments": fake.comments_on(ticket)}, {})

            def do_POST(self) -> None:
                ticket = self._ticket()
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if ticket is None:
                    return self._answer(404, {"error": "not found"}, {})
                if not self._authorized():
                    return self._answer(401, {"error": "bad token"}, {})
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                key = self.headers.get("Idempotency-Key")
                return self._answer(*fake._post_comment(ticket, body, key))

        return Handler
