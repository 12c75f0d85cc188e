"""Opening an issue (a bug) from a session: once per provider and session, through a job."""

from __future__ import annotations

import asyncio
import hashlib

import msgspec
from redis.exceptions import RedisError

from service.clock import now_ms
from service.errors import BadRequest, NotFound, StorageUnavailable
from service.jobs.queue import JobQueue
from service.plugin_host.host import PluginHost
from service.plugin_host.remote_errors import PermanentError, may_have_written
from service.plugin_host.types import IssueRequest
from service.storage.session_store import SessionStore
from service.storage.ticket_store import AttachmentRecord, TicketStore
from service.tickets.attachments import attachment_job_id
from service.tickets.delivery import ReportDelivery

__all__ = ["ISSUE_KIND", "FiledIssue", "IssueAccepted", "IssueFiling", "file_issue", "issue_job_id"]

# `AttachResult.kind` of the record saying an issue was opened with the session's report.
ISSUE_KIND = "issue"


def issue_job_id(provider: str, session_id: str) -> str:
    """The one job id that opens the provider's issue for a session: `issue-` and a hash."""
    digest = hashlib.sha256(f"{provider}\0{session_id}".encode()).hexdigest()
    return f"issue-{digest[:40]}"


class FiledIssue(msgspec.Struct, frozen=True, kw_only=True):
    """An issue opened from a session."""

    provider: str
    session_id: str
    ticket_id: str
    url: str | None
    already_filed: bool
    """True when the issue existed before this request: nothing new was opened."""


class IssueAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """An accepted request to open an issue: the job doing it, or the issue already open."""

    job_id: str
    state: str
    """`queued` (the job opens it) or `finished` (the session's issue exists: see ticket_id)."""
    ticket_id: str | None = None
    url: str | None = None


def _filed(records: list[AttachmentRecord]) -> AttachmentRecord | None:
    return next((r for r in records if (r.remote or {}).get("kind") == ISSUE_KIND), None)


def _as_filed(record: AttachmentRecord) -> FiledIssue:
    remote = record.remote or {}
    return FiledIssue(
        provider=record.provider,
        session_id=record.session_id,
        ticket_id=record.ticket_id,
        url=remote.get("url"),
        already_filed=True,
    )


async def _check(store: SessionStore, plugins: PluginHost, provider: str, session_id: str) -> None:
    plugins.owner(provider)
    if not plugins.creates_issues(provider):
        raise BadRequest(f"the {provider} plugin does not open issues")
    if await store.get(session_id) is None:
        raise NotFound(f"no session {session_id!r}")


class IssueFiling:
    """Turns requests to open an issue from a session into one queued job."""

    def __init__(
        self, store: SessionStore, ticket_store: TicketStore, queue: JobQueue, plugins: PluginHost
    ) -> None:
        self.store = store
        self.ticket_store = ticket_store
        self.queue = queue
        self.plugins = plugins

    async def request(self, provider: str, session_id: str, request: IssueRequest) -> IssueAccepted:
        """Enqueue the job, unless the session's issue exists (then it is returned)."""
        await _check(self.store, self.plugins, provider, session_id)
        job_id = issue_job_id(provider, session_id)
        existing = _filed(await self.ticket_store.written_for_session(provider, session_id))
        if existing is not None:
            filed = _as_filed(existing)
            return IssueAccepted(
                job_id=job_id, state="finished", ticket_id=filed.ticket_id, url=filed.url
            )
        try:
            await asyncio.to_thread(
                self.queue.enqueue_issue,
                job_id,
                provider,
                session_id,
                msgspec.json.encode(request),
            )
        except (RedisError, OSError) as exc:
            raise StorageUnavailable("the job queue did not answer; ask again later") from exc
        return IssueAccepted(job_id=job_id, state="queued")


async def file_issue(
    delivery: ReportDelivery,
    store: SessionStore,
    provider: str,
    session_id: str,
    request: IssueRequest,
) -> FiledIssue:
    """Open the issue through the provider's plugin (network I/O: a job or the CLI).

    The session's issue is opened once: asking again returns the one opened before.
    """
    plugins, ticket_store = delivery.plugins, delivery.ticket_store
    await _check(store, plugins, provider, session_id)
    existing = _filed(await ticket_store.written_for_session(provider, session_id))
    if existing is not None:
        return _as_filed(existing)
    job_id = issue_job_id(provider, session_id)
    marker = f"replaydesk-issue-{job_id.removeprefix('issue-')[:16]}"
    report = await delivery.build_report(session_id, marker)
    earlier = await ticket_store.start_issue_attempt(job_id, provider, session_id, now_ms())
    asked = msgspec.structs.replace(request, marker=marker, may_exist=earlier)
    try:
        created = await asyncio.to_thread(plugins.create_issue, provider, asked, report)
    except Exception as exc:
        if not earlier and not may_have_written(exc):
            await ticket_store.issue_attempt_opened_nothing(job_id, now_ms())
        raise
    if created is None:
        raise PermanentError(f"the {provider} plugin opened no issue")
    remote = {"remote_id": created.ticket_id, "kind": ISSUE_KIND, "url": created.url}
    await ticket_store.record_written(
        attachment_job_id(provider, created.ticket_id, session_id),
        provider,
        created.ticket_id,
        session_id,
        report.user_id,
        remote,
        now_ms(),
    )
    await ticket_store.forget_issue_attempts(job_id)
    return FiledIssue(
        provider=provider,
        session_id=session_id,
        ticket_id=created.ticket_id,
        url=created.url,
        already_filed=False,
    )
