"""Access log that names the route, not the path: user IDs and query strings never reach it."""

from __future__ import annotations

import logging
import time

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AccessLogMiddleware"]

log = logging.getLogger("service.access")


class AccessLogMiddleware:
    """One line per HTTP request: method, route template, status, milliseconds."""

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
            # Routing fills path_template; unmatched paths are logged as such, never verbatim.
            route = scope.get("path_template") or "(no route)"
            elapsed = (time.perf_counter() - started) * 1000
            log.info("%s %s %d %.1fms", scope.get("method", "-"), route, status, elapsed)
