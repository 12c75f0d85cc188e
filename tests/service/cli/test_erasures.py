"""`replaydesk erasures`: an admin lists the tombstones erasures left and lifts a user's."""

from __future__ import annotations

import asyncio
import os
import subprocess
from typing import Any

import msgspec

from service.sessions.erasure import ErasureKeys
from service.settings import Settings
from tests.conftest import AUTH, INGEST
from tests.processes import run_cli
from tests.recordings import BASE_TS, batch, checkout_events


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLAYDESK_")}
    env.update(
        {
            "REPLAYDESK_DATA_DIR": str(settings.data_dir),
            "REPLAYDESK_DATABASE_URL": settings.database_url,
            "REPLAYDESK_SECRET_KEY": settings.secret_key,
        }
    )
    return run_cli(env, *args)


async def ingest(client: Any, session_id: str, user_id: str) -> int:
    body = batch(session_id, 0, checkout_events(BASE_TS), user_id=user_id)
    sent = await client.post("/api/v1/ingest", content=msgspec.json.encode(body), headers=INGEST)
    return int(sent.status_code)


async def test_tombstones_are_listed_without_ids_and_a_user_is_lifted(
    client: Any, settings: Settings
) -> None:
    assert await ingest(client, "sess-cli-er-01", "jane@example.com") == 202
    for user in ("jane@example.com", "never-seen"):
        assert (await client.delete(f"/api/v1/users/{user}", headers=AUTH)).status_code == 200

    listing = await asyncio.to_thread(cli, settings, "erasures")
    assert listing.returncode == 0, listing.stderr
    assert "3 erasure tombstone(s)" in listing.stdout
    rows = [line.split() for line in listing.stdout.splitlines()[2:]]
    assert sorted(row[1] for row in rows) == ["session", "user", "user"]
    assert all(len(row[0]) == 16 for row in rows)
    assert "jane" not in listing.stdout and "never-seen" not in listing.stdout
    sessions = await asyncio.to_thread(cli, settings, "erasures", "list", "--kind", "session")
    assert "1 session erasure tombstone(s)" in sessions.stdout

    lifted = await asyncio.to_thread(cli, settings, "erasures", "lift", "jane@example.com")
    assert lifted.returncode == 0, lifted.stderr
    assert "lifted the erasure of user 'jane@example.com'" in lifted.stdout
    assert await ingest(client, "sess-cli-er-02", "jane@example.com") == 202
    assert await ingest(client, "sess-cli-er-03", "never-seen") == 410
    again = await asyncio.to_thread(cli, settings, "erasures", "lift", "jane@example.com")
    assert again.returncode == 1 and "no erasure of user" in again.stderr

    # By the hash the list shows, for a user ID nobody wrote down.
    shown = ErasureKeys(settings.secret_key).user("never-seen")[:16]
    assert shown in listing.stdout
    by_hash = await asyncio.to_thread(cli, settings, "erasures", "lift", "--hash", shown)
    assert by_hash.returncode == 0, by_hash.stderr
    assert "user ID's batches are" in by_hash.stdout
    assert await ingest(client, "sess-cli-er-04", "never-seen") == 202
    left = await asyncio.to_thread(cli, settings, "erasures")
    assert "1 erasure tombstone(s)" in left.stdout and " session " in left.stdout

    for bad in (["lift"], ["lift", "--hash", "zz"], ["lift", "--hash", "0123456789abcdef"]):
        refused = await asyncio.to_thread(cli, settings, "erasures", *bad)
        assert refused.returncode == 1 and refused.stderr.startswith("replaydesk: "), bad
