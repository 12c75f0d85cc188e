"""Plugins are told once that a session ended: final batch or idle, through the sweep job."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec

from service import PluginSettings, SessionSummary, hookimpl
from service.jobs.queue import JobQueue
from service.jobs.runtime import configure_job_runtime
from service.plugin_host.host import PluginHost
from service.plugin_host.manager import build_plugin_manager
from service.sessions.reader import SessionReader
from service.settings import Settings
from service.storage.blobs import open_blob_store
from service.storage.database import create_engine
from service.storage.session_end_store import SessionEndStore
from service.storage.session_store import SessionStore
from service.tickets.session_end_notices import notify_ended_sessions
from tests.conftest import INGEST
from tests.job_runner import run_queued_jobs
from tests.recordings import BASE_TS, batch, checkout_events


# [docs:session-ended]
class Listener:
    """A plugin that only wants to hear about ended sessions."""

    def __init__(self) -> None:
        self.ended: list[str] = []

    @hookimpl
    def replaydesk_session_ended(self, session: SessionSummary, settings: PluginSettings) -> None:
        assert settings.plugin == "listener"
        self.ended.append(session.session_id)


# [/docs:session-ended]


async def ingest(client: Any, session_id: str, final: bool) -> None:
    body = batch(session_id, 0, checkout_events(BASE_TS), user_id="u42", final=final)
    sent = await client.post("/api/v1/ingest", content=msgspec.json.encode(body), headers=INGEST)
    assert sent.status_code == 202


async def test_plugins_hear_once_about_each_ended_session(client: Any, settings: Settings) -> None:
    await ingest(client, "sess-ended-001", final=True)
    await ingest(client, "sess-going-001", final=False)
    listener = Listener()
    host = PluginHost(build_plugin_manager(settings, extra_plugins=[("listener", listener)]), {})
    engine = create_engine(settings.database_url)
    try:
        blobs = open_blob_store(None, settings.data_dir, {})
        reader = SessionReader(SessionStore(engine), blobs, settings.session_idle_timeout_seconds)
        ends = SessionEndStore(engine)
        idle_ms = settings.session_idle_timeout_seconds * 1000
        now = int(time.time() * 1000)
        assert await notify_ended_sessions(ends, reader, host, idle_ms, now) == 1
        assert listener.ended == ["sess-ended-001"]
        assert await notify_ended_sessions(ends, reader, host, idle_ms, now) == 0
        # Idle past the timeout counts as ended too.
        later = now + idle_ms + 1000
        assert await notify_ended_sessions(ends, reader, host, idle_ms, later) == 1
        assert listener.ended == ["sess-ended-001", "sess-going-001"]
    finally:
        await engine.dispose()


async def test_the_sweep_job_tells_plugins(client: Any, settings: Settings) -> None:
    await ingest(client, "sess-ended-002", final=True)
    listener = Listener()
    host = PluginHost(build_plugin_manager(settings, extra_plugins=[("listener", listener)]), {})
    configure_job_runtime(settings, host)
    redis_url = settings.redis_url or ""

    def sweep() -> None:
        from redis import Redis

        with Redis.from_url(redis_url) as redis:
            JobQueue(redis).enqueue_session_end_sweep()
        run_queued_jobs(redis_url)

    await asyncio.to_thread(sweep)
    assert listener.ended == ["sess-ended-002"]
