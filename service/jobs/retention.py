"""Job: purge sessions (rows and blobs) older than the retention period."""

from __future__ import annotations

import asyncio

from service.jobs.context import JobContext, in_context
from service.jobs.runtime import job_plugins, job_settings
from service.retention import purge_expired

__all__ = ["purge_expired_sessions"]


def purge_expired_sessions() -> int:
    """Purge expired sessions; returns how many were removed."""
    settings = job_settings()

    async def work(context: JobContext) -> int:
        return await purge_expired(
            context.store, context.blobs, settings.retention_days, tickets=context.tickets
        )

    return asyncio.run(in_context(settings, job_plugins(), True, work))
