"""Zendesk webhooks: the signature check, then the trigger payload or the event envelope parsed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from plugins.zendesk.requesters import pick_user_id
from service import (
    TicketEvent,
    TicketRef,
    WebhookInvalid,
    WebhookRejected,
    WebhookRequest,
    timestamp_is_fresh,
    verify_hmac_sha256,
)

__all__ = ["parse_ticket_webhook", "verify_signature"]

SIGNATURE_HEADER = "x-zendesk-webhook-signature"
TIMESTAMP_HEADER = "x-zendesk-webhook-signature-timestamp"
# One invocation of a webhook, the same on Zendesk's retries of it. (`x-zendesk-webhook-id`
# names the webhook itself: every delivery of that webhook carries the same one.)
INVOCATION_HEADER = "x-zendesk-webhook-invocation-id"
EVENT_TYPE_PREFIX = "zen:event-type:"
TICKET_EVENT_PREFIX = "zen:event-type:ticket."
TICKET_CREATED = "zen:event-type:ticket.created"
TICKET_SUBJECT_PREFIX = "zen:ticket:"
# The trigger body carries the requester's fields as `requester_external_id`, `requester_email`.
TRIGGER_REQUESTER_PREFIX = "requester_"


def _parse_time(text: str) -> datetime | None:
    """An ISO-8601 time (`2026-09-21T14:14Z`, `...:20Z`) as an aware datetime, else None."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _moment(value: object, what: str) -> datetime | None:
    """A payload's ISO-8601 time; None if blank, `WebhookInvalid` if malformed."""
    if value is None or value == "":
        return None
    moment = _parse_time(value) if isinstance(value, str) else None
    if moment is None:
        raise WebhookInvalid(f"{what} is not an ISO-8601 time")
    return moment


def _numeric_id(value: object, what: str) -> str | None:
    """A Zendesk id (digits, sent as a string or a number); None if blank."""
    if value is None or value == "":
        return None
    text = str(value).strip() if isinstance(value, str | int) else ""
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
        raise WebhookInvalid(f"{what} is not a Zendesk id")
    return text


def verify_signature(request: WebhookRequest, secret: str, window_seconds: float) -> None:
    """`WebhookRejected` unless Zendesk signed this body at a time within the window.

    Zendesk signs `base64(HMAC-SHA256(secret, timestamp header + raw body))`.
    """
    signature = request.headers.get(SIGNATURE_HEADER)
    stamp = request.headers.get(TIMESTAMP_HEADER)
    if not signature or not stamp:
        raise WebhookRejected("the Zendesk signature headers are missing")
    if not verify_hmac_sha256(secret, stamp.encode() + request.body, signature, "base64"):
        raise WebhookRejected("the Zendesk signature does not verify")
    signed_at = _parse_time(stamp)
    now = request.received_at.timestamp()
    if signed_at is None or not timestamp_is_fresh(signed_at.timestamp(), window_seconds, now):
        raise WebhookRejected(
            f"the Zendesk signature timestamp is not within {window_seconds:g} s of now"
        )


def _from_event(
    provider: str, payload: dict[str, Any], event_type: str, delivery: str | None
) -> TicketEvent | None:
    if not event_type.startswith(TICKET_EVENT_PREFIX):
        return None  # a user, organization, article ... event: no ticket to write to
    detail = payload.get("detail")
    detail = detail if isinstance(detail, dict) else {}
    subject = payload.get("subject")
    ticket_id = _numeric_id(detail.get("id"), "detail.id")
    if ticket_id is None and isinstance(subject, str):
        ticket_id = _numeric_id(subject.removeprefix(TICKET_SUBJECT_PREFIX), "subject")
    if ticket_id is None:
        raise WebhookInvalid("the Zendesk ticket event names no ticket")
    ticket = TicketRef(provider=provider, ticket_id=ticket_id)
    event_id = payload.get("id")
    delivery = event_id if isinstance(event_id, str) and event_id else delivery
    if event_type != TICKET_CREATED:
        return TicketEvent(ticket=ticket, attach=False, delivery_id=delivery)
    # detail.external_id is the ticket's own external id, not the requester's: it is not used.
    return TicketEvent(
        ticket=ticket,
        requester=_numeric_id(detail.get("requester_id"), "detail.requester_id"),
        created_at=_moment(detail.get("created_at"), "detail.created_at")
        or _moment(payload.get("time"), "time"),
        delivery_id=delivery,
    )


def _from_trigger(
    provider: str, payload: dict[str, Any], lookup: Sequence[str], delivery: str | None
) -> TicketEvent:
    ticket_id = _numeric_id(payload.get("ticket_id"), "ticket_id")
    if ticket_id is None:
        raise WebhookInvalid('the Zendesk webhook body has no "ticket_id"')
    user_id = pick_user_id(payload, lookup, TRIGGER_REQUESTER_PREFIX)
    requester = _numeric_id(payload.get("requester_id"), "requester_id")
    return TicketEvent(
        ticket=TicketRef(provider=provider, ticket_id=ticket_id),
        user_id=user_id,
        requester=None if user_id else requester,
        created_at=_moment(payload.get("created_at"), "created_at"),
        delivery_id=delivery,
    )


def parse_ticket_webhook(request: WebhookRequest, lookup: Sequence[str]) -> TicketEvent | None:
    """The ticket event of a verified webhook: a trigger's JSON body or a Zendesk event.

    `lookup` orders the requester fields that hold the customer's user ID. None for events
    about no ticket; `attach=False` for ticket events other than a ticket created.
    """
    try:
        payload = msgspec.json.decode(request.body)
    except msgspec.DecodeError as exc:
        raise WebhookInvalid(f"the Zendesk webhook body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise WebhookInvalid("the Zendesk webhook body is not a JSON object")
    delivery = request.headers.get(INVOCATION_HEADER) or None
    event_type = payload.get("type")
    if isinstance(event_type, str) and event_type.startswith(EVENT_TYPE_PREFIX):
        return _from_event(request.provider, payload, event_type, delivery)
    return _from_trigger(request.provider, payload, lookup, delivery)
