"""Make a group of new files durable with one call: Linux's syncfs(2) on their filesystem.

An fsync per file and per folder costs a journal commit or a disk-cache flush each; for a
group of chunk files in as many session folders that is two per chunk. One syncfs commits the
filesystem's journal once and flushes the disk cache once, whatever the group holds. It also
writes out whatever else is pending on that filesystem, which is the price of the shortcut.

It is used only where a syncfs is known to be as durable as the fsyncs it replaces: local disk
filesystems (and overlays on them). On NFS, SMB or FUSE a syncfs may leave the data with the
server or the daemon, where an fsync would have asked them to store it.
"""

from __future__ import annotations

import ctypes
import os
import platform
import re
import weakref
from collections.abc import Callable
from pathlib import Path

__all__ = ["FilesystemSync", "filesystem_type", "open_filesystem_sync"]

# Before Linux 5.8, syncfs returned 0 even when writing a page back had failed; only from 5.8
# on does it report such errors, which per-file fsync always did.
_REPORTS_WRITEBACK_ERRORS = (5, 8)
# Filesystems whose syncfs commits their journal or log and flushes the disk (an overlay syncs
# its upper filesystem). Anything else gets an fsync per file and folder.
_WHOLE_FILESYSTEM_SYNC = frozenset({"ext4", "xfs", "btrfs", "f2fs", "overlay"})
_MOUNTINFO = Path("/proc/self/mountinfo")


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
    """A `FilesystemSync` for `folder`, or None where syncfs is missing, reports too little
    (not Linux, or Linux before 5.8) or may not reach the disk (not a local disk filesystem):
    the caller then fsyncs each file and folder."""
    if _SYNCFS is None or filesystem_type(folder) not in _WHOLE_FILESYSTEM_SYNC:
        return None
    return FilesystemSync(folder, _SYNCFS)


def filesystem_type(folder: Path, mountinfo: str | None = None) -> str | None:
    """The type of the filesystem `folder` is on (`ext4`, `nfs4`, ...), from the mount whose
    mount point is its longest prefix in /proc/self/mountinfo (or `mountinfo`); None if
    unknown."""
    if mountinfo is None:
        try:
            mountinfo = _MOUNTINFO.read_text()
        except OSError:
            return None
    path = os.path.realpath(folder)
    best: tuple[int, str] | None = None
    for line in mountinfo.splitlines():
        # "<id> <parent> <dev> <root> <mount point> <options> [<tag>...] - <type> <source> ..."
        fields, _, rest = line.partition(" - ")
        parts = fields.split(" ")
        if len(parts) < 5 or not rest:
            continue
        mount_point = _unescape(parts[4])
        inside = path == mount_point or path.startswith(mount_point.rstrip("/") + "/")
        if inside and (best is None or len(mount_point) >= best[0]):
            best = (len(mount_point), rest.split(" ", 1)[0])
    return None if best is None else best[1]


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash in paths as octal escapes.
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), field)
