"""What each recorder's uploads contain: the collector's log decoded into rrweb events, the bytes
they took, and whether every page load arrived whole (snapshot, page view, its last seconds)."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from bench.recorder_site import Upload
from service.ingest.id_deltas import restore_ids

__all__ = [
    "TAIL_MS",
    "Completeness",
    "Delivered",
    "PageLoad",
    "completeness",
    "decode_uploads",
    "replaydesk_breakdown",
]

# A page's last seconds arrived when something it recorded this close to the visitor leaving
# did (every scripted page acts in its last two seconds: a click, typing or the pointer moving).
TAIL_MS = 2000
_GZIP = b"\x1f\x8b"
_FULL_SNAPSHOT, _META, _INCREMENTAL, _CUSTOM, _PLUGIN = 2, 4, 3, 5, 6
_SOURCES = {
    0: "mutations",
    1: "mouse moves",
    2: "mouse interactions",
    3: "scrolls",
    4: "viewport resizes",
    5: "inputs",
}


@dataclass
class Delivered:
    """One recorder's uploads in one pass."""

    events: list[dict[str, Any]] = field(default_factory=list)
    # Request bodies as sent: the session-replay stream, and the recorder's other calls.
    replay_bytes: int = 0
    other_bytes: int = 0
    requests: int = 0
    header_bytes: int = 0
    # Bodies that repeat a batch already received (the service stores it once).
    duplicate_bytes: int = 0
    # Bodies sent without compression, and what gzip would have made of them.
    plain_bytes: int = 0
    plain_as_gzip: int = 0
    # Every batch received once: (bytes as sent, the batch).
    batches: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


def _inflate(body: bytes) -> bytes:
    if body[:2] == _GZIP:
        return gzip.decompress(body)
    try:
        return zlib.decompress(body)
    except zlib.error:
        return body


def _count(delivered: Delivered, upload: Upload, replay: bool) -> None:
    delivered.requests += 1
    delivered.header_bytes += upload.header_bytes
    if replay:
        delivered.replay_bytes += len(upload.body)
    else:
        delivered.other_bytes += len(upload.body)


def _replaydesk(uploads: Iterable[Upload]) -> Delivered:
    delivered, seen = Delivered(), set[tuple[str, int]]()
    for upload in uploads:
        if upload.method != "POST" or upload.path != "/api/v1/ingest":
            continue
        _count(delivered, upload, replay=True)
        compressed = upload.body[:2] == _GZIP
        text = _inflate(upload.body)
        if not compressed:
            delivered.plain_bytes += len(upload.body)
            delivered.plain_as_gzip += len(gzip.compress(text, compresslevel=6))
        batch = json.loads(text)
        if batch.pop("id_deltas", False):
            batch = json.loads(restore_ids(text))
            del batch["id_deltas"]
        key = (batch["session_id"], batch["seq"])
        if key in seen:
            delivered.duplicate_bytes += len(upload.body)
            continue
        seen.add(key)
        delivered.events.extend(batch["events"])
        delivered.batches.append((len(upload.body), batch))
    return delivered


def _rrweb(uploads: Iterable[Upload]) -> Delivered:
    delivered = Delivered()
    for upload in uploads:
        if upload.method == "POST" and upload.path == "/rrweb":
            _count(delivered, upload, replay=True)
            delivered.events.extend(json.loads(_inflate(upload.body)))
    return delivered


def _posthog_items(body: bytes, query: str) -> list[dict[str, Any]]:
    if body.startswith(b"data="):
        body = base64.b64decode(unquote_plus(body[5:].decode()))
    elif "compression=gzip" in query or body[:2] == _GZIP:
        body = _inflate(body)
    if not body.strip():
        return []
    decoded = json.loads(body)
    if isinstance(decoded, dict):
        decoded = decoded.get("batch", [decoded])
    return [item for item in decoded if isinstance(item, dict)]


def _posthog(uploads: Iterable[Upload]) -> Delivered:
    delivered = Delivered()
    for upload in uploads:
        if upload.method != "POST":
            continue
        replay = upload.path.startswith("/s")
        _count(delivered, upload, replay=replay)
        if not replay:
            continue
        query = "&".join(f"{k}={v[0]}" for k, v in parse_qs(upload.query).items())
        for item in _posthog_items(upload.body, query):
            properties = item.get("properties", {})
            delivered.events.extend(
                properties.get("$snapshot_data") or properties.get("$snapshot_items") or []
            )
    return delivered


def _sentry_items(body: bytes) -> Iterable[tuple[dict[str, Any], bytes]]:
    _, _, rest = body.partition(b"\n")
    while rest:
        line, _, rest = rest.partition(b"\n")
        if not line.strip():
            continue
        header = json.loads(line)
        if "length" in header:
            payload, rest = rest[: header["length"]], rest[header["length"] :]
            rest = rest.removeprefix(b"\n")
        else:
            payload, _, rest = rest.partition(b"\n")
        yield header, payload


