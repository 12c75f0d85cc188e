"""Two replicas of the service, each with its processing worker, on one database, one Redis and
one blob store, behind a load balancer that sends any batch to either: they behave as one
service. Each batch is stored once whichever replica got it (and a resent copy through the
other is a duplicate), lookup agrees on both, an erasure through one holds on the other, and a
viewer link minted by one is honoured by the other."""

from __future__ import annotations

import asyncio
import time

import httpx
import msgspec

from service.settings import Settings
from tests.conftest import AUTH, INGEST
from tests.recordings import BASE_TS, batch, click, meta
from tests.served_app import serving

SESSIONS = ("sess-repl-0001", "sess-repl-0002", "sess-repl-0003")
BATCHES = 20
PATIENCE_SECONDS = 60.0


def body(session_id: str, seq: int) -> bytes:
    ts = BASE_TS + seq * 1000
    events = [meta(ts, "https://shop.test/cart"), click(ts + 5)]
    return msgspec.json.encode(batch(session_id, seq, events, user_id="u-" + session_id[-1]))


async def until_stored(clients: list[httpx.AsyncClient], session_id: str, events: int) -> None:
    """Until every replica's lookup counts `events` events in the session."""
    deadline = time.monotonic() + PATIENCE_SECONDS
    while True:
        counts = []
        for client in clients:
            found = await client.get(f"/api/v1/sessions/{session_id}", headers=AUTH)
            counts.append(found.json()["counts"]["events"] if found.status_code == 200 else None)
        if counts == [events] * len(clients):
            return
        assert time.monotonic() < deadline, f"{session_id}: {counts}, expected {events}"
        await asyncio.sleep(0.1)


async def test_two_replicas_with_their_workers_behave_as_one(settings: Settings) -> None:
    replica = msgspec.structs.replace(settings, processing_workers=1)
    async with serving(replica) as first, serving(replica) as second:
        async with (
            httpx.AsyncClient(base_url=first, timeout=30) as a,
            httpx.AsyncClient(base_url=second, timeout=30) as b,
        ):
            clients = [a, b]

            async def send(client: httpx.AsyncClient, session_id: str, seq: int) -> str:
                sent = await client.post(
                    "/api/v1/ingest", content=body(session_id, seq), headers=INGEST
                )
                assert sent.status_code == 202, sent.text
                status: str = sent.json()["status"]
                return status

            # Each session's batches alternate between the replicas; each batch is then sent
            # again through the other (a client retrying after a lost answer).
            for seq in range(BATCHES):
                for index, session_id in enumerate(SESSIONS):
                    here, there = (a, b) if (seq + index) % 2 else (b, a)
                    statuses = await asyncio.gather(
                        send(here, session_id, seq), send(there, session_id, seq)
                    )
                    assert sorted(statuses) == ["accepted", "duplicate"], statuses
            for session_id in SESSIONS:
                await until_stored(clients, session_id, 2 * BATCHES)
            answers = [
                (await c.get(f"/api/v1/sessions/{SESSIONS[0]}/events", headers=AUTH)).json()
                for c in clients
            ]
            assert answers[0] == answers[1]
            assert len(answers[0]) == 2 * BATCHES

            # A link minted by one replica opens on the other.
            minted = await a.post(f"/api/v1/sessions/{SESSIONS[0]}/links", json={}, headers=AUTH)
            token = {"Authorization": f"Bearer {minted.json()['token']}"}
            shown = await b.get(f"/api/v1/sessions/{SESSIONS[0]}/report", headers=token)
            assert shown.status_code == 200, shown.text

            # Erased through one replica: gone on both, and refused by the other.
            erased = await b.delete(f"/api/v1/users/u-{SESSIONS[1][-1]}", headers=AUTH)
            assert erased.status_code == 200, erased.text
            for client in clients:
                gone = await client.get(f"/api/v1/sessions/{SESSIONS[1]}", headers=AUTH)
                assert gone.status_code == 404
            refused = await a.post(
                "/api/v1/ingest", content=body(SESSIONS[1], BATCHES), headers=INGEST
            )
            assert refused.status_code == 410, refused.text
            await asyncio.sleep(1.0)
            latest = await a.get(f"/api/v1/users/u-{SESSIONS[1][-1]}/sessions/latest", headers=AUTH)
            assert latest.status_code == 404
