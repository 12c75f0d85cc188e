"""`POST /api/v1/ingest`: the recorder's only endpoint, with CORS for the sites that embed it."""

from __future__ import annotations

import re
import time
from typing import Any

import msgspec
from litestar import Request, post
from litestar.enums import ScopeType
from litestar.exceptions import ClientException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.auth.guards import services_of
from service.errors import BatchInvalid, BatchTooLarge, ReplayDeskError
from service.ingest.clock_skew import parse_sent_at

__all__ = ["IngestAck", "IngestCorsMiddleware", "ingest"]

INGEST_PATH = "/api/v1/ingest"
KEY_HEADER = "x-replaydesk-key"
_CAMEL_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")


class IngestAck(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Acknowledgement of a batch: `duplicate` means it was already stored before."""

    session_id: str
    seq: int
    status: str
    live: bool = False
    """Someone watches this session live: send batches every second (only present when so)."""


def _reason(exc: ReplayDeskError) -> str:
    return _CAMEL_BOUNDARY.sub("_", type(exc).__name__).lower()


@post(INGEST_PATH, status_code=202, summary="Store one recorder batch")
async def ingest(request: Request[Any, Any, Any]) -> IngestAck:
    """Accept a batch of rrweb events (JSON, optionally gzip). 202 once durably stored."""
    services = services_of(request)
    started = time.perf_counter()
    try:
        key = request.headers.get(KEY_HEADER) or request.query_params.get("key")
        sender = await services.keys.check_ingest_key(key, request.headers.get("origin"))
        try:
            body = await request.body()
        except RequestEntityTooLarge:
            raise BatchTooLarge(
                f"body is over the {services.settings.max_body_bytes}-byte limit"
            ) from None
        except ClientException as exc:
            raise BatchInvalid(f"unreadable body: {exc.detail}") from None
        outcome = await services.ingestor.ingest(
            body,
            request.headers.get("content-encoding"),
            services.ingest_limits,
            sent_at=parse_sent_at(request.query_params.get("sent_at")),
            ingest_key=sender,
        )
    except ReplayDeskError as exc:
        services.metrics.refusals.labels(reason=_reason(exc)).inc()
        raise
    services.metrics.ingest_batches.labels(outcome=outcome.status).inc()
    if outcome.status == "accepted":
        services.metrics.ingest_bytes.inc(outcome.body_bytes)
        services.metrics.ingest_events.inc(outcome.events)
    services.metrics.ingest_latency.observe(time.perf_counter() - started)
    if outcome.live_consent is not None:
        await services.live.note_consent(outcome.session_id, outcome.live_consent)
    return IngestAck(
        session_id=outcome.session_id,
        seq=outcome.seq,
        status=outcome.status,
        live=await services.live.watched(outcome.session_id),
    )


class IngestCorsMiddleware:
    """CORS for the ingest path only: the recorder runs on customers' sites, other origins.

    Preflights carry no key, so every origin may send; the key's own origin list is enforced
    on the request itself, whose refusal (403) the recorder can read and stop on. A failed
    preflight would look like a network error instead, and the recorder would keep retrying.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["path"] != INGEST_PATH:
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        if scope.get("method") == "OPTIONS":
            await _preflight(send, origin)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"access-control-allow-origin", origin.encode("latin-1")),
                    (b"access-control-expose-headers", b"Retry-After"),
                    (b"vary", b"Origin"),
                ]
                message = {**message, "headers": headers}  # type: ignore[typeddict-item]
            await send(message)

        await self.app(scope, receive, send_with_cors)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _preflight(send: Send, origin: str) -> None:
    headers: list[tuple[bytes, bytes]] = [
        (b"vary", b"Origin"),
        (b"content-length", b"0"),
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-allow-methods", b"POST, OPTIONS"),
        (b"access-control-allow-headers", b"Content-Type, Content-Encoding, X-ReplayDesk-Key"),
        # Browsers cap this anyway (Chromium: 2 h); it spares a preflight per batch.
        (b"access-control-max-age", b"7200"),
    ]
    start: Message = {"type": "http.response.start", "status": 204, "headers": headers}
    await send(start)
    end: Message = {"type": "http.response.body", "body": b"", "more_body": False}
    await send(end)
