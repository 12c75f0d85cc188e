"""The live feed: batches of watched sessions, from the process that stored them to every
viewer that follows them, through Redis pub/sub (the embedded Redis in embedded mode, the
shared one across replicas).

A viewer that follows a session marks it watched (a key with a short expiry, renewed by each
heartbeat); only watched sessions' batches are published, so an unwatched session costs ingest
one key lookup. Keys and channels name a keyed hash of the session ID, never the ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, NamedTuple

import msgspec
from isal import isal_zlib
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from service.jobs.embedded import EmbeddedRedis
from service.settings import Settings

__all__ = ["LiveBatch", "LiveFeed", "StoredBatch", "Subscription", "open_live_redis"]

log = logging.getLogger(__name__)

# A session stays watched this long after its viewer's last heartbeat: a closed tab stops
# the faster sending within this time.
WATCH_SECONDS = 15
# A customer's answer to live viewing is kept this long after their recorder last said it.
CONSENT_SECONDS = 2 * 3600
# After Redis failed to answer, ingest stops asking for this long (it never waits on it).
BACKOFF_SECONDS = 5.0


# Commands fail fast when Redis is away (the ingest path asks it about every batch).
REDIS_TIMEOUT_SECONDS = 2.0


def open_live_redis(settings: Settings) -> Redis[bytes]:
    """An asyncio client of the Redis the service uses: the shared one, or the embedded one on
    the data dir's socket (in any process of the service, its processing workers included)."""
    options: dict[str, Any] = {"socket_connect_timeout": REDIS_TIMEOUT_SECONDS}
    if settings.redis_url:
        return Redis.from_url(settings.redis_url, **options)
    return Redis(unix_socket_path=str(EmbeddedRedis(settings.data_dir).socket), **options)


class LiveBatch(msgspec.Struct, frozen=True):
    """One stored batch as the feed carries it: its events are the stored (scrubbed) JSON."""

    seq: int
    final: bool
    events_json: bytes


def _encode(batch: LiveBatch) -> bytes:
    return b"%d %d\n" % (batch.seq, 1 if batch.final else 0) + batch.events_json


def _decode(message: bytes) -> LiveBatch | None:
    head, _, events_json = message.partition(b"\n")
    parts = head.split(b" ")
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        return None
    return LiveBatch(int(parts[0]), parts[1] == b"1", events_json)


class Subscription:
    """The batches published for one session since the subscription began."""

    def __init__(self, pubsub: PubSub) -> None:
        self._pubsub = pubsub

    async def next(self, wait_seconds: float) -> LiveBatch | None:
        """The next batch, or None when none came within `wait_seconds`."""
        deadline = time.monotonic() + wait_seconds
        while (left := deadline - time.monotonic()) > 0:
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
            if message is not None and message.get("type") == "message":
                batch = _decode(bytes(message["data"]))
                if batch is not None:
                    return batch
        return None


class StoredBatch(NamedTuple):
    """A batch just stored, as `LiveFeed.publish_stored` takes it."""

    session_id: str
    seq: int
    final: bool
    chunk: bytes  # gzip


class _Lookups:
    """Watch lookups asked for together, and the answer they share."""

    def __init__(self, answer: asyncio.Future[set[str]]) -> None:
        self.session_ids: set[str] = set()
        self.answer = answer


