"""A recording whose page names a foreign origin (a loopback listener standing for the
customer's site) replays in Chromium with zero requests to it: the images, background and
font show from the service's copies."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Request, sync_playwright

from service.web.app import create_app
from tests.asset_site import BLUE_PNG, RED_PNG, AssetSite, Route, asset_site, solid_png
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import API_KEY, INGEST, TEST_REDIS_URL, make_settings
from tests.processes import free_port
from tests.recordings import BASE_TS, batch, meta, mutation

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SID = "sess-assets-browser-01"
# A font the machine has (Chromium's own dependency); what matters is that it loads.
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
SITE_CSS = (
    b"@font-face{font-family:ShopFont;src:url(/fonts/shop.ttf) format('truetype')}"
    b"body{background:url(/img/tile.png) repeat;margin:0}"
    b".hero{width:40px;height:40px}.brand{font-family:ShopFont,monospace;font-size:20px}"
)


def element(node_id: int, tag: str, attrs: dict[str, str], *children: Any) -> dict[str, Any]:
    return {
        "type": 2,
        "id": node_id,
        "tagName": tag,
        "attributes": attrs,
        "childNodes": list(children),
    }


def recording(origin: str) -> list[dict[str, Any]]:
    body = element(
        6,
        "body",
        {},
        element(10, "img", {"id": "hero", "class": "hero", "src": "/img/hero.png"}),
        element(11, "img", {"id": "gone", "class": "hero", "src": origin + "/img/missing.png"}),
        element(
            12,
            "div",
            {
                "id": "tile",
                "style": f"width:30px;height:30px;background:url({origin}/img/hero.png)",
            },
        ),
        element(13, "p", {"class": "brand"}, {"type": 3, "id": 14, "textContent": "Shop"}),
        element(15, "video", {"id": "clip", "poster": "/img/hero.png", "src": "/media/clip.mp4"}),
    )
    head = element(3, "head", {}, element(4, "link", {"rel": "stylesheet", "href": "/site.css"}))
    html = element(2, "html", {}, head, body)
    snapshot = {
        "type": 2,
        "timestamp": BASE_TS + 5,
        "data": {
            "node": {"type": 0, "id": 1, "childNodes": [html]},
            "initialOffset": {"left": 0, "top": 0},
        },
    }
    return [meta(BASE_TS, origin + "/shop/"), snapshot, mutation(BASE_TS + 2000)]


@pytest.fixture(scope="module")
def customer_site() -> Iterator[AssetSite]:
    with asset_site() as site:
        site.routes.update(
            {
                "/site.css": Route(SITE_CSS, "text/css"),
                "/img/hero.png": Route(BLUE_PNG, "image/png"),
                "/img/tile.png": Route(RED_PNG, "image/png"),
                "/media/clip.mp4": Route(b"\0" * 64, "video/mp4"),
            }
        )
        if FONT.exists():
            site.routes["/fonts/shop.ttf"] = Route(FONT.read_bytes(), "font/ttf")
        yield site


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, customer_site: AssetSite
) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("assets")
    database = data_dir / "replaydesk.db"
    database.write_bytes(sqlite_template.read_bytes())
    port = free_port()
    # The ingest key names the loopback site exactly: what lets its copies be fetched.
    settings = make_settings(
        data_dir,
        f"sqlite+aiosqlite:///{database}",
        TEST_REDIS_URL,
        public_url=f"http://127.0.0.1:{port}",
        ingest_origins=(customer_site.origin,),
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    sent = httpx.post(
        f"{base}/api/v1/ingest",
        content=msgspec.json.encode(batch(SID, 0, recording(customer_site.origin))),
        headers=INGEST,
    )
    assert sent.status_code == 202, sent.text
    yield base
    server.should_exit = True
    thread.join(timeout=10)


def copied(base: str) -> dict[str, str]:
    answer = httpx.get(
        f"{base}/api/v1/sessions/{SID}/assets", headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert answer.status_code == 200, answer.text
    return {entry["url"]: entry["status"] for entry in answer.json()["assets"]}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_a_foreign_origin_in_the_recording_gets_no_request_from_the_viewer(
    service: str, customer_site: AssetSite, browser: Browser
) -> None:
    origin = customer_site.origin
    deadline = time.monotonic() + 30
    while copied(service).get(origin + "/img/tile.png") != "stored":
        assert time.monotonic() < deadline, f"assets not copied: {copied(service)}"
        time.sleep(0.2)
    statuses = copied(service)
    assert statuses[origin + "/img/missing.png"] == "failed"
    assert origin + "/media/clip.mp4" not in statuses  # media is not copied
    asked_by_the_service = len(customer_site.requests)

    context, requested = watched_context(browser)
    page = context.new_page()
    referred: list[tuple[str, str]] = []
    page.on("request", lambda request: referred.extend(_referers(request)))
    page.goto(replay_link(service, SID, {}))
    page.wait_for_selector("body[data-loaded=true]")
    frame = page.frame_locator("[data-testid=replay-frame] iframe")
    frame.locator("#hero").wait_for()
    shown = _wait_for_copies(page, expect_font=FONT.exists())
    page.wait_for_timeout(500)  # anything lazily loaded would have been asked for by now
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "replay-assets.png"))
    context.close()

    assert [referer for _, referer in referred if referer] == []
    assert [url for url in requested if url.startswith(origin)] == []
    assert len(customer_site.requests) == asked_by_the_service
    assert all(url.startswith((service, "blob:", "data:")) for url in requested), requested
    # The copies show: the images at their own size, the background and the font from blobs.
    assert shown["hero"] == 4
    assert shown["gone"] == 1  # an empty box (a blank 1x1 image), not a request
    assert shown["tile"].startswith('url("blob:')
    assert shown["body"].startswith('url("blob:')
    if FONT.exists():
        assert shown["font"] == "loaded"


def test_a_live_view_shows_copies_of_what_the_customer_loads_later(
    service: str, customer_site: AssetSite, browser: Browser
) -> None:
    # The customer's next page names an image the service has never seen: the live replay
    # holds that batch until the copy is made, and shows the copy, asking the site nothing.
    origin, sid = customer_site.origin, "sess-assets-live-01"
    customer_site.routes["/img/later.png"] = Route(solid_png((0, 128, 0), 6), "image/png")
    start = int(time.time() * 1000)
    body = element(
        6, "body", {}, element(10, "p", {}, {"type": 3, "id": 11, "textContent": "Cart"})
    )
    first = {
        "type": 2,
        "timestamp": start + 5,
        "data": {"node": {"type": 0, "id": 1, "childNodes": [element(2, "html", {}, body)]}},
    }

    def send(seq: int, events: list[dict[str, Any]]) -> None:
        sent = httpx.post(
            f"{service}/api/v1/ingest",
            content=msgspec.json.encode(batch(sid, seq, events)),
            headers=INGEST,
        )
        assert sent.status_code == 202, sent.text

    send(0, [meta(start, origin + "/cart/"), first])
    context, requested = watched_context(browser)
    page = context.new_page()
    page.goto(replay_link(service, sid, {"live": True}))
    page.get_by_test_id("live-status").and_(page.locator("[data-state=live]")).wait_for()
    frame = page.frame_locator("[data-testid=replay-frame] iframe")
    frame.get_by_text("Cart").wait_for()

    later = element(20, "img", {"id": "later", "src": "/img/later.png"})
    added = {"source": 0, "texts": [], "attributes": [], "removes": []}
    added["adds"] = [{"parentId": 6, "nextId": None, "node": later}]
    send(1, [{"type": 3, "timestamp": int(time.time() * 1000), "data": added}])
    frame.locator("#later").wait_for(timeout=15_000)
    width = page.evaluate(
        """() => new Promise((resolve) => {
          const doc = document.querySelector('[data-testid=replay-frame] iframe').contentDocument;
          const img = doc.getElementById('later');
          const done = () => resolve([img.getAttribute('src'), img.naturalWidth]);
          img.complete ? done() : img.addEventListener('load', done);
        })"""
    )
    context.close()
    assert width[0].startswith("blob:"), width
    assert width[1] == 6
    assert "/img/later.png" in customer_site.paths()
    assert [url for url in requested if url.startswith(origin)] == []


def replay_link(service: str, session_id: str, options: dict[str, Any]) -> str:
    minted = httpx.post(
        f"{service}/api/v1/sessions/{session_id}/links",
        json=options,
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert minted.status_code == 201, minted.text
    url: str = minted.json()["url"]
    return url


def watched_context(browser: Browser) -> tuple[BrowserContext, list[str]]:
    """A browser context, and the list of every URL its pages ask for."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    return context, requested


