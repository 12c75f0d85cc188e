"""Links to a time window of a session: minting, hostile windows, and what a windowed token
opens (summary, report, events) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from service.settings import Settings
from service.viewer.tokens import ViewerTokens
from service.web.app import create_app
from tests.conftest import AUTH, INGEST
from tests.recordings import (
    BASE_TS,
    batch,
    click,
    console_error,
    full_snapshot,
    meta,
    mutation,
    network,
)

SID = "sess-window-0001"
MINUTE = 60_000
# The window asked for below: 5:00 to 15:00 of a 28-minute session.
FROM_MS, TO_MS = 5 * MINUTE, 15 * MINUTE
WINDOW = {"from_ms": FROM_MS, "to_ms": TO_MS}
OUTSIDE = ("too early", "too late", "/api/early", "/api/late")


def text_added(ts: int, text: str) -> dict[str, Any]:
    """A mutation that adds a paragraph: the page's state changes."""
    node = {"type": 3, "id": 100 + ts % 1000, "textContent": text}
    return {
        "type": 3,
        "timestamp": ts,
        "data": {
            "source": 0,
            "texts": [],
            "attributes": [],
            "removes": [],
            "adds": [{"parentId": 2, "nextId": None, "node": node}],
        },
    }


def batches() -> list[dict[str, Any]]:
    """Three batches: before the window, inside it, after it."""
    return [
        batch(
            SID,
            0,
            [
                meta(BASE_TS, "https://shop.test/cart"),
                full_snapshot(BASE_TS + 5),
                click(BASE_TS + 1000),
                console_error(BASE_TS + 2000, "TypeError: too early"),
                network(BASE_TS + 3000, "https://shop.test/api/early", 500),
                text_added(BASE_TS + MINUTE, "state before the window"),
                {"type": 3, "timestamp": BASE_TS + MINUTE + 5, "data": {"source": 1}},
            ],
        ),
        batch(
            SID,
            1,
            [
                click(BASE_TS + 10 * MINUTE),
                console_error(BASE_TS + 11 * MINUTE, "TypeError: inside"),
                network(BASE_TS + 12 * MINUTE, "https://shop.test/api/inside", 503),
                mutation(BASE_TS + 13 * MINUTE),
            ],
        ),
        batch(
            SID,
            2,
            [
                console_error(BASE_TS + 25 * MINUTE, "TypeError: too late"),
                network(BASE_TS + 26 * MINUTE, "https://shop.test/api/late", 500),
                click(BASE_TS + 28 * MINUTE),
            ],
        ),
    ]


async def record(client: Any) -> None:
    for body in batches():
        sent = await client.post(
            "/api/v1/ingest", content=msgspec.json.encode(body), headers=INGEST
        )
        assert sent.status_code == 202, sent.text


