"""Latest-session-by-user latency at a million sessions, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import Engine, event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.figures import format_table, percentile, ratio, verdict
from bench.session_fill import FillSize, fill_postgresql, fill_sqlite, session_user
from bench.temp_postgres import postgres_available, temporary_database
from service.sessions.reader import SessionReader
from service.storage.blobs import open_blob_store
from service.storage.database import create_engine, upgrade_database
from service.storage.session_store import SessionStore

__all__ = ["FULL", "QUICK", "LookupConfig", "run_lookup_benchmark"]

TARGET_P95_MS = 5.0
IDLE_TIMEOUT_SECONDS = 30 * 60


class LookupConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Data size and number of timed lookups per backend."""

    users: int
    sessions_per_user: int
    page_views: int
    lookups: int
    warmup_lookups: int
    max_seconds: float


FULL = LookupConfig(
    users=100_000,
    sessions_per_user=10,
    page_views=2,
    lookups=2000,
    warmup_lookups=200,
    max_seconds=60,
)
QUICK = LookupConfig(
    users=5_000, sessions_per_user=10, page_views=2, lookups=500, warmup_lookups=50, max_seconds=10
)


class BackendFigures(msgspec.Struct, kw_only=True):
    """Timings of one backend: the lookup and the `SELECT 1` baseline, interleaved."""

    backend: str
    fill_seconds: float
    latest_ms: list[float]
    select_one_ms: list[float]
    wrong_answers: int
    statements_per_lookup: int
    plan: list[str]


async def _select_one(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


@contextlib.contextmanager
def _captured_statements() -> Iterator[list[tuple[str, Any]]]:
    """The SQL (and parameters) sent while the block runs, by any engine: on a SQLite file the
    lookup reads through an engine of its store's own (see `TransactionRunner`)."""
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", capture)
    try:
        yield captured
    finally:
        event.remove(Engine, "before_cursor_execute", capture)


async def _query_plan(engine: AsyncEngine, statement: str, parameters: Any) -> list[str]:
    """How the backend runs the lookup's first statement (to show which index serves it)."""
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN (COSTS OFF) "
    async with engine.connect() as conn:
        rows = (await conn.exec_driver_sql(explain + statement, parameters)).all()
    return [str(row[-1]) for row in rows]


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


async def _measure(
    backend: str, database_url: str, fill_seconds: float, config: LookupConfig, workdir: Path
) -> BackendFigures:
    engine = create_engine(database_url)
    store = SessionStore(engine)
    try:
        blobs = open_blob_store(None, workdir / f"{backend}-blobs")
        reader = SessionReader(store, blobs, IDLE_TIMEOUT_SECONDS)
        rng = random.Random(20261122)
        # Warm-up users are drawn separately, so the timed users are not all pre-read.
        warmup_numbers = [rng.randrange(config.users) for _ in range(config.warmup_lookups)]
        user_numbers = [rng.randrange(config.users) for _ in range(config.lookups)]
        for number in warmup_numbers:
            await reader.latest_for_user(session_user(number))
            await _select_one(engine)
        with _captured_statements() as captured:
            await reader.latest_for_user(session_user(user_numbers[0]))
        plan = await _query_plan(engine, *captured[0])
        latest_ms: list[float] = []
        select_one_ms: list[float] = []
        wrong = 0
        deadline = time.perf_counter() + config.max_seconds
        for number in user_numbers:
            if time.perf_counter() > deadline:
                break
            user = session_user(number)
            started = time.perf_counter()
            summary = await reader.latest_for_user(user)
            latest_ms.append(_ms_since(started))
            if summary.user_id != user or len(summary.pages) != config.page_views:
                wrong += 1
            started = time.perf_counter()
            await _select_one(engine)
            select_one_ms.append(_ms_since(started))
    finally:
        store.dispose()
        await engine.dispose()
    return BackendFigures(
        backend=backend,
        fill_seconds=fill_seconds,
        latest_ms=latest_ms,
        select_one_ms=select_one_ms,
        wrong_answers=wrong,
        statements_per_lookup=len(captured),
        plan=plan,
    )


@contextlib.asynccontextmanager
async def _sqlite(workdir: Path) -> AsyncIterator[str]:
    yield f"sqlite+aiosqlite:///{workdir / 'lookup.db'}"


async def _backend(
    backend: str,
    database: contextlib.AbstractAsyncContextManager[str],
    filler: Callable[[str, FillSize], Awaitable[None]],
    config: LookupConfig,
    workdir: Path,
) -> BackendFigures:
    size = FillSize(config.users, config.sessions_per_user, config.page_views)
    async with database as database_url:
        await asyncio.to_thread(upgrade_database, database_url)
        print(f"  {backend}: filling {size.sessions:,} sessions", flush=True)
        started = time.perf_counter()
        await filler(database_url, size)
        fill_seconds = time.perf_counter() - started
        print(f"  {backend}: filled in {fill_seconds:.1f}s, timing lookups", flush=True)
        return await _measure(backend, database_url, fill_seconds, config, workdir)


def _triple(values: list[float]) -> str:
    return " / ".join(f"{percentile(values, q):.2f}" for q in (0.50, 0.95, 0.99))


def _report(config: LookupConfig, runs: list[BackendFigures]) -> str:
    sessions = config.users * config.sessions_per_user
    rows = []
    for run in runs:
        p95 = percentile(run.latest_ms, 0.95)
        rows.append(
            [
                run.backend,
                f"{run.fill_seconds:.1f}",
                str(len(run.latest_ms)),
                _triple(run.latest_ms),
                _triple(run.select_one_ms),
                f"{ratio(p95, percentile(run.select_one_ms, 0.95)):.1f}",
                f"{verdict(p95 <= TARGET_P95_MS)} ({p95:.2f} ms)",
                str(run.wrong_answers),
            ]
        )
    lines = [
        "Latest session by user: SessionReader.latest_for_user "
        "(GET /api/v1/users/{id}/sessions/latest minus HTTP)",
        f"  data: {sessions:,} sessions ({config.users:,} users x {config.sessions_per_user}), "
        f"{sessions * config.page_views:,} page_view signals; "
        f"{config.lookups} random users, after {config.warmup_lookups} warm-up lookups; "
        "each lookup is followed by a SELECT 1 on the same engine (the baseline)",
        "",
        format_table(
            [
                "backend",
                "fill s",
                "lookups",
                "latest p50/p95/p99 ms",
                "SELECT 1 p50/p95/p99 ms",
                "p95 / SELECT 1 p95",
                f"target p95 <= {TARGET_P95_MS:g} ms",
                "wrong",
            ],
            rows,
        ),
    ]
    for run in runs:
        lines.append(f"  {run.backend}: {run.statements_per_lookup} SQL statements per lookup;")
        lines.extend(f"    plan: {line}" for line in run.plan)
    return "\n".join(lines)


async def run_lookup_benchmark(config: LookupConfig) -> str:
    """Fill each backend afresh, time the lookups; return the printed report."""
    runs: list[BackendFigures] = []
    with tempfile.TemporaryDirectory(prefix="replaydesk-bench-lookup-") as tmp:
        workdir = Path(tmp)
        runs.append(await _backend("sqlite", _sqlite(workdir), fill_sqlite, config, workdir))
    if await postgres_available():
        with tempfile.TemporaryDirectory(prefix="replaydesk-bench-lookup-") as tmp:
            database = temporary_database("lookup")
            runs.append(await _backend("postgresql", database, fill_postgresql, config, Path(tmp)))
    else:
        print("  PostgreSQL on 127.0.0.1:5432 does not answer: skipped", flush=True)
    return _report(config, runs)
