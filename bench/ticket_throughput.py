"""Attach jobs per second that one RQ worker sustains, tracker stubbed on loopback."""

from __future__ import annotations

import asyncio

import httpx

from bench.figures import format_table
from bench.ticket_rig import ticket_rig

__all__ = ["run"]


async def _measure(jobs: int) -> str:
    async with ticket_rig("throughput") as rig:
        async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
            await rig.record_sessions(client, jobs)
            # The queue fills first; then one worker drains it.
            for n in range(jobs):
                await rig.attach(client, f"J-{n}", n)
        worker = rig.start_worker(burst=True)
        complete = await rig.wait_for(jobs, max_seconds=600)
        await asyncio.to_thread(worker.wait, 60)
        arrivals = sorted(rig.arrivals().values())
        database = rig.database
    # From the first write to the last: the worker's start-up (imports) is not a job's cost.
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else float("nan")
    rate = (len(arrivals) - 1) / span if span else float("nan")
    rows = [
        ["jobs", str(jobs), "attach requests queued before the worker starts"],
        ["written", str(len(arrivals)), "" if complete else "TIMED OUT"],
        ["drain time", f"{span:.2f} s", "first to last comment"],
        ["throughput", f"{rate:.1f} jobs/s", "one worker (RQ forks a work horse per job)"],
        ["per job", f"{1000 / rate:.0f} ms", "report from the database, link, POST, record"],
    ]
    return (
        f"Attach jobs one worker sustains (Redis, {database}, stub vendor on loopback)\n"
        + format_table(["figure", "value", "note"], rows)
    )


def run(quick: bool) -> None:
    """Print jobs/second one worker sustains (50 jobs quick, 500 full)."""
    print(asyncio.run(_measure(50 if quick else 500)), flush=True)


if __name__ == "__main__":
    import sys

    run("--quick" in sys.argv)
