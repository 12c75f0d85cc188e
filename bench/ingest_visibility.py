"""After a ReplayDesk round: is every acknowledged batch stored within 2 s of the round's end,
and does the API show its events?"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import httpx
import msgspec
from sqlalchemy import select

from bench.ingest_requests import RequestSet, SessionTemplate
from bench.ingest_server import BENCH_API_KEY
from service.storage.database import create_engine
from service.storage.models import ChunkRow

__all__ = [
    "LOOKUP_SAMPLE",
    "VISIBLE_WITHIN_SECONDS",
    "Visibility",
    "acked_batches",
    "check_visibility",
    "look_up",
]

VISIBLE_WITHIN_SECONDS = 2.0
# Sessions looked up through the API after each round: the last ones acknowledged.
LOOKUP_SAMPLE = 8
_RETRY_SECONDS = 0.05


class Visibility(msgspec.Struct, kw_only=True):
    """What the checks after one round found."""

    acked: int
    missing: int  # acknowledged, and not stored 2 s after the round
    stored_after_ms: float | None  # when every acked batch was found, after the round's end
    lookups_complete: int = 0  # lookups whose answer held every acknowledged batch's events
    lookup_ms: list[float] = msgspec.field(default_factory=list)


def acked_batches(acked: Sequence[str]) -> set[tuple[str, int]]:
    """The (session_id, seq) pairs of the Lua script's "session_id seq" entries."""
    pairs = set()
    for entry in acked:
        session, seq = entry.split(" ")
        pairs.add((session, int(seq)))
    return pairs


async def _stored(database_url: str, tag: str) -> set[tuple[str, int]]:
    engine = create_engine(database_url)
    query = select(ChunkRow.session_id, ChunkRow.seq).where(ChunkRow.session_id.like(f"{tag}-%"))
    try:
        async with engine.connect() as conn:
            return {(row.session_id, row.seq) for row in await conn.execute(query)}
    finally:
        await engine.dispose()


def _last_sessions(acked: Sequence[str], count: int) -> list[str]:
    sessions: list[str] = []
    for entry in reversed(acked):
        session = entry.split(" ")[0]
        if session not in sessions:
            sessions.append(session)
        if len(sessions) == count:
            break
    return sessions


async def check_visibility(
    *, database_url: str, acked: Sequence[str], requests: RequestSet, round_ended: float
) -> Visibility:
    """Look for every acknowledged batch in the store until 2 s after `round_ended`
    (time.monotonic()). The moves from the chunk journal to the blob store go on meanwhile."""
    wanted = acked_batches(acked)
    missing = set(wanted)
    stored_after = None
    while True:
        missing -= await _stored(database_url, requests.tag)
        now = time.monotonic()
        if not missing:
            stored_after = (now - round_ended) * 1000
            break
        if now - round_ended > VISIBLE_WITHIN_SECONDS:
            break
        await asyncio.sleep(_RETRY_SECONDS)
    return Visibility(acked=len(wanted), missing=len(missing), stored_after_ms=stored_after)


async def look_up(
    visibility: Visibility,
    *,
    base_url: str,
    acked: Sequence[str],
    requests: RequestSet,
    templates: Sequence[SessionTemplate],
) -> None:
    """Fetch the events of the last sessions acknowledged through
    `GET /api/v1/sessions/{id}/events`; each answer must hold every acknowledged batch's events."""
    expected: dict[str, int] = {}
    for session, seq in acked_batches(acked):
        counts = templates[requests.sessions[session]].event_counts
        expected[session] = expected.get(session, 0) + counts[seq]
    headers = {"Authorization": f"Bearer {BENCH_API_KEY}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, trust_env=False) as client:
        for session in _last_sessions(acked, LOOKUP_SAMPLE):
            started = time.perf_counter()
            response = await client.get(f"/api/v1/sessions/{session}/events", timeout=30)
            visibility.lookup_ms.append((time.perf_counter() - started) * 1000)
            if response.status_code == 200 and len(response.json()) >= expected[session]:
                visibility.lookups_complete += 1
