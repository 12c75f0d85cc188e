"""The ingest benchmark's printed report: every round, then the figures of the valid ones."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import msgspec

from bench.figures import format_table, percentile, verdict
from bench.ingest_requests import RequestSet, SessionTemplate
from bench.ingest_visibility import LOOKUP_SAMPLE, VISIBLE_WITHIN_SECONDS, Visibility
from bench.wrk_results import VALIDITY_RULES, CpuWindow, WrkResult, round_warnings

__all__ = [
    "TARGET_RATIO_TO_BASELINE",
    "RoundRun",
    "cpu_ms_per_batch",
    "ingest_report",
    "not_run_report",
    "round_ratios",
    "round_verdict",
]

TARGET_RATIO_TO_BASELINE = 0.8
BASELINE = "baseline"
# The server the target is about: ReplayDesk on its embedded defaults.
TARGET_SERVER = "replaydesk"


class RoundRun(msgspec.Struct, kw_only=True):
    """One server's turn in one round."""

    number: int
    in_flight: int
    sessions: int  # open at once (each sends its batches in turn)
    server: str
    result: WrkResult
    cpu: CpuWindow
    problems: list[str]  # empty: a valid round
    deferred_cpu_seconds: float | None  # after the round, until the chunk journal was empty
    visibility: Visibility | None

    @property
    def valid(self) -> bool:
        return not self.problems


def not_run_report(reason: str) -> str:
    """What is printed when wrk is missing: no figures at all, never another generator's."""
    return (
        "Ingest throughput: NOT RUN\n"
        f"  {reason}\n"
        "  The ingest figures come from wrk only: a Python load generator saturates before the"
        " bare endpoint does, so its ratios would measure the generator."
    )


def round_ratios(
    runs: Sequence[RoundRun], server: str, in_flight: int, sessions: int | None = None
) -> list[float]:
    """`server`'s batches/s over the baseline's, per round, for rounds where both were valid
    (those with `in_flight` requests, and `sessions` open if given)."""
    by_round: dict[int, dict[str, RoundRun]] = {}
    for run in runs:
        if run.in_flight == in_flight and sessions in (None, run.sessions):
            by_round.setdefault(run.number, {})[run.server] = run
    ratios = []
    for servers in by_round.values():
        mine, base = servers.get(server), servers.get(BASELINE)
        if mine is None or base is None or not (mine.valid and base.valid):
            continue
        ratios.append(mine.result.batches_per_second / base.result.batches_per_second)
    return ratios


def _ms(microseconds: float) -> str:
    return f"{microseconds / 1000:.1f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _cores(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def cpu_ms_per_batch(result: WrkResult, cpu: CpuWindow, seconds: float | None) -> str:
    """CPU `seconds` of the round's CPU window per batch acknowledged in it, in ms."""
    batches = result.batches_per_second * cpu.seconds
    if seconds is None or not batches:
        return "-"
    return f"{seconds / batches * 1000:.2f}"


def _round_row(run: RoundRun) -> list[str]:
    result, cpu = run.result, run.cpu
    latency = result.latency_us
    return [
        str(run.in_flight),
        str(run.number),
        run.server,
        str(result.accepted),
        f"{result.batches_per_second:.0f}",
        _ms(latency.p50),
        _ms(latency.p99),
        _ms(latency.max),
        str(run.sessions),
        cpu_ms_per_batch(result, cpu, cpu.serving),
        cpu_ms_per_batch(result, cpu, cpu.processing) if run.server != BASELINE else "-",
        _cores(cpu.server_cores),
        _cores(cpu.database_cores),
        _share(cpu.server_loop_share),
        _share(cpu.busiest_generator_thread),
        _cores(cpu.generator_cores),
        _share(cpu.machine_idle_share),
        _cores(cpu.others_cores),
        round_verdict(run.problems, run.cpu),
    ]


def round_verdict(problems: Sequence[str], cpu: CpuWindow) -> str:
    """A round's verdict column: INVALID and why, or ok with what made the machine busy."""
    if problems:
        return "INVALID: " + "; ".join(problems)
    return "; ".join(["ok", *round_warnings(cpu)])


