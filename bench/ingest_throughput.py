"""Ingest throughput and ack latency of ReplayDesk against a bare Litestar baseline, same load."""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import tempfile
import time
from collections import Counter
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
from service.storage.models import ChunkJournalRow, ChunkRow

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
DRAIN_TIMEOUT_SECONDS = 60
INGEST_HEADERS = {"X-ReplayDesk-Key": BENCH_INGEST_KEY}


class IngestConfig(msgspec.Struct, frozen=True, kw_only=True):
    """The size of one ingest run; every server gets exactly the same load."""

    sessions: int
    seqs: int
    warmup_seqs: int
    concurrency: int
    max_seconds: float
    warmup_max_seconds: float
    # The load is sent in this many rounds; each round gives every server its next slice.
    rounds: int


FULL = IngestConfig(
    sessions=64,
    seqs=80,
    warmup_seqs=2,
    concurrency=16,
    max_seconds=60,
    warmup_max_seconds=20,
    rounds=8,
)
QUICK = IngestConfig(
    sessions=64,
    seqs=3,
    warmup_seqs=1,
    concurrency=16,
    max_seconds=8,
    warmup_max_seconds=5,
    rounds=1,
)


class ServerFigures(msgspec.Struct, kw_only=True):
    """One server's measured load and how many chunks it really stored."""

    name: str
    result: LoadResult
    round_rates: list[float]  # batches/s in each round, in order
    stored: int | None
    server_cpu_seconds: float | None
    server_loop_cpu_seconds: float | None  # the event-loop (main) thread alone
    # Spent after the last acknowledgement of each slice, moving journaled chunks.
    deferred_cpu_seconds: float | None
    client_cpu_seconds: float


async def _journal_drained(database_url: str) -> None:
    """Wait until the server has moved every acknowledged chunk from its chunk journal into
    its blob store (ReplayDesk does that a moment after acknowledging)."""
    engine = create_engine(database_url)
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
    count = select(func.count()).select_from(ChunkJournalRow)
    try:
        while True:
            async with engine.connect() as conn:
                if not (await conn.execute(count)).scalar_one():
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"chunks still journaled after {DRAIN_TIMEOUT_SECONDS}s")
            await asyncio.sleep(0.02)
    finally:
        await engine.dispose()


async def _stored_chunks(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(select(func.count()).select_from(ChunkRow))).scalar_one()
    finally:
        await engine.dispose()


class _Server(msgspec.Struct, kw_only=True):
    """A running server and what its slices of the load measured so far."""

    name: str
    process: ServerProcess
    database_url: str | None
    warmed: int = 0
    slices: list[LoadResult] = msgspec.field(default_factory=list)
    cpu_seconds: float | None = 0.0
    loop_cpu_seconds: float | None = 0.0
    deferred_cpu_seconds: float | None = 0.0
    client_cpu_seconds: float = 0.0


async def _start(
    stack: contextlib.AsyncExitStack,
    name: str,
    arguments: list[str],
    workdir: Path,
    warmup: Sequence[BatchBody],
    config: IngestConfig,
    database_url: str | None,
) -> _Server:
    print(f"  {name}: starting", flush=True)
    process = await stack.enter_async_context(ServerProcess(arguments, workdir / f"{name}.log"))
    warm = await send_batches(
        process.base_url, warmup, INGEST_HEADERS, config.concurrency, config.warmup_max_seconds
    )
    if database_url is not None:
        await _journal_drained(database_url)
    return _Server(name=name, process=process, database_url=database_url, warmed=warm.accepted)


