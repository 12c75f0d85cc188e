"""One job's state for the API, from Redis and, for attach jobs, the database's own record."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from redis.exceptions import RedisError

from service.errors import NotFound
from service.jobs.job_status import JOB_ID_PATTERN, JobView, read_job
from service.jobs.queue import JobQueue
from service.sessions.reader import to_datetime
from service.storage.ticket_store import AttachmentRecord, TicketStore

__all__ = ["look_up_job"]


def _attach_result(record: AttachmentRecord) -> dict[str, Any]:
    return {
        "provider": record.provider,
        "ticket_id": record.ticket_id,
        "session_id": record.session_id,
        "remote": record.remote,
    }


async def look_up_job(job_id: str, queue: JobQueue, ticket_store: TicketStore) -> JobView:
    """The job's state; NotFound when neither Redis nor the database knows it.

    For attach jobs the database is the record of what the tracker has: a written report is
    `finished` even after Redis dropped the job, and a request still in the outbox (Redis was
    away) is `queued`.
    """
    if not JOB_ID_PATTERN.fullmatch(job_id):
        raise NotFound(f"no job {job_id!r}")
    record = await ticket_store.get(job_id) if job_id.startswith("attach-") else None
    try:
        view = await asyncio.to_thread(read_job, queue.redis, job_id)
    except (RedisError, OSError):
        view = None
    if record is None:
        if view is None:
            raise NotFound(f"no job {job_id!r}")
        return view
    base = view or JobView(job_id=job_id, state="queued", function="attach_report")
    if record.state == "written":
        return msgspec.structs.replace(
            base,
            state="finished",
            error=None,
            retry_at=None,
            ended_at=base.ended_at or to_datetime(record.written_at or record.updated_at),
            result=_attach_result(record),
        )
    if record.state == "failed":
        return msgspec.structs.replace(
            base,
            state="failed",
            error=record.error or base.error,
            retry_at=None,
            ended_at=base.ended_at or to_datetime(record.updated_at),
        )
    # Pending: queued, running, or waiting for a retry; the last attempt's error says why.
    return msgspec.structs.replace(base, error=base.error or record.error)
