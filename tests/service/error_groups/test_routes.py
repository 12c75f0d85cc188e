"""`GET /api/v1/errors` and `/api/v1/errors/{fingerprint}/sessions` through the API, from
ingest to erasure, and what hostile parameters get."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from service.error_fingerprints import request_identity
from tests.conftest import AUTH, INGEST, user_path
from tests.recordings import BASE_TS, batch, checkout_events, meta, network

MINUTE = 60_000
DAY = 24 * 60 * MINUTE
PAY = request_identity("POST", "https://shop.test/api/pay", 500).fingerprint


async def record(
    client: Any, session_id: str, user: str | None, start: int, release: str | None = None
) -> None:
    events = checkout_events(start)
    if release is not None:
        events.append(page(start + 2, release))
    body = batch(session_id, 0, events, user_id=user)
    sent = await client.post("/api/v1/ingest", content=msgspec.json.encode(body), headers=INGEST)
    assert sent.status_code == 202, sent.text


def page(ts: int, release: str) -> dict[str, Any]:
    return {
        "type": 5,
        "timestamp": ts,
        "data": {
            "tag": "replaydesk/page",
            "payload": {"url": "https://shop.test/cart", "release": release},
        },
    }


async def errors(client: Any, query: str = "") -> dict[str, Any]:
    found = await client.get(f"/api/v1/errors{query}", headers=AUTH)
    assert found.status_code == 200, found.text
    body: dict[str, Any] = found.json()
    return body


async def test_groups_count_users_sessions_and_page(client: Any) -> None:
    await record(client, "sess-e-000001", "u1", BASE_TS, release="4.0.0")
    await record(client, "sess-e-000002", "u2", BASE_TS + MINUTE, release="4.1.0")
    await record(client, "sess-e-000003", None, BASE_TS + 2 * MINUTE)

    body = await errors(client)
    assert [g["kind"] for g in body["groups"]] == ["console_error", "failed_request"]
    console, failed = body["groups"]
    assert console["title"] == "TypeError: payment failed for [email]"
    assert failed["fingerprint"] == PAY
    assert failed["title"] == "POST shop.test/api/pay → 500"
    assert (failed["count"], failed["users_affected"], failed["sessions"]) == (3, 2, 3)
    assert failed["first_seen"] < failed["last_seen"]
    assert failed["latest_release"] == "4.1.0"  # the anonymous session's page said none
    assert body["next_cursor"] is None

    first = await errors(client, "?limit=1")
    rest = await errors(client, f"?limit=1&cursor={first['next_cursor']}")
    assert [g["fingerprint"] for g in first["groups"] + rest["groups"]] == [
        console["fingerprint"],
        PAY,
    ]

    in_release = await errors(client, "?release=4.0.0&kind=failed_request")
    assert [(g["fingerprint"], g["sessions"]) for g in in_release["groups"]] == [(PAY, 1)]
    assert (await errors(client, "?url=/cart&kind=console_error"))["groups"][0]["sessions"] == 3
    assert (await errors(client, "?url=/nowhere"))["groups"] == []
    since = BASE_TS + MINUTE + 1200
    # Without `until`, the counts start at since's UTC day (all three sessions are on it) ...
    assert [g["sessions"] for g in (await errors(client, f"?since={since}"))["groups"]] == [3, 3]
    # ... with it, they are exact.
    until = BASE_TS + DAY
    windowed = await errors(client, f"?since={since}&until={until}")
    assert [g["sessions"] for g in windowed["groups"]] == [2, 2]
    assert (await errors(client, f"?since={BASE_TS + DAY}"))["groups"] == []


async def test_group_sessions_newest_first_in_pages(client: Any) -> None:
    for i in range(3):
        await record(client, f"sess-g-00000{i}", f"u{i}", BASE_TS + i * MINUTE)
    found = await client.get(f"/api/v1/errors/{PAY}/sessions?limit=2", headers=AUTH)
    assert found.status_code == 200, found.text
    body = found.json()
    assert [s["session_id"] for s in body["sessions"]] == ["sess-g-000002", "sess-g-000001"]
    assert body["sessions"][0]["pages"] == ["https://shop.test/cart"]
    after = await client.get(
        f"/api/v1/errors/{PAY}/sessions?limit=2&cursor={body['next_cursor']}", headers=AUTH
    )
    assert [s["session_id"] for s in after.json()["sessions"]] == ["sess-g-000000"]
    assert after.json()["next_cursor"] is None


async def test_an_erased_user_leaves_no_group(client: Any) -> None:
    await record(client, "sess-x-000001", "erase.me", BASE_TS)
    assert (await errors(client))["groups"]
    erased = await client.delete(user_path("erase.me"), headers=AUTH)
    assert erased.status_code == 200, erased.text
    assert (await errors(client))["groups"] == []
    gone = await client.get(f"/api/v1/errors/{PAY}/sessions", headers=AUTH)
    assert gone.status_code == 404


async def test_routes_need_an_api_key(client: Any) -> None:
    for path in ("/api/v1/errors", f"/api/v1/errors/{PAY}/sessions"):
        assert (await client.get(path)).status_code == 401


@pytest.mark.parametrize(
    "query",
    [
        "?since=yesterday",
        "?since=2026-01-01T00:00:00",
        "?until=" + "9" * 40,
        "?since=%C2%B2",
        "?kind=warning",
        "?limit=0",
        "?limit=501",
        "?limit=x",
        "?cursor=nope",
        "?cursor=" + "9" * 30 + ":0123456789abcdef",
        "?cursor=12:not-a-fingerprint",
        "?release=" + "r" * 200,
    ],
)
async def test_hostile_group_queries_get_clear_400s(client: Any, query: str) -> None:
    found = await client.get(f"/api/v1/errors{query}", headers=AUTH)
    assert found.status_code == 400, (query, found.text)
    assert found.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("fingerprint", "query"),
    [
        ("XYZ", ""),
        ("0123456789ABCDEF", ""),
        ("%00%01", ""),
        (PAY, "?cursor=x"),
        (PAY, "?limit=-1"),
    ],
)
async def test_hostile_group_session_queries_get_clear_400s(
    client: Any, fingerprint: str, query: str
) -> None:
    found = await client.get(f"/api/v1/errors/{fingerprint}/sessions{query}", headers=AUTH)
    assert found.status_code == 400, (fingerprint, query, found.text)


async def test_unknown_fingerprint_is_404(client: Any) -> None:
    await record(client, "sess-n-000001", "u1", BASE_TS)
    found = await client.get("/api/v1/errors/0123456789abcdef/sessions", headers=AUTH)
    assert found.status_code == 404


async def test_requests_that_differ_only_in_ids_are_one_group(client: Any) -> None:
    events = [
        meta(BASE_TS, "https://shop.test/orders"),
        network(BASE_TS + 10, "https://shop.test/api/orders/41", 404, method="GET"),
        network(BASE_TS + 20, "https://shop.test/api/orders/42?x=1", 404, method="get"),
    ]
    body = batch("sess-i-000001", 0, events, user_id="u1")
    sent = await client.post("/api/v1/ingest", content=msgspec.json.encode(body), headers=INGEST)
    assert sent.status_code == 202
    [group] = (await errors(client))["groups"]
    assert (group["title"], group["count"], group["sessions"]) == (
        "GET shop.test/api/orders/{id} → 404",
        2,
        1,
    )
