"""ReplayDesk plugin for Taskboard: replay reports as ticket comments, tickets from webhooks."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

import httpx
import msgspec

from service import (
    AttachResult,
    PluginSettings,
    ReplayReport,
    SettingSpec,
    TicketEvent,
    TicketProvider,
    TicketRef,
    WebhookInvalid,
    WebhookRejected,
    WebhookRequest,
    hookimpl,
    remote_client,
    remote_request,
    render_markdown,
    timestamp_is_fresh,
    verify_hmac_sha256,
)

__all__ = ["PROVIDER", "__version__"]

__version__ = "1.0.0"
PROVIDER = "taskboard"


# [docs:settings]
@hookimpl
def replaydesk_plugin_settings() -> list[SettingSpec]:
    return [
        SettingSpec(name="URL", description="Taskboard base URL", required=True),
        SettingSpec(
            name="TOKEN", description="API token of a bot user", required=True, secret=True
        ),
        SettingSpec(name="WEBHOOK_SECRET", description="signs Taskboard webhooks", secret=True),
    ]


@hookimpl
def replaydesk_ticket_provider() -> TicketProvider:
    return TicketProvider(name=PROVIDER, title="Taskboard")


# [/docs:settings]


def _client(settings: PluginSettings) -> httpx.Client:
    token = settings.require("TOKEN")
    headers = {"Authorization": f"Bearer {token}"}
    return remote_client(settings.require("URL"), headers=headers)


def _comments_path(ticket: TicketRef) -> str:
    return f"/api/tickets/{quote(ticket.ticket_id, safe='')}/comments"


# [docs:attach]
@hookimpl
def replaydesk_attach_report(
    ticket: TicketRef, report: ReplayReport, settings: PluginSettings
) -> AttachResult:
    # The marker, hidden in the comment, lets replaydesk_find_attachment spot this comment.
    body = f"{render_markdown(report)}\n<!-- {report.marker} -->\n"
    with _client(settings) as client:
        response = remote_request(
            client,
            "POST",
            _comments_path(ticket),
            json={"body": body},
            headers={"Idempotency-Key": report.marker},
        )
    created = response.json()
    return AttachResult(remote_id=str(created["id"]), kind="comment", url=created.get("url"))


@hookimpl
def replaydesk_find_attachment(
    ticket: TicketRef, marker: str, settings: PluginSettings
) -> AttachResult | None:
    with _client(settings) as client:
        response = remote_request(client, "GET", _comments_path(ticket))
    for comment in response.json()["comments"]:
        if marker in comment["body"]:
            return AttachResult(remote_id=str(comment["id"]), url=comment.get("url"))
    return None


# [/docs:attach]


class _Ticket(msgspec.Struct):
    id: str | int
    created_at: datetime | None = None
    reporter_id: str | None = None


class _Webhook(msgspec.Struct):
    event: str
    ticket: _Ticket


# [docs:webhook]
@hookimpl
def replaydesk_parse_webhook(request: WebhookRequest, settings: PluginSettings) -> TicketEvent:
    secret = settings.get("WEBHOOK_SECRET")
    timestamp = request.headers.get("x-taskboard-timestamp")
    signature = request.headers.get("x-taskboard-signature")
    signed = f"{timestamp}.".encode() + request.body
    if not (secret and timestamp_is_fresh(timestamp)):
        raise WebhookRejected("no webhook secret is set, or the timestamp is stale")
    if not verify_hmac_sha256(secret, signed, signature):
        raise WebhookRejected("the Taskboard signature does not verify")
    try:
        hook = msgspec.json.decode(request.body, type=_Webhook)
    except msgspec.DecodeError as exc:
        raise WebhookInvalid(f"not a Taskboard webhook: {exc}") from None
    return TicketEvent(
        ticket=TicketRef(provider=PROVIDER, ticket_id=str(hook.ticket.id)),
        user_id=hook.ticket.reporter_id,
        created_at=hook.ticket.created_at,
        attach=hook.event == "ticket.created",
    )


# [/docs:webhook]
