"""Zendesk integration: writes replay evidence into Zendesk tickets as internal notes."""

from __future__ import annotations

import contextlib
import logging
import re

from plugins.zendesk.client import ZendeskClient
from plugins.zendesk.note import no_recording_note, report_note
from plugins.zendesk.requesters import pick_user_id
from plugins.zendesk.settings import SETTINGS, ConfigError, ZendeskConfig, load_config
from plugins.zendesk.webhook import parse_ticket_webhook, verify_signature
from service import (
    AttachResult,
    MissingRecording,
    PluginSettings,
    RemoteError,
    ReplayReport,
    ReportFile,
    SettingSpec,
    TicketEvent,
    TicketProvider,
    TicketRef,
    WebhookRequest,
    before_the_write,
    hookimpl,
)

__all__ = ["PROVIDER"]

PROVIDER = "zendesk"

log = logging.getLogger(__name__)


def _write_note(
    config: ZendeskConfig, ticket: TicketRef, html_body: str, file: ReportFile | None = None
) -> AttachResult:
    with ZendeskClient(config) as client:
        # The note is the write: a failed upload before it leaves no note for a retry to find.
        with before_the_write():
            uploads = [client.upload(file)] if file is not None else []
        try:
            comment_id = client.add_private_note(ticket.ticket_id, html_body, uploads)
        except RemoteError as exc:
            # A refused note (4xx) took no upload: delete it rather than leave the log readable
            # at its URL until the token expires. After a 5xx the note may have landed with it.
            if uploads and exc.status is not None and 400 <= exc.status < 500:
                with contextlib.suppress(RemoteError):
                    client.delete_upload(uploads[0])
            raise
    return AttachResult(
        remote_id=comment_id or ticket.ticket_id,
        kind="internal_note",
        url=config.ticket_url(ticket.ticket_id),
    )


@hookimpl
def replaydesk_plugin_settings() -> list[SettingSpec]:
    return list(SETTINGS)


@hookimpl
def replaydesk_ticket_provider(settings: PluginSettings) -> TicketProvider | None:
    try:
        config = load_config(settings)
    except ConfigError as exc:
        log.warning("the Zendesk plugin stays off: %s", exc)
        return None
    return TicketProvider(
        name=PROVIDER, title="Zendesk", no_recording_note=config.no_recording_note
    )


# What `PUT /api/v2/tickets/{ticket_id}` takes: a positive integer.
_TICKET_ID = re.compile(r"\A[1-9][0-9]{0,18}\Z")


@hookimpl
def replaydesk_check_ticket_id(ticket: TicketRef) -> str | None:
    if _TICKET_ID.search(ticket.ticket_id):
        return None
    return "Zendesk ticket IDs are whole numbers, like 1234"


@hookimpl
def replaydesk_parse_webhook(
    request: WebhookRequest, settings: PluginSettings
) -> TicketEvent | None:
    config = load_config(settings)
    verify_signature(request, config.webhook_secret, config.webhook_window_seconds)
    return parse_ticket_webhook(request, config.user_lookup)


@hookimpl
def replaydesk_resolve_user(requester: str, settings: PluginSettings) -> str | None:
    config = load_config(settings)
    with ZendeskClient(config) as client:
        user = client.user(requester)
    return pick_user_id(user, config.user_lookup)


@hookimpl
def replaydesk_attach_report(
    ticket: TicketRef, report: ReplayReport, settings: PluginSettings
) -> AttachResult:
    return _write_note(load_config(settings), ticket, report_note(report), report.log_file)


@hookimpl
def replaydesk_attach_no_recording(
    ticket: TicketRef, notice: MissingRecording, settings: PluginSettings
) -> AttachResult:
    return _write_note(load_config(settings), ticket, no_recording_note(notice))


@hookimpl
def replaydesk_find_attachment(
    ticket: TicketRef, marker: str, settings: PluginSettings
) -> AttachResult | None:
    config = load_config(settings)
    with ZendeskClient(config) as client:
        for comment in client.comments(ticket.ticket_id):
            if marker in (comment.get("html_body") or "") or marker in (comment.get("body") or ""):
                return AttachResult(
                    remote_id=str(comment["id"]),
                    kind="internal_note",
                    url=config.ticket_url(ticket.ticket_id),
                )
    return None
