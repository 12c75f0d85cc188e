"""Redis stopped and restarted around attach requests: every request still reaches its ticket."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from service.jobs.queue import JobQueue
from service.jobs.runtime import configure_job_runtime
from service.plugin_host.host import PluginHost
from service.plugin_host.manager import build_plugin_manager
from service.storage.database import create_engine
from service.storage.session_store import SessionStore
from service.storage.ticket_store import TicketStore
from service.tickets.attachments import TicketAttachments
from service.tickets.outbox import OutboxRelay
from service.web.app import create_app
from tests.conftest import AUTH, INGEST, make_settings
from tests.job_runner import run_queued_jobs
from tests.processes import DIES_WITH_THE_TESTS, free_port
from tests.recordings import BASE_TS, batch, checkout_events
from tests.service.conftest import taskboard_environment


class PrivateRedis:
    """A redis-server of this test's own on a free loopback port, to stop and start at will.

    Like the shared test Redis it keeps nothing on disk: a restart loses every job.
    """

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self._process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=DIES_WITH_THE_TESTS,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with Redis.from_url(self.url) as probe:
                    probe.ping()
                return
            except RedisConnectionError:
                time.sleep(0.05)
        raise AssertionError("private redis-server did not start")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


async def test_redis_stopped_and_restarted_during_attaches_loses_nothing(
    private_redis: PrivateRedis, tmp_path: Path, database_url: str, taskboard: Any
) -> None:
    settings = make_settings(
        tmp_path,
        database_url,
        private_redis.url,
        plugin_environment=taskboard_environment(taskboard),
    )
    plugins = PluginHost(build_plugin_manager(settings), settings.plugin_environment)
    configure_job_runtime(settings, plugins)
    async with AsyncTestClient(app=create_app(settings)) as client:
        body = batch("sess-outbox-01", 0, checkout_events(BASE_TS), user_id="u42")
        await client.post("/api/v1/ingest", content=msgspec.json.encode(body), headers=INGEST)

        def attach(ticket_id: str) -> Any:
            return client.post(
                "/api/v1/tickets/attach",
                json={"provider": "taskboard", "ticket_id": ticket_id, "user_id": "u42"},
                headers=AUTH,
            )

        before = await attach("T-before")  # enqueued while Redis is up
        assert before.status_code == 202
        private_redis.stop()
        during = await attach("T-during")  # Redis is down: recorded, not enqueued
        assert during.status_code == 202, during.text
        for response in (before, during):
            state = await client.get(f"/api/v1/jobs/{response.json()['job_id']}", headers=AUTH)
            assert state.status_code == 200 and state.json()["state"] == "queued"

        # Back, but empty: the job enqueued before the stop was lost with it.
        private_redis.start()
        engine = create_engine(database_url)
        redis = Redis.from_url(private_redis.url)
        try:
            tickets = TicketStore(engine)
            attachments = TicketAttachments(SessionStore(engine), tickets, JobQueue(redis), plugins)
            # What the app's relay does every few seconds; a job is "lost" after a minute,
            # here at once.
            await OutboxRelay(tickets, attachments).relay_once(stale_after_ms=0)
        finally:
            redis.close()
            await engine.dispose()
        await asyncio.to_thread(run_queued_jobs, private_redis.url)

        for ticket_id, response in (("T-before", before), ("T-during", during)):
            assert len(taskboard.comments_on(ticket_id)) == 1, ticket_id
            state = await client.get(f"/api/v1/jobs/{response.json()['job_id']}", headers=AUTH)
            assert state.json()["state"] == "finished"
        assert taskboard.posts == 2
