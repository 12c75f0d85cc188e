"""What RQ knows of one job: its state, when it ran, its result or its error."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from rq.results import Result

from service.jobs.queue import QUEUE_NAME

__all__ = ["JOB_ID_PATTERN", "JobState", "JobView", "last_error_line", "read_job"]

# RQ's own rule for job ids; anything else cannot be a job and is not looked up.
JOB_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")

JobState = Literal["queued", "started", "finished", "failed"]

_STATES: dict[JobStatus, JobState] = {
    JobStatus.CREATED: "queued",
    JobStatus.QUEUED: "queued",
    JobStatus.DEFERRED: "queued",
    JobStatus.SCHEDULED: "queued",
    JobStatus.RATE_LIMITED: "queued",
    JobStatus.READY_TO_ENQUEUE: "queued",
    JobStatus.STARTED: "started",
    JobStatus.FINISHED: "finished",
    JobStatus.FAILED: "failed",
    JobStatus.STOPPED: "failed",
    JobStatus.CANCELED: "failed",
}


class JobView(msgspec.Struct, frozen=True, kw_only=True):
    """One job as the API shows it."""

    job_id: str
    state: JobState
    function: str | None = None
    enqueued_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    retry_at: datetime | None = None
    """When a job waiting to be retried runs next."""
    retries: int = 0
    """Retries so far (the first attempt is not a retry)."""
    error: str | None = None
    """Why it failed, or why the last attempt failed while it waits to be retried."""
    result: Any = None


def last_error_line(exc_string: str | None) -> str | None:
    """The line of a traceback that says what was raised."""
    if not exc_string:
        return None
    lines = [line.strip() for line in exc_string.strip().splitlines() if line.strip()]
    return lines[-1] if lines else None


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_job(redis: Redis[bytes], job_id: str) -> JobView | None:
    """The job's view, or None when Redis has no such job (never had, or it expired)."""
    if not JOB_ID_PATTERN.fullmatch(job_id):
        return None
    try:
        job = Job.fetch(job_id, connection=redis)
    except NoSuchJobError:
        return None
    status = job.get_status(refresh=False)
    state = _STATES.get(status, "queued")
    retry_at = None
    if status == JobStatus.SCHEDULED:
        try:
            registry = ScheduledJobRegistry(QUEUE_NAME, connection=redis)  # type: ignore[no-untyped-call]
            retry_at = registry.get_scheduled_time(job)
        except NoSuchJobError:
            retry_at = None
    error = None
    result = None
    latest = job.latest_result()
    if state == "failed" and latest is not None:
        error = last_error_line(latest.exc_string)
    elif state == "finished" and latest is not None and latest.type == Result.Type.SUCCESSFUL:
        result = latest.return_value
    return JobView(
        job_id=job_id,
        state=state,
        function=job.func_name.rsplit(".", 1)[-1] if job.func_name else None,
        enqueued_at=_aware(job.enqueued_at),
        started_at=_aware(job.started_at),
        ended_at=_aware(job.ended_at),
        retry_at=_aware(retry_at),
        retries=job.number_of_retries or 0,
        error=error,
        result=result,
    )
