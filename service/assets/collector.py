"""The asset collector: a background task that finds sessions with new batches, reads the asset
URLs in them and keeps a copy of each (content-addressed, shared between sessions)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import cast

import httpx
import msgspec
from isal import isal_zlib

from service.assets.css_urls import css_references
from service.assets.event_urls import absolute_asset_url, scan_events
from service.assets.fetcher import MAX_COPY_BYTES, AssetFetcher, Fetched, FetchFailure
from service.assets.origin_policy import OriginPolicy
from service.background_tasks import stop_task
from service.clock import now_ms
from service.storage.asset_layout import asset_blob_key
from service.storage.asset_store import AssetScan, AssetStore, SessionAssetEntry, StoredAsset
from service.storage.blobs import BlobNotFound, BlobStore

__all__ = ["AssetCollector", "url_hash"]

log = logging.getLogger(__name__)
_GZIP_ERROR = cast("type[Exception]", isal_zlib.error)

# How often the collector looks for sessions with new batches: assets are copied while the
# session is being recorded, close to when the page had them.
SCAN_PERIOD_SECONDS = 5.0
# Sessions looked at per pass (the least recently received first).
SESSIONS_PER_PASS = 50
# A batch is stamped on arrival and committed shortly after; sessions are looked at again for
# this long after a scan so none committed meanwhile is missed.
_RESCAN_MARGIN_MS = 60_000
# Only sessions with a batch this recent are looked at (an index range, not the whole table):
# copies are of what pages had while recorded, and the collector runs wherever ingest does.
_RECENT_MS = 3600_000
# How long one scan holds a session from other processes' collectors: longer than a scan of
# one session's new batches takes (its fetches time out after 20 s each, four at a time).
_CLAIM_MS = 10 * 60_000
# A scan asked for now waits this long between tries while another collector holds the session.
_CLAIM_POLL_SECONDS = 0.1
# Per session: no more bytes copied than this, and no more URLs than this.
_MAX_SESSION_BYTES = 50 * 1024 * 1024
_MAX_SESSION_URLS = 2000
# Stylesheets are read for the URLs they load, and those they import, this deep.
_MAX_CSS_DEPTH = 2
# Fetches of one session under way at once (each connects to the customer's site).
_CONCURRENT_FETCHES = 4
# Copies no session references any more (a scan that raced an erasure) are removed after
# this long, and this many per pass.
_UNUSED_GRACE_MS = 10 * 60_000
_UNUSED_PER_PASS = 200


def url_hash(url: str) -> str:
    """The key of a URL among a session's assets."""
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()


