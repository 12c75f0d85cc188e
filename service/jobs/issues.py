"""Job: open an issue from a session, with its report, once."""

from __future__ import annotations

from typing import Any

import msgspec
from rq.job import Retry

from service.jobs.attach import report_delivery
from service.jobs.context import JobContext
from service.jobs.remote_job import run_remote_job
from service.plugin_host.types import IssueRequest
from service.tickets.issue_filing import FiledIssue, file_issue

__all__ = ["create_issue", "open_issue"]


async def open_issue(
    context: JobContext, provider: str, session_id: str, request: IssueRequest
) -> FiledIssue:
    """Open the provider's issue for the session, or find the one opened before."""
    return await file_issue(report_delivery(context), context.store, provider, session_id, request)


def create_issue(provider: str, session_id: str, request: bytes) -> dict[str, Any] | Retry:
    """Open the provider's issue for `session_id` (`request`: an IssueRequest as JSON).

    Returns the issue (key and URL). Retries as `run_remote_job` says.
    """
    asked = msgspec.json.decode(request, type=IssueRequest)

    async def work(context: JobContext) -> dict[str, Any]:
        result: dict[str, Any] = msgspec.to_builtins(
            await open_issue(context, provider, session_id, asked)
        )
        return result

    return run_remote_job(f"open a {provider} issue", work)
