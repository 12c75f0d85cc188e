"""`python -m bench [NAME ...] [--quick]`: run benchmarks and print their figures."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time
from collections.abc import Awaitable, Callable
from datetime import date

from bench import (
    error_groups,
    ingest_throughput,
    latest_lookup,
    live_view,
    recorder_bundle,
    recorder_compare,
    recorder_main_thread,
    recorder_payload,
    ticket_latency,
    ticket_throughput,
)
from bench.concurrency_sweep import run_concurrency_sweep
from bench.ingest_ab import run_ingest_ab
from bench.ingest_stages import run_ingest_stages
from bench.profile_ingest import run_ingest_profile
from bench.replay_fidelity import run_fidelity_benchmark
from bench.viewer_first_frame import run_viewer_benchmark

BENCHMARKS = ("ingest", "lookup", "viewer", "fidelity", "recorder", "tickets", "errors", "live")
# Run only when named: ingest diagnostics, and ingest before and after a change.
_DIAGNOSTICS = ("profile", "ingest-ab")
# These print their own figures as they go; their report line only names them.
_PRINTING: dict[str, tuple[Callable[[bool], None], ...]] = {
    "recorder": (
        recorder_bundle.run,
        recorder_payload.run,
        recorder_main_thread.run,
        recorder_compare.run,
    ),
    "tickets": (ticket_latency.run, ticket_throughput.run),
    "errors": (error_groups.run,),
    "live": (live_view.run,),
}


def _runner(name: str, quick: bool, against: str) -> Callable[[], Awaitable[str]]:
    if name == "ingest-ab":
        return lambda: run_ingest_ab(against, quick)
    if name == "ingest":
        config = ingest_throughput.QUICK if quick else ingest_throughput.FULL
        return lambda: ingest_throughput.run_ingest_benchmark(config)
    if name == "lookup":
        sizes = latest_lookup.QUICK if quick else latest_lookup.FULL
        return lambda: latest_lookup.run_lookup_benchmark(sizes)
    if name == "viewer":
        return lambda: run_viewer_benchmark(quick)
    if name == "fidelity":
        return lambda: run_fidelity_benchmark(quick)
    if name in _PRINTING:
        return lambda: _run_printing(name, quick)
    return _profile


async def _profile() -> str:
    return "\n\n".join(
        [await run_ingest_stages(), await run_concurrency_sweep(), await run_ingest_profile()]
    )


async def _run_printing(name: str, quick: bool) -> str:
    for run in _PRINTING[name]:
        # Synchronous benchmarks that start their own event loops run in a thread of their own.
        await asyncio.to_thread(run, quick)
    return f"({name}: figures printed above)"


async def _main(names: list[str], quick: bool, against: str) -> None:
    reports = []
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    for name in names:
        print(f"== {name} ==", flush=True)
        reports.append(await _runner(name, quick, against)())
    diagnostics = set(names) <= set(_DIAGNOSTICS)
    mode = "diagnostics" if diagnostics else "quick" if quick else "full"
    print()
    print(
        f"ReplayDesk benchmarks ({mode}), {date.today().isoformat()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{time.perf_counter() - started:.0f}s in all, "
        f"1-min load average {load_before:.2f} before / {os.getloadavg()[0]:.2f} after"
    )
    for report in reports:
        print()
        print(report)


def main() -> None:
    """Parse the command line and run the chosen benchmarks (all of them by default)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "benchmarks",
        nargs="*",
        metavar="{ingest,lookup,viewer,fidelity,recorder,tickets,errors,live,profile,ingest-ab}",
        help="which to run (default: all but profile and ingest-ab); profile: ingest"
        " diagnostics; ingest-ab: ingest at another commit and in this working tree, alternated",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--against",
        default="HEAD",
        metavar="REV",
        help="ingest-ab: the commit to compare this working tree with (default HEAD)",
    )
    args = parser.parse_args()
    unknown = sorted(set(args.benchmarks) - {*BENCHMARKS, *_DIAGNOSTICS})
    if unknown:
        choices = ", ".join((*BENCHMARKS, *_DIAGNOSTICS))
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {choices}")
    asyncio.run(_main(args.benchmarks or list(BENCHMARKS), args.quick, args.against))


if __name__ == "__main__":
    main()
