"""Attach a session's replay report to a ticket, or open an issue from it (API key)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, post
from litestar.params import Body, FromPath, JSONBody

from service.auth.guards import services_of
from service.auth.scopes import TICKETS_WRITE
from service.plugin_host.types import IssueRequest
from service.tickets.attachments import AttachAccepted
from service.tickets.issue_filing import IssueAccepted

__all__ = ["AttachRequest", "NewIssueRequest", "ticket_route_handlers"]


class AttachRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which ticket gets the report, and whose session (a session ID, or a user's)."""

    provider: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    ticket_id: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    user_id: Annotated[str, msgspec.Meta(min_length=1, max_length=256)] | None = None
    session_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] | None = None
    ticket_created_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    """When the ticket was opened (ISO 8601 with a zone): with `user_id`, the session active
    then, or ended last before it, is chosen. Default: now (the user's latest session)."""


@post(
    "/api/v1/tickets/attach",
    status_code=202,
    opt={"scope": TICKETS_WRITE},
    summary="Attach a replay report to a ticket",
)
async def attach_to_ticket(
    request: Request[Any, Any, Any], data: JSONBody[AttachRequest]
) -> AttachAccepted:
    """Enqueue the job that writes the session's report into the ticket; follow it with
    `GET /api/v1/jobs/{job_id}`. Asking twice for the same ticket and session gives the same
    job and never a second write."""
    return await services_of(request).attachments.request(
        data.provider,
        data.ticket_id,
        user_id=data.user_id,
        session_id=data.session_id,
        ticket_created_at=data.ticket_created_at,
    )


class NewIssueRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where to open the issue; every field but `provider` falls back to the plugin's setting."""

    provider: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "jira"
    summary: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | None = None
    """The title; default: written from the session's first error."""
    project: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    issue_type: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None


@post(
    "/api/v1/sessions/{session_id:str}/issues",
    status_code=202,
    opt={"scope": TICKETS_WRITE},
    summary="Open an issue (a bug) from a session",
)
async def open_issue(
    request: Request[Any, Any, Any],
    session_id: FromPath[str],
    data: Annotated[NewIssueRequest | None, Body(title="where to open it")] = None,
) -> Response[IssueAccepted]:
    """Enqueue the job that opens the issue with the session's repro steps, errors, failed
    requests and replay link; follow it with `GET /api/v1/jobs/{job_id}`, whose result names
    the issue. A session gets one issue per provider: asking again answers 200 with it."""
    asked = data or NewIssueRequest()
    accepted = await services_of(request).issues.request(
        asked.provider,
        session_id,
        IssueRequest(summary=asked.summary, project=asked.project, issue_type=asked.issue_type),
    )
    return Response(accepted, status_code=200 if accepted.state == "finished" else 202)


ticket_route_handlers = [attach_to_ticket, open_issue]
