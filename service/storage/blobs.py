"""Event-chunk blob storage: local folders, S3, GCS and Azure behind one obstore-backed API."""

from __future__ import annotations

import asyncio
import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import unquote, urlsplit, urlunsplit

import obstore
from obstore.exceptions import BaseError as ObstoreError
from obstore.store import AzureStore, GCSStore, LocalStore, MemoryStore, S3Store

from service.storage.filesystem_sync import FilesystemSync, open_filesystem_sync

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping, Sequence

    from obstore import ObjectMeta
    from obstore.store import (
        AzureConfig,
        ClientConfig,
        GCSConfig,
        ObjectStore,
        RetryConfig,
        S3Config,
    )

__all__ = ["BlobNotFound", "BlobStore", "BlobStoreUnavailable", "open_blob_store"]

_DELETE_BATCH: Final = 1000
_MAX_DURABLE_DIRS: Final = 10_000
_LIST_CHUNK: Final = 1000
_CHECK_TIMEOUT_SECONDS: Final = 5.0
# A prefix nothing is stored under, so the health probe's listing is empty and cheap.
_PROBE_PREFIX: Final = "_health-probe"

# Keys become file names on local folders: control characters and backslashes make unreadable
# or platform-dependent names, and obstore's LocalStore reserves `#` for its temporary files.
_FORBIDDEN_KEY_CHARS: Final = re.compile(r"[\x00-\x1f\x7f\\#]")

# obstore keeps HTTP client settings apart from the per-cloud config and panics (a
# BaseException) when a client key is passed as config, so these are routed by name.
_CLIENT_OPTION_KEYS: Final = frozenset(
    {
        "allow_http",
        "allow_invalid_certificates",
        "connect_timeout",
        "default_content_type",
        "http1_only",
        "http2_keep_alive_interval",
        "http2_keep_alive_timeout",
        "http2_keep_alive_while_idle",
        "http2_only",
        "pool_idle_timeout",
        "pool_max_idle_per_host",
        "proxy_ca_certificate",
        "proxy_excludes",
        "proxy_url",
        "randomize_addresses",
        "read_timeout",
        "root_certificate",
        "timeout",
        "user_agent",
    }
)
_CLOUD_KEY_PREFIXES: Final = ("aws_", "google_", "azure_")
_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(ms|s)?\s*$")
_URL_USERINFO: Final = re.compile(r"//[^/\s@]*@")
_URL_QUERY: Final = re.compile(r"\?\S*")


