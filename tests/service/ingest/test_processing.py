"""Ingest with processing workers: the request path queues, workers store each batch once; what
a client hears at the edge stays the same, lookup sees a batch within 2 s of its ack, a killed
worker or service loses nothing acknowledged, and erasure reaches batches not processed yet."""

from __future__ import annotations

import asyncio
import gzip
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from service.clock import now_ms
from service.errors import TooManyBatches
from service.ingest import inbox as inbox_module
from service.ingest import processing
from service.ingest.body import IngestLimits
from service.ingest.chunk_mover import ChunkMover
from service.ingest.inbox import BatchInbox
from service.ingest.processing import InboxProcessor
from service.sessions.erasure import ErasureKeys, erase_user
from service.storage.blobs import BlobStore
from service.storage.database import upgrade_database
from service.storage.inbox_store import InboxEntry, InboxRow
from service.storage.session_store import SessionStore
from service.web.app import create_app
from tests.conftest import API_KEY, AUTH, INGEST, INGEST_KEY, make_settings
from tests.processes import DIES_WITH_THE_TESTS, REPLAYDESK, free_port
from tests.recordings import BASE_TS, batch, click, meta, network
from tests.service.sessions.test_erasure_traces import files_holding

LIMITS = IngestLimits(max_body_bytes=8 << 20, max_decompressed_bytes=32 << 20)
KEYS = ErasureKeys("test-secret-key")
# What the issue promises: a batch visible in lookup within 2 s of its ack.
VISIBLE_SECONDS = 2.0
PATIENCE_SECONDS = 60.0


def body(session_id: str, seq: int, user_id: str | None = "u-proc") -> bytes:
    events = [meta(BASE_TS + seq * 1000, "https://shop.test/a"), click(BASE_TS + seq * 1000 + 5)]
    return msgspec.json.encode(batch(session_id, seq, events, user_id=user_id))


# -- the service with worker processes ----------------------------------------------------


@pytest.fixture
async def workers_client(
    tmp_path: Path, database_url: str, redis_url: str
) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    """The app with two processing worker processes."""
    settings = make_settings(tmp_path, database_url, redis_url, processing_workers=2)
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


