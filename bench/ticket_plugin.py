"""The plugin the ticket benchmarks load: a signed-webhook tracker that takes comments."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

import httpx
import msgspec

from service import (
    DEFAULT_TIMEOUT,
    AttachResult,
    PluginSettings,
    ReplayReport,
    SettingSpec,
    TicketEvent,
    TicketProvider,
    TicketRef,
    WebhookRejected,
    WebhookRequest,
    hookimpl,
    remote_request,
    render_text,
    verify_hmac_sha256,
)

__all__ = ["PROVIDER", "SIGNATURE_HEADER"]

PROVIDER = "benchvendor"
SIGNATURE_HEADER = "x-bench-signature"


class _Event(msgspec.Struct):
    ticket_id: str
    user_id: str
    created_at: datetime


@hookimpl
def replaydesk_plugin_settings() -> list[SettingSpec]:
    return [
        SettingSpec(name="URL", description="the stub vendor", required=True),
        SettingSpec(name="SECRET", description="webhook secret", required=True, secret=True),
    ]


@hookimpl
def replaydesk_ticket_provider() -> TicketProvider:
    return TicketProvider(name=PROVIDER, title="Benchmark vendor")


@hookimpl
def replaydesk_attach_report(
    ticket: TicketRef, report: ReplayReport, settings: PluginSettings
) -> AttachResult:
    url = f"{settings.require('URL')}/tickets/{quote(ticket.ticket_id, safe='')}/comments"
    with httpx.Client(timeout=DEFAULT_TIMEOUT) as client:
        created = remote_request(
            client, "POST", url, json={"body": render_text(report), "marker": report.marker}
        ).json()
    return AttachResult(remote_id=str(created["id"]))


@hookimpl
def replaydesk_parse_webhook(request: WebhookRequest, settings: PluginSettings) -> TicketEvent:
    signature = request.headers.get(SIGNATURE_HEADER)
    if not verify_hmac_sha256(settings.require("SECRET"), request.body, signature):
        raise WebhookRejected("bad signature")
    event = msgspec.json.decode(request.body, type=_Event)
    return TicketEvent(
        ticket=TicketRef(provider=PROVIDER, ticket_id=event.ticket_id),
        user_id=event.user_id,
        created_at=event.created_at,
    )
