"""Requests to attach a session's report to a ticket: pick the session, record, enqueue."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, datetime

import msgspec
from redis.exceptions import RedisError

from service.clock import now_ms
from service.errors import BadRequest, NotFound, StorageUnavailable
from service.jobs.queue import JobQueue
from service.plugin_host.host import PluginHost
from service.plugin_host.types import TicketEvent, TicketRef, WebhookRequest
from service.storage.session_store import SessionStore
from service.storage.ticket_store import AttachmentRecord, TicketStore
from service.tickets.session_choice import session_for_ticket

__all__ = [
    "DUPLICATE_DELIVERY",
    "NO_SESSION",
    "AttachAccepted",
    "TicketAttachments",
    "WebhookAccepted",
    "attachment_job_id",
    "attachment_marker",
    "no_session_reason",
    "resolve_job_id",
]

log = logging.getLogger(__name__)

# The detail of the answer to a webhook delivery seen before.
DUPLICATE_DELIVERY = "this delivery was handled before"
# The session id of a "no recording found" note: the ticket's customer had no session.
NO_SESSION = ""


def attachment_job_id(provider: str, ticket_id: str, session_id: str) -> str:
    """The one job id of a (provider, ticket, session) report: `attach-` and a hash.

    RQ job ids allow only letters, digits, `_` and `-`; the hash also keeps ticket and user
    data out of Redis keys.
    """
    digest = hashlib.sha256("\0".join((provider, ticket_id, session_id)).encode()).hexdigest()
    return f"attach-{digest[:40]}"


def resolve_job_id(provider: str, ticket_id: str) -> str:
    """The one job id that resolves a ticket's requester: `resolve-` and a hash."""
    digest = hashlib.sha256("\0".join((provider, ticket_id)).encode()).hexdigest()
    return f"resolve-{digest[:40]}"


