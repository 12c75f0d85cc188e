"""Make a group of new files durable with one call: Linux's syncfs(2) on their filesystem.

An fsync per file and per folder costs a journal commit or a disk-cache flush each; for a
group of chunk files in as many session folders that is two per chunk. One syncfs commits the
filesystem's journal once and flushes the disk cache once, whatever the group holds. It also
writes out whatever else is pending on that filesystem, which is the price of the shortcut.
"""

from __future__ import annotations

import ctypes
import os
import platform
import weakref
from collections.abc import Callable
from pathlib import Path

__all__ = ["FilesystemSync", "open_filesystem_sync"]

# Before Linux 5.8, syncfs returned 0 even when writing a page back had failed; only from 5.8
# on does it report such errors, which per-file fsync always did.
_REPORTS_WRITEBACK_ERRORS = (5, 8)


def _libc_syncfs() -> Callable[[int], int] | None:
    if platform.system() != "Linux" or _kernel_version() < _REPORTS_WRITEBACK_ERRORS:
        return None
    try:
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    syncfs.argtypes = [ctypes.c_int]
    syncfs.restype = ctypes.c_int
    return syncfs  # type: ignore[no-any-return]


def _kernel_version() -> tuple[int, int]:
    numbers = platform.release().split("-", 1)[0].split(".")
    try:
        return int(numbers[0]), int(numbers[1])
    except (IndexError, ValueError):
        return 0, 0


_SYNCFS = _libc_syncfs()


class FilesystemSync:
    """Durability for everything written to the filesystem that holds `folder`.

    The folder stays open for the object's life: syncfs reports a writeback error to each open
    descriptor once, so an error that happened between two calls, before the next file was
    even opened, is still reported by the next call.
    """

    def __init__(self, folder: Path, syncfs: Callable[[int], int]) -> None:
        self._syncfs = syncfs
        self._fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        weakref.finalize(self, os.close, self._fd)

    def sync(self) -> None:
        """Return once all data and metadata written so far is on disk; `OSError` if not."""
        if self._syncfs(self._fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"syncfs failed: {os.strerror(code)}")


def open_filesystem_sync(folder: Path) -> FilesystemSync | None:
    """A `FilesystemSync` for `folder`, or None where syncfs is missing or reports too little
    (not Linux, or Linux before 5.8): the caller then fsyncs each file and folder."""
    if _SYNCFS is None:
        return None
    return FilesystemSync(folder, _SYNCFS)
