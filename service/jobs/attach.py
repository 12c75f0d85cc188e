"""Job: attach a session's replay report to a ticket, once, retrying what can be retried."""

from __future__ import annotations

from typing import Any

import msgspec
from rq.job import Retry

from service.jobs.context import JobContext
from service.jobs.remote_job import run_remote_job
from service.tickets.attachments import attachment_job_id
from service.tickets.delivery import ReportDelivery

__all__ = ["attach_report", "report_delivery"]


def report_delivery(context: JobContext) -> ReportDelivery:
    """The delivery of reports as a job runs it."""
    return ReportDelivery(
        context.ticket_store,
        context.reader,
        context.plugins,
        context.tokens,
        context.settings.ticket_link_ttl_seconds,
        context.settings.ticket_link_window_minutes,
    )


def attach_report(provider: str, ticket_id: str, session_id: str) -> dict[str, Any] | Retry:
    """Write the report of `session_id` into ticket `ticket_id` of `provider`.

    Returns what the tracker has; an empty `session_id` writes a "no recording found" note.
    Retries as `run_remote_job` says.
    """

    async def work(context: JobContext) -> dict[str, Any]:
        job_id = attachment_job_id(provider, ticket_id, session_id)
        delivery = await report_delivery(context).deliver(
            job_id, final_attempt=context.final_attempt
        )
        result: dict[str, Any] = msgspec.to_builtins(delivery)
        return result

    return run_remote_job(f"attach to {provider} ticket {ticket_id}", work)
