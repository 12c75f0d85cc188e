"""A stand-in tracker for plugin tests: real HTTP on loopback, every request kept, faults on cue.

A plugin's tests subclass `FakeTracker`, declare the vendor's endpoints with `@route` and keep
the vendor's state (comments per ticket, ...) as attributes. The base serves them on
127.0.0.1 with the standard library's `ThreadingHTTPServer`, records every request, and plays
scripted faults before a handler runs: an error status (429 with `Retry-After`, 5xx), a write
that lands but whose reply is lost, or a reply slower than the client waits. Real HTTP, not a
mock of the plugin's own client: the plugin's error sorting runs as it will in production.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["FakeTracker", "Fault", "RecordedRequest", "Reply", "route"]

F = TypeVar("F", bound=Callable[..., Any])
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Short enough that stopping the server at the end of each test is quick.
_POLL_SECONDS = 0.05


def _pattern(template: str) -> re.Pattern[str]:
    """`/api/tickets/{ticket}/comments` as a regex: each `{name}` is one path segment."""
    parts = _PLACEHOLDER.split(template)
    regex = "".join(
        f"(?P<{part}>[^/]+)" if index % 2 else re.escape(part) for index, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$")


def route(method: str, path: str) -> Callable[[F], F]:
    """Declare a method of a `FakeTracker` subclass as the handler of `METHOD path`.

    `{name}` in `path` matches one path segment; the handler receives it, URL-decoded, as a
    keyword argument after the `RecordedRequest`. It returns a `Reply` or `(status, json)` or
    `(status, json, headers)`.
    """

    def mark(handler: F) -> F:
        handler.__dict__["_fake_route"] = (method.upper(), path)
        return handler

    return mark


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received, faulted ones included."""

    method: str
    path: str
    """The URL path, query excluded, not decoded."""
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes
    json: Any
    """The body parsed as JSON; None when it is empty or no JSON."""


@dataclass(frozen=True)
class Reply:
    """An answer: a JSON payload (or raw bytes/text) with a status and headers."""

    status: int
    payload: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """What goes wrong with the next matching requests (see `FakeTracker.fail_next`).

    `Fault(503)` answers 503 and runs no handler; `Fault(429, retry_after="7")` adds the
    header; `Fault(502, lands=True)` runs the handler (the write lands) and answers 502;
    `Fault.lost_reply()` runs the handler and closes the connection without an answer;
    `Fault.slow(seconds)` waits that long before handling (beyond the client's timeout, the
    write lands while the client has given up). `times` is how many requests it hits (None:
    all of them).
    """

    status: int | None = None
    retry_after: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    lands: bool = False
    lose_reply: bool = False
    delay: float = 0.0
    times: int | None = 1
    method: str | None = None
    path: str | None = None
    """A path or a `{name}` template; None matches any path."""

    @classmethod
    def lost_reply(cls, times: int | None = 1) -> Fault:
        """The handler runs, then the connection closes with no answer."""
        return cls(lose_reply=True, times=times)

    @classmethod
    def slow(cls, seconds: float, times: int | None = 1) -> Fault:
        """The answer comes `seconds` late."""
        return cls(delay=seconds, times=times)

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path is None or bool(_pattern(self.path).match(path))


class FakeTracker:
    """The base of a fake vendor API on 127.0.0.1 (port 0), started as a context manager.

    Handlers run one at a time under `self.lock`, so subclasses keep plain dicts and lists.
    Override `authorize(request)` to refuse requests before any handler (a bad token). Unknown
    paths answer 404 and stay in `requests`, so a test sees calls nobody expected.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = []
        for name in dir(type(self)):
            spec = getattr(getattr(type(self), name), "_fake_route", None)
            if spec is not None:
                self._routes.append((spec[0], _pattern(spec[1]), getattr(self, name)))
        self._stopping = threading.Event()
        self._server = _QuietServer(("127.0.0.1", 0), self._request_handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name=f"{type(self).__name__}-server",
            daemon=True,
        )

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`, the base URL to give the plugin."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stopping.set()  # slow faults stop waiting
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # -- what a subclass overrides ------------------------------------------------------------

    def authorize(self, request: RecordedRequest) -> Reply | tuple[int, Any] | None:
        """An answer that refuses the request before any fault or handler, or None."""
        return None

    # -- what a test calls --------------------------------------------------------------------

    def fail_next(self, *faults: Fault, method: str | None = None, path: str | None = None) -> None:
        """Script faults, played in order on the requests they match; `method` and `path`
        (a `{name}` template) narrow the faults that do not say themselves."""
        with self.lock:
            for fault in faults:
                fault.method = fault.method or method
                fault.path = fault.path or path
                self.faults.append(fault)

    def requests_to(self, method: str, path: str | None = None) -> list[RecordedRequest]:
        """The requests received with this method (on paths matching `path`, a template)."""
        pattern = None if path is None else _pattern(path)
        with self.lock:
            return [
                r
                for r in self.requests
                if r.method == method.upper() and (pattern is None or pattern.match(r.path))
            ]

    # -- serving ------------------------------------------------------------------------------

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.times != 0 and fault.matches(method, path):
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    def _dispatch(self, request: RecordedRequest) -> Reply:
        for method, pattern, handler in self._routes:
            found = pattern.match(request.path) if method == request.method else None
            if found:
                params = {name: unquote(value) for name, value in found.groupdict().items()}
                return _as_reply(handler(request, **params))
        return Reply(404, {"error": f"no route for {request.method} {request.path}"})

    def _handle(self, request: RecordedRequest) -> Reply | None:
        """The reply to send, or None to close the connection without one."""
        with self.lock:
            self.requests.append(request)
            refused = self.authorize(request)
            if refused is not None:
                return _as_reply(refused)
            fault = self._take_fault(request.method, request.path)
        if fault is not None and fault.delay:
            self._stopping.wait(fault.delay)
        with self.lock:
            if fault is not None and fault.status is not None and not fault.lands:
                return _fault_reply(fault)
            reply = self._dispatch(request)
        if fault is not None and fault.lose_reply:
            return None
        return _fault_reply(fault) if fault is not None and fault.lands else reply

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class RequestHandler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                try:
                    parsed = json.loads(body) if body else None
                except ValueError:
                    parsed = None
                request = RecordedRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=body,
                    json=parsed,
                )
                reply = fake._handle(request)
                if reply is None:
                    self.close_connection = True
                    return
                data = _encode(reply.payload)
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        return RequestHandler


class _QuietServer(ThreadingHTTPServer):
    """Handler threads are daemons; a client that hung up (a timeout, a lost reply) is
    expected here, not an error to print."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _as_reply(answer: Reply | tuple[Any, ...]) -> Reply:
    if isinstance(answer, Reply):
        return answer
    return Reply(*answer)


def _fault_reply(fault: Fault) -> Reply:
    headers = dict(fault.headers)
    if fault.retry_after is not None:
        headers["Retry-After"] = fault.retry_after
    status = fault.status or 500
    return Reply(status, {"error": f"scripted fault: {status}"}, headers)


def _encode(payload: Any) -> bytes:
    if payload is None:
        return b""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode()
    return json.dumps(payload).encode()
