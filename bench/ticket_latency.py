"""Ticket event to remote write: how long from a signed webhook to the tracker's comment, in
embedded mode (`replaydesk serve` alone: its private Redis and worker thread, SQLite) and in
Redis mode (the service and a separate `replaydesk worker --threads N`), side by side."""

from __future__ import annotations

import asyncio
import os
import time

import httpx

from bench.figures import format_table, percentile, verdict
from bench.ticket_rig import ticket_rig
from bench.ticket_throughput import THREADS

__all__ = ["run"]

TARGET_P95_SECONDS = 5.0
# A steady 5 tickets a second (18,000 an hour) is far above a busy helpdesk, so queueing
# shows up in the figures.
EVENTS_PER_SECOND = 5.0


class _Mode:
    """One mode's figures: the latency of each written ticket, and what the vendor saw."""

    def __init__(self, label: str, database: str) -> None:
        self.label = label
        self.database = database
        self.latencies: list[float] = []
        self.writes = 0
        self.complete = False


async def _measure_mode(events: int, embedded: bool) -> _Mode:
    async with ticket_rig("latency", embedded=embedded) as rig:
        if not embedded:
            rig.start_worker(threads=THREADS)
            await rig.wait_for_workers(THREADS)
        mode = _Mode(
            "embedded (serve)" if embedded else f"Redis (worker --threads {THREADS})",
            rig.database,
        )
        async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
            await rig.record_sessions(client, events)
            sent: dict[str, float] = {}
            started = time.monotonic()
            for n in range(events):
                pause = started + n / EVENTS_PER_SECOND - time.monotonic()
                if pause > 0:
                    await asyncio.sleep(pause)
                ticket = f"L-{n}"
                sent[ticket] = time.time()
                await rig.ticket_event(client, ticket, n)
            mode.complete = await rig.wait_for(events, max_seconds=120)
        arrivals = rig.arrivals()
        mode.latencies = [arrivals[t] - at for t, at in sent.items() if t in arrivals]
        mode.writes = rig.vendor.posts
    return mode


async def _measure(events: int) -> str:
    load_before = os.getloadavg()[0]
    modes = [await _measure_mode(events, embedded) for embedded in (True, False)]
    p50s = [percentile(m.latencies, 0.5) for m in modes]
    p95s = [percentile(m.latencies, 0.95) for m in modes]
    rows = [
        ["database", *(m.database for m in modes), ""],
        ["events", *(str(events) for _ in modes), f"{EVENTS_PER_SECOND:g}/s, signed webhooks"],
        [
            "written",
            *(f"{len(m.latencies)}" + ("" if m.complete else " TIMED OUT") for m in modes),
            "tickets with their comment",
        ],
        ["comment POSTs", *(str(m.writes) for m in modes), "one per ticket: exactly once"],
        ["p50", *(f"{p:.3f} s" for p in p50s), ""],
        ["p95", *(f"{p:.3f} s" for p in p95s), f"target <= {TARGET_P95_SECONDS:g} s"],
        ["max", *(f"{max(m.latencies, default=float('nan')):.3f} s" for m in modes), ""],
        ["p95 target", *(verdict(p <= TARGET_P95_SECONDS) for p in p95s), ""],
    ]
    return (
        "Ticket event -> remote write (stub vendor on loopback; 1-min load "
        f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after)\n"
        + format_table(["figure", *(m.label for m in modes), "note"], rows)
    )


def run(quick: bool) -> None:
    """Print p50/p95 of webhook-to-comment latency per mode (20 events quick, 200 full)."""
    print(asyncio.run(_measure(20 if quick else 200)), flush=True)


if __name__ == "__main__":
    import sys

    run("--quick" in sys.argv)
