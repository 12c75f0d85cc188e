"""The frame of jobs that call a tracker: their own engine, and RQ retries for what can wait."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from rq import get_current_job
from rq.job import Retry

from service.jobs.queue import RETRY_POLICY_META
from service.jobs.retry_policies import POLICIES, REMOTE_WRITE, is_retryable, retry_delay
from service.jobs.runtime import job_plugins, job_settings
from service.plugin_host import PluginHost
from service.report_delivery import describe_error
from service.session_views import SessionViews
from service.settings import Settings
from service.storage.blobs import open_blob_store
from service.storage.database import create_engine
from service.storage.session_store import SessionStore
from service.storage.ticket_store import TicketStore
from service.viewer_tokens import ViewerTokens

__all__ = ["JobContext", "in_context", "run_remote_job"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class JobContext:
    """What a job's work reaches: stores, views, plugins, tokens, and whether it is the last try."""

    def __init__(
        self,
        settings: Settings,
        plugins: PluginHost,
        store: SessionStore,
        tickets: TicketStore,
        final_attempt: bool,
    ) -> None:
        self.settings = settings
        self.plugins = plugins
        self.store = store
        self.tickets = tickets
        self.final_attempt = final_attempt
        blobs = open_blob_store(settings.blob_url, settings.data_dir, settings.blob_options)
        self.views = SessionViews(store, blobs, settings.session_idle_timeout_seconds)
        self.tokens = ViewerTokens(settings.secret_key, settings.public_url)


async def in_context(
    settings: Settings,
    plugins: PluginHost,
    final_attempt: bool,
    work: Callable[[JobContext], Awaitable[T]],
) -> T:
    """Run `work` with a context on an engine of its own (this event loop's), then close it."""
    engine = create_engine(settings.database_url)
    try:
        context = JobContext(
            settings, plugins, SessionStore(engine), TicketStore(engine), final_attempt
        )
        return await work(context)
    finally:
        await engine.dispose()


def run_remote_job(
    what: str, work: Callable[[JobContext], Awaitable[dict[str, Any]]]
) -> dict[str, Any] | Retry:
    """Run `work` in a fresh event loop; on a retryable failure with retries left, return an
    RQ `Retry` with a jittered backoff (or the wait `Retry-After` asked for).

    Otherwise the error is raised and the job fails, visible in the API and `replaydesk jobs`.
    `what` names the job in log lines.
    """
    settings = job_settings()
    plugins = job_plugins()
    job = get_current_job()
    policy = POLICIES.get(str(job.meta.get(RETRY_POLICY_META)) if job else "", REMOTE_WRITE)
    retries = (job.number_of_retries or 0) if job else 0
    final = retries >= policy.max_retries

    try:
        return asyncio.run(in_context(settings, plugins, final, work))
    except Exception as exc:
        if final or not is_retryable(exc):
            raise
        delay = retry_delay(policy, retries, getattr(exc, "retry_after", None))
        log.warning(
            "%s: %s; retry %d of %d in %d s",
            what,
            describe_error(exc),
            retries + 1,
            policy.max_retries,
            delay,
        )
        return Retry(max=policy.max_retries, interval=delay)
