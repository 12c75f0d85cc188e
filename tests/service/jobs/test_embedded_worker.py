"""Embedded mode (no REPLAYDESK_REDIS_URL): attach jobs and their delayed retries run in-process."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import msgspec
from litestar.testing import AsyncTestClient

from service.web.app import create_app
from tests.conftest import AUTH, INGEST, make_settings
from tests.recordings import BASE_TS, batch, checkout_events
from tests.service.conftest import taskboard_environment

# Generous: the first retry waits one to two seconds, a slow machine adds to that.
PATIENCE_SECONDS = 60


async def test_a_retry_after_a_503_runs_in_process_and_posts_once(
    tmp_path: Path, database_url: str, taskboard: Any
) -> None:
    from replaydesk_taskboard.fake_server import Fault

    settings = make_settings(
        tmp_path / "data",
        database_url,
        None,
        plugin_environment=taskboard_environment(taskboard),
    )
    taskboard.fail_next(Fault(503))
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
