"""The one place that knows queue names and enqueues jobs."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from redis import Redis
from rq import Queue
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

from service.jobs.retry_policies import REMOTE_WRITE

__all__ = ["QUEUE_NAME", "RETRY_POLICY_META", "JobQueue"]

QUEUE_NAME = "replaydesk"
# Failed jobs stay a week so an admin can read the error and requeue them.
FAILURE_TTL_SECONDS = 7 * 24 * 3600
# The job meta key naming the job's retry policy (service.jobs.retry_policies).
RETRY_POLICY_META = "retry_policy"
# One tracker call, plus the report's database reads, well within two minutes.
ATTACH_TIMEOUT_SECONDS = 120
# Plugins hear about ended sessions within minutes: one sweep per five-minute slot.
SESSION_END_SWEEP_MINUTES = 5
# Vendors retry a webhook delivery for hours at most; a day covers every retry.
DELIVERY_TTL_SECONDS = 24 * 3600
_LIVE = frozenset({JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED})


def _delivery_key(provider: str, delivery_id: str) -> str:
    digest = hashlib.sha256(f"{provider}\0{delivery_id}".encode()).hexdigest()[:40]
    return f"replaydesk:webhook-delivery:{digest}"


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

    def job_exists(self, job_id: str) -> bool:
        """Whether Redis holds this job (queued, running, scheduled, or kept after the end)."""
        return bool(Job.exists(job_id, connection=self.redis))

    def enqueue_attach(self, job_id: str, provider: str, ticket_id: str, session_id: str) -> bool:
        """Enqueue the attach job under its deterministic id; False when it is already live.

        A job of that id that finished or failed is replaced: the caller asked again.
        """
        return self._enqueue_remote_call(
            "service.jobs.attach.attach_report",
            (provider, ticket_id, session_id),
            job_id,
        )

    def enqueue_resolve(
        self, job_id: str, provider: str, ticket_id: str, requester: str, created_at: int | None
    ) -> bool:
        """Enqueue the job that finds a ticket requester's user ID, then asks for the report."""
        return self._enqueue_remote_call(
            "service.jobs.resolve.resolve_requester",
            (provider, ticket_id, requester, created_at),
            job_id,
        )

    def enqueue_issue(self, job_id: str, provider: str, session_id: str, request: bytes) -> bool:
        """Enqueue the job that opens an issue from a session (`request`: IssueRequest JSON)."""
        return self._enqueue_remote_call(
            "service.jobs.issues.create_issue",
            (provider, session_id, request),
            job_id,
        )

    def delivery_answer(self, provider: str, delivery_id: str) -> bytes | None:
        """What the service answered to a webhook delivery of this id, if it saw it before."""
        answer: bytes | None = self.redis.get(_delivery_key(provider, delivery_id))
        return answer

    def remember_delivery(self, provider: str, delivery_id: str, answer: bytes) -> None:
        """Keep the answer to a handled delivery for a day: vendors retry within hours."""
        self.redis.set(_delivery_key(provider, delivery_id), answer, ex=DELIVERY_TTL_SECONDS)

    def enqueue_session_end_sweep(self, now: datetime | None = None) -> str:
        """Enqueue this slot's sweep that tells plugins about ended sessions, once per slot."""
        moment = now or datetime.now(tz=UTC)
        slot = moment.minute - moment.minute % SESSION_END_SWEEP_MINUTES
        job_id = f"session-end-sweep-{moment:%Y%m%d%H}{slot:02d}"
        self._enqueue_unique(
            "service.jobs.session_end.notify_ended_sessions",
            (),
            job_id,
            replace_done=False,
        )
        return job_id

    def _enqueue_remote_call(
        self, func: str, args: tuple[str | bytes | int | None, ...], job_id: str
    ) -> bool:
        """A job that calls a tracker: its timeout, and the retry policy of remote writes."""
        return self._enqueue_unique(
            func,
            args,
            job_id,
            job_timeout=ATTACH_TIMEOUT_SECONDS,
            meta={RETRY_POLICY_META: REMOTE_WRITE.name},
        )

    def _enqueue_unique(
        self,
        func: str,
        args: tuple[str | bytes | int | None, ...],
        job_id: str,
        replace_done: bool = True,
        **options: object,
    ) -> bool:
        for _ in range(2):
            try:
                self.queue.enqueue(
                    func,
                    args=args,
                    job_id=job_id,
                    unique=True,
                    failure_ttl=FAILURE_TTL_SECONDS,
                    result_ttl=24 * 3600,
                    **options,
                )
                return True
            except DuplicateJobError:
                try:
                    existing = Job.fetch(job_id, connection=self.redis)
                except NoSuchJobError:
                    continue  # it expired between the two calls
                if not replace_done or existing.get_status(refresh=False) in _LIVE:
                    return False
                existing.delete()
        return False
