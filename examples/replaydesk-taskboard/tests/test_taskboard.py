"""The Taskboard plugin against a fake Taskboard on loopback: comments, retries, webhooks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import replaydesk_taskboard as plugin
from replaydesk_taskboard.fake_server import FakeTaskboard, signed_webhook

from service import (
    PermanentError,
    PluginSettings,
    RetryableError,
    TicketRef,
    WebhookInvalid,
    WebhookRejected,
    WebhookRequest,
)
from service.plugin_testing import Fault, sample_report

SECRET = "whsec-test"
TICKET = TicketRef(provider="taskboard", ticket_id="T-7")


@pytest.fixture
def taskboard() -> Iterator[FakeTaskboard]:
    with FakeTaskboard() as fake:
        yield fake


@pytest.fixture
def settings(taskboard: FakeTaskboard) -> PluginSettings:
    # [docs:test-settings]
    return PluginSettings(
        plugin="taskboard",
        values={"URL": taskboard.url, "TOKEN": taskboard.token, "WEBHOOK_SECRET": SECRET},
        specs=tuple(plugin.replaydesk_plugin_settings()),
    )
    # [/docs:test-settings]


def test_declares_its_settings_and_provider() -> None:
    settings = PluginSettings(plugin="taskboard", specs=tuple(plugin.replaydesk_plugin_settings()))
    assert settings.missing() == ["REPLAYDESK_TASKBOARD_URL", "REPLAYDESK_TASKBOARD_TOKEN"]
    assert plugin.replaydesk_ticket_provider().name == "taskboard"


# [docs:test-attach]
def test_attach_writes_one_comment_that_a_retry_can_find(
    taskboard: FakeTaskboard, settings: PluginSettings
) -> None:
    report = sample_report(marker="replaydesk-report-abc123")
    created = plugin.replaydesk_attach_report(TICKET, report, settings)

    (comment,) = taskboard.comments_on("T-7")
    assert comment["id"] == created.remote_id
    assert report.replay_url in comment["body"]
    assert "Clicked 'Place order' ×3" in comment["body"]
    assert plugin.replaydesk_find_attachment(TICKET, report.marker, settings) == created
    assert plugin.replaydesk_find_attachment(TICKET, "replaydesk-report-other", settings) is None


# [/docs:test-attach]


def test_the_marker_is_also_the_idempotency_key(
    taskboard: FakeTaskboard, settings: PluginSettings
) -> None:
    plugin.replaydesk_attach_report(TICKET, sample_report(marker="m-1"), settings)
    assert [r.headers["idempotency-key"] for r in taskboard.requests] == ["m-1"]


def test_5xx_and_429_are_retryable_with_retry_after(
    taskboard: FakeTaskboard, settings: PluginSettings
) -> None:
    taskboard.fail_next(Fault(503), Fault(429, retry_after="7"))
    with pytest.raises(RetryableError) as unavailable:
        plugin.replaydesk_attach_report(TICKET, sample_report(), settings)
    assert unavailable.value.status == 503
    with pytest.raises(RetryableError) as limited:
        plugin.replaydesk_attach_report(TICKET, sample_report(), settings)
    assert (limited.value.status, limited.value.retry_after) == (429, 7.0)
    assert taskboard.comments_on("T-7") == []


def test_a_missing_ticket_and_a_bad_token_are_permanent(
    taskboard: FakeTaskboard, settings: PluginSettings
) -> None:
    taskboard.missing_tickets.add("T-404")
    with pytest.raises(PermanentError) as missing:
        plugin.replaydesk_attach_report(
            TicketRef(provider="taskboard", ticket_id="T-404"), sample_report(), settings
        )
    assert missing.value.status == 404
    wrong = PluginSettings(plugin="taskboard", values={**settings.values, "TOKEN": "wrong"})
    with pytest.raises(PermanentError) as refused:
        plugin.replaydesk_attach_report(TICKET, sample_report(), wrong)
    assert refused.value.status == 401


def test_an_unreachable_taskboard_is_retryable(settings: PluginSettings) -> None:
    with FakeTaskboard() as gone:
        url = gone.url
    closed = PluginSettings(plugin="taskboard", values={**settings.values, "URL": url})
    with pytest.raises(RetryableError):
        plugin.replaydesk_attach_report(TICKET, sample_report(), closed)


def _webhook(body: bytes, headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest(
        provider="taskboard",
        headers={name.lower(): value for name, value in headers.items()},
        body=body,
        received_at=datetime.now(tz=UTC),
    )


def test_a_signed_ticket_created_webhook_names_ticket_user_and_time(
    settings: PluginSettings,
) -> None:
    payload = {
        "event": "ticket.created",
        "ticket": {"id": 7, "created_at": "2026-09-21T09:31:00Z", "reporter_id": "u42"},
    }
    event = plugin.replaydesk_parse_webhook(_webhook(*signed_webhook(SECRET, payload)), settings)
    assert event.ticket == TicketRef(provider="taskboard", ticket_id="7")
    assert event.user_id == "u42" and event.attach
    assert event.created_at == datetime(2026, 9, 21, 9, 31, tzinfo=UTC)
    updated = {**payload, "event": "ticket.updated"}
    assert not plugin.replaydesk_parse_webhook(
        _webhook(*signed_webhook(SECRET, updated)), settings
    ).attach


def test_webhooks_with_a_wrong_signature_or_an_old_timestamp_are_rejected(
    settings: PluginSettings,
) -> None:
    payload = {"event": "ticket.created", "ticket": {"id": 7}}
    body, headers = signed_webhook("another-secret", payload)
    with pytest.raises(WebhookRejected):
        plugin.replaydesk_parse_webhook(_webhook(body, headers), settings)
    body, headers = signed_webhook(SECRET, payload, timestamp=time.time() - 3600)
    with pytest.raises(WebhookRejected):
        plugin.replaydesk_parse_webhook(_webhook(body, headers), settings)
    body, headers = signed_webhook(SECRET, payload)
    with pytest.raises(WebhookRejected):
        plugin.replaydesk_parse_webhook(_webhook(body + b" ", headers), settings)


def test_a_signed_body_that_is_not_a_taskboard_webhook_is_invalid(
    settings: PluginSettings,
) -> None:
    body, headers = signed_webhook(SECRET, {"hello": "world"})
    with pytest.raises(WebhookInvalid):
        plugin.replaydesk_parse_webhook(_webhook(body, headers), settings)
