"""One wrk round of the ingest benchmark: what `ingest_wrk.lua` reported, the CPU used around
it, and whether the round counts (`round_problems`)."""

from __future__ import annotations

import msgspec

__all__ = [
    "GENERATOR_MACHINE_LIMIT",
    "GENERATOR_THREAD_LIMIT",
    "MACHINE_IDLE_FLOOR",
    "OTHERS_LIMIT",
    "VALIDITY_RULES",
    "CpuWindow",
    "WrkErrors",
    "WrkLatency",
    "WrkResult",
    "parse_wrk_result",
    "round_problems",
    "round_warnings",
]

# A wrk thread busier than this sends about as fast as it can: it, not the server, set the rate.
GENERATOR_THREAD_LIMIT = 0.80
# Below this idle share the machine had no CPU to spare: whatever wrk used, the server did not get.
MACHINE_IDLE_FLOOR = 0.05
# ... and when wrk then took more than this share of all the machine's CPUs, the server was
# measured short of CPU the load generator took from it.
GENERATOR_MACHINE_LIMIT = 0.25

# Other work taking more than this share of all CPUs leaves a round valid, but marked: its
# figures are this machine's on a busy hour, not its own.
OTHERS_LIMIT = 0.25

VALIDITY_RULES = (
    f"a round is INVALID, and left out of every figure below its table, when: a wrk thread was"
    f" busy over {GENERATOR_THREAD_LIMIT:.0%} of the round (the generator set the rate);"
    f" or the machine was under {MACHINE_IDLE_FLOOR:.0%} idle while wrk used over"
    f" {GENERATOR_MACHINE_LIMIT:.0%} of all its CPUs (the server lacked CPU wrk took);"
    " or any answer was not 202, a socket error or timeout happened, an acknowledgement said"
    " 'duplicate', or wrk ran out of pre-built requests. A valid round is marked 'busy"
    f" machine' when other processes used over {OTHERS_LIMIT:.0%} of all CPUs during it"
)


class WrkErrors(msgspec.Struct, frozen=True):
    """wrk's own error counts; `status` counts answers of 400 and above."""

    connect: int
    read: int
    write: int
    status: int
    timeout: int


class WrkLatency(msgspec.Struct, frozen=True):
    """wrk's latency distribution, microseconds: request written to whole answer read."""

    p50: int
    p90: int
    p99: int
    p999: int
    max: int
    mean: float


class WrkResult(msgspec.Struct, frozen=True, kw_only=True):
    """What `ingest_wrk.lua`'s done() wrote for one wrk run."""

    duration_us: int
    requests: int
    bytes: int
    errors: WrkErrors
    latency_us: WrkLatency
    accepted: int  # 202 answers saying "accepted"
    duplicates: int  # 202 answers saying "duplicate": the batch was stored before
    exhausted: int  # requests sent after the pre-built ones ran out (GET /health)
    wrapped: int  # times a wrk thread started its requests again (the baseline only)
    statuses: dict[int, int]
    acked: list[str]  # "session_id seq" of each batch ReplayDesk accepted, in answer order

    @property
    def seconds(self) -> float:
        return self.duration_us / 1e6

    @property
    def batches_per_second(self) -> float:
        return self.accepted / self.seconds if self.duration_us else 0.0

    @property
    def not_202(self) -> int:
        return sum(count for status, count in self.statuses.items() if status != 202)


def parse_wrk_result(data: bytes) -> WrkResult:
    """The JSON object `ingest_wrk.lua` writes; a ValidationError when it is not one."""
    return msgspec.json.decode(data, type=WrkResult)


class CpuWindow(msgspec.Struct, frozen=True, kw_only=True):
    """CPU seconds used over one window of wall time while wrk sent a round."""

    seconds: float
    generator_threads: list[float]  # each wrk worker thread
    server: float | None  # the server process, all threads, and its processing workers (None: gone)
    server_loop: float | None  # its main thread: the event loop
    serving: float | None = None  # the server process alone, all threads: the request path
    database: float | None = None  # its PostgreSQL database's backends (None: SQLite, or none)
    machine_busy: float  # all CPUs together
    machine_idle: float

    @property
    def busiest_generator_thread(self) -> float:
        """The busiest wrk thread's CPU time over the window's wall time (0..1)."""
        return max(self.generator_threads, default=0.0) / self.seconds

    @property
    def generator_cores(self) -> float:
        return sum(self.generator_threads) / self.seconds

    @property
    def server_cores(self) -> float | None:
        return None if self.server is None else self.server / self.seconds

    @property
    def processing(self) -> float | None:
        """The server's child processes: its processing workers."""
        if self.server is None or self.serving is None:
            return None
        return max(0.0, self.server - self.serving)

    @property
    def server_loop_share(self) -> float | None:
        return None if self.server_loop is None else self.server_loop / self.seconds

    @property
    def machine_idle_share(self) -> float:
        total = self.machine_busy + self.machine_idle
        return self.machine_idle / total if total else 0.0

    @property
    def generator_machine_share(self) -> float:
        """wrk's CPU time over all the machine's CPU time (busy and idle) in the window."""
        total = self.machine_busy + self.machine_idle
        return sum(self.generator_threads) / total if total else 0.0

    @property
    def others_cores(self) -> float:
        """CPUs busy with neither wrk nor the server (nor its database): the rest of the
        machine's work."""
        return self._others / self.seconds

    @property
    def others_share(self) -> float:
        """The same over all the machine's CPU time in the window."""
        total = self.machine_busy + self.machine_idle
        return self._others / total if total else 0.0

    @property
    def database_cores(self) -> float | None:
        return None if self.database is None else self.database / self.seconds

    @property
    def _others(self) -> float:
        own = sum(self.generator_threads) + (self.server or 0.0) + (self.database or 0.0)
        return max(0.0, self.machine_busy - own)


def round_problems(result: WrkResult, cpu: CpuWindow) -> list[str]:
    """Why a round does not count (see VALIDITY_RULES); empty when it does."""
    problems = []
    if cpu.busiest_generator_thread > GENERATOR_THREAD_LIMIT:
        problems.append(f"wrk thread {cpu.busiest_generator_thread:.0%} busy")
    if (
        cpu.machine_idle_share < MACHINE_IDLE_FLOOR
        and cpu.generator_machine_share > GENERATOR_MACHINE_LIMIT
    ):
        problems.append(
            f"machine {cpu.machine_idle_share:.0%} idle, wrk {cpu.generator_machine_share:.0%}"
            " of it"
        )
    refused = {status: count for status, count in result.statuses.items() if status != 202}
    if refused:
        answers = ", ".join(f"{count}x {status}" for status, count in sorted(refused.items()))
        problems.append(f"answers not 202: {answers}")
    errors = result.errors
    socket_errors = errors.connect + errors.read + errors.write + errors.timeout
    if socket_errors:
        problems.append(f"{socket_errors} socket errors/timeouts")
    if result.duplicates:
        problems.append(f"{result.duplicates} duplicates")
    if result.exhausted:
        problems.append(f"ran out of requests ({result.exhausted} extra)")
    if not result.accepted:
        problems.append("nothing accepted")
    return problems


def round_warnings(cpu: CpuWindow) -> list[str]:
    """What makes a valid round's figures the machine's on a busy hour (see OTHERS_LIMIT)."""
    if cpu.others_share > OTHERS_LIMIT:
        return [f"busy machine: others {cpu.others_share:.0%} of it"]
    return []