async def wait_for_chunks(client: Any, session_id: str, count: int, seconds: float) -> float:
    """Seconds until the session has `count` chunks; fails after `seconds`."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        found = await client.get(f"/api/v1/sessions/{session_id}", headers=AUTH)
        if found.status_code == 200 and found.json()["counts"]["events"] == 2 * count:
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    raise AssertionError(f"{session_id} did not reach {count} batches in {seconds}s")


async def test_a_queued_batch_is_in_lookup_within_2_s_and_stored_once(workers_client: Any) -> None:
    # The workers take a moment to start (a process each): the promise holds once they run.
    warm_up = await workers_client.post(
        "/api/v1/ingest", content=body("sess-proc-warm", 0, "u-warm"), headers=INGEST
    )
    assert warm_up.status_code == 202
    await wait_for_chunks(workers_client, "sess-proc-warm", 1, PATIENCE_SECONDS)
    sent = await workers_client.post(
        "/api/v1/ingest", content=body("sess-proc-0001", 0), headers=INGEST
    )
    acked = time.monotonic()
    assert sent.status_code == 202 and sent.json()["status"] == "accepted", sent.text
    again = await workers_client.post(
        "/api/v1/ingest", content=body("sess-proc-0001", 0), headers=INGEST
    )
    assert again.json()["status"] == "duplicate"
    while time.monotonic() - acked < VISIBLE_SECONDS:
        latest = await workers_client.get("/api/v1/users/u-proc/sessions/latest", headers=AUTH)
        if latest.status_code == 200:
            break
        await asyncio.sleep(0.02)
    assert latest.status_code == 200, "not visible within 2 s of the ack"
    assert latest.json()["session_id"] == "sess-proc-0001"
    stored = await workers_client.post(
        "/api/v1/ingest", content=body("sess-proc-0001", 0), headers=INGEST
    )
    assert stored.json()["status"] == "duplicate"
    await asyncio.sleep(0.5)
    summary = await workers_client.get("/api/v1/sessions/sess-proc-0001", headers=AUTH)
    assert summary.json()["counts"]["events"] == 2


async def test_hostile_batches_get_the_same_refusals_at_the_edge(workers_client: Any) -> None:
    async def post(content: bytes) -> Any:
        return await workers_client.post("/api/v1/ingest", content=content, headers=INGEST)

    bad_type = b'{"session_id":"sess-proc-0002","seq":0,"events":[{"type":99,"timestamp":1}]}'
    refused = await post(bad_type)
    assert refused.status_code == 400 and "unknown event type 99" in refused.json()["detail"]
    negative = b'{"session_id":"sess-proc-0002","seq":0,"events":[{"type":2,"timestamp":-1}]}'
    assert "must not be negative" in (await post(negative)).json()["detail"]
    assert (await post(b'{"session_id":"x","seq":0,"events":[]}')).status_code == 400
    early = b'{"session_id":"sess-proc-0002","seq":0,"events":[{"type":2,"timestamp":1000}]}'
    assert "is before 2000" in (await post(early)).json()["detail"]
    assert (await post(b"\xff\xfe")).status_code == 400
    erased = await workers_client.delete("/api/v1/users/u-gone", headers=AUTH)
    assert erased.status_code == 200
    assert (await post(body("sess-proc-0003", 0, user_id="u-gone"))).status_code == 410
    await asyncio.sleep(1.0)
    for session_id in ("sess-proc-0002", "sess-proc-0003"):
        found = await workers_client.get(f"/api/v1/sessions/{session_id}", headers=AUTH)
        assert found.status_code == 404


async def test_the_sessions_sender_key_passes_through_the_inbox(workers_client: Any) -> None:
    # What the asset collector reads to pick the origins a session's copies may come from.
    keys = workers_client.app.state.services.keys
    portal = workers_client.blocking_portal
    created = await asyncio.to_thread(portal.call, keys.create_ingest_key, "b", ["https://b.test"])
    for session_id, key in (("sess-proc-key-1", created), ("sess-proc-key-2", INGEST_KEY)):
        sent = await workers_client.post(
            "/api/v1/ingest",
            content=body(session_id, 0),
            headers={"X-ReplayDesk-Key": key},
        )
        assert sent.status_code == 202, sent.text
        await wait_for_chunks(workers_client, session_id, 1, PATIENCE_SECONDS)
    assets = workers_client.app.state.services.assets
    noted = [
        (await asyncio.to_thread(portal.call, assets.scan_of, s)).ingest_key
        for s in ("sess-proc-key-1", "sess-proc-key-2")
    ]
    assert noted == [created, None]


async def test_a_killed_worker_leaves_its_batches_to_its_successor(workers_client: Any) -> None:
    pool = workers_client.app.state.processing_pool
    for seq in range(30):
        sent = await workers_client.post(
            "/api/v1/ingest", content=body("sess-proc-kill", seq), headers=INGEST
        )
        assert sent.status_code == 202
        if seq == 10:
            for pid in pool.pids():
                os.kill(pid, signal.SIGKILL)
    await wait_for_chunks(workers_client, "sess-proc-kill", 30, PATIENCE_SECONDS)
    assert pool.restarts >= 2
    await asyncio.sleep(0.5)
    summary = await workers_client.get("/api/v1/sessions/sess-proc-kill", headers=AUTH)
    assert summary.json()["counts"]["events"] == 60


# -- the inbox and a processor in this process ---------------------------------------------


@pytest.fixture
async def processors(
    store: SessionStore, blobs: BlobStore
) -> AsyncIterator[tuple[BatchInbox, list[InboxProcessor]]]:
    """The request path's inbox (waking nobody) and two processors on the same shards, as two
    replicas' workers would be."""
    inbox = BatchInbox(store, KEYS, lambda: None)
    mover = ChunkMover(store, blobs)
    found = [InboxProcessor(store, blobs, KEYS, LIMITS, mover) for _ in range(2)]
    yield inbox, found
    await inbox.close()
    for processor in found:
        await processor.close()
    await mover.close()


async def drain(processors: list[InboxProcessor]) -> None:
    async def run(processor: InboxProcessor) -> None:
        while await processor.process_page():
            pass

    await asyncio.gather(*(run(p) for p in processors))


