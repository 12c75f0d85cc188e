"""The `replaydesk issue` command: open an issue (a bug) from a session, and print it."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

from service.errors import ReplayDeskError
from service.jobs.context import JobContext, in_context
from service.jobs.issues import open_issue
from service.plugin_host.host import PluginHost
from service.plugin_host.manager import build_plugin_manager
from service.plugin_host.remote_errors import RemoteError, RetryableError
from service.plugin_host.types import IssueRequest
from service.settings import Settings
from service.tickets.issue_filing import FiledIssue

__all__ = ["issue", "issue_command"]


async def _file(
    settings: Settings, provider: str, session_id: str, request: IssueRequest
) -> FiledIssue:
    plugins = PluginHost(build_plugin_manager(settings), settings.plugin_environment)

    async def work(context: JobContext) -> FiledIssue:
        return await open_issue(context, provider, session_id, request)

    # One attempt, in this process: the person at the terminal decides whether to try again.
    return await in_context(settings, plugins, True, work)


def issue_command(
    settings: Settings,
    provider: str,
    session_id: str,
    request: IssueRequest,
    out: Callable[[str], None] = print,
) -> int:
    """Open the issue now (this process calls the tracker) and print its key and URL."""
    try:
        filed = asyncio.run(_file(settings, provider, session_id, request))
    except ReplayDeskError as exc:
        print(f"replaydesk: {exc.detail}", file=sys.stderr)
        return 1
    except RetryableError as exc:
        print(
            f"replaydesk: {provider} did not answer; try again later: {exc.message}",
            file=sys.stderr,
        )
        return 1
    except RemoteError as exc:
        refused = f"{provider} refused: " if exc.status else ""
        print(f"replaydesk: {refused}{exc.message}", file=sys.stderr)
        return 1
    note = "  (opened before; nothing new)" if filed.already_filed else ""
    out(f"{filed.ticket_id}  {filed.url or ''}{note}".rstrip())
    return 0


def issue(settings: Settings, args: argparse.Namespace) -> int:
    """`replaydesk issue SESSION_ID`: the request from the command's flags."""
    request = IssueRequest(summary=args.summary, project=args.project, issue_type=args.issue_type)
    return issue_command(settings, args.provider, args.session_id, request)
