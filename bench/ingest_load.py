"""A Python load generator for the ingest diagnostics (`python -m bench profile`): gzip batches
POSTed with a fixed number in flight, bounded twice, every latency kept.

It measures ReplayDesk alone there. The ingest benchmark itself uses wrk: one Python thread is
saturated before the bare baseline endpoint is, so a ratio to that baseline would measure it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence

import httpx
import msgspec

from bench.rrweb_batches import BatchBody

__all__ = ["LoadResult", "send_batches"]

INGEST_PATH = "/api/v1/ingest"
REQUEST_TIMEOUT_SECONDS = 30.0


class LoadResult(msgspec.Struct, kw_only=True):
    """What one load run measured, client side."""

    sent: int
    accepted: int
    elapsed_seconds: float
    latencies_ms: list[float]
    json_bytes: int
    wire_bytes: int
    statuses: dict[str, int]
    stopped_by_time: bool


async def send_batches(
    base_url: str,
    bodies: Sequence[BatchBody],
    headers: dict[str, str],
    concurrency: int,
    max_seconds: float,
) -> LoadResult:
    """POST every body once, `concurrency` at a time; stop early when `max_seconds` is up.

    A batch counts as accepted on a 202; latency runs from sending to the whole answer.
    """
    request_headers = {
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
        **headers,
    }
    next_index = 0
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    json_bytes = wire_bytes = 0
    started = time.perf_counter()
    deadline = started + max_seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal next_index, json_bytes, wire_bytes
        while next_index < len(bodies) and time.perf_counter() < deadline:
            body = bodies[next_index]
            next_index += 1
            sent_at = time.perf_counter()
            try:
                response = await client.post(INGEST_PATH, content=body.wire)
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1
                continue
            statuses[str(response.status_code)] += 1
            if response.status_code == 202:
                latencies.append((time.perf_counter() - sent_at) * 1000)
                json_bytes += body.json_bytes
                wire_bytes += len(body.wire)

    async with httpx.AsyncClient(
        base_url=base_url,
        headers=request_headers,
        limits=limits,
        timeout=REQUEST_TIMEOUT_SECONDS,
        trust_env=False,
    ) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return LoadResult(
        sent=sum(statuses.values()),
        accepted=len(latencies),
        elapsed_seconds=elapsed,
        latencies_ms=latencies,
        json_bytes=json_bytes,
        wire_bytes=wire_bytes,
        statuses=dict(statuses),
        stopped_by_time=next_index < len(bodies),
    )
