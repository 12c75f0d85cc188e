"""Job: tell plugins about sessions that ended since the last sweep."""

from __future__ import annotations

import asyncio
import time

from service.jobs.runtime import job_plugins, job_settings
from service.session_end_notices import notify_ended_sessions as notify
from service.session_views import SessionViews
from service.storage.blobs import open_blob_store
from service.storage.database import create_engine
from service.storage.session_end_store import SessionEndStore
from service.storage.session_store import SessionStore

__all__ = ["notify_ended_sessions"]


def notify_ended_sessions() -> int:
    """Announce ended sessions to plugins; returns how many were announced."""
    settings = job_settings()
    plugins = job_plugins()
    if not plugins.wants_session_ends():
        return 0

    async def run() -> int:
        engine = create_engine(settings.database_url)
        try:
            blobs = open_blob_store(settings.blob_url, settings.data_dir, settings.blob_options)
            views = SessionViews(SessionStore(engine), blobs, settings.session_idle_timeout_seconds)
            return await notify(
                SessionEndStore(engine),
                views,
                plugins,
                settings.session_idle_timeout_seconds * 1000,
                int(time.time() * 1000),
            )
        finally:
            await engine.dispose()

    return asyncio.run(run())
