"""The blob store's behaviour on a local folder and on a loopback S3-compatible server."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import stat
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer
from obstore.store import S3Store

from service.storage import blobs as blobs_module
from service.storage import filesystem_sync
from service.storage.blobs import (
    BlobNotFound,
    BlobStore,
    BlobStoreUnavailable,
    open_blob_store,
)

BUCKET = "replaydesk-blobs"
ACCESS_KEY_ID = "AKIDREPLAYDESKTEST"
SECRET_ACCESS_KEY = "secret-that-must-never-show-up"
CHUNK_KEY = "sessions/s1/000000000012-0123456789abcdef.json.gz"
BINARY = bytes(range(256)) * 4 + b"\x00\xff\x1f\x8b"

StoreFactory = Callable[..., BlobStore]


def _closed_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def s3_options(endpoint: str) -> dict[str, str]:
    """Everything an S3Store needs to talk to a plain-HTTP endpoint with fixed credentials."""
    return {
        "endpoint": endpoint,
        "region": "us-east-1",
        "access_key_id": ACCESS_KEY_ID,
        "secret_access_key": SECRET_ACCESS_KEY,
        "allow_http": "true",
    }


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # obstore fills gaps in its config from these variables; a developer's cloud profile or
    # proxy must not send a test anywhere but loopback.
    for name in list(os.environ):
        if name.startswith(("AWS_", "GOOGLE_", "AZURE_")) or name.lower() in {
            "http_proxy",
            "https_proxy",
            "all_proxy",
        }:
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_METADATA_ENDPOINT", f"http://127.0.0.1:{_closed_loopback_port()}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        conn = http.client.HTTPConnection(host, port, timeout=10)
        try:
            conn.request("PUT", f"/{BUCKET}")
            response = conn.getresponse()
            response.read()
            assert response.status == 200
        finally:
            conn.close()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(params=["local", "s3"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Opens a store; path parts nest it under this test's own root (folder or key prefix)."""
    if request.param == "local":

        def make_local(*parts: str) -> BlobStore:
            return open_blob_store(str(tmp_path.joinpath("blobs", *parts)), tmp_path / "data")

        return make_local

    endpoint: str = request.getfixturevalue("s3_endpoint")
    run = f"test-{uuid.uuid4().hex}"

    def make_s3(*parts: str) -> BlobStore:
        url = "/".join([f"s3://{BUCKET}", run, *parts])
        return open_blob_store(url, tmp_path / "data", s3_options(endpoint))

    return make_s3


@pytest.fixture
def store(make_store: StoreFactory) -> BlobStore:
    return make_store()


async def _keys(store: BlobStore, prefix: str) -> set[str]:
    return {key async for key in store.list_keys(prefix)}


# --- the same behaviour on every backend ---------------------------------------------------


async def test_round_trip_keeps_binary_data_exactly(store: BlobStore) -> None:
    await store.put(CHUNK_KEY, BINARY)
    assert await store.get(CHUNK_KEY) == BINARY


async def test_empty_blob_round_trips(store: BlobStore) -> None:
    await store.put("sessions/s1/empty", b"")
    assert await store.get("sessions/s1/empty") == b""


async def test_put_overwrites(store: BlobStore) -> None:
    await store.put(CHUNK_KEY, b"first")
    await store.put(CHUNK_KEY, b"second")
    assert await store.get(CHUNK_KEY) == b"second"
    assert await _keys(store, "sessions/s1/") == {CHUNK_KEY}


async def test_put_many_stores_each_blob(store: BlobStore) -> None:
    blobs = [(f"sessions/s{n % 2}/{n:012d}.json.gz", bytes([n]) * n) for n in range(5)]
    await store.put_many(blobs)
    for key, data in blobs:
        assert await store.get(key) == data
    await store.put_many([])  # nothing to do is fine