ROUND_HEADER = [
    "in flight",
    "round",
    "server",
    "acked",
    "batches/s",
    "p50 ms",
    "p99 ms",
    "max ms",
    "sessions",
    "request path CPU ms/b",
    "processing CPU ms/b",
    "server CPUs",
    "database CPUs",
    "loop busy",
    "wrk busiest thread",
    "wrk CPUs",
    "machine idle",
    "other CPUs",
    "verdict",
]


def _summary_rows(runs: Sequence[RoundRun]) -> list[list[str]]:
    rows = []
    keys = list(dict.fromkeys((run.in_flight, run.sessions, run.server) for run in runs))
    first = runs[0]
    for in_flight, sessions, server in keys:
        mine = [
            run
            for run in runs
            if (run.in_flight, run.sessions, run.server) == (in_flight, sessions, server)
        ]
        valid = [run for run in mine if run.valid]
        rates = [run.result.batches_per_second for run in valid]
        row = [
            str(in_flight),
            str(sessions),
            server,
            f"{len(valid)} of {len(mine)}",
            str(sum(1 for run in valid if round_warnings(run.cpu))),
            f"{statistics.median(rates):.0f}" if rates else "-",
            _ms(statistics.median(run.result.latency_us.p50 for run in valid)) if valid else "-",
            _ms(max(run.result.latency_us.p99 for run in valid)) if valid else "-",
        ]
        if server == BASELINE:
            rows.append([*row, "-", ""])
            continue
        ratios = round_ratios(runs, server, in_flight, sessions)
        targeted = server == TARGET_SERVER and (in_flight, sessions) == (
            first.in_flight,
            first.sessions,
        )
        if not ratios:
            spread = "INVALID: no round where both it and the baseline were valid"
            rows.append([*row, spread, "INVALID" if targeted else ""])
            continue
        middle = statistics.median(ratios)
        spread = f"{middle:.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
        target = ""
        if targeted:
            met = middle >= TARGET_RATIO_TO_BASELINE
            target = f">= {TARGET_RATIO_TO_BASELINE:.2f}  {verdict(met)}"
        rows.append([*row, spread, target])
    return rows


SUMMARY_HEADER = [
    "in flight",
    "sessions",
    "server",
    "valid rounds",
    "of them busy machine",
    "batches/s (median)",
    "p50 ms (median)",
    "p99 ms (worst)",
    "/ baseline: median (min-max) of valid rounds",
    "target",
]


def _visibility_lines(runs: Sequence[RoundRun]) -> list[str]:
    lines = []
    keys = list(
        dict.fromkeys((run.in_flight, run.sessions, run.server) for run in runs if run.visibility)
    )
    for in_flight, sessions, server in keys:
        mine = [
            run
            for run in runs
            if (run.in_flight, run.sessions, run.server) == (in_flight, sessions, server)
        ]
        checks = [run.visibility for run in mine if run.visibility is not None]
        acked = sum(check.acked for check in checks)
        missing = sum(check.missing for check in checks)
        found_after = [check.stored_after_ms for check in checks]
        slowest = (
            f"all found within {max(ms for ms in found_after if ms is not None):.0f} ms"
            if all(ms is not None for ms in found_after)
            else f"{missing} MISSING after {VISIBLE_WITHIN_SECONDS:g} s"
        )
        lookups = [ms for check in checks for ms in check.lookup_ms]
        complete = sum(check.lookups_complete for check in checks)
        timing = (
            f", p50 {percentile(lookups, 0.5):.0f} ms, max {max(lookups):.0f} ms" if lookups else ""
        )
        deferred = [run.deferred_cpu_seconds for run in mine]
        batches = sum(run.result.accepted for run in mine)
        moved = (
            f"{sum(d for d in deferred if d is not None) / batches * 1000:.2f}"
            if batches and all(d is not None for d in deferred)
            else "-"
        )
        lines.append(
            f"  {server}, {in_flight} in flight, {sessions} sessions: {acked} acked, {slowest}"
            " after the round"
            f" ({'none' if not missing else missing} missing);"
            f" {complete} of {len(lookups)} event lookups complete{timing};"
            f" CPU after the round until the journal was empty {moved} ms per acked batch"
        )
    return lines


def _template_line(template: SessionTemplate) -> str:
    sizes = [len(events) / 1024 for events in template.events]
    return f"{template.name} ({len(sizes)} batches of {min(sizes):.1f}-{max(sizes):.1f} KB)"


