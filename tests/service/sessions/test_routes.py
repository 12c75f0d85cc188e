"""Session lookup by user, search, summary, events, report and erasure through the API."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from service.sessions.erasure import erase_user
from tests.conftest import AUTH, INGEST, move_chunks
from tests.recordings import (
    BASE_TS,
    CHROME_WINDOWS,
    batch,
    checkout_events,
    click,
    meta,
    page_event,
)

MINUTE = 60_000


async def ingest(client: Any, body: dict[str, Any]) -> None:
    response = await client.post(
        "/api/v1/ingest", content=msgspec.json.encode(body), headers=INGEST
    )
    assert response.status_code == 202, response.text


async def record(client: Any, sid: str, user: str, start: int, broken: bool = True) -> None:
    if broken:
        events = checkout_events(start)
    else:
        events = [meta(start, "https://shop.test/home"), click(start + 500)]
    await ingest(client, batch(sid, 0, events, user_id=user))


async def test_every_session_endpoint_needs_an_api_key(client: Any) -> None:
    await record(client, "sess-a-000001", "u1", BASE_TS)
    for path in (
        "/api/v1/users/u1/sessions",
        "/api/v1/users/u1/sessions/latest",
        "/api/v1/sessions",
        "/api/v1/sessions/sess-a-000001",
        "/api/v1/sessions/sess-a-000001/events",
        "/api/v1/sessions/sess-a-000001/report",
    ):
        missing = await client.get(path)
        assert missing.status_code == 401, path
        assert missing.headers["content-type"].startswith("application/problem+json")
        wrong = await client.get(path, headers={"Authorization": "Bearer not-a-key"})
        assert wrong.status_code == 401, path
    assert (await client.delete("/api/v1/users/u1")).status_code == 401


async def test_latest_and_list_are_newest_first_with_paging(client: Any) -> None:
    for i in range(5):
        await record(client, f"sess-u1-00000{i}", "u1", BASE_TS + i * MINUTE)
    await record(client, "sess-u2-000000", "u2", BASE_TS + 10 * MINUTE)

    latest = (await client.get("/api/v1/users/u1/sessions/latest", headers=AUTH)).json()
    assert latest["session_id"] == "sess-u1-000004"
    assert set(latest) >= {
        "session_id",
        "user_id",
        "started_at",
        "ended_at",
        "duration_ms",
        "pages",
        "counts",
        "first_error_at",
    }
    assert latest["counts"] == {
        "events": 6,
        "clicks": 1,
        "errors": 1,
        "failed_requests": 1,
        "rage_clicks": 0,
        "dead_clicks": 0,
        "inputs": 0,
        "pages": 1,
        "error_clicks": 1,
    }
    assert latest["first_error_offset_ms"] == 1300

    page1 = (await client.get("/api/v1/users/u1/sessions?limit=2", headers=AUTH)).json()
    assert [s["session_id"] for s in page1["sessions"]] == ["sess-u1-000004", "sess-u1-000003"]
    cursor = page1["next_before"]
    page2 = (
        await client.get(
            "/api/v1/users/u1/sessions", params={"limit": 2, "before": cursor}, headers=AUTH
        )
    ).json()
    assert [s["session_id"] for s in page2["sessions"]] == ["sess-u1-000002", "sess-u1-000001"]


async def test_latest_of_an_unknown_user_is_404(client: Any) -> None:
    response = await client.get("/api/v1/users/nobody/sessions/latest", headers=AUTH)
    assert response.status_code == 404
    assert "nobody" in response.json()["detail"]


async def test_search_filters(client: Any) -> None:
    await record(client, "sess-err-0001", "u1", BASE_TS, broken=True)
    await record(client, "sess-ok-00001", "u2", BASE_TS + 2 * MINUTE, broken=False)
    rage = [meta(BASE_TS + 5 * MINUTE, "https://shop.test/pay")] + [
        click(BASE_TS + 5 * MINUTE + 100 + i * 150) for i in range(4)
    ]
    # The burst is split across two batches: search finds it all the same.
    await ingest(client, batch("sess-rage-001", 0, rage[:3], user_id="u3"))
    await ingest(client, batch("sess-rage-001", 1, rage[3:], user_id="u3"))

    async def ids(**params: Any) -> list[str]:
        response = await client.get("/api/v1/sessions", params=params, headers=AUTH)
        assert response.status_code == 200, response.text
        return [s["session_id"] for s in response.json()["sessions"]]

    assert await ids() == ["sess-rage-001", "sess-ok-00001", "sess-err-0001"]
    assert await ids(has_errors="true") == ["sess-err-0001"]
    assert await ids(has_errors="false") == ["sess-rage-001", "sess-ok-00001"]
    assert await ids(has_rage_clicks="true") == ["sess-rage-001"]
    assert await ids(user_id="u2") == ["sess-ok-00001"]
    assert await ids(url="/home") == ["sess-ok-00001"]
    assert await ids(url="shop.test") == ["sess-rage-001", "sess-ok-00001", "sess-err-0001"]
    assert await ids(url="100%_") == []
    since = BASE_TS + MINUTE
    assert await ids(since=str(since)) == ["sess-rage-001", "sess-ok-00001"]
    assert await ids(until="2026-09-21T14:14:00Z") == ["sess-err-0001"]
    assert await ids(limit=1) == ["sess-rage-001"]


async def test_search_rejects_bad_parameters_clearly(client: Any) -> None:
    bad_time = await client.get("/api/v1/sessions", params={"since": "yesterday"}, headers=AUTH)
    assert bad_time.status_code == 400
    assert "since" in bad_time.json()["detail"]
    bad_limit = await client.get("/api/v1/sessions", params={"limit": 0}, headers=AUTH)
    assert bad_limit.status_code == 400
    assert "limit" in bad_limit.json()["detail"]


async def test_events_stream_every_event_once_in_order(client: Any) -> None:
    sid = "sess-long-0001"
    for seq in range(20):
        start = BASE_TS + seq * MINUTE
        await ingest(client, batch(sid, seq, [click(start + i * 10) for i in range(50)]))
    response = await client.get(f"/api/v1/sessions/{sid}/events", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    events = response.json()
    assert len(events) == 1000
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps) and len(set(stamps)) == 1000


async def test_report_has_errors_with_stacks_failed_requests_and_page_views(client: Any) -> None:
    await record(client, "sess-rep-0001", "u1", BASE_TS)
    report = (await client.get("/api/v1/sessions/sess-rep-0001/report", headers=AUTH)).json()
    assert report["session"]["session_id"] == "sess-rep-0001"
    (error,) = report["console_errors"]
    assert error["message"].startswith("TypeError: payment failed")
    assert error["stack"] == ["at pay (https://shop.test/app.js:10:5)"]
    assert error["offset_ms"] == 1300
    (failed,) = report["failed_requests"]
    assert failed["method"] == "POST" and failed["status"] == 500
    assert failed["url"].startswith("https://shop.test/api/pay")
    assert [p["url"] for p in report["page_views"]] == ["https://shop.test/cart"]


@pytest.mark.parametrize("suffix", ["", "/events", "/report"])
async def test_unknown_session_is_404_everywhere(client: Any, suffix: str) -> None:
    response = await client.get(f"/api/v1/sessions/sess-missing-1{suffix}", headers=AUTH)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("seq", [0, 1], ids=["new session", "stored session"])
async def test_a_user_erased_while_a_batch_is_being_stored_keeps_nothing(
    client: Any, settings: Any, seq: int
) -> None:
    sid = "sess-race-0001"
    if seq:
        await record(client, sid, "u1", BASE_TS)
        await move_chunks(client)
    services = client.app.state.services
    write_batches = services.store.record_new_batches

    async def write_then_erase(*args: Any) -> Any:
        outcomes = await write_batches(*args)
        # The erasure runs after the batch passed its status check and its rows were written,
        # before the writer looks for tombstones again.
        await erase_user(services.store, services.blobs, services.ingestor.erasure_keys, "u1")
        return outcomes

    services.store.record_new_batches = write_then_erase
    events = [meta(BASE_TS + seq * MINUTE, "https://shop.test/home")]
    response = await client.post(
        "/api/v1/ingest",
        content=msgspec.json.encode(batch(sid, seq, events, user_id="u1")),
        headers=INGEST,
    )
    services.store.record_new_batches = write_batches
    assert response.status_code == 410
    await move_chunks(client)  # nothing is left to move, nor a chunk to store
    assert not (settings.data_dir / "blobs" / "sessions" / sid).exists()
    assert (await client.get(f"/api/v1/sessions/{sid}", headers=AUTH)).status_code == 404
    listed = (await client.get("/api/v1/users/u1/sessions", headers=AUTH)).json()
    assert listed["sessions"] == []
    # And the session stays refused.
    again = await client.post(
        "/api/v1/ingest",
        content=msgspec.json.encode(batch(sid, seq + 1, events, user_id=None)),
        headers=INGEST,
    )
    assert again.status_code == 410


async def test_erasing_a_user_removes_sessions_and_blobs(client: Any, settings: Any) -> None:
    await record(client, "sess-del-0001", "u1", BASE_TS)
    await record(client, "sess-del-0002", "u1", BASE_TS + MINUTE)
    await record(client, "sess-keep-001", "u2", BASE_TS)
    await move_chunks(client)
    # One more chunk of u1, still in the journal when the erasure comes.
    await record(client, "sess-del-0003", "u1", BASE_TS + 2 * MINUTE)
    blobs = settings.data_dir / "blobs" / "sessions"
    assert {p.name for p in blobs.iterdir()} == {"sess-del-0001", "sess-del-0002", "sess-keep-001"}

    response = await client.delete("/api/v1/users/u1", headers=AUTH)
    assert response.status_code == 200
    assert response.json()["sessions_erased"] == 3
    await move_chunks(client)
    assert {p.name for p in blobs.iterdir()} == {"sess-keep-001"}
    for sid in ("sess-del-0001", "sess-del-0002", "sess-del-0003"):
        assert (await client.get(f"/api/v1/sessions/{sid}", headers=AUTH)).status_code == 404
    listed = (await client.get("/api/v1/users/u1/sessions", headers=AUTH)).json()
    assert listed["sessions"] == []
    kept = await client.get("/api/v1/sessions/sess-keep-001/events", headers=AUTH)
    assert len(kept.json()) == 6


def phone_page(ts: int, agent: str, release: str) -> dict[str, Any]:
    return page_event(
        ts,
        userAgent=agent,
        release=release,
        language="de-DE",
        timeZone="Europe/Berlin",
        viewport={"width": 390, "height": 844},
        screen={"width": 390, "height": 844},
        pixelRatio=3,
    )


IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


async def test_the_environment_is_in_the_summary_and_searchable(client: Any) -> None:
    start = BASE_TS
    await ingest(
        client,
        batch("sess-env-0001", 0, [*checkout_events(start), phone_page(start + 6, IPHONE, "4.1")]),
    )
    # A batch without a page event keeps it; the next page load's replaces it.
    await ingest(client, batch("sess-env-0001", 1, [click(start + 9000)]))
    await record(client, "sess-env-0002", "u42", start + MINUTE)
    await ingest(
        client,
        batch("sess-env-0002", 1, [phone_page(start + MINUTE + 10, CHROME_WINDOWS, "4.2")]),
    )
    await record(client, "sess-env-0003", "u42", start + 2 * MINUTE)

    summary = (await client.get("/api/v1/sessions/sess-env-0001", headers=AUTH)).json()
    assert summary["environment"] == {
        "browser": "Mobile Safari",
        "browser_version": "17.5",
        "os": "iOS",
        "os_version": "17.5",
        "device": "mobile",
        "viewport": {"width": 390, "height": 844},
        "screen": {"width": 390, "height": 844},
        "pixel_ratio": 3.0,
        "language": "de-DE",
        "time_zone": "Europe/Berlin",
        "release": "4.1",
        "user_agent": IPHONE,
    }
    unknown = (await client.get("/api/v1/sessions/sess-env-0003", headers=AUTH)).json()
    assert unknown["environment"] is None

    async def ids(**params: Any) -> list[str]:
        response = await client.get("/api/v1/sessions", params=params, headers=AUTH)
        assert response.status_code == 200, response.text
        return [s["session_id"] for s in response.json()["sessions"]]

    assert await ids(browser="chrome") == ["sess-env-0002"]
    assert await ids(os="iOS") == ["sess-env-0001"]
    assert await ids(release="4.2", user_id="u42") == ["sess-env-0002"]
    assert await ids(browser="Firefox") == []
