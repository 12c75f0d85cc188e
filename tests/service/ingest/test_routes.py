"""POST /api/v1/ingest: acceptance, idempotency, ordering, limits and every kind of bad input."""

from __future__ import annotations

import gzip
import logging
import zlib
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import AUTH, INGEST, move_chunks
from tests.recordings import BASE_TS, batch, checkout_events, click, gzipped, meta

SID = "sess-0001-abcdef"


async def post(client: AsyncTestClient[Any], body: Any, **headers: str) -> Any:
    content = body if isinstance(body, bytes) else msgspec.json.encode(body)
    return await client.post("/api/v1/ingest", content=content, headers={**INGEST, **headers})


def assert_problem(response: Any, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    detail = response.json()["detail"]
    assert fragment in detail, detail


async def test_gzip_batch_round_trips_to_the_users_latest_session(client: Any) -> None:
    response = await post(
        client, gzipped(batch(SID, 0, checkout_events())), **{"Content-Encoding": "gzip"}
    )
    assert response.status_code == 202
    assert response.json() == {"session_id": SID, "seq": 0, "status": "accepted"}

    latest = (await client.get("/api/v1/users/u42/sessions/latest", headers=AUTH)).json()
    assert latest["session_id"] == SID
    assert latest["pages"] == ["https://shop.test/cart"]
    assert latest["counts"]["events"] == 6
    assert latest["counts"]["errors"] == 1
    assert latest["counts"]["failed_requests"] == 1


async def test_only_refused_batches_get_an_access_log_line(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="service.access")
    events = [meta(BASE_TS, "https://shop.example.com/")]
    assert (await post(client, batch(SID, 0, events))).status_code == 202
    refused = await post(client, batch(SID, 1, events), **{"X-ReplayDesk-Key": "nope"})
    assert refused.status_code == 401
    assert (await client.get(f"/api/v1/sessions/{SID}", headers=AUTH)).status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "service.access"]
    assert [line.rsplit(" ", 1)[0] for line in lines] == [
        "POST /api/v1/ingest 401",
        "GET /api/v1/sessions/{session_id} 200",
    ]


async def test_requests_no_route_matched_get_a_line_without_their_path(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="service.access")
    # A recorder pointed at a wrong path, and a GET where only POST is served.
    wrong = await client.post("/api/v1/ingest/u42", content=b"{}", headers=INGEST)
    assert wrong.status_code == 404
    assert (await client.get("/api/v1/ingest")).status_code == 405
    assert (await client.get(f"/api/v1/sessions/{SID}", headers=AUTH)).status_code == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "service.access"]
    assert lines[:2] == ["POST (no route) 404", "GET (no route) 405"]
    assert lines[2].startswith("GET /api/v1/sessions/{session_id} 404 ")  # a route's own 404
    assert len(lines) == 3 and not any("u42" in line for line in lines)


async def test_the_same_seq_twice_is_stored_once(client: Any) -> None:
    body = batch(SID, 0, checkout_events())
    first, second = await post(client, body), await post(client, body)
    assert first.json()["status"] == "accepted"
    assert second.status_code == 202 and second.json()["status"] == "duplicate"
    events = (await client.get(f"/api/v1/sessions/{SID}/events", headers=AUTH)).json()
    assert len(events) == 6


async def test_out_of_order_batches_are_kept_and_replayed_in_seq_order(client: Any) -> None:
    later = [click(BASE_TS + 5000 + i) for i in range(3)]
    assert (await post(client, batch(SID, 1, later))).status_code == 202
    assert (await post(client, batch(SID, 0, checkout_events()))).status_code == 202
    events = (await client.get(f"/api/v1/sessions/{SID}/events", headers=AUTH)).json()
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps) and len(events) == 9
    summary = (await client.get(f"/api/v1/sessions/{SID}", headers=AUTH)).json()
    assert summary["started_at"].startswith("2026-09-21")
    assert summary["duration_ms"] == 5002


