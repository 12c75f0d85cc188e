"""Access log that names the route, not the path: user IDs and query strings never reach it."""

from __future__ import annotations

import logging
import time

from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.ingest.routes import INGEST_PATH

__all__ = ["AccessLogMiddleware", "log_unrouted"]

log = logging.getLogger("service.access")
# Accepted recorder batches arrive by the hundred every second: a line each would drown every
# other line (and cost ingest a tenth of its event-loop time). /metrics counts them with their
# latency; a refused batch is still logged.
_ROUTES_LOGGED_ONLY_ON_FAILURE = frozenset({INGEST_PATH})
FIRST_FAILURE_STATUS = 400


class AccessLogMiddleware:
    """One line per HTTP request: method, route template, status, milliseconds.

    Successful ingest requests are the exception: only their refusals get a line.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            # Routing fills path_template before a route's middleware runs; requests no route
            # matched are logged by `log_unrouted`. Paths are never logged verbatim.
            route = scope.get("path_template") or "(no route)"
            if status >= FIRST_FAILURE_STATUS or route not in _ROUTES_LOGGED_ONLY_ON_FAILURE:
                elapsed = (time.perf_counter() - started) * 1000
                log.info("%s %s %d %.1fms", scope.get("method", "-"), route, status, elapsed)


async def log_unrouted(exc: Exception, scope: Scope) -> None:
    """The line for a request no route matched (the router's 404 or 405), which never reaches
    the middleware: Litestar runs it for matched routes only. The path is not logged."""
    if scope["type"] == ScopeType.HTTP and not scope.get("path_template"):
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        log.info("%s (no route) %d", scope.get("method", "-"), status)
