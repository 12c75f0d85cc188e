"""Embedded mode (no REPLAYDESK_REDIS_URL): attach jobs and their delayed retries run in-process."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import msgspec
from litestar.testing import AsyncTestClient
from redis import Redis
from rq import Queue

from service.jobs.embedded import EmbeddedWorker
from service.jobs.queue import QUEUE_NAME
from service.web.app import create_app
from tests.conftest import AUTH, INGEST, make_settings
from tests.recordings import BASE_TS, batch, checkout_events
from tests.service.conftest import taskboard_environment

# Generous: the first retry waits one to two seconds, a slow machine adds to that.
PATIENCE_SECONDS = 60
# What the embedded queue promises: a job starts within a second of being queued (0.5 s polls)
# and the service stops within a few; the margin covers a slow machine, not a stall.
PICK_UP_SECONDS = 2.0
STOP_SECONDS = 3.0


def mark_done(path: str) -> None:
    """A job that leaves a file behind."""
    Path(path).write_text("done")


def test_the_embedded_worker_takes_a_job_within_a_second_and_stops_at_once(
    tmp_path: Path, redis_url: str
) -> None:
    redis = Redis.from_url(redis_url)
    worker = EmbeddedWorker(redis)
    worker.start()
    done = tmp_path / "done"
    try:
        # Idle polls first: a poll that found nothing must not hold up the next one.
        time.sleep(1.5)
        queued_at = time.monotonic()
        Queue(QUEUE_NAME, connection=redis).enqueue(mark_done, str(done))
        while not done.exists() and time.monotonic() - queued_at < PATIENCE_SECONDS:
            time.sleep(0.02)
        waited = time.monotonic() - queued_at
    finally:
        stopping_at = time.monotonic()
        worker.stop()
        stopped_in = time.monotonic() - stopping_at
        redis.close()
    assert done.exists()
    assert waited < PICK_UP_SECONDS, f"the job started {waited:.1f} s after it was queued"
    assert stopped_in < STOP_SECONDS, f"the worker took {stopped_in:.1f} s to stop"


async def test_a_retry_after_a_503_runs_in_process_and_posts_once(
    tmp_path: Path, database_url: str, taskboard: Any
) -> None:
    from service.plugin_testing import Fault

    settings = make_settings(
        tmp_path / "data",
        database_url,
        None,
        plugin_environment=taskboard_environment(taskboard),
    )
    taskboard.fail_next(Fault(503), method="POST")
    async with AsyncTestClient(app=create_app(settings)) as client:
        body = batch("sess-embedded-1", 0, checkout_events(BASE_TS), user_id="u42")
        await client.post("/api/v1/ingest", content=msgspec.json.encode(body), headers=INGEST)
        accepted = await client.post(
            "/api/v1/tickets/attach",
            json={"provider": "taskboard", "ticket_id": "T-e1", "user_id": "u42"},
            headers=AUTH,
        )
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]

        state: dict[str, Any] = {}
        deadline = time.monotonic() + PATIENCE_SECONDS
        while time.monotonic() < deadline:
            state = (await client.get(f"/api/v1/jobs/{job_id}", headers=AUTH)).json()
            if state["state"] in ("finished", "failed"):
                break
            await asyncio.sleep(0.2)
        assert state["state"] == "finished", state
        assert state["retries"] == 1
    assert len(taskboard.comments_on("T-e1")) == 1
    assert taskboard.posts == 2
