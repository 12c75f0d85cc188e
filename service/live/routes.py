"""`GET /api/v1/sessions/{id}/live`: follow a session as it is recorded (server-sent events)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.params import FromPath, HeaderParameter
from litestar.response import Stream

from service.auth.guards import services_of, viewer_claims
from service.auth.scopes import SESSIONS_READ
from service.errors import BadRequest, Forbidden, NotFound
from service.live.stream import live_events

__all__ = ["live_route_handlers"]

# A seq is at most this (the ingest envelope's own bound would do; this keeps the parse cheap).
_MAX_SEQ_DIGITS = 10


def _after_seq(last_event_id: str | None) -> int:
    """The seq of the viewer's last batch (`Last-Event-ID`); -1 (nothing yet) without one."""
    if last_event_id is None or last_event_id.strip() == "":
        return -1
    text = last_event_id.strip()
    if not text.isascii() or not text.isdigit() or len(text) > _MAX_SEQ_DIGITS:
        raise BadRequest("Last-Event-ID must be the seq of the last batch received")
    return int(text)


@get(
    "/api/v1/sessions/{session_id:str}/live",
    summary="Follow a session live (server-sent events)",
    opt={"viewer_access": "live", "scope": SESSIONS_READ},
)
async def follow_session(
    request: Request[Any, Any, Any],
    session_id: FromPath[str],
    last_event_id: Annotated[str | None, HeaderParameter(name="Last-Event-ID")] = None,
) -> Response[Any]:
    """The session's batches after `Last-Event-ID`, then each one as it is stored, until the
    session ends (see `service.live.stream`). A viewer token must be a live link's."""
    services = services_of(request)
    claims = viewer_claims(request)
    if claims is not None and not claims.live:
        raise Forbidden("this link replays the session; ask for a live link to follow it")
    after = _after_seq(last_event_id)
    if await services.store.get(session_id) is None:
        raise NotFound(f"no session {session_id!r}")

    async def still_allowed() -> bool:
        if claims is None:
            return True
        return not await services.viewer_access.store.is_revoked(claims.jti, claims.ticket)

    events = live_events(
        session_id=session_id,
        after_seq=after,
        store=services.store,
        blobs=services.blobs,
        feed=services.live,
        idle_timeout_ms=services.settings.session_idle_timeout_seconds * 1000,
        expires_at=None if claims is None else claims.expires_at,
        still_allowed=still_allowed,
    )
    return Stream(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


# API key (`sessions:read`), or a live link's viewer token for the session in the path.
live_route_handlers = [follow_session]
