"""wrk, the C load generator of the ingest benchmark: found or installed, run with
`ingest_wrk.lua`, and its CPU, the server's and the machine's read from /proc while it sends."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import msgspec

from bench.proc_cpu import (
    database_cpu_seconds,
    machine_times,
    stat_cpu_seconds,
    thread_cpu_seconds,
    tree_cpu_seconds,
)
from bench.wrk_results import CpuWindow, WrkResult, parse_wrk_result

__all__ = ["WRK_SCRIPT", "WrkRun", "WrkUnavailable", "ensure_wrk", "run_wrk"]

WRK_SCRIPT = Path(__file__).with_name("ingest_wrk.lua")
# A request that takes longer counts as a timeout (an invalid round), not as a latency.
REQUEST_TIMEOUT = "10s"
# The CPU window closes this long before wrk's own end, so that it never includes wrk's
# reporting or the server's work after the load stops.
WINDOW_END_MARGIN_SECONDS = 0.15
_POLL_SECONDS = 0.002
_START_TIMEOUT_SECONDS = 30.0
_APT_TIMEOUT_SECONDS = 600


class WrkUnavailable(RuntimeError):
    """wrk is not installed and could not be installed."""


def ensure_wrk() -> str:
    """The path of `wrk`; Debian's package is installed with apt-get (as root) when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise WrkUnavailable(
            "wrk is not installed, and installing it needs apt-get as root: "
            "run `apt-get install wrk` (Debian's package), then the benchmark again"
        )
    print("ingest: wrk is missing; installing Debian's wrk with apt-get", flush=True)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        try:
            done = subprocess.run(
                command,
                env=environment,
                capture_output=True,
                text=True,
                timeout=_APT_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise WrkUnavailable(f"`{' '.join(command)}` did not finish in time") from None
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
            raise WrkUnavailable(f"`{' '.join(command)}` failed ({done.returncode}):\n{tail}")
    found = shutil.which("wrk")
    if not found:
        raise WrkUnavailable("apt-get installed wrk, but no `wrk` is on the PATH")
    return found


class WrkRun(msgspec.Struct, frozen=True, kw_only=True):
    """One wrk run: what it reported and the CPU used while it sent."""

    result: WrkResult
    cpu: CpuWindow


class _Sample(msgspec.Struct, frozen=True):
    at: float
    generator: dict[int, float]
    server: float | None
    server_loop: float | None
    serving: float | None
    database: float | None
    busy: float
    idle: float


def _sample(wrk_pid: int, server_pid: int | None, database: str | None) -> _Sample:
    at = time.monotonic()
    machine = machine_times()
    server = loop = serving = None
    if server_pid is not None:
        server = tree_cpu_seconds(server_pid)
        loop = stat_cpu_seconds(Path(f"/proc/{server_pid}/task/{server_pid}/stat"))
        serving = stat_cpu_seconds(Path(f"/proc/{server_pid}/stat"))
    database_seconds = None if database is None else database_cpu_seconds(database)
    return _Sample(
        at,
        thread_cpu_seconds(wrk_pid),
        server,
        loop,
        serving,
        database_seconds,
        machine.busy,
        machine.idle,
    )


def _delta(first: float | None, last: float | None) -> float | None:
    return None if first is None or last is None else last - first


def _window(first: _Sample, last: _Sample, wrk_pid: int) -> CpuWindow:
    # wrk's main thread only sleeps while its worker threads send.
    workers = sorted(tid for tid in first.generator if tid != wrk_pid and tid in last.generator)
    return CpuWindow(
        seconds=last.at - first.at,
        generator_threads=[last.generator[tid] - first.generator[tid] for tid in workers],
        server=_delta(first.server, last.server),
        server_loop=_delta(first.server_loop, last.server_loop),
        serving=_delta(first.serving, last.serving),
        database=_delta(first.database, last.database),
        machine_busy=last.busy - first.busy,
        machine_idle=last.idle - first.idle,
    )


def run_wrk(
    wrk: str,
    url: str,
    *,
    requests_dir: Path,
    threads: int,
    connections: int,
    seconds: int,
    headers: Mapping[str, str],
    server_pid: int | None,
    workdir: Path,
    wrap: bool = False,
    database: str | None = None,
) -> WrkRun:
    """Run wrk against `url` for `seconds` with the requests in `requests_dir` (blocking).

    The CPU window opens once all of wrk's worker threads exist (wrk starts its clock then)
    and closes just before wrk stops sending. wrk is reaped here, so nothing else may wait
    for it. With `wrap`, a wrk thread that reaches the end of its requests starts them again
    (for a server that stores nothing); without, it sends GET /health and the round is invalid.
    """
    result_path = workdir / "wrk-result.json"
    log_path = workdir / "wrk.log"
    result_path.unlink(missing_ok=True)
    command = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s"]
    command += ["--timeout", REQUEST_TIMEOUT, "-s", str(WRK_SCRIPT)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    environment = {
        **os.environ,
        "REPLAYDESK_WRK_REQUESTS": str(requests_dir),
        "REPLAYDESK_WRK_RESULT": str(result_path),
        "REPLAYDESK_WRK_WRAP": "1" if wrap else "0",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, url], stdout=log, stderr=subprocess.STDOUT, env=environment
        )
    pid = process.pid
    try:
        first = _wait_for_threads(pid, threads, server_pid, database, log_path)
        time.sleep(max(0.0, first.at + seconds - WINDOW_END_MARGIN_SECONDS - time.monotonic()))
        last = _sample(pid, server_pid, database)
        _, status, _ = os.wait4(pid, 0)
    except BaseException:
        process.kill()
        process.wait()
        raise
    # Reaped by wait4 above: Popen must not wait for it again.
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 or not result_path.exists():
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{_tail(log_path)}")
    return WrkRun(result=parse_wrk_result(result_path.read_bytes()), cpu=_window(first, last, pid))


def _wait_for_threads(
    pid: int, threads: int, server_pid: int | None, database: str | None, log: Path
) -> _Sample:
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        waited, _, _ = os.wait4(pid, os.WNOHANG)
        if waited:
            raise RuntimeError(f"wrk exited before sending:\n{_tail(log)}")
        if len(thread_cpu_seconds(pid)) >= threads + 1:
            return _sample(pid, server_pid, database)
        time.sleep(_POLL_SECONDS)
    raise RuntimeError(f"wrk did not start its {threads} threads in {_START_TIMEOUT_SECONDS:g}s")


def _tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
