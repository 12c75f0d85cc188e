"""Realistic recorder batches of about 48 KB of rrweb JSON, gzip-compressed like the recorder."""

from __future__ import annotations

import gzip
import random
from typing import Any

import msgspec

from tests.recordings import BASE_TS, click, console_error, full_snapshot, meta, mutation, network

__all__ = ["BATCH_JSON_BYTES", "BatchBody", "batch_bodies", "batch_json"]

BATCH_JSON_BYTES = 48 * 1024
# Browsers' CompressionStream("gzip") uses zlib's default level.
RECORDER_GZIP_LEVEL = 6
# The recorder flushes a batch every few seconds; a batch covers this much page time.
BATCH_SPAN_MS = 5000
_ENCODER = msgspec.json.Encoder()
_CLASSES = ("cart-item", "price", "btn btn-primary", "badge", "row", "col-6", "spinner", "hint")
_TEXTS = ("Subtotal", "Shipping", "Add to cart", "Remove", "Qty 2", "In stock", "Loading…")


class BatchBody(msgspec.Struct, frozen=True):
    """One request body as sent (gzip) and the size of the JSON inside it."""

    wire: bytes
    json_bytes: int


def _mouse_move(ts: int, rng: random.Random) -> dict[str, Any]:
    x, y = rng.randint(0, 1280), rng.randint(0, 800)
    positions = []
    for step in range(10):
        x, y = x + rng.randint(-30, 30), y + rng.randint(-20, 20)
        positions.append({"x": x, "y": y, "id": rng.randint(5, 400), "timeOffset": -50 * step})
    return {"type": 3, "timestamp": ts, "data": {"source": 1, "positions": positions}}


def _scroll(ts: int, rng: random.Random) -> dict[str, Any]:
    data = {"source": 3, "id": 1, "x": 0, "y": rng.randint(0, 4000)}
    return {"type": 3, "timestamp": ts, "data": data}


def _dom_mutation(ts: int, rng: random.Random) -> dict[str, Any]:
    event = mutation(ts)
    parent = rng.randint(10, 400)
    data = event["data"]
    data["adds"] = [
        {
            "parentId": parent,
            "nextId": None,
            "node": {
                "type": 2,
                "tagName": rng.choice(("div", "span", "li", "button")),
                "attributes": {"class": rng.choice(_CLASSES), "data-testid": f"item-{node}"},
                "childNodes": [],
                "id": node,
            },
        }
        for node in range(parent * 10, parent * 10 + rng.randint(1, 4))
    ]
    data["texts"] = [{"id": parent + 1, "value": rng.choice(_TEXTS)}]
    data["attributes"] = [{"id": parent + 2, "attributes": {"class": rng.choice(_CLASSES)}}]
    data["removes"] = [{"parentId": parent, "id": parent + 3}]
    return event


def _mouse_interaction(ts: int, kind: int, node_id: int) -> dict[str, Any]:
    data = {"source": 2, "type": kind, "id": node_id, "x": 412, "y": 630}
    return {"type": 3, "timestamp": ts, "data": data}


def _click_label(ts: int) -> dict[str, Any]:
    payload = {"label": "Checkout", "selector": "#checkout", "tag": "button"}
    return {"type": 5, "timestamp": ts, "data": {"tag": "replaydesk/click", "payload": payload}}


def _input(ts: int, node_id: int) -> dict[str, Any]:
    data = {"source": 5, "text": "********", "isChecked": False, "id": node_id}
    return {"type": 3, "timestamp": ts, "data": data}


_STACK = [
    "TypeError: Cannot read properties of undefined (reading 'total')",
    "    at renderSummary (https://shop.test/assets/cart.4f2a9c.js:1:20811)",
    "    at updateCart (https://shop.test/assets/cart.4f2a9c.js:1:19240)",
    "    at HTMLButtonElement.<anonymous> (https://shop.test/assets/app.91b0e3.js:2:4410)",
]


def _interactions(start: int) -> list[dict[str, Any]]:
    """What a user does once per batch: a click, typing, a request and a console error."""
    return [
        _mouse_interaction(start + 1000, 1, 42),
        _mouse_interaction(start + 1060, 0, 42),
        click(start + 1061, node_id=42),
        _click_label(start + 1062),
        *(_input(start + 1500 + 120 * key, 57) for key in range(6)),
        network(start + 2300, "https://shop.test/api/cart/items?page=2", 200, method="GET"),
        console_error(start + 2400, _STACK[0], stack=_STACK[1:]),
    ]


def batch_json(
    session_id: str, seq: int, user_id: str, target_bytes: int = BATCH_JSON_BYTES
) -> bytes:
    """One batch of about `target_bytes` of JSON: page load on seq 0, then steady activity."""
    rng = random.Random(f"{session_id}/{seq}")
    start = BASE_TS + seq * BATCH_SPAN_MS
    events: list[dict[str, Any]] = _interactions(start)
    if seq == 0:
        events = [meta(start, "https://shop.test/cart"), full_snapshot(start + 5), *events]
    size = len(_ENCODER.encode(events))
    builders = (_mouse_move, _mouse_move, _mouse_move, _dom_mutation, _dom_mutation, _scroll)
    while size < target_bytes:
        ts = start + rng.randint(0, BATCH_SPAN_MS - 1)
        event = rng.choice(builders)(ts, rng)
        events.append(event)
        size += len(_ENCODER.encode(event)) + 1
    events.sort(key=lambda event: int(event["timestamp"]))
    body = {"session_id": session_id, "seq": seq, "user_id": user_id, "events": events}
    return _ENCODER.encode(body)


def batch_bodies(
    prefix: str, sessions: int, seqs: int, target_bytes: int = BATCH_JSON_BYTES
) -> list[BatchBody]:
    """`sessions` x `seqs` distinct batches, seq-major so every session advances together."""
    bodies = []
    for seq in range(seqs):
        for index in range(sessions):
            data = batch_json(f"{prefix}-{index:06d}", seq, f"user-{index:06d}", target_bytes)
            wire = gzip.compress(data, compresslevel=RECORDER_GZIP_LEVEL, mtime=0)
            bodies.append(BatchBody(wire, len(data)))
    return bodies
