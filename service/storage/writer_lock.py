"""One writer at a time on a SQLite file, across the threads and processes of ReplayDesk, handed
over the moment the previous one commits.

SQLite lets one connection write at a time and makes the others poll: its busy handler sleeps
1, 2, 5, 10 ... up to 100 ms between attempts, so a writer that finds the lock taken waits for
the next poll, often long after the lock was released. Under ingest the request path's inbox
inserts, each processing worker's batch writes and the chunk movers' moves all meet on that
lock, and the sleeps, not the writes, set the pace (acknowledgements tens of milliseconds
late, with idle CPUs).

`WriterLock` queues ReplayDesk's own writers on a lock the kernel hands over at once: a
`flock` on a file beside the database (`<database>-writer`, empty; the kernel releases it
when its process dies, kill -9 included), plus a thread lock, as threads of one process
share the file's lock. A writer takes it before its transaction begins and lets go after the
commit, so SQLite's lock is free when it asks. Writers that do not take it (migrations, the
command line, the async engine's occasional writes) still meet SQLite's own lock, and wait
on its busy handler as before: the lock orders ReplayDesk's busiest writers, it is not what
keeps the file consistent.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator

__all__ = ["WriterLock"]

_SUFFIX = "-writer"


class WriterLock:
    """The writer lock of one SQLite file (`database_path`), for this process's threads."""

    def __init__(self, database_path: str) -> None:
        self.path = database_path + _SUFFIX
        self._threads = threading.Lock()
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if no other thread or process holds it; never waits."""
        if not self._threads.acquire(blocking=False):
            return False
        try:
            fcntl.flock(self._file(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._threads.release()
            return False
        except BaseException:
            self._threads.release()
            raise
        return True

    def acquire(self) -> None:
        """Take the lock, waiting for the thread or process that holds it (blocks: call it
        from a worker thread, never on the event loop)."""
        self._threads.acquire()
        try:
            fcntl.flock(self._file(), fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        try:
            fcntl.flock(self._file(), fcntl.LOCK_UN)
        finally:
            self._threads.release()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """The lock, waited for, around a block (in a worker thread)."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _file(self) -> int:
        # Opened once per process, under the thread lock; owner-only like the database.
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return self._fd
