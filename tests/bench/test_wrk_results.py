"""When a wrk round counts, and which ratios the ingest report takes from it."""

from __future__ import annotations

from typing import Any

import pytest

from bench.ingest_report import RoundRun, round_ratios
from bench.wrk_results import (
    CpuWindow,
    WrkErrors,
    WrkResult,
    parse_wrk_result,
    round_problems,
    round_warnings,
)

LUA_OUTPUT = (
    b'{"duration_us":3012000,"requests":1210,"bytes":96800,'
    b'"errors":{"connect":0,"read":0,"write":0,"status":0,"timeout":0},'
    b'"latency_us":{"p50":31000,"p90":52000,"p99":88000,"p999":120000,"max":131000,"mean":33000.5},'
    b'"accepted":1210,"duplicates":0,"exhausted":0,"wrapped":0,"statuses":{"202":1210},'
    b'"acked":["r01-t1-000000 0","r01-t2-000000 0"]}'
)


def result(**changes: Any) -> WrkResult:
    parsed = parse_wrk_result(LUA_OUTPUT)
    return WrkResult(**{**{f: getattr(parsed, f) for f in parsed.__struct_fields__}, **changes})


def window(**changes: Any) -> CpuWindow:
    fields: dict[str, Any] = {
        "seconds": 3.0,
        "generator_threads": [0.6, 0.5],  # 20% and 17% busy
        "server": 2.7,
        "server_loop": 2.4,
        "machine_busy": 4.0,
        "machine_idle": 2.0,
    }
    return CpuWindow(**{**fields, **changes})


def test_the_lua_scripts_output_parses() -> None:
    parsed = parse_wrk_result(LUA_OUTPUT)
    assert parsed.statuses == {202: 1210}
    assert parsed.batches_per_second == pytest.approx(1210 / 3.012)
    assert parsed.latency_us.p99 == 88000
    assert parsed.acked == ["r01-t1-000000 0", "r01-t2-000000 0"]
    assert parsed.not_202 == 0


def test_a_round_with_cpu_to_spare_and_only_202s_counts() -> None:
    cpu = window()
    assert round_problems(result(), cpu) == []
    assert round_warnings(cpu) == []
    assert cpu.busiest_generator_thread == pytest.approx(0.2)
    assert cpu.server_cores == pytest.approx(0.9)
    assert cpu.machine_idle_share == pytest.approx(1 / 3)
    assert cpu.others_cores == pytest.approx((4.0 - 1.1 - 2.7) / 3)


def test_a_busy_wrk_thread_makes_the_round_invalid() -> None:
    assert round_problems(result(), window(generator_threads=[2.55, 0.3])) == [
        "wrk thread 85% busy"
    ]


def test_no_idle_cpu_invalidates_only_when_wrk_took_a_large_share() -> None:
    starved = window(generator_threads=[0.9, 0.9], machine_busy=5.9, machine_idle=0.1)
    assert round_problems(result(), starved) == ["machine 2% idle, wrk 30% of it"]
    # Idle near 0 because of other work, with wrk small: valid, but marked.
    crowded = window(generator_threads=[0.2, 0.2], server=1.0, machine_busy=5.9, machine_idle=0.1)
    assert round_problems(result(), crowded) == []
    assert round_warnings(crowded) == ["busy machine: others 75% of it"]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"statuses": {202: 1200, 503: 10}}, "answers not 202: 10x 503"),
        ({"duplicates": 3}, "3 duplicates"),
        ({"exhausted": 40, "statuses": {202: 1210, 200: 40}}, "ran out of requests (40 extra)"),
        ({"errors": WrkErrors(connect=0, read=2, write=0, status=0, timeout=1)}, "3 socket"),
        ({"accepted": 0, "statuses": {}}, "nothing accepted"),
    ],
)
def test_errors_refusals_duplicates_and_running_out_invalidate(
    changes: dict[str, Any], problem: str
) -> None:
    problems = round_problems(result(**changes), window())
    assert any(found.startswith(problem) for found in problems), problems


def test_ratios_come_only_from_rounds_where_both_servers_were_valid() -> None:
    def run(
        number: int, server: str, rate: int, problems: list[str] | None = None, sessions: int = 128
    ) -> RoundRun:
        return RoundRun(
            number=number,
            in_flight=16,
            sessions=sessions,
            server=server,
            result=result(accepted=rate, duration_us=1_000_000),
            cpu=window(),
            problems=problems or [],
            deferred_cpu_seconds=None,
            visibility=None,
        )

    runs = [
        run(1, "baseline", 2000),
        run(1, "replaydesk", 500),
        run(2, "replaydesk", 600),
        run(2, "baseline", 1000, ["wrk thread 90% busy"]),
        run(3, "baseline", 1500),
        run(3, "replaydesk", 900),
        run(4, "baseline", 1000, sessions=10),
        run(4, "replaydesk", 100, sessions=10),
    ]
    assert round_ratios(runs, "replaydesk", 16, 128) == [0.25, 0.6]
    assert round_ratios(runs, "replaydesk", 16, 10) == [0.1]
    assert round_ratios(runs, "replaydesk", 16) == [0.25, 0.6, 0.1]
    assert round_ratios(runs, "replaydesk", 256) == []