def no_session_reason(user_id: str) -> str:
    """Why a ticket of this user gets no report."""
    return f"no session of user {user_id} was recorded before the ticket was opened"


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
        self, store: SessionStore, ticket_store: TicketStore, queue: JobQueue, plugins: PluginHost
    ) -> None:
        self.store = store
        self.ticket_store = ticket_store
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
        reason = self.plugins.check_ticket_id(TicketRef(provider=provider, ticket_id=ticket_id))
        if reason is not None:
            raise BadRequest(f"ticket_id {ticket_id!r} is no {provider} ticket: {reason}")
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
        """Verify and parse a webhook with its provider's plugin; enqueue the work it asks for.

        Raises what the plugin raises (`WebhookRejected` 401, `WebhookInvalid` 400), NotFound
        for an unknown provider or one that takes no webhooks, and StorageUnavailable when a
        requester must be resolved and the queue is away (the vendor delivers again).
        """
        event = self.plugins.parse_webhook(request)
        if event is None or not event.attach:
            return WebhookAccepted(job_id=None, detail="the event needs no report")
        if event.ticket.provider != request.provider:
            raise BadRequest(
                f"the {request.provider} plugin parsed a ticket of {event.ticket.provider!r}"
            )
        if event.delivery_id:
            earlier = await self._earlier_answer(request.provider, event.delivery_id)
            if earlier is not None:
                return earlier
        if event.session_id is None and event.user_id is None and event.requester:
            answer = await self._resolve_later(request.provider, event)
        else:
            answer = await self.for_ticket(
                request.provider,
                event.ticket.ticket_id,
                user_id=event.user_id,
                session_id=event.session_id,
                ticket_created_at=event.created_at,
            )
        if event.delivery_id:
            await self._remember(request.provider, event.delivery_id, answer)
        return answer

    async def for_ticket(
        self,
        provider: str,
        ticket_id: str,
        *,
        user_id: str | None,
        session_id: str | None = None,
        ticket_created_at: datetime | None = None,
        no_user: str = "the ticket names no user or session",
    ) -> WebhookAccepted:
        """Ask for the report a new ticket needs, or for a "no recording" note, or say why not
        (`no_user` says why when neither a user nor a session is known: such a ticket is not
        about a customer of the site, and gets no note either)."""
        if session_id is None and user_id is None:
            log.info(
                "%s ticket %s names no user of the site: nothing to attach", provider, ticket_id
            )
            return WebhookAccepted(job_id=None, detail=no_user)
        chosen = await self._session(user_id, session_id, ticket_created_at)
        if chosen is None:
            assert user_id is not None  # a session named by id exists, or NotFound was raised
            # The log says which ticket, never whose: user IDs stay out of logs.
            log.info(
                "%s ticket %s: its user has no session before it was opened", provider, ticket_id
            )
            return await self._no_recording(provider, ticket_id, user_id, ticket_created_at)
        record = await self._record_and_enqueue(
            provider, ticket_id, chosen, ticket_created_at, user_id
        )
        return WebhookAccepted(job_id=record.job_id, session_id=chosen)

    async def _no_recording(
        self, provider: str, ticket_id: str, user_id: str, ticket_created_at: datetime | None
    ) -> WebhookAccepted:
        reason = no_session_reason(user_id)
        if not self.plugins.provider(provider).no_recording_note:
            return WebhookAccepted(job_id=None, detail=reason)
        record = await self._record_and_enqueue(
            provider, ticket_id, NO_SESSION, ticket_created_at, user_id
        )
        return WebhookAccepted(job_id=record.job_id, detail=f"{reason}; a note says so")

    async def _resolve_later(self, provider: str, event: TicketEvent) -> WebhookAccepted:
        assert event.requester is not None
        ticket_id = event.ticket.ticket_id
        job_id = resolve_job_id(provider, ticket_id)
        try:
            await asyncio.to_thread(
                self.queue.enqueue_resolve,
                job_id,
                provider,
                ticket_id,
                event.requester,
                _ms(event.created_at),
            )
        except (RedisError, OSError) as exc:
            raise StorageUnavailable(
                "the job queue did not answer; deliver the webhook again later"
            ) from exc
        return WebhookAccepted(
            job_id=job_id, detail="the job finds the requester's user ID, then the session"
        )

    async def _earlier_answer(self, provider: str, delivery_id: str) -> WebhookAccepted | None:
        try:
            answer = await asyncio.to_thread(self.queue.delivery_answer, provider, delivery_id)
        except (RedisError, OSError):
            return None  # the attachment records still keep a second delivery from writing
        if answer is None:
            return None
        earlier = msgspec.json.decode(answer, type=WebhookAccepted)
        return msgspec.structs.replace(earlier, detail=DUPLICATE_DELIVERY)

    async def _remember(self, provider: str, delivery_id: str, answer: WebhookAccepted) -> None:
        try:
            await asyncio.to_thread(
                self.queue.remember_delivery, provider, delivery_id, msgspec.json.encode(answer)
            )
        except (RedisError, OSError):
            log.warning("queue unavailable; webhook deliveries are not remembered for now")

    async def _session(
        self, user_id: str | None, session_id: str | None, ticket_created_at: datetime | None
    ) -> str | None:
        if session_id is not None:
            if await self.store.get(session_id) is None:
                raise NotFound(f"no session {session_id!r}")
            return session_id
        if user_id is None:
            raise BadRequest("give user_id or session_id")
        at = _ms(ticket_created_at) or now_ms()
        record = await session_for_ticket(self.store, user_id, at)
        return record.session_id if record else None

    async def _record_and_enqueue(
        self,
        provider: str,
        ticket_id: str,
        session_id: str,
        ticket_created_at: datetime | None,
        user_id: str | None = None,
    ) -> AttachmentRecord:
        job_id = attachment_job_id(provider, ticket_id, session_id)
        now = now_ms()
        record, needs_job = await self.ticket_store.request(
            job_id, provider, ticket_id, session_id, _ms(ticket_created_at), now, user_id
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
        await self.ticket_store.mark_enqueued(record.job_id, now_ms())
        return True
