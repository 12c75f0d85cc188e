"""What a browser can send that once broke the service: each answer is a clear 4xx or a stored
session whose derived times make sense, never a 500 (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from service.storage.chunk_layout import chunk_blob_key
from tests.conftest import AUTH, INGEST, move_chunks
from tests.recordings import batch, console_error, meta

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


async def post(
    client: AsyncTestClient[Any], body: Any, sent_at: int | None = None, **headers: str
) -> Any:
    content = body if isinstance(body, bytes) else msgspec.json.encode(body)
    url = "/api/v1/ingest" if sent_at is None else f"/api/v1/ingest?sent_at={sent_at}"
    return await client.post(url, content=content, headers={**INGEST, **headers})


def refused(response: Any, fragment: str) -> None:
    assert response.status_code == 400, response.text
    assert fragment in response.json()["detail"], response.json()


def now_ms() -> int:
    return int(time.time() * 1000)


def at_ms(value: str) -> int:
    return int(datetime.fromisoformat(value).timestamp() * 1000)


async def summary(client: AsyncTestClient[Any], session_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/sessions/{session_id}", headers=AUTH)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


@pytest.mark.parametrize(
    "session_id", ["poisonpill\n", "poison\npill", "poisonpill\r", "sess/../etc1", "sess ion 01"]
)
async def test_a_session_id_is_matched_whole(client: Any, session_id: str) -> None:
    body = batch(session_id, 0, [meta(now_ms(), "https://shop.test/")], user_id="u-id")
    refused(await post(client, body), "session_id")


def test_the_blob_key_builder_refuses_what_ingest_refuses() -> None:
    with pytest.raises(ValueError, match="session ID"):
        chunk_blob_key("poisonpill\n", 0, b"[]")
    assert chunk_blob_key("sess-fine-01", 3, b"[]").startswith("sessions/sess-fine-01/")


@pytest.mark.parametrize("user_id", ["a/b", ".", "..", "tab\there", "nul\x00", "\x85next"])
async def test_a_user_id_that_cannot_be_looked_up_or_erased_is_refused(
    client: Any, user_id: str
) -> None:
    body = batch("sess-bad-user-01", 0, [meta(now_ms(), "https://shop.test/")], user_id=user_id)
    refused(await post(client, body), "user_id")


async def test_an_identify_event_with_an_unusable_user_id_counts_for_nothing(client: Any) -> None:
    ts = now_ms()
    identify = {
        "type": 5,
        "timestamp": ts + 1,
        "data": {"tag": "replaydesk/identify", "payload": {"userId": "x/y"}},
    }
    body = batch("sess-identify-01", 0, [meta(ts, "https://shop.test/"), identify], user_id="u-ok")
    assert (await post(client, body)).status_code == 202
    assert (await summary(client, "sess-identify-01"))["user_id"] == "u-ok"


async def test_a_far_future_timestamp_is_put_on_the_service_clock(client: Any) -> None:
    body = batch(
        "sess-future-01",
        0,
        [meta(99_999_999_999_999_999, "https://shop.test/")],
        user_id="u-future",
    )
    before = now_ms()
    assert (await post(client, body)).status_code == 202
    found = await summary(client, "sess-future-01")
    assert before - 1000 <= at_ms(found["started_at"]) <= now_ms() + 1000
    for path in (
        "/api/v1/sessions",
        "/api/v1/sessions/sess-future-01/report",
        "/api/v1/users/u-future/sessions/latest",
    ):
        assert (await client.get(path, headers=AUTH)).status_code == 200, path


async def test_a_timestamp_past_the_senders_own_clock_is_refused(client: Any) -> None:
    now = now_ms()
    body = batch(
        "sess-future-02",
        0,
        [meta(now, "https://shop.test/"), meta(now + 2 * DAY_MS, "https://shop.test/b")],
    )
    refused(await post(client, body, sent_at=now), "events[1]")


async def test_a_timestamp_before_2000_is_refused(client: Any) -> None:
    now = now_ms()
    body = batch("sess-past-01", 0, [meta(now, "https://shop.test/"), meta(5_000, "https://x/")])
    refused(await post(client, body), "events[1]: timestamp 5000 is before 2000")


async def test_a_sent_at_that_is_no_clock_reading_is_refused(client: Any) -> None:
    body = batch("sess-sent-at-01", 0, [meta(now_ms(), "https://shop.test/")])
    for bad in ("-5", "12", "soon", str(2**60), "¹", "١٧٩٠٠٠٠٠٠٠٠٠٠"):
        response = await client.post(
            f"/api/v1/ingest?sent_at={bad}", content=msgspec.json.encode(body), headers=INGEST
        )
        refused(response, "sent_at")


async def test_a_browser_two_hours_fast_gets_the_services_times(client: Any) -> None:
    fast = now_ms() + 2 * HOUR_MS
    events = [meta(fast, "https://shop.test/cart"), console_error(fast + 500, "TypeError: boom")]
    body = batch("sess-fast-clock-01", 0, events, user_id="u-fast")
    assert (await post(client, body, sent_at=fast + 600)).status_code == 202
    found = await summary(client, "sess-fast-clock-01")
    started = at_ms(found["started_at"])
    assert abs(started - now_ms()) < 60_000, found
    # The replay keeps the recorded times; offsets within the session are as recorded.
    assert found["first_error_offset_ms"] == 500
    since = now_ms() - 60_000
    listed = await client.get(
        f"/api/v1/sessions?user_id=u-fast&until={now_ms() + 60_000}&since={since}", headers=AUTH
    )
    assert [s["session_id"] for s in listed.json()["sessions"]] == ["sess-fast-clock-01"]


async def test_a_session_stamped_a_month_ahead_does_not_stay_latest(client: Any) -> None:
    ahead = now_ms() + 30 * DAY_MS
    early = batch("sess-ahead-0001", 0, [meta(ahead, "https://shop.test/a")], user_id="u-ahead")
    assert (await post(client, early)).status_code == 202
    await asyncio.sleep(0.01)
    later = batch("sess-later-0001", 0, [meta(now_ms(), "https://shop.test/b")], user_id="u-ahead")
    assert (await post(client, later)).status_code == 202
    latest = await client.get("/api/v1/users/u-ahead/sessions/latest", headers=AUTH)
    assert latest.json()["session_id"] == "sess-later-0001"


def deep_snapshot(ts: int, depth: int) -> bytes:
    """A full snapshot of a DOM `depth` elements deep, as JSON text (too deep to encode)."""
    node = (
        '{"type":2,"tagName":"div","attributes":{},"id":1,"childNodes":[' * depth
        + '{"type":3,"textContent":"x","id":2}'
        + "]}" * depth
    )
    return (
        f'{{"type":2,"timestamp":{ts},"data":{{"node":{node},'
        f'"initialOffset":{{"top":0,"left":0}}}}}}'.encode()
    )


def raw_batch(session_id: str, *events: bytes) -> bytes:
    head = f'{{"session_id":"{session_id}","seq":0,"user_id":"u-deep","events":['.encode()
    return head + b",".join(events) + b"]}"


async def test_a_real_deep_dom_snapshot_is_stored(client: Any) -> None:
    ts = now_ms()
    start = msgspec.json.encode(meta(ts, "https://shop.test/deep"))
    response = await post(client, raw_batch("sess-deep-dom-01", start, deep_snapshot(ts, 480)))
    assert response.status_code == 202, response.text
    await move_chunks(client)
    events = await client.get("/api/v1/sessions/sess-deep-dom-01/events", headers=AUTH)
    assert events.status_code == 200 and len(events.content) > 480 * 50


async def test_nesting_past_any_dom_is_refused_not_crashed(client: Any) -> None:
    ts = now_ms()
    response = await post(client, raw_batch("sess-deep-dom-02", deep_snapshot(ts, 20_000)))
    refused(response, "nested deeper")
    deep_arg = ("[" * 20_000 + "]" * 20_000).encode()
    console = (
        b'{"type":6,"timestamp":' + str(ts).encode() + b',"data":{"plugin":"rrweb/console@1",'
        b'"payload":{"level":"error","payload":["' + deep_arg + b'"],"trace":[]}}}'
    )
    refused(await post(client, raw_batch("sess-deep-dom-03", console)), "nested deeper")


async def test_invalid_utf8_inside_an_event_is_refused(client: Any) -> None:
    event = (
        b'{"type":6,"timestamp":' + str(now_ms()).encode() + b',"data":{"plugin":"x",'
        b'"payload":"caf\xe9 \xff"}}'
    )
    refused(await post(client, raw_batch("sess-utf8-0001", event)), "UTF-8")
    assert (await client.get("/api/v1/sessions/sess-utf8-0001", headers=AUTH)).status_code == 404


async def test_a_nul_in_a_page_url_is_stored(client: Any) -> None:
    body = batch("sess-nul-url-01", 0, [meta(now_ms(), "https://shop.test/a\x00b")])
    assert (await post(client, body)).status_code == 202
    found = await summary(client, "sess-nul-url-01")
    assert found["pages"] == ["https://shop.test/ab"]
