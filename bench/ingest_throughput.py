"""Ingest throughput and ack latency of ReplayDesk against a bare Litestar endpoint, both driven
by wrk with the same requests, in alternated rounds."""

from __future__ import annotations

import asyncio
import contextlib
import math
import shutil
import tempfile
import time
from pathlib import Path

import msgspec
from sqlalchemy import make_url

from bench.ingest_report import RoundRun, ingest_report, not_run_report
from bench.ingest_requests import (
    INGEST_PATH,
    RequestSet,
    SessionTemplate,
    session_templates,
    write_requests,
)
from bench.ingest_servers import (
    INGEST_HEADERS,
    flush_bench_redis,
    journal_drained,
    replaydesk_arguments,
    sqlite_database,
)
from bench.ingest_visibility import check_visibility, look_up
from bench.server_process import ServerProcess
from bench.temp_postgres import postgres_available, temporary_database
from bench.wrk_results import round_problems
from bench.wrk_runner import WrkRun, WrkUnavailable, ensure_wrk, run_wrk
from service.storage.database import is_embedded, upgrade_database

__all__ = ["FULL", "QUICK", "IngestConfig", "run_ingest_benchmark"]

# What the recorder sends with every batch besides its key (recorder/src/outgoing.ts, post()).
WRK_HEADERS = {"Content-Type": "application/json", "Content-Encoding": "gzip", **INGEST_HEADERS}
# Requests are built for this many times the fastest ReplayDesk rate seen so far, plus the
# in-flight ones: a ReplayDesk round that runs out anyway is invalid, and the estimate grows for
# the next. The baseline, which stores nothing and reads no ID, goes through the same requests
# again from the start when it reaches their end (building enough for its rate would take
# longer than the rounds).
REQUEST_MARGIN = 2.0
# Before any rate is known (the warm-up), requests are built for this rate.
FIRST_RATE_GUESS = 1500.0
# Never fewer per wrk thread: what the baseline goes through again and again.
MIN_REQUESTS_PER_THREAD = 1000
# wrk sends on for up to 0.1 s after its clock stops, and its first thread starts a little early.
STOP_SLACK_SECONDS = 0.5
# Sessions open at once per wrk thread: at least twice the connections, so that no session has
# two batches in flight.
MIN_OPEN_SESSIONS = 64


class IngestConfig(msgspec.Struct, frozen=True, kw_only=True):
    """How long an ingest run is: every server gets the same requests in every round."""

    rounds: int  # alternated rounds at `in_flight`
    wide_rounds: int  # then at `wide_in_flight` (0: none)
    round_seconds: int  # wrk takes whole seconds
    warmup_seconds: int
    # Then at `in_flight` with each of `session_counts` open at once (0: none).
    sessions_rounds: int = 0
    threads: int = 2
    in_flight: int = 16
    wide_in_flight: int = 256
    session_counts: tuple[int, ...] = (10, 1000)


FULL = IngestConfig(rounds=6, wide_rounds=2, sessions_rounds=2, round_seconds=5, warmup_seconds=2)
QUICK = IngestConfig(rounds=2, wide_rounds=1, sessions_rounds=1, round_seconds=3, warmup_seconds=1)


class RigServer(msgspec.Struct, kw_only=True):
    name: str
    process: ServerProcess
    database_url: str | None  # None: the baseline, which stores nothing to check


class Rig(msgspec.Struct, kw_only=True):
    """What every round needs: wrk, the servers, the templates, a scratch folder."""

    wrk: str
    servers: list[RigServer]
    templates: list[SessionTemplate]
    workdir: Path
    config: IngestConfig
    fastest_rate: float = FIRST_RATE_GUESS  # of the ReplayDesk servers
    build_seconds: float = 0.0


