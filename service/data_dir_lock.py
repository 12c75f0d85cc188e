"""One owner per embedded data dir: an exclusive lock on a file inside it.

The owner is `replaydesk serve`, or `replaydesk jobs` while no serve runs (it then starts the
data dir's private Redis for the length of the command). The lock is an `flock` on
`<data_dir>/serve.lock`, held by an open file descriptor for the life of the process. The OS
drops it when the process ends, however it ends, so a crash never leaves a stale lock behind.
The file holds the holder's pid and command, for the message another process prints, and a
serve's URL, for the links other commands print; they are only informative, the lock is what
counts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path

__all__ = ["LOCK_FILE", "DataDirBusy", "DataDirLock", "acquire_data_dir_lock", "serving_url"]

log = logging.getLogger(__name__)

LOCK_FILE = "serve.lock"
# The holder writes its pid right after taking the lock; a second process that reads the file
# in between waits this long for it before reporting an unknown pid.
_PID_WAIT_SECONDS = 0.5
# "<pid> <command> [<url>]\n"; a URL longer than this is cut off, and then not used.
_MAX_LINE = 2048


class DataDirBusy(Exception):
    """Another process holds the data dir's lock."""

    def __init__(self, data_dir: Path, pid: int | None, command: str = "serve") -> None:
        self.data_dir = data_dir
        self.pid = pid
        self.command = command
        holder = f"another replaydesk {command}"
        if pid:
            holder += f" (pid {pid})"
        advice = (
            "stop it or set REPLAYDESK_DATA_DIR to another folder"
            if command == "serve"
            else "try again once it has finished"
        )
        super().__init__(f"{holder} is using {data_dir}; {advice}")


class DataDirLock:
    """A held lock on a data dir; `release()` (or the end of the process) lets it go."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        """True until `release()`."""
        return self._fd is not None

    def release(self) -> None:
        """Drop the lock (idempotent). The file stays: removing it would race a new holder."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)


def acquire_data_dir_lock(
    data_dir: Path, command: str = "serve", url: str | None = None
) -> DataDirLock | None:
    """Lock `data_dir` for this process, running `command` (a serve answering on `url`), or
    raise `DataDirBusy` naming the holder's pid and command.

    Returns None, after a warning, where the platform or the filesystem has no file locks:
    the service then runs unguarded rather than not at all.
    """
    path = data_dir / LOCK_FILE
    try:
        import fcntl
    except ImportError:  # not a POSIX system
        log.warning("file locks are not available here; %s is not guarded", data_dir)
        return None
    try:
        # Not truncated on open: the file may hold the current holder's pid.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        log.warning("could not open %s (%s); the data dir is not guarded", path, exc)
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid, holder_command, _ = _holder(fd)
        os.close(fd)
        raise DataDirBusy(data_dir, pid, holder_command) from None
    except OSError as exc:  # e.g. ENOLCK, EOPNOTSUPP on some network filesystems
        os.close(fd)
        log.warning("could not lock %s (%s); the data dir is not guarded", path, exc)
        return None
    try:
        os.ftruncate(fd, 0)
        line = " ".join(part for part in (str(os.getpid()), command, url) if part)
        os.pwrite(fd, f"{line}\n".encode(), 0)
    except OSError as exc:
        # The lock holds all the same; only the pid in a second serve's message is missing.
        log.warning("could not write the pid into %s (%s)", path, exc)
    return DataDirLock(path, fd)


def serving_url(data_dir: Path) -> str | None:
    """The URL of the `replaydesk serve` running on `data_dir`, as it said when it started;
    None when no serve runs there (or it did not say).

    Read without locking, so that it never makes a starting serve fail: a holder that is gone
    is recognised by its pid no longer running.
    """
    try:
        text = (data_dir / LOCK_FILE).read_bytes()[:_MAX_LINE].decode("utf-8", "replace")
    except OSError:
        return None
    pid, command, url = _parse(text)
    if pid is None or command != "serve" or not url or not _running(pid):
        return None
    return url


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _holder(fd: int) -> tuple[int | None, str, str | None]:
    """The holder's pid (None if unknown), command and URL, from the lock file."""
    deadline = time.monotonic() + _PID_WAIT_SECONDS
    while True:
        try:
            text = os.pread(fd, _MAX_LINE, 0).decode("utf-8", "replace")
        except OSError:
            return None, "serve", None
        pid, command, url = _parse(text)
        if pid is not None or time.monotonic() >= deadline:
            return pid, command, url
        time.sleep(0.02)


def _parse(text: str) -> tuple[int | None, str, str | None]:
    line, newline, _ = text.partition("\n")
    if not newline:
        return None, "serve", None  # empty, being written, or cut off
    pid, _, rest = line.strip().partition(" ")
    command, _, url = rest.partition(" ")
    if not pid.isdigit():
        return None, "serve", None
    return int(pid), command or "serve", url or None
