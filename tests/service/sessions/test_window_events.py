"""A window's event stream: what rebuilds the page at its start, and nothing else outside it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec

from service.sessions.window_events import WindowEvents, window_event_stream
from service.sessions.windows import SessionWindow
from tests.recordings import BASE_TS, click, console_error, full_snapshot, meta, mutation


def chunk(*events: dict[str, Any]) -> bytes:
    return msgspec.json.encode(list(events))


def picked(window: SessionWindow, *chunks: tuple[bytes, int]) -> list[dict[str, Any]]:
    picker = WindowEvents(window)
    out: list[Any] = []
    for events_json, first_ts in chunks:
        out += picker.chunk(events_json, first_ts)
    out += picker.finish()
    return [msgspec.json.decode(bytes(event)) for event in out]


def test_the_last_page_load_before_the_window_rebuilds_it() -> None:
    first_page = chunk(
        meta(BASE_TS, "https://shop.test/cart"), full_snapshot(BASE_TS + 5), mutation(BASE_TS + 50)
    )
    second_page = chunk(
        meta(BASE_TS + 1000, "https://shop.test/pay"),
        full_snapshot(BASE_TS + 1005),
        click(BASE_TS + 1100),
        mutation(BASE_TS + 1200),
        console_error(BASE_TS + 1300, "before"),
        mutation(BASE_TS + 3000),
    )
    window = SessionWindow(BASE_TS + 2000, BASE_TS + 2500)
    events = picked(window, (first_page, BASE_TS), (second_page, BASE_TS + 1000))
    # Only the second page's load and its state change: no click, no console, nothing after.
    assert [(e["type"], e["timestamp"]) for e in events] == [
        (4, BASE_TS + 2000),
        (2, BASE_TS + 2000),
        (3, BASE_TS + 2000),
    ]
    assert events[0]["data"]["href"] == "https://shop.test/pay"


def test_a_window_from_the_start_needs_no_rebuilding() -> None:
    events = chunk(
        meta(BASE_TS, "https://shop.test/"), full_snapshot(BASE_TS + 5), click(BASE_TS + 9)
    )
    window = SessionWindow(BASE_TS, BASE_TS + 5)
    assert [e["timestamp"] for e in picked(window, (events, BASE_TS))] == [BASE_TS, BASE_TS + 5]


def test_an_idle_window_still_shows_the_page() -> None:
    events = chunk(meta(BASE_TS, "https://shop.test/"), full_snapshot(BASE_TS + 5))
    window = SessionWindow(BASE_TS + 60_000, BASE_TS + 120_000)
    assert [(e["type"], e["timestamp"]) for e in picked(window, (events, BASE_TS))] == [
        (4, BASE_TS + 60_000),
        (2, BASE_TS + 60_000),
    ]


def test_a_batch_put_on_the_service_clock_is_windowed_on_that_clock() -> None:
    # The browser's clock ran ten minutes behind: ingest moved the batch's times forward.
    behind = 10 * 60_000
    events = chunk(
        meta(BASE_TS - behind, "https://shop.test/"),
        full_snapshot(BASE_TS - behind + 5),
        click(BASE_TS - behind + 2000),
        click(BASE_TS - behind + 4000),
    )
    window = SessionWindow(BASE_TS + 1000, BASE_TS + 3000)
    stamps = [e["timestamp"] for e in picked(window, (events, BASE_TS))]
    # The events keep the browser's clock; the rebuild is stamped at the window's start on it.
    assert stamps == [BASE_TS - behind + 1000] * 2 + [BASE_TS - behind + 2000]


async def test_the_stream_is_one_json_array() -> None:
    async def chunks() -> AsyncIterator[tuple[bytes, int]]:
        yield chunk(meta(BASE_TS, "https://shop.test/"), full_snapshot(BASE_TS + 5)), BASE_TS
        yield chunk(), BASE_TS
        yield chunk(click(BASE_TS + 700)), BASE_TS + 700

    window = SessionWindow(BASE_TS + 500, BASE_TS + 1000)
    body = b"".join([part async for part in window_event_stream(chunks(), window)])
    assert [e["timestamp"] for e in msgspec.json.decode(body)] == [BASE_TS + 500] * 2 + [
        BASE_TS + 700
    ]
    nothing = SessionWindow(BASE_TS - 100, BASE_TS - 50)
    empty = b"".join([part async for part in window_event_stream(chunks(), nothing)])
    assert msgspec.json.decode(empty) == []
