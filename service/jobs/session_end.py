"""Job: tell plugins about sessions that ended since the last sweep."""

from __future__ import annotations

from service.clock import now_ms
from service.jobs.context import JobContext, run_job
from service.jobs.runtime import job_plugins, job_settings
from service.storage.session_end_store import SessionEndStore
from service.tickets.session_end_notices import notify_ended_sessions as notify

__all__ = ["notify_ended_sessions"]


def notify_ended_sessions() -> int:
    """Announce ended sessions to plugins; returns how many were announced."""
    settings = job_settings()
    plugins = job_plugins()
    if not plugins.wants_session_ends():
        return 0

    async def work(context: JobContext) -> int:
        return await notify(
            SessionEndStore(context.engine),
            context.reader,
            plugins,
            settings.session_idle_timeout_seconds * 1000,
            now_ms(),
        )

    return run_job(settings, plugins, True, work)