async def test_put_many_checks_every_key_before_storing_any(store: BlobStore) -> None:
    with pytest.raises(ValueError, match="segment"):
        await store.put_many([(CHUNK_KEY, b"x"), ("sessions//bad", b"y")])
    with pytest.raises(BlobNotFound):
        await store.get(CHUNK_KEY)


async def test_get_missing_raises_blob_not_found(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound) as caught:
        await store.get("sessions/nobody/000000000001-x.json.gz")
    assert caught.value.key == "sessions/nobody/000000000001-x.json.gz"


async def test_delete_removes_and_missing_is_fine(store: BlobStore) -> None:
    await store.put(CHUNK_KEY, BINARY)
    await store.delete(CHUNK_KEY)
    with pytest.raises(BlobNotFound):
        await store.get(CHUNK_KEY)
    await store.delete(CHUNK_KEY)
    await store.delete("never/written/anywhere")


async def test_list_keys_stays_inside_its_prefix(store: BlobStore) -> None:
    for key in ("sessions/a/1", "sessions/a/sub/2", "sessions/ab/3", "other/4"):
        await store.put(key, b"x")
    assert await _keys(store, "sessions/a/") == {"sessions/a/1", "sessions/a/sub/2"}
    assert await _keys(store, "sessions/a") == {"sessions/a/1", "sessions/a/sub/2"}
    assert await _keys(store, "sessions/") == {"sessions/a/1", "sessions/a/sub/2", "sessions/ab/3"}
    assert await _keys(store, "") == {
        "sessions/a/1",
        "sessions/a/sub/2",
        "sessions/ab/3",
        "other/4",
    }
    assert await _keys(store, "sessions/zz/") == set()


async def test_folders_and_when_their_newest_blob_was_written(store: BlobStore) -> None:
    before = datetime.now(tz=UTC) - timedelta(minutes=1)
    for key in ("sessions/a/1", "sessions/a/sub/2", "sessions/ab/3", "other/4"):
        await store.put(key, b"x")
    assert sorted(await store.list_folders("sessions/")) == ["sessions/a", "sessions/ab"]
    assert sorted(await store.list_folders("sessions")) == ["sessions/a", "sessions/ab"]
    assert sorted(await store.list_folders("")) == ["other", "sessions"]
    assert await store.list_folders("nothing/") == []
    written = await store.last_written("sessions/a/")
    assert written is not None
    assert before < written < datetime.now(tz=UTC) + timedelta(minutes=1)
    assert await store.last_written("sessions/zz/") is None


async def test_delete_prefix_stays_inside_its_prefix(store: BlobStore) -> None:
    for key in ("sessions/a/1", "sessions/a/sub/2", "sessions/ab/3", "other/4"):
        await store.put(key, b"x")
    assert await store.delete_prefix("sessions/a/") == 2
    assert await _keys(store, "") == {"sessions/ab/3", "other/4"}
    assert await store.get("sessions/ab/3") == b"x"
    assert await store.delete_prefix("sessions/a/") == 0


async def test_delete_prefix_spanning_several_batches(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blobs_module, "_DELETE_BATCH", 3)
    for seq in range(7):
        await store.put(f"sessions/big/{seq:012d}", b"x")
    await store.put("sessions/keep/1", b"x")
    assert await store.delete_prefix("sessions/big/") == 7
    assert await _keys(store, "") == {"sessions/keep/1"}


async def test_url_prefix_is_honoured(make_store: StoreFactory) -> None:
    parent = make_store()
    tenant_a = make_store("tenant-a")
    tenant_b = make_store("tenant-b")
    await tenant_a.put(CHUNK_KEY, b"from a")
    await tenant_b.put(CHUNK_KEY, b"from b")

    assert await tenant_a.get(CHUNK_KEY) == b"from a"
    assert await tenant_b.get(CHUNK_KEY) == b"from b"
    assert await _keys(tenant_a, "") == {CHUNK_KEY}
    assert await _keys(parent, "") == {f"tenant-a/{CHUNK_KEY}", f"tenant-b/{CHUNK_KEY}"}

    assert await tenant_a.delete_prefix("sessions/") == 1
    assert await tenant_b.get(CHUNK_KEY) == b"from b"
    assert await _keys(parent, "") == {f"tenant-b/{CHUNK_KEY}"}


