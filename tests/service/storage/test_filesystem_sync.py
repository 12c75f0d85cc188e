"""syncfs(2) through ctypes: a real call, a failing one, and where it is not used (old kernels,
other systems, filesystems whose syncfs may not reach the disk)."""

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


MOUNTINFO = "\n".join(
    [
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
        "30 22 0:40 / /srv/nas rw,relatime - nfs4 server:/export rw,vers=4.2",
        "31 22 0:41 / /mnt/my\\040disk rw - xfs /dev/sdb1 rw",
        "32 22 0:42 / /mnt/fuse rw,nosuid shared:5 master:2 - fuse.sshfs host: rw",
        "33 22 0:43 / /srv/nasty rw - btrfs /dev/sdc1 rw",
        "34 30 0:44 / /srv/nas rw - ext4 /dev/sdd1 rw",  # mounted over the NFS mount
    ]
)


@pytest.mark.parametrize(
    ("folder", "kind"),
    [
        ("/var/lib/replaydesk", "ext4"),
        ("/srv/nas/replaydesk", "ext4"),  # the later mount on the same point is the one seen
        ("/srv/nasty/blobs", "btrfs"),  # a longer name that shares a prefix is another mount
        ("/mnt/my disk/blobs", "xfs"),
        ("/mnt/fuse", "fuse.sshfs"),
    ],
)
def test_the_filesystem_of_a_folder_is_its_longest_mount_point(folder: str, kind: str) -> None:
    assert filesystem_sync.filesystem_type(Path(folder), MOUNTINFO) == kind


@pytest.mark.parametrize("kind", ["nfs4", "cifs", "fuse.sshfs", "tmpfs", None])
def test_no_syncfs_where_it_may_not_reach_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str | None
) -> None:
    monkeypatch.setattr(filesystem_sync, "_SYNCFS", lambda fd: 0)
    monkeypatch.setattr(filesystem_sync, "filesystem_type", lambda folder: kind)
    assert open_filesystem_sync(tmp_path) is None
    monkeypatch.setattr(filesystem_sync, "filesystem_type", lambda folder: "ext4")
    assert open_filesystem_sync(tmp_path) is not None
