"""ReplayDesk ingest at 1, 4 and 16 batches in flight: where the latency tail comes from."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

from bench.figures import format_table, percentile, ratio
from bench.ingest_load import send_batches
from bench.ingest_servers import INGEST_HEADERS, replaydesk_arguments, sqlite_database
from bench.rrweb_batches import batch_bodies
from bench.server_process import ServerProcess
from bench.temp_postgres import postgres_available, temporary_database
from service.storage.database import upgrade_database

__all__ = ["run_concurrency_sweep"]

SWEEP_SESSIONS = 64
SWEEP_SEQS = 10
WARMUP_SEQS = 1
IN_FLIGHT = (1, 4, 16)
MAX_SECONDS = 30.0


async def _one_run(
    backend: str, database: contextlib.AbstractAsyncContextManager[str], in_flight: int
) -> list[str]:
    bodies = batch_bodies("sweep", SWEEP_SESSIONS, SWEEP_SEQS)
    warmup = batch_bodies("warmup", SWEEP_SESSIONS, WARMUP_SEQS)
    with tempfile.TemporaryDirectory(prefix="replaydesk-bench-sweep-") as tmp:
        workdir = Path(tmp)
        data_dir = workdir / "data"
        data_dir.mkdir()
        async with database as database_url:
            if not database_url.startswith("sqlite"):
                await asyncio.to_thread(upgrade_database, database_url)
            arguments = replaydesk_arguments("replaydesk", data_dir, database_url)
            async with ServerProcess(arguments, workdir / "server.log") as server:
                await send_batches(server.base_url, warmup, INGEST_HEADERS, in_flight, MAX_SECONDS)
                cpu_before = server.cpu_seconds()
                result = await send_batches(
                    server.base_url, bodies, INGEST_HEADERS, in_flight, MAX_SECONDS
                )
                cpu_after = server.cpu_seconds()
    latencies = result.latencies_ms
    cpu = "-"
    if cpu_before is not None and cpu_after is not None and result.accepted:
        cpu = f"{(cpu_after - cpu_before) / result.accepted * 1000:.2f}"
    p50 = percentile(latencies, 0.50)
    p99 = percentile(latencies, 0.99)
    return [
        backend,
        str(in_flight),
        str(result.accepted),
        f"{result.accepted / result.elapsed_seconds:.1f}",
        f"{p50:.1f}",
        f"{p99:.1f}",
        f"{ratio(p99, p50):.1f}",
        f"{max(latencies, default=0.0):.0f}",
        cpu,
    ]


async def run_concurrency_sweep() -> str:
    """The same ReplayDesk server setup, loaded with more and more batches in flight."""
    started = time.perf_counter()
    rows: list[list[str]] = []
    for in_flight in IN_FLIGHT:
        with tempfile.TemporaryDirectory(prefix="replaydesk-bench-sweep-db-") as tmp:
            rows.append(await _one_run("sqlite", sqlite_database(Path(tmp)), in_flight))
    if await postgres_available():
        for in_flight in IN_FLIGHT:
            rows.append(await _one_run("postgresql", temporary_database("sweep"), in_flight))
    return "\n".join(
        [
            f"ReplayDesk ingest by batches in flight ({SWEEP_SESSIONS * SWEEP_SEQS} batches "
            f"per run, fresh server and database each, {time.perf_counter() - started:.0f}s)",
            "",
            format_table(
                [
                    "backend",
                    "in flight",
                    "acked",
                    "batches/s",
                    "p50 ms",
                    "p99 ms",
                    "p99/p50",
                    "max ms",
                    "server CPU ms/b",
                ],
                rows,
            ),
        ]
    )
