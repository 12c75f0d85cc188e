"""The frame of jobs that call a tracker: a context of their own, and retries for what can wait."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rq import get_current_job
from rq.job import Retry

from service.jobs.context import JobContext, run_job
from service.jobs.queue import RETRY_POLICY_META
from service.jobs.retry_policies import POLICIES, REMOTE_WRITE, is_retryable, retry_delay
from service.jobs.runtime import job_plugins, job_settings
from service.log_redaction import exception_summary

__all__ = ["run_remote_job"]

log = logging.getLogger(__name__)


def run_remote_job(
    what: str, work: Callable[[JobContext], Awaitable[dict[str, Any]]]
) -> dict[str, Any] | Retry:
    """Run `work` on this thread's job loop; on a retryable failure with retries left, return an
    RQ `Retry` with a jittered backoff (or the wait `Retry-After` asked for).

    Otherwise the error is raised and the job fails, visible in the API and `replaydesk jobs`.
    `what` names the job in log lines: no user or session ID in it.
    """
    settings = job_settings()
    plugins = job_plugins()
    job = get_current_job()
    policy = POLICIES.get(str(job.meta.get(RETRY_POLICY_META)) if job else "", REMOTE_WRITE)
    retries = (job.number_of_retries or 0) if job else 0
    final = retries >= policy.max_retries

    try:
        return run_job(settings, plugins, final, work)
    except Exception as exc:
        if final or not is_retryable(exc):
            raise
        delay = retry_delay(policy, retries, getattr(exc, "retry_after", None))
        log.warning(
            "%s: %s; retry %d of %d in %d s",
            what,
            # Its type and HTTP status only: the message can quote a tracker's answer or SQL.
            exception_summary(exc),
            retries + 1,
            policy.max_retries,
            delay,
        )
        return Retry(max=policy.max_retries, interval=delay)
