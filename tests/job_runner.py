"""Running queued jobs from a test: a burst worker, and letting delayed retries come due now."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from service.jobs.embedded import InProcessScheduler, ThreadWorker
from service.jobs.queue import QUEUE_NAME
from tests.conftest import AUTH


def run_queued_jobs(redis_url: str) -> None:
    """Work the queue until it is empty (call from a thread inside async tests)."""
    with Redis.from_url(redis_url) as redis:
        ThreadWorker([QUEUE_NAME], connection=redis).work(burst=True, logging_level="WARNING")


def retries_waiting(redis_url: str) -> list[str]:
    """Jobs waiting in the scheduled registry for a delayed retry."""
    with Redis.from_url(redis_url) as redis:
        return ScheduledJobRegistry(QUEUE_NAME, connection=redis).get_job_ids()  # type: ignore[no-untyped-call]


def bring_retries_forward(redis_url: str) -> int:
    """Let every delayed retry come due now (as if its wait had passed) and enqueue it.

    The scheduler's own logic moves them to the queue, exactly as it does when the time
    has really come; only the clock is skipped.
    """
    with Redis.from_url(redis_url) as redis:
        registry = ScheduledJobRegistry(QUEUE_NAME, connection=redis)  # type: ignore[no-untyped-call]
        job_ids = registry.get_job_ids()
        for job_id in job_ids:
            registry.schedule(Job.fetch(job_id, connection=redis), datetime.now(tz=UTC))
        scheduler = InProcessScheduler(redis)
        try:
            scheduler.tick()
        finally:
            scheduler.release_locks()  # type: ignore[no-untyped-call]
        return len(job_ids)


def run_until_settled(redis_url: str, rounds: int = 20) -> int:
    """Run jobs, bring their retries forward, and again, until nothing waits; returns rounds."""
    for done in range(rounds):
        run_queued_jobs(redis_url)
        if not bring_retries_forward(redis_url):
            return done + 1
    raise AssertionError(f"jobs still retrying after {rounds} rounds")


async def settle(redis_url: str | None) -> None:
    """From an async test: `run_until_settled` in a thread."""
    assert redis_url
    await asyncio.to_thread(run_until_settled, redis_url)


async def job_state(client: Any, job_id: str) -> dict[str, Any]:
    """`GET /api/v1/jobs/{job_id}`, which must answer."""
    answer = await client.get(f"/api/v1/jobs/{job_id}", headers=AUTH)
    assert answer.status_code == 200, answer.text
    state: dict[str, Any] = answer.json()
    return state
