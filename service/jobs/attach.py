"""Job: attach a session's replay report to a ticket, once, retrying what can be retried."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec
from rq import get_current_job
from rq.job import Retry

from service.jobs.queue import RETRY_POLICY_META
from service.jobs.retry_policies import POLICIES, REMOTE_WRITE, is_retryable, retry_delay
from service.jobs.runtime import job_plugins, job_settings
from service.report_delivery import ReportDelivery, describe_error
from service.session_views import SessionViews
from service.storage.blobs import open_blob_store
from service.storage.database import create_engine
from service.storage.session_store import SessionStore
from service.storage.ticket_store import TicketStore
from service.ticket_attachments import attachment_job_id
from service.viewer_tokens import ViewerTokens

__all__ = ["attach_report"]

log = logging.getLogger(__name__)


def attach_report(provider: str, ticket_id: str, session_id: str) -> dict[str, Any] | Retry:
    """Write the report of `session_id` into ticket `ticket_id` of `provider`.

    Returns what the tracker has. On a retryable failure (timeout, 5xx, 429) with retries left
    it returns an RQ `Retry` with a jittered backoff, or the wait `Retry-After` asked for;
    otherwise the error is raised and the job fails, visible in the API and `replaydesk jobs`.
    """
    settings = job_settings()
    plugins = job_plugins()
    job = get_current_job()
    policy = POLICIES.get(str(job.meta.get(RETRY_POLICY_META)) if job else "", REMOTE_WRITE)
    retries = (job.number_of_retries or 0) if job else 0
    final = retries >= policy.max_retries

    async def run() -> dict[str, Any]:
        engine = create_engine(settings.database_url)
        try:
            store = SessionStore(engine)
            blobs = open_blob_store(settings.blob_url, settings.data_dir, settings.blob_options)
            delivery = ReportDelivery(
                TicketStore(engine),
                SessionViews(store, blobs, settings.session_idle_timeout_seconds),
                plugins,
                ViewerTokens(settings.secret_key, settings.public_url),
                settings.ticket_link_ttl_seconds,
            )
            job_id = attachment_job_id(provider, ticket_id, session_id)
            result: dict[str, Any] = msgspec.to_builtins(
                await delivery.deliver(job_id, final_attempt=final)
            )
            return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except Exception as exc:
        if final or not is_retryable(exc):
            raise
        delay = retry_delay(policy, retries, getattr(exc, "retry_after", None))
        log.warning(
            "attach to %s ticket %s: %s; retry %d of %d in %d s",
            provider,
            ticket_id,
            describe_error(exc),
            retries + 1,
            policy.max_retries,
            delay,
        )
        return Retry(max=policy.max_retries, interval=delay)
