"""Requests to attach a session's report to a ticket: pick the session, record, enqueue."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from datetime import UTC, datetime

import msgspec
from redis.exceptions import RedisError

from service.errors import BadRequest, NotFound
from service.jobs.queue import JobQueue
from service.plugin_host import PluginHost
from service.plugin_types import WebhookRequest
from service.session_choice import session_for_ticket
from service.storage.session_store import SessionStore
from service.storage.ticket_store import AttachmentRecord, TicketStore

__all__ = [
    "AttachAccepted",
    "TicketAttachments",
    "WebhookAccepted",
    "attachment_job_id",
    "attachment_marker",
]

log = logging.getLogger(__name__)


def attachment_job_id(provider: str, ticket_id: str, session_id: str) -> str:
    """The one job id of a (provider, ticket, session) report: `attach-` and a hash.

    RQ job ids allow only letters, digits, `_` and `-`; the hash also keeps ticket and user
    data out of Redis keys.
    """
    digest = hashlib.sha256("\0".join((provider, ticket_id, session_id)).encode()).hexdigest()
    return f"attach-{digest[:40]}"


def attachment_marker(job_id: str) -> str:
    """The marker a plugin writes into the ticket, to find its own earlier write."""
    return f"replaydesk-report-{job_id.removeprefix('attach-')}"


class AttachAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """An accepted attach request: the job that writes (or wrote) the report."""

    job_id: str
    session_id: str
    state: str
    """`queued` (the job will write it) or `finished` (the ticket already has this report)."""


class WebhookAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """An accepted webhook: the job it enqueued, or why nothing needed doing."""

    job_id: str | None
    session_id: str | None = None
    detail: str | None = None


def _ms(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    # A webhook's time without a zone is taken as UTC, never as this server's local time.
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


class TicketAttachments:
    """Turns attach requests and ticket webhooks into recorded, enqueued attach jobs."""

    def __init__(
        self, store: SessionStore, tickets: TicketStore, queue: JobQueue, plugins: PluginHost
    ) -> None:
        self.store = store
        self.tickets = tickets
        self.queue = queue
        self.plugins = plugins

    async def request(
        self,
        provider: str,
        ticket_id: str,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        ticket_created_at: datetime | None = None,
    ) -> AttachAccepted:
        """Attach the report of a session (given, or the user's at the ticket time) to a ticket.

        NotFound for an unknown provider, session or a user without a session before then.
        """
        self.plugins.owner(provider)
        if not ticket_id:
            raise BadRequest("ticket_id: must not be empty")
        chosen = await self._session(user_id, session_id, ticket_created_at)
        if chosen is None:
            raise NotFound(
                f"no session of user {user_id!r} started before the ticket was opened"
                if ticket_created_at
                else f"no session recorded for user {user_id!r}"
            )
        record = await self._record_and_enqueue(provider, ticket_id, chosen, ticket_created_at)
        state = "finished" if record.state == "written" else "queued"
        return AttachAccepted(job_id=record.job_id, session_id=chosen, state=state)

    async def webhook(self, request: WebhookRequest) -> WebhookAccepted:
        """Verify and parse a webhook with its provider's plugin; enqueue the attach it asks for.

        Raises what the plugin raises (`WebhookRejected` 401, `WebhookInvalid` 400) and
        NotFound for an unknown provider or one that takes no webhooks.
        """
        event = self.plugins.parse_webhook(request)
        if event is None or not event.attach:
            return WebhookAccepted(job_id=None, detail="the event needs no report")
        if event.ticket.provider != request.provider:
            raise BadRequest(
                f"the {request.provider} plugin parsed a ticket of {event.ticket.provider!r}"
            )
        if event.session_id is None and event.user_id is None:
            return WebhookAccepted(job_id=None, detail="the ticket names no user or session")
        chosen = await self._session(event.user_id, event.session_id, event.created_at)
        if chosen is None:
            return WebhookAccepted(job_id=None, detail="no session of that user before the ticket")
        record = await self._record_and_enqueue(
            request.provider, event.ticket.ticket_id, chosen, event.created_at
        )
        return WebhookAccepted(job_id=record.job_id, session_id=chosen)

    async def _session(
        self, user_id: str | None, session_id: str | None, ticket_created_at: datetime | None
    ) -> str | None:
        if session_id is not None:
            if await self.store.get(session_id) is None:
                raise NotFound(f"no session {session_id!r}")
            return session_id
        if user_id is None:
            raise BadRequest("give user_id or session_id")
        at = _ms(ticket_created_at) or int(time.time() * 1000)
        record = await session_for_ticket(self.store, user_id, at)
        return record.session_id if record else None

    async def _record_and_enqueue(
        self, provider: str, ticket_id: str, session_id: str, ticket_created_at: datetime | None
    ) -> AttachmentRecord:
        job_id = attachment_job_id(provider, ticket_id, session_id)
        now = int(time.time() * 1000)
        record, needs_job = await self.tickets.request(
            job_id, provider, ticket_id, session_id, _ms(ticket_created_at), now
        )
        if needs_job:
            await self.enqueue(record)
        return record

    async def enqueue(self, record: AttachmentRecord) -> bool:
        """Put the attach job on the queue; False (left to the outbox) when Redis is away."""
        try:
            await asyncio.to_thread(
                self.queue.enqueue_attach,
                record.job_id,
                record.provider,
                record.ticket_id,
                record.session_id,
            )
        except (RedisError, OSError) as exc:
            log.warning(
                "queue unavailable (%s); job %s stays in the outbox until it is back",
                type(exc).__name__,
                record.job_id,
            )
            return False
        await self.tickets.mark_enqueued(record.job_id, int(time.time() * 1000))
        return True
