"""CPU accounting of a server: its child processes (the processing workers) count as its own."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.proc_cpu import database_cpu_seconds, stat_cpu_seconds, tree_cpu_seconds

_BUSY = "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass\n"
_PARENT = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {_BUSY!r}])\n"


def test_a_child_process_cpu_time_counts_for_its_parent() -> None:
    parent = subprocess.Popen([sys.executable, "-c", _PARENT])
    try:
        deadline = time.monotonic() + 30
        tree = 0.0
        while time.monotonic() < deadline and parent.poll() is None:
            tree = tree_cpu_seconds(parent.pid) or tree
            if tree >= 0.5:
                break
            time.sleep(0.05)
        own = stat_cpu_seconds(Path(f"/proc/{parent.pid}/stat")) or 0.0
        assert tree >= 0.5, "the child's busy time was not counted"
        assert own < 0.5, "the parent itself only waited"
    finally:
        parent.wait(timeout=30)


def test_a_process_that_is_gone_has_no_cpu_time() -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert tree_cpu_seconds(int(gone.stdout)) is None


async def test_a_databases_backends_cpu_time_is_counted(postgres_url: str) -> None:
    engine = create_async_engine(postgres_url)
    database = make_url(postgres_url).database
    assert database is not None
    try:
        async with engine.connect() as conn:
            before = database_cpu_seconds(database)
            # The backend, not this process, does the work.
            await conn.execute(text("SELECT count(*) FROM generate_series(1, 5000000)"))
            assert database_cpu_seconds(database) - before >= 0.05
            assert database_cpu_seconds(database + "_other") == 0.0
    finally:
        await engine.dispose()
