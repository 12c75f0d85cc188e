"""Asset copies end to end in one service: the collector copies what sessions reference from
the origins their keys allow, the map and the bytes are served to the session's credentials
only, and erasure and expiry remove copies no remaining session uses (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from service.assets.collector import AssetCollector, url_hash
from service.clock import now_ms
from service.sessions.retention import purge_expired, purge_orphan_assets
from service.settings import Settings
from service.storage.asset_layout import asset_blob_key
from service.storage.asset_store import AssetScan, AssetStore, SessionAssetEntry, StoredAsset
from service.storage.blobs import BlobNotFound, BlobStore
from service.storage.session_store import SessionStore
from service.web.app import create_app
from tests.asset_site import BLUE_PNG, RED_PNG, AssetSite, Route, asset_site, solid_png
from tests.batch_records import batch_record, store_batch
from tests.conftest import AUTH, INGEST, make_settings, user_path
from tests.recordings import BASE_TS, batch, meta

FONT = b"wOF2" + b"\0" * 60
SHARED_CSS = (
    b'@import "more.css"; body{background:url(bg.png)} @font-face{font-family:F;src:url(/f.woff2)}'
)


@pytest.fixture
def shop() -> Iterator[AssetSite]:
    with asset_site() as site:
        site.routes.update(
            {
                "/site.css": Route(SHARED_CSS, "text/css"),
                "/more.css": Route(b".x{background:url(/deep/more.png)}", "text/css"),
                "/bg.png": Route(RED_PNG, "image/png"),
                "/f.woff2": Route(FONT, "font/woff2"),
                "/deep/more.png": Route(solid_png((0, 255, 0)), "image/png"),
                "/shop/hero.png": Route(BLUE_PNG, "image/png"),
                "/only-b.png": Route(solid_png((9, 9, 9)), "image/png"),
                "/late.png": Route(solid_png((7, 7, 7)), "image/png"),
                "/page.html": Route(b"<p>", "text/html"),
            }
        )
        yield site


@pytest.fixture
def settings(tmp_path: Path, database_url: str, redis_url: str, shop: AssetSite) -> Settings:
    # The customer's site is on loopback: its key names that origin exactly, the deliberate
    # act that lets a private address be fetched.
    return make_settings(tmp_path, database_url, redis_url, ingest_origins=(shop.origin,))


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


def snapshot(ts: int, *children: dict[str, Any]) -> dict[str, Any]:
    html = {"type": 2, "id": 2, "tagName": "html", "attributes": {}, "childNodes": list(children)}
    return {
        "type": 2,
        "timestamp": ts,
        "data": {"node": {"type": 0, "id": 1, "childNodes": [html]}},
    }


def tag(node_id: int, name: str, **attributes: str) -> dict[str, Any]:
    return {"type": 2, "id": node_id, "tagName": name, "attributes": attributes, "childNodes": []}


async def record(
    client: Any,
    session_id: str,
    user_id: str,
    origin: str,
    *extra: dict[str, Any],
    seq: int = 0,
    ts: int = BASE_TS,
) -> None:
    events = [
        meta(ts, origin + "/shop/"),
        snapshot(
            ts + 5,
            tag(3, "link", rel="stylesheet", href="/site.css"),
            tag(4, "img", src="hero.png"),
            tag(5, "img", src="http://127.0.0.1:9/not-allowed.png"),
            tag(6, "img", src="/page.html"),
            tag(7, "img", src="data:image/png;base64,iVBORw0KGgo="),
            *extra,
        ),
    ]
    body = batch(session_id, seq, events, user_id=user_id)
    sent = await client.post("/api/v1/ingest", content=msgspec.json.encode(body), headers=INGEST)
    assert sent.status_code == 202, sent.text


async def collect(client: Any) -> None:
    """One pass of the app's collector, now; its own passes stopped first, so none holds a
    session this one would then skip."""
    collector: AssetCollector = client.app.state.asset_collector
    await asyncio.to_thread(client.blocking_portal.call, collector.close)
    await asyncio.to_thread(client.blocking_portal.call, collector.scan_once)


async def asset_map(
    client: Any, session_id: str, headers: dict[str, str]
) -> dict[str, dict[str, Any]]:
    answer = await client.get(f"/api/v1/sessions/{session_id}/assets", headers=headers)
    assert answer.status_code == 200, answer.text
    return {entry["url"]: entry for entry in answer.json()["assets"]}


async def viewer_token(client: Any, session_id: str, **options: Any) -> dict[str, str]:
    minted = await client.post(f"/api/v1/sessions/{session_id}/links", json=options, headers=AUTH)
    assert minted.status_code in (200, 201), minted.text
    return {"Authorization": f"Bearer {minted.json()['token']}"}


def asset_files(root: Path) -> set[str]:
    return {p.name for p in (root / "blobs" / "assets").rglob("*") if p.is_file()}


async def test_the_collector_copies_what_the_session_references_from_allowed_origins(
    client: Any, shop: AssetSite
) -> None:
    await record(client, "sess-assets-001", "alice", shop.origin)
    await collect(client)
    copies = await asset_map(client, "sess-assets-001", AUTH)
    o = shop.origin
    assert {url: (e["status"], e.get("content_type")) for url, e in copies.items()} == {
        o + "/site.css": ("stored", "text/css"),
        o + "/more.css": ("stored", "text/css"),
        o + "/bg.png": ("stored", "image/png"),
        o + "/f.woff2": ("stored", "font/woff2"),
        o + "/deep/more.png": ("stored", "image/png"),
        o + "/shop/hero.png": ("stored", "image/png"),
        o + "/page.html": ("wrong_type", None),
        "http://127.0.0.1:9/not-allowed.png": ("refused", None),
    }
    hero = copies[o + "/shop/hero.png"]
    served = await client.get(f"/replay-assets/sess-assets-001/{hero['hash']}", headers=AUTH)
    assert served.status_code == 200
    assert served.content == BLUE_PNG
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "immutable" in served.headers["cache-control"]
    # A second pass with no new batch fetches nothing again.
    asked = len(shop.requests)
    await collect(client)
    assert len(shop.requests) == asked
    # Each URL counted once, by what copying it came to; the bytes of the copies.
    metrics = (await client.get("/metrics")).text
    assert 'replaydesk_asset_urls_total{status="stored"} 6.0' in metrics
    assert 'replaydesk_asset_urls_total{status="wrong_type"} 1.0' in metrics
    assert 'replaydesk_asset_urls_total{status="refused"} 1.0' in metrics
    stored = ("/site.css", "/more.css", "/bg.png", "/f.woff2", "/deep/more.png", "/shop/hero.png")
    copied = sum(len(shop.routes[path].body) for path in stored)
    assert f"replaydesk_asset_bytes_total {float(copied)}" in metrics


async def test_each_session_is_copied_from_its_own_keys_origins_only(
    client: Any, shop: AssetSite
) -> None:
    # Two sites on loopback: the shop, named by the configured key, and a second one that only
    # a created key names. A private address is fetched only for the key that names it, so a
    # recording sent with one key cannot reach the other key's site.
    with asset_site() as other:
        other.routes["/b.png"] = Route(solid_png((1, 2, 3)), "image/png")
        keys = client.app.state.services.keys
        created = await asyncio.to_thread(
            client.blocking_portal.call, keys.create_ingest_key, "site b", [other.origin]
        )
        both = [
            tag(8, "img", src=other.origin + "/b.png"),
            tag(9, "img", src=shop.origin + "/bg.png"),
        ]
        for session_id, key in (("sess-key-a-0001", INGEST), ("sess-key-b-0001", created)):
            headers = INGEST if key is INGEST else {"X-ReplayDesk-Key": created}
            events = [meta(BASE_TS, other.origin + "/"), snapshot(BASE_TS + 5, *both)]
            body = msgspec.json.encode(batch(session_id, 0, events, user_id="dora"))
            sent = await client.post("/api/v1/ingest", content=body, headers=headers)
            assert sent.status_code == 202, sent.text
        await collect(client)
        statuses = {
            session_id: {
                url: e["status"] for url, e in (await asset_map(client, session_id, AUTH)).items()
            }
            for session_id in ("sess-key-a-0001", "sess-key-b-0001")
        }
        assert statuses == {
            "sess-key-a-0001": {
                other.origin + "/b.png": "refused",
                shop.origin + "/bg.png": "stored",
            },
            "sess-key-b-0001": {
                other.origin + "/b.png": "stored",
                shop.origin + "/bg.png": "refused",
            },
        }
        assert [path for path, _ in other.requests] == ["/b.png"]
        # Revoked, the key's sessions fetch nothing more.
        await asyncio.to_thread(client.blocking_portal.call, keys.revoke, created)
        late = [
            meta(BASE_TS + 60_000, other.origin + "/"),
            snapshot(BASE_TS + 60_005, tag(3, "img", src=other.origin + "/b-late.png")),
        ]
        late_body = msgspec.json.encode(batch("sess-key-b-0001", 1, late, user_id="dora"))
        await asyncio.to_thread(
            client.blocking_portal.call,
            client.app.state.services.ingestor.ingest,
            late_body,
            None,
            client.app.state.services.ingest_limits,
            None,
            created,
        )
        await collect(client)
        copies = await asset_map(client, "sess-key-b-0001", AUTH)
        assert copies[other.origin + "/b-late.png"]["status"] == "refused"
        assert [path for path, _ in other.requests] == ["/b.png"]


async def test_a_refreshed_map_copies_the_newest_batches_at_once(
    client: Any, shop: AssetSite
) -> None:
    # What a live viewer asks when new events name URLs its map lacks: no waiting for a pass.
    shop.routes["/slow.png"] = Route(solid_png((5, 5, 5)), "image/png", delay=8.0)
    background: AssetCollector = client.app.state.asset_collector
    await asyncio.to_thread(client.blocking_portal.call, background.close)
    await record(client, "sess-refresh-001", "erin", shop.origin, tag(20, "img", src="/slow.png"))
    assert await asset_map(client, "sess-refresh-001", AUTH) == {}
    asked = time.monotonic()
    answer = await client.get(
        "/api/v1/sessions/sess-refresh-001/assets", params={"refresh": "true"}, headers=AUTH
    )
    waited = time.monotonic() - asked
    statuses = {e["url"]: e["status"] for e in answer.json()["assets"]}
    # The others are served at once; the slow copy is not waited for past the refresh's
    # limit, and is there once it lands.
    assert 2.5 < waited < 6.0, waited
    assert statuses[shop.origin + "/shop/hero.png"] == "stored"
    assert statuses[shop.origin + "/site.css"] == "stored"
    assert shop.origin + "/slow.png" not in statuses
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        copies = await asset_map(client, "sess-refresh-001", AUTH)
        if shop.origin + "/slow.png" in copies:
            break
        await asyncio.sleep(0.1)
    assert copies[shop.origin + "/slow.png"]["status"] == "stored"
    assert copies[shop.origin + "/shop/hero.png"]["status"] == "stored"


async def test_copies_are_served_only_to_the_sessions_credentials(
    client: Any, shop: AssetSite
) -> None:
    await record(client, "sess-assets-001", "alice", shop.origin)
    await record(client, "sess-assets-002", "bob", shop.origin, tag(8, "img", src="/only-b.png"))
    await collect(client)
    only_b = (await asset_map(client, "sess-assets-002", AUTH))[shop.origin + "/only-b.png"]
    alice = await viewer_token(client, "sess-assets-001")
    copies = await asset_map(client, "sess-assets-001", alice)
    css = copies[shop.origin + "/site.css"]["hash"]
    path = f"/replay-assets/sess-assets-001/{css}"
    assert (await client.get(path, headers=alice)).content == SHARED_CSS
    # No credential, another session's token, a hash this session never used, a bad name.
    assert (await client.get(path)).status_code == 401
    bob = await viewer_token(client, "sess-assets-002")
    assert (await client.get(path, headers=bob)).status_code in (401, 403)
    assert (
        await client.get("/api/v1/sessions/sess-assets-001/assets", headers=bob)
    ).status_code in (401, 403)
    unused = f"/replay-assets/sess-assets-001/{only_b['hash']}"
    assert (await client.get(unused, headers=alice)).status_code == 404
    for name in ["..%2F..%2Fsecret", "A" * 64, "0" * 63, "x"]:
        assert (
            await client.get(f"/replay-assets/sess-assets-001/{name}", headers=AUTH)
        ).status_code == 404
    assert (
        await client.get("/api/v1/sessions/no-such-session/assets", headers=AUTH)
    ).status_code == 404


async def test_a_windowed_link_learns_nothing_first_referenced_after_its_window(
    client: Any, shop: AssetSite
) -> None:
    await record(client, "sess-assets-001", "alice", shop.origin)
    late = BASE_TS + 120_000
    await record(
        client,
        "sess-assets-001",
        "alice",
        shop.origin,
        tag(9, "img", src="/late.png"),
        seq=1,
        ts=late,
    )
    await collect(client)
    whole = await asset_map(client, "sess-assets-001", AUTH)
    assert shop.origin + "/late.png" in whole
    windowed = await viewer_token(client, "sess-assets-001", window={"from_ms": 0, "to_ms": 10_000})
    shown = await asset_map(client, "sess-assets-001", windowed)
    assert shop.origin + "/late.png" not in shown
    assert shop.origin + "/site.css" in shown
    hidden = whole[shop.origin + "/late.png"]["hash"]
    assert (
        await client.get(f"/replay-assets/sess-assets-001/{hidden}", headers=windowed)
    ).status_code == 404


async def test_erasure_removes_copies_no_other_session_uses(
    client: Any, shop: AssetSite, settings: Settings
) -> None:
    await record(client, "sess-assets-001", "alice", shop.origin)
    await record(client, "sess-assets-002", "bob", shop.origin, tag(8, "img", src="/only-b.png"))
    await collect(client)
    bobs = await asset_map(client, "sess-assets-002", AUTH)
    only_b = bobs[shop.origin + "/only-b.png"]["hash"]
    shared = bobs[shop.origin + "/site.css"]["hash"]
    assert {only_b, shared} <= asset_files(settings.data_dir)

    assert (await client.delete(user_path("bob"), headers=AUTH)).status_code == 200
    assert (
        await client.get("/api/v1/sessions/sess-assets-002/assets", headers=AUTH)
    ).status_code == 404
    assert (
        await client.get(f"/replay-assets/sess-assets-002/{shared}", headers=AUTH)
    ).status_code == 404
    files = asset_files(settings.data_dir)
    assert only_b not in files
    assert shared in files  # alice's session still uses it
    served = await client.get(f"/replay-assets/sess-assets-001/{shared}", headers=AUTH)
    assert served.status_code == 200

    assert (await client.delete(user_path("alice"), headers=AUTH)).status_code == 200
    assert asset_files(settings.data_dir) == set()
    assets = client.app.state.services.assets
    assert await asyncio.to_thread(client.blocking_portal.call, assets.count_assets) == 0


async def test_expiry_removes_the_copies_too(
    client: Any, shop: AssetSite, settings: Settings
) -> None:
    await record(client, "sess-assets-001", "alice", shop.origin)
    await collect(client)
    assert asset_files(settings.data_dir)
    services = client.app.state.services

    async def expire() -> int:
        return await purge_expired(services.store, services.blobs, 1, now_ms=BASE_TS * 2)

    assert await asyncio.to_thread(client.blocking_portal.call, expire) == 1
    assert asset_files(settings.data_dir) == set()


# What the recorder sends the first time a session's page loads a stylesheet: rrweb's text of it,
# named by its URL. The site serves no such file (it might be behind a login).
ACCOUNT_CSS = ".account{color:rebeccapurple;background:url(/bg.png)}"


def inlined_link(node_id: int, origin: str) -> dict[str, Any]:
    return tag(node_id, "link", href=origin + "/account.css", _cssText=ACCOUNT_CSS)


async def test_a_stylesheet_sent_inlined_is_the_copy_for_page_views_that_name_it_later(
    client: Any, shop: AssetSite
) -> None:
    o = shop.origin
    await record(client, "sess-inlined-001", "alice", o, inlined_link(8, o))
    later_page = tag(8, "link", rel="stylesheet", href=o + "/account.css")
    await record(client, "sess-inlined-001", "alice", o, later_page, seq=1, ts=BASE_TS + 9000)
    await collect(client)
    copies = await asset_map(client, "sess-inlined-001", AUTH)
    css = copies[o + "/account.css"]
    assert (css["status"], css["content_type"]) == ("stored", "text/css")
    served = await client.get(f"/replay-assets/sess-inlined-001/{css['hash']}", headers=AUTH)
    assert served.content == ACCOUNT_CSS.encode()
    # Its text was the copy: the site was not asked for it; what it loads was fetched.
    assert "/account.css" not in shop.paths()
    assert copies[o + "/bg.png"]["status"] == "stored"


async def test_fetching_off_asks_no_site_and_keeps_only_inlined_stylesheets(
    tmp_path: Path, database_url: str, redis_url: str, shop: AssetSite
) -> None:
    off = make_settings(
        tmp_path, database_url, redis_url, ingest_origins=(shop.origin,), asset_fetching=False
    )
    async with AsyncTestClient(app=create_app(off)) as client:
        await record(client, "sess-assets-001", "alice", shop.origin, inlined_link(8, shop.origin))
        await collect(client)
        answer = await client.get("/api/v1/sessions/sess-assets-001/assets", headers=AUTH)
        assert answer.json()["fetching"] is False
        assert [(e["url"], e["status"]) for e in answer.json()["assets"]] == [
            (shop.origin + "/account.css", "stored")
        ]
    assert shop.requests == []


async def test_copies_left_without_a_row_are_purged_after_an_hour(
    store: SessionStore, blobs: BlobStore
) -> None:
    await store_batch(store, batch_record("sess-orphans-001"))
    assets = AssetStore(store.engine)
    kept, orphan = hashlib.sha256(b"kept").hexdigest(), hashlib.sha256(b"orphan").hexdigest()
    await blobs.put(asset_blob_key(kept), b"kept")
    await blobs.put(asset_blob_key(orphan), b"orphan")
    entry = SessionAssetEntry(
        url="https://shop.test/kept.png",
        url_hash=url_hash("https://shop.test/kept.png"),
        asset=StoredAsset(hash=kept, content_type="image/png", size=4),
        status="stored",
        first_seen_at=0,
    )
    assert await assets.record(
        "sess-orphans-001", [entry], AssetScan(session_id="sess-orphans-001"), 1
    )
    # Within the hour, a copy without a row may be one about to be recorded.
    assert await purge_orphan_assets(store, blobs) == 0
    later = now_ms() + 2 * 3600 * 1000
    assert await purge_orphan_assets(store, blobs, now_ms=later) == 1
    assert await blobs.get(asset_blob_key(kept)) == b"kept"
    with pytest.raises(BlobNotFound):
        await blobs.get(asset_blob_key(orphan))


async def test_a_session_gone_while_scanned_keeps_no_copy(
    store: SessionStore, blobs: BlobStore
) -> None:
    assets = AssetStore(store.engine)
    copy = hashlib.sha256(b"late").hexdigest()
    await blobs.put(asset_blob_key(copy), b"late")
    entry = SessionAssetEntry(
        url="https://shop.test/late.png",
        url_hash=url_hash("https://shop.test/late.png"),
        asset=StoredAsset(hash=copy, content_type="image/png", size=4),
        status="stored",
        first_seen_at=0,
    )
    # No session row (erased meanwhile): nothing is recorded.
    assert not await assets.record(
        "sess-gone-0001", [entry], AssetScan(session_id="sess-gone-0001"), 1
    )
    assert await assets.count_assets() == 0


async def test_one_collector_at_a_time_scans_a_session(store: SessionStore) -> None:
    await store_batch(store, batch_record("sess-claim-0001"))
    assets = AssetStore(store.engine)
    assert [s.session_id for s in await assets.sessions_to_scan(0, 60_000, 10, 1000)] == [
        "sess-claim-0001"
    ]
    assert await assets.claim("sess-claim-0001", 1000, 2000)
    # Another process's collector neither lists nor takes it while the claim holds.
    assert await assets.sessions_to_scan(0, 60_000, 10, 1500) == []
    assert not await assets.claim("sess-claim-0001", 1500, 2500)
    # A scan that never finished: its claim lapses, or is let go of at once.
    assert await assets.claim("sess-claim-0001", 2001, 3000)
    await assets.release("sess-claim-0001")
    assert await assets.claim("sess-claim-0001", 2500, 3500)


async def test_the_collector_stops_at_once_in_the_middle_of_a_fetch(
    client: Any, shop: AssetSite
) -> None:
    shop.routes["/slow.png"] = Route(RED_PNG, "image/png", delay=5.0)
    collector: AssetCollector = client.app.state.asset_collector
    await asyncio.to_thread(client.blocking_portal.call, collector.close)
    await record(client, "sess-assets-001", "alice", shop.origin, tag(8, "img", src="/slow.png"))
    await asyncio.to_thread(client.blocking_portal.call, collector.start)
    deadline = time.monotonic() + 30  # its first pass comes a period after its start
    while "/slow.png" not in shop.paths():
        assert time.monotonic() < deadline, shop.paths()
        await asyncio.sleep(0.05)
    started = time.monotonic()
    await asyncio.to_thread(client.blocking_portal.call, collector.close)
    assert time.monotonic() - started < 1.0
    # Let go of on the way out: the next pass takes the session at once.
    assets = client.app.state.services.assets
    claimed = await asyncio.to_thread(
        client.blocking_portal.call, assets.claim, "sess-assets-001", now_ms(), now_ms() + 1000
    )
    assert claimed


async def test_a_session_copies_no_more_than_its_cap(client: Any, shop: AssetSite) -> None:
    for name in ("a", "b", "c"):
        shop.routes[f"/cap/{name}.png"] = Route(RED_PNG, "image/png")
    background: AssetCollector = client.app.state.asset_collector
    await asyncio.to_thread(client.blocking_portal.call, background.close)
    services = client.app.state.services
    capped = AssetCollector(
        services.assets, services.blobs, background.origins, max_session_bytes=len(RED_PNG) + 10
    )
    events = [
        meta(BASE_TS, shop.origin + "/"),
        snapshot(
            BASE_TS + 5, *(tag(3 + i, "img", src=f"/cap/{n}.png") for i, n in enumerate("abc"))
        ),
    ]
    body = batch("sess-capped-001", 0, events, user_id="carol")
    sent = await client.post("/api/v1/ingest", content=msgspec.json.encode(body), headers=INGEST)
    assert sent.status_code == 202
    await asyncio.to_thread(client.blocking_portal.call, capped.scan_once)
    statuses = sorted(
        e["status"] for e in (await asset_map(client, "sess-capped-001", AUTH)).values()
    )
    assert statuses == ["over_budget", "over_budget", "stored"]
