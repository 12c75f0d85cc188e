"""Ingest throughput and ack latency of ReplayDesk against a bare Litestar baseline, same load."""

from __future__ import annotations

import asyncio
import contextlib
import math
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import msgspec
from redis import Redis
from sqlalchemy import func, select

from bench.figures import format_table, percentile, ratio, verdict
from bench.ingest_load import LoadResult, send_batches
from bench.ingest_server import BENCH_INGEST_KEY
from bench.rrweb_batches import BATCH_JSON_BYTES, BatchBody, batch_bodies
from bench.server_process import ServerProcess
from bench.temp_postgres import postgres_available, temporary_database
from service.storage.database import create_engine, upgrade_database
from service.storage.models import ChunkRow

__all__ = [
    "FULL",
    "INGEST_HEADERS",
    "QUICK",
    "IngestConfig",
    "replaydesk_arguments",
    "run_ingest_benchmark",
    "sqlite_database",
]

BENCH_REDIS_URL = "redis://127.0.0.1:6379/14"
TARGET_RATIO_TO_BASELINE = 0.8
INGEST_HEADERS = {"X-ReplayDesk-Key": BENCH_INGEST_KEY}


class IngestConfig(msgspec.Struct, frozen=True, kw_only=True):
    """The size of one ingest run; every server gets exactly the same load."""

    sessions: int
    seqs: int
    warmup_seqs: int
    concurrency: int
    max_seconds: float
    warmup_max_seconds: float


FULL = IngestConfig(
    sessions=64, seqs=80, warmup_seqs=2, concurrency=16, max_seconds=60, warmup_max_seconds=20
)
QUICK = IngestConfig(
    sessions=64, seqs=3, warmup_seqs=1, concurrency=16, max_seconds=8, warmup_max_seconds=5
)


class ServerFigures(msgspec.Struct, kw_only=True):
    """One server's measured load and how many chunks it really stored."""

    name: str
    result: LoadResult
    stored: int | None
    server_cpu_seconds: float | None
    server_loop_cpu_seconds: float | None  # the event-loop (main) thread alone
    client_cpu_seconds: float


async def _stored_chunks(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(select(func.count()).select_from(ChunkRow))).scalar_one()
    finally:
        await engine.dispose()


async def _measure(
    name: str,
    arguments: list[str],
    workdir: Path,
    warmup: Sequence[BatchBody],
    bodies: Sequence[BatchBody],
    config: IngestConfig,
    database_url: str | None,
) -> ServerFigures:
    print(f"  {name}: starting", flush=True)
    async with ServerProcess(arguments, workdir / f"{name}.log") as server:
        warm = await send_batches(
            server.base_url,
            warmup,
            INGEST_HEADERS,
            config.concurrency,
            config.warmup_max_seconds,
        )
        cpu_before, client_before = server.cpu_seconds(), time.process_time()
        loop_before = server.main_thread_cpu_seconds()
        result = await send_batches(
            server.base_url, bodies, INGEST_HEADERS, config.concurrency, config.max_seconds
        )
        cpu_after, client_after = server.cpu_seconds(), time.process_time()
        loop_after = server.main_thread_cpu_seconds()
    stored = None
    if database_url is not None:
        # Chunk rows written by the measured batches: proof that each one was a real write.
        stored = await _stored_chunks(database_url) - warm.accepted
    print(f"  {name}: {result.accepted} batches in {result.elapsed_seconds:.1f}s", flush=True)
    return ServerFigures(
        name=name,
        result=result,
        stored=stored,
        server_cpu_seconds=_difference(cpu_before, cpu_after),
        server_loop_cpu_seconds=_difference(loop_before, loop_after),
        client_cpu_seconds=client_after - client_before,
    )


