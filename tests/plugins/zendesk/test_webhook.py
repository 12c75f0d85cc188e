"""Zendesk webhooks: signatures verified in a time window, trigger bodies and events parsed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from plugins import zendesk as plugin
from service import (
    PluginSettings,
    TicketEvent,
    TicketRef,
    WebhookInvalid,
    WebhookRejected,
    WebhookRequest,
)
from tests.plugins.zendesk.contract import CONTRACTS
from tests.plugins.zendesk.fake_zendesk import plugin_settings, signed_headers

VECTORS = json.loads((CONTRACTS / "examples" / "signature-test-vectors.json").read_text())[
    "zendesk"
]
VECTOR_BODY = (CONTRACTS / "examples" / VECTORS["body_file"]).read_bytes()
VECTOR_SIGNED_AT = datetime(2099, 7, 4, 5, 33, 18, tzinfo=UTC)
TICKET = TicketRef(provider="zendesk", ticket_id="35436")
# What the trigger body in plugins/zendesk/README.md renders to.
TRIGGER = {
    "ticket_id": "35436",
    "created_at": "2026-09-21T14:14Z",
    "requester_id": "20978392",
    "requester_external_id": "u42",
    "requester_email": "jane@example.com",
}


def received(body: bytes, headers: dict[str, str], at: datetime | None = None) -> WebhookRequest:
    return WebhookRequest(
        provider="zendesk",
        headers={name.lower(): value for name, value in headers.items()},
        body=body,
        received_at=at or datetime.now(tz=UTC),
    )


def vector_request(
    body: bytes = VECTOR_BODY, changes: dict[str, str] | None = None
) -> WebhookRequest:
    headers = {
        "X-Zendesk-Webhook-Signature": VECTORS["X-Zendesk-Webhook-Signature"],
        "X-Zendesk-Webhook-Signature-Timestamp": VECTORS["X-Zendesk-Webhook-Signature-Timestamp"],
        **(changes or {}),
    }
    return received(body, headers, VECTOR_SIGNED_AT + timedelta(seconds=2))


def parse(request: WebhookRequest, settings: PluginSettings | None = None) -> TicketEvent | None:
    return plugin.replaydesk_parse_webhook(request, settings or plugin_settings())


def parse_signed(payload: Any, settings: PluginSettings | None = None) -> TicketEvent | None:
    body = json.dumps(payload).encode()
    return parse(received(body, signed_headers(body)), settings)


VECTOR_SETTINGS = plugin_settings(WEBHOOK_SECRET=VECTORS["secret"])


def test_the_signature_test_vector_verifies_and_parses_as_a_ticket_created() -> None:
    event = parse(vector_request(), VECTOR_SETTINGS)
    assert event == TicketEvent(
        ticket=TICKET,
        requester="20978392",
        created_at=VECTOR_SIGNED_AT,
        delivery_id="2b24ef10-19d4-4740-93cf-8f98ec4776c0",
    )


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(vector_request(VECTOR_BODY.replace(b"35436", b"35437")), id="tampered-body"),
        pytest.param(vector_request(VECTOR_BODY + b" "), id="appended-byte"),
        pytest.param(
            vector_request(
                changes={"X-Zendesk-Webhook-Signature-Timestamp": "2099-07-04T05:33:19Z"}
            ),
            id="other-timestamp",
        ),
        pytest.param(
            vector_request(changes={"X-Zendesk-Webhook-Signature": "bm9wZQ=="}), id="bad-sig"
        ),
        pytest.param(
            vector_request(changes={"X-Zendesk-Webhook-Signature": "%%%"}), id="not-base64"
        ),
        pytest.param(
            vector_request(changes={"X-Zendesk-Webhook-Signature": ""}), id="no-signature"
        ),
        pytest.param(
            vector_request(changes={"X-Zendesk-Webhook-Signature-Timestamp": ""}), id="no-timestamp"
        ),
    ],
)
def test_a_webhook_that_does_not_verify_is_rejected(request_: WebhookRequest) -> None:
    with pytest.raises(WebhookRejected):
        parse(request_, VECTOR_SETTINGS)


def test_a_wrong_secret_is_rejected() -> None:
    with pytest.raises(WebhookRejected):
        parse(vector_request(), plugin_settings(WEBHOOK_SECRET="another-secret"))


def test_a_signature_outside_the_window_is_rejected_and_the_window_is_a_setting() -> None:
    late = received(
        VECTOR_BODY, dict(vector_request().headers), VECTOR_SIGNED_AT + timedelta(hours=1)
    )
    with pytest.raises(WebhookRejected, match="300 s"):
        parse(late, VECTOR_SETTINGS)
    early = received(
        VECTOR_BODY, dict(vector_request().headers), VECTOR_SIGNED_AT - timedelta(hours=1)
    )
    with pytest.raises(WebhookRejected):
        parse(early, VECTOR_SETTINGS)
    wide = plugin_settings(WEBHOOK_SECRET=VECTORS["secret"], WEBHOOK_WINDOW_SECONDS="7200")
    assert parse(late, wide) is not None


def test_a_correctly_signed_timestamp_that_is_not_a_time_is_rejected() -> None:
    body = json.dumps(TRIGGER).encode()
    with pytest.raises(WebhookRejected):
        parse(received(body, signed_headers(body, timestamp="yesterday")))


def test_a_trigger_body_names_the_ticket_the_user_and_the_time() -> None:
    assert parse_signed(TRIGGER) == TicketEvent(
        ticket=TICKET,
        user_id="u42",
        created_at=datetime(2026, 9, 21, 14, 14, tzinfo=UTC),
        delivery_id="8350205582",  # X-Zendesk-Webhook-Invocation-Id
    )


def test_the_user_id_follows_user_lookup_and_skips_blank_placeholders() -> None:
    by_email = plugin_settings(USER_LOOKUP="email,external_id")
    assert (event := parse_signed(TRIGGER, by_email)) and event.user_id == "jane@example.com"
    no_external_id = {**TRIGGER, "requester_external_id": ""}
    assert (event := parse_signed(no_external_id)) and event.user_id == "jane@example.com"
    only_external_id = plugin_settings(USER_LOOKUP="external_id")
    event = parse_signed(no_external_id, only_external_id)
    # Nothing names the user: the job asks Zendesk about the requester instead.
    assert event and (event.user_id, event.requester) == (None, "20978392")


def test_a_trigger_body_without_requester_fields_still_names_the_ticket() -> None:
    event = parse_signed({"ticket_id": 35436})
    assert event == TicketEvent(ticket=TICKET, delivery_id="8350205582")


def test_a_ticket_created_event_by_its_subject_and_not_the_tickets_external_id() -> None:
    envelope = json.loads(VECTOR_BODY)
    del envelope["detail"]["id"]
    envelope["detail"]["external_id"] = "u999"  # the ticket's external id, not the customer's
    event = parse_signed(envelope)
    assert event and event.ticket == TICKET
    assert (event.user_id, event.requester) == (None, "20978392")


def test_other_ticket_events_need_no_report_and_other_events_concern_no_ticket() -> None:
    envelope = json.loads(VECTOR_BODY)
    status_changed = {**envelope, "type": "zen:event-type:ticket.status_changed"}
    assert parse_signed(status_changed) == TicketEvent(
        ticket=TICKET, attach=False, delivery_id=envelope["id"]
    )
    user_created = {
        **envelope,
        "type": "zen:event-type:user.created",
        "subject": "zen:user:6596848315901",
        "detail": {"id": "6596848315901", "external_id": "u42"},
    }
    assert parse_signed(user_created) is None


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b"",
        json.dumps({"requester_external_id": "u42"}).encode(),
        json.dumps({"ticket_id": "../users/1"}).encode(),
        json.dumps({**TRIGGER, "created_at": "yesterday"}).encode(),
        json.dumps({**TRIGGER, "requester_id": "Jane"}).encode(),
        json.dumps({"type": "zen:event-type:ticket.created", "detail": {}}).encode(),
    ],
    ids=[
        "not-json",
        "array",
        "empty",
        "no-ticket",
        "ticket-not-an-id",
        "bad-time",
        "requester-not-an-id",
        "event-without-ticket",
    ],
)
def test_a_signed_body_that_is_not_a_ticket_webhook_is_invalid(body: bytes) -> None:
    with pytest.raises(WebhookInvalid):
        parse(received(body, signed_headers(body)))