def _sentry(uploads: Iterable[Upload]) -> Delivered:
    delivered = Delivered()
    for upload in uploads:
        if upload.method != "POST" or not upload.path.endswith("/envelope/"):
            continue
        items = list(_sentry_items(_inflate(upload.body)))
        replay = any(str(header.get("type", "")).startswith("replay") for header, _ in items)
        _count(delivered, upload, replay=replay)
        for header, payload in items:
            if header.get("type") == "replay_recording":
                _, _, recording = payload.partition(b"\n")
                delivered.events.extend(json.loads(_inflate(recording)))
    return delivered


_DECODERS: dict[str, Callable[[Iterable[Upload]], Delivered]] = {
    "replaydesk": _replaydesk,
    "rrweb": _rrweb,
    "posthog": _posthog,
    "sentry": _sentry,
}


def decode_uploads(kind: str, uploads: list[Upload]) -> Delivered:
    """The uploads of one pass of the recorder of that kind, decoded; no recorder, nothing."""
    decoder = _DECODERS.get(kind)
    return decoder(uploads) if decoder else Delivered()


@dataclass(frozen=True)
class PageLoad:
    """One page load of a pass: when its document started and when the visitor left it."""

    started_ms: float
    left_ms: float


@dataclass(frozen=True)
class Completeness:
    """How many of a pass's page loads arrived with each part."""

    loads: int
    snapshots: int
    page_views: int
    tails: int

    @property
    def whole(self) -> bool:
        return self.snapshots == self.page_views == self.tails == self.loads


def completeness(
    events: list[dict[str, Any]], loads: list[PageLoad], ended_ms: float
) -> Completeness:
    """Per page load: a full snapshot, a page view (rrweb's Meta event) and something from its
    last seconds, counted from the events' own timestamps."""
    snapshots = page_views = tails = 0
    for index, load in enumerate(loads):
        until = loads[index + 1].started_ms if index + 1 < len(loads) else ended_ms
        mine = [e for e in events if load.started_ms <= e.get("timestamp", 0) < until]
        snapshots += any(e.get("type") == _FULL_SNAPSHOT for e in mine)
        page_views += any(e.get("type") == _META for e in mine)
        tails += any(e.get("timestamp", 0) >= load.left_ms - TAIL_MS for e in mine)
    return Completeness(len(loads), snapshots, page_views, tails)


def _category(event: dict[str, Any]) -> str:
    kind = event.get("type")
    if kind == _FULL_SNAPSHOT:
        return "full snapshots"
    if kind == _META:
        return "page meta"
    if kind == _INCREMENTAL:
        return _SOURCES.get(event["data"].get("source"), "other incremental")
    if kind == _PLUGIN:
        return "plugin: " + str(event["data"].get("plugin", "?")).split("/")[-1]
    if kind == _CUSTOM:
        return "custom: " + str(event["data"].get("tag", "?")).split("/")[-1]
    return "other"


def _gzip_size(text: bytes) -> int:
    return len(gzip.compress(text, compresslevel=6))


def replaydesk_breakdown(delivered: Delivered) -> list[tuple[str, int, int, float]]:
    """Where ReplayDesk's bytes go: (part, events, JSON bytes, share of the wire bytes).

    A category's share of the compressed bytes is estimated by compressing each batch's events
    of that category apart and scaling those sizes to what the batch weighed as sent; the
    batch envelope, duplicates and uncompressed sending are counted as they are."""
    raw, count, wire = Counter[str](), Counter[str](), Counter[str]()
    for sent, batch in delivered.batches:
        parts: dict[str, list[bytes]] = {}
        for event in batch["events"]:
            text = json.dumps(event, separators=(",", ":")).encode()
            name = _category(event)
            parts.setdefault(name, []).append(text)
            raw[name] += len(text)
            count[name] += 1
        alone = {name: _gzip_size(b",".join(texts)) for name, texts in parts.items()}
        total = sum(alone.values()) or 1
        # A body sent uncompressed is weighed here as its gzip; the excess is its own row.
        body = json.dumps(batch, separators=(",", ":")).encode()
        weight = min(sent, _gzip_size(body))
        envelope = _gzip_size(json.dumps({**batch, "events": []}).encode())
        for name, size in alone.items():
            wire[name] += max(0, weight - envelope) * size / total
        wire["batch envelope (ids, gzip framing)"] += min(weight, envelope)
    wire["sent uncompressed (beyond its gzip)"] += delivered.plain_bytes - delivered.plain_as_gzip
    wire["duplicates (a batch sent twice)"] += delivered.duplicate_bytes
    all_wire = sum(wire.values()) or 1
    rows = [(name, count[name], raw[name], wire[name] / all_wire) for name in wire]
    return sorted(rows, key=lambda row: -row[3])