async def test_a_later_user_id_rekeys_the_session(client: Any) -> None:
    await post(client, batch(SID, 0, checkout_events(), user_id=None))
    assert (await client.get("/api/v1/users/u42/sessions/latest", headers=AUTH)).status_code == 404
    await post(client, batch(SID, 1, [click(BASE_TS + 3000)], user_id="u42"))
    latest = await client.get("/api/v1/users/u42/sessions/latest", headers=AUTH)
    assert latest.json()["session_id"] == SID


async def test_final_batch_ends_the_session(client: Any) -> None:
    await post(client, batch(SID, 0, checkout_events()))
    summary = (await client.get(f"/api/v1/sessions/{SID}", headers=AUTH)).json()
    assert summary["active"] is True
    await post(client, batch(SID, 1, [], final=True))
    summary = (await client.get(f"/api/v1/sessions/{SID}", headers=AUTH)).json()
    assert summary["active"] is False
    assert summary["duration_ms"] == 1300  # an empty final batch does not stretch the session


async def test_secrets_are_scrubbed_before_storage(client: Any) -> None:
    await post(client, batch(SID, 0, checkout_events()))
    raw = (await client.get(f"/api/v1/sessions/{SID}/events", headers=AUTH)).text
    assert "jane@example.com" not in raw
    assert "abc123" not in raw
    report = (await client.get(f"/api/v1/sessions/{SID}/report", headers=AUTH)).json()
    assert "jane@example.com" not in report["console_errors"][0]["message"]
    assert "abc123" not in report["failed_requests"][0]["url"]


async def test_beacon_style_request_with_key_in_query_and_gzip_magic(client: Any) -> None:
    body = gzipped(batch(SID, 0, checkout_events()))
    response = await client.post(f"/api/v1/ingest?key={INGEST['X-ReplayDesk-Key']}", content=body)
    assert response.status_code == 202


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"session_id": "sess-0001-abcdef", "seq": 0, "ev', "not valid JSON"),
        (b"hello", "not valid JSON"),
        (b"[]", "Expected `object`"),
        ({"session_id": SID, "seq": "zero", "events": []}, "$.seq"),
        ({"session_id": SID, "seq": -1, "events": []}, "$.seq"),
        ({"session_id": SID, "seq": 0}, "events"),
        ({"session_id": "../../etc", "seq": 0, "events": []}, "$.session_id"),
        ({"session_id": SID, "seq": 0, "events": [], "surprise": 1}, "surprise"),
        ({"session_id": SID, "seq": 0, "events": [42]}, "events[0]"),
        ({"session_id": SID, "seq": 0, "events": [{"type": 99, "timestamp": 1}]}, "events[0]"),
    ],
)
async def test_malformed_batches_get_a_clear_400(client: Any, body: Any, fragment: str) -> None:
    assert_problem(await post(client, body), 400, fragment)
    assert (await client.get("/health")).status_code == 200


async def test_corrupt_and_truncated_gzip_are_refused(client: Any) -> None:
    good = gzipped(batch(SID, 0, checkout_events()))
    assert_problem(await post(client, good[:-12], **{"Content-Encoding": "gzip"}), 400, "gzip")
    corrupt = good[:10] + b"\x00" * 20 + good[30:]
    assert_problem(await post(client, corrupt, **{"Content-Encoding": "gzip"}), 400, "gzip")
    assert_problem(await post(client, b"x", **{"Content-Encoding": "br"}), 400, "br")


async def test_a_60_mb_body_is_refused_with_413(client: Any) -> None:
    huge = b"x" * (60 * 1024 * 1024)
    assert_problem(await post(client, huge), 413, "limit")


async def test_a_gzip_bomb_is_refused_without_inflating_it(client: Any) -> None:
    # ~60 KB on the wire, 1 GB inflated: decompression must stop at the configured limit.
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\x00" * (1024 * 1024)
    bomb = b"".join(compressor.compress(chunk) for _ in range(1024)) + compressor.flush()
    assert len(bomb) < 2 * 1024 * 1024
    response = await post(client, bomb, **{"Content-Encoding": "gzip"})
    assert_problem(response, 413, "decompressed")


