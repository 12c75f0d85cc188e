"""syncfs(2) through ctypes: a real call, a failing one, and where it is not used."""

from __future__ import annotations

import ctypes
import errno
import gc
import os
from pathlib import Path

import pytest

from service.storage import filesystem_sync
from service.storage.filesystem_sync import FilesystemSync, open_filesystem_sync


@pytest.mark.skipif(open_filesystem_sync(Path.cwd()) is None, reason="needs Linux 5.8 or later")
def test_sync_makes_a_written_file_durable_without_error(tmp_path: Path) -> None:
    sync = open_filesystem_sync(tmp_path)
    assert sync is not None
    (tmp_path / "chunk").write_bytes(b"x" * 4096)
    sync.sync()


def test_a_failed_syncfs_raises_with_its_errno(tmp_path: Path) -> None:
    def failing_syncfs(fd: int) -> int:
        ctypes.set_errno(errno.EIO)
        return -1

    sync = FilesystemSync(tmp_path, failing_syncfs)
    with pytest.raises(OSError, match="syncfs failed") as raised:
        sync.sync()
    assert raised.value.errno == errno.EIO


def test_the_folder_stays_open_until_the_object_goes(tmp_path: Path) -> None:
    sync = FilesystemSync(tmp_path, lambda fd: 0)
    fd = sync._fd
    assert os.path.samefile(f"/proc/self/fd/{fd}", tmp_path)
    del sync
    gc.collect()
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(fd)


@pytest.mark.parametrize(
    ("system", "release"),
    [("Linux", "5.4.0-150-generic"), ("Linux", "4.19.0"), ("Darwin", "23.1.0"), ("Linux", "x")],
)
def test_no_syncfs_before_linux_5_8_or_elsewhere(
    monkeypatch: pytest.MonkeyPatch, system: str, release: str
) -> None:
    monkeypatch.setattr(filesystem_sync.platform, "system", lambda: system)
    monkeypatch.setattr(filesystem_sync.platform, "release", lambda: release)
    assert filesystem_sync._libc_syncfs() is None


@pytest.mark.skipif(os.uname().sysname != "Linux", reason="the C library's syncfs is Linux's")
def test_linux_5_8_and_later_has_syncfs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filesystem_sync.platform, "system", lambda: "Linux")
    monkeypatch.setattr(filesystem_sync.platform, "release", lambda: "5.8.0")
    assert filesystem_sync._libc_syncfs() is not None
