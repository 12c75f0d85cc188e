"""Attach jobs per second that one RQ worker sustains, forking and not, tracker stubbed on
loopback. The two kinds take turns (alternated rounds on one service, database and Redis), so a
drift in the machine's speed hits both alike; the ratio is of the same run."""

from __future__ import annotations

import asyncio
import statistics

import httpx

from bench.figures import format_table
from bench.ticket_rig import TicketRig, ticket_rig

__all__ = ["run"]

ROUNDS = 3


async def _round(
    rig: TicketRig, client: httpx.AsyncClient, tag: str, jobs: int, fork: bool
) -> float:
    """Queue `jobs` attach requests, then let one worker drain them; jobs per second from its
    first write to its last (the worker's start-up is not a job's cost)."""
    before = set(rig.arrivals())
    for n in range(jobs):
        await rig.attach(client, f"{tag}-{n}", n)
    worker = rig.start_worker(burst=True, fork=fork)
    complete = await rig.wait_for(len(before) + jobs, max_seconds=600)
    await asyncio.to_thread(worker.wait, 60)
    if not complete:
        raise RuntimeError(f"round {tag} TIMED OUT")
    times = sorted(t for ticket, t in rig.arrivals().items() if ticket not in before)
    return (len(times) - 1) / (times[-1] - times[0])


async def _measure(jobs: int) -> str:
    rates: dict[bool, list[float]] = {True: [], False: []}
    async with ticket_rig("throughput") as rig:
        async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
            await rig.record_sessions(client, jobs)
            for number in range(ROUNDS):
                order = (True, False) if number % 2 == 0 else (False, True)
                for fork in order:
                    tag = f"{'fork' if fork else 'nofork'}{number}"
                    rates[fork].append(await _round(rig, client, tag, jobs, fork))
        database = rig.database
    forking, simple = statistics.median(rates[True]), statistics.median(rates[False])
    rows = [
        [
            "forking (replaydesk worker)",
            f"{forking:.1f} jobs/s",
            " ".join(f"{r:.1f}" for r in rates[True]),
            "a work horse forked per job",
        ],
        [
            "non-forking (--no-fork)",
            f"{simple:.1f} jobs/s",
            " ".join(f"{r:.1f}" for r in rates[False]),
            "every job in the worker process",
        ],
        ["non-forking / forking", f"{simple / forking:.2f}", "", "same run, alternated rounds"],
    ]
    return (
        f"Attach jobs one worker sustains ({ROUNDS} rounds of {jobs} each; Redis, {database}, "
        "stub vendor on loopback; a job builds the report from the database, mints a link, "
        "POSTs and records)\n" + format_table(["worker", "median", "per round", "note"], rows)
    )


def run(quick: bool) -> None:
    """Print jobs/second one worker sustains, forking and not (20 jobs a round quick, 150 full)."""
    print(asyncio.run(_measure(20 if quick else 150)), flush=True)


if __name__ == "__main__":
    import sys

    run("--quick" in sys.argv)
