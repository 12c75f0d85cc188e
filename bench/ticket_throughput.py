"""Attach jobs per second that one RQ worker process sustains, forking, not forking and with
several jobs at once on threads, tracker stubbed on loopback. The kinds take turns (alternated
rounds on one service, database and Redis), so a drift in the machine's speed hits all alike;
the ratios are of the same run."""

from __future__ import annotations

import asyncio
import os
import statistics

import httpx

from bench.figures import format_table, verdict
from bench.ticket_rig import TicketRig, ticket_rig

__all__ = ["THREADS", "run"]

ROUNDS = 3
# `replaydesk worker --threads N` as the benchmark runs it.
THREADS = 4
TARGET_JOBS_PER_SECOND = 50.0
# (label, fork, threads, note)
KINDS = (
    ("forking (replaydesk worker)", True, 0, "a work horse forked per job"),
    ("non-forking (--no-fork)", False, 0, "every job in the worker process"),
    (f"threads (--threads {THREADS})", False, THREADS, f"up to {THREADS} jobs at once"),
)


async def _round(
    rig: TicketRig, client: httpx.AsyncClient, tag: str, jobs: int, fork: bool, threads: int
) -> float:
    """Queue `jobs` attach requests, then let one worker drain them; jobs per second from its
    first write to its last (the worker's start-up is not a job's cost)."""
    before = set(rig.arrivals())
    for n in range(jobs):
        await rig.attach(client, f"{tag}-{n}", n)
    worker = rig.start_worker(burst=True, fork=fork, threads=threads)
    complete = await rig.wait_for(len(before) + jobs, max_seconds=600)
    await asyncio.to_thread(worker.wait, 60)
    if not complete:
        raise RuntimeError(f"round {tag} TIMED OUT")
    times = sorted(t for ticket, t in rig.arrivals().items() if ticket not in before)
    return (len(times) - 1) / (times[-1] - times[0])


async def _measure(jobs: int) -> str:
    rates: list[list[float]] = [[] for _ in KINDS]
    load_before = os.getloadavg()[0]
    async with ticket_rig("throughput") as rig:
        async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
            await rig.record_sessions(client, jobs)
            for number in range(ROUNDS):
                # Each kind goes first in one round, last in another.
                shift = number % len(KINDS)
                for index in [*range(shift, len(KINDS)), *range(shift)]:
                    _, fork, threads, _ = KINDS[index]
                    tag = f"k{index}r{number}"
                    rates[index].append(await _round(rig, client, tag, jobs, fork, threads))
        database = rig.database
    medians = [statistics.median(r) for r in rates]
    rows = [
        [label, f"{median:.1f} jobs/s", " ".join(f"{r:.1f}" for r in per_round), note]
        for (label, _, _, note), median, per_round in zip(KINDS, medians, rates, strict=True)
    ]
    rows += [
        ["non-forking / forking", f"{medians[1] / medians[0]:.2f}", "", "same run, alternated"],
        ["threads / non-forking", f"{medians[2] / medians[1]:.2f}", "", "same run, alternated"],
        [
            "best",
            f"{max(medians):.1f} jobs/s",
            "",
            f"target >= {TARGET_JOBS_PER_SECOND:g}: "
            + verdict(max(medians) >= TARGET_JOBS_PER_SECOND),
        ],
    ]
    return (
        f"Attach jobs one worker process sustains ({ROUNDS} rounds of {jobs} each; Redis, "
        f"{database}, stub vendor on loopback; a job builds the report from the database, mints "
        f"a link, POSTs and records; 1-min load {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after)\n"
        + format_table(["worker", "median", "per round", "note"], rows)
    )


def run(quick: bool) -> None:
    """Print jobs/second one worker process sustains in each mode (20 jobs a round quick, 150
    full)."""
    print(asyncio.run(_measure(20 if quick else 150)), flush=True)


if __name__ == "__main__":
    import sys

    run("--quick" in sys.argv)
