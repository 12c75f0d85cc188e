"""Job: purge sessions (rows and blobs) older than the retention period."""

from __future__ import annotations

import asyncio

from service.jobs.runtime import job_settings
from service.retention import purge_expired
from service.storage.blobs import open_blob_store
from service.storage.database import create_engine
from service.storage.session_store import SessionStore
from service.storage.ticket_store import TicketStore

__all__ = ["purge_expired_sessions"]


def purge_expired_sessions() -> int:
    """Purge expired sessions; returns how many were removed."""
    settings = job_settings()

    async def run() -> int:
        engine = create_engine(settings.database_url)
        try:
            blobs = open_blob_store(settings.blob_url, settings.data_dir, settings.blob_options)
            return await purge_expired(
                SessionStore(engine), blobs, settings.retention_days, tickets=TicketStore(engine)
            )
        finally:
            await engine.dispose()

    return asyncio.run(run())
