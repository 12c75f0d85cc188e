"""Inbound helpdesk and tracker webhooks, verified by the provider's plugin."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request, post
from litestar.params import FromPath

from service.auth.guards import services_of
from service.errors import ReplayDeskError
from service.plugin_host.types import WebhookRequest
from service.tickets.attachments import DUPLICATE_DELIVERY, WebhookAccepted

__all__ = ["webhook_route_handlers"]


@post("/webhooks/{provider:str}", status_code=202, summary="A provider's webhook")
async def provider_webhook(
    request: Request[Any, Any, Any], provider: FromPath[str]
) -> WebhookAccepted:
    """The raw body goes to the provider's plugin first, which verifies its signature (401
    when it does not verify). 404 for a provider nobody configured; 202 once the attach job
    it asks for is enqueued (or recorded, when the queue is away)."""
    services = services_of(request)
    attachments = services.attachments
    known = provider in attachments.plugins.providers()
    count = services.metrics.webhooks.labels
    try:
        attachments.plugins.owner(provider)
        webhook = WebhookRequest(
            provider=provider,
            headers={name.lower(): value for name, value in request.headers.items()},
            body=await request.body(),
            received_at=datetime.now(tz=UTC),
        )
        accepted = await attachments.webhook(webhook)
    except ReplayDeskError as exc:
        # Unknown provider names are counted under one label: a path is not a metric label.
        outcome = _REFUSALS.get(exc.status_code, "refused")
        count(provider=provider if known else "unknown", outcome=outcome).inc()
        raise
    count(provider=provider, outcome=_outcome(accepted)).inc()
    return accepted


_REFUSALS = {400: "invalid", 401: "rejected", 404: "unknown_provider", 503: "unavailable"}


def _outcome(accepted: WebhookAccepted) -> str:
    if accepted.detail == DUPLICATE_DELIVERY:
        return "duplicate"
    return "enqueued" if accepted.job_id else "ignored"


webhook_route_handlers = [provider_webhook]
