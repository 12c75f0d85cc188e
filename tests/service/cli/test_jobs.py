"""`replaydesk jobs`: an admin sees a failed attach with its error and requeues it."""

from __future__ import annotations

import asyncio
import os
import subprocess
from typing import Any

import msgspec

from service.settings import Settings
from tests.conftest import AUTH, INGEST
from tests.job_runner import run_queued_jobs
from tests.processes import run_cli
from tests.recordings import BASE_TS, batch, checkout_events


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLAYDESK_")}
    env.update(
        {
            "REPLAYDESK_DATA_DIR": str(settings.data_dir),
            "REPLAYDESK_DATABASE_URL": settings.database_url,
            "REPLAYDESK_REDIS_URL": settings.redis_url or "",
            "REPLAYDESK_SECRET_KEY": settings.secret_key,
        }
    )
    env.update({f"REPLAYDESK_{k}": v for k, v in settings.plugin_environment.items()})
    return run_cli(env, *args)


async def test_failed_jobs_are_listed_with_their_error_and_can_be_requeued(
    ticket_client: Any, taskboard: Any, ticket_settings: Settings
) -> None:
    body = batch("sess-admin-001", 0, checkout_events(BASE_TS), user_id="u42")
    await ticket_client.post("/api/v1/ingest", content=msgspec.json.encode(body), headers=INGEST)
    taskboard.missing_tickets.add("T-9")
    accepted = await ticket_client.post(
        "/api/v1/tickets/attach",
        json={"provider": "taskboard", "ticket_id": "T-9", "user_id": "u42"},
        headers=AUTH,
    )
    job_id = accepted.json()["job_id"]
    redis_url = ticket_settings.redis_url or ""
    await asyncio.to_thread(run_queued_jobs, redis_url)

    listing = await asyncio.to_thread(cli, ticket_settings, "jobs")
    assert listing.returncode == 0, listing.stderr
    assert "1 failed" in listing.stdout
    assert job_id in listing.stdout and "attach_report" in listing.stdout
    assert "answered 404" in listing.stdout

    taskboard.missing_tickets.clear()  # someone created the ticket
    requeued = await asyncio.to_thread(cli, ticket_settings, "jobs", "requeue", job_id)
    assert requeued.returncode == 0, requeued.stderr
    assert f"requeued {job_id}" in requeued.stdout
    state = await ticket_client.get(f"/api/v1/jobs/{job_id}", headers=AUTH)
    assert state.json()["state"] == "queued"

    await asyncio.to_thread(run_queued_jobs, redis_url)
    state = await ticket_client.get(f"/api/v1/jobs/{job_id}", headers=AUTH)
    assert state.json()["state"] == "finished"
    assert len(taskboard.comments_on("T-9")) == 1
    assert "0 failed" in (await asyncio.to_thread(cli, ticket_settings, "jobs")).stdout
    nothing = await asyncio.to_thread(cli, ticket_settings, "jobs", "requeue", job_id)
    assert nothing.returncode == 1 and "not a failed job" in nothing.stdout
