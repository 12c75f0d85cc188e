"""Error groups at a million sessions, on SQLite and PostgreSQL: "other users in the last 7
days" (what every ticket asks), `GET /api/v1/errors`' first page, and the report of a
60-minute session built on that database."""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.figures import format_table, percentile, verdict
from bench.session_fill import (
    BASE_TS,
    SESSION_SPACING_MS,
    FillSize,
    fill_postgresql,
    fill_sqlite,
    session_user,
)
from bench.temp_postgres import postgres_available, temporary_database
from service.report.replay_report import build_replay_report, reported_fingerprints
from service.sessions.reader import SessionReader
from service.signal_kinds import (
    ClickSignal,
    ConsoleErrorSignal,
    FailedRequestSignal,
    InputSignal,
    PageViewSignal,
    Signal,
)
from service.storage.blobs import open_blob_store
from service.storage.database import create_engine, upgrade_database
from service.storage.error_rollups import rebuild_rollups
from service.storage.error_store import ErrorGroupFilters
from service.storage.records import BatchRecord
from service.storage.session_store import SessionStore
from service.viewer.tokens import ViewerTokens

__all__ = ["FULL", "QUICK", "ErrorGroupsConfig", "run"]

TARGET_P95_MS = 10.0
DAY_MS = 24 * 3600 * 1000
FINGERPRINTS = 500
LONG_SESSION = "sess-long-60min"


class ErrorGroupsConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Data size and number of timed lookups per backend."""

    users: int
    sessions_per_user: int
    lookups: int
    pages: int
    reports: int


FULL = ErrorGroupsConfig(users=100_000, sessions_per_user=10, lookups=1000, pages=100, reports=10)
QUICK = ErrorGroupsConfig(users=5_000, sessions_per_user=10, lookups=300, pages=30, reports=3)

# Every fifth session had errors (as the session fill's error counters say); each gets one
# fingerprint, every tenth a second, drawn skewed (the cube of a uniform draw): the commonest
# error is in about an eighth of them, most of the 500 are rare. Releases follow time.
_SQLITE_OCCURRENCES = """
INSERT OR IGNORE INTO error_occurrences
    (session_id, fingerprint, kind, title, user_id, release, first_ts, last_ts, count)
SELECT id, printf('%016x', f),
       CASE WHEN f % 3 = 0 THEN 'failed_request' ELSE 'console_error' END,
       printf('TypeError: thing <n> failed in step %d', f), user_id,
       printf('4.%d.0', (started_at - :base) / (:span / 10)),
       started_at + 30000, started_at + 30000 + k * 5000, 1 + k
FROM (
    SELECT id, user_id, started_at, k, (u * u * u / 1000000) * :fingerprints / 1000 AS f
    FROM (
        SELECT s.id, s.user_id, s.started_at, k.k,
               ((CAST(substr(s.id, 15) AS INTEGER) * 2654435761 + k.k * 40503) % 1000003)
                   % 1000 AS u
        FROM sessions AS s CROSS JOIN (SELECT 0 AS k UNION ALL SELECT 1) AS k
        WHERE s.error_count > 0 AND (k.k = 0 OR CAST(substr(s.id, 15) AS INTEGER) % 10 = 0)
    )
)
"""
_POSTGRESQL_OCCURRENCES = """
INSERT INTO error_occurrences
    (session_id, fingerprint, kind, title, user_id, release, first_ts, last_ts, count)
SELECT id, lpad(to_hex(f), 16, '0'),
       CASE WHEN f % 3 = 0 THEN 'failed_request' ELSE 'console_error' END,
       'TypeError: thing <n> failed in step ' || f, user_id,
       '4.' || ((started_at - CAST(:base AS bigint)) / (CAST(:span AS bigint) / 10)) || '.0',
       started_at + 30000, started_at + 30000 + k * 5000, 1 + k
