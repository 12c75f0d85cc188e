"""Attach a session's replay report to a ticket (API key)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, post
from litestar.params import JSONBody

from service.api.auth import services_of
from service.ticket_attachments import AttachAccepted

__all__ = ["AttachRequest", "ticket_route_handlers"]


class AttachRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which ticket gets the report, and whose session (a session ID, or a user's)."""

    provider: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    ticket_id: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    user_id: Annotated[str, msgspec.Meta(min_length=1, max_length=256)] | None = None
    session_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] | None = None
    ticket_created_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    """When the ticket was opened (ISO 8601 with a zone): with `user_id`, the session active
    then, or ended last before it, is chosen. Default: now (the user's latest session)."""


@post("/api/v1/tickets/attach", status_code=202, summary="Attach a replay report to a ticket")
async def attach_to_ticket(
    request: Request[Any, Any, Any], data: JSONBody[AttachRequest]
) -> AttachAccepted:
    """Enqueue the job that writes the session's report into the ticket; follow it with
    `GET /api/v1/jobs/{job_id}`. Asking twice for the same ticket and session gives the same
    job and never a second write."""
    return await services_of(request).tickets.request(
        data.provider,
        data.ticket_id,
        user_id=data.user_id,
        session_id=data.session_id,
        ticket_created_at=data.ticket_created_at,
    )


ticket_route_handlers = [attach_to_ticket]
