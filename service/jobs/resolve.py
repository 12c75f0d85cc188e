"""Job: find the user ID of a ticket's requester through the helpdesk, then ask for the report."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from rq import get_current_job
from rq.job import Retry

from service.jobs.context import JobContext
from service.jobs.queue import JobQueue
from service.jobs.remote_job import run_remote_job
from service.plugin_host.types import TicketRef
from service.sessions.reader import to_datetime
from service.tickets.attachments import TicketAttachments

__all__ = ["resolve_requester"]


def resolve_requester(
    provider: str, ticket_id: str, requester: str, created_at: int | None
) -> dict[str, Any] | Retry:
    """Ask the provider's plugin who `requester` is; then attach their session's report.

    The result says what happened: the user ID found (or None), the attach job it enqueued,
    or why nothing was attached. Retries as `run_remote_job` says.
    """
    job = get_current_job()
    assert job is not None, "runs only as a queued job"
    queue = JobQueue(job.connection)

    async def work(context: JobContext) -> dict[str, Any]:
        ticket = TicketRef(provider=provider, ticket_id=ticket_id)
        user_id = await asyncio.to_thread(context.plugins.resolve_user, ticket, requester)
        attachments = TicketAttachments(context.store, context.ticket_store, queue, context.plugins)
        accepted = await attachments.for_ticket(
            provider,
            ticket_id,
            user_id=user_id,
            ticket_created_at=None if created_at is None else to_datetime(created_at),
            no_user=f"{provider} knows no user ID of the ticket's requester {requester}",
        )
        result: dict[str, Any] = {"user_id": user_id, **msgspec.to_builtins(accepted)}
        return result

    return run_remote_job(f"resolve the requester of {provider} ticket {ticket_id}", work)
