"""Job: purge sessions (rows and blobs) older than the retention period, or left over from an
erasure."""

from __future__ import annotations

import asyncio

from service.erasure import ErasureKeys
from service.jobs.context import JobContext, in_context
from service.jobs.runtime import job_plugins, job_settings
from service.retention import purge_erased_leftovers, purge_expired

__all__ = ["purge_expired_sessions"]


def purge_expired_sessions() -> int:
    """Purge expired sessions and those an erasure left behind; returns how many went."""
    settings = job_settings()

    async def work(context: JobContext) -> int:
        expired = await purge_expired(
            context.store, context.blobs, settings.retention_days, tickets=context.tickets
        )
        keys = ErasureKeys(settings.secret_key)
        return expired + await purge_erased_leftovers(context.store, context.blobs, keys)

    return asyncio.run(in_context(settings, job_plugins(), True, work))
