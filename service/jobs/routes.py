"""The state of a background job (API key)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.params import FromPath

from service.auth.guards import services_of
from service.auth.scopes import TICKETS_WRITE
from service.jobs.job_status import JobView
from service.jobs.lookup import look_up_job

__all__ = ["job_route_handlers"]


@get(
    "/api/v1/jobs/{job_id:str}",
    opt={"scope": TICKETS_WRITE},
    summary="A job's state, result or error",
)
async def job_state(request: Request[Any, Any, Any], job_id: FromPath[str]) -> JobView:
    """`queued` (also while waiting for a retry: see `retry_at` and the last `error`),
    `started`, `finished` (with the result) or `failed` (with the error)."""
    services = services_of(request)
    return await look_up_job(job_id, services.queue, services.attachments.ticket_store)


job_route_handlers = [job_state]
