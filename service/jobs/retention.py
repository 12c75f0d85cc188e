"""Job: purge sessions (rows and blobs) older than the retention period, or left over from an
erasure, and chunks and asset copies that no row points at."""

from __future__ import annotations

import logging

from service.jobs.context import JobContext, run_job
from service.jobs.runtime import job_plugins, job_settings
from service.sessions.erasure import ErasureKeys
from service.sessions.retention import (
    purge_erased_leftovers,
    purge_expired,
    purge_orphan_assets,
    purge_orphan_chunks,
)

__all__ = ["purge_expired_sessions"]

log = logging.getLogger(__name__)


def purge_expired_sessions() -> int:
    """Purge expired sessions and those an erasure left behind; returns how many went."""
    settings = job_settings()

    async def work(context: JobContext) -> int:
        expired = await purge_expired(
            context.store, context.blobs, settings.retention_days, ticket_store=context.ticket_store
        )
        keys = ErasureKeys(settings.secret_key)
        leftovers = await purge_erased_leftovers(context.store, context.blobs, keys)
        orphans = await purge_orphan_chunks(context.store, context.blobs, settings.retention_days)
        orphan_assets = await purge_orphan_assets(context.store, context.blobs)
        # On SQLite, the purged rows' old page versions leave the write-ahead log, and so do
        # those of an erasure whose own truncation found the log busy.
        await context.store.truncate_log()
        if orphans:
            # Folders, not sessions (they have no session row): logged, not counted.
            log.info("removed the chunks of %d sessions that had no session row", orphans)
        if orphan_assets:
            log.info("removed %d asset copies that had no row", orphan_assets)
        return expired + leftovers

    return run_job(settings, job_plugins(), True, work)