FROM (
    SELECT id, user_id, started_at, k, (u * u * u / 1000000) * :fingerprints / 1000 AS f
    FROM (
        SELECT s.id, s.user_id, s.started_at, k,
               ((split_part(s.id, '-', 3)::bigint * 2654435761 + k * 40503) % 1000003)
                   % 1000 AS u
        FROM sessions AS s CROSS JOIN generate_series(0, 1) AS k
        WHERE s.error_count > 0 AND (k = 0 OR split_part(s.id, '-', 3)::bigint % 10 = 0)
    ) AS h
) AS o
ON CONFLICT DO NOTHING
"""


_ERROR_TABLES = (
    "error_occurrences",
    "error_groups",
    "error_group_releases",
    "error_group_days",
    "error_group_users",
)


def _fingerprint(index: int) -> str:
    return f"{index:016x}"


async def _fill_occurrences(database_url: str, size: FillSize) -> None:
    parameters = {
        "base": BASE_TS,
        "span": size.sessions * SESSION_SPACING_MS,
        "fingerprints": FINGERPRINTS,
    }
    postgres = database_url.startswith("postgresql")
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            statement = _POSTGRESQL_OCCURRENCES if postgres else _SQLITE_OCCURRENCES
            await conn.execute(text(statement), parameters)
            # What ingest would have kept, computed at once.
            await conn.run_sync(rebuild_rollups)
        if postgres:
            async with engine.connect() as conn:
                for table in _ERROR_TABLES:
                    await conn.execute(text(f"ANALYZE {table}"))
                await conn.commit()
    finally:
        await engine.dispose()


def _long_session(end: int) -> list[BatchRecord]:
    """A 60-minute session ending at `end`: a batch every 5 s, a page every 2 minutes, a click
    every 3 s, typing, a console error every 30 s and a failed request every 45 s, the errors
    among the commonest fingerprints."""
    start = end - 3600_000
    batches = []
    for seq in range(720):
        first = start + seq * 5000
        signals: list[Signal] = []
        for ts in range(first, first + 5000, 1000):
            offset = ts - start
            if offset % 120_000 == 0:
                signals.append(PageViewSignal(ts=ts, url=f"https://shop.test/p/{offset // 1000}"))
            if offset % 3000 == 0:
                signals.append(ClickSignal(ts=ts, node_id=offset % 97, label="Next"))
            if offset % 20_000 == 0:
                signals.append(InputSignal(ts=ts, node_id=7))
            if offset % 30_000 == 0:
                signals.append(
                    ConsoleErrorSignal(
                        ts=ts,
                        message=f"TypeError: thing {offset} failed",
                        stack=[f"f{offset % 5} (https://shop.test/app.js:1:{offset})"],
                        fingerprint=_fingerprint((offset // 30_000) % 5),
                    )
                )
            if offset % 45_000 == 0:
                signals.append(
                    FailedRequestSignal(
                        ts=ts,
                        method="POST",
                        url=f"https://shop.test/api/step/{offset % 4}",
                        status=500,
                        fingerprint=_fingerprint(3 * ((offset // 45_000) % 4)),
                    )
                )
        batches.append(
            BatchRecord(
                session_id=LONG_SESSION,
                seq=seq,
                user_id="user-long",
                blob_key=f"sessions/{LONG_SESSION}/{seq:012d}-x.json.gz",
                first_ts=first,
                last_ts=first + 4999,
                event_count=150,
                byte_count=4000,
                received_at=first + 5000,
                final=seq == 719,
                signals=signals,
            )
        )
    return batches


class BackendFigures(msgspec.Struct, kw_only=True):
    """Timings of one backend."""

    backend: str
    fill_seconds: float
    occurrences: int
    elsewhere_ms: list[float]
    first_page_ms: list[float]
    next_page_ms: list[float]
    all_time_page_ms: list[float]
    until_page_ms: list[float]
    url_page_ms: list[float]
    report_ms: list[float]
    report_groups: int


async def _timed(call: Callable[[], Awaitable[object]], times: int) -> list[float]:
    found = []
    for _ in range(times):
        started = time.perf_counter()
        await call()
        found.append((time.perf_counter() - started) * 1000)
    return found


async def _measure(
    backend: str, database_url: str, fill_seconds: float, config: ErrorGroupsConfig, work: Path
) -> BackendFigures:
    size = FillSize(config.users, config.sessions_per_user, 1)
    end = BASE_TS + size.sessions * SESSION_SPACING_MS
    week = end - 7 * DAY_MS
    engine = create_engine(database_url)
    store = SessionStore(engine)
    try:
        async with engine.connect() as conn:
            occurrences = int(
                (await conn.execute(text("SELECT count(*) FROM error_occurrences"))).scalar_one()
            )
        reader = SessionReader(store, open_blob_store(None, work / f"{backend}-blobs"), 1800)
        tokens = ViewerTokens("bench-secret-key-bench-secret-key", "https://replay.test")
        rng = random.Random(20261207)
        # A ticket's errors are drawn as tickets meet them: by how often they happen.
        draws = [
            _fingerprint(int((rng.random() ** 3) * FINGERPRINTS)) for _ in range(config.lookups)
        ]
        users = [session_user(rng.randrange(config.users)) for _ in range(config.lookups)]
        for fingerprint, user in zip(draws[:50], users[:50], strict=False):
            await store.errors.seen_elsewhere([fingerprint], user, week)
        elsewhere_ms = []
        for fingerprint, user in zip(draws, users, strict=True):
            started = time.perf_counter()
            await store.errors.seen_elsewhere([fingerprint], user, week)
            elsewhere_ms.append((time.perf_counter() - started) * 1000)
        week_page = ErrorGroupFilters(since=week, limit=50)
        first_page_ms = await _timed(lambda: store.errors.groups(week_page), config.pages)
        last = (await store.errors.groups(week_page))[-1]
        next_page = week_page._replace(after=(last.last_seen, last.fingerprint))
        next_page_ms = await _timed(lambda: store.errors.groups(next_page), config.pages)
        all_time = ErrorGroupFilters(limit=50)
        all_time_page_ms = await _timed(lambda: store.errors.groups(all_time), config.pages)
        # The exact paths: a window with an end, and a page URL (substring of a page view).
        until_page = week_page._replace(until=end - DAY_MS)
        until_page_ms = await _timed(lambda: store.errors.groups(until_page), config.pages)
        url_page = week_page._replace(url="/catalog/7")
        url_page_ms = await _timed(lambda: store.errors.groups(url_page), config.pages)

        await store.record_new_batches(
            (long := _long_session(end)), [[] for _ in long], [b"" for _ in long]
        )

        async def report() -> int:
            evidence = await reader.evidence(LONG_SESSION)
            link = tokens.mint(LONG_SESSION, 3600, ticket="bench:1")
            fingerprints = reported_fingerprints(evidence)
            seen = await store.errors.seen_elsewhere(fingerprints, "user-long", week)
            build_replay_report(evidence, link, link, marker="m")
            return len(seen)

        groups = await report()
        report_ms = await _timed(report, config.reports)
    finally:
        # The long session's commit may have started a checkpoint of the SQLite log in a worker
        # thread (copying the whole fill can take seconds): it must end before the temporary
        # folder goes, or it opens its connection in a folder that is no longer there.
        await store.truncate_log()
        store.dispose()
        await engine.dispose()
    return BackendFigures(
        backend=backend,
        fill_seconds=fill_seconds,
        occurrences=occurrences,
        elsewhere_ms=elsewhere_ms,
        first_page_ms=first_page_ms,
        next_page_ms=next_page_ms,
        all_time_page_ms=all_time_page_ms,
        until_page_ms=until_page_ms,
        url_page_ms=url_page_ms,
        report_ms=report_ms,
        report_groups=groups,
    )


@contextlib.asynccontextmanager
async def _sqlite(work: Path) -> AsyncIterator[str]:
    yield f"sqlite+aiosqlite:///{work / 'errors.db'}"


async def _backend(
    backend: str,
    database: contextlib.AbstractAsyncContextManager[str],
    filler: Callable[[str, FillSize], Awaitable[None]],
    config: ErrorGroupsConfig,
    work: Path,
) -> BackendFigures:
    size = FillSize(config.users, config.sessions_per_user, 1)
    async with database as database_url:
        await asyncio.to_thread(upgrade_database, database_url)
        print(f"  {backend}: filling {size.sessions:,} sessions and their errors", flush=True)
        started = time.perf_counter()
        await filler(database_url, size)
        await _fill_occurrences(database_url, size)
        fill_seconds = time.perf_counter() - started
        print(f"  {backend}: filled in {fill_seconds:.1f}s, timing", flush=True)
        return await _measure(backend, database_url, fill_seconds, config, work)


def _triple(values: list[float]) -> str:
    return " / ".join(f"{percentile(values, q):.2f}" for q in (0.50, 0.95, 0.99))


def _report(config: ErrorGroupsConfig, runs: list[BackendFigures]) -> str:
    sessions = config.users * config.sessions_per_user
    rows = []
    for run in runs:
        worst = max(
            percentile(run.elsewhere_ms, 0.95),
            percentile(run.first_page_ms, 0.95),
            percentile(run.next_page_ms, 0.95),
        )
        rows.append(
            [
                run.backend,
                f"{run.fill_seconds:.1f}",
                f"{run.occurrences:,}",
                _triple(run.elsewhere_ms),
                _triple(run.first_page_ms),
                _triple(run.next_page_ms),
                _triple(run.all_time_page_ms),
                _triple(run.until_page_ms),
                _triple(run.url_page_ms),
                f"{verdict(worst <= TARGET_P95_MS)} ({worst:.2f} ms)",
                _triple(run.report_ms),
            ]
        )
    return "\n".join(
        [
            "Error groups: ErrorStore.seen_elsewhere (one fingerprint, what a ticket asks per "
            "error), ErrorStore.groups (GET /api/v1/errors minus HTTP, 50 a page; with until "
            "or url it aggregates the occurrences, exact and slower), and a "
            "60-minute session's report (evidence + lookups + build_replay_report, no log file)",
            f"  data: {sessions:,} sessions ({config.users:,} users x "
            f"{config.sessions_per_user}) over {sessions * SESSION_SPACING_MS / DAY_MS:.0f} "
            f"days, {FINGERPRINTS} fingerprints drawn skewed; the long session has 720 "
            "batches, ~1,200 clicks, 120 console errors, 80 failed requests",
            "",
            format_table(
                [
                    "backend",
                    "fill s",
                    "occurrences",
                    "others 7d p50/p95/p99 ms",
                    "page 7d p50/p95/p99 ms",
                    "next page 7d p50/p95/p99 ms",
                    "page all time p50/p95/p99 ms",
                    "page 7d until p50/p95/p99 ms",
                    "page 7d url p50/p95/p99 ms",
                    f"target p95 <= {TARGET_P95_MS:g} ms",
                    "report p50/p95/p99 ms",
                ],
                rows,
            ),
        ]
    )


def run(quick: bool) -> None:
    """Fill each backend afresh, time the lookups and the report; print the figures."""
    print(asyncio.run(run_error_groups_benchmark(QUICK if quick else FULL)), flush=True)


async def run_error_groups_benchmark(config: ErrorGroupsConfig) -> str:
    """The benchmark on SQLite, then PostgreSQL when it answers; the printed report."""
    runs: list[BackendFigures] = []
    with tempfile.TemporaryDirectory(prefix="replaydesk-bench-errors-") as tmp:
        runs.append(await _backend("sqlite", _sqlite(Path(tmp)), fill_sqlite, config, Path(tmp)))
    if await postgres_available():
        with tempfile.TemporaryDirectory(prefix="replaydesk-bench-errors-") as tmp:
            database = temporary_database("errors")
            runs.append(await _backend("postgresql", database, fill_postgresql, config, Path(tmp)))
    else:
        print("  PostgreSQL on 127.0.0.1:5432 does not answer: skipped", flush=True)
    return _report(config, runs)