def _load_lines(
    templates: Sequence[SessionTemplate], request_sets: Sequence[RequestSet]
) -> list[str]:
    requests = sum(each.requests for each in request_sets)
    json_kb = sum(each.json_bytes for each in request_sets) / max(requests, 1) / 1024
    wire_kb = sum(each.wire_bytes for each in request_sets) / max(requests, 1) / 1024
    sessions = sum(len(each.sessions) for each in request_sets)
    mix = ", ".join(_template_line(template) for template in templates)
    return [
        f"  load: sessions replayed in turn from {mix}; each replay a new session (fresh IDs,"
        " seq from 0); the sessions open at once (column 'sessions') take turns, each sending"
        " its next batch; by default twice as many per wrk thread as connections (64 at least),"
        " so that no session has two batches in flight; with fewer open than connections, some"
        " do (their batches may arrive out of order, as after a recorder's retry)",
        f"    {requests} requests built for the rounds ({sessions} sessions), {json_kb:.1f} KB"
        f" JSON / {wire_kb:.1f} KB gzip on average; ReplayDesk gets each once (running out"
        " invalidates the round), the baseline, which stores nothing, starts them again at their"
        " end",
        "    sent as the recorder sends: POST /api/v1/ingest?sent_at=..., Content-Type"
        " application/json, Content-Encoding gzip, X-ReplayDesk-Key",
    ]


def _clean_line(runs: Sequence[RoundRun]) -> str:
    invalid = sum(1 for run in runs if not run.valid)
    busy = sum(1 for run in runs if run.valid and round_warnings(run.cpu))
    if not invalid and not busy:
        return "clean run: every round valid, none on a busy machine"
    return (
        f"NOT a clean run: {invalid} invalid round(s), {busy} valid on a busy machine, of"
        f" {len(runs)}; its figures are not this machine's own"
    )


def ingest_report(
    *,
    wrk: str,
    threads: int,
    round_seconds: int,
    warmup_seconds: int,
    templates: Sequence[SessionTemplate],
    request_sets: Sequence[RequestSet],
    warmup: dict[str, float],
    runs: Sequence[RoundRun],
    build_seconds: float,
    total_seconds: float,
) -> str:
    """The report: how the load was made, each round, the valid rounds' figures, and checks."""
    warm = ", ".join(f"{name} {rate:.0f}" for name, rate in warmup.items())
    lines = [
        "Ingest throughput: POST /api/v1/ingest driven by wrk (C, Lua script bench/ingest_wrk.lua)",
        *_load_lines(templates, request_sets),
        f"  wrk: {wrk} -t{threads} -c<in flight> -d{round_seconds}s per round and server;"
        " rounds alternate the order (baseline first, then last); the same requests for every"
        " server in a round",
        "  servers: baseline = bare Litestar app appending each body to a file;"
        " replaydesk = create_app on SQLite + local blob folder (embedded defaults);"
        " replaydesk-postgresql = the same on PostgreSQL",
        f"  warm-up ({warmup_seconds} s each, not counted), batches/s: {warm}",
        "  latency: wrk's, from writing a request to reading its whole answer (wrk 4 adds"
        " samples for answers slower than the mean interval); CPUs: CPU seconds per second"
        " (1.00 = one CPU), read from /proc over the round; request path: the serving"
        " process (HTTP, checks, queueing, and its background tasks: chunk moves, asset"
        " copies); processing: its processing worker processes (the signal pass, chunks, the"
        " rows); database: the PostgreSQL backends of its database; loop busy: the serving"
        " process's event-loop thread; other CPUs: the machine's busy time that was none of"
        " these (Redis, PostgreSQL's own processes, other jobs)",
        f"  {VALIDITY_RULES}",
        "",
        format_table(ROUND_HEADER, [_round_row(run) for run in runs]),
        "",
        format_table(SUMMARY_HEADER, _summary_rows(runs)),
        "",
        f"Acked and visible: each acked batch looked for in the store until"
        f" {VISIBLE_WITHIN_SECONDS:g} s after its round; the events of the last {LOOKUP_SAMPLE}"
        " sessions acked fetched through GET /api/v1/sessions/{id}/events (after the chunk"
        " journal was empty)",
        *_visibility_lines(runs),
        "",
        _clean_line(runs),
        f"ingest benchmark: {total_seconds:.0f} s in all, {build_seconds:.0f} s of it building"
        " requests",
    ]
    return "\n".join(lines)
