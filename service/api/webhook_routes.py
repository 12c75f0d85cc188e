"""Inbound helpdesk and tracker webhooks, verified by the provider's plugin."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request, post
from litestar.params import FromPath

from service.api.auth import services_of
from service.plugin_types import WebhookRequest
from service.ticket_attachments import WebhookAccepted

__all__ = ["webhook_route_handlers"]


@post("/webhooks/{provider:str}", status_code=202, summary="A provider's webhook")
async def provider_webhook(
    request: Request[Any, Any, Any], provider: FromPath[str]
) -> WebhookAccepted:
    """The raw body goes to the provider's plugin first, which verifies its signature (401
    when it does not verify). 404 for a provider nobody configured; 202 once the attach job
    it asks for is enqueued (or recorded, when the queue is away)."""
    tickets = services_of(request).tickets
    tickets.plugins.owner(provider)
    webhook = WebhookRequest(
        provider=provider,
        headers={name.lower(): value for name, value in request.headers.items()},
        body=await request.body(),
        received_at=datetime.now(tz=UTC),
    )
    return await tickets.webhook(webhook)


webhook_route_handlers = [provider_webhook]
