"""The ingest benchmark's requests, built before a round and read by `ingest_wrk.lua`.

Sessions are replayed from templates: the real recorder's batches of the recorded scenarios in
`tests/recorded/sessions/` (a checkout with a reload, a single-page app), and a busy page of
synthetic batches of several sizes (`bench/rrweb_batches.py`). Each replay is a new session
(fresh session and user IDs, seq from 0), so ReplayDesk stores every batch instead of answering
"duplicate". Bodies are what the recorder sends: its JSON envelope, gzip at the browser's level,
the `sent_at` query parameter of the recording. Each wrk thread gets a file of its own sessions;
`pool` sessions of a thread are open at once and take turns, so a session's next batch leaves
well after its previous one was answered.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import msgspec

from bench.rrweb_batches import BATCH_SPAN_MS, RECORDER_GZIP_LEVEL, batch_json

__all__ = [
    "INGEST_PATH",
    "RECORDED_SESSIONS",
    "RequestSet",
    "SessionTemplate",
    "batch_body",
    "gzip_like_recorder",
    "session_id",
    "session_stream",
    "session_templates",
    "write_requests",
]

INGEST_PATH = "/api/v1/ingest"
RECORDED_DIR = Path(__file__).resolve().parent.parent / "tests" / "recorded" / "sessions"
RECORDED_SESSIONS = ("demo-checkout", "spa-routes")
# A busy page's batches, KiB of JSON each: the first carries the page's full snapshot.
BUSY_PAGE_KIB = (48, 12, 24, 48, 8, 32)
_ENCODER = msgspec.json.Encoder()


class SessionTemplate(msgspec.Struct, frozen=True, kw_only=True):
    """One session's batches as the recorder sent them, without their session and user IDs."""

    name: str
    events: list[bytes]  # each batch's events, a JSON array
    event_counts: list[int]
    sent_at: list[int]  # the recorder's clock as each batch left (the ?sent_at= parameter)


class RequestSet(msgspec.Struct, kw_only=True):
    """The request files of one round, and what is in them."""

    directory: Path
    tag: str  # every session ID of the set starts with it
    requests: int
    json_bytes: int
    wire_bytes: int
    # Which template each session replays (an index into the templates).
    sessions: dict[str, int]


def _recorded(name: str) -> SessionTemplate:
    lines = gzip.decompress((RECORDED_DIR / f"{name}.jsonl.gz").read_bytes()).splitlines()
    sent = [json.loads(line) for line in lines]
    return SessionTemplate(
        name=name,
        events=[_ENCODER.encode(item["batch"]["events"]) for item in sent],
        event_counts=[len(item["batch"]["events"]) for item in sent],
        sent_at=[int(item["sent_at"]) for item in sent],
    )


def _busy_page() -> SessionTemplate:
    events: list[bytes] = []
    counts: list[int] = []
    sent_at: list[int] = []
    for seq, kib in enumerate(BUSY_PAGE_KIB):
        batch = msgspec.json.decode(batch_json("busy-page", seq, "busy-user", kib * 1024))
        events.append(_ENCODER.encode(batch["events"]))
        counts.append(len(batch["events"]))
        # The recorder sends a batch when its span is over.
        sent_at.append(max(int(event["timestamp"]) for event in batch["events"]) + BATCH_SPAN_MS)
    return SessionTemplate(name="busy-page", events=events, event_counts=counts, sent_at=sent_at)


def session_templates() -> list[SessionTemplate]:
    """The recorded sessions and the busy page, in the order new sessions take them."""
    return [*(_recorded(name) for name in RECORDED_SESSIONS), _busy_page()]


def session_id(tag: str, thread: int, number: int) -> str:
    """A session ID the service accepts ([A-Za-z0-9_-], 8 to 128 characters)."""
    return f"{tag}-t{thread}-{number:06d}"


def batch_body(session: str, seq: int, user_id: str, events: bytes) -> bytes:
    """The recorder's JSON envelope (`seal` in recorder/src/recorder.ts): same keys, same order,
    no spaces. The IDs are plain ASCII here, so they need no escaping."""
    head = f'{{"session_id":"{session}","seq":{seq},"user_id":"{user_id}","events":'
    return head.encode() + events + b"}"


def gzip_like_recorder(data: bytes) -> bytes:
    """gzip as a browser's CompressionStream("gzip") makes it: zlib at its default level."""
    compressor = zlib.compressobj(RECORDER_GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def session_stream(lengths: Sequence[int], count: int, pool: int) -> Iterator[tuple[int, int, int]]:
    """(session number, template index, seq) of `count` requests.

    `pool` sessions are open at once and send in turn; a session that sent its last batch is
    replaced by a new one, which replays the next template in turn. Each session's batches
    come in seq order, `pool` requests apart.
    """
    open_sessions = [(number, number % len(lengths), 0) for number in range(pool)]
    next_number = pool
    slot = 0
    for _ in range(count):
        number, template, seq = open_sessions[slot]
        yield number, template, seq
        if seq + 1 < lengths[template]:
            open_sessions[slot] = (number, template, seq + 1)
        else:
            open_sessions[slot] = (next_number, next_number % len(lengths), 0)
            next_number += 1
        slot = (slot + 1) % pool


def write_requests(
    directory: Path,
    tag: str,
    templates: Sequence[SessionTemplate],
    *,
    threads: int,
    per_thread: int,
    pool: int,
) -> RequestSet:
    """Write `per_thread` requests for each of `threads` wrk threads into `directory`:
    `thread-N.bin` (N from 1), records of `<path> <length>\\n<gzip body>`."""
    directory.mkdir(parents=True)
    lengths = [len(template.events) for template in templates]
    found = RequestSet(
        directory=directory, tag=tag, requests=0, json_bytes=0, wire_bytes=0, sessions={}
    )
    for thread in range(1, threads + 1):
        with (directory / f"thread-{thread}.bin").open("wb") as out:
            for number, index, seq in session_stream(lengths, per_thread, pool):
                template = templates[index]
                session = session_id(tag, thread, number)
                found.sessions[session] = index
                user = f"user-{session}"
                data = batch_body(session, seq, user, template.events[seq])
                wire = gzip_like_recorder(data)
                path = f"{INGEST_PATH}?sent_at={template.sent_at[seq]}"
                out.write(f"{path} {len(wire)}\n".encode() + wire)
                found.requests += 1
                found.json_bytes += len(data)
                found.wire_bytes += len(wire)
    return found
