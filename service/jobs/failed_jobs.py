"""Failed jobs as an admin sees them (`replaydesk jobs`): list them, requeue them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import msgspec
from redis import Redis
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

from service.jobs.job_status import last_error_line
from service.jobs.queue import QUEUE_NAME

__all__ = ["FailedJob", "list_failed_jobs", "requeue_failed_jobs"]


class FailedJob(msgspec.Struct, frozen=True, kw_only=True):
    """One job in RQ's failed-job registry."""

    job_id: str
    function: str
    args: list[str]
    ended_at: datetime | None
    error: str | None


def _registry(redis: Redis[bytes]) -> FailedJobRegistry:
    return FailedJobRegistry(QUEUE_NAME, connection=redis)


def list_failed_jobs(redis: Redis[bytes]) -> list[FailedJob]:
    """Failed jobs still kept (a week after failing), newest first."""
    failed: list[FailedJob] = []
    for job_id in _registry(redis).get_job_ids(desc=True):
        try:
            job = Job.fetch(job_id, connection=redis)
        except NoSuchJobError:
            continue
        latest = job.latest_result()
        failed.append(
            FailedJob(
                job_id=job_id,
                function=job.func_name or "?",
                args=[str(arg) for arg in job.args],
                ended_at=job.ended_at,
                error=last_error_line(latest.exc_string if latest else None),
            )
        )
    return failed


def requeue_failed_jobs(redis: Redis[bytes], job_ids: Iterable[str]) -> list[str]:
    """Put failed jobs back on the queue with a fresh retry budget; returns those requeued."""
    registry = _registry(redis)
    requeued: list[str] = []
    for job_id in job_ids:
        try:
            job = Job.fetch(job_id, connection=redis)
        except NoSuchJobError:
            continue
        # The retry count decides when a job gives up: a requeued job starts over.
        job.number_of_retries = None
        job.save()
        try:
            registry.requeue(job)
        except InvalidJobOperation:
            continue  # not in the failed registry (any more)
        requeued.append(job_id)
    return requeued
