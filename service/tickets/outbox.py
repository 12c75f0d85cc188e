"""The outbox relay: attach requests recorded while Redis was away reach the queue later."""

from __future__ import annotations

import asyncio
import logging

from redis.exceptions import RedisError

from service.clock import now_ms
from service.storage.ticket_store import TicketStore
from service.tickets.attachments import TicketAttachments

__all__ = ["OUTBOX_PERIOD_SECONDS", "STALE_AFTER_MS", "OutboxRelay"]

log = logging.getLogger(__name__)

# How often each service process looks for requests that did not reach the queue.
OUTBOX_PERIOD_SECONDS = 5.0
# A pending job enqueued longer ago than this is checked against Redis: a Redis that restarted
# without its data lost it, and it is enqueued again.
STALE_AFTER_MS = 60_000
BATCH = 100


class OutboxRelay:
    """Enqueues pending attach jobs the queue does not have."""

    def __init__(self, ticket_store: TicketStore, attachments: TicketAttachments) -> None:
        self.ticket_store = ticket_store
        self.attachments = attachments

    async def relay_once(self, stale_after_ms: int = STALE_AFTER_MS) -> int:
        """One pass; returns how many jobs it enqueued. Stops early while Redis is away."""
        now = now_ms()
        queue = self.attachments.queue
        enqueued = 0
        for record in await self.ticket_store.outbox(now - stale_after_ms, BATCH):
            if record.enqueued_at is not None:
                try:
                    present = await asyncio.to_thread(queue.job_exists, record.job_id)
                except (RedisError, OSError):
                    return enqueued
                if present:
                    # Still queued or waiting for a retry: look again a minute from now.
                    await self.ticket_store.mark_enqueued(record.job_id, now)
                    continue
                log.warning("job %s was lost from the queue; enqueueing it again", record.job_id)
            if not await self.attachments.enqueue(record):
                return enqueued
            enqueued += 1
        return enqueued

    async def run(self, period_seconds: float = OUTBOX_PERIOD_SECONDS) -> None:
        """Relay forever (the app lifespan cancels it)."""
        while True:
            try:
                await self.relay_once()
            except Exception:
                log.exception("outbox relay pass failed; trying again")
            await asyncio.sleep(period_seconds)
