"""GET /recorder.js (cached, gzip, CORS, 503 when unbuilt) and the demo shop at /demo."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from service.ingest import recorder_routes
from service.web.app import create_app
from tests.conftest import INGEST_KEY, make_settings

BUNDLE = b"/* recorder */ window.ReplayDesk = {init: function () {}};\n" * 50


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in recorder bundle, so these tests do not depend on `npm run build`."""
    path = tmp_path / "static" / "recorder.js"
    path.parent.mkdir()
    path.write_bytes(BUNDLE)
    path.with_name("recorder.js.map").write_text('{"version":3}')
    monkeypatch.setattr(recorder_routes, "RECORDER_BUNDLE", path)
    return path


def _client(tmp_path: Path, sqlite_template: Path, redis_url: str | None) -> Any:
    database = tmp_path / "replaydesk.db"
    database.write_bytes(sqlite_template.read_bytes())
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{database}", redis_url)
    return AsyncTestClient(app=create_app(settings))


@pytest.fixture
async def embedded(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Any]:
    """A service in embedded mode (no Redis URL), where the demo is served."""
    async with _client(tmp_path, sqlite_template, None) as client:
        yield client


@pytest.fixture
async def scaled(tmp_path: Path, sqlite_template: Path, redis_url: str) -> AsyncIterator[Any]:
    """A service on an external Redis, as deployed at scale."""
    async with _client(tmp_path, sqlite_template, redis_url) as client:
        yield client


def assert_problem(response: Any, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert fragment in response.json()["detail"]


async def test_the_recorder_is_a_public_cacheable_script(bundle: Path, scaled: Any) -> None:
    response = await scaled.get("/recorder.js", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.content == BUNDLE
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert response.headers["vary"] == "Accept-Encoding"
    assert "content-encoding" not in response.headers
    etag = response.headers["etag"]
    assert etag.startswith('"') and len(etag) > 10

    again = await scaled.get(
        "/recorder.js", headers={"If-None-Match": etag, "Accept-Encoding": "identity"}
    )
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag


async def test_the_recorder_goes_gzipped_to_browsers_that_take_gzip(
    bundle: Path, scaled: Any
) -> None:
    response = await scaled.get("/recorder.js", headers={"Accept-Encoding": "gzip, br"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == BUNDLE  # the client undoes the encoding
    weak = response.headers["etag"]
    assert weak.startswith('W/"')
    revalidated = await scaled.get(
        "/recorder.js", headers={"If-None-Match": weak, "Accept-Encoding": "gzip"}
    )
    assert revalidated.status_code == 304
    refused = await scaled.get("/recorder.js", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers


async def test_a_new_build_is_served_without_a_restart(bundle: Path, scaled: Any) -> None:
    first = await scaled.get("/recorder.js")
    await asyncio.to_thread(bundle.write_bytes, b"/* rebuilt */")
    second = await scaled.get("/recorder.js", headers={"If-None-Match": first.headers["etag"]})
    assert second.status_code == 200 and second.content == b"/* rebuilt */"


async def test_an_unbuilt_recorder_says_how_to_build_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scaled: Any
) -> None:
    monkeypatch.setattr(recorder_routes, "RECORDER_BUNDLE", tmp_path / "nowhere" / "recorder.js")
    assert_problem(await scaled.get("/recorder.js"), 503, "make setup")
    assert_problem(await scaled.get("/recorder.js.map"), 404, "make setup")


async def test_the_source_map_is_served_beside_the_bundle(bundle: Path, scaled: Any) -> None:
    response = await scaled.get("/recorder.js.map")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"version": 3}


async def test_the_demo_pages_embed_the_recorder_with_the_ingest_key(embedded: Any) -> None:
    home = await embedded.get("/demo")
    assert home.status_code == 200
    assert home.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script src="/recorder.js"></script>' in home.text
    assert f'ReplayDesk.init({{ key: "{INGEST_KEY}"' in home.text
    checkout = await embedded.get("/demo/checkout", params={"step": "payment"})
    assert checkout.status_code == 200 and 'id="apply-coupon"' in checkout.text
    script = await embedded.get("/demo/demo.js")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "function demoUserId" in script.text
    styles = await embedded.get("/demo/demo.css")
    assert styles.headers["content-type"] == "text/css; charset=utf-8"
    assert_problem(await embedded.get("/demo/admin"), 404, "/demo/checkout")


async def test_the_demo_api_has_one_working_and_one_broken_request(embedded: Any) -> None:
    products = await embedded.get("/demo/api/products")
    assert products.status_code == 200 and len(products.json()) == 3
    assert_problem(await embedded.post("/demo/api/checkout", json={"total": 14}), 500, "demo")


async def test_the_demo_is_not_served_at_scale(scaled: Any) -> None:
    assert_problem(await scaled.get("/demo"), 404, "embedded mode")
    assert_problem(await scaled.get("/demo/checkout"), 404, "embedded mode")
    assert_problem(await scaled.post("/demo/api/checkout"), 404, "embedded mode")


def test_the_ingest_key_cannot_end_the_demo_script() -> None:
    html = recorder_routes._render_demo_page("index.html", 'k"</script><script>alert(1)//')
    assert b"</script><script>alert(1)" not in html
    assert b'"k\\"<\\/script><script>alert(1)//"' in html


def test_gzip_is_read_from_accept_encoding() -> None:
    class Fake:
        def __init__(self, value: str) -> None:
            self.headers = {"accept-encoding": value}

    accepts = recorder_routes._accepts_gzip
    assert accepts(Fake("gzip, deflate, br"))  # type: ignore[arg-type]
    assert accepts(Fake("br;q=1.0, gzip;q=0.8"))  # type: ignore[arg-type]
    assert not accepts(Fake("gzip;q=0"))  # type: ignore[arg-type]
    assert not accepts(Fake("identity"))  # type: ignore[arg-type]
    assert gzip.decompress(recorder_routes._Bundle(b"x" * 100).gzipped) == b"x" * 100
