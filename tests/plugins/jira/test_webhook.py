"""Jira admin webhooks: signature and age checked first, then the issue and its customer."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import plugins.jira as plugin
from service import (
    TicketRef,
    WebhookInvalid,
    WebhookRejected,
    WebhookRequest,
    hmac_sha256,
)
from tests.plugins.jira.conftest import WEBHOOK_SECRET, plugin_settings
from tests.plugins.jira.contract import CONTRACTS, example

VECTORS = json.loads((CONTRACTS / "examples" / "signature-test-vectors.json").read_text())
VECTOR = VECTORS["jira_admin_webhook"]
BODY_FILE = CONTRACTS / "examples" / VECTOR["body_file"]
DELIVERY = "0a1b2c3d-webhook-delivery"


def webhook(
    body: bytes, headers: dict[str, str], received_at: datetime | None = None
) -> WebhookRequest:
    return WebhookRequest(
        provider="jira",
        headers={name.lower(): value for name, value in headers.items()},
        body=body,
        received_at=received_at or datetime.now(tz=UTC),
    )


def signed(payload: dict[str, Any], secret: str = WEBHOOK_SECRET) -> WebhookRequest:
    """A delivery as Jira sends it now: this body, signed, with its delivery id."""
    body = json.dumps({"timestamp": int(time.time() * 1000), **payload}).encode()
    headers = {
        "X-Hub-Signature": f"sha256={hmac_sha256(secret, body)}",
        "X-Atlassian-Webhook-Identifier": DELIVERY,
    }
    return webhook(body, headers)


def issue_created(**fields: Any) -> dict[str, Any]:
    """The saved `jira:issue_created` delivery, its issue's fields changed."""
    payload = example("webhook-jira-issue_created.composed.body.json")
    del payload["timestamp"]
    payload["issue"]["fields"].update(fields)
    return payload


def parse(request: WebhookRequest, **settings: str) -> Any:
    return plugin.replaydesk_parse_webhook(request, plugin_settings(**settings))


def vector_request(
    body: bytes, signature: str | None = VECTOR["X-Hub-Signature"]
) -> WebhookRequest:
    # The body's timestamp is in 2099: the delivery is received at that moment.
    sent = datetime.fromtimestamp(json.loads(BODY_FILE.read_bytes())["timestamp"] / 1000, tz=UTC)
    headers = {"X-Atlassian-Webhook-Identifier": DELIVERY}
    if signature is not None:
        headers["X-Hub-Signature"] = signature
    return webhook(body, headers, received_at=sent)


def test_the_signature_vector_verifies_over_the_exact_bytes() -> None:
    event = parse(vector_request(BODY_FILE.read_bytes()), WEBHOOK_SECRET=VECTOR["secret"])
    assert event.ticket == TicketRef(provider="jira", ticket_id="ED-1")
    assert event.attach and event.delivery_id == DELIVERY
    # This issue names no customer, and no creation time: the delivery's time stands in.
    assert event.user_id is None
    assert event.created_at == datetime(2099, 7, 3, 7, 53, 18, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "signature", "secret"),
    [
        pytest.param(
            BODY_FILE.read_bytes() + b" ",
            VECTOR["X-Hub-Signature"],
            VECTOR["secret"],
            id="tampered",
        ),
        pytest.param(
            BODY_FILE.read_bytes(), VECTOR["X-Hub-Signature"], "another-secret", id="wrong-secret"
        ),
        pytest.param(BODY_FILE.read_bytes(), None, VECTOR["secret"], id="no-header"),
        pytest.param(BODY_FILE.read_bytes(), "sha256=not-hex", VECTOR["secret"], id="garbled"),
    ],
)
def test_deliveries_that_do_not_verify_are_rejected(
    body: bytes, signature: str | None, secret: str
) -> None:
    with pytest.raises(WebhookRejected):
        parse(vector_request(body, signature), WEBHOOK_SECRET=secret)


def test_deliveries_older_than_the_window_are_rejected() -> None:
    request = vector_request(BODY_FILE.read_bytes())
    late = webhook(request.body, request.headers, request.received_at + timedelta(hours=2))
    assert parse(late, WEBHOOK_SECRET=VECTOR["secret"], WEBHOOK_MAX_AGE_SECONDS="10800")
    with pytest.raises(WebhookRejected):
        parse(late, WEBHOOK_SECRET=VECTOR["secret"])  # an hour by default
    today = webhook(request.body, request.headers)
    with pytest.raises(WebhookRejected):
        parse(today, WEBHOOK_SECRET=VECTOR["secret"])


@pytest.mark.parametrize(
    "value",
    ["u42", " u42 ", 42, 42.0, {"value": "u42", "id": "10001"}, [{"value": "u42"}]],
    ids=["text", "padded", "int", "double", "option", "options"],
)
def test_the_user_field_names_the_customer(value: Any) -> None:
    event = parse(signed(issue_created(customfield_10050=value)), USER_FIELD="customfield_10050")
    assert event.user_id == ("42" if isinstance(value, int | float) else "u42")


def test_a_label_names_the_customer_when_the_field_does_not() -> None:
    labels = ["checkout", "replaydesk-user:u77"]
    event = parse(signed(issue_created(labels=labels)), USER_FIELD="customfield_10050")
    assert event.user_id == "u77"
    both = issue_created(labels=labels, customfield_10050="u42")
    assert parse(signed(both), USER_FIELD="customfield_10050").user_id == "u42"
    empty = issue_created(labels=["replaydesk-user:"], customfield_10050="")
    assert parse(signed(empty), USER_FIELD="customfield_10050").user_id is None


def test_the_issue_creation_time_and_either_description_format_are_taken() -> None:
    fields = {"created": "2026-09-21T14:14:20.000+0000", "description": "plain *wiki* text"}
    event = parse(signed(issue_created(**fields)))
    assert event.created_at == datetime(2026, 9, 21, 14, 14, 20, tzinfo=UTC)
    assert event.delivery_id == DELIVERY


def test_other_events_attach_nothing() -> None:
    updated = {
        **issue_created(labels=["replaydesk-user:u42"]),
        "webhookEvent": "jira:issue_updated",
    }
    event = parse(signed(updated))
    assert event.ticket.ticket_id == "ED-1" and not event.attach
    assert parse(signed({"webhookEvent": "project_created"})) is None


def test_an_issue_opened_from_a_session_asks_for_no_second_report() -> None:
    labels = ["replaydesk-user:u42", "replaydesk-issue-0123456789abcdef"]
    event = parse(signed(issue_created(labels=labels)))
    assert event.ticket.ticket_id == "ED-1" and not event.attach


NOW = "TIMESTAMP"


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        '{"timestamp": TIMESTAMP, "issue": {"key": "X-1"}}',
        '{"timestamp": TIMESTAMP, "webhookEvent": "jira:issue_created"}',
        '{"timestamp": TIMESTAMP, "webhookEvent": "jira:issue_created", "issue": {"key": ""}}',
    ],
)
def test_signed_bodies_that_are_no_jira_webhook_are_invalid(body: str) -> None:
    raw = body.replace(NOW, str(int(time.time() * 1000))).encode()
    headers = {"X-Hub-Signature": f"sha256={hmac_sha256(WEBHOOK_SECRET, raw)}"}
    with pytest.raises(WebhookInvalid):
        parse(webhook(raw, headers))
