"""The Taskboard plugin against a fake Taskboard: its hooks directly, and the whole attach
pipeline in-process (the kit's harness) under faults."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import replaydesk_taskboard as plugin
from replaydesk_taskboard.fake_server import FakeTaskboard, signed_webhook

from service import PermanentError, PluginSettings, RetryableError, TicketRef, WebhookRejected
from service import WebhookRequest as Request
from service.plugin_testing import Fault, PluginHarness, sample_report

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


# [docs:harness]
@pytest.fixture
def replaydesk(taskboard: FakeTaskboard) -> Iterator[PluginHarness]:
    values = {"URL": taskboard.url, "TOKEN": taskboard.token, "WEBHOOK_SECRET": SECRET}
    with PluginHarness(plugin, values) as harness:
        yield harness


# [/docs:harness]


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
    (post,) = taskboard.requests_to("POST")
    assert post.headers["idempotency-key"] == report.marker


# [/docs:test-attach]


# [docs:test-errors]
def test_5xx_429_and_a_lost_connection_are_retryable(
    taskboard: FakeTaskboard, settings: PluginSettings
) -> None:
    taskboard.fail_next(Fault(503), Fault(429, retry_after="7"), Fault.lost_reply())
    with pytest.raises(RetryableError) as unavailable:
        plugin.replaydesk_attach_report(TICKET, sample_report(), settings)
    assert unavailable.value.status == 503
    with pytest.raises(RetryableError) as limited:
        plugin.replaydesk_attach_report(TICKET, sample_report(), settings)
    assert (limited.value.status, limited.value.retry_after) == (429, 7.0)
    with pytest.raises(RetryableError):
        plugin.replaydesk_attach_report(TICKET, sample_report(), settings)
    assert len(taskboard.comments_on("T-7")) == 1  # the lost reply's write landed


# [/docs:test-errors]


def test_a_missing_ticket_and_a_bad_token_are_permanent(
    taskboard: FakeTaskboard, settings: PluginSettings
) -> None:
    taskboard.missing_tickets.add("T-404")
    missing = TicketRef(provider="taskboard", ticket_id="T-404")
    with pytest.raises(PermanentError, match="404"):
        plugin.replaydesk_attach_report(missing, sample_report(), settings)
    wrong = PluginSettings(plugin="taskboard", values={**settings.values, "TOKEN": "wrong"})
    with pytest.raises(PermanentError, match="401"):
        plugin.replaydesk_attach_report(TICKET, sample_report(), wrong)


def _request(body: bytes, headers: dict[str, str]) -> Request:
    lowered = {name.lower(): value for name, value in headers.items()}
    return Request(provider="taskboard", headers=lowered, body=body, received_at=datetime.now(UTC))


def test_a_signed_webhook_names_ticket_user_and_time_and_a_forged_one_is_rejected(
    settings: PluginSettings,
) -> None:
    payload = {
        "event": "ticket.created",
        "ticket": {"id": 7, "created_at": "2026-09-21T09:31:00Z", "reporter_id": "u42"},
    }
    event = plugin.replaydesk_parse_webhook(_request(*signed_webhook(SECRET, payload)), settings)
    assert (event.ticket.ticket_id, event.user_id, event.attach) == ("7", "u42", True)
    assert event.created_at == datetime(2026, 9, 21, 9, 31, tzinfo=UTC)
    for forged in (
        signed_webhook("another-secret", payload),
        signed_webhook(SECRET, payload, timestamp=time.time() - 3600),
    ):
        with pytest.raises(WebhookRejected):
            plugin.replaydesk_parse_webhook(_request(*forged), settings)


# [docs:test-exactly-once]
def test_one_comment_under_a_429_a_lost_reply_and_a_duplicate_webhook(
    taskboard: FakeTaskboard, replaydesk: PluginHarness
) -> None:
    session = replaydesk.record_session(user_id="u42")
    taskboard.fail_next(Fault(429, retry_after="30"), Fault.lost_reply(), method="POST")
    hook = {"event": "ticket.created", "ticket": {"id": 7, "reporter_id": "u42"}}
    body, headers = signed_webhook(SECRET, hook)
    first = replaydesk.webhook(body, headers)
    again = replaydesk.webhook(body, headers)  # Taskboard delivered it twice
    assert first.status_code == again.status_code == 202
    assert first.json()["session_id"] == session and first.json() == again.json()

    (job,) = replaydesk.run_jobs()
    assert (job.status, job.attempts, job.waits[0]) == ("finished", 3, 30)
    (comment,) = taskboard.comments_on("7")
    assert job.result["remote"]["remote_id"] == comment["id"]
    assert f"/replay/{session}" in comment["body"]


# [/docs:test-exactly-once]


def test_the_attach_api_writes_once(taskboard: FakeTaskboard, replaydesk: PluginHarness) -> None:
    session = replaydesk.record_session(user_id="u42")
    accepted = replaydesk.attach("T-7", user_id="u42")
    assert accepted.status_code == 202 and accepted.json()["session_id"] == session
    assert [job.status for job in replaydesk.run_jobs()] == ["finished"]
    assert replaydesk.attach("T-7", user_id="u42").json()["state"] == "finished"
    assert replaydesk.run_jobs() == [] and len(taskboard.comments_on("T-7")) == 1
