"""Jira admin webhooks: the `X-Hub-Signature` check, then which issue and whose session."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec

from plugins.jira.settings import JiraConfig
from service import (
    TicketEvent,
    TicketRef,
    WebhookInvalid,
    WebhookRejected,
    WebhookRequest,
    timestamp_is_fresh,
    verify_hmac_sha256,
)

__all__ = ["ISSUE_CREATED", "OPENED_BY_REPLAYDESK", "PROVIDER", "USER_LABEL", "parse_delivery"]

PROVIDER = "jira"
ISSUE_CREATED = "jira:issue_created"
USER_LABEL = "replaydesk-user:"
"""An issue labelled `replaydesk-user:u42` is about the customer whose user ID is `u42`."""
OPENED_BY_REPLAYDESK = "replaydesk-issue-"
"""The label prefix of issues opened from a session (`IssueRequest.marker`): they carry their
report from the start, so their own `issue_created` webhook asks for nothing."""


class _Issue(msgspec.Struct, frozen=True):
    key: Annotated[str, msgspec.Meta(min_length=1)]
    fields: dict[str, Any] = {}


class _Delivery(msgspec.Struct, frozen=True, rename="camel"):
    webhook_event: str
    timestamp: int | None = None
    """When Jira sent it, in milliseconds; retries carry the first attempt's."""
    issue: _Issue | None = None


def _value(value: Any) -> str | None:
    """A user ID from a field's value: text, a number, an option (`{"value": ...}`), a list."""
    if isinstance(value, dict):
        return _value(value.get("value"))
    if isinstance(value, list):
        return next((found for item in value if (found := _value(item))), None)
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        # Jira keeps number fields as doubles: user 42 arrives as 42.0.
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    return None


def _user_id(fields: dict[str, Any], user_field: str | None) -> str | None:
    """The customer's user ID: the configured field, else a `replaydesk-user:<id>` label."""
    if user_field:
        found = _value(fields.get(user_field))
        if found:
            return found
    labels = fields.get("labels")
    for label in labels if isinstance(labels, list) else []:
        if isinstance(label, str) and label.startswith(USER_LABEL):
            user = label.removeprefix(USER_LABEL).strip()
            if user:
                return user
    return None


def _created(fields: dict[str, Any], timestamp: int | None) -> datetime | None:
    created = fields.get("created")
    if isinstance(created, str):
        try:
            moment = datetime.fromisoformat(created)
        except ValueError:
            pass
        else:
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None if timestamp is None else datetime.fromtimestamp(timestamp / 1000, tz=UTC)


def parse_delivery(request: WebhookRequest, config: JiraConfig) -> TicketEvent | None:
    """Verify a delivery and say which issue it is about (no network I/O).

    `WebhookRejected` when the signature does not verify or the timestamp is out of the
    window; `WebhookInvalid` when a signed body is not a Jira webhook.
    """
    signature = request.headers.get("x-hub-signature")
    if not verify_hmac_sha256(config.webhook_secret, request.body, signature):
        raise WebhookRejected(
            "the X-Hub-Signature header is missing or does not match the webhook secret"
        )
    try:
        delivery = msgspec.json.decode(request.body, type=_Delivery)
    except msgspec.DecodeError as exc:
        raise WebhookInvalid(f"not a Jira webhook: {exc}") from None
    now = request.received_at.timestamp()
    if not timestamp_is_fresh(delivery.timestamp, config.webhook_max_age_seconds, now):
        raise WebhookRejected("the webhook's timestamp is missing or outside the allowed window")
    created = delivery.webhook_event == ISSUE_CREATED
    if delivery.issue is None:
        if created:
            raise WebhookInvalid(f"a {ISSUE_CREATED} webhook without its issue")
        return None
    fields = delivery.issue.fields
    labels = fields.get("labels")
    if created and isinstance(labels, list):
        created = not any(
            isinstance(label, str) and label.startswith(OPENED_BY_REPLAYDESK) for label in labels
        )
    return TicketEvent(
        ticket=TicketRef(provider=PROVIDER, ticket_id=delivery.issue.key),
        user_id=_user_id(fields, config.user_field) if created else None,
        created_at=_created(fields, delivery.timestamp),
        attach=created,
        delivery_id=request.headers.get("x-atlassian-webhook-identifier"),
    )
