"""Webhooks that need a job to find the user, "no recording" notes, and issues opened from a
session: through the app, a real Redis queue and a worker, each written once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from service import (
    AttachResult,
    CreatedIssue,
    IssueRequest,
    MissingRecording,
    PluginSettings,
    ReplayReport,
    ReplayWindow,
    TicketEvent,
    TicketProvider,
    TicketRef,
    WebhookInvalid,
    WebhookRequest,
    hookimpl,
    render_text,
)
from service.clock import now_ms
from service.jobs.runtime import configure_job_runtime
from service.plugin_host.host import PluginHost
from service.plugin_host.manager import build_plugin_manager
from service.sessions.windows import SessionWindow
from service.settings import Settings
from service.storage.database import create_engine
from service.storage.ticket_store import TicketStore
from service.viewer.tokens import ViewerTokens
from service.web.app import create_app
from tests.conftest import AUTH, INGEST, make_settings
from tests.job_runner import job_state, settle
from tests.recordings import (
    BASE_TS,
    batch,
    checkout_events,
    click,
    console_error,
    full_snapshot,
    meta,
    record_session,
)

# One minute into the recorded session (BASE_TS is 2026-09-21T14:13:20Z).
OPENED = "2026-09-21T14:14:20Z"


class Desk:
    """A helpdesk plugin that knows its requesters by its own ids, and writes into memory."""

    def __init__(self) -> None:
        self.directory = {"req-7": "u42", "req-8": None}
        self.lookups: list[str] = []
        self.reports: list[tuple[str, ReplayReport]] = []
        self.notes: list[tuple[str, MissingRecording]] = []
        self.issues: list[tuple[IssueRequest, ReplayReport]] = []

    @hookimpl
    def replaydesk_ticket_provider(self, settings: PluginSettings) -> TicketProvider:
        return TicketProvider(name="desk", no_recording_note=settings.get("NOTE", "off") == "on")

    @hookimpl
    def replaydesk_parse_webhook(self, request: WebhookRequest) -> TicketEvent:
        try:
            body = msgspec.json.decode(request.body)
        except msgspec.DecodeError as exc:
            raise WebhookInvalid("not JSON") from exc
        return TicketEvent(
            ticket=TicketRef(provider="desk", ticket_id=str(body["ticket"])),
            user_id=body.get("user_id"),
            requester=body.get("requester"),
            created_at=datetime.fromisoformat(OPENED),
            delivery_id=request.headers.get("x-delivery"),
        )

    @hookimpl
    def replaydesk_resolve_user(self, requester: str) -> str | None:
        self.lookups.append(requester)
        return self.directory.get(requester)

    @hookimpl
    def replaydesk_attach_report(self, ticket: TicketRef, report: ReplayReport) -> AttachResult:
        self.reports.append((ticket.ticket_id, report))
        return AttachResult(remote_id=f"note-{len(self.reports)}")

    @hookimpl
    def replaydesk_attach_no_recording(
        self, ticket: TicketRef, notice: MissingRecording
    ) -> AttachResult:
        self.notes.append((ticket.ticket_id, notice))
        return AttachResult(remote_id=f"none-{len(self.notes)}", kind="internal_note")

    @hookimpl
    def replaydesk_create_issue(self, request: IssueRequest, report: ReplayReport) -> CreatedIssue:
        self.issues.append((request, report))
        key = f"BUG-{len(self.issues)}"
        return CreatedIssue(ticket_id=key, url=f"https://desk.test/{key}")


def desk_settings(settings: Settings, note: str) -> Settings:
    return make_settings(
        settings.data_dir,
        settings.database_url,
        settings.redis_url,
        plugin_environment={"DESK_NOTE": note},
    )


async def desk_app(settings: Settings, desk: Desk) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    manager = build_plugin_manager(settings, extra_plugins=[("desk", desk)])
    configure_job_runtime(settings, PluginHost(manager, settings.plugin_environment))
    async with AsyncTestClient(app=create_app(settings, manager)) as client:
        yield client


@pytest.fixture
def desk() -> Desk:
    return Desk()


@pytest.fixture
async def desk_client(settings: Settings, desk: Desk) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    async for client in desk_app(desk_settings(settings, "off"), desk):
        yield client


@pytest.fixture
async def noting_client(settings: Settings, desk: Desk) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    async for client in desk_app(desk_settings(settings, "on"), desk):
        yield client


SESSION = "sess-desk-0001"


async def test_a_requester_is_resolved_in_a_job_and_gets_one_report(
    desk_client: Any, desk: Desk, settings: Settings
) -> None:
    await record_session(desk_client, SESSION)
    hook = {"ticket": 501, "requester": "req-7"}
    first = await desk_client.post("/webhooks/desk", json=hook, headers={"x-delivery": "d-1"})
    assert first.status_code == 202, first.text
    resolve_id = first.json()["job_id"]
    assert resolve_id.startswith("resolve-") and desk.lookups == []  # not on the request path
    again = await desk_client.post("/webhooks/desk", json=hook, headers={"x-delivery": "d-1"})
    assert again.json()["job_id"] == resolve_id
    assert again.json()["detail"] == "this delivery was handled before"

    await settle(settings.redis_url)
    assert desk.lookups == ["req-7"]
    [(ticket_id, report)] = desk.reports
    assert ticket_id == "501" and report.user_id == "u42"
    assert report.session_id == "sess-desk-0001"
    # The whole console and network log travels with the report, scrubbed at ingest.
    assert report.log_file is not None
    log = report.log_file.content.decode()
    assert "POST https://shop.test/api/pay" in log and "500" in log
    assert "TypeError: payment failed" in log and "jane@example.com" not in log
    resolved = await job_state(desk_client, resolve_id)
    assert resolved["state"] == "finished"
    assert resolved["result"]["user_id"] == "u42"
    assert resolved["result"]["session_id"] == "sess-desk-0001"
    attached = await job_state(desk_client, resolved["result"]["job_id"])
    assert attached["state"] == "finished" and attached["result"]["remote"]["remote_id"] == "note-1"

    # A new delivery of the same ticket (another id) finds the report written.
    await desk_client.post("/webhooks/desk", json=hook, headers={"x-delivery": "d-2"})
    await settle(settings.redis_url)
    assert len(desk.reports) == 1

    await desk_client.post("/webhooks/desk", content=b"{not json")
    await desk_client.post("/webhooks/no-such-tracker", json=hook)
    metrics = (await desk_client.get("/metrics")).text
    for labels, count in [
        ('outcome="enqueued",provider="desk"', 2),
        ('outcome="duplicate",provider="desk"', 1),
        ('outcome="invalid",provider="desk"', 1),
        ('outcome="unknown_provider",provider="unknown"', 1),
    ]:
        assert f"replaydesk_webhooks_total{{{labels}}} {count}.0" in metrics, metrics


async def test_without_the_note_setting_a_ticket_without_a_recording_is_left_alone(
    desk_client: Any, desk: Desk, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="service.tickets.attachments")
    unknown = await desk_client.post("/webhooks/desk", json={"ticket": 502, "requester": "req-8"})
    await settle(settings.redis_url)
    resolved = await job_state(desk_client, unknown.json()["job_id"])
    assert resolved["result"]["user_id"] is None and resolved["result"]["job_id"] is None
    assert resolved["result"]["detail"] == "desk knows no user ID of the ticket's requester req-8"
    nothing = await desk_client.post("/webhooks/desk", json={"ticket": 503, "user_id": "u42"})
    assert nothing.json()["job_id"] is None
    assert "no session of user u42 was recorded" in nothing.json()["detail"]
    # The service log says which ticket got nothing, and never whose it is.
    assert "desk ticket 503: its user has no session" in caplog.text
    assert "u42" not in caplog.text
    await settle(settings.redis_url)
    assert desk.notes == [] and desk.reports == []


async def test_the_no_recording_note_is_written_once_when_the_admin_turned_it_on(
    noting_client: Any, desk: Desk, settings: Settings
) -> None:
    hook = {"ticket": 504, "user_id": "u77"}
    first = await noting_client.post("/webhooks/desk", json=hook)
    assert first.status_code == 202 and first.json()["job_id"].startswith("attach-")
    assert first.json()["detail"].endswith("a note says so")
    await noting_client.post("/webhooks/desk", json=hook)
    await settle(settings.redis_url)
    [(ticket_id, notice)] = desk.notes
    assert ticket_id == "504" and notice.user_id == "u77"
    assert "no session of user u77" in notice.reason
    assert notice.marker.startswith("replaydesk-report-")
    assert notice.ticket_created_at is not None and desk.reports == []
    # Erasing the user leaves no trace of them in the note's record.
    erased = await noting_client.delete("/api/v1/users/u77", headers=AUTH)
    assert erased.status_code == 200, erased.text
    engine = create_engine(settings.database_url)
    try:
        record = await TicketStore(engine).get(first.json()["job_id"])
    finally:
        await engine.dispose()
    assert record is not None and record.state == "written" and record.user_id is None

    # A ticket that names no user of the site is not about a customer: no note.
    nobody = await noting_client.post("/webhooks/desk", json={"ticket": 505, "requester": "req-8"})
    await settle(settings.redis_url)
    resolved = await job_state(noting_client, nobody.json()["job_id"])
    assert resolved["result"]["job_id"] is None and [t for t, _ in desk.notes] == ["504"]


async def test_an_issue_is_opened_from_a_session_once(
    desk_client: Any, desk: Desk, settings: Settings
) -> None:
    await record_session(desk_client, SESSION)
    url = "/api/v1/sessions/sess-desk-0001/issues"
    asked = await desk_client.post(
        url, json={"provider": "desk", "summary": "Checkout fails"}, headers=AUTH
    )
    assert asked.status_code == 202, asked.text
    assert asked.json()["state"] == "queued"
    await settle(settings.redis_url)
    [(request, report)] = desk.issues
    assert request.summary == "Checkout fails" and request.project is None
    assert request.marker.startswith("replaydesk-issue-")
    assert report.session_id == "sess-desk-0001" and report.steps
    done = await job_state(desk_client, asked.json()["job_id"])
    assert done["result"]["ticket_id"] == "BUG-1"
    assert done["result"]["url"] == "https://desk.test/BUG-1"

    again = await desk_client.post(url, json={"provider": "desk"}, headers=AUTH)
    assert again.status_code == 200
    assert again.json() == {
        "job_id": asked.json()["job_id"],
        "state": "finished",
        "ticket_id": "BUG-1",
        "url": "https://desk.test/BUG-1",
    }
    # The new issue's own "created" webhook finds the report already there.
    created = await desk_client.post("/webhooks/desk", json={"ticket": "BUG-1", "user_id": "u42"})
    await settle(settings.redis_url)
    assert (await job_state(desk_client, created.json()["job_id"]))["state"] == "finished"
    assert desk.reports == [] and len(desk.issues) == 1


async def test_issue_requests_that_cannot_be_met_say_why(desk_client: Any) -> None:
    await record_session(desk_client, SESSION)
    no_session = await desk_client.post(
        "/api/v1/sessions/nope/issues", json={"provider": "desk"}, headers=AUTH
    )
    assert no_session.status_code == 404 and "no session" in no_session.json()["detail"]
    # Without a body the defaults apply: the jira provider, not configured here.
    no_body = await desk_client.post("/api/v1/sessions/sess-desk-0001/issues", headers=AUTH)
    assert no_body.status_code == 404 and "jira" in no_body.json()["detail"]
    no_provider = await desk_client.post(
        "/api/v1/sessions/sess-desk-0001/issues", json={"provider": "linear"}, headers=AUTH
    )
    assert no_provider.status_code == 404
    unknown_field = await desk_client.post(
        "/api/v1/sessions/sess-desk-0001/issues", json={"provider": "desk", "x": 1}, headers=AUTH
    )
    assert unknown_field.status_code == 400
    unauthenticated = await desk_client.post(
        "/api/v1/sessions/sess-desk-0001/issues", json={"provider": "desk"}
    )
    assert unauthenticated.status_code == 401


async def test_with_redis_down_a_requester_webhook_is_refused_so_the_vendor_sends_it_again(
    settings: Settings, desk: Desk
) -> None:
    down = make_settings(
        settings.data_dir,
        settings.database_url,
        "redis://127.0.0.1:9/0",  # nothing listens on port 9
        plugin_environment={"DESK_NOTE": "off"},
    )
    async for client in desk_app(down, desk):
        await record_session(client, SESSION)
        hook = {"ticket": 506, "requester": "req-7"}
        refused = await client.post("/webhooks/desk", json=hook, headers={"x-delivery": "d-9"})
        assert refused.status_code == 503, refused.text
        assert "deliver the webhook again" in refused.json()["detail"]
        # A ticket that names its user is recorded in the outbox and answered as usual.
        kept = await client.post("/webhooks/desk", json={"ticket": 507, "user_id": "u42"})
        assert kept.status_code == 202 and kept.json()["job_id"].startswith("attach-")


async def test_a_report_says_how_many_other_users_hit_its_errors_lately(
    desk_client: Any, desk: Desk, settings: Settings
) -> None:
    recent = now_ms() - 3600_000
    for i, user in enumerate(["u1", "u2", "u2", "u42"]):
        body = batch(f"sess-other-{i:04d}", 0, checkout_events(recent + i * 60_000), user_id=user)
        sent = await desk_client.post(
            "/api/v1/ingest", content=msgspec.json.encode(body), headers=INGEST
        )
        assert sent.status_code == 202, sent.text
    # Only the 500 happened elsewhere: this user's own session has the same console error.
    lonely = [*checkout_events(recent + 3600_000)[:-1], console_error(recent, "only mine")]
    body = batch(SESSION, 0, lonely, user_id="u42")
    sent = await desk_client.post(
        "/api/v1/ingest", content=msgspec.json.encode(body), headers=INGEST
    )
    assert sent.status_code == 202, sent.text
    attach = {"provider": "desk", "ticket_id": "601", "session_id": SESSION}
    accepted = await desk_client.post("/api/v1/tickets/attach", json=attach, headers=AUTH)
    assert accepted.status_code == 202, accepted.text
    await settle(settings.redis_url)

    [(_, report)] = desk.reports
    [error] = report.console_errors
    assert error.seen_elsewhere is None  # nobody else said "only mine"
    [failed] = report.failed_requests
    seen = failed.seen_elsewhere
    assert seen is not None
    # u1 and u2, not u42 (this session's user), whose other session also hit it.
    assert (seen.other_users, seen.days, seen.first_release) == (2, 7, None)
    tokens = ViewerTokens(settings.secret_key, settings.public_url)
    token = seen.newest_session_url.split("#t=", 1)[1]
    assert tokens.verify(token, "sess-other-0002").ticket == "desk:601"
    text = render_text(report)
    assert "This failure hit 2 other users in the last 7 days (first seen " in text
    assert "This error hit" not in text


def long_session() -> list[dict[str, Any]]:
    """A 30-minute session: the page loads, an error at 12:00, a click at 30:00."""
    return [
        meta(BASE_TS, "https://shop.test/cart"),
        full_snapshot(BASE_TS + 5),
        click(BASE_TS + 60_000),
        console_error(BASE_TS + 12 * 60_000, "TypeError: payment failed"),
        click(BASE_TS + 30 * 60_000),
    ]


async def attach_at_twenty_minutes(client: Any, ticket_id: str) -> None:
    body = batch(SESSION, 0, long_session(), user_id="u42")
    sent = await client.post("/api/v1/ingest", content=msgspec.json.encode(body), headers=INGEST)
    assert sent.status_code == 202, sent.text
    attach = {
        "provider": "desk",
        "ticket_id": ticket_id,
        "session_id": SESSION,
        "ticket_created_at": "2026-09-21T14:33:20Z",  # 20:00 into the session
    }
    accepted = await client.post("/api/v1/tickets/attach", json=attach, headers=AUTH)
    assert accepted.status_code == 202, accepted.text


async def test_a_ticket_link_shows_the_minutes_before_the_ticket_and_the_whole_session_too(
    desk_client: Any, desk: Desk, settings: Settings
) -> None:
    assert settings.ticket_link_window_minutes == 10
    await attach_at_twenty_minutes(desk_client, "701")
    await settle(settings.redis_url)
    [(_, report)] = desk.reports
    assert report.replay_window == ReplayWindow(
        from_ms=10 * 60_000, to_ms=20 * 60_000, before_ticket_minutes=10
    )
    tokens = ViewerTokens(settings.secret_key, settings.public_url)
    windowed = tokens.verify(report.replay_url.split("#t=", 1)[1], SESSION)
    assert windowed.window == SessionWindow(BASE_TS + 10 * 60_000, BASE_TS + 20 * 60_000)
    assert windowed.ticket == "desk:701"
    assert report.whole_session_url is not None and report.first_error_url is not None
    for whole in (report.whole_session_url, report.first_error_url):
        claims = tokens.verify(whole.split("#t=", 1)[1], SESSION)
        assert claims.window is None and claims.ticket == "desk:701"
    text = render_text(report)
    assert "Watch the replay before the ticket (10:00\N{EN DASH}20:00): " in text
    assert f"The whole session: {report.whole_session_url}" in text
    # What the windowed link opens: the error at 12:00 and nothing of the click at 30:00.
    headers = {"Authorization": f"Bearer {report.replay_url.split('#t=', 1)[1]}"}
    summary = (await desk_client.get(f"/api/v1/sessions/{SESSION}", headers=headers)).json()
    assert summary["window"]["from_ms"] == 10 * 60_000 and summary["counts"]["clicks"] == 0
    assert summary["first_error_offset_ms"] == 12 * 60_000


async def test_with_the_window_set_to_zero_a_ticket_link_shows_the_whole_session(
    settings: Settings, desk: Desk
) -> None:
    whole = make_settings(
        settings.data_dir,
        settings.database_url,
        settings.redis_url,
        ticket_link_window_minutes=0,
    )
    async for client in desk_app(whole, desk):
        await attach_at_twenty_minutes(client, "702")
        await settle(settings.redis_url)
    [(_, report)] = desk.reports
    assert report.replay_window is None and report.whole_session_url is None
    tokens = ViewerTokens(settings.secret_key, settings.public_url)
    assert tokens.verify(report.replay_url.split("#t=", 1)[1], SESSION).window is None
    assert "before the ticket" not in render_text(report)