class LiveFeed:
    """Publishes watched sessions' batches and follows one session's."""

    def __init__(
        self, redis: Redis[bytes], secret_key: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._redis = redis
        self._key = hashlib.sha256(b"replaydesk-live:" + secret_key.encode()).digest()
        self._clock = clock
        self._quiet_until = 0.0
        # The watch lookups gathered in this turn of the event loop, and those sent.
        self._asking: _Lookups | None = None
        self._sent: set[asyncio.Future[None]] = set()

    def _name(self, session_id: str) -> str:
        return hashlib.blake2b(session_id.encode(), key=self._key, digest_size=16).hexdigest()

    def _watch_key(self, session_id: str) -> str:
        return f"replaydesk:live:watch:{self._name(session_id)}"

    async def watch(self, session_id: str) -> None:
        """Mark the session watched for the next `WATCH_SECONDS`."""
        await self._redis.set(self._watch_key(session_id), b"1", ex=WATCH_SECONDS)

    async def watched(self, session_id: str) -> bool:
        """Whether a viewer follows the session. The lookups asked for in one turn of the event
        loop (the batches acknowledged together) go to Redis in one round trip. (A session
        sends a batch every few seconds, so remembering answers would save little and delay a
        new viewer.) False, without waiting, while Redis does not answer: ingest never stalls
        on the live feed."""
        if self._clock() < self._quiet_until:
            return False
        asking = self._asking
        if asking is None:
            asking = self._asking = _Lookups(asyncio.get_running_loop().create_future())
            asyncio.get_running_loop().call_soon(self._ask_together, asking)
        asking.session_ids.add(session_id)
        return session_id in await asyncio.shield(asking.answer)

    def _ask_together(self, asking: _Lookups) -> None:
        self._asking = None
        sent = asyncio.ensure_future(self._answer(asking))
        self._sent.add(sent)
        sent.add_done_callback(self._sent.discard)

    async def _answer(self, asking: _Lookups) -> None:
        watched: set[str] = set()
        try:
            watched = await self.watched_sessions(sorted(asking.session_ids))
        finally:
            asking.answer.set_result(watched)

    async def watched_sessions(self, session_ids: Sequence[str]) -> set[str]:
        """Which of these sessions a viewer follows, in one round trip to Redis; none while
        Redis does not answer (see `watched`)."""
        now = self._clock()
        if not session_ids or now < self._quiet_until:
            return set()
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for session_id in session_ids:
                    pipe.exists(self._watch_key(session_id))
                answers = await pipe.execute()
        except Exception as exc:
            self._quiet_until = now + BACKOFF_SECONDS
            log.warning("the live feed's Redis did not answer (%s)", type(exc).__name__)
            return set()
        return {session_id for session_id, n in zip(session_ids, answers, strict=True) if n}

    def _consent_key(self, session_id: str) -> str:
        return f"replaydesk:live:consent:{self._name(session_id)}"

    async def note_consent(self, session_id: str, consent: str) -> None:
        """What the customer said to live viewing, as their recorder's latest batch says (a
        recorder that asks sends it with every batch); never raises."""
        try:
            await self._redis.set(
                self._consent_key(session_id), consent.encode(), ex=CONSENT_SECONDS
            )
        except Exception as exc:
            log.warning("a live consent was not noted (%s)", type(exc).__name__)

    async def consent(self, session_id: str) -> str | None:
        """The customer's answer, when their recorder asks them: `asked`, `granted` or
        `declined`; None when it does not ask. Raises when Redis does not answer (a caller
        that streams must then not)."""
        value = await self._redis.get(self._consent_key(session_id))
        return None if value is None else bytes(value).decode()

    async def publish_stored(self, batches: Sequence[StoredBatch]) -> None:
        """`publish` each of these stored batches, looking up which sessions are watched in
        one round trip for all."""
        watched = await self.watched_sessions(sorted({b.session_id for b in batches}))
        for b in batches:
            if b.session_id in watched:
                await self._publish_watched(b.session_id, b.seq, b.final, b.chunk)

    async def publish(self, session_id: str, seq: int, final: bool, chunk: bytes) -> None:
        """Send a stored batch (its gzipped chunk) to the session's viewers, if it has any and
        the customer did not withhold it; never raises: a live view that misses a batch fetches
        it from storage."""
        if await self.watched(session_id):
            await self._publish_watched(session_id, seq, final, chunk)

    async def _publish_watched(self, session_id: str, seq: int, final: bool, chunk: bytes) -> None:
        try:
            if await self.consent(session_id) not in (None, "granted"):
                return
        except Exception:
            return
        events = isal_zlib.decompress(chunk, wbits=16 + isal_zlib.MAX_WBITS)
        batch = LiveBatch(seq, final, events.strip())
        channel = f"replaydesk:live:batches:{self._name(session_id)}"
        try:
            await self._redis.publish(channel, _encode(batch))
        except Exception as exc:
            self._quiet_until = self._clock() + BACKOFF_SECONDS
            log.warning("a live batch was not published (%s)", type(exc).__name__)

    async def close(self) -> None:
        """Close the Redis connections."""
        # types-redis predates redis 5's aclose.
        await self._redis.aclose()  # type: ignore[attr-defined]

    @contextlib.asynccontextmanager
    async def follow(self, session_id: str) -> AsyncIterator[Subscription]:
        """Subscribe to the session's batches (from this moment on) and mark it watched."""
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(f"replaydesk:live:batches:{self._name(session_id)}")
            await self.watch(session_id)
            yield Subscription(pubsub)
        finally:
            with contextlib.suppress(Exception):
                # types-redis predates redis 5's aclose.
                await asyncio.shield(pubsub.aclose())  # type: ignore[attr-defined]
