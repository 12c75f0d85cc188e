"""The `replaydesk issue` command: open an issue (a bug) from a session, and print it.

The tracker's credentials live in the service's environment, not necessarily in this shell's.
So when a service serves this data dir, or `REPLAYDESK_URL` names one, the command asks it
(`POST /api/v1/sessions/{id}/issues`) and follows the job until it ends; only when none runs
does this process open the issue itself, with this shell's plugin settings. One line on stderr
says which.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import msgspec

from service.cli.service_api import problem_detail, running_service, service_client
from service.errors import ReplayDeskError
from service.jobs.context import JobContext, in_context
from service.jobs.issues import open_issue
from service.plugin_host.host import PluginHost
from service.plugin_host.manager import build_plugin_manager
from service.plugin_host.remote_errors import RemoteError, RetryableError
from service.plugin_host.types import IssueRequest
from service.settings import PREFIX, Settings
from service.tickets.issue_filing import FiledIssue

__all__ = ["issue", "issue_command"]

# How long the command follows the service's job; an issue usually opens in a few seconds.
WAIT_SECONDS = 60.0
POLL_SECONDS = 0.5


class _CommandFailed(Exception):
    """Why the issue was not opened, in words for the person at the terminal."""


def _say(line: str) -> None:
    print(f"replaydesk: {line}", file=sys.stderr)


async def _file(
    settings: Settings, provider: str, session_id: str, request: IssueRequest
) -> FiledIssue:
    plugins = PluginHost(build_plugin_manager(settings), settings.plugin_environment)

    async def work(context: JobContext) -> FiledIssue:
        return await open_issue(context, provider, session_id, request)

    # One attempt, in this process: the person at the terminal decides whether to try again.
    return await in_context(settings, plugins, True, work)


def _file_here(
    settings: Settings, provider: str, session_id: str, request: IssueRequest
) -> FiledIssue:
    try:
        return asyncio.run(_file(settings, provider, session_id, request))
    except ReplayDeskError as exc:
        raise _CommandFailed(exc.detail) from exc
    except RetryableError as exc:
        raise _CommandFailed(f"{provider} did not answer; try again later: {exc.message}") from exc
    except RemoteError as exc:
        refused = f"{provider} refused: " if exc.status else ""
        raise _CommandFailed(f"{refused}{exc.message}") from exc


def _follow(service: httpx.Client, job_id: str, provider: str, wait: float) -> dict[str, Any]:
    """The result of the service's job, once it finished."""
    deadline = time.monotonic() + wait
    while True:
        answer = service.get(f"/api/v1/jobs/{quote(job_id, safe='')}")
        if answer.status_code != 200:
            raise _CommandFailed(problem_detail(answer))
        job = answer.json()
        if job["state"] == "finished":
            result: dict[str, Any] = job["result"]
            return result
        if job["state"] == "failed":
            raise _CommandFailed(job.get("error") or f"job {job_id} failed")
        if job.get("retry_at"):
            raise _CommandFailed(
                f"{provider} did not answer ({job.get('error')}); the service tries again at "
                f"{job['retry_at']} (follow GET /api/v1/jobs/{job_id})"
            )
        if time.monotonic() >= deadline:
            raise _CommandFailed(
                f"the service is still opening it after {wait:.0f} s "
                f"(follow GET /api/v1/jobs/{job_id})"
            )
        time.sleep(POLL_SECONDS)


def _file_by_service(
    service: httpx.Client, provider: str, session_id: str, request: IssueRequest, wait: float
) -> FiledIssue:
    # The body the API takes (its marker is the service's to set): only what was asked for.
    wanted = {"summary": request.summary, "project": request.project}
    wanted["issue_type"] = request.issue_type
    asked = {"provider": provider, **{k: v for k, v in wanted.items() if v is not None}}
    answer = service.post(f"/api/v1/sessions/{quote(session_id, safe='')}/issues", json=asked)
    if answer.status_code not in (200, 202):
        raise _CommandFailed(problem_detail(answer))
    accepted = answer.json()
    if answer.status_code == 200:
        return FiledIssue(
            provider=provider,
            session_id=session_id,
            ticket_id=accepted["ticket_id"],
            url=accepted.get("url"),
            already_filed=True,
        )
    return msgspec.convert(_follow(service, accepted["job_id"], provider, wait), FiledIssue)


def issue_command(
    settings: Settings,
    provider: str,
    session_id: str,
    request: IssueRequest,
    out: Callable[[str], None] = print,
    *,
    transport: httpx.BaseTransport | None = None,
    wait: float = WAIT_SECONDS,
) -> int:
    """Open the issue and print its key and URL: through the running service when there is
    one (`transport` lets a test stand in for its HTTP), else from this process."""
    url = running_service(settings)
    try:
        if url:
            _say(f"asking the service at {url}")
            try:
                with service_client(url, settings, transport) as service:
                    filed = _file_by_service(service, provider, session_id, request, wait)
            except httpx.HTTPError as exc:
                # Not opened from here instead: this shell may lack the service's settings,
                # or use another database, and then a second issue could follow.
                raise _CommandFailed(
                    f"could not reach the service at {url} ({type(exc).__name__})"
                ) from exc
        else:
            _say(
                "no service runs on this data dir: opening it with this shell's environment "
                f"(set {PREFIX}URL to ask a service)"
            )
            filed = _file_here(settings, provider, session_id, request)
    except _CommandFailed as exc:
        _say(str(exc))
        return 1
    note = "  (opened before; nothing new)" if filed.already_filed else ""
    out(f"{filed.ticket_id}  {filed.url or ''}{note}".rstrip())
    return 0


def issue(settings: Settings, args: argparse.Namespace) -> int:
    """`replaydesk issue SESSION_ID`: the request from the command's flags."""
    request = IssueRequest(summary=args.summary, project=args.project, issue_type=args.issue_type)
    return issue_command(settings, args.provider, args.session_id, request)
