"""Builders of realistic rrweb event streams and ingest batches for tests."""

from __future__ import annotations

import gzip
from typing import Any

import msgspec

BASE_TS = 1_790_000_000_000  # 2026-09-21, a fixed clock for reproducible recordings


def meta(ts: int, href: str) -> dict[str, Any]:
    return {"type": 4, "data": {"href": href, "width": 1280, "height": 800}, "timestamp": ts}


def full_snapshot(ts: int) -> dict[str, Any]:
    return {
        "type": 2,
        "timestamp": ts,
        "data": {
            "node": {
                "type": 0,
                "id": 1,
                "childNodes": [
                    {
                        "type": 2,
                        "id": 2,
                        "tagName": "html",
                        "attributes": {},
                        "childNodes": [
                            {
                                "type": 2,
                                "id": 3,
                                "tagName": "button",
                                "attributes": {"id": "pay"},
                                "childNodes": [{"type": 3, "id": 4, "textContent": "Place order"}],
                            },
                            {
                                "type": 2,
                                "id": 5,
                                "tagName": "input",
                                "attributes": {"name": "card", "value": "****"},
                                "childNodes": [],
                            },
                        ],
                    }
                ],
            },
            "initialOffset": {"left": 0, "top": 0},
        },
    }


def click(ts: int, node_id: int = 3) -> dict[str, Any]:
    return {
        "type": 3,
        "timestamp": ts,
        "data": {"source": 2, "type": 2, "id": node_id, "x": 100, "y": 200},
    }


def mutation(ts: int) -> dict[str, Any]:
    return {
        "type": 3,
        "timestamp": ts,
        "data": {"source": 0, "texts": [], "attributes": [], "removes": [], "adds": []},
    }


def console_error(ts: int, message: str, stack: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": 6,
        "timestamp": ts,
        "data": {
            "plugin": "rrweb/console@1",
            "payload": {
                "level": "error",
                "trace": stack or ["at pay (https://shop.test/app.js:10:5)"],
                "payload": [msgspec.json.encode(message).decode()],
            },
        },
    }


CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def page_event(ts: int, **payload: Any) -> dict[str, Any]:
    """A `replaydesk/page` event as the recorder sends it when a page load's recording starts:
    Chrome 131 on Windows in New Zealand unless `payload` says otherwise."""
    body = {
        "url": "https://shop.test/checkout",
        "navigation": "navigate",
        "userAgent": CHROME_WINDOWS,
        "language": "en-NZ",
        "timeZone": "Pacific/Auckland",
        "viewport": {"width": 1280, "height": 720},
        "screen": {"width": 1920, "height": 1080},
        "pixelRatio": 1.5,
    } | payload
    return {"type": 5, "timestamp": ts, "data": {"tag": "replaydesk/page", "payload": body}}


def network(ts: int, url: str, status: int, method: str = "POST") -> dict[str, Any]:
    return {
        "type": 6,
        "timestamp": ts,
        "data": {
            "plugin": "replaydesk/network@1",
            "payload": {
                "kind": "fetch",
                "method": method,
                "url": url,
                "status": status,
                "duration": 87.5,
            },
        },
    }


def checkout_events(start: int = BASE_TS) -> list[dict[str, Any]]:
    """A broken checkout: page load, a click, a console error and a failed payment request."""
    return [
        meta(start, "https://shop.test/cart"),
        full_snapshot(start + 5),
        click(start + 1000),
        mutation(start + 1100),
        network(start + 1200, "https://shop.test/api/pay?token=abc123", 500),
        console_error(start + 1300, "TypeError: payment failed for jane@example.com"),
    ]


def batch(
    session_id: str,
    seq: int,
    events: list[dict[str, Any]],
    user_id: str | None = "u42",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"session_id": session_id, "seq": seq, "events": events, **extra}
    if user_id is not None:
        body["user_id"] = user_id
    return body


def gzipped(payload: dict[str, Any]) -> bytes:
    return gzip.compress(msgspec.json.encode(payload))


async def record_session(client: Any, session_id: str, user_id: str = "u42") -> None:
    """Ingest the broken checkout as one batch of a session of `user_id`."""
    from tests.conftest import INGEST

    body = batch(session_id, 0, checkout_events(BASE_TS), user_id=user_id)
    sent = await client.post("/api/v1/ingest", content=msgspec.json.encode(body), headers=INGEST)
    assert sent.status_code == 202, sent.text
