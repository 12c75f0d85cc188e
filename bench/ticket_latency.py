"""Ticket event to remote write: how long from a signed webhook to the tracker's comment."""

from __future__ import annotations

import asyncio
import time

import httpx

from bench.figures import format_table, percentile, verdict
from bench.ticket_rig import ticket_rig

__all__ = ["run"]

TARGET_P95_SECONDS = 5.0
# A steady 5 tickets a second (18,000 an hour) is far above a busy helpdesk and about half of what
# one worker drains (bench.ticket_throughput), so queueing shows up in the figures.
EVENTS_PER_SECOND = 5.0


async def _measure(events: int) -> str:
    async with ticket_rig("latency") as rig:
        rig.start_worker()
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
            complete = await rig.wait_for(events, max_seconds=120)
        arrivals = rig.arrivals()
        latencies = [arrivals[ticket] - at for ticket, at in sent.items() if ticket in arrivals]
        database = rig.database
        writes = rig.vendor.posts
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    rows = [
        ["events", str(events), f"{EVENTS_PER_SECOND:g}/s, one per ticket, signed webhooks"],
        [
            "written",
            f"{len(latencies)}",
            f"{writes} comment POSTs" + ("" if complete else ", TIMED OUT"),
        ],
        ["p50", f"{p50:.3f} s", ""],
        [
            "p95",
            f"{p95:.3f} s",
            f"target <= {TARGET_P95_SECONDS:g} s: {verdict(p95 <= TARGET_P95_SECONDS)}",
        ],
        ["max", f"{max(latencies, default=float('nan')):.3f} s", ""],
    ]
    return (
        f"Ticket event -> remote write (1 `replaydesk worker`-style RQ worker, Redis, {database}, "
        "stub vendor on loopback)\n" + format_table(["figure", "value", "note"], rows)
    )


def run(quick: bool) -> None:
    """Print p50/p95 of webhook-to-comment latency (20 events quick, 200 full)."""
    print(asyncio.run(_measure(20 if quick else 200)), flush=True)


if __name__ == "__main__":
    import sys

    run("--quick" in sys.argv)