def _difference(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


@contextlib.asynccontextmanager
async def sqlite_database(directory: Path) -> AsyncIterator[str]:
    """The URL of a migrated SQLite file in `directory` (removed with the directory)."""
    url = f"sqlite+aiosqlite:///{directory / 'replaydesk.db'}"
    await asyncio.to_thread(upgrade_database, url)
    yield url


def replaydesk_arguments(kind: str, data_dir: Path, database_url: str) -> list[str]:
    """Command-line arguments of `bench.ingest_server` for a ReplayDesk server of this kind."""
    return [
        kind,
        "--data-dir",
        str(data_dir),
        "--database-url",
        database_url,
        "--redis-url",
        BENCH_REDIS_URL,
    ]


async def _replaydesk_run(
    name: str,
    kind: str,
    workdir: Path,
    database: contextlib.AbstractAsyncContextManager[str],
    warmup: Sequence[BatchBody],
    bodies: Sequence[BatchBody],
    config: IngestConfig,
) -> ServerFigures:
    data_dir = workdir / name
    data_dir.mkdir()
    async with database as database_url:
        if not database_url.startswith("sqlite"):
            await asyncio.to_thread(upgrade_database, database_url)
        arguments = replaydesk_arguments(kind, data_dir, database_url)
        return await _measure(name, arguments, workdir, warmup, bodies, config, database_url)


def _flush_bench_redis() -> None:
    """The servers enqueue their hourly retention job in the bench's Redis database."""
    client = Redis.from_url(BENCH_REDIS_URL, socket_connect_timeout=2)
    try:
        client.flushdb()
    finally:
        client.close()


def _row(figures: ServerFigures) -> list[str]:
    result = figures.result
    seconds = result.elapsed_seconds
    refused = result.sent - result.accepted
    return [
        figures.name,
        str(result.accepted),
        "-" if figures.stored is None else str(figures.stored),
        f"{result.accepted / seconds:.1f}",
        f"{result.json_bytes / seconds / 1e6:.2f}",
        f"{result.wire_bytes / seconds / 1e6:.2f}",
        f"{percentile(result.latencies_ms, 0.50):.1f}",
        f"{percentile(result.latencies_ms, 0.99):.1f}",
        f"{max(result.latencies_ms, default=math.nan):.1f}",
        _per_batch_ms(figures.server_cpu_seconds, result.accepted),
        _per_batch_ms(figures.server_loop_cpu_seconds, result.accepted),
        _per_batch_ms(figures.client_cpu_seconds, result.accepted),
        str(refused),
        "time" if result.stopped_by_time else "count",
    ]


def _per_batch_ms(seconds: float | None, batches: int) -> str:
    if seconds is None or not batches:
        return "-"
    return f"{seconds / batches * 1000:.2f}"


def _throughput(figures: ServerFigures) -> float:
    return figures.result.accepted / figures.result.elapsed_seconds


def _report(config: IngestConfig, bodies: Sequence[BatchBody], runs: list[ServerFigures]) -> str:
    json_kb = sum(body.json_bytes for body in bodies) / len(bodies) / 1024
    wire_kb = sum(len(body.wire) for body in bodies) / len(bodies) / 1024
    lines = [
        "Ingest throughput: POST /api/v1/ingest, gzip rrweb batches",
        f"  load: {len(bodies)} batches ({config.sessions} sessions x {config.seqs} seqs), "
        f"{json_kb:.1f} KB JSON / {wire_kb:.1f} KB gzip each, {config.concurrency} in flight, "
        f"capped at {config.max_seconds:g}s per server, after "
        f"{config.sessions * config.warmup_seqs} warm-up batches",
        "  servers: baseline = bare Litestar app appending each body to a file;",
        "    replaydesk = create_app on SQLite + local blob folder (embedded defaults);",
        "    stdlib-json = the same, decode_batch done with the stdlib json module;",
        "    replaydesk-postgresql = create_app on PostgreSQL + local blob folder",
        "  stored = chunk rows written by the measured batches; CPU ms/b = CPU time per acked",
        "    batch of the server process (all threads; loop: its event-loop thread alone)",
        "    and of this load generator",
        "",
        format_table(
            [
                "server",
                "acked",
                "stored",
                "batches/s",
                "JSON MB/s",
                "wire MB/s",
                "p50 ms",
                "p99 ms",
                "max ms",
                "server CPU ms/b",
                "loop CPU ms/b",
                "client CPU ms/b",
                "not 202",
                "ended by",
            ],
            [_row(figures) for figures in runs],
        ),
        "",
    ]
    by_name = {figures.name: _throughput(figures) for figures in runs}
    baseline = by_name.get("baseline", 0.0)
    ratios: list[list[str]] = []
    for name, value in by_name.items():
        if name == "baseline":
            continue
        share = ratio(value, baseline)
        target = ""
        if name == "replaydesk":
            met = share >= TARGET_RATIO_TO_BASELINE
            target = f">= {TARGET_RATIO_TO_BASELINE:.2f}  {verdict(met)}"
        ratios.append([f"{name} / baseline", f"{share:.2f}", target])
    if "replaydesk" in by_name and "stdlib-json" in by_name:
        speedup = ratio(by_name["replaydesk"], by_name["stdlib-json"])
        ratios.append(["replaydesk / stdlib-json", f"{speedup:.2f}", ""])
    lines.append(format_table(["ratio of batches/s", "value", "target"], ratios))
    return "\n".join(lines)


async def run_ingest_benchmark(config: IngestConfig) -> str:
    """Run the same load against every server, one after the other; return the printed report."""
    print(f"ingest: building {config.sessions * config.seqs} batches", flush=True)
    bodies = batch_bodies("bench", config.sessions, config.seqs, BATCH_JSON_BYTES)
    warmup = batch_bodies("warmup", config.sessions, config.warmup_seqs, BATCH_JSON_BYTES)
    runs: list[ServerFigures] = []
    with tempfile.TemporaryDirectory(prefix="replaydesk-bench-ingest-") as tmp:
        workdir = Path(tmp)
        try:
            baseline_dir = workdir / "baseline"
            baseline_dir.mkdir()
            baseline_arguments = ["baseline", "--data-dir", str(baseline_dir)]
            runs.append(
                await _measure(
                    "baseline", baseline_arguments, workdir, warmup, bodies, config, None
                )
            )
            for name, kind in (("replaydesk", "replaydesk"), ("stdlib-json", "stdlib-json")):
                database = sqlite_database(workdir / f"{name}-db")
                runs.append(
                    await _replaydesk_run(name, kind, workdir, database, warmup, bodies, config)
                )
            if await postgres_available():
                database = temporary_database("ingest")
                runs.append(
                    await _replaydesk_run(
                        "replaydesk-postgresql",
                        "replaydesk",
                        workdir,
                        database,
                        warmup,
                        bodies,
                        config,
                    )
                )
            else:
                print("  PostgreSQL on 127.0.0.1:5432 does not answer: skipped", flush=True)
        finally:
            await asyncio.to_thread(_flush_bench_redis)
    return _report(config, bodies, runs)
