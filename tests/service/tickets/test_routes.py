"""Attaching a replay report to a ticket through the API, and following the job."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

import msgspec

from tests.conftest import AUTH, INGEST
from tests.job_runner import bring_retries_forward, run_queued_jobs
from tests.recordings import BASE_TS, batch, checkout_events, click, meta

HOUR = 3_600_000


async def record(client: Any, session_id: str, user_id: str, start: int = BASE_TS) -> None:
    body = batch(session_id, 0, checkout_events(start), user_id=user_id)
    sent = await client.post("/api/v1/ingest", content=msgspec.json.encode(body), headers=INGEST)
    assert sent.status_code == 202, sent.text


async def attach(client: Any, **body: Any) -> Any:
    return await client.post(
        "/api/v1/tickets/attach", json={"provider": "taskboard", **body}, headers=AUTH
    )


async def job(client: Any, job_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/jobs/{job_id}", headers=AUTH)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def run_jobs(redis_url: str | None) -> None:
    assert redis_url
    await asyncio.to_thread(run_queued_jobs, redis_url)


async def test_attach_writes_the_report_once_with_a_working_ticket_link(
    ticket_client: Any, taskboard: Any, ticket_settings: Any
) -> None:
    await record(ticket_client, "sess-tkt-0001", "u42")
    accepted = await attach(ticket_client, ticket_id="T-1", user_id="u42")
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    assert accepted.json() == {"job_id": job_id, "session_id": "sess-tkt-0001", "state": "queued"}
    assert (await job(ticket_client, job_id))["state"] == "queued"

    await run_jobs(ticket_settings.redis_url)
    finished = await job(ticket_client, job_id)
    assert finished["state"] == "finished", finished
    (comment,) = taskboard.comments_on("T-1")
    assert finished["result"]["remote"]["remote_id"] == comment["id"]
    body = comment["body"]
    for line in ("Opened /cart", "POST /api/pay → 500", "Console error: TypeError"):
        assert line in body
    assert "jane@example.com" not in body  # scrubbed at ingest, and stays so in the ticket

    # The link in the ticket opens that session, and only that one.
    token = re.search(r"/replay/sess-tkt-0001#t=([\w.-]+)", body)
    assert token, body
    viewer = {"Authorization": f"Bearer {token.group(1)}"}
    opened = await ticket_client.get("/api/v1/sessions/sess-tkt-0001", headers=viewer)
    assert opened.status_code == 200

    again = await attach(ticket_client, ticket_id="T-1", session_id="sess-tkt-0001")
    assert again.status_code == 202
    assert again.json() == {"job_id": job_id, "session_id": "sess-tkt-0001", "state": "finished"}
    await run_jobs(ticket_settings.redis_url)
    assert len(taskboard.comments_on("T-1")) == 1 and taskboard.posts == 1


async def test_a_job_retried_after_a_503_and_a_429_posts_once(
    ticket_client: Any, taskboard: Any, ticket_settings: Any
) -> None:
    from service.plugin_testing import Fault

    await record(ticket_client, "sess-tkt-0002", "u42")
    taskboard.fail_next(Fault(503), Fault(429, retry_after="30"), method="POST")
    job_id = (await attach(ticket_client, ticket_id="T-2", user_id="u42")).json()["job_id"]

    await run_jobs(ticket_settings.redis_url)
    waiting = await job(ticket_client, job_id)
    assert waiting["state"] == "queued" and waiting["retry_at"] is not None
    assert "503" in waiting["error"] and waiting["retries"] == 1

    assert bring_retries_forward(ticket_settings.redis_url) == 1
    await run_jobs(ticket_settings.redis_url)
    limited = await job(ticket_client, job_id)
    assert limited["state"] == "queued" and "429" in limited["error"]
    # Retry-After: 30 was honoured: the retry waits (about) thirty seconds, not a backoff.
    assert datetime.fromisoformat(limited["retry_at"]) > datetime.now(tz=UTC)

    bring_retries_forward(ticket_settings.redis_url)
    await run_jobs(ticket_settings.redis_url)
    done = await job(ticket_client, job_id)
    assert done["state"] == "finished" and done["error"] is None
    assert len(taskboard.comments_on("T-2")) == 1
    assert taskboard.posts == 3


async def test_a_write_that_landed_before_the_error_is_not_written_again(
    ticket_client: Any, taskboard: Any, ticket_settings: Any
) -> None:
    from service.plugin_testing import Fault

    await record(ticket_client, "sess-tkt-0003", "u42")
    # Taskboard stores the comment, then the answer is lost behind a 502.
    taskboard.fail_next(Fault(502, lands=True), method="POST")
    job_id = (await attach(ticket_client, ticket_id="T-3", user_id="u42")).json()["job_id"]
    await run_jobs(ticket_settings.redis_url)
    assert (await job(ticket_client, job_id))["state"] == "queued"
    bring_retries_forward(ticket_settings.redis_url)
    await run_jobs(ticket_settings.redis_url)

    done = await job(ticket_client, job_id)
    (comment,) = taskboard.comments_on("T-3")
    assert done["state"] == "finished"
    assert done["result"]["remote"]["remote_id"] == comment["id"]
    assert taskboard.posts == 1


async def test_a_job_that_fails_permanently_shows_as_failed_with_its_error(
    ticket_client: Any, taskboard: Any, ticket_settings: Any
) -> None:
    await record(ticket_client, "sess-tkt-0004", "u42")
    taskboard.missing_tickets.add("T-404")
    job_id = (await attach(ticket_client, ticket_id="T-404", user_id="u42")).json()["job_id"]
    await run_jobs(ticket_settings.redis_url)

    failed = await job(ticket_client, job_id)
    assert failed["state"] == "failed"
    assert "404" in failed["error"] and "no such ticket" in failed["error"]
    assert bring_retries_forward(ticket_settings.redis_url) == 0  # a 404 is not retried
    assert taskboard.posts == 1


async def test_a_job_that_keeps_failing_gives_up_after_its_retries(
    ticket_client: Any, taskboard: Any, ticket_settings: Any
) -> None:
    from service.jobs.retry_policies import REMOTE_WRITE
    from service.plugin_testing import Fault

    await record(ticket_client, "sess-tkt-0005", "u42")
    taskboard.fail_next(Fault(503, times=REMOTE_WRITE.max_retries + 5), method="POST")
    job_id = (await attach(ticket_client, ticket_id="T-5", user_id="u42")).json()["job_id"]
    await run_jobs(ticket_settings.redis_url)
    while bring_retries_forward(ticket_settings.redis_url):
        await run_jobs(ticket_settings.redis_url)

    failed = await job(ticket_client, job_id)
    assert failed["state"] == "failed" and "503" in failed["error"]
    assert taskboard.posts == REMOTE_WRITE.max_retries + 1
    assert taskboard.comments_on("T-5") == []


async def test_the_session_active_when_the_ticket_was_opened_is_attached(
    ticket_client: Any, ticket_settings: Any
) -> None:
    await record(ticket_client, "sess-early-01", "u7", BASE_TS)
    await record(ticket_client, "sess-later-01", "u7", BASE_TS + 2 * HOUR)
    opened = datetime.fromtimestamp((BASE_TS + 1000) / 1000, tz=UTC).isoformat()
    chosen = await attach(ticket_client, ticket_id="T-6", user_id="u7", ticket_created_at=opened)
    assert chosen.status_code == 202, chosen.text
    assert chosen.json()["session_id"] == "sess-early-01"
    newest = await attach(ticket_client, ticket_id="T-7", user_id="u7")
    assert newest.json()["session_id"] == "sess-later-01"
    before_any = datetime.fromtimestamp((BASE_TS - HOUR) / 1000, tz=UTC).isoformat()
    none = await attach(ticket_client, ticket_id="T-8", user_id="u7", ticket_created_at=before_any)
    assert none.status_code == 404
    assert "before the ticket" in none.json()["detail"]


async def test_attach_requests_that_cannot_work_are_refused(ticket_client: Any) -> None:
    await ticket_client.post(
        "/api/v1/ingest",
        content=msgspec.json.encode(
            batch("sess-tkt-0009", 0, [meta(BASE_TS, "https://shop.test/"), click(BASE_TS + 5)])
        ),
        headers=INGEST,
    )
    unauthorised = await ticket_client.post(
        "/api/v1/tickets/attach", json={"provider": "taskboard", "ticket_id": "1"}
    )
    assert unauthorised.status_code == 401
    unknown = await ticket_client.post(
        "/api/v1/tickets/attach",
        json={"provider": "linear", "ticket_id": "1", "user_id": "u42"},
        headers=AUTH,
    )
    assert unknown.status_code == 404
    assert "taskboard" in unknown.json()["detail"]  # names the configured providers
    assert (await attach(ticket_client, ticket_id="1")).status_code == 400
    assert (await attach(ticket_client, ticket_id="", user_id="u42")).status_code == 400
    assert (await attach(ticket_client, ticket_id="1", user_id="nobody")).status_code == 404
    assert (await attach(ticket_client, ticket_id="1", session_id="nope")).status_code == 404
    assert (await ticket_client.get("/api/v1/jobs/attach-0000", headers=AUTH)).status_code == 404
    assert (await ticket_client.get("/api/v1/jobs/no:such", headers=AUTH)).status_code == 404


async def test_a_ticket_time_needs_a_zone(ticket_client: Any) -> None:
    await record(ticket_client, "sess-tkt-0010", "u42")
    naive = await attach(
        ticket_client, ticket_id="T-10", user_id="u42", ticket_created_at="2026-09-21T14:14:00"
    )
    assert naive.status_code == 400
    assert "ticket_created_at" in naive.json()["detail"]


async def test_a_session_from_a_browser_two_hours_fast_is_still_before_the_ticket(
    ticket_client: Any,
) -> None:
    now = int(datetime.now(tz=UTC).timestamp() * 1000)
    fast = now + 2 * HOUR
    body = batch("sess-tkt-fast-01", 0, checkout_events(fast), user_id="u-fast-clock")
    sent = await ticket_client.post(
        f"/api/v1/ingest?sent_at={fast + 2000}",
        content=msgspec.json.encode(body),
        headers=INGEST,
    )
    assert sent.status_code == 202, sent.text
    opened = datetime.fromtimestamp((now + 60_000) / 1000, tz=UTC).isoformat()
    accepted = await attach(
        ticket_client, ticket_id="T-fast", user_id="u-fast-clock", ticket_created_at=opened
    )
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["session_id"] == "sess-tkt-fast-01"


async def test_a_retry_whose_lookup_is_not_served_still_writes_once(
    ticket_client: Any, taskboard: Any, ticket_settings: Any
) -> None:
    from service.plugin_testing import Fault

    await record(ticket_client, "sess-tkt-look-01", "u42")
    taskboard.fail_next(Fault(503), method="POST")
    taskboard.fail_next(Fault(404, times=None), method="GET")
    job_id = (await attach(ticket_client, ticket_id="T-look", user_id="u42")).json()["job_id"]
    await run_jobs(ticket_settings.redis_url)
    assert (await job(ticket_client, job_id))["state"] == "queued"
    bring_retries_forward(ticket_settings.redis_url)
    await run_jobs(ticket_settings.redis_url)

    done = await job(ticket_client, job_id)
    assert done["state"] == "finished", done
    assert len(taskboard.comments_on("T-look")) == 1