class BlobNotFound(Exception):
    """No blob is stored under the key (the exception's argument)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class BlobStoreUnavailable(Exception):
    """The blob store could not be reached or refused the request; nothing is known to be done."""


class BlobStore:
    """Event-chunk storage on one object-store API.

    Keys are `/`-separated relative paths such as `sessions/<id>/000000000012-<hash>.json.gz`;
    empty, absolute and `.`/`..`-containing keys raise `ValueError`. Prefixes match whole path
    segments: `sessions/a/` (or `sessions/a`) never matches `sessions/ab/...`.

    Build instances with `open_blob_store`.
    """

    def __init__(
        self,
        store: ObjectStore,
        description: str,
        *,
        local_root: Path | None = None,
        filesystem_sync: FilesystemSync | None = None,
        check_timeout: float = _CHECK_TIMEOUT_SECONDS,
    ) -> None:
        self._store = store
        self._description = description
        self._local_root = local_root
        # Makes a local put's files durable in one call; None: fsync each file and folder.
        self._filesystem_sync = filesystem_sync
        # Without a filesystem sync: folders whose own entry is already durable, so later puts
        # into them fsync only the new file and its folder, not every ancestor again. Bounded;
        # cleared when it fills up.
        self._durable_dirs: set[Path] = set()
        self._check_timeout = check_timeout

    def __repr__(self) -> str:
        # The wrapped obstore object may carry credentials in its config; never show it.
        return f"BlobStore({self._description!r})"

    @property
    def description(self) -> str:
        """Where the blobs live, e.g. `file:///var/lib/replaydesk/blobs` or `s3://bucket/prefix`.

        Built from the URL alone, so it never contains credentials.
        """
        return self._description

    async def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key`, replacing any previous blob; durable once this returns."""
        await self.put_many([(key, data)])

    async def put_many(self, blobs: Sequence[tuple[str, bytes]]) -> None:
        """Store each `(key, data)` as `put` does; all durable once this returns.

        Raises `BlobStoreUnavailable` when any of them fails; the others may be stored.
        """
        for key, _ in blobs:
            _validate_key(key)
        try:
            # Event chunks are small and already in memory; a single PUT also avoids leaving
            # abandoned multipart uploads behind in the bucket when a request fails.
            if self._local_root is None:
                puts = (obstore.put_async(self._store, k, d, use_multipart=False) for k, d in blobs)
                await asyncio.gather(*puts)
            elif blobs:
                # Written and made durable in one worker-thread call: one hand-off for all.
                await asyncio.to_thread(self._put_local_files, self._local_root, blobs)
        except (ObstoreError, OSError) as exc:
            raise self._unavailable("put", exc) from None

    def _put_local_files(self, root: Path, blobs: Sequence[tuple[str, bytes]]) -> None:
        for key, data in blobs:
            obstore.put(self._store, key, data, use_multipart=False)
        # obstore writes a temporary file and renames it over the key, but never syncs: without
        # this a crash soon after put could leave the blob empty or missing.
        paths = [_local_path(root, key) for key, _ in blobs]
        written = [path for path in paths if _make_owner_only(path)]
        if self._filesystem_sync is not None:
            # Every file, rename and new folder of the group at once.
            self._filesystem_sync.sync()
        else:
            if len(self._durable_dirs) > _MAX_DURABLE_DIRS:
                self._durable_dirs.clear()
            _fsync_files_and_folders(root, written, self._durable_dirs)

    async def get(self, key: str) -> bytes:
        """The blob stored under `key`; raises `BlobNotFound` if there is none."""
        _validate_key(key)
        try:
            result = await obstore.get_async(self._store, key)
            body = await result.bytes_async()
        except FileNotFoundError:
            raise BlobNotFound(key) from None
        except (ObstoreError, OSError) as exc:
            raise self._unavailable("get", exc) from None
        return body.to_bytes()

    async def delete(self, key: str) -> None:
        """Remove the blob under `key`; a key that holds nothing is not an error."""
        _validate_key(key)
        try:
            await obstore.delete_async(self._store, key)
        except FileNotFoundError:
            # S3 already treats this as success; local folders, GCS and Azure report it.
            return
        except (ObstoreError, OSError) as exc:
            raise self._unavailable("delete", exc) from None

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every blob under `prefix` and return how many were found.

        The keys are listed first, then removed in batches (one request per batch on S3 and
        Azure), so memory grows with the number of keys under the prefix. An empty prefix
        raises `ValueError` rather than emptying the whole store.
        """
        normalized = _validate_prefix(prefix)
        if not normalized:
            raise ValueError("refusing to delete every blob: the prefix is empty")
        keys = [key async for key in self._iter_keys(normalized)]
        # Emptied folders are removed; a folder made again later must be made durable again.
        self._durable_dirs.clear()
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start : start + _DELETE_BATCH]
            try:
                await obstore.delete_async(self._store, batch)
            except FileNotFoundError:
                # Local folders fail the whole batch on one file that a concurrent delete
                # already removed (while still deleting the others); finish key by key.
                for key in batch:
                    await self.delete(key)
            except (ObstoreError, OSError) as exc:
                raise self._unavailable("delete_prefix", exc) from None
        return len(keys)

    def list_keys(self, prefix: str) -> AsyncIterator[str]:
        """Every key under `prefix` (all keys if it is empty), in no particular order."""
        # Validate now rather than on first iteration, so a bad prefix fails at the call site.
        return self._iter_keys(_validate_prefix(prefix))

    async def list_written(self, prefix: str) -> AsyncIterator[tuple[str, datetime]]:
        """Every key under `prefix` with when it was written, in no particular order."""
        async for meta in self._iter_meta(_validate_prefix(prefix)):
            yield meta["path"], meta["last_modified"]

    async def list_folders(self, prefix: str) -> list[str]:
        """The folders one level below `prefix` that hold blobs, as prefixes without the
        trailing `/` (`sessions/` gives `sessions/a`, `sessions/b`, ...), in no particular order.

        obstore gathers them in one call (several requests on a cloud store), so memory grows
        with their number.
        """
        normalized = _validate_prefix(prefix)
        try:
            listing = await obstore.list_with_delimiter_async(self._store, normalized or None)
        except (ObstoreError, OSError) as exc:
            raise self._unavailable("list", exc) from None
        return list(listing["common_prefixes"])

    async def last_written(self, prefix: str) -> datetime | None:
        """When the newest blob under `prefix` was written, or None when there is none."""
        return max(
            [meta["last_modified"] async for meta in self._iter_meta(_validate_prefix(prefix))],
            default=None,
        )

    async def check(self) -> None:
        """Cheap reachability probe for health checks; raises `BlobStoreUnavailable`.

        Lists an empty prefix, which needs the bucket to exist and the credentials to be
        accepted, and is bounded by a few seconds whatever the store's retry settings.
        """
        try:
            async with asyncio.timeout(self._check_timeout):
                await obstore.list_with_delimiter_async(self._store, _PROBE_PREFIX)
                if self._local_root is not None:
                    await asyncio.to_thread(_check_local_root, self._local_root)
        except TimeoutError:
            raise BlobStoreUnavailable(
                f"blob store {self._description} did not answer within {self._check_timeout:g}s"
            ) from None
        except (ObstoreError, OSError) as exc:
            raise self._unavailable("check", exc) from None

    async def _iter_keys(self, prefix: str) -> AsyncIterator[str]:
        async for meta in self._iter_meta(prefix):
            yield meta["path"]

    async def _iter_meta(self, prefix: str) -> AsyncIterator[ObjectMeta]:
        try:
            stream = obstore.list(self._store, prefix or None, chunk_size=_LIST_CHUNK)
            async for chunk in stream:
                for meta in chunk:
                    yield meta
        except (ObstoreError, OSError) as exc:
            raise self._unavailable("list", exc) from None

    def _unavailable(self, operation: str, exc: BaseException) -> BlobStoreUnavailable:
        return BlobStoreUnavailable(
            f"blob store {self._description} failed to {operation}: {_summarize(exc)}"
        )


def open_blob_store(
    url: str | None, data_dir: Path, options: Mapping[str, str] | None = None
) -> BlobStore:
    """Open the blob store named by `url`.

    - `None`: the folder `data_dir / "blobs"`, created owner-only (0o700).
    - An absolute path or `file:///abs/path`: that folder, created owner-only if missing.
      Files are written to a temporary name, renamed, made owner-only (0o600) and made
      durable: with one syncfs(2) per put on a local disk filesystem of Linux 5.8 and later
      (see `filesystem_sync`), elsewhere by fsyncing each file and its folders.
    - `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix` (or
      `abfs[s]://container@account.dfs.core.windows.net/prefix`): every key is stored under
      the URL's prefix. `options` holds obstore's store config for that cloud (S3:
      `endpoint`, `region`, `access_key_id`, `secret_access_key`, ...; Azure needs
      `account_name` with `az://`), its HTTP client options (`allow_http`, `timeout`,
      `connect_timeout`, ...) and two retry settings, `max_retries` and `retry_timeout`
      (seconds, or `500ms`). Anything not given there comes from that cloud's standard
      environment (`AWS_*`, `GOOGLE_*`, `AZURE_*` variables, instance metadata, ...), as
      obstore does it.
    - `memory:///`: an in-process store for tests.

    Raises `ValueError` for an unsupported URL, a relative path or an option obstore rejects.
    """
    options = options or {}
    if url is None:
        return _open_local(data_dir / "blobs", options, enforce_mode=True)
    if url.startswith("/"):
        return _open_local(Path(url), options, enforce_mode=False)
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"blob store URL {url!r} names a remote host; use a local path")
        return _open_local(Path(unquote(parts.path)), options, enforce_mode=False)
    if parts.scheme == "memory":
        if options:
            raise ValueError("blob store options do not apply to memory:///")
        return BlobStore(MemoryStore(), "memory:///")
    try:
        kind = obstore.parse_scheme(url)
    except (ObstoreError, ValueError):
        kind = None
    if kind not in ("s3", "gcs", "azure"):
        raise ValueError(
            f"unsupported blob store URL {_describe_url(url)!r}: use an absolute path, "
            "file://, s3://, gs:// or az://"
        )
    return _open_cloud(url, kind, options)


def _open_local(root: Path, options: Mapping[str, str], *, enforce_mode: bool) -> BlobStore:
    if options:
        raise ValueError("blob store options only apply to s3://, gs:// and az:// stores")
    if not root.is_absolute():
        raise ValueError(f"blob folder {str(root)!r} must be an absolute path")
    root.parent.mkdir(parents=True, exist_ok=True)
    try:
        root.mkdir(mode=0o700)
        created = True
    except FileExistsError:
        created = False
    if not root.is_dir():
        raise ValueError(f"blob folder {str(root)!r} is not a directory")
    # mkdir's mode is filtered by the umask; an existing folder the operator chose is theirs.
    if created or enforce_mode:
        root.chmod(0o700)
    root = root.resolve()
    # automatic_cleanup removes a session's folder with its last chunk.
    store = LocalStore(root, automatic_cleanup=True)
    return BlobStore(
        store, root.as_uri(), local_root=root, filesystem_sync=open_filesystem_sync(root)
    )


def _open_cloud(url: str, kind: str, options: Mapping[str, str]) -> BlobStore:
    description = _describe_url(url)
    config, client_options, retry_config = _split_options(options)
    try:
        store: ObjectStore
        if kind == "s3":
            store = S3Store.from_url(
                url,
                config=cast("S3Config", config),
                client_options=client_options,
                retry_config=retry_config,
            )
        elif kind == "gcs":
            store = GCSStore.from_url(
                url,
                config=cast("GCSConfig", config),
                client_options=client_options,
                retry_config=retry_config,
            )
        else:
            store = AzureStore.from_url(
                url,
                config=cast("AzureConfig", config),
                client_options=client_options,
                retry_config=retry_config,
            )
    except (ObstoreError, ValueError) as exc:
        raise ValueError(f"cannot open blob store {description}: {_summarize(exc)}") from None
    return BlobStore(store, description)


def _split_options(
    options: Mapping[str, str],
) -> tuple[dict[str, str], ClientConfig | None, RetryConfig | None]:
    config: dict[str, str] = {}
    client: dict[str, Any] = {}
    retry: dict[str, Any] = {}
    for key, value in options.items():
        name = key.lower()
        for cloud_prefix in _CLOUD_KEY_PREFIXES:
            name = name.removeprefix(cloud_prefix)
        if name in _CLIENT_OPTION_KEYS:
            client[name] = value
        elif name == "max_retries":
            try:
                retry["max_retries"] = int(value)
            except ValueError:
                raise ValueError(f"blob option {key}={value!r} is not an integer") from None
        elif name == "retry_timeout":
            retry["retry_timeout"] = _parse_duration(key, value)
        else:
            config[key] = value
    return (
        config,
        cast("ClientConfig", client) if client else None,
        cast("RetryConfig", retry) if retry else None,
    )


def _parse_duration(key: str, value: str) -> timedelta:
    match = _DURATION.match(value)
    if match is None:
        raise ValueError(f"blob option {key}={value!r} is not a duration like 30, 30s or 500ms")
    amount = float(match.group(1))
    return timedelta(milliseconds=amount) if match.group(2) == "ms" else timedelta(seconds=amount)


def _describe_url(url: str) -> str:
    """The URL without password, query or fragment: enough to find the store, nothing secret."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        # Azure's abfs URLs put the container where a user name goes; only a password is secret.
        userinfo, _, host = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _summarize(exc: BaseException) -> str:
    """First line of an obstore error, with URL user info and query strings blanked.

    obstore's messages quote request URLs, which can carry an Azure SAS token, and the
    response body after the first line; neither belongs in a message that gets logged.
    """
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    text = _URL_QUERY.sub("?...", _URL_USERINFO.sub("//", text))
    return text[:300]


