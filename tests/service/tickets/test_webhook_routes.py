"""Inbound webhooks: verified by the provider's plugin, enqueued once however often delivered."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from redis import Redis

from service.jobs.queue import JobQueue
from tests.conftest import AUTH, INGEST
from tests.job_runner import run_queued_jobs
from tests.recordings import BASE_TS, batch, checkout_events
from tests.service.conftest import WEBHOOK_SECRET

# Opened a minute into the recorded session (BASE_TS is 2026-09-21T14:13:20Z).
CREATED = {
    "event": "ticket.created",
    "ticket": {"id": 71, "created_at": "2026-09-21T14:14:20Z", "reporter_id": "u42"},
}


async def deliver(client: Any, payload: dict[str, Any], secret: str = WEBHOOK_SECRET) -> Any:
    from replaydesk_taskboard.fake_server import signed_webhook

    body, headers = signed_webhook(secret, payload)
    return await client.post("/webhooks/taskboard", content=body, headers=headers)


def queued(redis_url: str | None) -> int:
    """Attach jobs waiting in the queue (the app also enqueues its hourly retention purge)."""
    assert redis_url
    with Redis.from_url(redis_url) as redis:
        job_ids = JobQueue(redis).queue.get_job_ids()
    return sum(1 for job_id in job_ids if job_id.startswith("attach-"))


async def test_a_duplicate_webhook_enqueues_no_second_write(
    ticket_client: Any, taskboard: Any, ticket_settings: Any
) -> None:
    body = batch("sess-hook-0001", 0, checkout_events(BASE_TS), user_id="u42")
    await ticket_client.post("/api/v1/ingest", content=msgspec.json.encode(body), headers=INGEST)

    first = await deliver(ticket_client, CREATED)
    assert first.status_code == 202, first.text
    job_id = first.json()["job_id"]
    assert first.json()["session_id"] == "sess-hook-0001"
    second = await deliver(ticket_client, CREATED)  # the vendor delivers again
    assert second.status_code == 202 and second.json()["job_id"] == job_id
    assert queued(ticket_settings.redis_url) == 1

    await asyncio.to_thread(run_queued_jobs, ticket_settings.redis_url or "")
    third = await deliver(ticket_client, CREATED)
    assert third.status_code == 202 and third.json()["job_id"] == job_id
    assert queued(ticket_settings.redis_url) == 0
    await asyncio.to_thread(run_queued_jobs, ticket_settings.redis_url or "")

    assert len(taskboard.comments_on("71")) == 1 and taskboard.posts == 1
    state = (await ticket_client.get(f"/api/v1/jobs/{job_id}", headers=AUTH)).json()
    assert state["state"] == "finished"


async def test_webhooks_that_are_not_ours_or_not_signed_are_refused(
    ticket_client: Any, ticket_settings: Any
) -> None:
    forged = await deliver(ticket_client, CREATED, secret="guessed")
    assert forged.status_code == 401
    assert forged.headers["content-type"].startswith("application/problem+json")
    unsigned = await ticket_client.post("/webhooks/taskboard", json=CREATED)
    assert unsigned.status_code == 401
    unknown = await ticket_client.post("/webhooks/linear", json=CREATED)
    assert unknown.status_code == 404
    # Built-in zendesk and jira are installed but declare no provider until configured.
    assert (await ticket_client.post("/webhooks/zendesk", json=CREATED)).status_code == 404
    garbage = await deliver(ticket_client, {"ticket": "?"})
    assert garbage.status_code == 400
    assert queued(ticket_settings.redis_url) == 0


async def test_events_that_need_no_report_enqueue_nothing(
    ticket_client: Any, ticket_settings: Any
) -> None:
    updated = await deliver(ticket_client, {**CREATED, "event": "ticket.updated"})
    assert updated.status_code == 202 and updated.json()["job_id"] is None
    nobody = await deliver(ticket_client, CREATED)  # u42 has recorded nothing yet
    assert nobody.status_code == 202 and nobody.json()["job_id"] is None
    assert "no session" in nobody.json()["detail"]
    assert queued(ticket_settings.redis_url) == 0
