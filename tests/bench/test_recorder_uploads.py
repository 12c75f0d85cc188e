"""The recorder comparison's reading of what arrived: each recorder's uploads decoded, duplicates
and uncompressed bodies told apart, and a page load counted whole only with all its parts."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

from bench.recorder_site import Upload
from bench.recorder_uploads import PageLoad, completeness, decode_uploads, replaydesk_breakdown


def _upload(path: str, body: bytes, query: str = "") -> Upload:
    return Upload(0.0, "POST", path, query, {}, 100, body)


def _event(kind: int, timestamp: int, **data: Any) -> dict[str, Any]:
    return {"type": kind, "timestamp": timestamp, "data": data}


def _batch(seq: int, events: list[dict[str, Any]]) -> bytes:
    return json.dumps({"session_id": "s1", "seq": seq, "events": events}).encode()


def test_a_replaydesk_batch_sent_twice_counts_as_bytes_but_once_as_events() -> None:
    first = _batch(0, [_event(4, 1000, href="/"), _event(2, 1001, node={})])
    last = _batch(1, [_event(3, 1500, source=1, positions=[])])
    uploads = [
        _upload("/api/v1/ingest", gzip.compress(first)),
        _upload("/api/v1/ingest", last),  # a beacon's plain JSON
        _upload("/api/v1/ingest", gzip.compress(last)),  # the same batch again
        _upload("/elsewhere", b"ignored"),
    ]
    delivered = decode_uploads("replaydesk", uploads)
    assert [e["type"] for e in delivered.events] == [4, 2, 3]
    assert delivered.requests == 3
    assert delivered.duplicate_bytes == len(gzip.compress(last))
    assert delivered.plain_bytes == len(last)
    assert delivered.replay_bytes == sum(len(u.body) for u in uploads[:3])
    parts = {name: share for name, _, _, share in replaydesk_breakdown(delivered)}
    assert parts["duplicates (a batch sent twice)"] > 0
    assert abs(sum(parts.values()) - 1) < 1e-9


def test_sentry_envelopes_and_posthog_snapshots_are_read_to_rrweb_events() -> None:
    recording = b'{"segment_id":0}\n' + zlib.compress(json.dumps([_event(2, 5)]).encode())
    envelope = b"\n".join(
        [
            b'{"event_id":"e"}',
            b'{"type":"replay_event"}',
            b'{"replay_id":"r"}',
            json.dumps({"type": "replay_recording", "length": len(recording)}).encode(),
            recording,
        ]
    )
    sentry = decode_uploads("sentry", [_upload("/api/1/envelope/", envelope)])
    assert [e["type"] for e in sentry.events] == [2]
    assert sentry.replay_bytes == len(envelope)

    snapshot = [{"event": "$snapshot", "properties": {"$snapshot_data": [_event(4, 7)]}}]
    posthog = decode_uploads(
        "posthog",
        [
            _upload("/s/", gzip.compress(json.dumps(snapshot).encode()), "compression=gzip-js"),
            _upload("/e/", b'{"event":"$pageview"}'),
        ],
    )
    assert [e["type"] for e in posthog.events] == [4]
    assert posthog.other_bytes == len(b'{"event":"$pageview"}')


def test_a_page_load_is_whole_only_with_its_snapshot_page_view_and_last_seconds() -> None:
    loads = [PageLoad(1000, 9000), PageLoad(10_000, 20_000)]
    events = [
        _event(4, 1100),
        _event(2, 1101),
        _event(3, 8500),  # within the first page's last two seconds
        _event(4, 10_100),
        _event(2, 10_101),
        _event(3, 15_000),  # the second page's last seconds never arrived
    ]
    done = completeness(events, loads, ended_ms=21_000)
    assert (done.snapshots, done.page_views, done.tails) == (2, 2, 1)
    assert not done.whole
    assert completeness([*events, _event(5, 19_500)], loads, ended_ms=21_000).whole
