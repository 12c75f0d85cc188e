"""Retention: sessions past the period go, rows and blobs; recent ones stay."""

from __future__ import annotations

import time
from typing import Any

import msgspec

from service.retention import purge_expired
from service.storage.blobs import open_blob_store
from service.storage.database import create_engine
from service.storage.session_store import SessionStore
from tests.conftest import AUTH, INGEST
from tests.recordings import batch, checkout_events

DAY_MS = 24 * 3600 * 1000


async def test_purge_removes_only_expired_sessions_and_their_blobs(
    client: Any, settings: Any
) -> None:
    for sid in ("sess-ret-0001", "sess-ret-0002"):
        body = msgspec.json.encode(batch(sid, 0, checkout_events()))
        assert (
            await client.post("/api/v1/ingest", content=body, headers=INGEST)
        ).status_code == 202
    # The app runs on its own event loop; the purge gets connections of this test's loop.
    engine = create_engine(settings.database_url)
    store = SessionStore(engine)
    blob_store = open_blob_store(None, settings.data_dir)
    blobs = settings.data_dir / "blobs" / "sessions"

    now = int(time.time() * 1000)
    try:
        assert await purge_expired(store, blob_store, 30, now_ms=now) == 0
        assert len(list(blobs.iterdir())) == 2
        removed = await purge_expired(store, blob_store, 30, now_ms=now + 31 * DAY_MS)
    finally:
        await engine.dispose()
    assert removed == 2
    assert not blobs.exists() or list(blobs.iterdir()) == []
    response = await client.get("/api/v1/sessions", headers=AUTH)
    assert response.json()["sessions"] == []
