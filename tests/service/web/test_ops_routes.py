"""/health and /metrics, including while Redis is unreachable (ingest must not depend on it) and
while chunks cannot be moved into the blob store."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from service.settings import Settings
from service.storage.blobs import BlobStore, BlobStoreUnavailable
from service.storage.database import create_engine
from service.storage.session_store import SessionStore
from service.web.app import create_app
from tests.batch_records import batch_record
from tests.conftest import AUTH, INGEST, make_settings, move_chunks
from tests.recordings import batch, checkout_events


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def client_without_redis(
    tmp_path: Path, database_url: str
) -> AsyncIterator[AsyncTestClient[Any]]:
    settings = make_settings(tmp_path, database_url, f"redis://127.0.0.1:{closed_port()}/0")
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


async def test_health_reports_every_dependency(client: Any) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "blob_store": "ok", "queue": "ok", "chunk_mover": "ok"},
        "chunks": {"waiting": 0, "quarantined": 0, "oldest_waiting_seconds": 0},
    }


async def test_with_redis_down_ingest_and_lookup_still_work_and_health_says_why(
    client_without_redis: Any,
) -> None:
    client = client_without_redis
    body = msgspec.json.encode(batch("sess-noredis-01", 0, checkout_events()))
    accepted = await client.post("/api/v1/ingest", content=body, headers=INGEST)
    assert accepted.status_code == 202
    latest = await client.get("/api/v1/users/u42/sessions/latest", headers=AUTH)
    assert latest.json()["session_id"] == "sess-noredis-01"

    health = await client.get("/health")
    assert health.status_code == 503
    checks = health.json()["checks"]
    assert checks["database"] == "ok" and checks["blob_store"] == "ok"
    assert checks["queue"].startswith("down")
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert "replaydesk_queue_depth NaN" in metrics.text


async def test_openapi_schema_lists_the_public_interface(client: Any) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    for path in (
        "/api/v1/ingest",
        "/api/v1/users/{user_id}/sessions",
        "/api/v1/users/{user_id}/sessions/latest",
        "/api/v1/users/{user_id}",
        "/api/v1/erasures/users/{user_id}",
        "/api/v1/sessions",
        "/api/v1/sessions/{session_id}",
        "/api/v1/sessions/{session_id}/events",
        "/api/v1/sessions/{session_id}/report",
        "/api/v1/sessions/{session_id}/links",
        "/health",
        "/metrics",
    ):
        assert path in schema["paths"], path


# -- the chunk mover ------------------------------------------------------------------------


async def journal_poison(settings: Settings, received_at: int = 3000) -> None:
    """A journaled batch whose blob key the blob store refuses (a session ID ending in a
    newline, as ingest once took), written beside the running service."""
    engine = create_engine(settings.database_url)
    store = SessionStore(engine)
    try:
        record = batch_record("poisonpill\n", 0, user_id="u-poison", received_at=received_at)
        await store.record_new_batches([record], [[]], [b"poisoned chunk"])
    finally:
        store.dispose()
        await engine.dispose()


async def ingest(client: Any, session_id: str, seq: int, user_id: str) -> None:
    body = msgspec.json.encode(batch(session_id, seq, checkout_events(), user_id=user_id))
    response = await client.post("/api/v1/ingest", content=body, headers=INGEST)
    assert response.status_code == 202, response.text


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "not done in time"
        await asyncio.sleep(0.05)


async def test_a_chunk_the_blob_store_refuses_is_quarantined_counted_and_holds_up_no_one(
    client: Any, settings: Settings
) -> None:
    await journal_poison(settings)
    for seq in range(3):
        await ingest(client, "sess-ops-good1", seq, "u1")
    await move_chunks(client)  # as the mover does half a second later
    # Every other tenant's chunks are in the blob store...
    events = await client.get("/api/v1/sessions/sess-ops-good1/events", headers=AUTH)
    assert len(events.json()) == 3 * len(checkout_events())
    folder = settings.data_dir / "blobs" / "sessions" / "sess-ops-good1"
    assert len(list(folder.iterdir())) == 3
    # ...and the refused one is counted and reported, not waiting.
    text = (await client.get("/metrics")).text
    assert metric(text, "replaydesk_chunks_waiting") == 0
    assert metric(text, "replaydesk_chunks_quarantined") == 1
    assert metric(text, "replaydesk_chunk_moves_failing") == 0
    health = await client.get("/health")
    assert health.status_code == 200  # ingest works: no balancer should take it out
    assert health.json() == {
        "status": "degraded",
        "checks": {
            "database": "ok",
            "blob_store": "ok",
            "queue": "ok",
            "chunk_mover": "quarantined: 1 chunks the blob store refused",
        },
        "chunks": {"waiting": 0, "quarantined": 1, "oldest_waiting_seconds": 0},
    }
    # Ingest goes on, and its chunks keep moving past the quarantined one.
    await ingest(client, "sess-ops-good2", 0, "u2")
    await move_chunks(client)
    assert metric((await client.get("/metrics")).text, "replaydesk_chunks_waiting") == 0


async def test_after_a_restart_the_backlog_is_counted_from_the_journal_and_erasure_lowers_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(self: BlobStore, items: Any) -> None:
        raise BlobStoreUnavailable("blob store failed to put: disk full")

    monkeypatch.setattr(BlobStore, "put_many", down)
    async with AsyncTestClient(app=create_app(settings)) as client:
        await ingest(client, "sess-ops-wait1", 0, "u1")
        await ingest(client, "sess-ops-wait1", 1, "u1")
        await ingest(client, "sess-ops-wait2", 0, "u2")
    # The service stopped with three chunks acknowledged and not moved; a new one starts.
    async with AsyncTestClient(app=create_app(settings)) as client:
        text = (await client.get("/metrics")).text
        assert metric(text, "replaydesk_chunks_waiting") == 3

        async def failing() -> bool:
            return (await client.get("/health")).json()["checks"]["chunk_mover"] != "ok"

        await eventually(failing)  # its first move fails too
        health = await client.get("/health")
        assert health.status_code == 200
        body = health.json()
        assert body["status"] == "degraded"
        assert body["checks"]["blob_store"] == "ok"  # answers, and takes no chunk
        assert body["checks"]["chunk_mover"].startswith("failing: BlobStoreUnavailable")
        assert body["chunks"]["waiting"] == 3 and body["chunks"]["quarantined"] == 0
        assert metric((await client.get("/metrics")).text, "replaydesk_chunk_moves_failing") == 1
        # An erasure removes the user's journaled chunks: the gauge falls with it.
        erased = await client.delete("/api/v1/users/u1", headers=AUTH)
        assert erased.status_code == 200, erased.text
        assert metric((await client.get("/metrics")).text, "replaydesk_chunks_waiting") == 1
        # The store is back: the last one moves, and all is well again.
        monkeypatch.undo()
        await move_chunks(client)
        text = (await client.get("/metrics")).text
        assert metric(text, "replaydesk_chunks_waiting") == 0
        assert metric(text, "replaydesk_chunk_moves_failing") == 0
        health = await client.get("/health")
        assert health.json()["status"] == "ok" and health.json()["checks"]["chunk_mover"] == "ok"


async def test_a_mover_that_falls_behind_is_reported(client: Any, settings: Settings) -> None:
    # Journaled two minutes ago, alone, with a key the blob store refuses: every move fails
    # (nothing else is stored, so nothing tells a bad chunk from a store that is down).
    await journal_poison(settings, received_at=int(time.time() * 1000) - 120_000)

    async def behind() -> bool:
        return "behind: " in (await client.get("/health")).json()["checks"]["chunk_mover"]

    await eventually(behind)
    health = await client.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "degraded"
    assert body["chunks"]["waiting"] == 1 and body["chunks"]["quarantined"] == 0
    assert 120 <= body["chunks"]["oldest_waiting_seconds"] < 180
    seconds = metric(
        (await client.get("/metrics")).text, "replaydesk_chunks_oldest_waiting_seconds"
    )
    assert 120 <= seconds < 180


async def test_batches_that_wait_for_processing_are_reported(settings: Settings) -> None:
    """With processing workers, /health counts the acknowledged batches not yet processed: one
    that failed five times waits for an operator, and one acknowledged long ago means the
    workers do not keep up."""
    from sqlalchemy import insert

    from service.storage.inbox_file import inbox_file_url
    from service.storage.models import IngestInboxRow

    workers = msgspec.structs.replace(settings, processing_workers=1)
    async with AsyncTestClient(app=create_app(workers)) as client:
        healthy = (await client.get("/health")).json()
        assert healthy["checks"]["processing"] == "ok"
        assert healthy["inbox"] == {"waiting": 0, "stuck": 0, "oldest_waiting_seconds": 0}
        # The inbox: a file of its own beside a SQLite database, a table of PostgreSQL's.
        inbox_url = inbox_file_url(settings.database_url)
        engine = create_engine(
            inbox_url.render_as_string(hide_password=False) if inbox_url else settings.database_url
        )
        an_hour_ago = int(time.time() * 1000) - 3_600_000
        async with engine.begin() as conn:
            await conn.execute(
                insert(IngestInboxRow),
                [
                    {
                        "session_id": "sess-ops-stuck",
                        "seq": 0,
                        "user_id": None,
                        "shard": 0,
                        "received_at": an_hour_ago,
                        "sent_at": None,
                        "body": b"not gzip",
                        "failed_attempts": 5,
                    }
                ],
            )
        await engine.dispose()
        health = await client.get("/health")
        assert health.status_code == 200
        body = health.json()
        assert body["status"] == "degraded"
        assert body["checks"]["processing"] == "1 batch(es) failed processing five times and wait"
        assert body["inbox"]["stuck"] == 1 and body["inbox"]["waiting"] == 0