async def _send_slice(server: _Server, bodies: Sequence[BatchBody], config: IngestConfig) -> None:
    """Send one slice of the load to one server and add up what it measured.

    ReplayDesk moves acknowledged chunks into its blob store a moment later. Before the next
    slice starts, that is waited for, and the CPU time the server spends on it after the
    slice's last acknowledgement is added to the slice's time, as if it had been done in line
    (it would overlap with ingest under steady load, so this errs on the slow side).
    """
    process = server.process
    cpu_before, client_before = process.cpu_seconds(), time.process_time()
    loop_before = process.main_thread_cpu_seconds()
    result = await send_batches(
        process.base_url,
        bodies,
        INGEST_HEADERS,
        config.concurrency,
        config.max_seconds / config.rounds,
    )
    server.client_cpu_seconds += time.process_time() - client_before
    if server.database_url is not None:
        acked_cpu = process.cpu_seconds()
        await _journal_drained(server.database_url)
        drained_cpu = process.cpu_seconds()
        server.deferred_cpu_seconds = _sum(server.deferred_cpu_seconds, acked_cpu, drained_cpu)
        if acked_cpu is not None and drained_cpu is not None:
            elapsed = result.elapsed_seconds + drained_cpu - acked_cpu
            result = msgspec.structs.replace(result, elapsed_seconds=elapsed)
    server.cpu_seconds = _sum(server.cpu_seconds, cpu_before, process.cpu_seconds())
    server.loop_cpu_seconds = _sum(
        server.loop_cpu_seconds, loop_before, process.main_thread_cpu_seconds()
    )
    server.slices.append(result)


def _sum(total: float | None, before: float | None, after: float | None) -> float | None:
    if total is None or before is None or after is None:
        return None
    return total + after - before


def _merged(slices: Sequence[LoadResult]) -> LoadResult:
    statuses: Counter[str] = Counter()
    for result in slices:
        statuses.update(result.statuses)
    return LoadResult(
        sent=sum(result.sent for result in slices),
        accepted=sum(result.accepted for result in slices),
        elapsed_seconds=sum(result.elapsed_seconds for result in slices),
        latencies_ms=[ms for result in slices for ms in result.latencies_ms],
        json_bytes=sum(result.json_bytes for result in slices),
        wire_bytes=sum(result.wire_bytes for result in slices),
        statuses=dict(statuses),
        stopped_by_time=any(result.stopped_by_time for result in slices),
    )


async def _figures(server: _Server) -> ServerFigures:
    result = _merged(server.slices)
    stored = None
    if server.database_url is not None:
        # Chunk rows written by the measured batches: proof that each one was a real write.
        stored = await _stored_chunks(server.database_url) - server.warmed
    return ServerFigures(
        name=server.name,
        result=result,
        round_rates=[s.accepted / s.elapsed_seconds for s in server.slices if s.elapsed_seconds],
        stored=stored,
        server_cpu_seconds=server.cpu_seconds,
        server_loop_cpu_seconds=server.loop_cpu_seconds,
        deferred_cpu_seconds=server.deferred_cpu_seconds if server.database_url else None,
        client_cpu_seconds=server.client_cpu_seconds,
    )


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
        _per_batch_ms(figures.deferred_cpu_seconds, result.accepted),
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
        f"  sent in {config.rounds} round(s): all servers run at once, and each round gives every"
        " server its next slice, in alternating order",
        "  servers: baseline = bare Litestar app appending each body to a file;",
        "    replaydesk = create_app on SQLite + local blob folder (embedded defaults);",
        "    stdlib-json = the same, decode_batch done with the stdlib json module;",
        "    replaydesk-postgresql = create_app on PostgreSQL + local blob folder",
        "  stored = chunk rows written by the measured batches; CPU ms/b = CPU time per acked",
        "    batch of the server process (all threads; loop: its event-loop thread alone)",
        "    and of this load generator; deferred = the server's CPU time after each slice's",
        "    last ack, moving journaled chunks into the blob store, which is waited for and",
        "    added to the slice's time (so batches/s include it; latencies do not)",
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
                "deferred CPU ms/b",
                "client CPU ms/b",
                "not 202",
                "ended by",
            ],
            [_row(figures) for figures in runs],
        ),
        "",
    ]
    lines += [_load_generator_line(runs), ""]
    by_name = {figures.name: _throughput(figures) for figures in runs}
    rounds = {figures.name: figures.round_rates for figures in runs}
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
        spread = _round_spread(rounds[name], rounds.get("baseline", []))
        ratios.append([f"{name} / baseline", f"{share:.2f}", spread, target])
    if "replaydesk" in by_name and "stdlib-json" in by_name:
        speedup = ratio(by_name["replaydesk"], by_name["stdlib-json"])
        spread = _round_spread(rounds["replaydesk"], rounds["stdlib-json"])
        ratios.append(["replaydesk / stdlib-json", f"{speedup:.2f}", spread, ""])
    header = ["ratio of batches/s", "value", "per round: median (min-max)", "target"]
    lines.append(format_table(header, ratios))
    return "\n".join(lines)