async def test_missing_and_wrong_ingest_keys_are_refused(client: Any) -> None:
    body = msgspec.json.encode(batch(SID, 0, checkout_events()))
    missing = await client.post("/api/v1/ingest", content=body)
    assert_problem(missing, 401, "ingest key is required")
    wrong = await client.post("/api/v1/ingest", content=body, headers={"X-ReplayDesk-Key": "nope"})
    assert_problem(wrong, 401, "not valid")
    api_key_is_not_an_ingest_key = await client.post("/api/v1/ingest", content=body, headers=AUTH)
    assert api_key_is_not_an_ingest_key.status_code == 401


async def test_cors_preflight_and_origin_allow_list(client: Any) -> None:
    allowed = await client.options(
        "/api/v1/ingest",
        headers={"Origin": "http://shop.test", "Access-Control-Request-Method": "POST"},
    )
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "http://shop.test"
    assert "X-ReplayDesk-Key" in allowed.headers["access-control-allow-headers"]
    # Preflights carry no key, so they pass; the request itself is refused, readably, so
    # the recorder on that site sees a 403 and stops instead of retrying a network error.
    other = await client.options(
        "/api/v1/ingest",
        headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"},
    )
    assert other.status_code == 204

    ok = await post(client, batch(SID, 0, checkout_events()), Origin="http://shop.test")
    assert ok.status_code == 202
    assert ok.headers["access-control-allow-origin"] == "http://shop.test"
    evil = await post(client, batch(SID, 1, checkout_events()), Origin="http://evil.test")
    assert_problem(evil, 403, "origin")
    assert evil.headers["access-control-allow-origin"] == "http://evil.test"
    assert "Retry-After" in evil.headers["access-control-expose-headers"]


async def test_batches_of_an_erased_user_are_refused_and_nothing_returns(client: Any) -> None:
    await post(client, batch(SID, 0, checkout_events()))
    erased = await client.delete("/api/v1/users/u42", headers=AUTH)
    assert erased.json() == {"user_id": "u42", "sessions_erased": 1}
    late = await post(client, batch(SID, 1, [click(BASE_TS + 9000)], user_id=None))
    assert_problem(late, 410, "erased")
    fresh_session = await post(client, batch("sess-0002-abcdef", 0, [meta(BASE_TS, "https://x")]))
    assert_problem(fresh_session, 410, "erased")
    assert (await client.get("/api/v1/users/u42/sessions/latest", headers=AUTH)).status_code == 404


async def test_acknowledged_batches_survive_a_rejected_one(client: Any) -> None:
    await post(client, batch(SID, 0, checkout_events()))
    await post(client, b"garbage")
    await post(client, batch(SID, 1, [{"type": 3}]))
    events = (await client.get(f"/api/v1/sessions/{SID}/events", headers=AUTH)).json()
    assert len(events) == 6


async def test_refusals_and_batches_show_in_metrics(client: Any) -> None:
    await post(client, batch(SID, 0, checkout_events()))
    await post(client, batch(SID, 0, checkout_events()))
    await post(client, b"garbage")
    await move_chunks(client)
    text = (await client.get("/metrics")).text
    assert "replaydesk_chunks_waiting 0.0" in text
    assert 'replaydesk_ingest_batches_total{outcome="accepted"} 1.0' in text
    assert 'replaydesk_ingest_batches_total{outcome="duplicate"} 1.0' in text
    assert 'replaydesk_ingest_refusals_total{reason="batch_invalid"} 1.0' in text
    assert "replaydesk_ingest_latency_seconds_count 2.0" in text
    assert "replaydesk_queue_depth" in text


def test_gzip_helper_is_really_gzip() -> None:
    assert gzip.decompress(gzipped({"a": 1})) == b'{"a":1}'


async def test_an_identify_event_naming_an_erased_user_is_refused(client: Any) -> None:
    await client.delete("/api/v1/users/u42", headers=AUTH)
    identify = {
        "type": 5,
        "timestamp": BASE_TS + 10,
        "data": {"tag": "replaydesk/identify", "payload": {"userId": "u42"}},
    }
    body = batch("sess-0003-abcdef", 0, [meta(BASE_TS, "https://x"), identify], user_id=None)
    assert_problem(await post(client, body), 410, "erased")
