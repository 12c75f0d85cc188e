"""API keys are checked against configured and created keys; ingest keys per origin."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from service.access_keys import AccessKeys
from service.errors import Forbidden, Unauthorized
from service.storage.database import create_engine
from service.storage.key_store import KeyStore


@pytest.fixture
async def keys(database_url: str) -> AsyncIterator[AccessKeys]:
    engine = create_engine(database_url)
    yield AccessKeys(
        KeyStore(engine), ["configured-api"], ["configured-ingest"], ["https://a.test"]
    )
    await engine.dispose()


async def test_configured_and_created_api_keys_work_until_revoked(keys: AccessKeys) -> None:
    await keys.check_api_key("configured-api")
    created = await keys.create_api_key("bot")
    await keys.check_api_key(created.key)
    api_records, _ = await keys.list_keys()
    assert [r.id for r in api_records] == [created.key_id]
    assert await keys.revoke(created.key_id)
    with pytest.raises(Unauthorized):
        await keys.check_api_key(created.key)
    for bad in (None, "", "configured-ap", "configured-api "):
        with pytest.raises(Unauthorized):
            await keys.check_api_key(bad)


async def test_ingest_keys_check_the_origin(keys: AccessKeys) -> None:
    await keys.check_ingest_key("configured-ingest", "https://a.test")
    await keys.check_ingest_key("configured-ingest", None)  # server-side sender, no Origin
    with pytest.raises(Forbidden):
        await keys.check_ingest_key("configured-ingest", "https://b.test")
    created = await keys.create_ingest_key("site b", ["https://b.test"])
    await keys.check_ingest_key(created, "https://b.test")
    with pytest.raises(Forbidden):
        await keys.check_ingest_key(created, "https://a.test")
    await keys.revoke(created)
    with pytest.raises(Unauthorized):
        await keys.check_ingest_key(created, "https://b.test")
