"""A long session's event stream shares the event loop with every other request."""

from __future__ import annotations

import asyncio
import gzip
from itertools import pairwise
from typing import Any

import msgspec

from service.sessions.reader import SessionReader
from service.storage.blobs import BlobStore

CHUNKS = 30


class ChunkIndex:
    """The two store calls the event stream makes, over chunks half journaled, half moved."""

    def __init__(self, keys: list[tuple[str, bytes | None]]) -> None:
        self.keys = keys

    async def get(self, session_id: str) -> object:
        return object()

    async def session_chunks(self, session_id: str) -> list[tuple[str, bytes | None]]:
        return self.keys


async def test_every_chunk_of_the_stream_gives_other_requests_a_turn(blobs: BlobStore) -> None:
    keys: list[tuple[str, bytes | None]] = []
    for index in range(CHUNKS):
        stored = gzip.compress(msgspec.json.encode([{"type": 3, "timestamp": index, "data": {}}]))
        key = f"sessions/s/{index:04d}.json.gz"
        if index % 2:
            await blobs.put(key, stored)
            keys.append((key, None))
        else:
            keys.append((key, stored))
    reader = SessionReader(ChunkIndex(keys), blobs, 1800)  # type: ignore[arg-type]

    turns = 0
    turns_at_chunk: list[int] = []

    async def other_request() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_request())
    await asyncio.sleep(0)
    body = b""
    async for part in await reader.stream_events("s"):
        body += part
        turns_at_chunk.append(turns)
    other.cancel()

    events: list[dict[str, Any]] = msgspec.json.decode(body)
    assert [event["timestamp"] for event in events] == list(range(CHUNKS))
    # The other task ran between any two chunks, journaled or not.
    chunk_turns = turns_at_chunk[1:-1]
    assert all(later > earlier for earlier, later in pairwise(chunk_turns))