async def test_check_passes_on_a_live_store(store: BlobStore) -> None:
    await store.check()
    await store.put(CHUNK_KEY, b"x")
    await store.check()


@pytest.mark.parametrize(
    "key",
    ["", "/sessions/a/1", "sessions/../etc/passwd", "..", "./a", "a/./b", "a//b", "a/", "a\\b"],
)
async def test_bad_keys_are_rejected(store: BlobStore, key: str) -> None:
    with pytest.raises(ValueError):
        await store.put(key, b"x")
    with pytest.raises(ValueError):
        await store.get(key)
    with pytest.raises(ValueError):
        await store.delete(key)


@pytest.mark.parametrize("prefix", ["/sessions/", "sessions/../", "../x/", "a//b/"])
async def test_bad_prefixes_are_rejected_at_the_call(store: BlobStore, prefix: str) -> None:
    with pytest.raises(ValueError):
        store.list_keys(prefix)
    with pytest.raises(ValueError):
        await store.delete_prefix(prefix)


async def test_delete_prefix_refuses_to_empty_the_store(store: BlobStore) -> None:
    await store.put(CHUNK_KEY, b"x")
    with pytest.raises(ValueError):
        await store.delete_prefix("")
    assert await store.get(CHUNK_KEY) == b"x"


def test_description_names_the_place_and_no_secret(store: BlobStore) -> None:
    assert store.description.startswith(("file:///", f"s3://{BUCKET}/test-"))
    for shown in (store.description, repr(store), str(store)):
        assert SECRET_ACCESS_KEY not in shown
        assert ACCESS_KEY_ID not in shown


# --- S3 specifics ----------------------------------------------------------------------------


def _unreachable_s3_store(tmp_path: Path) -> BlobStore:
    options = s3_options(f"http://127.0.0.1:{_closed_loopback_port()}")
    # Without these obstore retries a refused connection for up to three minutes.
    options |= {"max_retries": "0", "connect_timeout": "1s", "timeout": "2s"}
    return open_blob_store(f"s3://{BUCKET}/down", tmp_path, options)


async def test_check_fails_on_a_closed_port(tmp_path: Path) -> None:
    store = _unreachable_s3_store(tmp_path)
    with pytest.raises(BlobStoreUnavailable) as caught:
        await store.check()
    message = str(caught.value)
    assert f"s3://{BUCKET}/down" in message
    assert SECRET_ACCESS_KEY not in message


async def test_operations_on_a_closed_port_are_unavailable_not_missing(tmp_path: Path) -> None:
    store = _unreachable_s3_store(tmp_path)
    with pytest.raises(BlobStoreUnavailable):
        await store.get(CHUNK_KEY)
    with pytest.raises(BlobStoreUnavailable):
        await store.put(CHUNK_KEY, b"x")
    with pytest.raises(BlobStoreUnavailable):
        await store.delete(CHUNK_KEY)
    with pytest.raises(BlobStoreUnavailable):
        await _keys(store, "sessions/")
    with pytest.raises(BlobStoreUnavailable):
        await store.delete_prefix("sessions/")


async def test_check_gives_up_on_an_endpoint_that_never_answers() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        inner = S3Store.from_url(
            f"s3://{BUCKET}/silent",
            endpoint=f"http://127.0.0.1:{port}",
            region="us-east-1",
            access_key_id=ACCESS_KEY_ID,
            secret_access_key=SECRET_ACCESS_KEY,
            client_options={"allow_http": True},
        )
        store = BlobStore(inner, f"s3://{BUCKET}/silent", check_timeout=0.5)
        with pytest.raises(BlobStoreUnavailable, match="did not answer"):
            await store.check()


