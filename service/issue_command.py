"""The `replaydesk issue` command: open an issue (a bug) from a session, and print it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

from service.errors import ReplayDeskError
from service.issue_filing import FiledIssue, file_issue
from service.plugin_host import PluginHost
from service.plugin_manager import build_plugin_manager
from service.plugin_types import IssueRequest
from service.remote_errors import RemoteError, RetryableError
from service.report_delivery import ReportDelivery
from service.session_views import SessionViews
from service.settings import Settings
from service.storage.blobs import open_blob_store
from service.storage.database import create_engine
from service.storage.session_store import SessionStore
from service.storage.ticket_store import TicketStore
from service.viewer_tokens import ViewerTokens

__all__ = ["issue_command"]


async def _file(
    settings: Settings, provider: str, session_id: str, request: IssueRequest
) -> FiledIssue:
    plugins = PluginHost(build_plugin_manager(settings), settings.plugin_environment)
    engine = create_engine(settings.database_url)
    try:
        store = SessionStore(engine)
        blobs = open_blob_store(settings.blob_url, settings.data_dir, settings.blob_options)
        delivery = ReportDelivery(
            TicketStore(engine),
            SessionViews(store, blobs, settings.session_idle_timeout_seconds),
            plugins,
            ViewerTokens(settings.secret_key, settings.public_url, settings.previous_secret_keys),
            settings.ticket_link_ttl_seconds,
        )
        return await file_issue(delivery, store, provider, session_id, request)
    finally:
        await engine.dispose()


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
