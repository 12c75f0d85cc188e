"""The writer lock of a SQLite file: one writer at a time across threads and processes, handed
over as soon as it is released, and never left held by a process that died."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import text

from service.storage.database import create_engine, upgrade_database
from service.storage.transactions import TransactionRunner
from service.storage.writer_lock import WriterLock

_HOLD_AND_WAIT = """
import sys, time
from service.storage.writer_lock import WriterLock
lock = WriterLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_one_holder_at_a_time_and_the_next_takes_it_at_once(tmp_path: Path) -> None:
    database = str(tmp_path / "replaydesk.db")
    # Two instances stand for two processes: each has its own open file.
    first, second = WriterLock(database), WriterLock(database)
    try:
        assert first.try_acquire()
        assert not first.try_acquire()  # another thread of the same process
        assert not second.try_acquire()
        taken_at: list[float] = []

        def wait_for_it() -> None:
            second.acquire()
            taken_at.append(time.monotonic())
            second.release()

        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        time.sleep(0.2)
        assert not taken_at
        released_at = time.monotonic()
        first.release()
        waiter.join(5)
        # SQLite's busy handler would sleep up to 100 ms between polls; this wakes at once.
        assert taken_at and taken_at[0] - released_at < 0.08
        assert second.try_acquire()
        second.release()
        assert stat.S_IMODE(os.stat(first.path).st_mode) == 0o600
    finally:
        first.close()
        second.close()


def test_a_process_killed_while_holding_it_leaves_it_free(tmp_path: Path) -> None:
    database = str(tmp_path / "replaydesk.db")
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_AND_WAIT, database], stdout=subprocess.PIPE
    )
    lock = WriterLock(database)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        assert not lock.try_acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        assert lock.try_acquire()
        lock.release()
    finally:
        holder.kill()
        holder.wait()
        lock.close()


async def test_a_write_waits_for_another_process_holding_the_lock(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'replaydesk.db'}"
    await asyncio.to_thread(upgrade_database, url)
    engine = create_engine(url)
    runner = TransactionRunner(engine)
    other = WriterLock(str(tmp_path / "replaydesk.db"))
    try:
        assert other.try_acquire()
        write = asyncio.ensure_future(
            runner.run(lambda conn: conn.execute(text("DELETE FROM ingest_inbox")).rowcount)
        )
        await asyncio.sleep(0.3)
        assert not write.done()
        # Reads never wait for it.
        assert await runner.read(lambda conn: conn.execute(text("SELECT 1")).scalar()) == 1
        other.release()
        assert await asyncio.wait_for(write, 5) == 0
    finally:
        other.close()
        runner.dispose()
        await engine.dispose()
