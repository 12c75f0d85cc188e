"""CPU time read from /proc (Linux): a process, each of its threads, and the whole machine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "MachineTimes",
    "database_cpu_seconds",
    "machine_times",
    "stat_cpu_seconds",
    "thread_cpu_seconds",
    "tree_cpu_seconds",
]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class MachineTimes(NamedTuple):
    """CPU seconds summed over every CPU since boot: doing something, and idle."""

    busy: float
    idle: float


def stat_cpu_seconds(stat_path: Path) -> float | None:
    """User + system CPU seconds of the process or thread whose `stat` file this is; None once
    it is gone."""
    try:
        stat = stat_path.read_text()
    except OSError:
        return None
    # utime and stime are fields 14 and 15 of proc(5); [0] after the ")" is field 3.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU seconds of process `pid` and of every live process descended from it: a server's
    processing workers are its child processes, and their work is the server's. None once
    `pid` is gone."""
    own = stat_cpu_seconds(Path(f"/proc/{pid}/stat"))
    if own is None:
        return None
    children: dict[int, list[int]] = {}
    for entry, stat in _processes("stat"):
        parent = int(stat.rsplit(b")", 1)[1].split()[1])  # field 4 of proc(5)
        children.setdefault(parent, []).append(int(entry.name))
    total, pending = own, list(children.get(pid, ()))
    while pending:
        child = pending.pop()
        total += stat_cpu_seconds(Path(f"/proc/{child}/stat")) or 0.0
        pending += children.get(child, ())
    return total


def database_cpu_seconds(database: str) -> float:
    """CPU seconds of the PostgreSQL backends serving `database` (their process titles are
    `postgres: <user> <database> <client> <state>`): the database's work for a server under
    test, part of what each batch costs. Backends that exited are no longer counted."""
    total = 0.0
    needle = f" {database} ".encode()
    for entry, title in _processes("cmdline"):
        if title.startswith(b"postgres: ") and needle in title:
            total += stat_cpu_seconds(entry / "stat") or 0.0
    return total


def _processes(file: str) -> Iterator[tuple[Path, bytes]]:
    """Each live process's folder under /proc and its `file` (one that has gone is skipped)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                yield entry, (entry / file).read_bytes()
            except OSError:
                continue


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of process `pid`, by thread id; empty once it is gone."""
    found = {}
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return {}
    for task in tasks:
        seconds = stat_cpu_seconds(task / "stat")
        if seconds is not None:
            found[int(task.name)] = seconds
    return found


def machine_times() -> MachineTimes:
    """The first line of /proc/stat: all CPUs together. Waiting for I/O counts as idle (the
    CPU was free for anyone), guest time is already inside user time."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq + steal
    return MachineTimes(busy / _CLOCK_TICKS, (idle + iowait) / _CLOCK_TICKS)
