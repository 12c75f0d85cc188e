"""A live view as server-sent events: the session's stored batches after the viewer's last
one, then each batch as it is stored, heartbeats, and the end.

Events (`text/event-stream`):
- `batch` (`id`: its seq): `{"seq", "events"}`, the batch's stored (scrubbed) events;
- `caught-up`: the batches stored before the view began have all been sent;
- `ended` (`{"reason"}`): `final` (the recorder said the page was left), `idle` (nothing
  arrived for the session idle timeout), `gone` (erased or expired), `revoked` or `expired`
  (the link); the stream then closes;
- a comment line every `HEARTBEAT_SECONDS`, which also keeps the session marked watched.

A viewer that reconnects sends `Last-Event-ID` (the last seq it got) and receives the batches
after it; ones that arrive out of seq order meanwhile are in the stored session.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec
from isal import isal_zlib

from service.clock import now_ms
from service.live.feed import LiveBatch, LiveFeed
from service.storage.blobs import BlobStore
from service.storage.session_store import SessionStore

__all__ = ["HEARTBEAT_SECONDS", "live_events"]

HEARTBEAT_SECONDS = 5.0
# The first check comes sooner: a batch stored while the view began is sent within it.
FIRST_CHECK_SECONDS = 1.5
# How soon a viewer's EventSource tries again after a dropped connection.
RETRY_MS = 2000


class _Ended(msgspec.Struct):
    reason: str


def _frame(event: str, data: bytes, event_id: int | None = None) -> bytes:
    head = b"" if event_id is None else b"id: %d\n" % event_id
    # A data line ends at a newline; stored events hold none, but a line per part keeps it so.
    lines = b"".join(b"data: " + line + b"\n" for line in data.split(b"\n"))
    return head + b"event: " + event.encode() + b"\n" + lines + b"\n"


def _batch_frame(batch: LiveBatch) -> bytes:
    return _frame("batch", b'{"seq":%d,"events":%s}' % (batch.seq, batch.events_json), batch.seq)


def _ended(reason: str) -> bytes:
    return _frame("ended", msgspec.json.encode(_Ended(reason)))


async def live_events(
    *,
    session_id: str,
    after_seq: int,
    store: SessionStore,
    blobs: BlobStore,
    feed: LiveFeed,
    idle_timeout_ms: int,
    expires_at: float | None,
    still_allowed: Callable[[], Awaitable[bool]],
) -> AsyncIterator[bytes]:
    """The stream of one live view. `expires_at` (seconds since the epoch) ends it when the
    link expires; `still_allowed` is asked at each heartbeat (revocation)."""
    sent: set[int] = set()

    async def stored_since() -> AsyncIterator[bytes]:
        # What was stored after the newest batch sent: the view's start, and any batch whose
        # publication it missed (stored between the catch-up's read and its publication, or
        # published while Redis did not answer).
        newest = max(sent, default=after_seq)
        for seq, key, journaled in await store.chunks_after(session_id, newest):
            stored = journaled if journaled is not None else await blobs.get(key)
            events = isal_zlib.decompress(stored, wbits=16 + isal_zlib.MAX_WBITS)
            sent.add(seq)
            yield _batch_frame(LiveBatch(seq, False, events.strip()))

    async with feed.follow(session_id) as subscription:
        yield b"retry: %d\n\n" % RETRY_MS
        async for frame in stored_since():
            yield frame
        yield _frame("caught-up", b"{}")
        next_beat = time.monotonic() + FIRST_CHECK_SECONDS
        final = False
        while not final:
            batch = await subscription.next(max(0.0, next_beat - time.monotonic()))
            if batch is not None:
                if batch.seq not in sent and batch.seq > after_seq:
                    sent.add(batch.seq)
                    yield _batch_frame(batch)
                final = batch.final
                continue
            next_beat = time.monotonic() + HEARTBEAT_SECONDS
            if expires_at is not None and time.time() >= expires_at:
                yield _ended("expired")
                return
            if not await still_allowed():
                yield _ended("revoked")
                return
            session = await store.get(session_id)
            if session is None:
                yield _ended("gone")
                return
            async for frame in stored_since():
                yield frame
            if session.final:
                break
            if now_ms() - session.received_last_at >= idle_timeout_ms:
                yield _ended("idle")
                return
            await feed.watch(session_id)
            yield b": live\n\n"
        yield _ended("final")
