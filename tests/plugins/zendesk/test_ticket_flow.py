"""From a Zendesk webhook to one internal note: the app, a real Redis queue and worker, and
Zendesk at the httpx edge."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from service.clock import now_ms
from service.settings import Settings
from service.storage.database import create_engine
from service.storage.ticket_store import TicketStore
from service.tickets.attachments import attachment_marker
from tests.job_runner import job_state, settle
from tests.plugins.zendesk.contract import example
from tests.plugins.zendesk.fake_zendesk import FakeZendesk, signed_headers
from tests.recordings import record_session

TICKET_ID = "35436"
# The README's trigger body as Zendesk renders it, one minute into the recorded session
# (BASE_TS is 2026-09-21T14:13:20Z; `created_at_with_timestamp` has minutes only).
TRIGGER = {
    "ticket_id": TICKET_ID,
    "created_at": "2026-09-21T14:14Z",
    "requester_id": "20978392",
    "requester_external_id": "u42",
    "requester_email": "jane@example.com",
}


async def deliver(client: Any, payload: dict[str, Any], **signing: str) -> Any:
    body = json.dumps(payload).encode()
    return await client.post(
        "/webhooks/zendesk", content=body, headers=signed_headers(body, **signing)
    )


async def test_a_ticket_created_trigger_writes_one_private_note_with_the_log(
    zendesk_client: Any, zendesk: FakeZendesk, zendesk_settings: Settings
) -> None:
    await record_session(zendesk_client, "sess-zd-0001")
    accepted = await deliver(zendesk_client, TRIGGER)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["session_id"] == "sess-zd-0001"
    assert zendesk.requests == []  # nothing reaches Zendesk on the request path

    await settle(zendesk_settings.redis_url)
    (note,) = zendesk.notes[TICKET_ID]
    assert note["public"] is False
    assert "/replay/sess-zd-0001?at=first-error#t=" in note["html_body"]
    assert "POST https://shop.test/api/pay" in note["body"]
    (upload,) = zendesk.calls("POST")
    assert upload.url.params["filename"].endswith("-log.txt")
    assert note["uploads"] == [example("upload-file.201.response.json")["upload"]["token"]]
    finished = await job_state(zendesk_client, accepted.json()["job_id"])
    assert finished["state"] == "finished", finished
    assert finished["result"]["remote"] == {
        "remote_id": str(note["id"]),
        "kind": "internal_note",
        "url": f"https://acme.zendesk.com/agent/tickets/{TICKET_ID}",
    }


async def test_a_rate_limited_note_waits_retry_after_and_is_written_once(
    zendesk_client: Any, zendesk: FakeZendesk, zendesk_settings: Settings
) -> None:
    await record_session(zendesk_client, "sess-zd-0002")
    zendesk.put_faults.append(
        httpx.Response(429, headers={"Retry-After": "1"}, text="Too Many Requests")
    )
    accepted = await deliver(zendesk_client, TRIGGER)
    assert accepted.status_code == 202, accepted.text

    await settle(zendesk_settings.redis_url)
    assert len(zendesk.notes[TICKET_ID]) == 1
    assert len(zendesk.calls("PUT")) == 2
    # A 429 wrote nothing: the retry wrote at once, without listing the ticket's comments.
    assert zendesk.calls("GET", f"/api/v2/tickets/{TICKET_ID}/comments") == []
    finished = await job_state(zendesk_client, accepted.json()["job_id"])
    assert finished["state"] == "finished", finished


async def test_a_note_whose_answer_got_lost_is_found_by_the_retry_not_written_again(
    zendesk_client: Any, zendesk: FakeZendesk, zendesk_settings: Settings
) -> None:
    await record_session(zendesk_client, "sess-zd-0007")
    zendesk.lost_put_replies = 1  # Zendesk writes the note; the answer never arrives
    accepted = await deliver(zendesk_client, TRIGGER)
    assert accepted.status_code == 202, accepted.text

    await settle(zendesk_settings.redis_url)
    assert len(zendesk.notes[TICKET_ID]) == 1 and len(zendesk.calls("PUT")) == 1
    assert zendesk.calls("GET", f"/api/v2/tickets/{TICKET_ID}/comments")
    finished = await job_state(zendesk_client, accepted.json()["job_id"])
    assert finished["state"] == "finished", finished


async def test_a_failed_upload_before_the_note_needs_no_lookup(
    zendesk_client: Any, zendesk: FakeZendesk, zendesk_settings: Settings
) -> None:
    await record_session(zendesk_client, "sess-zd-0008")
    # A 500 may come after the work, but the upload only precedes the note: no note can exist.
    zendesk.upload_faults.append(httpx.Response(500, text="Internal Server Error"))
    accepted = await deliver(zendesk_client, TRIGGER)
    assert accepted.status_code == 202, accepted.text

    await settle(zendesk_settings.redis_url)
    assert len(zendesk.notes[TICKET_ID]) == 1 and len(zendesk.calls("POST")) == 2
    assert zendesk.calls("GET", f"/api/v2/tickets/{TICKET_ID}/comments") == []


async def test_a_worker_that_died_mid_write_has_the_retry_look_first(
    zendesk_client: Any, zendesk: FakeZendesk, zendesk_settings: Settings
) -> None:
    await record_session(zendesk_client, "sess-zd-0009")
    accepted = await deliver(zendesk_client, TRIGGER)
    job_id = accepted.json()["job_id"]
    # What a worker leaves when it dies after starting the write: the attempt, and no outcome.
    engine = create_engine(zendesk_settings.database_url)
    try:
        store = TicketStore(engine)
        assert await store.claim(job_id, now_ms(), 1) is not None
        await store.start_attempt(job_id, now_ms())
        # The note landed before the worker died.
        record = await store.get(job_id)
        assert record is not None and record.write_uncertain
    finally:
        await engine.dispose()
    zendesk.notes[TICKET_ID] = [
        {"id": 1, "html_body": f"<p>earlier {attachment_marker(job_id)}</p>", "body": ""}
    ]

    await asyncio.sleep(0.01)  # past the dead worker's lease
    await settle(zendesk_settings.redis_url)
    assert zendesk.calls("GET", f"/api/v2/tickets/{TICKET_ID}/comments")
    assert zendesk.calls("PUT") == [] and len(zendesk.notes[TICKET_ID]) == 1
    finished = await job_state(zendesk_client, job_id)
    assert finished["state"] == "finished", finished
    assert finished["result"]["remote"]["remote_id"] == "1"


async def test_a_webhook_delivered_twice_writes_one_note(
    zendesk_client: Any, zendesk: FakeZendesk, zendesk_settings: Settings
) -> None:
    await record_session(zendesk_client, "sess-zd-0003")
    first = await deliver(zendesk_client, TRIGGER)
    again = await deliver(zendesk_client, TRIGGER)  # Zendesk retries the same invocation
    assert first.status_code == again.status_code == 202
    assert again.json()["job_id"] == first.json()["job_id"]
    await settle(zendesk_settings.redis_url)
    # The trigger fires once more (another invocation): the ticket has its report already.
    later = await deliver(zendesk_client, TRIGGER, invocation_id="8350205999")
    assert later.status_code == 202
    await settle(zendesk_settings.redis_url)

    assert len(zendesk.notes[TICKET_ID]) == 1 and len(zendesk.calls("PUT")) == 1


async def test_each_ticket_of_one_webhook_gets_its_own_note(
    zendesk_client: Any, zendesk: FakeZendesk, zendesk_settings: Settings
) -> None:
    # Every delivery of a webhook carries the same X-Zendesk-Webhook-Id: it names no delivery.
    await record_session(zendesk_client, "sess-zd-0006")
    first = await deliver(zendesk_client, TRIGGER, invocation_id="1001")
    second = await deliver(zendesk_client, {**TRIGGER, "ticket_id": "35437"}, invocation_id="1002")
    assert first.json()["job_id"] != second.json()["job_id"]
    await settle(zendesk_settings.redis_url)
    assert len(zendesk.notes[TICKET_ID]) == len(zendesk.notes["35437"]) == 1


async def test_a_badly_signed_webhook_is_refused_and_zendesk_is_never_called(
    zendesk_client: Any, zendesk: FakeZendesk, zendesk_settings: Settings
) -> None:
    await record_session(zendesk_client, "sess-zd-0004")
    forged = await deliver(zendesk_client, TRIGGER, secret="guessed-secret")
    assert forged.status_code == 401
    assert forged.headers["content-type"].startswith("application/problem+json")
    unsigned = await zendesk_client.post("/webhooks/zendesk", json=TRIGGER)
    assert unsigned.status_code == 401
    stale = await deliver(zendesk_client, TRIGGER, timestamp="2026-09-21T14:14:00Z")
    assert stale.status_code == 401
    garbage = await deliver(zendesk_client, {"ticket_id": "not-an-id"})
    assert garbage.status_code == 400

    await settle(zendesk_settings.redis_url)
    assert zendesk.requests == []


async def test_a_ticket_created_event_finds_the_customer_through_zendesk_users(
    zendesk_client: Any, zendesk: FakeZendesk, zendesk_settings: Settings
) -> None:
    await record_session(zendesk_client, "sess-zd-0005")
    zendesk.users["20978392"] = {"external_id": "u42", "email": "jane@example.com"}
    envelope = example("webhook-ticket-created.composed.body.json")
    envelope["detail"]["created_at"] = "2026-09-21T14:14:20Z"
    accepted = await deliver(zendesk_client, envelope)
    assert accepted.status_code == 202, accepted.text

    await settle(zendesk_settings.redis_url)
    (lookup,) = zendesk.calls("GET", "/api/v2/users/")
    assert lookup.url.path == "/api/v2/users/20978392"
    (note,) = zendesk.notes[TICKET_ID]
    assert "/replay/sess-zd-0005" in note["html_body"]
