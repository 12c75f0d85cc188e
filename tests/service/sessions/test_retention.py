"""Retention: sessions past the period go, rows and blobs; recent ones stay. Sessions an erasure
left behind go too."""

from __future__ import annotations

import os
import time
from typing import Any

import msgspec
import pytest

import service.sessions.retention
from service.sessions.erasure import ErasureKeys
from service.sessions.retention import (
    ERASURE_RECHECK_MS,
    purge_erased_leftovers,
    purge_expired,
    purge_orphan_chunks,
)
from service.storage.blobs import BlobStore, open_blob_store
from service.storage.session_store import SessionStore
from tests.conftest import AUTH, INGEST, move_chunks
from tests.recordings import batch, checkout_events

DAY_MS = 24 * 3600 * 1000


# `store` (tests/conftest.py) is on the app's database, with connections of this test's event
# loop: the app runs on its own.


@pytest.fixture
def blob_store(settings: Any) -> BlobStore:
    return open_blob_store(None, settings.data_dir)


async def record(client: Any, session_id: str, user_id: str = "u42") -> None:
    body = msgspec.json.encode(batch(session_id, 0, checkout_events(), user_id=user_id))
    assert (await client.post("/api/v1/ingest", content=body, headers=INGEST)).status_code == 202
    await move_chunks(client)


async def test_purge_removes_only_expired_sessions_and_their_blobs(
    client: Any, settings: Any, store: SessionStore, blob_store: BlobStore
) -> None:
    for sid in ("sess-ret-0001", "sess-ret-0002"):
        await record(client, sid)
    blobs = settings.data_dir / "blobs" / "sessions"

    now = int(time.time() * 1000)
    assert await purge_expired(store, blob_store, 30, now_ms=now) == 0
    assert len(list(blobs.iterdir())) == 2
    removed = await purge_expired(store, blob_store, 30, now_ms=now + 31 * DAY_MS)
    assert removed == 2
    assert not blobs.exists() or list(blobs.iterdir()) == []
    response = await client.get("/api/v1/sessions", headers=AUTH)
    assert response.json()["sessions"] == []


async def test_a_session_left_over_from_an_erasure_goes_with_the_next_purge(
    client: Any,
    settings: Any,
    store: SessionStore,
    blob_store: BlobStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(service.sessions.retention, "PURGE_SLICE", 1)  # one session per page
    # Two users' sessions; then user A is erased, but A's session is still there, as when a
    # batch committed after the erasure listed A's sessions and the server crashed before the
    # check that follows each commit.
    await record(client, "sess-left-0001", "u-left-a")
    await record(client, "sess-left-0002", "u-left-b")
    keys = ErasureKeys(settings.secret_key)
    blobs = settings.data_dir / "blobs" / "sessions"
    now = int(time.time() * 1000)
    await store.add_tombstones([keys.user("u-left-a")], at=now)
    assert await purge_erased_leftovers(store, blob_store, keys, now_ms=now) == 1
    # Nothing is left for a second run.
    assert await purge_erased_leftovers(store, blob_store, keys, now_ms=now) == 0
    assert sorted(p.name for p in blobs.iterdir()) == ["sess-left-0002"]
    gone = await client.get("/api/v1/users/u-left-a/sessions/latest", headers=AUTH)
    assert gone.status_code == 404
    kept = await client.get("/api/v1/users/u-left-b/sessions/latest", headers=AUTH)
    assert kept.json()["session_id"] == "sess-left-0002"
    # The session's own tombstone is recorded too, as an erasure records it.
    body = msgspec.json.encode(batch("sess-left-0001", 1, checkout_events()))
    assert (await client.post("/api/v1/ingest", content=body, headers=INGEST)).status_code == 410


async def test_erasures_older_than_a_day_are_not_looked_at_again(
    client: Any, settings: Any, store: SessionStore, blob_store: BlobStore
) -> None:
    await record(client, "sess-left-0003", "u-left-c")
    keys = ErasureKeys(settings.secret_key)
    now = int(time.time() * 1000)
    await store.add_tombstones([keys.user("u-left-c")], at=now)
    later = now + ERASURE_RECHECK_MS + 1
    assert await purge_erased_leftovers(store, blob_store, keys, now_ms=later) == 0
    kept = await client.get("/api/v1/users/u-left-c/sessions/latest", headers=AUTH)
    assert kept.status_code == 200


async def test_chunks_no_session_points_at_go_once_past_the_retention_period(
    client: Any, settings: Any, store: SessionStore, blob_store: BlobStore
) -> None:
    # A session with rows; two chunks whose rows were never written (as when the database
    # failed after the put and the batch was not sent again): one old, one recent.
    await record(client, "sess-kept-0001")
    await blob_store.put("sessions/sess-orphan-old/000000000000-a.json.gz", b"old")
    await blob_store.put("sessions/sess-orphan-new/000000000000-b.json.gz", b"new")
    blobs = settings.data_dir / "blobs" / "sessions"
    month_ago = time.time() - 31 * DAY_MS / 1000
    for folder in ("sess-orphan-old", "sess-kept-0001"):
        for chunk in (blobs / folder).iterdir():
            os.utime(chunk, (month_ago, month_ago))

    assert await purge_orphan_chunks(store, blob_store, 30) == 1
    # A session with rows is left to `purge_expired`, by its last batch's arrival.
    assert sorted(p.name for p in blobs.iterdir()) == ["sess-kept-0001", "sess-orphan-new"]
    assert await purge_orphan_chunks(store, blob_store, 30) == 0
    later = int(time.time() * 1000) + 31 * DAY_MS
    assert await purge_orphan_chunks(store, blob_store, 30, now_ms=later) == 1
    assert [p.name for p in blobs.iterdir()] == ["sess-kept-0001"]
    events = await client.get("/api/v1/sessions/sess-kept-0001/events", headers=AUTH)
    assert events.status_code == 200
