"""The one place that knows queue names and enqueues jobs."""

from __future__ import annotations

from datetime import UTC, datetime

from redis import Redis
from rq import Queue
from rq.job import Job

__all__ = ["QUEUE_NAME", "JobQueue"]

QUEUE_NAME = "replaydesk"
# Failed jobs stay a week so an admin can read the error and requeue them.
FAILURE_TTL_SECONDS = 7 * 24 * 3600


class JobQueue:
    """Enqueues ReplayDesk jobs on one Redis connection (synchronous: call off the event loop)."""

    def __init__(self, redis: Redis[bytes]) -> None:
        self.redis = redis
        self.queue = Queue(QUEUE_NAME, connection=redis)

    def ping(self) -> None:
        """Raise if Redis does not answer."""
        self.redis.ping()

    def depth(self) -> int:
        """Jobs waiting to run."""
        return len(self.queue)

    def enqueue_retention_purge(self, now: datetime | None = None) -> str:
        """Enqueue this hour's retention purge once, however many replicas ask."""
        moment = now or datetime.now(tz=UTC)
        job_id = f"retention-purge-{moment:%Y%m%d%H}"
        if not Job.exists(job_id, connection=self.redis):
            self.queue.enqueue(
                "service.jobs.retention.purge_expired_sessions",
                job_id=job_id,
                failure_ttl=FAILURE_TTL_SECONDS,
                result_ttl=24 * 3600,
            )
        return job_id