class AssetCollector:
    """Copies the assets of sessions with new batches, one pass every `period` seconds."""

    def __init__(
        self,
        store: AssetStore,
        blobs: BlobStore,
        origins: Callable[[str | None], Awaitable[Iterable[str]]],
        *,
        period: float = SCAN_PERIOD_SECONDS,
        max_session_bytes: int = _MAX_SESSION_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
        counted: Callable[[SessionAssetEntry], None] | None = None,
        fetching: bool = True,
    ) -> None:
        """`origins`: the site origins of the ingest key that sent a session (None: a
        configured key); `counted` sees each URL's recorded entry once per session (metrics);
        `fetching` off: only the stylesheets recordings carry inlined are kept."""
        self.store = store
        self.blobs = blobs
        self.origins = origins
        self.period = period
        self.max_session_bytes = max_session_bytes
        self._transport = transport
        self._counted = counted
        self.fetching = fetching
        self._task: asyncio.Task[None] | None = None
        self._urgent: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Start the passes in the background."""
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Stop at once (a fetch under way is abandoned; its session is scanned again)."""
        await stop_task(self._task)
        self._task = None
        for scan in list(self._urgent):
            await stop_task(scan)

    async def _run(self) -> None:
        while True:
            # A period first: the service's start is not slowed by a pass.
            await asyncio.sleep(self.period)
            try:
                await self.scan_once()
            except Exception as exc:
                # The class only: a message may name a URL or a session.
                log.warning("asset copying pass failed (%s); trying again", type(exc).__name__)

    async def scan_once(self) -> int:
        """One pass: copy the assets of sessions with new batches, remove copies no session
        uses. Returns how many sessions were looked at."""
        policies: dict[str | None, OriginPolicy] = {}
        now = now_ms()
        scans = await self.store.sessions_to_scan(
            now - _RECENT_MS, _RESCAN_MARGIN_MS, SESSIONS_PER_PASS, now
        )
        for scan in scans:
            await self._scan_claimed(scan.session_id, policies)
        await self._remove_unused()
        return len(scans)

    async def scan_now(self, session_id: str, wait_seconds: float) -> None:
        """Copy what the session's newest batches reference now, not at the next pass (a live
        viewer is waiting for them); return when done, or after `wait_seconds` with the scan
        going on in the background. A scan held by another collector is waited for."""
        scan = asyncio.create_task(self._scan_when_free(session_id, wait_seconds))
        self._urgent.add(scan)
        scan.add_done_callback(self._urgent.discard)
        await asyncio.wait([scan], timeout=wait_seconds)

    async def _scan_when_free(self, session_id: str, patience: float) -> None:
        deadline = asyncio.get_running_loop().time() + patience
        while not await self._scan_claimed(session_id, {}):
            if asyncio.get_running_loop().time() >= deadline:
                return
            await asyncio.sleep(_CLAIM_POLL_SECONDS)

    async def _scan_claimed(
        self, session_id: str, policies: dict[str | None, OriginPolicy]
    ) -> bool:
        """Scan one session unless another collector holds it (False). `policies` caches the
        origin policy of each sending key for a pass."""
        finished = False
        try:
            # Inside the try: stopped while claiming, the claim may have been made.
            if not await self.store.claim(session_id, now_ms(), now_ms() + _CLAIM_MS):
                finished = True
                return False
            # As recorded now: another process may have scanned it since it was listed.
            current = await self.store.scan_of(session_id)
            if current.ingest_key not in policies:
                # Read again each pass: a key revoked since fetches nothing more.
                origins = await self.origins(current.ingest_key)
                policies[current.ingest_key] = OriginPolicy.from_origins(origins)
            fetcher = AssetFetcher(policies[current.ingest_key], transport=self._transport)
            await self.scan_session(current, fetcher)
            finished = True
        except (OSError, ValueError) as exc:
            # Storage away: the session is scanned again on a later pass.
            log.warning("could not copy a session's assets (%s)", type(exc).__name__)
        finally:
            if not finished:
                # Also on shutdown: the next process need not wait for the claim to pass.
                with contextlib.suppress(Exception):
                    await self.store.release(session_id)
        return True

    async def scan_session(self, scan: AssetScan, fetcher: AssetFetcher) -> None:
        """Read a session's batches after the last scan and copy the assets they name."""
        sources = await self.store.chunks_after(scan.session_id, scan.scanned_seq)
        page_href = scan.page_href
        first_seen: dict[str, int] = {}
        inlined: dict[str, str] = {}
        at = now_ms()
        for source in sources:
            try:
                stored = source.journaled
                if stored is None:
                    stored = await self.blobs.get(source.blob_key)
                events = msgspec.json.decode(
                    isal_zlib.decompress(stored, wbits=16 + isal_zlib.MAX_WBITS)
                )
            except (BlobNotFound, _GZIP_ERROR, msgspec.DecodeError) as exc:
                # One unreadable chunk does not hold up the rest of the session.
                log.warning("skipped an unreadable chunk for assets (%s)", type(exc).__name__)
                continue
            found = scan_events(events, page_href)
            page_href = found.page_href
            seen = source.first_ts if source.first_ts is not None else at
            for url in found.urls:
                first_seen.setdefault(url, seen)
            for url, css in found.inlined.items():
                first_seen.setdefault(url, seen)
                inlined.setdefault(url, css)
        known = await self.store.known_url_hashes(
            scan.session_id, [url_hash(u) for u in first_seen]
        )
        wanted = [(u, ts) for u, ts in first_seen.items() if url_hash(u) not in known]
        entries, fetched_bytes = await self._copy(
            wanted,
            inlined,
            fetcher,
            scan.fetched_bytes,
            await self.store.count_entries(scan.session_id),
            scan.session_id,
        )
        last_seq = sources[-1].seq if sources else scan.scanned_seq
        progress = AssetScan(
            session_id=scan.session_id,
            scanned_seq=last_seq,
            page_href=page_href,
            fetched_bytes=fetched_bytes,
        )
        if not await self.store.record(scan.session_id, entries, progress, now_ms()):
            await self._drop_unrecorded(entries)
            return
        if self._counted is not None:
            for entry in entries:
                self._counted(entry)

    async def _copy(
        self,
        wanted: list[tuple[str, int]],
        inlined: dict[str, str],
        fetcher: AssetFetcher,
        fetched_bytes: int,
        known: int,
        session_id: str,
    ) -> tuple[list[SessionAssetEntry], int]:
        entries: dict[str, SessionAssetEntry] = {}
        gate = asyncio.Semaphore(_CONCURRENT_FETCHES)
        level = [(url, seen) for url, seen in wanted]
        depth = 0
        budget = {"bytes": fetched_bytes}

        async def one(url: str, seen: int) -> tuple[SessionAssetEntry | None, list[str]]:
            if (
                known + len(entries) >= _MAX_SESSION_URLS
                or budget["bytes"] >= self.max_session_bytes
            ):
                return _entry(url, None, "over_budget", seen), []
            outcome = await self._inlined_or_fetched(url, inlined, fetcher, gate)
            if outcome is None:
                return None, []
            if isinstance(outcome, FetchFailure):
                return _entry(url, None, outcome.status, seen), []
            if budget["bytes"] + len(outcome.data) > self.max_session_bytes:
                return _entry(url, None, "over_budget", seen), []
            budget["bytes"] += len(outcome.data)
            digest = hashlib.sha256(outcome.data).hexdigest()
            await self.blobs.put(asset_blob_key(digest), outcome.data)
            asset = StoredAsset(
                hash=digest, content_type=outcome.content_type, size=len(outcome.data)
            )
            # Served at once, not when the session's slowest fetch is done: a live viewer may
            # be waiting for it. (The scan's end records every entry again, with its progress,
            # and a session gone meanwhile keeps none of its copies.)
            await self.store.record(
                session_id, [_entry(url, asset, "stored", seen)], None, now_ms()
            )
            nested: list[str] = []
            if outcome.content_type == "text/css":
                text = outcome.data.decode("utf-8", "replace")
                for reference in css_references(text):
                    absolute = absolute_asset_url(reference.url, url)
                    if absolute is not None:
                        nested.append(absolute)
            return _entry(url, asset, "stored", seen), nested

        while level:
            results = await asyncio.gather(*(one(url, seen) for url, seen in level))
            next_level: list[tuple[str, int]] = []
            for (entry, nested), (_, seen) in zip(results, level, strict=True):
                if entry is not None:
                    entries[entry.url] = entry
                if depth < _MAX_CSS_DEPTH:
                    next_level += [(u, seen) for u in nested]
            level = []
            queued: set[str] = set()
            for url, seen in next_level:
                if url not in entries and url not in queued:
                    queued.add(url)
                    level.append((url, seen))
            # What a stylesheet loads that an earlier scan recorded is not fetched again.
            if level:
                recorded = await self.store.known_url_hashes(
                    session_id, [url_hash(u) for u, _ in level]
                )
                level = [(u, seen) for u, seen in level if url_hash(u) not in recorded]
            depth += 1
        # Everything here is new to the session (copies recorded early are recorded again with
        # the rest, which changes nothing).
        return list(entries.values()), budget["bytes"]

    async def _inlined_or_fetched(
        self, url: str, inlined: dict[str, str], fetcher: AssetFetcher, gate: asyncio.Semaphore
    ) -> Fetched | FetchFailure | None:
        """A stylesheet the recorder sent inlined is copied from that text, without asking
        the site (a stylesheet behind a login is copied too); the rest is fetched, unless
        fetching is off (None: nothing to record)."""
        css = inlined.get(url)
        if css is not None:
            data = css.encode("utf-8", "replace")
            return (
                FetchFailure("too_large")
                if len(data) > MAX_COPY_BYTES
                else Fetched("text/css", data)
            )
        if not self.fetching:
            return None
        async with gate:
            return await fetcher.fetch(url)

    async def _drop_unrecorded(self, entries: list[SessionAssetEntry]) -> None:
        """The session went while it was scanned: delete the copies stored for it that no
        row names."""
        hashes = {e.asset.hash for e in entries if e.asset is not None}
        kept = await self.store.existing_assets(sorted(hashes))
        for asset_hash in hashes - kept:
            await self.blobs.delete(asset_blob_key(asset_hash))

    async def _remove_unused(self) -> None:
        unused = await self.store.unused_assets(now_ms() - _UNUSED_GRACE_MS, _UNUSED_PER_PASS)
        for asset_hash in await self.store.forget_unused(unused):
            await self.blobs.delete(asset_blob_key(asset_hash))


def _entry(url: str, asset: StoredAsset | None, status: str, seen: int) -> SessionAssetEntry:
    return SessionAssetEntry(
        url=url, url_hash=url_hash(url), asset=asset, status=status, first_seen_at=seen
    )