async def _start_servers(stack: contextlib.AsyncExitStack, workdir: Path) -> list[RigServer]:
    baseline_dir = workdir / "baseline"
    baseline_dir.mkdir()
    arguments = ["baseline", "--data-dir", str(baseline_dir)]
    print("  baseline: starting", flush=True)
    process = await stack.enter_async_context(ServerProcess(arguments, workdir / "baseline.log"))
    servers = [RigServer(name="baseline", process=process, database_url=None)]
    databases: list[tuple[str, contextlib.AbstractAsyncContextManager[str]]] = [
        ("replaydesk", sqlite_database(workdir / "replaydesk-db"))
    ]
    if await postgres_available():
        databases.append(("replaydesk-postgresql", temporary_database("ingest")))
    else:
        print("  PostgreSQL on 127.0.0.1:5432 does not answer: its rows are skipped", flush=True)
    for name, database in databases:
        database_url = await stack.enter_async_context(database)
        if not database_url.startswith("sqlite"):
            await asyncio.to_thread(upgrade_database, database_url)
        data_dir = workdir / name
        data_dir.mkdir()
        print(f"  {name}: starting", flush=True)
        arguments = replaydesk_arguments("replaydesk", data_dir, database_url)
        process = await stack.enter_async_context(ServerProcess(arguments, workdir / f"{name}.log"))
        servers.append(RigServer(name=name, process=process, database_url=database_url))
    return servers


def open_sessions(config: IngestConfig, in_flight: int) -> int:
    """Sessions open at once by default: per wrk thread, twice its connections (at least
    `MIN_OPEN_SESSIONS`), so that no session has two batches in flight."""
    return config.threads * max(MIN_OPEN_SESSIONS, 2 * math.ceil(in_flight / config.threads))