async def test_check_fails_when_the_bucket_is_missing(s3_endpoint: str, tmp_path: Path) -> None:
    store = open_blob_store("s3://no-such-bucket/p", tmp_path, s3_options(s3_endpoint))
    with pytest.raises(BlobStoreUnavailable, match="s3://no-such-bucket/p"):
        await store.check()


def test_unknown_option_is_rejected_without_echoing_secrets(tmp_path: Path) -> None:
    options = s3_options("http://127.0.0.1:9") | {"no_such_option": "1"}
    with pytest.raises(ValueError, match="no_such_option") as caught:
        open_blob_store(f"s3://{BUCKET}/p", tmp_path, options)
    assert SECRET_ACCESS_KEY not in str(caught.value)


@pytest.mark.parametrize(
    ("options", "match"),
    [({"max_retries": "many"}, "max_retries"), ({"retry_timeout": "soon"}, "retry_timeout")],
)
def test_bad_retry_options_are_rejected(
    tmp_path: Path, options: dict[str, str], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        open_blob_store(f"s3://{BUCKET}/p", tmp_path, options)


@pytest.mark.parametrize(
    ("url", "options", "description"),
    [
        ("s3://bucket/a/b/", {}, "s3://bucket/a/b"),
        ("gs://bucket/prefix", {}, "gs://bucket/prefix"),
        (
            "az://container/prefix?sig=secret-sas",
            {"account_name": "acct", "account_key": "c2VjcmV0LWtleQ=="},
            "az://container/prefix",
        ),
        (
            "abfss://container@acct.dfs.core.windows.net/prefix",
            {"account_key": "c2VjcmV0LWtleQ=="},
            "abfss://container@acct.dfs.core.windows.net/prefix",
        ),
    ],
)
def test_cloud_descriptions(
    tmp_path: Path, url: str, options: dict[str, str], description: str
) -> None:
    store = open_blob_store(url, tmp_path, options)
    assert store.description == description


# --- local folder specifics ------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_default_folder_is_created_owner_only(tmp_path: Path) -> None:
    store = open_blob_store(None, tmp_path / "data")
    root = tmp_path / "data" / "blobs"
    assert root.is_dir()
    assert _mode(root) == 0o700
    assert store.description == root.resolve().as_uri()


def test_default_folder_is_tightened_if_it_exists(tmp_path: Path) -> None:
    root = tmp_path / "data" / "blobs"
    root.mkdir(parents=True, mode=0o755)
    root.chmod(0o755)
    open_blob_store(None, tmp_path / "data")
    assert _mode(root) == 0o700


async def test_file_url_and_plain_path_open_the_same_folder(tmp_path: Path) -> None:
    folder = tmp_path / "chunks folder"
    by_url = open_blob_store(folder.as_uri(), tmp_path / "data")
    by_path = open_blob_store(str(folder), tmp_path / "data")
    await by_url.put(CHUNK_KEY, BINARY)
    assert await by_path.get(CHUNK_KEY) == BINARY
    assert folder.joinpath(*CHUNK_KEY.split("/")).read_bytes() == BINARY
    assert _mode(folder) == 0o700


async def test_local_blobs_are_owner_only(tmp_path: Path) -> None:
    store = open_blob_store(None, tmp_path / "data")
    await store.put(CHUNK_KEY, BINARY)
    blob = tmp_path.joinpath("data", "blobs", *CHUNK_KEY.split("/"))
    assert _mode(blob) == 0o600


needs_syncfs = pytest.mark.skipif(
    filesystem_sync.open_filesystem_sync(Path.cwd()) is None,
    reason="syncfs that reports writeback errors needs Linux 5.8 or later",
)


@pytest.fixture
def without_syncfs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Local stores opened from now on fsync each file and folder, as where syncfs is missing."""
    monkeypatch.setattr(blobs_module, "open_filesystem_sync", lambda folder: None)


def _recorded_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The inode of every file or folder fsynced from now on, in order."""
    synced: list[int] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.fstat(fd).st_ino)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    return synced