def _referers(request: Request) -> list[tuple[str, str]]:
    return [(request.url, v) for k, v in request.headers.items() if k.lower() == "referer"]


def _wait_for_copies(page: Any, *, expect_font: bool) -> dict[str, Any]:
    script = """async () => {
      const doc = document.querySelector('[data-testid=replay-frame] iframe').contentDocument;
      const hero = doc.getElementById('hero'), gone = doc.getElementById('gone');
      await doc.fonts.ready;
      const face = [...doc.fonts].find((f) => f.family.replace(/"/g, '') === 'ShopFont');
      return {
        hero: hero.complete ? hero.naturalWidth : -1,
        gone: gone.complete ? gone.naturalWidth : -1,
        tile: getComputedStyle(doc.getElementById('tile')).backgroundImage,
        body: getComputedStyle(doc.body).backgroundImage,
        font: face ? face.status : 'missing',
      };
    }"""
    deadline = time.monotonic() + 15
    while True:
        shown: dict[str, Any] = page.evaluate(script)
        ready = shown["hero"] > 0 and shown["gone"] > 0 and "blob:" in shown["body"]
        if ready and (not expect_font or shown["font"] == "loaded"):
            return shown
        if time.monotonic() > deadline:
            return shown
        page.wait_for_timeout(100)