async def build_requests(
    rig: Rig, tag: str, in_flight: int, seconds: int, sessions: int
) -> RequestSet:
    threads = rig.config.threads
    expected = rig.fastest_rate * (seconds + STOP_SLACK_SECONDS) * REQUEST_MARGIN
    per_thread = max(MIN_REQUESTS_PER_THREAD, math.ceil(expected / threads) + in_flight)
    pool = max(1, sessions // threads)
    started = time.perf_counter()
    requests = await asyncio.to_thread(
        write_requests,
        rig.workdir / tag,
        tag,
        rig.templates,
        threads=threads,
        per_thread=per_thread,
        pool=pool,
    )
    rig.build_seconds += time.perf_counter() - started
    return requests


async def send_round(
    rig: Rig, server: RigServer, requests: RequestSet, in_flight: int, seconds: int
) -> WrkRun:
    return await asyncio.to_thread(
        run_wrk,
        rig.wrk,
        server.process.base_url + INGEST_PATH,
        requests_dir=requests.directory,
        threads=rig.config.threads,
        connections=in_flight,
        seconds=seconds,
        headers=WRK_HEADERS,
        server_pid=server.process.pid,
        workdir=rig.workdir,
        wrap=server.database_url is None,
        database=_postgres_database(server.database_url),
    )


def _postgres_database(database_url: str | None) -> str | None:
    if database_url is None or is_embedded(database_url):
        return None
    return make_url(database_url).database


async def _round(
    rig: Rig, server: RigServer, requests: RequestSet, number: int, in_flight: int, sessions: int
) -> RoundRun:
    run = await send_round(rig, server, requests, in_flight, rig.config.round_seconds)
    ended = time.monotonic()
    visibility = deferred = None
    if server.database_url is not None:
        rig.fastest_rate = max(rig.fastest_rate, run.result.requests / run.result.seconds)
        process = server.process
        after_round = process.cpu_seconds()
        visibility = await check_visibility(
            database_url=server.database_url,
            acked=run.result.acked,
            requests=requests,
            round_ended=ended,
        )
        # The next round must not share the machine with this one's chunk moves.
        await journal_drained(server.database_url)
        drained = process.cpu_seconds()
        if after_round is not None and drained is not None:
            deferred = drained - after_round
        await look_up(
            visibility,
            base_url=process.base_url,
            acked=run.result.acked,
            requests=requests,
            templates=rig.templates,
        )
    problems = round_problems(run.result, run.cpu)
    if visibility is not None and visibility.missing:
        problems.append(f"{visibility.missing} acked batches not stored after 2 s")
    verdict = "ok" if not problems else "INVALID: " + "; ".join(problems)
    print(
        f"  {in_flight} in flight, {sessions} sessions, round {number}, {server.name}: "
        f"{run.result.batches_per_second:.0f} batches/s, {verdict}",
        flush=True,
    )
    return RoundRun(
        number=number,
        in_flight=in_flight,
        sessions=sessions,
        server=server.name,
        result=run.result,
        cpu=run.cpu,
        problems=problems,
        deferred_cpu_seconds=deferred,
        visibility=visibility,
    )


async def warm_up(rig: Rig) -> dict[str, float]:
    """Each server's first requests, not measured; the fastest ReplayDesk rate sizes the rounds'
    requests."""
    seconds = rig.config.warmup_seconds
    in_flight = rig.config.in_flight
    requests = await build_requests(
        rig, "warm", in_flight, seconds, open_sessions(rig.config, in_flight)
    )
    rates = {}
    for server in rig.servers:
        run = await send_round(rig, server, requests, rig.config.in_flight, seconds)
        rates[server.name] = run.result.batches_per_second
        if server.database_url is not None:
            await journal_drained(server.database_url)
    shutil.rmtree(requests.directory)
    replaydesk = [rates[server.name] for server in rig.servers if server.database_url]
    rig.fastest_rate = max(replaydesk, default=FIRST_RATE_GUESS)
    return rates


async def _rounds(rig: Rig) -> tuple[list[RoundRun], list[RequestSet]]:
    config = rig.config
    runs: list[RoundRun] = []
    sets: list[RequestSet] = []
    number = 0
    groups = [
        (config.in_flight, open_sessions(config, config.in_flight), config.rounds),
        (config.wide_in_flight, open_sessions(config, config.wide_in_flight), config.wide_rounds),
        *((config.in_flight, count, config.sessions_rounds) for count in config.session_counts),
    ]
    for in_flight, sessions, count in groups:
        for index in range(count):
            number += 1
            tag = f"r{number:02d}"
            requests = await build_requests(rig, tag, in_flight, config.round_seconds, sessions)
            # Alternated: the baseline goes first, then last, then first again.
            order = rig.servers if index % 2 == 0 else rig.servers[::-1]
            for server in order:
                runs.append(await _round(rig, server, requests, number, in_flight, sessions))
            shutil.rmtree(requests.directory)
            sets.append(requests)
    return runs, sets


async def run_ingest_benchmark(config: IngestConfig) -> str:
    """Drive the bare endpoint and ReplayDesk with wrk; return the printed report."""
    started = time.perf_counter()
    try:
        wrk = await asyncio.to_thread(ensure_wrk)
    except WrkUnavailable as exc:
        return not_run_report(str(exc))
    templates = session_templates()
    with tempfile.TemporaryDirectory(prefix="replaydesk-bench-ingest-") as tmp:
        workdir = Path(tmp)
        try:
            async with contextlib.AsyncExitStack() as stack:
                servers = await _start_servers(stack, workdir)
                rig = Rig(
                    wrk=wrk, servers=servers, templates=templates, workdir=workdir, config=config
                )
                warmup = await warm_up(rig)
                runs, sets = await _rounds(rig)
        finally:
            await asyncio.to_thread(flush_bench_redis)
    return ingest_report(
        wrk=wrk,
        threads=config.threads,
        round_seconds=config.round_seconds,
        warmup_seconds=config.warmup_seconds,
        templates=templates,
        request_sets=sets,
        warmup=warmup,
        runs=runs,
        build_seconds=rig.build_seconds,
        total_seconds=time.perf_counter() - started,
    )
