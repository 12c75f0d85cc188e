"""The live feed's watch lookups: the batches acknowledged together ask Redis once."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from service.live.feed import LiveFeed, StoredBatch


@pytest.fixture
async def feed(redis_url: str) -> AsyncIterator[tuple[LiveFeed, list[int]]]:
    """A feed on the tests' Redis, and the number of commands each round trip carried."""
    client: Redis[bytes] = Redis.from_url(redis_url)
    trips: list[int] = []
    pipeline = client.pipeline

    def counting_pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = pipeline(*args, **kwargs)
        execute = pipe.execute

        async def counted() -> Any:
            trips.append(len(pipe.command_stack))
            return await execute()

        pipe.execute = counted  # type: ignore[method-assign]
        return pipe

    client.pipeline = counting_pipeline  # type: ignore[method-assign]
    yield LiveFeed(client, "test-secret-key"), trips
    await client.aclose()  # type: ignore[attr-defined]


async def test_lookups_asked_together_share_one_round_trip(
    feed: tuple[LiveFeed, list[int]],
) -> None:
    live, trips = feed
    await live.watch("sess-feed-watched")
    sessions = ["sess-feed-watched", "sess-feed-other-1", "sess-feed-other-2"]
    answers = await asyncio.gather(*(live.watched(s) for s in sessions))
    assert answers == [True, False, False]
    assert trips == [3]
    # A later turn of the loop asks again: a new viewer is seen at once.
    await live.watch("sess-feed-other-1")
    assert await live.watched("sess-feed-other-1")
    assert trips == [3, 1]


async def test_a_page_of_stored_batches_asks_once(feed: tuple[LiveFeed, list[int]]) -> None:
    live, trips = feed
    await live.watch("sess-feed-page-1")
    chunk = gzip.compress(b"[]")
    async with live.follow("sess-feed-page-1") as subscription:
        await live.publish_stored(
            [StoredBatch(f"sess-feed-page-{n}", 0, False, chunk) for n in range(1, 5)]
        )
        got = await subscription.next(2.0)
    assert got is not None and got.seq == 0 and got.events_json == b"[]"
    assert trips[-1] == 4
