"""Erasure through the API for any user ID ingest stores, and session IDs stored as they came."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from service.storage.session_store import SessionStore
from tests.batch_records import batch_record, store_batch
from tests.conftest import AUTH, INGEST, move_chunks, user_path
from tests.recordings import BASE_TS, batch, checkout_events

# Odd but accepted at ingest (service/identifiers.py refuses `/`, `.`, `..` and control
# characters, which a path cannot carry or a terminal would misread).
ODD_USER_IDS = [
    "jane doe",
    "  padded  ",
    "jäne-ünïcödé-日本語",
    "emoji 🎉",
    "100%",
    "%25",
    "a_b",
    "_",
    "%",
    "o'brien",
    'say "hi"',
    "back\\slash",
    "?query#fragment",
    "semi;colon,comma&amp=eq+plus",
    "~tilde",
    "x" * 256,
]


async def ingest(client: Any, session_id: str, user_id: str) -> None:
    body = batch(session_id, 0, checkout_events(BASE_TS), user_id=user_id)
    sent = await client.post("/api/v1/ingest", content=msgspec.json.encode(body), headers=INGEST)
    assert sent.status_code == 202, sent.text


@pytest.mark.parametrize("user_id", ODD_USER_IDS, ids=repr)
async def test_any_user_id_ingest_stores_can_be_erased(client: Any, user_id: str) -> None:
    await ingest(client, "sess-odd-00001", user_id)
    await move_chunks(client)
    await ingest(client, "sess-odd-00002", user_id)  # still in the chunk journal
    # A neighbour whose ID a LIKE pattern or a lax comparison could mistake for it.
    neighbour = user_id.replace("%", "x").replace("_", "y")[:200] + "-other"
    await ingest(client, "sess-nbr-00001", neighbour)
    listed = await client.get(user_path(user_id) + "/sessions", headers=AUTH)
    assert listed.status_code == 200, listed.text
    assert {s["session_id"] for s in listed.json()["sessions"]} == {
        "sess-odd-00001",
        "sess-odd-00002",
    }

    erased = await client.delete(user_path(user_id), headers=AUTH)
    assert erased.status_code == 200, erased.text
    assert erased.json() == {"user_id": user_id, "sessions_erased": 2}
    for sid in ("sess-odd-00001", "sess-odd-00002"):
        assert (await client.get(f"/api/v1/sessions/{sid}", headers=AUTH)).status_code == 404
    kept = await client.get("/api/v1/sessions/sess-nbr-00001", headers=AUTH)
    assert kept.status_code == 200
    refused = batch("sess-odd-00003", 0, checkout_events(BASE_TS), user_id=user_id)
    again = await client.post(
        "/api/v1/ingest", content=msgspec.json.encode(refused), headers=INGEST
    )
    assert again.status_code == 410
    # Erasing again is fine, and finds nothing.
    twice = await client.delete(user_path(user_id), headers=AUTH)
    assert twice.status_code == 200 and twice.json()["sessions_erased"] == 0


# Session IDs an earlier, laxer ingest stored: none of them can name a blob, so erasure has
# no blob to look for, and must not fail on them.
ODD_SESSION_IDS = ["sess-nl-00001\n", "sess\x00nul-001", "sess-bs\\0001", "sess#hash-001", ".."]


@pytest.mark.parametrize("session_id", ODD_SESSION_IDS, ids=repr)
async def test_an_odd_stored_session_id_does_not_stop_an_erasure(
    client: Any, store: SessionStore, session_id: str
) -> None:
    if "\x00" in session_id and store.engine.dialect.name == "postgresql":
        pytest.skip("PostgreSQL text cannot hold NUL")
    await ingest(client, "sess-fine-0001", "u-odd")
    assert await store_batch(store, batch_record(session_id, user_id="u-odd"))
    erased = await client.delete("/api/v1/users/u-odd", headers=AUTH)
    assert erased.status_code == 200, erased.text
    assert erased.json()["sessions_erased"] == 2
    assert await store.session_ids_of_user("u-odd") == []


async def test_an_erasure_refuses_the_user_until_it_is_lifted(
    client: Any, store: SessionStore
) -> None:
    # Erasing an ID that never had a session still records its tombstone.
    never = await client.delete("/api/v1/users/never-seen", headers=AUTH)
    assert never.json() == {"user_id": "never-seen", "sessions_erased": 0}
    await ingest(client, "sess-lift-0001", "u-lift")
    await client.delete("/api/v1/users/u-lift", headers=AUTH)
    assert {(t.kind, t.erased_at > 0) for t in await store.tombstones()} == {
        ("user", True),
        ("session", True),
    }
    assert await store.count_tombstones("user") == 2
    refused = batch("sess-lift-0002", 0, checkout_events(BASE_TS), user_id="u-lift")
    sent = await client.post("/api/v1/ingest", content=msgspec.json.encode(refused), headers=INGEST)
    assert sent.status_code == 410

    path = "/api/v1/erasures/users/u-lift"
    assert (await client.delete(path)).status_code == 401
    lifted = await client.delete(path, headers=AUTH)
    assert lifted.status_code == 200, lifted.text
    assert lifted.json() == {"user_id": "u-lift", "lifted": True}
    again = await client.delete(path, headers=AUTH)
    assert again.status_code == 404
    assert again.headers["content-type"].startswith("application/problem+json")
    assert "u-lift" in again.json()["detail"]

    # Recorded again in a new session; the erased one stays erased, and refused.
    await ingest(client, "sess-lift-0002", "u-lift")
    listed = await client.get("/api/v1/users/u-lift/sessions", headers=AUTH)
    assert [s["session_id"] for s in listed.json()["sessions"]] == ["sess-lift-0002"]
    old = batch("sess-lift-0001", 1, checkout_events(BASE_TS), user_id="u-lift")
    sent = await client.post("/api/v1/ingest", content=msgspec.json.encode(old), headers=INGEST)
    assert sent.status_code == 410
    # The other tombstones stay.
    assert await store.count_tombstones("user") == 1
    assert await store.count_tombstones("session") == 1
