"""A realistic rrweb batch for the harness to ingest: a checkout that breaks."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["checkout_batch"]


def _plugin_event(ts: int, plugin: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": 6, "timestamp": ts, "data": {"plugin": plugin, "payload": payload}}


def _snapshot(ts: int) -> dict[str, Any]:
    button = {
        "type": 2,
        "id": 3,
        "tagName": "button",
        "attributes": {"id": "pay"},
        "childNodes": [{"type": 3, "id": 4, "textContent": "Place order"}],
    }
    card = {
        "type": 2,
        "id": 5,
        "tagName": "input",
        "attributes": {"name": "card", "value": "****"},
        "childNodes": [],
    }
    html = {"type": 2, "id": 2, "tagName": "html", "attributes": {}, "childNodes": [button, card]}
    return {
        "type": 2,
        "timestamp": ts,
        "data": {"node": {"type": 0, "id": 1, "childNodes": [html]}, "initialOffset": {}},
    }


def checkout_batch(session_id: str, user_id: str, start_ms: int) -> bytes:
    """One recorder batch of `user_id`: the cart page, three clicks on "Place order", a failed
    payment request and the console error it caused, as the recorder sends it."""
    click = {"source": 2, "type": 2, "id": 3, "x": 100, "y": 200}
    events = [
        {"type": 4, "timestamp": start_ms, "data": {"href": "https://shop.example/cart"}},
        _snapshot(start_ms + 5),
        *({"type": 3, "timestamp": start_ms + t, "data": click} for t in (1000, 1300, 1600)),
        _plugin_event(
            start_ms + 1700,
            "replaydesk/network@1",
            {
                "kind": "fetch",
                "method": "POST",
                "url": "https://shop.example/api/pay",
                "status": 500,
                "duration": 87.5,
            },
        ),
        _plugin_event(
            start_ms + 1800,
            "rrweb/console@1",
            {
                "level": "error",
                "trace": ["at pay (https://shop.example/app.js:10:5)"],
                "payload": ['"TypeError: payment failed"'],
            },
        ),
    ]
    body = {"session_id": session_id, "user_id": user_id, "seq": 0, "events": events}
    return msgspec.json.encode(body)
