"""The retention purge runs as an RQ job on real Redis, enqueued once per hour."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from redis import Redis
from rq import SimpleWorker
from rq.job import Job, JobStatus

from service.jobs.queue import QUEUE_NAME, JobQueue
from service.jobs.runtime import configure_job_runtime
from service.settings import Settings


def test_hourly_purge_is_enqueued_once_and_runs(settings: Settings, tmp_path: Path) -> None:
    redis = Redis.from_url(settings.redis_url or "")
    queue = JobQueue(redis)
    moment = datetime(2026, 11, 22, 8, 30, tzinfo=UTC)
    job_id = queue.enqueue_retention_purge(moment)
    assert queue.enqueue_retention_purge(moment) == job_id
    assert queue.depth() == 1

    configure_job_runtime(settings)
    SimpleWorker([QUEUE_NAME], connection=redis).work(burst=True)
    job = Job.fetch(job_id, connection=redis)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == 0
    assert queue.depth() == 0