async def test_two_processors_on_the_same_rows_store_each_batch_once(
    store: SessionStore, processors: tuple[BatchInbox, list[InboxProcessor]]
) -> None:
    inbox, workers = processors
    for seq in range(40):
        for session_id in ("sess-once-0001", "sess-once-0002"):
            status = (await inbox.ingest(body(session_id, seq), None, LIMITS, None)).status
            assert status == "accepted"
    assert (await store.inbox.backlog()).waiting == 80
    await drain(workers)
    assert (await store.inbox.backlog()).waiting == 0
    for session_id in ("sess-once-0001", "sess-once-0002"):
        found = await store.get(session_id)
        assert found is not None and found.chunk_count == 40 and found.click_count == 40
    assert sum(p.figures.written for p in workers) == 80
    status = (await inbox.ingest(body("sess-once-0001", 3), None, LIMITS, None)).status
    assert status == "duplicate"


async def queue_one_received_seconds_ago(
    store: SessionStore,
    seconds: float,
    session_id: str = "sess-late-0001",
    ingest_key: str | None = None,
) -> None:
    """A batch in the inbox that processing has not reached for `seconds`."""
    received_at = now_ms() - int(seconds * 1000)
    data = gzip.compress(body(session_id, 0))
    late = InboxEntry(session_id, 0, None, received_at, None, data, ingest_key)
    assert await store.inbox.enqueue([late], [[]]) == ["written"]


async def test_batches_are_held_while_processing_is_behind(
    store: SessionStore, processors: tuple[BatchInbox, list[InboxProcessor]]
) -> None:
    inbox, workers = processors
    await queue_one_received_seconds_ago(store, 5)
    await inbox.refresh()
    held = asyncio.ensure_future(inbox.ingest(body("sess-held-0001", 0), None, LIMITS, None))
    await asyncio.sleep(0.5)
    assert not held.done()
    assert (await store.inbox.backlog()).waiting == 1  # not queued while held
    # The workers catch up: the held batch is queued and acknowledged within a recount.
    await drain(workers)
    assert (await asyncio.wait_for(held, 1.0)).status == "accepted"
    await drain(workers)
    assert await store.get("sess-held-0001") is not None


