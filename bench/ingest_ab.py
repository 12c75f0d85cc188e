"""Ingest before and after a change: ReplayDesk on SQLite from another commit and from this
working tree, side by side, driven by wrk with the ingest benchmark's requests in alternated
rounds. Two versions of the same code differ by less than a run differs from the next, so a
change is judged by rounds of both in one run, not by two runs.

`python -m bench ingest-ab [--against REV]` (REV: a commit; default HEAD, i.e. what is not
committed yet)."""

from __future__ import annotations

import contextlib
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.figures import format_table
from bench.ingest_report import cpu_ms_per_batch, round_verdict
from bench.ingest_requests import session_templates
from bench.ingest_servers import (
    flush_bench_redis,
    journal_drained,
    replaydesk_arguments,
    sqlite_database,
)
from bench.ingest_throughput import (
    IngestConfig,
    Rig,
    RigServer,
    build_requests,
    open_sessions,
    send_round,
    warm_up,
)
from bench.server_process import ROOT, ServerProcess
from bench.wrk_results import VALIDITY_RULES, round_problems
from bench.wrk_runner import WrkUnavailable, ensure_wrk

__all__ = ["run_ingest_ab"]

FULL = IngestConfig(rounds=8, wide_rounds=0, round_seconds=5, warmup_seconds=2)
QUICK = IngestConfig(rounds=2, wide_rounds=0, round_seconds=3, warmup_seconds=1)


@contextlib.contextmanager
def _checkout(revision: str, directory: Path) -> Iterator[Path]:
    """A detached work tree of `revision` (removed on the way out)."""
    path = directory / "code-before"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(path), revision],
        check=True,
    )
    try:
        yield path
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False
        )


async def run_ingest_ab(revision: str, quick: bool) -> str:
    """Alternated rounds of `revision` ("before") and the working tree ("after"); the report."""
    config = QUICK if quick else FULL
    try:
        wrk = ensure_wrk()
    except WrkUnavailable as exc:
        return f"Ingest before and after: NOT RUN ({exc})"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="replaydesk-bench-ab-") as tmp:
        workdir = Path(tmp)
        with _checkout(revision, workdir) as before_root:
            async with contextlib.AsyncExitStack() as stack:
                servers = []
                for name, root in (("before", before_root), ("after", ROOT)):
                    url = await stack.enter_async_context(sqlite_database(workdir / f"{name}-db"))
                    data_dir = workdir / name
                    data_dir.mkdir()
                    arguments = replaydesk_arguments("replaydesk", data_dir, url)
                    log = workdir / f"{name}.log"
                    process = await stack.enter_async_context(ServerProcess(arguments, log, root))
                    servers.append(RigServer(name=name, process=process, database_url=url))
                rig = Rig(
                    wrk=wrk,
                    servers=servers,
                    templates=session_templates(),
                    workdir=workdir,
                    config=config,
                )
                try:
                    await warm_up(rig)
                    rows, rates = await _rounds(rig)
                finally:
                    flush_bench_redis()
    return _report(revision, config, rows, rates, time.perf_counter() - started)


async def _rounds(rig: Rig) -> tuple[list[list[str]], dict[str, list[float]]]:
    config = rig.config
    rows: list[list[str]] = []
    rates: dict[str, list[float]] = {server.name: [] for server in rig.servers}
    for number in range(config.rounds):
        sessions = open_sessions(config, config.in_flight)
        requests = await build_requests(
            rig, f"r{number}", config.in_flight, config.round_seconds, sessions
        )
        order = rig.servers if number % 2 == 0 else rig.servers[::-1]
        for server in order:
            run = await send_round(rig, server, requests, config.in_flight, config.round_seconds)
            assert server.database_url is not None
            await journal_drained(server.database_url)
            result, cpu = run.result, run.cpu
            problems = round_problems(result, cpu)
            if not problems:
                rates[server.name].append(result.batches_per_second)
            rows.append(
                [
                    str(number + 1),
                    server.name,
                    f"{result.batches_per_second:.0f}",
                    f"{result.latency_us.p50 / 1000:.1f}",
                    f"{result.latency_us.p99 / 1000:.1f}",
                    cpu_ms_per_batch(result, cpu, cpu.serving),
                    cpu_ms_per_batch(result, cpu, cpu.processing),
                    f"{cpu.busiest_generator_thread:.0%}",
                    round_verdict(problems, cpu),
                ]
            )
        shutil.rmtree(requests.directory)
    return rows, rates


def _report(
    revision: str,
    config: IngestConfig,
    rows: list[list[str]],
    rates: dict[str, list[float]],
    seconds: float,
) -> str:
    header = ["round", "server", "batches/s", "p50 ms", "p99 ms", "request path CPU ms/b"]
    header += ["processing CPU ms/b", "wrk busiest thread", "verdict"]
    table = format_table(header, rows)
    before, after = rates["before"], rates["after"]
    lines = [
        f"Ingest before and after: ReplayDesk on SQLite at {revision} (before) and this working"
        f" tree (after); wrk, {config.in_flight} in flight, {config.rounds} alternated rounds of"
        f" {config.round_seconds} s, the same requests for both in a round ({seconds:.0f} s)",
        table,
        VALIDITY_RULES,
    ]
    pairs = list(zip(before, after, strict=False))
    if before and after:
        wins = sum(a > b for b, a in pairs)
        lines.append(
            f"batches/s, median of valid rounds: before {statistics.median(before):.0f},"
            f" after {statistics.median(after):.0f} (after / before"
            f" {statistics.median(after) / statistics.median(before):.2f});"
            f" after ahead in {wins} of {len(pairs)} rounds"
        )
    else:
        lines.append("no valid round for one of them: nothing to compare")
    return "\n".join(lines)