async def mint(client: Any, **body: Any) -> dict[str, Any]:
    response = await client.post(f"/api/v1/sessions/{SID}/links", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    minted: dict[str, Any] = response.json()
    return minted


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_windowed_token_opens_nothing_outside_its_window(client: Any) -> None:
    await record(client)
    link = await mint(client, window=WINDOW)
    assert link["window"]["from_ms"] == FROM_MS and link["window"]["to_ms"] == TO_MS
    headers = bearer(link["token"])

    events = (await client.get(f"/api/v1/sessions/{SID}/events", headers=headers)).json()
    start, end = BASE_TS + FROM_MS, BASE_TS + TO_MS
    assert all(start <= event["timestamp"] <= end for event in events)
    # The page as it was at 5:00: the Meta, the full snapshot and the text added at 1:00, all
    # stamped with the window's start; no click, mouse move, console or network from before.
    rebuilt = [event for event in events if event["timestamp"] == start]
    assert [event["type"] for event in rebuilt] == [4, 2, 3]
    assert rebuilt[2]["data"]["adds"][0]["node"]["textContent"] == "state before the window"
    assert [(e["type"], e["timestamp"] - BASE_TS) for e in events[3:]] == [
        (3, 10 * MINUTE),
        (6, 11 * MINUTE),
        (6, 12 * MINUTE),
        (3, 13 * MINUTE),
    ]

    report = (await client.get(f"/api/v1/sessions/{SID}/report", headers=headers)).json()
    assert [e["message"] for e in report["console_errors"]] == ["TypeError: inside"]
    assert [r["url"] for r in report["failed_requests"]] == ["https://shop.test/api/inside"]
    assert all(FROM_MS <= step["offset_ms"] <= TO_MS for step in report["steps"])
    texts = [step["text"] for step in report["steps"]]
    assert "Console error: TypeError: inside" in texts
    assert "POST shop.test/api/inside → 503" in texts

    summary = (await client.get(f"/api/v1/sessions/{SID}", headers=headers)).json()
    assert summary == report["session"]
    assert summary["window"] == {
        "from_ms": FROM_MS,
        "to_ms": TO_MS,
        "started_at": "2026-09-21T14:18:20Z",
        "ended_at": "2026-09-21T14:28:20Z",
    }
    counts = summary["counts"]
    assert (counts["errors"], counts["failed_requests"], counts["clicks"]) == (1, 1, 1)
    assert summary["first_error_offset_ms"] == 11 * MINUTE
    assert summary["pages"] == ["https://shop.test/cart"]  # the page open at 5:00
    # The session's own extent stays: "10 minutes of a 28-minute session".
    assert summary["duration_ms"] == 28 * MINUTE

    for suffix in ("", "/report", "/events"):
        body = (await client.get(f"/api/v1/sessions/{SID}{suffix}", headers=headers)).text
        assert not [word for word in OUTSIDE if word in body], suffix
    # An API key still reads all of it, and its summary has no window.
    whole = (await client.get(f"/api/v1/sessions/{SID}/report", headers=AUTH)).json()
    assert len(whole["console_errors"]) == 3 and whole["session"]["window"] is None


async def test_a_windowed_token_cannot_widen_itself(client: Any) -> None:
    await record(client)
    link = await mint(client, window=WINDOW)
    headers = bearer(link["token"])
    asking = "?from_ms=0&to_ms=99999999&window=&start=0&end=99999999999999&at=0"
    for suffix in ("", "/report", "/events"):
        plain = await client.get(f"/api/v1/sessions/{SID}{suffix}", headers=headers)
        widened = await client.get(f"/api/v1/sessions/{SID}{suffix}{asking}", headers=headers)
        assert widened.status_code == 200
        assert widened.json() == plain.json(), suffix
    # Nor can it mint a wider link, or any other.
    again = await client.post(
        f"/api/v1/sessions/{SID}/links", json={"window": {"from_ms": 0}}, headers=headers
    )
    assert again.status_code == 401
    bare = await client.post(f"/api/v1/sessions/{SID}/links", json={}, headers=headers)
    assert bare.status_code == 401


async def test_a_token_without_a_window_behaves_as_before(client: Any) -> None:
    await record(client)
    link = await mint(client)
    assert link["window"] is None
    headers = bearer(link["token"])
    for suffix in ("", "/report", "/events"):
        as_viewer = await client.get(f"/api/v1/sessions/{SID}{suffix}", headers=headers)
        as_admin = await client.get(f"/api/v1/sessions/{SID}{suffix}", headers=AUTH)
        assert as_viewer.status_code == 200
        assert as_viewer.content == as_admin.content, suffix


async def test_named_windows_resolve_against_the_session(client: Any) -> None:
    await record(client)
    ticket_at = "2026-09-21T14:33:20Z"  # 20:00 into the session
    before = await mint(client, window={"before_ticket_minutes": 10, "ticket_at": ticket_at})
    assert (before["window"]["from_ms"], before["window"]["to_ms"]) == (10 * MINUTE, 20 * MINUTE)
    as_millis = await mint(
        client, window={"before_ticket_minutes": 10, "ticket_at": BASE_TS + 20 * MINUTE}
    )
    assert as_millis["window"] == before["window"]
    # A ticket after the session's last event: its last minutes.
    late = await mint(
        client, window={"before_ticket_minutes": 5, "ticket_at": "2026-09-22T00:00:00+00:00"}
    )
    assert (late["window"]["from_ms"], late["window"]["to_ms"]) == (23 * MINUTE, 28 * MINUTE)
    # The first error is at 0:02: two minutes either side, cut at the session's start.
    around = await mint(client, window={"around_first_error_minutes": 2})
    assert (around["window"]["from_ms"], around["window"]["to_ms"]) == (0, 2 * MINUTE + 2000)
    # Only from, only to.
    tail = await mint(client, window={"from_ms": 20 * MINUTE})
    assert tail["window"]["to_ms"] == 28 * MINUTE
    head = await mint(client, window={"to_ms": MINUTE})
    assert head["window"]["from_ms"] == 0


@pytest.mark.parametrize(
    ("window", "words"),
    [
        ({}, "give from_ms"),
        ({"from_ms": -1}, "window.from_ms"),
        ({"to_ms": 1.5}, "window.to_ms"),
        ({"from_ms": "60000"}, "window.from_ms"),
        ({"from_ms": True}, "window.from_ms"),
        ({"from_ms": 10**20}, "window.from_ms"),
        ({"from_ms": 2 * MINUTE, "to_ms": MINUTE}, "must come before to_ms"),
        ({"from_ms": MINUTE, "to_ms": MINUTE}, "must come before to_ms"),
        ({"from_ms": 29 * MINUTE}, "past the session's last event"),
        ({"from_ms": 0, "around_first_error_minutes": 1}, "one kind at a time"),
        ({"to_ms": 5, "before_ticket_minutes": 1, "ticket_at": BASE_TS}, "one kind at a time"),
        ({"before_ticket_minutes": 10}, "go together"),
        ({"ticket_at": "2026-09-21T14:33:20Z"}, "go together"),
        ({"before_ticket_minutes": 0, "ticket_at": BASE_TS}, "before_ticket_minutes"),
        ({"before_ticket_minutes": 10, "ticket_at": "2026-09-21T14:33:20"}, "timezone"),
        ({"before_ticket_minutes": 10, "ticket_at": BASE_TS - 1}, "before the session started"),
        ({"around_first_error_minutes": 10**6}, "around_first_error_minutes"),
        ({"from_ms": 0, "minutes": 3}, "minutes"),
    ],
)
async def test_hostile_windows_are_refused_with_what_to_fix(
    client: Any, window: dict[str, Any], words: str
) -> None:
    await record(client)
    response = await client.post(
        f"/api/v1/sessions/{SID}/links", json={"window": window}, headers=AUTH
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert words in response.json()["detail"]


async def test_around_the_first_error_needs_an_error(client: Any) -> None:
    quiet = batch("sess-quiet-0001", 0, [meta(BASE_TS, "https://shop.test/"), click(BASE_TS + 9)])
    await client.post("/api/v1/ingest", content=msgspec.json.encode(quiet), headers=INGEST)
    response = await client.post(
        "/api/v1/sessions/sess-quiet-0001/links",
        json={"window": {"around_first_error_minutes": 5}},
        headers=AUTH,
    )
    assert response.status_code == 400
    assert "no console error" in response.json()["detail"]


# --- anything at all in `window` ----------------------------------------------------------------


@pytest.fixture
def sync_client(settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(app=create_app(settings)) as test_client:
        for body in batches():
            sent = test_client.post(
                "/api/v1/ingest", content=msgspec.json.encode(body), headers=INGEST
            )
            assert sent.status_code == 202, sent.text
        yield test_client


numbers = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0, -1, 1, FROM_MS, TO_MS, 28 * MINUTE, 2**53, 2**63, 2**64])
)
values = (
    st.none()
    | st.booleans()
    | numbers
    | st.text(max_size=12)
    | st.sampled_from(["2026-09-21T14:33:20Z", "2026-09-21T14:33:20", "yesterday", ""])
    | st.lists(st.integers(), max_size=3)
    | st.dictionaries(st.text(max_size=4), st.integers(), max_size=2)
)
keys = st.sampled_from(
    ["from_ms", "to_ms", "before_ticket_minutes", "ticket_at", "around_first_error_minutes", "x"]
)
windows = st.dictionaries(keys, values, max_size=4) | values


@settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(window=windows)
def test_no_window_breaks_minting_and_every_minted_window_is_inside_the_session(
    sync_client: TestClient[Any], window: Any
) -> None:
    response = sync_client.post(
        f"/api/v1/sessions/{SID}/links", json={"window": window}, headers=AUTH
    )
    assert response.status_code in (201, 400), response.text
    if response.status_code == 400:
        assert response.json()["detail"]
        return
    if window is None:
        assert response.json()["window"] is None
        return
    shown = response.json()["window"]
    assert 0 <= shown["from_ms"] <= shown["to_ms"] <= 28 * MINUTE
    services = sync_client.app.state.services
    tokens: ViewerTokens = services.viewer_tokens
    claims = tokens.verify(response.json()["token"], SID)
    assert claims.window is not None
    assert BASE_TS <= claims.window.start_ms <= claims.window.end_ms
