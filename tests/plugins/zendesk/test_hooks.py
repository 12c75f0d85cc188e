"""The Zendesk plugin's hooks against a stand-in Zendesk: notes, retries' lookups, requesters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
import pytest

from plugins import zendesk as plugin
from service import (
    AttachResult,
    MissingRecording,
    PermanentError,
    ReportFile,
    RetryableError,
    TicketRef,
)
from service.plugin_testing import sample_report
from tests.conftest import AUTH
from tests.plugins.zendesk.fake_zendesk import ZENDESK_URL, FakeZendesk, plugin_settings

TICKET = TicketRef(provider="zendesk", ticket_id="35436")
LOG = ReportFile(filename="session-log.txt", content_type="text/plain", content=b"0:04 error\n")


def test_the_report_becomes_one_internal_note_that_a_retry_finds(zendesk: FakeZendesk) -> None:
    report = sample_report(marker="replaydesk-report-abc123")
    created = plugin.replaydesk_attach_report(TICKET, report, plugin_settings())

    (note,) = zendesk.notes["35436"]
    assert created == AttachResult(
        remote_id=str(note["id"]),
        kind="internal_note",
        url=f"{ZENDESK_URL}/agent/tickets/35436",
    )
    assert note["public"] is False
    assert report.replay_url in note["html_body"] and report.marker in note["body"]
    found = plugin.replaydesk_find_attachment(TICKET, report.marker, plugin_settings())
    assert found == created
    assert (
        plugin.replaydesk_find_attachment(TICKET, "replaydesk-report-other", plugin_settings())
        is None
    )


def test_a_refused_note_deletes_its_upload_and_a_failed_one_keeps_it(zendesk: FakeZendesk) -> None:
    report = msgspec.structs.replace(sample_report(), log_file=LOG)
    zendesk.put_faults.append(httpx.Response(422, json={"error": "RecordInvalid"}))
    with pytest.raises(PermanentError):
        plugin.replaydesk_attach_report(TICKET, report, plugin_settings())
    assert [r.url.path for r in zendesk.calls("DELETE")] == [
        "/api/v2/uploads/LXJdriewLBP8JrtzzkN7Ne4k6"
    ]
    assert zendesk.uploads == {}

    # After a 502 the note may have landed with the file: the upload stays.
    zendesk.put_faults.append(httpx.Response(502, text="Bad Gateway"))
    with pytest.raises(RetryableError):
        plugin.replaydesk_attach_report(TICKET, report, plugin_settings())
    assert len(zendesk.calls("DELETE")) == 1 and len(zendesk.uploads) == 1


def test_the_no_recording_note_is_a_short_internal_note(zendesk: FakeZendesk) -> None:
    notice = MissingRecording(
        user_id="u42",
        reason="no session of user 'u42' was recorded before the ticket was opened",
        ticket_created_at=datetime(2026, 9, 21, 14, 14, tzinfo=UTC),
        marker="replaydesk-report-none1",
    )
    created = plugin.replaydesk_attach_no_recording(TICKET, notice, plugin_settings())

    (note,) = zendesk.notes["35436"]
    assert created.remote_id == str(note["id"]) and created.kind == "internal_note"
    assert note["public"] is False and note["uploads"] == []
    assert "No ReplayDesk recording found for this customer" in note["body"]
    found = plugin.replaydesk_find_attachment(TICKET, notice.marker, plugin_settings())
    assert found == created


@pytest.mark.parametrize(
    ("user", "lookup", "expected"),
    [
        ({"external_id": "u42", "email": "jane@example.com"}, None, "u42"),
        ({"external_id": None, "email": "jane@example.com"}, None, "jane@example.com"),
        ({"external_id": "u42", "email": "jane@example.com"}, "email", "jane@example.com"),
        ({"external_id": None, "email": "jane@example.com"}, "external_id", None),
        ({}, None, None),  # Zendesk's end-user view of a user has neither field
    ],
)
def test_a_requester_is_resolved_through_the_users_api(
    zendesk: FakeZendesk, user: dict[str, str | None], lookup: str | None, expected: str | None
) -> None:
    zendesk.users["20978392"] = user
    settings = plugin_settings(**({"USER_LOOKUP": lookup} if lookup else {}))
    assert plugin.replaydesk_resolve_user("20978392", settings) == expected
    (request,) = zendesk.calls("GET")
    assert request.url.path == "/api/v2/users/20978392"


def test_an_unknown_requester_is_a_permanent_error(zendesk: FakeZendesk) -> None:
    with pytest.raises(PermanentError) as missing:
        plugin.replaydesk_resolve_user("404404", plugin_settings())
    assert missing.value.status == 404


@pytest.mark.parametrize("ticket_id", ["35436", "1", "999999999999999999"])
def test_a_numeric_ticket_id_is_a_zendesk_one(ticket_id: str) -> None:
    assert (
        plugin.replaydesk_check_ticket_id(TicketRef(provider="zendesk", ticket_id=ticket_id))
        is None
    )


@pytest.mark.parametrize("ticket_id", ["abc", "0", "12a", "-5", "12/34", "35436\n", "1" * 25])
def test_anything_else_is_refused_with_a_reason(ticket_id: str) -> None:
    reason = plugin.replaydesk_check_ticket_id(TicketRef(provider="zendesk", ticket_id=ticket_id))
    assert reason is not None and "whole numbers" in reason


async def test_an_attach_request_for_a_ticket_zendesk_cannot_have_is_a_400(
    zendesk_client: Any,
) -> None:
    answer = await zendesk_client.post(
        "/api/v1/tickets/attach",
        json={"provider": "zendesk", "ticket_id": "abc", "user_id": "u42"},
        headers=AUTH,
    )
    assert answer.status_code == 400, answer.text
    assert "whole numbers" in answer.json()["detail"]
