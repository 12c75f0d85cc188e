"""API keys are checked against configured and created keys; ingest keys per origin."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from service.auth import keys as access_keys
from service.auth.keys import INGEST_KEY_CACHE_SECONDS, AccessKeys
from service.errors import Forbidden, Unauthorized
from service.storage.database import create_engine
from service.storage.key_store import IngestKeyRecord, KeyStore


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
    # A configured key answers None, a created one itself: what its sessions note as sender.
    assert await keys.check_ingest_key("configured-ingest", "https://a.test") is None
    await keys.check_ingest_key("configured-ingest", None)  # server-side sender, no Origin
    with pytest.raises(Forbidden):
        await keys.check_ingest_key("configured-ingest", "https://b.test")
    created = await keys.create_ingest_key("site b", ["https://b.test"])
    assert await keys.check_ingest_key(created, "https://b.test") == created
    with pytest.raises(Forbidden):
        await keys.check_ingest_key(created, "https://a.test")
    assert await keys.ingest_origins(None) == ["https://a.test"]
    assert await keys.ingest_origins(created) == ["https://b.test"]
    await keys.revoke(created)
    with pytest.raises(Unauthorized):
        await keys.check_ingest_key(created, "https://b.test")
    assert await keys.ingest_origins(created) == []


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingKeyStore(KeyStore):
    """The real store, counting how often an ingest key is looked up."""

    lookups = 0

    async def live_ingest_key(self, key: str) -> IngestKeyRecord | None:
        self.lookups += 1
        return await super().live_ingest_key(key)


@pytest.fixture
async def counted(database_url: str) -> AsyncIterator[tuple[AccessKeys, CountingKeyStore, Clock]]:
    engine = create_engine(database_url)
    store, clock = CountingKeyStore(engine), Clock()
    yield AccessKeys(store, [], [], [], clock=clock), store, clock
    await engine.dispose()


async def test_a_created_ingest_key_is_looked_up_once_per_cache_period(
    counted: tuple[AccessKeys, CountingKeyStore, Clock],
) -> None:
    keys, store, clock = counted
    created = await keys.create_ingest_key("site", ["https://a.test"])
    for _ in range(5):
        await keys.check_ingest_key(created, "https://a.test")
    assert store.lookups == 1
    # The origin check still applies to the remembered key.
    with pytest.raises(Forbidden):
        await keys.check_ingest_key(created, "https://b.test")
    clock.now += INGEST_KEY_CACHE_SECONDS + 0.1
    await keys.check_ingest_key(created, "https://a.test")
    assert store.lookups == 2


async def test_a_key_revoked_elsewhere_is_refused_once_the_cache_period_ends(
    counted: tuple[AccessKeys, CountingKeyStore, Clock],
) -> None:
    keys, store, clock = counted
    created = await keys.create_ingest_key("site", ["*"])
    await keys.check_ingest_key(created, None)
    # `replaydesk keys revoke` runs in another process, on the database alone.
    assert await KeyStore(store.engine).revoke(created, 0)
    await keys.check_ingest_key(created, None)
    clock.now += INGEST_KEY_CACHE_SECONDS + 0.1
    with pytest.raises(Unauthorized):
        await keys.check_ingest_key(created, None)


async def test_unknown_ingest_keys_are_remembered_in_a_bounded_cache(
    counted: tuple[AccessKeys, CountingKeyStore, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    keys, store, _clock = counted
    monkeypatch.setattr(access_keys, "INGEST_KEY_CACHE_SIZE", 2)
    for made_up in ("rdk_ing_a", "rdk_ing_a", "rdk_ing_b", "rdk_ing_c"):
        with pytest.raises(Unauthorized):
            await keys.check_ingest_key(made_up, None)
    assert store.lookups == 3  # the repeated "a" was answered from the cache
    # "c" pushed out "a", the oldest, so "a" is looked up again; "c" is still remembered.
    for made_up in ("rdk_ing_a", "rdk_ing_c"):
        with pytest.raises(Unauthorized):
            await keys.check_ingest_key(made_up, None)
    assert store.lookups == 4