async def test_a_batch_is_held_no_longer_than_the_limit(
    store: SessionStore,
    processors: tuple[BatchInbox, list[InboxProcessor]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(inbox_module, "MAX_HOLD_SECONDS", 0.5)
    inbox, _ = processors
    await queue_one_received_seconds_ago(store, 5)
    await inbox.refresh()
    started = time.monotonic()
    queued = await inbox.ingest(body("sess-held-0002", 0), None, LIMITS, None)
    # Nothing processes: queued all the same once the hold ends, none lost.
    assert queued.status == "accepted"
    assert 0.5 <= time.monotonic() - started < 2.0
    assert (await store.inbox.backlog()).waiting == 2


async def test_a_key_flooding_while_processing_is_behind_is_refused_and_the_others_held(
    store: SessionStore, processors: tuple[BatchInbox, list[InboxProcessor]]
) -> None:
    inbox, workers = processors
    for n in range(6):
        await queue_one_received_seconds_ago(store, 5, f"sess-flood-{n:04d}", "key-flood")
    await queue_one_received_seconds_ago(store, 5, "sess-other-0001", "key-other")
    await inbox.refresh()
    assert inbox.backlog.by_key == {"key-flood": 6, "key-other": 1}
    with pytest.raises(TooManyBatches):
        await inbox.ingest(body("sess-flood-0099", 0), None, LIMITS, None, "key-flood")
    # Another key's batch waits for processing instead, and goes in once it caught up.
    held = asyncio.ensure_future(
        inbox.ingest(body("sess-other-0002", 0), None, LIMITS, None, "key-other")
    )
    await asyncio.sleep(0.3)
    assert not held.done()
    await drain(workers)
    assert (await asyncio.wait_for(held, 1.0)).status == "accepted"
    # Caught up, the flooding key is taken again.
    queued = await inbox.ingest(body("sess-flood-0099", 0), None, LIMITS, None, "key-flood")
    assert queued.status == "accepted"


async def test_a_row_settled_late_never_takes_a_batch_queued_since(store: SessionStore) -> None:
    # A worker reads a row; another (a second replica's) stores and deletes it; a new batch is
    # queued; the first worker's settle, by the id it read, must not delete the new batch.
    # (SQLite without AUTOINCREMENT gave the largest id again, and the new batch was lost.)
    def entry(seq: int) -> InboxEntry:
        return InboxEntry("sess-reuse-0001", seq, None, 1, None, b"batch")

    def settle(conn: Any, rows: list[InboxRow]) -> set[int]:
        return store.inbox.settle_rows(conn, [row.id for row in rows])

    assert await store.inbox.enqueue([entry(0)], [[]]) == ["written"]
    read: list[InboxRow] = []
    taken, settled = await store.inbox.take(
        0, 1, 10, lambda rows: read.extend(rows) or rows, settle
    )
    assert (taken, settled) == (1, {read[0].id})
    assert await store.inbox.enqueue([entry(1)], [[]]) == ["written"]
    if store.inbox.own_file:
        # An inbox file's rows are deleted by the ids read, after their batches are stored:
        # the new batch's row must not have the old row's id.
        new_ids = await store.inbox.take(0, 1, 10, lambda rows: rows, lambda _, rows: rows)
        assert [row.id for row in new_ids[1]] == [read[0].id + 1]
        return
    late = await store.inbox.take(0, 1, 10, lambda rows: read[:1], settle)
    assert late == (1, set())
    assert (await store.inbox.backlog()).waiting == 1


async def test_erasure_removes_batches_not_processed_yet(
    store: SessionStore, blobs: BlobStore, processors: tuple[BatchInbox, list[InboxProcessor]]
) -> None:
    inbox, workers = processors
    for seq in range(3):
        await inbox.ingest(body("sess-queued-01", seq, "u-erase"), None, LIMITS, None)
        await inbox.ingest(body("sess-queued-02", seq, "u-erase"), None, LIMITS, None)
    await inbox.ingest(body("sess-kept-0001", 0, "u-keep"), None, LIMITS, None)
    assert await erase_user(store, blobs, KEYS, "u-erase") == 2
    assert (await store.inbox.backlog()).waiting == 1
    await drain(workers)
    assert await store.get("sess-queued-01") is None and await store.get("sess-queued-02") is None
    assert await store.get("sess-kept-0001") is not None
    # The erased sessions are refused at the edge from now on, with or without a user.
    with pytest.raises(Exception, match="erased"):
        await inbox.ingest(body("sess-queued-01", 9, None), None, LIMITS, None)


async def test_an_identify_event_naming_an_erased_user_is_refused_at_processing(
    store: SessionStore, blobs: BlobStore, processors: tuple[BatchInbox, list[InboxProcessor]]
) -> None:
    inbox, workers = processors
    await erase_user(store, blobs, KEYS, "u-identified")
    identify = {
        "type": 5,
        "timestamp": BASE_TS + 1,
        "data": {"tag": "replaydesk/identify", "payload": {"userId": "u-identified"}},
    }
    events = [meta(BASE_TS, "https://shop.test/a"), identify]
    content = msgspec.json.encode(batch("sess-identify-01", 0, events, user_id=None))
    status = (await inbox.ingest(content, None, LIMITS, None)).status
    assert status == "accepted"
    await drain(workers)
    assert await store.get("sess-identify-01") is None
    assert (await store.inbox.backlog()).waiting == 0
    assert sum(p.figures.refused for p in workers) == 1


MARKER = "qzinboxsecret5k"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_raw_batch_leaves_the_disk_once_processed(
    store: SessionStore,
    blobs: BlobStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(processing, "TRUNCATE_SECONDS", 0.0)
    inbox = BatchInbox(store, KEYS, lambda: None)
    mover = ChunkMover(store, blobs)
    worker = InboxProcessor(store, blobs, KEYS, LIMITS, mover)
    # The token in a failed request's URL is scrubbed: only the raw batch holds it.
    events = [
        meta(BASE_TS, "https://shop.test/a"),
        network(BASE_TS + 5, f"https://shop.test/api/pay?token={MARKER}", 500),
    ]
    content = msgspec.json.encode(batch("sess-raw-disk-01", 0, events))
    await inbox.ingest(content, None, LIMITS, None)
    # In the inbox file beside the database (its log, or the file after a checkpoint).
    assert {"replaydesk.db-inbox", "replaydesk.db-inbox-wal"} & set(
        files_holding(tmp_path, MARKER.encode())
    )
    await drain([worker])
    await worker.close()
    await mover.close()
    await inbox.close()
    assert await store.get("sess-raw-disk-01") is not None
    assert files_holding(tmp_path, MARKER.encode()) == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_erasure_leaves_no_byte_of_batches_waiting_for_processing(
    store: SessionStore, blobs: BlobStore, tmp_path: Path
) -> None:
    inbox = BatchInbox(store, KEYS, lambda: None)
    events = [meta(BASE_TS, f"https://shop.test/orders/{MARKER}")]
    for seq in range(5):
        content = msgspec.json.encode(batch("sess-wait-erase", seq, events, user_id="u-gone"))
        await inbox.ingest(content, None, LIMITS, None)
    await inbox.close()
    assert {"replaydesk.db-inbox", "replaydesk.db-inbox-wal"} & set(
        files_holding(tmp_path, MARKER.encode())
    )
    assert await erase_user(store, blobs, KEYS, "u-gone") == 1
    assert files_holding(tmp_path, MARKER.encode()) == []


# -- the service as a process, killed ---------------------------------------------------------


@contextmanager
def served(data_dir: Path, database_url: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`replaydesk serve` with two processing workers, as a process of its own."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[3]),
        "REPLAYDESK_DATA_DIR": str(data_dir),
        "REPLAYDESK_DATABASE_URL": database_url,
        "REPLAYDESK_PORT": str(port),
        "REPLAYDESK_API_KEYS": API_KEY,
        "REPLAYDESK_INGEST_KEYS": INGEST_KEY,
        "REPLAYDESK_PROCESSING_WORKERS": "2",
    }
    process = subprocess.Popen(
        [*REPLAYDESK, "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=DIES_WITH_THE_TESTS,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + PATIENCE_SECONDS
        while time.monotonic() < deadline:
            assert process.poll() is None, "serve stopped"
            try:
                if httpx.get(url + "/health", timeout=2).status_code in (200, 503):
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_batches_acknowledged_before_a_kill_9_are_stored_after_the_restart(
    tmp_path: Path,
) -> None:
    database = tmp_path / "data" / "replaydesk.db"
    url = f"sqlite+aiosqlite:///{database}"
    upgrade_database(url)
    acked = []
    with served(tmp_path / "data", url) as (process, base):
        with httpx.Client(base_url=base, headers=INGEST, timeout=10) as client:
            for seq in range(60):
                sent = client.post("/api/v1/ingest", content=body("sess-kill9-0001", seq))
                assert sent.status_code == 202
                acked.append(seq)
        workers = _children(process.pid)
        assert len(workers) >= 2, workers
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        # The workers go with the service (they would take the next one's rows otherwise).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers)
    with served(tmp_path / "data", url) as (_, base):
        deadline = time.monotonic() + PATIENCE_SECONDS
        while time.monotonic() < deadline:
            found = httpx.get(base + "/api/v1/sessions/sess-kill9-0001", headers=AUTH, timeout=5)
            if found.status_code == 200 and found.json()["counts"]["events"] == 2 * len(acked):
                break
            time.sleep(0.1)
        assert found.status_code == 200, found.text
        assert found.json()["counts"]["events"] == 2 * len(acked)


def _children(pid: int) -> list[int]:
    """The processing workers (spawned children) of a process."""
    listing = subprocess.run(
        ["ps", "-ww", "-eo", "ppid=,pid=,args="], capture_output=True, text=True, check=True
    ).stdout
    found = []
    for line in listing.splitlines():
        ppid, child, args = line.split(None, 2)
        if int(ppid) == pid and "multiprocessing.spawn" in args:
            found.append(int(child))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[1].startswith("Z"))