def _load_generator_line(runs: Sequence[ServerFigures]) -> str:
    """How busy the load generator's one thread was while it sent to each server: near 100%,
    it, not the server, set that server's rate."""
    busy = ", ".join(
        f"{figures.name} {figures.client_cpu_seconds / figures.result.elapsed_seconds:.0%}"
        for figures in runs
        if figures.result.elapsed_seconds
    )
    return (
        f"load generator busy (CPU time / wall time of its one thread, per server): {busy}; "
        "near 100%, the generator sets the rate"
    )


def _round_spread(rates: Sequence[float], baseline_rates: Sequence[float]) -> str:
    """The ratio round by round: how far one run's figure can be from the next run's."""
    shares = [ratio(value, base) for value, base in zip(rates, baseline_rates, strict=False)]
    if len(shares) < 2:
        return "-"
    return f"{statistics.median(shares):.2f} ({min(shares):.2f}-{max(shares):.2f})"


async def _start_servers(
    stack: contextlib.AsyncExitStack,
    workdir: Path,
    warmup: Sequence[BatchBody],
    config: IngestConfig,
) -> list[_Server]:
    baseline_dir = workdir / "baseline"
    baseline_dir.mkdir()
    baseline_arguments = ["baseline", "--data-dir", str(baseline_dir)]
    servers = [await _start(stack, "baseline", baseline_arguments, workdir, warmup, config, None)]
    databases: list[tuple[str, str, contextlib.AbstractAsyncContextManager[str]]] = [
        (name, name, sqlite_database(workdir / f"{name}-db"))
        for name in ("replaydesk", "stdlib-json")
    ]
    if await postgres_available():
        databases.append(("replaydesk-postgresql", "replaydesk", temporary_database("ingest")))
    else:
        print("  PostgreSQL on 127.0.0.1:5432 does not answer: skipped", flush=True)
    for name, kind, database in databases:
        database_url = await stack.enter_async_context(database)
        if not database_url.startswith("sqlite"):
            await asyncio.to_thread(upgrade_database, database_url)
        data_dir = workdir / name
        data_dir.mkdir()
        arguments = replaydesk_arguments(kind, data_dir, database_url)
        servers.append(await _start(stack, name, arguments, workdir, warmup, config, database_url))
    return servers


async def run_ingest_benchmark(config: IngestConfig) -> str:
    """Run the same load against every server and return the printed report.

    All servers run at once, idle but for their turn: the load goes out in rounds, and each
    round sends every server its next slice, in alternating order. A machine whose speed drifts
    during the run (a shared host's does) then slows every server alike, which running them
    one after the other did not.
    """
    print(f"ingest: building {config.sessions * config.seqs} batches", flush=True)
    bodies = batch_bodies("bench", config.sessions, config.seqs, BATCH_JSON_BYTES)
    warmup = batch_bodies("warmup", config.sessions, config.warmup_seqs, BATCH_JSON_BYTES)
    per_round = math.ceil(len(bodies) / config.rounds)
    with tempfile.TemporaryDirectory(prefix="replaydesk-bench-ingest-") as tmp:
        try:
            async with contextlib.AsyncExitStack() as stack:
                servers = await _start_servers(stack, Path(tmp), warmup, config)
                for index in range(config.rounds):
                    load = bodies[index * per_round : (index + 1) * per_round]
                    for server in servers if index % 2 == 0 else servers[::-1]:
                        await _send_slice(server, load, config)
                    print(f"  round {index + 1} of {config.rounds} done", flush=True)
                # Counted while the databases still exist (the stack drops them).
                runs = [await _figures(server) for server in servers]
        finally:
            await asyncio.to_thread(_flush_bench_redis)
    return _report(config, bodies, runs)