def _validate_key(key: str) -> str:
    if not key:
        raise ValueError("blob key is empty")
    if key.startswith("/"):
        raise ValueError(f"blob key {key!r} must be relative")
    if _FORBIDDEN_KEY_CHARS.search(key):
        raise ValueError(f"blob key {key!r} contains a control character, '\\' or '#'")
    if any(segment in ("", ".", "..") for segment in key.split("/")):
        raise ValueError(f"blob key {key!r} has an empty, '.' or '..' segment")
    return key


def _validate_prefix(prefix: str) -> str:
    if not prefix:
        return ""
    return _validate_key(prefix.removesuffix("/"))


def _local_path(root: Path, key: str) -> Path:
    return root.joinpath(*key.split("/"))


def _make_owner_only(path: Path) -> bool:
    """False when the file is gone already (deleted concurrently: nothing to make durable)."""
    try:
        path.chmod(0o600)
    except FileNotFoundError:
        return False
    return True


def _fsync_files_and_folders(root: Path, paths: Sequence[Path], durable_dirs: set[Path]) -> None:
    directories: dict[Path, None] = {}  # in order, each once
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue  # deleted concurrently; nothing left to make durable
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        directories[path.parent] = None
    # The renames live in their folders, once each; folders obstore just created in theirs.
    for directory in directories:
        _fsync_directory(directory)
        if directory in durable_dirs:
            continue
        ancestor = directory
        while ancestor != root and ancestor != ancestor.parent:
            ancestor = ancestor.parent
            _fsync_directory(ancestor)
        durable_dirs.add(directory)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return  # emptied and removed by a concurrent delete
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_local_root(root: Path) -> None:
    if not os.access(root, os.W_OK | os.X_OK):
        raise PermissionError(f"{root} is not writable")