@needs_syncfs
async def test_local_put_many_syncs_the_filesystem_once_and_fsyncs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_blob_store(None, tmp_path / "data")
    syncs: list[None] = []
    real_sync = filesystem_sync.FilesystemSync.sync

    def counting_sync(self: filesystem_sync.FilesystemSync) -> None:
        syncs.append(None)
        real_sync(self)

    monkeypatch.setattr(filesystem_sync.FilesystemSync, "sync", counting_sync)
    fsynced = _recorded_fsyncs(monkeypatch)
    keys = ["sessions/a/1", "sessions/a/2", "sessions/b/1"]
    await store.put_many([(key, b"x") for key in keys])
    assert len(syncs) == 1
    assert fsynced == []
    for key in keys:
        assert await store.get(key) == b"x"
        assert _mode(tmp_path.joinpath("data", "blobs", *key.split("/"))) == 0o600


@needs_syncfs
async def test_a_failed_filesystem_sync_fails_the_put(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_blob_store(None, tmp_path / "data")

    def failing_sync(self: filesystem_sync.FilesystemSync) -> None:
        raise OSError(5, "syncfs failed: Input/output error")

    monkeypatch.setattr(filesystem_sync.FilesystemSync, "sync", failing_sync)
    with pytest.raises(BlobStoreUnavailable, match=r"failed to put: .*Input/output error"):
        await store.put_many([(CHUNK_KEY, BINARY)])


@pytest.mark.usefixtures("without_syncfs")
async def test_without_syncfs_a_put_fsyncs_the_file_and_its_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_blob_store(None, tmp_path / "data")
    synced = _recorded_fsyncs(monkeypatch)
    await store.put(CHUNK_KEY, BINARY)
    root = tmp_path / "data" / "blobs"
    blob = root.joinpath(*CHUNK_KEY.split("/"))
    expected = {blob, blob.parent, blob.parent.parent, root}
    assert {path.stat().st_ino for path in expected} <= set(synced)


@pytest.mark.usefixtures("without_syncfs")
async def test_without_syncfs_put_many_fsyncs_each_file_and_each_folder_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_blob_store(None, tmp_path / "data")
    await store.put("sessions/a/0", b"x")  # folders made durable before
    synced = _recorded_fsyncs(monkeypatch)
    keys = ["sessions/a/1", "sessions/a/2", "sessions/b/1"]
    await store.put_many([(key, b"x") for key in keys])
    root = tmp_path / "data" / "blobs"
    inode = {name: root.joinpath(*name.split("/")).stat().st_ino for name in keys}
    folders = {name: (root / name).stat().st_ino for name in ("sessions/a", "sessions/b")}
    assert sorted(synced) == sorted(
        [*inode.values(), *folders.values(), (root / "sessions").stat().st_ino, root.stat().st_ino]
    ), "each file, each of the two folders once, and the ancestors of the new folder"


async def test_local_delete_prefix_removes_emptied_folders(tmp_path: Path) -> None:
    store = open_blob_store(None, tmp_path / "data")
    await store.put("sessions/a/1", b"x")
    await store.put("sessions/b/1", b"x")
    assert await store.delete_prefix("sessions/a/") == 1
    root = tmp_path / "data" / "blobs"
    assert not (root / "sessions" / "a").exists()
    assert (root / "sessions" / "b" / "1").exists()


async def test_local_check_fails_when_the_folder_is_gone(tmp_path: Path) -> None:
    store = open_blob_store(None, tmp_path / "data")
    shutil.rmtree(tmp_path / "data" / "blobs")
    with pytest.raises(BlobStoreUnavailable, match="blobs"):
        await store.check()


@pytest.mark.parametrize(
    "url",
    ["relative/folder", "http://example.invalid/blobs", "ftp://example.invalid/x", "file://host/x"],
)
def test_unsupported_urls_are_rejected(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError):
        open_blob_store(url, tmp_path)


def test_options_are_refused_for_local_folders(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        open_blob_store(None, tmp_path, {"endpoint": "http://127.0.0.1:9"})
