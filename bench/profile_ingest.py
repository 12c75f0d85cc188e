"""A cProfile of one ReplayDesk server under ingest load: where its event loop spends time."""

from __future__ import annotations

import io
import pstats
import tempfile
from collections import defaultdict
from pathlib import Path

from bench.figures import format_table
from bench.ingest_load import send_batches
from bench.ingest_servers import INGEST_HEADERS, replaydesk_arguments, sqlite_database
from bench.rrweb_batches import batch_bodies
from bench.server_process import ServerProcess

__all__ = ["run_ingest_profile"]

PROFILE_SESSIONS = 64
PROFILE_SEQS = 6
PROFILE_CONCURRENCY = 16
PROFILE_MAX_SECONDS = 60.0
TOP_FUNCTIONS = 25
# Areas below this share of the profiled time are summed into one row.
MIN_SHARE = 0.01
_SITE_PACKAGES = "/site-packages/"


def _area(filename: str, function: str) -> str:
    """Which code a profiled function belongs to: a package, the service, or the stdlib."""
    if filename == "~":
        if "epoll" in function:
            return "(idle: waiting in epoll)"
        return "(C builtins: zlib, msgspec, sockets, ...)"
    if _SITE_PACKAGES in filename:
        return filename.split(_SITE_PACKAGES, 1)[1].split("/", 1)[0]
    if "/service/" in filename:
        return "service (ReplayDesk code)"
    return "python stdlib (asyncio, ...)"


def _areas_table(stats: pstats.Stats, batches: int) -> str:
    totals: dict[str, float] = defaultdict(float)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    raw = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, function), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        totals[_area(filename, function)] += tottime
    whole = sum(totals.values())
    shown = {area: seconds for area, seconds in totals.items() if seconds >= whole * MIN_SHARE}
    shown["(everything else)"] = whole - sum(shown.values())
    rows = [
        [
            area,
            f"{seconds:.2f}",
            f"{seconds / max(batches, 1) * 1000:.2f}",
            f"{seconds / whole:.0%}",
        ]
        for area, seconds in sorted(shown.items(), key=lambda item: -item[1])
    ]
    return format_table(["where (own time)", "seconds", "ms/batch", "share"], rows)


async def run_ingest_profile(kind: str = "replaydesk") -> str:
    """Serve under cProfile (slower than normal: figures from it are not benchmark figures)."""
    bodies = batch_bodies("profile", PROFILE_SESSIONS, PROFILE_SEQS)
    with tempfile.TemporaryDirectory(prefix="replaydesk-bench-profile-") as tmp:
        workdir = Path(tmp)
        data_dir = workdir / "data"
        data_dir.mkdir()
        stats_path = workdir / "server.prof"
        async with sqlite_database(workdir / "db") as database_url:
            arguments = [
                *replaydesk_arguments(kind, data_dir, database_url),
                "--profile",
                str(stats_path),
            ]
            async with ServerProcess(arguments, workdir / "server.log") as server:
                result = await send_batches(
                    server.base_url,
                    bodies,
                    INGEST_HEADERS,
                    PROFILE_CONCURRENCY,
                    PROFILE_MAX_SECONDS,
                )
        out = io.StringIO()
        stats = pstats.Stats(str(stats_path), stream=out)
        out.write(
            f"Profile of the {kind} server's main thread under cProfile, "
            f"{result.accepted} batches (cProfile slows it down; not benchmark figures)\n\n"
        )
        out.write(_areas_table(stats, result.accepted) + "\n")
        stats.sort_stats("tottime").print_stats(TOP_FUNCTIONS)
        return out.getvalue()
